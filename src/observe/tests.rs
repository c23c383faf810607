//! Tests of state derivation and of folding observations into the memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::fixtures::{dead, pane, production, running};
use crate::memory::SlotMemory;

const NOW: Millis = 1_000_000_000;

fn snap(panes: Vec<Pane>) -> Snapshot {
    Snapshot {
        panes,
        rejected: Vec::new(),
    }
}

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

#[test]
fn production_mixed_server_is_classified() {
    let (cfg, layout) = production();
    let s = snap(vec![
        pane("ccl-0", 1),
        pane("ccl-3", 2),
        pane("ccl-auto-11", 3),
        pane("ccl-auto-12", 4),
        pane("ccl-auto0", 5),
        pane("ccl-auto-5", 6),
        pane("main", 7),
    ]);
    let obs = observe(
        &layout,
        &cfg.agent,
        &s,
        &HashMap::new(),
        &ExternalStatus::new(),
        NOW,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-0").state, State::Idle);
    assert_eq!(state_of(&obs, &layout, "ccl-0").reason, "shell");
    assert_eq!(state_of(&obs, &layout, "ccl-1").state, State::Absent);
    assert_eq!(state_of(&obs, &layout, "ccl-auto-13").state, State::Missing);
    let strays: Vec<_> = obs
        .strays
        .iter()
        .map(|s| (s.name.as_str(), s.pool.as_str()))
        .collect();
    assert_eq!(strays, vec![("ccl-auto0", "auto"), ("ccl-auto-5", "auto")]);
    assert_eq!(obs.others.len(), 1);
    assert_eq!(obs.count(State::Missing), 8);
    assert_eq!(obs.count(State::Absent), 8);
}

#[test]
fn states_follow_the_order_of_evidence() {
    let (cfg, layout) = production();
    let mut ext = ExternalStatus::new();
    ext.insert(
        "ccl-auto-13".into(),
        External {
            state: "working".into(),
            task: Some("fix #42".into()),
        },
    );
    let mut caps = HashMap::new();
    caps.insert(
        "%4".to_string(),
        "Do you want to proceed? esc to interrupt".to_string(),
    );
    caps.insert("%5".to_string(), "… (esc to interrupt)".to_string());
    let s = snap(vec![
        dead(pane("ccl-auto-11", 1), 3),
        quiet(running(pane("ccl-auto-12", 2), "2.1.34")),
        quiet(running(pane("ccl-auto-13", 3), "claude")),
        quiet(running(pane("ccl-auto-14", 4), "claude")),
        quiet(running(pane("ccl-auto-15", 5), "node")),
        Pane {
            window_activity: NOW / 1000 - 1,
            ..running(pane("ccl-auto-16", 6), "vim")
        },
        Pane {
            window_activity: NOW / 1000,
            ..pane("ccl-auto-17", 7)
        },
    ]);
    let obs = observe(&layout, &cfg.agent, &s, &caps, &ext, NOW);
    let got = |n: &str| {
        let st = state_of(&obs, &layout, n);
        (st.state, st.reason.clone())
    };
    assert_eq!(
        got("ccl-auto-11"),
        (State::Failed, "pane dead, exit 3".into())
    );
    assert_eq!(
        got("ccl-auto-12"),
        (State::Idle, "agent quiet for 1m".into())
    );
    assert_eq!(
        got("ccl-auto-13"),
        (State::Working, "status file says working".into())
    );
    assert_eq!(
        state_of(&obs, &layout, "ccl-auto-13").task.as_deref(),
        Some("fix #42")
    );
    assert_eq!(
        got("ccl-auto-14"),
        (State::Waiting, "pattern 'Do you want to'".into())
    );
    assert_eq!(
        got("ccl-auto-15"),
        (State::Working, "pattern 'esc to interrupt'".into())
    );
    assert_eq!(got("ccl-auto-16"), (State::Working, "output 1s ago".into()));
    // A shell redrawing its prompt is not work.
    assert_eq!(got("ccl-auto-17"), (State::Idle, "shell".into()));
}

#[test]
fn a_shell_in_a_slot_with_a_command_is_a_failure() {
    let mut cfg = production().0;
    cfg.pools[1].command = vec!["claude".into()];
    let layout = Layout::new(&cfg);
    let s = snap(vec![pane("ccl-auto-11", 1)]);
    let obs = observe(
        &layout,
        &cfg.agent,
        &s,
        &HashMap::new(),
        &ExternalStatus::new(),
        NOW,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-11").state, State::Failed);
}

#[test]
fn dead_pane_with_lost_status_is_still_dead() {
    let p = Pane {
        pane_dead: true,
        ..pane("x", 1)
    };
    assert_eq!(dead_reason(&p), "pane dead");
    assert!(died_badly(&p));
    assert!(!died_badly(&dead(pane("x", 1), 0)));
}

#[test]
fn a_command_that_cannot_run_says_why() {
    assert_eq!(
        dead_reason(&dead(pane("x", 1), 127)),
        "pane dead, exit 127 (command not found)"
    );
    assert_eq!(
        dead_reason(&dead(pane("x", 1), 126)),
        "pane dead, exit 126 (not executable)"
    );
    assert_eq!(dead_reason(&dead(pane("x", 1), 3)), "pane dead, exit 3");
}

#[test]
fn only_slots_with_new_output_are_captured() {
    let (cfg, layout) = production();
    let s = snap(vec![
        running(pane("ccl-auto-11", 1), "claude"),
        running(pane("ccl-auto-12", 2), "claude"),
        pane("ccl-auto-13", 3),
        running(pane("ccl-auto0", 4), "claude"),
        dead(running(pane("ccl-auto-14", 5), "claude"), 1),
    ]);
    let mut last = HashMap::new();
    last.insert("%2".to_string(), 1_000);
    assert_eq!(panes_to_capture(&layout, &s, &cfg.agent, &last), vec!["%1"]);
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
        &snap(panes),
        caps,
        &ExternalStatus::new(),
        now,
    );
    remember(&mut obs, layout, &cfg.backoff, mem, now);
    obs
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
    assert!(a.reason.contains("crashed while working"), "{}", a.reason);
    let b = state_of(&obs, &layout, "ccl-auto-12");
    assert_eq!((b.state, b.reason.as_str()), (State::Idle, "shell"));
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
        st.reason.starts_with("gave up after 3 restarts"),
        "{}",
        st.reason
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
fn external_status_file_parses() {
    let e = parse_external(
        r#"{"ccl-auto-11": {"state": "working", "task": "t"}, "x": {"state": "idle"}}"#,
    )
    .unwrap();
    assert_eq!(e["ccl-auto-11"].task.as_deref(), Some("t"));
    assert!(parse_external("[1,2]").is_err());
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
