//! Tests of state derivation and of folding observations into the memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::fixtures::{dead, pane, production, running};
use crate::memory::{Memory, OwnedPane, SlotMemory};

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
        &Memory::default(),
        NOW,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-0").state, State::Idle);
    assert_eq!(state_of(&obs, &layout, "ccl-0").reason(), "shell");
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
            state: "working".to_string().into(),
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
    let obs = observe(
        &layout,
        &cfg.agent,
        &s,
        &caps,
        &ext,
        &Memory::default(),
        NOW,
    );
    let got = |n: &str| {
        let st = state_of(&obs, &layout, n);
        (st.state, st.reason())
    };
    assert_eq!(
        got("ccl-auto-11"),
        (State::Failed, "pane dead, exit 3".into())
    );
    // Neither a shell nor a dead pane is a shell in the foreground for the crash rule.
    assert!(state_of(&obs, &layout, "ccl-auto-17").foreground_shell);
    assert!(!state_of(&obs, &layout, "ccl-auto-11").foreground_shell);
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
fn a_shell_in_the_foreground_is_never_by_itself_a_failure() {
    // `["sh", "run-agent.sh"]`, `["bash", "-c", "while :; do claude; done"]`: the wrapper
    // shell stays the foreground process group while the agent runs inside it.
    let mut cfg = production().0;
    cfg.pools[1].command = vec![
        "bash".into(),
        "-c".into(),
        "while :; do claude; done".into(),
    ];
    let layout = Layout::new(&cfg);
    let mut caps = HashMap::new();
    caps.insert(
        "%2".to_string(),
        "✻ Thinking… (esc to interrupt)".to_string(),
    );
    caps.insert("%3".to_string(), "Do you want to proceed?".to_string());
    let s = snap(vec![
        pane("ccl-auto-11", 1),
        pane("ccl-auto-12", 2),
        pane("ccl-auto-13", 3),
    ]);
    let obs = observe(
        &layout,
        &cfg.agent,
        &s,
        &caps,
        &ExternalStatus::new(),
        &Memory::default(),
        NOW,
    );
    let got = |n: &str| {
        let st = state_of(&obs, &layout, n);
        (st.state, st.reason(), st.foreground_shell)
    };
    assert_eq!(got("ccl-auto-11"), (State::Idle, "shell".into(), true));
    // The agent inside the wrapper is still read from its pane text.
    assert_eq!(
        got("ccl-auto-12"),
        (State::Working, "pattern 'esc to interrupt'".into(), true)
    );
    assert_eq!(
        got("ccl-auto-13"),
        (State::Waiting, "pattern 'Do you want to'".into(), true)
    );
    // And its panes are captured for that, though a shell is in the foreground.
    let want = panes_to_capture(&layout, &s, &cfg.agent, &HashMap::new(), &HashMap::new());
    assert_eq!(want, vec!["%1", "%2", "%3"]);
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
}

#[test]
fn the_pane_the_supervisor_started_is_followed_whatever_the_operator_adds() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    // The supervisor started %5 in ccl-auto-11; the operator then split it with `-b` (their
    // shell %9 is now the first pane) and opened a window before it (%8).
    mem.slot_mut("ccl-auto-11").pane = Some(OwnedPane {
        server_pid: 100,
        session_id: "$5".into(),
        pane_id: "%5".into(),
    });
    let shell = |id: &str| Pane {
        pane_id: id.into(),
        session_id: "$5".into(),
        ..pane("ccl-auto-11", 5)
    };
    let ours = dead(
        Pane {
            session_id: "$5".into(),
            ..running(pane("ccl-auto-11", 5), "claude")
        },
        1,
    );
    let s = snap(vec![shell("%8"), shell("%9"), ours]);
    let obs = observe(
        &layout,
        &cfg.agent,
        &s,
        &HashMap::new(),
        &ExternalStatus::new(),
        &mem,
        NOW,
    );
    let st = state_of(&obs, &layout, "ccl-auto-11");
    assert_eq!(st.pane.as_ref().unwrap().pane_id, "%5");
    assert!(st.owned);
    assert_eq!(st.state, State::Failed);
    assert_eq!(st.panes, 3);
    // The same ids on another server (it restarted) are not ours.
    mem.slot_mut("ccl-auto-11")
        .pane
        .as_mut()
        .unwrap()
        .server_pid = 101;
    let obs = observe(
        &layout,
        &cfg.agent,
        &s,
        &HashMap::new(),
        &ExternalStatus::new(),
        &mem,
        NOW,
    );
    let st = state_of(&obs, &layout, "ccl-auto-11");
    assert_eq!(st.pane.as_ref().unwrap().pane_id, "%8", "the first pane");
    assert!(!st.owned);
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
fn dead_pane_with_lost_status_is_still_dead() {
    let p = Pane {
        pane_dead: true,
        ..pane("x", 1)
    };
    assert_eq!(Cause::dead(&p).to_string(), "pane dead");
    assert!(died_badly(&p));
    assert!(!died_badly(&dead(pane("x", 1), 0)));
}

#[test]
fn a_command_that_cannot_run_says_why() {
    assert_eq!(
        Cause::dead(&dead(pane("x", 1), 127)).to_string(),
        "pane dead, exit 127 (command not found)"
    );
    assert_eq!(
        Cause::dead(&dead(pane("x", 1), 126)).to_string(),
        "pane dead, exit 126 (not executable)"
    );
    assert_eq!(
        Cause::dead(&dead(pane("x", 1), 3)).to_string(),
        "pane dead, exit 3"
    );
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
    assert_eq!(
        panes_to_capture(&layout, &s, &cfg.agent, &last, &HashMap::new()),
        vec!["%1"]
    );
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
        mem,
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
