//! Tests of folding observations into the memory: crashes, failure marks, ops in flight,
//! backoff resets, gave-up slots, strays and the event log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use super::*;
use crate::fixtures::{dead, pane, production, running};
use crate::memory::SlotMemory;
use crate::observe::{ExternalStatus, SlotStatus, observe};
use crate::tmux::Snapshot;

const NOW: Millis = 1_000_000_000;

fn state_of<'a>(obs: &'a Observation, layout: &Layout, name: &str) -> &'a SlotStatus {
    let i = layout.slot(name).unwrap();
    obs.slots.iter().find(|s| s.slot == i).unwrap()
}

fn quiet(p: Pane) -> Pane {
    Pane {
        window_activity: NOW / 1000 - 60,
        ..p
    }
}

/// Runs observe + remember for one poll.
fn poll(
    layout: &Layout,
    cfg: &crate::config::Config,
    mem: &mut Memory,
    panes: Vec<Pane>,
    caps: &HashMap<String, String>,
    now: Millis,
) -> Observation {
    let mut obs = observe(
        layout,
        &cfg.agent,
        &Snapshot {
            panes,
            rejected: Vec::new(),
        },
        caps,
        &ExternalStatus::new(),
        mem,
        now,
    );
    remember(&mut obs, layout, &cfg.backoff, mem, now);
    obs
}

#[test]
fn a_wrapper_that_stops_working_did_not_crash_but_an_agent_replaced_by_its_shell_did() {
    let mut cfg = production().0;
    cfg.pools[1].command = vec!["sh".into(), "run-agent.sh".into()];
    let layout = Layout::new(&cfg);
    let mut mem = Memory::default();
    let busy: HashMap<String, String> = [("%1".to_string(), "(esc to interrupt)".to_string())]
        .into_iter()
        .collect();
    // Wrapped: working inside the wrapper's shell, then quiet: idle, no crash.
    let wrapped = vec![quiet(pane("ccl-auto-11", 1))];
    poll(&layout, &cfg, &mut mem, wrapped.clone(), &busy, NOW);
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        wrapped,
        &HashMap::new(),
        NOW + 1000,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-11").state, State::Idle);
    assert!(mem.slot("ccl-auto-11").unwrap().failed.is_none());
    // The login shell of a manual slot, where `claude` ran in the foreground and worked, then
    // the shell came back: crashed while working.
    let agent = vec![quiet(running(pane("ccl-3", 3), "claude"))];
    let busy3: HashMap<String, String> = [("%3".to_string(), "(esc to interrupt)".to_string())]
        .into_iter()
        .collect();
    poll(&layout, &cfg, &mut mem, agent, &busy3, NOW + 2000);
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![quiet(pane("ccl-3", 3))],
        &HashMap::new(),
        NOW + 3000,
    );
    let st = state_of(&obs, &layout, "ccl-3");
    assert_eq!(st.state, State::Failed, "{}", st.reason());
    assert!(
        st.reason().contains("crashed while working"),
        "{}",
        st.reason()
    );
    // A program the operator ran at the prompt (`make`), busy printing, then back to the
    // shell: it finished, nothing crashed, and nothing is restarted.
    let busy = Pane {
        window_activity: (NOW + 4000) / 1000,
        ..running(pane("ccl-auto-12", 12), "make")
    };
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![busy],
        &HashMap::new(),
        NOW + 4000,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-12").state, State::Working);
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![quiet(pane("ccl-auto-12", 12))],
        &HashMap::new(),
        NOW + 5000,
    );
    let st = state_of(&obs, &layout, "ccl-auto-12");
    assert_eq!(st.state, State::Idle, "{}", st.reason());
    assert!(mem.slot("ccl-auto-12").unwrap().failed.is_none());
}

#[test]
fn memory_from_before_panes_were_recorded_adopts_the_single_pane_it_saw_last() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    for (name, session) in [
        ("ccl-auto-11", "$1"),
        ("ccl-auto-12", "$2"),
        ("ccl-auto-13", "$3"),
    ] {
        let m = mem.slot_mut(name);
        m.started_before = true;
        m.last_session = Some(session.into());
    }
    mem.loaded_version = 1;
    adopt_panes_of_old_memory(&mut mem);
    let split = Pane {
        pane_id: "%20".into(),
        ..pane("ccl-auto-13", 3)
    };
    let panes = vec![
        dead(pane("ccl-auto-11", 1), 1),
        // Not the session it saw last: someone else's.
        dead(pane("ccl-auto-12", 7), 1),
        // Two panes: which one it started is not known.
        dead(pane("ccl-auto-13", 3), 1),
        split,
    ];
    let obs = poll(&layout, &cfg, &mut mem, panes, &HashMap::new(), NOW);
    let owned = |n: &str| state_of(&obs, &layout, n).owned;
    assert!(owned("ccl-auto-11"));
    assert!(!owned("ccl-auto-12"));
    assert!(!owned("ccl-auto-13"));
    assert_eq!(
        mem.slot("ccl-auto-11")
            .unwrap()
            .pane
            .as_ref()
            .unwrap()
            .pane_id,
        "%1"
    );
    // Only once, at the first poll.
    assert!(mem.slots.values().all(|m| !m.adopt_last_session));
}

#[test]
fn working_then_shell_is_a_crash_but_idle_then_shell_is_not() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    let mut caps = HashMap::new();
    caps.insert("%1".to_string(), "esc to interrupt".to_string());
    let working = running(pane("ccl-auto-11", 1), "claude");
    let idle = quiet(running(pane("ccl-auto-12", 2), "claude"));
    poll(&layout, &cfg, &mut mem, vec![working, idle], &caps, NOW);
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1), pane("ccl-auto-12", 2)],
        &HashMap::new(),
        NOW + 1000,
    );
    let a = state_of(&obs, &layout, "ccl-auto-11");
    assert_eq!(a.state, State::Failed);
    assert!(
        a.reason().contains("crashed while working"),
        "{}",
        a.reason()
    );
    let b = state_of(&obs, &layout, "ccl-auto-12");
    assert_eq!((b.state, b.reason().as_str()), (State::Idle, "shell"));
    assert!(mem.events.iter().any(|e| e.kind == EventKind::Failed
        && e.name == "ccl-auto-11"
        && e.text.contains("crashed while working")));
    // The mark stays on later polls of the same session.
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1)],
        &HashMap::new(),
        NOW + 2000,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-11").state, State::Failed);
}

#[test]
fn working_then_vanished_is_failed_until_a_new_session_appears() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    let mut caps = HashMap::new();
    caps.insert("%1".to_string(), "esc to interrupt".to_string());
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![running(pane("ccl-3", 1), "claude")],
        &caps,
        NOW,
    );
    let obs = poll(&layout, &cfg, &mut mem, vec![], &HashMap::new(), NOW + 1000);
    assert_eq!(state_of(&obs, &layout, "ccl-3").state, State::Failed);
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-3", 9)],
        &HashMap::new(),
        NOW + 2000,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-3").state, State::Idle);
}

#[test]
fn in_flight_create_shows_starting_until_seen() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    mem.slot_mut("ccl-auto-11").in_flight = Some(InFlight {
        op: crate::memory::Action::Create,
        since: NOW,
        old_pane_pid: None,
    });
    let obs = poll(&layout, &cfg, &mut mem, vec![], &HashMap::new(), NOW + 500);
    assert_eq!(
        state_of(&obs, &layout, "ccl-auto-11").state,
        State::Starting
    );
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1)],
        &HashMap::new(),
        NOW + 1000,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-11").state, State::Idle);
    assert_eq!(mem.slot("ccl-auto-11").unwrap().in_flight, None);
}

#[test]
fn in_flight_times_out() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    mem.slot_mut("ccl-auto-11").in_flight = Some(InFlight {
        op: crate::memory::Action::Create,
        since: NOW,
        old_pane_pid: None,
    });
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![],
        &HashMap::new(),
        NOW + IN_FLIGHT_TIMEOUT_MS + 1,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-11").state, State::Missing);
    assert_eq!(mem.slot("ccl-auto-11").unwrap().in_flight, None);
}

#[test]
fn healthy_streak_resets_the_backoff() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    *mem.slot_mut("ccl-auto-11") = SlotMemory {
        restarts: 4,
        last_start: Some(NOW),
        ..SlotMemory::default()
    };
    let reset = cfg.backoff.reset_after.as_millis() as i64;
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1)],
        &HashMap::new(),
        NOW,
    );
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1)],
        &HashMap::new(),
        NOW + reset - 1,
    );
    assert_eq!(mem.slot("ccl-auto-11").unwrap().restarts, 4);
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1)],
        &HashMap::new(),
        NOW + reset,
    );
    assert_eq!(mem.slot("ccl-auto-11").unwrap().restarts, 0);
}

#[test]
fn gave_up_stays_failed() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    mem.slot_mut("ccl-auto-11").gave_up = true;
    mem.slot_mut("ccl-auto-11").restarts = 3;
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![dead(pane("ccl-auto-11", 1), 3)],
        &HashMap::new(),
        NOW,
    );
    let st = state_of(&obs, &layout, "ccl-auto-11");
    assert_eq!(st.state, State::Failed);
    assert!(
        st.reason().starts_with("gave up after 3 restarts"),
        "{}",
        st.reason()
    );
}

#[test]
fn strays_are_logged_once_while_they_stay() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    for t in 0..3 {
        poll(
            &layout,
            &cfg,
            &mut mem,
            vec![pane("ccl-auto0", 1)],
            &HashMap::new(),
            NOW + t,
        );
    }
    poll(&layout, &cfg, &mut mem, vec![], &HashMap::new(), NOW + 10);
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto0", 1)],
        &HashMap::new(),
        NOW + 20,
    );
    let n = mem
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Stray)
        .count();
    assert_eq!(n, 2);
}

#[test]
fn a_live_session_that_dies_or_vanishes_is_logged() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    let live = vec![
        pane("ccl-auto-11", 1),
        pane("ccl-auto-12", 2),
        pane("ccl-3", 3),
    ];
    poll(&layout, &cfg, &mut mem, live, &HashMap::new(), NOW);
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![dead(pane("ccl-auto-11", 1), 3)],
        &HashMap::new(),
        NOW + 1000,
    );
    let texts: Vec<(EventKind, String)> = mem
        .events
        .iter()
        .map(|e| (e.kind, e.text.clone()))
        .collect();
    let texts: Vec<(EventKind, &str)> = texts.iter().map(|(k, t)| (*k, t.as_str())).collect();
    assert!(
        texts.contains(&(EventKind::Failed, "ccl-auto-11: died, exit 3")),
        "{texts:?}"
    );
    assert!(
        texts.contains(&(EventKind::Failed, "ccl-auto-12: session vanished")),
        "{texts:?}"
    );
    assert!(
        texts.contains(&(EventKind::Info, "ccl-3: session ended")),
        "{texts:?}"
    );
    // Logged once, not on every poll.
    let n = texts.len();
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![dead(pane("ccl-auto-11", 1), 3)],
        &HashMap::new(),
        NOW + 2000,
    );
    assert_eq!(mem.events.len(), n);
}
