//! Tests of agent conditions and of what the operator is told, in the controller: a hung
//! agent interrupted then respawned, a limited one left alone, notices once per transition,
//! and a capture taken within the second of its output read again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::agent_tests::{NOW, YAML, agent_pane, command_of, flag_after, started, sup};
use super::*;
use crate::config::Config;
use crate::fixtures::{dead, polled, state_of as state};
use crate::jobs::OpKind;
use crate::observe::State;

#[test]
fn a_hung_agent_is_interrupted_then_respawned_with_its_conversation() {
    let yaml = format!("agent: {{hung_after: 10s, on_hung: restart}}\n{YAML}");
    let cfg = Config::parse_with_home(&yaml, "t", std::path::Path::new("/h")).unwrap();
    let mut sup = Supervisor::without_memory(cfg);
    let jobs = started(&mut sup);
    let id = flag_after(&command_of(&jobs[0]), "--session-id")
        .unwrap()
        .to_string();
    // A stalled stream: the spinner's seconds count on, nothing else.
    let poll_at = |sup: &mut Supervisor, s: i64| {
        let t = NOW + s * 1000;
        let mut p = agent_pane("cc-1", 1);
        p.window_activity = t / 1000;
        let text = format!("✢ Dilly-dallying… ({s}s · ↓ 0 tokens)\n  esc to interrupt");
        sup.on_poll(polled(vec![p, agent_pane("cc-2", 2)], &[("%1", &text)]), t);
        t
    };
    for s in 1..=10 {
        poll_at(&mut sup, s);
        assert_eq!(state(&sup, "cc-1").0, State::Working, "at {s}s");
        assert!(sup.reconcile(NOW + s * 1000).is_empty());
    }
    let t = poll_at(&mut sup, 11);
    assert_eq!(
        state(&sup, "cc-1"),
        (State::Hung, "no progress for 10s".into())
    );
    let jobs = sup.reconcile(t);
    assert!(matches!(&jobs[..], [j] if matches!(&j.kind, OpKind::Interrupt(p) if p == "%1")));
    // Within the grace: nothing more, even once the Esc ended the turn.
    let t = poll_at(&mut sup, 12);
    assert!(sup.reconcile(t).is_empty());
    let idle = NOW + 15_000;
    sup.on_poll(
        polled(
            vec![agent_pane("cc-1", 1), agent_pane("cc-2", 2)],
            &[("%1", "  ⎿  Interrupted · What should Claude do instead?")],
        ),
        idle,
    );
    assert_ne!(state(&sup, "cc-1").0, State::Hung);
    let t = idle;
    let jobs = sup.reconcile(t);
    let [job] = &jobs[..] else { panic!("{jobs:?}") };
    assert!(matches!(&job.kind, OpKind::Respawn { pane_id, .. } if pane_id == "%1"));
    assert_eq!(flag_after(&command_of(job), "--resume"), Some(id.as_str()));
    let said: Vec<&str> = sup.memory.events.iter().map(|e| e.text.as_str()).collect();
    assert!(
        said.iter()
            .any(|e| e.contains("is hung (no progress for 10s): interrupting it (Esc)")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|e| e.contains("4s after the interrupt, respawning it with its conversation")),
        "{said:?}"
    );
}

#[test]
fn a_limited_slot_is_not_restarted_even_dead() {
    let mut sup = sup();
    started(&mut sup);
    let text = "❯ go\n  ⎿  You've hit your session limit · resets 11:59pm (UTC)\n";
    let p = dead(agent_pane("cc-1", 1), 1);
    let mut poll = polled(vec![p], &[("%1", text)]);
    // The capture was taken while it was alive.
    sup.on_poll(
        polled(vec![agent_pane("cc-1", 1)], &[("%1", text)]),
        NOW + 1000,
    );
    poll.captures.clear();
    sup.agents.tz = std::sync::OnceLock::from(jiff::tz::TimeZone::UTC);
    sup.on_poll(poll, NOW + 2000);
    let (s, why) = state(&sup, "cc-1");
    assert_eq!(s, State::Limited, "{why}");
    assert!(
        why.contains("agent gone; not restarted before the reset"),
        "{why}"
    );
    assert!(sup.reconcile(NOW + 2000).iter().all(|j| j.name != "cc-1"));
}

#[test]
fn notices_come_once_per_transition_never_per_poll_and_not_at_start_up() {
    let mut sup = sup();
    let waiting = |t: Millis| {
        let mut p = agent_pane("cc-1", 1);
        p.window_activity = t / 1000 - 60;
        polled(
            vec![p, agent_pane("cc-2", 2)],
            &[("%1", "Do you want to proceed?")],
        )
    };
    // Waiting at the first poll: already so at start-up, not news.
    sup.on_poll(waiting(NOW), NOW);
    assert!(sup.outbox.take().is_empty());
    // Idle, then waiting: one notice, then 30 quiet polls say nothing more.
    sup.on_poll(
        polled(vec![agent_pane("cc-1", 1)], &[("%1", "❯ ")]),
        NOW + 1000,
    );
    sup.on_poll(waiting(NOW + 2000), NOW + 2000);
    let n = sup.outbox.take();
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!((n[0].slot.as_str(), n[0].state), ("cc-1", State::Waiting));
    for i in 0..30 {
        let t = NOW + 3000 + i * 1000;
        sup.on_poll(waiting(t), t);
        assert!(sup.outbox.take().is_empty(), "poll {i}");
    }
}

#[test]
fn a_pane_captured_within_the_second_of_its_output_is_read_once_more() {
    let mut sup = sup();
    started(&mut sup);
    let t = NOW + 10_500;
    let mut p = agent_pane("cc-1", 1);
    p.window_activity = t / 1000;
    sup.on_poll(
        polled(
            vec![p.clone()],
            &[("%1", "✻ Whirlpooling… (0s · ↓ 3 tokens)")],
        ),
        t,
    );
    // Within that second the prompt may have been drawn: read again at the next poll.
    assert_ne!(sup.poll_job().last_read.get("%1"), Some(&p.window_activity));
    sup.on_poll(
        polled(vec![p.clone()], &[("%1", "Do you want to proceed?")]),
        t + 1000,
    );
    assert_eq!(sup.poll_job().last_read.get("%1"), Some(&p.window_activity));
    assert_eq!(sup.capture_of("%1"), Some("Do you want to proceed?"));
}
