//! The controller with pools on another host: a slot is only its own host's session, an
//! unreachable host keeps its last known state and gets no op, a host read late or again is
//! no news, a host with ops out holds up no other, kills and reloads across hosts, metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::config::Config;
use crate::fixtures::pane;
use crate::hosts::mark;
use crate::observe::State;
use crate::tmux::{HostPoll, Target};

const SPLIT: &str = "hosts:
  gpu1: {ssh: ops@gpu1}
pools:
  - {name: manual, prefix: \"ccl-\", start_index: 0, max: 3, restart: never}
  - {name: gpu, prefix: \"ccl-auto-\", start_index: 11, max: 2, restart: always, host: gpu1}
";

fn split() -> crate::controller::Supervisor {
    let cfg = Config::parse_with_home(SPLIT, "split", std::path::Path::new("/home/op")).unwrap();
    crate::controller::Supervisor::without_memory(cfg)
}

/// A pane of gpu1's server, as the fleet marks it.
fn on_gpu1(name: &str, n: u32) -> crate::tmux::Pane {
    let mut p = pane(name, n);
    p.pane_id = mark(&p.pane_id, "gpu1");
    p.session_id = mark(&p.session_id, "gpu1");
    p
}

fn poll(panes: Vec<crate::tmux::Pane>, gpu1: Option<&str>) -> crate::jobs::PollResult {
    let mut r = crate::fixtures::polled(panes, &[]);
    r.snapshot.hosts = vec![HostPoll {
        name: "gpu1".into(),
        error: gpu1.map(str::to_string),
    }];
    r
}

#[test]
fn a_slot_is_only_its_own_hosts_session_and_strays_are_per_host() {
    let mut sup = split();
    // ccl-auto-11 on this machine is not gpu1's slot; on gpu1 it is.
    let here = pane("ccl-auto-11", 1);
    let there = on_gpu1("ccl-auto-11", 1);
    let stray_there = on_gpu1("ccl-auto-99", 2);
    let manual_name_there = on_gpu1("ccl-0", 3);
    sup.on_poll(
        poll(
            vec![here, there.clone(), stray_there, manual_name_there],
            None,
        ),
        1_000,
    );
    let obs = sup.last.as_ref().unwrap();
    let slot = sup.layout.slot("ccl-auto-11").unwrap();
    assert_eq!(obs.slots[slot].pane.as_ref(), Some(&there));
    // The manual slot ccl-0 is this machine's: gpu1's ccl-0 is not it.
    let manual = sup.layout.slot("ccl-0").unwrap();
    assert!(obs.slots[manual].pane.is_none());
    let strays: Vec<(&str, Option<&str>)> = obs
        .strays
        .iter()
        .map(|s| (s.name.as_str(), s.pane.host()))
        .collect();
    // gpu1's ccl-auto-99 looks like gpu1's pool; this machine's ccl-auto-11 looks like no
    // pool of this machine's (`ccl-` + `auto-11`), nor gpu1's ccl-0 like one of gpu1's.
    assert_eq!(strays, [("ccl-auto-99", Some("gpu1"))]);
    let others: Vec<(&str, Option<&str>)> = obs
        .others
        .iter()
        .map(|p| (p.session_name.as_str(), p.host()))
        .collect();
    assert_eq!(others, [("ccl-auto-11", None), ("ccl-0", Some("gpu1"))]);
}

#[test]
fn an_unreachable_host_keeps_its_last_known_state_and_nothing_is_done_there() {
    let mut sup = split();
    let slot = sup.layout.slot("ccl-auto-11").unwrap();
    let other = sup.layout.slot("ccl-auto-12").unwrap();
    sup.on_poll(poll(vec![on_gpu1("ccl-auto-11", 1)], None), 1_000);
    assert_eq!(sup.last.as_ref().unwrap().slots[slot].state, State::Idle);
    // ccl-auto-12 is missing on a host that answers: reconcile creates it there.
    let jobs = sup.reconcile_tick(1_000);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].name, "ccl-auto-12");
    assert_eq!(jobs[0].host.as_deref(), Some("gpu1"));
    sup.executed(Vec::new(), 1_000);
    sup.memory.slots.get_mut("ccl-auto-12").unwrap().in_flight = None;

    // gpu1 stops answering: what was known stays, and nothing is planned there.
    let urgent = sup.on_poll(poll(Vec::new(), Some("ssh: Connection refused")), 2_000);
    assert!(!urgent);
    let obs = sup.last.as_ref().unwrap();
    assert_eq!(obs.slots[slot].state, State::Idle);
    assert!(obs.host_down(Some("gpu1")).is_some());
    assert!(sup.reconcile_tick(2_000).is_empty());
    let said: Vec<&str> = sup.memory.events.iter().map(|e| e.text.as_str()).collect();
    assert!(
        said.iter()
            .any(|t| t.starts_with("host gpu1 unreachable: ssh: Connection refused")),
        "{said:?}"
    );
    // Said once, not at every poll.
    let n = sup.memory.events.len();
    sup.on_poll(poll(Vec::new(), Some("ssh: Connection refused")), 3_000);
    assert_eq!(sup.memory.events.len(), n);
    assert_eq!(sup.hosts["gpu1"].last_seen, Some(1_000));
    assert_eq!(sup.hosts_up(), (0, 1));

    // It answers again, without ccl-auto-11 (killed meanwhile): reconciled as usual.
    let urgent = sup.on_poll(poll(Vec::new(), None), 4_000);
    assert!(urgent);
    assert_eq!(sup.last.as_ref().unwrap().slots[slot].state, State::Missing);
    let jobs = sup.reconcile_tick(4_000);
    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    assert!(names.contains(&"ccl-auto-11"), "{names:?}");
    assert!(jobs.iter().all(|j| j.host.as_deref() == Some("gpu1")));
    assert!(
        sup.memory
            .events
            .iter()
            .any(|e| e.text == "host gpu1 answers again: reconciling it")
    );
    let _ = other;
}

#[test]
fn a_host_never_seen_is_shown_unknown_not_missing() {
    let mut sup = split();
    let urgent = sup.on_poll(poll(Vec::new(), Some("ssh: timed out")), 1_000);
    assert!(!urgent);
    let slot = sup.layout.slot("ccl-auto-11").unwrap();
    let st = &sup.last.as_ref().unwrap().slots[slot];
    assert_eq!(st.state, State::Absent);
    assert_eq!(
        st.reason(),
        "host gpu1 has not answered since the start: nothing known"
    );
    assert!(sup.reconcile_tick(1_000).is_empty());
}

/// This machine's fake tmux, and gpu1's behind `on_host`.
#[test]
fn a_reload_that_changes_the_hosts_needs_a_restart() {
    let mut sup = split();
    let moved = SPLIT.replace("ssh: ops@gpu1", "ssh: ops@gpu9");
    let cfg = Config::parse_with_home(&moved, "split", std::path::Path::new("/home/op")).unwrap();
    let err = sup.reload(cfg, 1_000).unwrap_err();
    assert_eq!(err, "it changes `hosts:`: that needs a restart");
    // A pool added on a host that stays is taken at once.
    let more =
        format!("{SPLIT}  - {{name: more, prefix: \"m-\", max: 1, restart: always, host: gpu1}}\n");
    let cfg = Config::parse_with_home(&more, "split", std::path::Path::new("/home/op")).unwrap();
    sup.reload(cfg, 2_000).unwrap();
    let m = sup.layout.slot("m-0").unwrap();
    assert_eq!(sup.layout.slots[m].host.as_deref(), Some("gpu1"));
}

#[test]
fn a_host_with_ops_out_holds_up_no_other_hosts_reconcile() {
    let yaml = SPLIT.replace(
        "pools:\n",
        "pools:\n  - {name: here, prefix: \"loc-\", max: 1, restart: always}\n",
    );
    let cfg = Config::parse_with_home(&yaml, "split", std::path::Path::new("/home/op")).unwrap();
    let mut sup = crate::controller::Supervisor::without_memory(cfg);
    sup.on_poll(poll(vec![pane("loc-0", 1)], None), 1_000);
    // gpu1's two slots are created; that batch stays out (a host slow to answer).
    let jobs = sup.reconcile_tick(1_000);
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.host.as_deref() == Some("gpu1")));
    assert_eq!(sup.executing(), 1);
    // This machine's slot dies meanwhile: it is recreated at once all the same.
    let urgent = sup.polled(poll(Vec::new(), None), 2_000);
    let names: Vec<(&str, Option<&str>)> = urgent
        .iter()
        .map(|j| (j.name.as_str(), j.host.as_deref()))
        .collect();
    assert_eq!(names, [("loc-0", None)]);
    assert_eq!(sup.executing(), 2);
    // Nothing more for gpu1 while its batch is out.
    assert!(sup.reconcile_tick(3_000).is_empty());
}

#[test]
fn killing_a_session_of_a_slots_name_on_another_host_leaves_the_slot_alone() {
    use crate::jobs::{Done, OpResult};
    let mut sup = split();
    // This machine's manual slot ccl-0, started by the supervisor; a ccl-0 on gpu1 too.
    let mine = pane("ccl-0", 1);
    sup.memory.slot_mut("ccl-0").pane = Some(crate::memory::OwnedPane {
        server_pid: mine.server_pid,
        session_id: mine.session_id.clone(),
        pane_id: mine.pane_id.clone(),
    });
    sup.on_poll(poll(vec![mine, on_gpu1("ccl-0", 1)], None), 1_000);
    let job = sup.kill_on(Some("gpu1"), "ccl-0", 1_000);
    assert_eq!(job.host.as_deref(), Some("gpu1"));
    let crate::jobs::OpKind::Kill(Target::Session(id)) = &job.kind else {
        panic!("{job:?}")
    };
    assert_eq!(id, "$1@gpu1");
    assert!(sup.memory.slot("ccl-0").unwrap().in_flight.is_none());
    sup.executed(
        vec![OpResult {
            job,
            outcome: Ok(Done::Killed),
        }],
        1_100,
    );
    let m = sup.memory.slot("ccl-0").unwrap();
    assert_eq!(m.pane.as_ref().map(|p| p.pane_id.as_str()), Some("%1"));
    assert!(
        sup.memory
            .events
            .iter()
            .any(|e| e.text == "killed ccl-0 on gpu1 (by the operator)")
    );
}

#[test]
fn a_host_read_late_or_again_is_no_news_and_its_outage_no_crash() {
    let mut cfg =
        Config::parse_with_home(SPLIT, "split", std::path::Path::new("/home/op")).unwrap();
    cfg.notify.command = vec!["true".into()];
    let mut sup = crate::controller::Supervisor::without_memory(cfg);
    // The first poll does not reach gpu1 (a cold connection); the second does, and a slot
    // there is dead: what it was before is not known, so no notice and no crash.
    sup.on_poll(poll(Vec::new(), Some("no answer within 2 s")), 1_000);
    let dead = crate::fixtures::dead(on_gpu1("ccl-auto-11", 1), 1);
    let working = crate::fixtures::running(on_gpu1("ccl-auto-12", 2), "claude");
    sup.on_poll(poll(vec![dead.clone(), working.clone()], None), 2_000);
    assert!(sup.outbox.take().is_empty());
    // Working, then the host is gone a while, then back without that slot: not a crash
    // while working (the supervisor did not see it end).
    let mut working_now = working.clone();
    working_now.window_activity = 3;
    sup.on_poll(poll(vec![dead.clone(), working_now], None), 3_000);
    let i = sup.layout.slot("ccl-auto-12").unwrap();
    sup.on_poll(poll(Vec::new(), Some("ssh: Connection refused")), 4_000);
    sup.on_poll(poll(vec![dead], None), 5_000);
    assert_ne!(sup.last.as_ref().unwrap().slots[i].state, State::Failed);
    let m = sup.memory.slot("ccl-auto-12").unwrap();
    assert!(m.failed.is_none(), "{:?}", m.failed);
    assert!(sup.outbox.take().iter().all(|n| n.slot != "ccl-auto-12"));
}

#[test]
fn each_host_is_a_metric_up_or_down() {
    let mut sup = split();
    let mut m = crate::runner::Metrics::new();
    sup.on_poll(poll(Vec::new(), None), 1_000);
    m.polled(&sup, 2, std::time::Duration::from_millis(20), 1_000);
    assert!(
        m.render(1_000)
            .contains("tmux_supervisor_host_up{host=\"gpu1\"} 1")
    );
    sup.on_poll(poll(Vec::new(), Some("ssh: down")), 2_000);
    m.polled(&sup, 2, std::time::Duration::from_millis(20), 2_000);
    assert!(
        m.render(2_000)
            .contains("tmux_supervisor_host_up{host=\"gpu1\"} 0")
    );
}

#[test]
fn a_new_tmux_server_on_another_host_is_said_and_its_old_captures_dropped() {
    let mut sup = split();
    let old = on_gpu1("ccl-auto-11", 1);
    let mut r = poll(vec![old.clone()], None);
    r.captures.insert(old.pane_id.clone(), "old text".into());
    sup.on_poll(r, 1_000);
    assert_eq!(sup.capture_of("%1@gpu1"), Some("old text"));
    let mut new = old;
    new.server_pid = 200;
    sup.on_poll(poll(vec![new], None), 2_000);
    assert!(
        sup.memory
            .events
            .iter()
            .any(|e| e.text == "host gpu1: the tmux server changed (pid 100 → 200)")
    );
    assert_eq!(sup.capture_of("%1@gpu1"), None);
    sup.on_poll(poll(Vec::new(), None), 3_000);
    assert!(
        sup.memory
            .events
            .iter()
            .any(|e| e.text == "host gpu1: the tmux server is gone: no sessions")
    );
}
