//! Tests of the supervisor's bookkeeping around its own ops and restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::fixtures::{pane, production, running};
use crate::memory::Store;
use crate::observe::State;

const NOW: Millis = 1_000_000_000;

fn polled(panes: Vec<crate::tmux::Pane>, captures: &[(&str, &str)]) -> PollResult {
    PollResult {
        snapshot: Snapshot {
            panes,
            rejected: Vec::new(),
        },
        captures: captures
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        ..PollResult::default()
    }
}

fn state(sup: &Supervisor, name: &str) -> (State, String) {
    let i = sup.layout.slot(name).unwrap();
    let st = &sup.last.as_ref().unwrap().slots[i];
    (st.state, st.reason())
}

/// A working agent in ccl-auto-12 (pane %12, pid 10012).
fn working() -> PollResult {
    polled(
        vec![running(pane("ccl-auto-12", 12), "claude")],
        &[("%12", "Thinking… (esc to interrupt)")],
    )
}

#[test]
fn recreating_a_working_slot_by_hand_is_not_a_crash() {
    let (cfg, _) = production();
    let mut sup = Supervisor::new(cfg, None, NOW);
    sup.on_poll(working(), NOW);
    assert_eq!(state(&sup, "ccl-auto-12").0, State::Working);
    let job = sup.recreate("ccl-auto-12", NOW).unwrap();
    sup.on_executed(
        vec![OpResult {
            job,
            outcome: Ok("pane %12".into()),
            started: None,
        }],
        NOW + 10,
    );
    // The respawned pane is a shell with a new pid.
    let mut fresh = pane("ccl-auto-12", 12);
    fresh.pane_pid = 20_012;
    for t in 1..4 {
        sup.on_poll(polled(vec![fresh.clone()], &[]), NOW + t * 1000);
        assert_eq!(
            state(&sup, "ccl-auto-12"),
            (State::Idle, "shell".to_string()),
            "poll {t}"
        );
    }
    assert!(
        !sup.memory.events.iter().any(|e| e.text.contains("crashed")),
        "{:?}",
        sup.memory.events
    );
    let again: Vec<String> = sup
        .reconcile(NOW + 5000)
        .into_iter()
        .map(|j| j.name)
        .filter(|n| n == "ccl-auto-12")
        .collect();
    assert!(again.is_empty(), "a second respawn was planned");
}

#[test]
fn killing_a_working_slot_by_hand_is_not_a_crash() {
    let (cfg, _) = production();
    let mut sup = Supervisor::new(cfg, None, NOW);
    sup.on_poll(working(), NOW);
    let job = sup.kill("ccl-auto-12", NOW);
    sup.on_executed(
        vec![OpResult {
            job,
            outcome: Ok("killed".into()),
            started: None,
        }],
        NOW + 10,
    );
    sup.on_poll(polled(vec![], &[]), NOW + 1000);
    assert!(
        !sup.memory.events.iter().any(|e| e.text.contains("crashed")),
        "{:?}",
        sup.memory.events
    );
    assert_ne!(state(&sup, "ccl-auto-12").0, State::Failed);
}

#[test]
fn a_restarted_supervisor_does_not_take_the_old_last_state_for_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), "L-test");
    let (cfg, _) = production();
    {
        let mut first = Supervisor::new(cfg.clone(), Some(store.clone()), NOW);
        first.on_poll(working(), NOW);
        first.save(NOW);
    }
    // The agent finished while no supervisor ran: the next one sees its shell.
    let mut second = Supervisor::new(cfg, Some(store), NOW + 60_000);
    second.on_poll(polled(vec![pane("ccl-auto-12", 12)], &[]), NOW + 60_000);
    assert_eq!(
        state(&second, "ccl-auto-12"),
        (State::Idle, "shell".to_string())
    );
}
