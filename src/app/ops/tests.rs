//! Tests of the operator's ops through `update()`: which ones ask, what the question says,
//! what `y` sends, and what observe-only and dry-run refuse, on the mixed production state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::sample::{self, NOW};
use crate::app::{App, Effect, Msg, Pending, update};
use crate::jobs::{OpJob, OpKind};
use crate::tmux::Target;

fn press(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Msg {
    press(KeyCode::Char(c))
}

fn at(name: &str) -> App {
    let mut app = sample::app();
    app.selected = Some(name.to_string());
    app
}

fn jobs(fx: &[Effect]) -> Vec<&OpJob> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Execute(j) => Some(j),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn recreate_of_an_idle_supervised_slot_acts_at_once() {
    let mut app = at("ccl-auto-18");
    let fx = update(&mut app, ch('r'), NOW);
    assert!(app.confirm.is_none());
    let j = jobs(&fx);
    assert_eq!(j.len(), 1);
    assert_eq!(j[0].name, "ccl-auto-18");
    assert!(j[0].manual);
    assert!(matches!(&j[0].kind, OpKind::Respawn { pane_id, .. } if pane_id == "%18"));
    let m = app.sup.memory.slot("ccl-auto-18").unwrap();
    assert!(m.in_flight.is_some());
}

#[test]
fn recreate_of_a_working_slot_asks_and_only_y_acts() {
    for cancel in [ch('n'), press(KeyCode::Esc)] {
        let mut app = at("ccl-auto-12");
        let fx = update(&mut app, ch('r'), NOW);
        assert!(jobs(&fx).is_empty());
        let c = app.confirm.clone().unwrap();
        assert_eq!(
            c.pending,
            Pending::Recreate(vec!["ccl-auto-12".to_string()])
        );
        assert!(
            c.detail.iter().any(|d| d == "it is working"),
            "{:?}",
            c.detail
        );
        // Other keys leave the question open and do nothing.
        let fx = update(&mut app, ch('j'), NOW);
        assert!(jobs(&fx).is_empty());
        assert!(app.confirm.is_some());
        assert_eq!(app.selected.as_deref(), Some("ccl-auto-12"));
        let fx = update(&mut app, cancel, NOW);
        assert!(jobs(&fx).is_empty());
        assert!(app.confirm.is_none());
        assert!(
            app.sup
                .memory
                .slot("ccl-auto-12")
                .is_none_or(|m| m.in_flight.is_none())
        );
    }
    let mut app = at("ccl-auto-12");
    update(&mut app, ch('r'), NOW);
    let fx = update(&mut app, ch('y'), NOW);
    let j = jobs(&fx);
    assert_eq!(j.len(), 1);
    assert!(matches!(&j[0].kind, OpKind::Respawn { pane_id, .. } if pane_id == "%12"));
    assert!(app.confirm.is_none());
}

#[test]
fn recreate_of_a_waiting_slot_asks() {
    let mut app = at("ccl-auto-13");
    let fx = update(&mut app, ch('r'), NOW);
    assert!(jobs(&fx).is_empty());
    assert!(
        app.confirm
            .as_ref()
            .unwrap()
            .detail
            .contains(&"it is waiting".to_string())
    );
}

#[test]
fn recreate_of_a_manual_slot_asks_then_creates() {
    let mut app = at("ccl-5");
    let fx = update(&mut app, ch('r'), NOW);
    assert!(jobs(&fx).is_empty());
    let c = app.confirm.clone().unwrap();
    assert_eq!(c.question, "Create ccl-5?");
    assert!(c.detail[0].contains("restart: never"));
    let fx = update(&mut app, ch('y'), NOW);
    let j = jobs(&fx);
    assert_eq!(j.len(), 1);
    assert!(matches!(&j[0].kind, OpKind::Create(l) if l.name == "ccl-5"));
    // An idle manual slot asks too.
    let mut app = at("ccl-0");
    update(&mut app, ch('r'), NOW);
    assert!(app.confirm.is_some());
}

#[test]
fn recreate_refuses_strays_and_slots_with_an_op_in_flight() {
    let mut app = at("ccl-auto0");
    let fx = update(&mut app, ch('r'), NOW);
    assert!(jobs(&fx).is_empty());
    assert!(app.confirm.is_none());
    assert!(app.status.as_ref().unwrap().error);
    // ccl-auto-15 has a create in flight: nothing is sent twice.
    let mut app = at("ccl-auto-15");
    let fx = update(&mut app, ch('r'), NOW);
    assert!(jobs(&fx).is_empty());
    assert!(app.status.as_ref().unwrap().text.contains("in flight"));
}

#[test]
fn recreate_pool_always_asks_and_skips_slots_in_flight() {
    let mut app = at("ccl-auto-18");
    let fx = update(&mut app, ch('R'), NOW);
    assert!(jobs(&fx).is_empty());
    let c = app.confirm.clone().unwrap();
    assert_eq!(c.question, "Recreate all 10 slots of pool auto?");
    assert!(c.detail.contains(&"ccl-auto-12: is working".to_string()));
    assert!(c.detail.contains(&"ccl-auto-13: is waiting".to_string()));
    let fx = update(&mut app, ch('y'), NOW);
    let j = jobs(&fx);
    assert_eq!(j.len(), 9);
    assert!(j.iter().all(|j| j.name != "ccl-auto-15"));
    assert!(j.iter().all(|j| j.name.starts_with("ccl-auto-")));
}

#[test]
fn recreate_pool_with_min_below_max_lists_only_busy_slots() {
    // The slots above min are "not kept alive": that is no reason to list each of them.
    let (mut cfg, _) = crate::fixtures::production();
    cfg.pools[1].min = 4;
    let sup = crate::controller::Supervisor::without_memory(cfg);
    let mut app = App::new(sup, "default", false);
    let mut poll = sample::poll();
    poll.snapshot.panes.retain(|p| {
        ["ccl-auto-12", "ccl-auto-13", "ccl-auto-18"].contains(&p.session_name.as_str())
    });
    app.sup.on_poll(poll, NOW);
    app.selected = Some("ccl-auto-18".to_string());
    update(&mut app, ch('R'), NOW);
    let c = app.confirm.clone().unwrap();
    assert_eq!(c.question, "Recreate all 10 slots of pool auto?");
    assert_eq!(
        c.detail,
        vec!["ccl-auto-12: is working", "ccl-auto-13: is waiting"],
        "{c:?}"
    );
}

#[test]
fn kill_always_asks_and_targets_the_session_id() {
    let mut app = at("ccl-auto0");
    let fx = update(&mut app, ch('x'), NOW);
    assert!(jobs(&fx).is_empty());
    let c = app.confirm.clone().unwrap();
    assert_eq!(c.pending, Pending::Kill(None, "ccl-auto0".to_string()));
    let fx = update(&mut app, press(KeyCode::Esc), NOW);
    assert!(jobs(&fx).is_empty());
    update(&mut app, ch('x'), NOW);
    let fx = update(&mut app, ch('y'), NOW);
    let j = jobs(&fx);
    assert_eq!(j.len(), 1);
    assert!(matches!(&j[0].kind, OpKind::Kill(Target::Session(id)) if id == "$30"));
    // An idle slot asks too, and says reconcile brings it back.
    let mut app = at("ccl-auto-18");
    update(&mut app, ch('x'), NOW);
    assert!(app.confirm.as_ref().unwrap().detail[0].contains("create it again"));
    // Nothing to kill in a missing slot.
    let mut app = at("ccl-auto-14");
    update(&mut app, ch('x'), NOW);
    assert!(app.confirm.is_none());
}

#[test]
fn observe_only_and_dry_run_refuse_operator_ops() {
    for set in [
        |a: &mut App| a.sup.mode.observe_only = true,
        |a: &mut App| a.sup.mode.dry_run = true,
    ] {
        let mut app = at("ccl-auto-18");
        set(&mut app);
        let fx = update(&mut app, ch('r'), NOW);
        assert!(jobs(&fx).is_empty());
        assert!(app.confirm.is_none());
        update(&mut app, ch('x'), NOW);
        assert!(app.confirm.is_none());
        assert!(app.status.as_ref().unwrap().error);
    }
}

#[test]
fn attach_suspends_or_switches() {
    let mut app = at("ccl-auto-12");
    let fx = update(&mut app, press(KeyCode::Enter), NOW);
    assert!(
        fx.iter().any(
            |e| matches!(e, Effect::Attach { name, switch: false, .. } if name == "ccl-auto-12")
        )
    );
    let mut app = at("ccl-auto-12");
    app.switch_client = true;
    let fx = update(&mut app, ch('a'), NOW);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Attach { switch: true, .. }))
    );
    assert!(app.status.as_ref().unwrap().text.contains("prefix L"));
    // Nothing to attach to in a missing slot.
    let mut app = at("ccl-auto-14");
    let fx = update(&mut app, press(KeyCode::Enter), NOW);
    assert!(!fx.iter().any(|e| matches!(e, Effect::Attach { .. })));
    let fx = update(&mut app, Msg::AttachFailed("no server".into()), NOW);
    assert!(fx.iter().any(|e| matches!(e, Effect::Redraw)));
    assert!(app.status.as_ref().unwrap().text.contains("no server"));
}

/// An app over one Claude Code slot `cc-1` whose agent runs conversation `ID`.
fn agent_app() -> App {
    const YAML: &str = "pools:\n  - {name: a, prefix: \"cc-\", start_index: 1, max: 1, restart: always, workdir: /nonexistent, agent: claude}\n";
    let cfg =
        crate::config::Config::parse_with_home(YAML, "t", std::path::Path::new("/h")).unwrap();
    let mut sup = crate::controller::Supervisor::without_memory(cfg);
    sup.memory.slot_mut("cc-1").agent = Some(crate::memory::AgentSession {
        id: ID.to_string(),
        resumed: false,
        started_at: Some(NOW - 600_000),
        transcript: None,
    });
    let p = crate::fixtures::running(crate::fixtures::pane("cc-1", 1), "claude");
    sup.on_poll(crate::fixtures::polled(vec![p], &[]), NOW);
    let mut app = App::new(sup, "default", false);
    app.selected = Some("cc-1".to_string());
    app
}

const ID: &str = "1a2b3c4d-0000-4000-8000-000000000001";

fn flag<'a>(job: &'a OpJob, name: &str) -> Option<&'a str> {
    let OpKind::Respawn { launch, .. } = &job.kind else {
        return None;
    };
    let i = launch.command.iter().position(|a| a == name)?;
    launch.command.get(i + 1).map(String::as_str)
}

#[test]
fn recreating_an_agent_slot_says_it_resumes_and_offers_a_fresh_start() {
    let mut app = agent_app();
    let fx = update(&mut app, ch('r'), NOW);
    assert!(jobs(&fx).is_empty());
    let c = app.confirm.clone().unwrap();
    assert!(
        c.detail
            .iter()
            .any(|d| d == "resumes conversation 1a2b3c4d"),
        "{:?}",
        c.detail
    );
    assert_eq!(c.instead.as_ref().map(|i| i.0), Some('f'));
    let fx = update(&mut app, ch('y'), NOW);
    assert_eq!(flag(jobs(&fx)[0], "--resume"), Some(ID));

    let mut app = agent_app();
    update(&mut app, ch('r'), NOW);
    let fx = update(&mut app, ch('f'), NOW);
    let j = jobs(&fx);
    assert_eq!(j.len(), 1);
    assert!(flag(j[0], "--resume").is_none());
    assert!(flag(j[0], "--session-id").is_some_and(|id| id != ID));
}
