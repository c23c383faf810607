//! `update()` tests: movement, key presses only, pause, the views, the filter, quitting and the
//! poll/reconcile bookkeeping, on the mixed production state at a fixed clock (the operator's
//! ops and their questions are in `ops/tests.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::sample::{self, NOW};
use super::*;
use crate::jobs::OpResult;

fn press(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Msg {
    press(KeyCode::Char(c))
}

fn ctrl_c() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
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

fn names(app: &App) -> Vec<String> {
    app.selection().names()
}

#[test]
fn moving_skips_headers_and_stops_at_the_ends() {
    let mut app = sample::app();
    assert_eq!(app.selected.as_deref(), Some("ccl-0"));
    update(&mut app, ch('k'), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-0"));
    update(&mut app, ch('j'), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-1"));
    update(&mut app, press(KeyCode::Down), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-2"));
    update(&mut app, press(KeyCode::Up), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-1"));
    // ccl-9 is followed by the auto header: the next row is the first auto slot.
    app.selected = Some("ccl-9".to_string());
    update(&mut app, ch('j'), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-auto-11"));
    update(&mut app, ch('G'), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-12"));
    update(&mut app, ch('j'), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-12"));
    update(&mut app, ch('g'), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-0"));
    update(&mut app, press(KeyCode::PageDown), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-auto-11"));
    update(&mut app, press(KeyCode::PageDown), NOW);
    update(&mut app, press(KeyCode::PageDown), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-12"));
    update(&mut app, press(KeyCode::PageUp), NOW);
    assert_eq!(app.selected.as_deref(), Some("ccl-auto-12"));
}

#[test]
fn only_key_presses_count() {
    let mut app = sample::app();
    let mut release = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    let fx = update(&mut app, Msg::Key(release), NOW);
    assert!(fx.is_empty());
    assert_eq!(app.selected.as_deref(), Some("ccl-0"));
    let mut repeat = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    repeat.kind = KeyEventKind::Repeat;
    update(&mut app, Msg::Key(repeat), NOW);
    assert!(!app.should_quit);
}

#[test]
fn pause_toggles_the_mode() {
    let mut app = sample::app();
    update(&mut app, ch('p'), NOW);
    assert!(app.sup.mode.paused);
    assert!(!app.sup.mode.acts());
    // Paused: a reconcile tick plans but executes nothing.
    let fx = update(&mut app, Msg::ReconcileTick, NOW);
    assert!(jobs(&fx).is_empty());
    update(&mut app, ch('p'), NOW);
    assert!(!app.sup.mode.paused);
    let fx = update(&mut app, Msg::ReconcileTick, NOW);
    let j = jobs(&fx);
    assert_eq!(j.len(), 1, "the dead ccl-auto-16 is respawned");
    assert_eq!(j[0].name, "ccl-auto-16");
}

#[test]
fn view_panel_others_and_help_toggle() {
    let mut app = sample::app();
    update(&mut app, press(KeyCode::Tab), NOW);
    assert_eq!(app.view, View::Audit);
    update(&mut app, ch('v'), NOW);
    assert_eq!(app.view, View::Table);
    update(&mut app, ch('l'), NOW);
    assert_eq!(app.panel, Panel::Log);
    update(&mut app, ch('l'), NOW);
    assert_eq!(app.panel, Panel::Preview);
    assert!(!names(&app).contains(&"main".to_string()));
    update(&mut app, ch('o'), NOW);
    assert!(names(&app).contains(&"main".to_string()));
    update(&mut app, ch('?'), NOW);
    assert!(app.help);
    // Any key closes the help and does nothing else.
    update(&mut app, ch('q'), NOW);
    assert!(!app.help);
    assert!(!app.should_quit);
}

#[test]
fn filter_narrows_keeps_and_clears() {
    let mut app = sample::app();
    let all = names(&app).len();
    update(&mut app, ch('/'), NOW);
    assert!(app.filtering);
    for c in "auto-1".chars() {
        update(&mut app, ch(c), NOW);
    }
    let shown = names(&app);
    assert_eq!(shown.len(), 9, "{shown:?}");
    assert!(shown.iter().all(|n| n.contains("auto-1")));
    // The selection follows into what is shown.
    assert_eq!(app.selected.as_deref(), Some("ccl-auto-11"));
    update(&mut app, press(KeyCode::Backspace), NOW);
    assert_eq!(app.filter, "auto-");
    update(&mut app, ch('1'), NOW);
    // Keys typed into the filter are not commands.
    update(&mut app, ch('q'), NOW);
    assert!(!app.should_quit);
    assert_eq!(app.filter, "auto-1q");
    update(&mut app, press(KeyCode::Backspace), NOW);
    update(&mut app, press(KeyCode::Enter), NOW);
    assert!(!app.filtering);
    assert_eq!(app.filter, "auto-1");
    assert_eq!(names(&app).len(), 9);
    // Esc clears a kept filter.
    update(&mut app, press(KeyCode::Esc), NOW);
    assert_eq!(app.filter, "");
    assert_eq!(names(&app).len(), all);
    // Esc while typing clears too.
    update(&mut app, ch('/'), NOW);
    update(&mut app, ch('x'), NOW);
    update(&mut app, press(KeyCode::Esc), NOW);
    assert!(!app.filtering);
    assert_eq!(names(&app).len(), all);
}

#[test]
fn quit_with_q_and_ctrl_c_from_anywhere() {
    let mut app = sample::app();
    let fx = update(&mut app, ch('q'), NOW);
    assert!(app.should_quit);
    assert!(fx.iter().any(|e| matches!(e, Effect::Quit)));
    let mut app = at("ccl-auto-12");
    update(&mut app, ch('r'), NOW);
    assert!(app.confirm.is_some());
    update(&mut app, ctrl_c(), NOW);
    assert!(app.should_quit);
    let mut app = sample::app();
    update(&mut app, ch('/'), NOW);
    let fx = update(&mut app, ctrl_c(), NOW);
    assert!(fx.iter().any(|e| matches!(e, Effect::Quit)));
}

#[test]
fn one_poll_in_flight_and_results_are_saved() {
    let mut app = sample::app();
    let fx = update(&mut app, Msg::PollTick, NOW);
    assert!(matches!(fx.as_slice(), [Effect::Poll(_)]));
    assert!(app.polling());
    let fx = update(&mut app, Msg::PollTick, NOW);
    assert!(fx.is_empty());
    let fx = update(&mut app, Msg::Polled(Box::new(sample::poll())), NOW + 1_000);
    assert!(!app.polling());
    assert!(fx.iter().any(|e| matches!(e, Effect::Save)));
    // The poll shows a supervised slot dead: reconcile runs at once (like the daemon).
    let j = jobs(&fx);
    assert!(j.iter().any(|j| j.name == "ccl-auto-16"), "{j:?}");
    // While those ops run, neither a tick nor a poll reconciles again.
    let fx = update(&mut app, Msg::ReconcileTick, NOW + 2_000);
    assert!(jobs(&fx).is_empty());
    let fx = update(&mut app, Msg::Polled(Box::new(sample::poll())), NOW + 2_000);
    assert!(jobs(&fx).is_empty());
    let done: Vec<OpResult> = failed_kill(&mut app, "ccl-auto-16");
    let fx = update(&mut app, Msg::Executed(done), NOW + 3_000);
    assert!(fx.iter().any(|e| matches!(e, Effect::PollSoon)));
    assert!(fx.iter().any(|e| matches!(e, Effect::Save)));
}

/// A failed kill of `name`, as the executor would report it.
fn failed_kill(app: &mut App, name: &str) -> Vec<OpResult> {
    let job = app.sup.kill(name, 0);
    vec![OpResult {
        job,
        outcome: Err(crate::tmux::TmuxError::BadOutput("boom".to_string()).into()),
    }]
}

#[test]
fn failed_ops_show_briefly() {
    let mut app = sample::app();
    let results = failed_kill(&mut app, "ccl-auto0");
    update(&mut app, Msg::Executed(results), NOW);
    let s = app.status.clone().unwrap();
    assert!(s.error);
    assert!(s.text.contains("boom"));
    update(&mut app, Msg::Tick, NOW + 1_000);
    assert!(app.status.is_some());
    update(&mut app, Msg::Tick, NOW + STATUS_MS);
    assert!(app.status.is_none());
}
