//! Tests of the supervisor's bookkeeping around its own ops and restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::fixtures::{pane, polled, production, running, state_of as state, working};
use crate::jobs::{Done, OpKind};
use crate::observe::State;

const NOW: Millis = 1_000_000_000;

#[test]
fn recreating_a_working_slot_by_hand_is_not_a_crash() {
    let (cfg, _) = production();
    let mut sup = Supervisor::without_memory(cfg);
    sup.on_poll(working(), NOW);
    assert_eq!(state(&sup, "ccl-auto-12").0, State::Working);
    let job = sup.recreate("ccl-auto-12", NOW).unwrap();
    sup.on_executed(
        vec![OpResult {
            job,
            outcome: Ok(Done::Respawned),
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
    let mut sup = Supervisor::without_memory(cfg);
    sup.on_poll(working(), NOW);
    let job = sup.kill("ccl-auto-12", NOW);
    sup.on_executed(
        vec![OpResult {
            job,
            outcome: Ok(Done::Killed),
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
fn a_failed_poll_leaves_the_age_of_the_last_good_one() {
    let (cfg, _) = production();
    let mut sup = Supervisor::without_memory(cfg);
    sup.on_poll(polled(Vec::new(), &[]), NOW);
    sup.on_poll(
        PollResult {
            error: Some("tmux did not answer within 10 s".into()),
            ..PollResult::default()
        },
        NOW + 10_000,
    );
    assert_eq!(sup.last_poll_at, Some(NOW));
    assert!(sup.last_poll_error.is_some());
}

#[test]
fn a_poll_problem_is_said_once_while_it_stays() {
    let (cfg, _) = production();
    let mut sup = Supervisor::without_memory(cfg);
    let with = |w: &[&str]| PollResult {
        warnings: w.iter().map(|s| (*s).to_string()).collect(),
        ..polled(Vec::new(), &[])
    };
    let said = |sup: &Supervisor, w: &str| sup.memory.events.iter().filter(|e| e.text == w).count();
    for t in 0..5 {
        sup.on_poll(with(&["status file /s is a directory"]), NOW + t);
    }
    assert_eq!(said(&sup, "status file /s is a directory"), 1);
    // A failed poll says nothing about the status file; the problem is still the same after.
    sup.on_poll(
        PollResult {
            error: Some("tmux did not answer within 10 s".into()),
            ..PollResult::default()
        },
        NOW + 10,
    );
    sup.on_poll(with(&["status file /s is a directory"]), NOW + 11);
    assert_eq!(said(&sup, "status file /s is a directory"), 1);
    // A new problem is said; one that went away and came back is said again.
    sup.on_poll(with(&["status file /s is too big"]), NOW + 12);
    sup.on_poll(with(&[]), NOW + 13);
    sup.on_poll(with(&["status file /s is a directory"]), NOW + 14);
    assert_eq!(said(&sup, "status file /s is too big"), 1);
    assert_eq!(said(&sup, "status file /s is a directory"), 2);
}

#[test]
fn a_create_left_unfinished_owns_its_placeholder_and_restarts_it() {
    let (cfg, _) = production();
    let mut sup = Supervisor::without_memory(cfg);
    sup.on_poll(polled(Vec::new(), &[]), NOW);
    let job = sup.recreate("ccl-auto-11", NOW).unwrap();
    let placeholder = pane("ccl-auto-11", 11);
    sup.on_executed(
        vec![OpResult {
            job,
            outcome: Ok(Done::Unfinished {
                pane: crate::memory::OwnedPane {
                    server_pid: placeholder.server_pid,
                    session_id: placeholder.session_id.clone(),
                    pane_id: placeholder.pane_id.clone(),
                },
                error: "tmux did not answer within 10 s".into(),
            }),
        }],
        NOW + 10,
    );
    let m = sup.memory.slot("ccl-auto-11").unwrap();
    assert_eq!(m.pane.as_ref().unwrap().pane_id, "%11");
    // The placeholder runs (a `sleep`): shown failed, and respawned in place.
    let sleeping = running(placeholder, "sleep");
    for t in 1..=2 {
        sup.on_poll(polled(vec![sleeping.clone()], &[]), NOW + t * 1000);
    }
    assert_eq!(state(&sup, "ccl-auto-11").0, State::Failed);
    let jobs = sup.reconcile(NOW + 3000);
    assert!(
        jobs.iter().any(|j| j.name == "ccl-auto-11"
            && matches!(&j.kind, OpKind::Respawn { pane_id, .. } if pane_id == "%11")),
        "{jobs:?}"
    );
}

/// As `a_create_left_unfinished_owns_its_placeholder_and_restarts_it`, but the
/// placeholder was just created, so its `window_activity` is recent (as tmux reports it).
#[test]
fn an_unfinished_create_with_a_fresh_placeholder_is_restarted() {
    let (cfg, _) = production();
    let mut sup = Supervisor::without_memory(cfg);
    sup.on_poll(polled(Vec::new(), &[]), NOW);
    let job = sup.recreate("ccl-auto-11", NOW).unwrap();
    let mut placeholder = pane("ccl-auto-11", 11);
    // Created a moment ago: tmux's window_activity is the creation time (seconds).
    placeholder.session_created = NOW / 1000;
    placeholder.window_activity = NOW / 1000;
    sup.on_executed(
        vec![OpResult {
            job,
            outcome: Ok(Done::Unfinished {
                pane: crate::memory::OwnedPane {
                    server_pid: placeholder.server_pid,
                    session_id: placeholder.session_id.clone(),
                    pane_id: placeholder.pane_id.clone(),
                },
                error: "tmux did not answer within 10 s".into(),
            }),
        }],
        NOW + 10,
    );
    let sleeping = running(placeholder, "sleep");
    for t in 1..=2 {
        sup.on_poll(polled(vec![sleeping.clone()], &[]), NOW + t * 1000);
    }
    let (st, why) = state(&sup, "ccl-auto-11");
    let failed = sup.memory.slot("ccl-auto-11").unwrap().failed.clone();
    let jobs = sup.reconcile(NOW + 3000);
    assert!(
        jobs.iter().any(|j| j.name == "ccl-auto-11"),
        "state {st:?} ({why}), failed={failed:?}: the placeholder is never restarted; jobs {jobs:?}"
    );
}

/// The same in an on-failure pool, where the placeholder's `sleep 60` ending with status 0
/// would be a clean exit, and the slot never started again.
#[test]
fn an_unfinished_create_in_an_on_failure_pool_is_not_left_dead() {
    let yaml = "pools:\n  - {name: of, prefix: \"of-\", max: 1, restart: on-failure, command: [\"agent\"], env: {K: v}}\n";
    let cfg = Config::parse_with_home(yaml, "t", std::path::Path::new("/h")).unwrap();
    let mut sup = Supervisor::without_memory(cfg);
    sup.on_poll(polled(Vec::new(), &[]), NOW);
    let jobs = sup.reconcile(NOW);
    assert_eq!(jobs.len(), 1);
    let mut placeholder = pane("of-0", 11);
    placeholder.session_created = NOW / 1000;
    placeholder.window_activity = NOW / 1000;
    sup.executed(
        vec![OpResult {
            job: jobs.into_iter().next().unwrap(),
            outcome: Ok(Done::Unfinished {
                pane: crate::memory::OwnedPane {
                    server_pid: placeholder.server_pid,
                    session_id: placeholder.session_id.clone(),
                    pane_id: placeholder.pane_id.clone(),
                },
                error: "the supervisor is stopping".into(),
            }),
        }],
        NOW + 10,
    );
    // The placeholder runs on (a fresh `sleep`, output just now): it is restarted in place
    // at once, not left until its `sleep` ends with a clean exit.
    let sleeping = running(placeholder, "sleep");
    sup.on_poll(polled(vec![sleeping], &[]), NOW + 1000);
    let jobs = sup.reconcile(NOW + 1000);
    assert!(
        jobs.iter()
            .any(|j| matches!(&j.kind, OpKind::Respawn { pane_id, .. } if pane_id == "%11")),
        "{:?}: the slot whose create never finished is not restarted",
        state(&sup, "of-0")
    );
}

#[test]
fn a_wake_up_polls_now_or_once_after_the_poll_out_and_reconciles_what_it_finds() {
    let (cfg, _) = production();
    let mut sup = Supervisor::without_memory(cfg);
    // Nothing out: a poll now.
    assert!(sup.woken().is_some());
    assert!(sup.polling());
    // Wake-ups while it is out: none now, and one poll once it is back, however many.
    for _ in 0..10 {
        assert!(sup.woken().is_none());
    }
    assert!(sup.poll_after_wake().is_none(), "the poll is still out");
    let all_up: Vec<_> = (11..=20)
        .map(|i| pane(&format!("ccl-auto-{i}"), i))
        .collect();
    // The wake-up's poll finds nothing wrong: a pass all the same, and it plans nothing.
    assert!(sup.polled(polled(all_up.clone(), &[]), NOW).is_empty());
    assert!(sup.poll_after_wake().is_some());
    assert!(sup.poll_after_wake().is_none(), "one poll for ten wake-ups");
    // That poll shows a slot gone: created in the same breath, no reconcile tick needed.
    let jobs = sup.polled(polled(all_up[1..].to_vec(), &[]), NOW + 10);
    assert_eq!(
        jobs.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(),
        ["ccl-auto-11"]
    );
    // A regular tick's poll is no wake-up's: nothing after it.
    sup.executed(Vec::new(), NOW + 20);
    assert!(sup.poll_tick().is_some());
    assert!(sup.polled(polled(all_up, &[]), NOW + 30).is_empty());
    assert!(sup.poll_after_wake().is_none());
}

#[test]
fn a_crash_is_recovered_even_when_a_poll_shows_the_respawn_before_its_result() {
    let (cfg, _) = production();
    let mut sup = Supervisor::without_memory(cfg);
    // ccl-auto-12 was started by the supervisor and is working.
    let p = running(pane("ccl-auto-12", 12), "claude");
    sup.memory.slot_mut("ccl-auto-12").pane = Some(crate::memory::OwnedPane {
        server_pid: p.server_pid,
        session_id: p.session_id.clone(),
        pane_id: p.pane_id.clone(),
    });
    sup.on_poll(working(), NOW);
    // SIGKILL: the pane is dead, the slot failed, reconcile respawns it.
    let mut dead = crate::fixtures::dead(p.clone(), 0);
    dead.dead_status = None;
    dead.dead_signal = Some(9);
    let jobs = sup.polled(polled(vec![dead], &[]), NOW + 1_000);
    assert_eq!(state(&sup, "ccl-auto-12").0, State::Failed);
    let job = jobs
        .into_iter()
        .find(|j| j.name == "ccl-auto-12")
        .expect("a respawn");
    assert!(matches!(job.kind, OpKind::Respawn { .. }));
    // A poll that ran after the respawn comes back before the op's result: the new client
    // is already working.
    let mut again = p;
    again.pane_pid = 20_012;
    sup.on_poll(
        polled(vec![again], &[("%12", "Thinking… (esc to interrupt)")]),
        NOW + 1_100,
    );
    sup.executed(
        vec![OpResult {
            job,
            outcome: Ok(Done::Respawned),
        }],
        NOW + 1_150,
    );
    let last = sup.memory.events.back().unwrap();
    assert_eq!(last.kind, crate::memory::EventKind::Recovered, "{last:?}");
    assert!(sup.memory.slot("ccl-auto-12").unwrap().failed.is_none());
}
