//! Tests of running jobs against tmux and of the state file and lock around a supervisor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use super::*;
use crate::fixtures::{pane, polled, production, state_of as state, working};
use crate::observe::State;
use crate::store::Store;
use crate::tmux::{Created, Launch, Snapshot, Target, TmuxError};

const NOW: Millis = 1_000_000_000;

#[test]
fn a_restarted_supervisor_does_not_take_the_old_last_state_for_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), "L-test");
    let (cfg, _) = production();
    {
        let (mut first, mut persist) = Persist::open(cfg.clone(), Some(store.clone()), NOW);
        first.on_poll(working(), NOW);
        persist.save(&mut first, NOW);
    }
    // The agent finished while no supervisor ran: the next one sees its shell.
    let (mut second, _persist) = Persist::open(cfg, Some(store), NOW + 60_000);
    second.on_poll(polled(vec![pane("ccl-auto-12", 12)], &[]), NOW + 60_000);
    assert_eq!(
        state(&second, "ccl-auto-12"),
        (State::Idle, "shell".to_string())
    );
}

/// A tmux that says the supervisor is stopping, counting the calls it gets.
#[derive(Default)]
struct Stopping {
    calls: std::sync::atomic::AtomicUsize,
}

impl Stopping {
    fn call(&self) -> TmuxError {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        TmuxError::Stopped
    }
}

impl Tmux for Stopping {
    fn snapshot(&self) -> Result<Snapshot, TmuxError> {
        Err(self.call())
    }
    fn create(&self, _: &Launch) -> Result<Created, TmuxError> {
        Err(self.call())
    }
    fn respawn(&self, _: &str, _: &Launch) -> Result<(), TmuxError> {
        Err(self.call())
    }
    fn kill(&self, _: &Target) -> Result<(), TmuxError> {
        Err(self.call())
    }
    fn capture(&self, _: &[String], _: u32) -> Result<HashMap<String, String>, TmuxError> {
        Err(self.call())
    }
    fn switch_client(&self, _: Option<&str>, _: &Target) -> Result<(), TmuxError> {
        Err(self.call())
    }
    fn reap_lost_exits(&self, _: u32) -> Result<(), TmuxError> {
        Err(self.call())
    }
    fn interrupt(&self, _: &str) -> Result<(), TmuxError> {
        Err(self.call())
    }
    fn set_wake_hooks(&self, _: &[String]) -> Result<(), TmuxError> {
        Err(self.call())
    }
    fn version(&self) -> Result<String, TmuxError> {
        Err(self.call())
    }
}

#[test]
fn ops_queued_when_the_supervisor_stops_are_dropped_and_not_counted_as_failures() {
    let (cfg, _) = production();
    let mut sup = Supervisor::without_memory(cfg);
    sup.on_poll(polled(Vec::new(), &[]), NOW);
    let jobs = sup.reconcile(NOW);
    assert_eq!(jobs.len(), 10, "the whole auto pool is due");
    let tmux = Stopping::default();
    let results = execute(&tmux, jobs);
    assert_eq!(
        tmux.calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "ops were run after tmux said the supervisor is stopping"
    );
    assert_eq!(results.len(), 10);
    sup.on_executed(results, NOW + 10);
    for i in 11..=20 {
        let name = format!("ccl-auto-{i}");
        let m = &sup.memory.slots[&name];
        assert!(m.in_flight.is_none() && m.failed.is_none(), "{name}: {m:?}");
        assert!(
            sup.memory
                .events
                .iter()
                .any(|e| e.text == format!("create {name} not done: the supervisor is stopping")),
            "{name}: {:?}",
            sup.memory.events
        );
    }
}

/// A tmux whose snapshot is fixed, recording the servers it was asked to reap for.
struct Fixed {
    panes: Vec<crate::tmux::Pane>,
    reaped: std::sync::Mutex<Vec<u32>>,
}

impl Tmux for Fixed {
    fn snapshot(&self) -> Result<Snapshot, TmuxError> {
        Ok(Snapshot {
            panes: self.panes.clone(),
            rejected: Vec::new(),
            hosts: Vec::new(),
        })
    }
    fn create(&self, _: &Launch) -> Result<Created, TmuxError> {
        Ok(Created::AlreadyExists)
    }
    fn respawn(&self, _: &str, _: &Launch) -> Result<(), TmuxError> {
        Ok(())
    }
    fn kill(&self, _: &Target) -> Result<(), TmuxError> {
        Ok(())
    }
    fn capture(&self, _: &[String], _: u32) -> Result<HashMap<String, String>, TmuxError> {
        Ok(HashMap::new())
    }
    fn switch_client(&self, _: Option<&str>, _: &Target) -> Result<(), TmuxError> {
        Ok(())
    }
    fn reap_lost_exits(&self, server_pid: u32) -> Result<(), TmuxError> {
        self.reaped.lock().unwrap().push(server_pid);
        Ok(())
    }
    fn interrupt(&self, _: &str) -> Result<(), TmuxError> {
        Ok(())
    }
    fn set_wake_hooks(&self, _: &[String]) -> Result<(), TmuxError> {
        Ok(())
    }
    fn version(&self) -> Result<String, TmuxError> {
        Ok("3.3a".into())
    }
}

#[test]
fn a_slot_pane_dead_without_a_status_makes_the_poll_nudge_the_server() {
    let (cfg, _) = production();
    let lost = crate::tmux::Pane {
        pane_dead: true,
        ..pane("ccl-auto-11", 11)
    };
    // The supervisor started ccl-auto-11's pane.
    let mut memory = crate::memory::Memory::default();
    memory.slot_mut("ccl-auto-11").pane = Some(crate::memory::OwnedPane {
        server_pid: lost.server_pid,
        session_id: lost.session_id.clone(),
        pane_id: lost.pane_id.clone(),
    });
    let sup = Supervisor::new(cfg, memory, crate::controller::Mode::default());
    let cases = [
        (vec![lost.clone()], vec![100]),
        // A dead pane of the slot's session the supervisor did not start: left dead, and
        // not nudged at every poll.
        (
            vec![crate::tmux::Pane {
                pane_id: "%12".into(),
                ..lost.clone()
            }],
            vec![],
        ),
        // The status arrived: nothing to collect.
        (
            vec![crate::fixtures::dead(pane("ccl-auto-11", 11), 3)],
            vec![],
        ),
        // Another session: not the supervisor's business.
        (
            vec![crate::tmux::Pane {
                session_name: "main".into(),
                session_id: "$40".into(),
                pane_id: "%40".into(),
                ..lost
            }],
            vec![],
        ),
    ];
    for (panes, want) in cases {
        let tmux = Fixed {
            panes,
            reaped: std::sync::Mutex::new(Vec::new()),
        };
        sup.poll_job().run(&tmux);
        assert_eq!(*tmux.reaped.lock().unwrap(), want);
    }
}

#[test]
fn without_the_lock_it_never_acts_whatever_kept_it_from_taking_it() {
    let dir = tempfile::tempdir().unwrap();
    // The state dir is a file: no lock can be made there.
    let in_the_way = dir.path().join("state");
    std::fs::write(&in_the_way, "").unwrap();
    let store = Store::new(&in_the_way, "test");
    let (cfg, _) = production();
    let (mut sup, persist) = Persist::open(cfg, Some(store), NOW);
    assert!(sup.mode.observe_only && sup.wants_lock && !persist.held_elsewhere());
    assert!(
        sup.memory
            .events
            .iter()
            .any(|e| e.text.contains("observe-only until it can be taken")),
        "{:?}",
        sup.memory.events
    );
    sup.on_poll(polled(Vec::new(), &[]), NOW);
    assert!(sup.reconcile(NOW).is_empty(), "it acted without the lock");
    assert!(!sup.last_plan.ops.is_empty(), "the plan is still shown");
}

#[test]
fn progress_alone_is_written_at_most_every_few_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), "L-test");
    let (cfg, _) = production();
    let (mut sup, mut persist) = Persist::open(cfg, Some(store.clone()), NOW);
    let progress = |sup: &mut Supervisor, n: u64, at: Millis| {
        sup.memory.slot_mut("ccl-auto-12").progress = Some((n, at));
    };
    progress(&mut sup, 1, NOW);
    persist.save(&mut sup, NOW);
    assert_eq!(
        store.peek().slot("ccl-auto-12").unwrap().progress,
        Some((1, NOW))
    );
    // Progress at every poll: not written within PROGRESS_SAVE_MS...
    progress(&mut sup, 2, NOW + 1000);
    persist.save(&mut sup, NOW + 1000);
    assert_eq!(
        store.peek().slot("ccl-auto-12").unwrap().progress,
        Some((1, NOW))
    );
    // ...unless something else changed with it...
    sup.memory.slot_mut("ccl-auto-12").restarts = 3;
    persist.save(&mut sup, NOW + 2000);
    assert_eq!(
        store.peek().slot("ccl-auto-12").unwrap().progress,
        Some((2, NOW + 1000))
    );
    // ...and once that long has passed.
    progress(&mut sup, 3, NOW + 3000);
    persist.save(&mut sup, NOW + 3000);
    assert_eq!(
        store.peek().slot("ccl-auto-12").unwrap().progress,
        Some((2, NOW + 1000))
    );
    persist.save(&mut sup, NOW + 2000 + persist::PROGRESS_SAVE_MS);
    assert_eq!(
        store.peek().slot("ccl-auto-12").unwrap().progress,
        Some((3, NOW + 3000))
    );
}
