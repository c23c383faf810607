//! Tests of state derivation: the order of evidence, owned panes, captures, exit words.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::fixtures::{dead, pane, production, running};
use crate::memory::{Memory, OwnedPane};

const NOW: Millis = 1_000_000_000;

fn snap(panes: Vec<Pane>) -> Snapshot {
    Snapshot {
        panes,
        rejected: Vec::new(),
        hosts: Vec::new(),
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

#[test]
fn external_status_file_parses() {
    let e = parse_external(
        r#"{"ccl-auto-11": {"state": "working", "task": "t"}, "x": {"state": "idle"}}"#,
    )
    .unwrap();
    assert_eq!(e["ccl-auto-11"].task.as_deref(), Some("t"));
    assert!(parse_external("[1,2]").is_err());
}
