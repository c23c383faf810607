//! Tests of `limited` and `hung` on hand-made observations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::config::Config;
use crate::fixtures::{pane, running};
use crate::observe::{Seen, observe_all};

const YAML: &str = "agent: {hung_after: 10s}\npools:\n  - {name: a, prefix: \"cc-\", start_index: 1, max: 1, restart: always, agent: claude}\n";
/// 2026-12-01 16:00:00 UTC.
const NOW: Millis = 1_796_140_800_000;

struct Rig {
    cfg: Config,
    layout: Layout,
    memory: Memory,
}

impl Rig {
    fn new() -> Self {
        let cfg = Config::parse_with_home(YAML, "t", std::path::Path::new("/h")).unwrap();
        let layout = Layout::new(&cfg);
        Rig {
            cfg,
            layout,
            memory: Memory::default(),
        }
    }

    /// One poll of cc-1 (pane %1) showing `text`, `working` or not, at `now`.
    fn poll(&mut self, text: &str, working: bool, transcript: u64, now: Millis) -> (State, String) {
        let mut p = running(pane("cc-1", 1), "claude");
        p.window_activity = if working { now / 1000 } else { now / 1000 - 60 };
        let snap = crate::tmux::Snapshot {
            panes: vec![p],
            rejected: Vec::new(),
            hosts: Vec::new(),
        };
        let captures: HashMap<String, String> = [("%1".to_string(), text.to_string())].into();
        let hooks = crate::controller::HookRecords::default();
        let seen = Seen {
            snapshot: &snap,
            captures: &captures,
            external: &crate::observe::ExternalStatus::new(),
            hooks: &hooks,
        };
        let mut obs = observe_all(&self.layout, &self.cfg.agent, &seen, &self.memory, now);
        let lens: HashMap<String, u64> = [("cc-1".to_string(), transcript)].into();
        let reads = Reads {
            captures: &captures,
            transcript_len: &lens,
            tz: &std::sync::OnceLock::from(TimeZone::UTC),
        };
        settle(
            &mut obs,
            &self.layout,
            &self.cfg.agent,
            &reads,
            &mut self.memory,
            now,
        );
        (obs.slots[0].state, obs.slots[0].reason())
    }
}

const LIMITED: &str = "❯ ratelimit\n  ⎿  You've hit your session limit · resets 5:41pm (UTC)\n✻ Brewed for 0s\n❯ /rate-limit-options\n  What do you want to do?\n  ❯ 1. Stop and wait for limit to reset";

#[test]
fn a_limit_holds_until_it_resets_and_then_the_same_line_is_not_taken_again() {
    let mut r = Rig::new();
    let (s, why) = r.poll(LIMITED, false, 0, NOW);
    assert_eq!(s, State::Limited);
    assert!(why.starts_with("limit resets in 1h41m"), "{why}");
    assert_eq!(
        r.memory.slot("cc-1").unwrap().limit.as_ref().unwrap().since,
        NOW
    );
    // Later polls keep the first sighting.
    r.poll(LIMITED, false, 0, NOW + 60_000);
    assert_eq!(
        r.memory.slot("cc-1").unwrap().limit.as_ref().unwrap().since,
        NOW
    );
    // At the reset: normal rules again, and the old line on screen is no new limit (it would
    // otherwise read as tomorrow's 5:41pm).
    let after = NOW + 101 * 60_000;
    assert_eq!(r.poll(LIMITED, false, 0, after).0, State::Idle);
    assert_eq!(r.poll(LIMITED, false, 0, after + 1000).0, State::Idle);
    // Working again, then a new limit: taken.
    r.poll("✻ Working… (esc to interrupt)", true, 0, after + 2000);
    assert_eq!(r.poll(LIMITED, false, 0, after + 120_000).0, State::Limited);
}

#[test]
fn a_limit_without_a_reset_time_lasts_until_the_agent_works_again() {
    let mut r = Rig::new();
    let api = "❯ ratelimit\n● API Error: Request rejected (429) · This request would exceed your account's rate limit.\n";
    let (s, why) = r.poll(api, false, 0, NOW);
    assert_eq!(s, State::Limited);
    assert!(
        why.starts_with("limit hit: ● API Error: Request rejected (429)"),
        "{why}"
    );
    assert_eq!(r.poll(api, false, 0, NOW + 3_600_000).0, State::Limited);
    assert_eq!(
        r.poll("✻ Working… (esc to interrupt)", true, 0, NOW + 3_601_000)
            .0,
        State::Working
    );
    assert!(r.memory.slot("cc-1").unwrap().limit.is_none());
}

#[test]
fn working_without_progress_is_hung_and_progress_resets_the_clock() {
    let mut r = Rig::new();
    let line = |s: u32, tokens: u32| {
        format!("✢ Dilly-dallying… ({s}s · ↓ {tokens} tokens)\n  esc to interrupt")
    };
    // The spinner's seconds count on, nothing else moves: hung after 10 s.
    assert_eq!(r.poll(&line(1, 0), true, 100, NOW).0, State::Working);
    assert_eq!(
        r.poll(&line(6, 0), true, 100, NOW + 5_000).0,
        State::Working
    );
    let (s, why) = r.poll(&line(11, 0), true, 100, NOW + 10_000);
    assert_eq!((s, why.as_str()), (State::Hung, "no progress for 10s"));
    // Tokens arrive: progress.
    assert_eq!(
        r.poll(&line(12, 40), true, 100, NOW + 11_000).0,
        State::Working
    );
    // The transcript grows: progress.
    assert_eq!(
        r.poll(&line(30, 40), true, 100, NOW + 20_999).0,
        State::Working
    );
    assert_eq!(
        r.poll(&line(31, 40), true, 200, NOW + 22_000).0,
        State::Working
    );
    assert_eq!(
        r.poll(&line(40, 40), true, 200, NOW + 32_000).0,
        State::Hung
    );
}
