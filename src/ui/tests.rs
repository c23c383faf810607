//! Snapshot and color tests of every screen, drawn on a `TestBackend` at the fixed `NOW`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use super::draw;
use super::rows::{Row, rows};
use crate::app::sample::{self, NOW};
use crate::app::{App, Msg, Panel, View, update};

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app, NOW)).unwrap();
    t
}

fn line(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect()
}

/// The screen row where `name` is shown as a whole word.
fn row_of(buf: &Buffer, name: &str) -> u16 {
    (0..buf.area.height)
        .find(|&y| line(buf, y).split_whitespace().any(|w| w == name))
        .unwrap_or_else(|| panic!("{name} not on screen"))
}

/// The glyph and color of the first mark cell on `name`'s row.
fn mark_of(buf: &Buffer, name: &str) -> (String, Color) {
    let y = row_of(buf, name);
    (0..buf.area.width)
        .map(|x| &buf[(x, y)])
        .find(|c| ["●", "○", "◌", "◆", "·"].contains(&c.symbol()))
        .map_or_else(
            || panic!("no mark on the row of {name}"),
            |c| (c.symbol().to_string(), c.fg),
        )
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

#[test]
fn table_view_of_the_mixed_production_server() {
    let app = sample::app();
    let t = render(&app, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn every_state_has_its_mark_and_color() {
    let app = sample::app();
    let t = render(&app, 120, 40);
    let buf = t.backend().buffer();
    let expect = [
        ("ccl-0", "●", Color::Green),        // idle (agent quiet)
        ("ccl-1", "●", Color::Green),        // working (pattern)
        ("ccl-auto-17", "●", Color::Green),  // working (recent output)
        ("ccl-auto-13", "●", Color::Yellow), // waiting
        ("ccl-auto-16", "●", Color::Red),    // failed, exit 1
        ("ccl-auto-14", "○", Color::Red),    // missing, backing off
        ("ccl-5", "○", Color::DarkGray),     // absent manual slot
        ("ccl-auto-15", "◌", Color::Yellow), // starting
        ("ccl-auto0", "◆", Color::Magenta),  // stray of auto
        ("ccl-12", "◆", Color::Magenta),     // stray of manual
    ];
    for (name, glyph, color) in expect {
        assert_eq!(mark_of(buf, name), (glyph.to_string(), color), "{name}");
    }
    // The state word carries the same color as the mark.
    let y = row_of(buf, "ccl-auto-16");
    let x = line(buf, y).find("failed").unwrap();
    let x = line(buf, y)[..x].chars().count() as u16;
    assert_eq!(buf[(x, y)].fg, Color::Red);
}

#[test]
fn table_rows_say_what_the_operator_needs() {
    let app = sample::app();
    let rs = rows(&app, NOW);
    let find = |n: &str| {
        rs.iter()
            .filter_map(Row::session)
            .find(|s| s.name == n)
            .unwrap()
            .clone()
    };
    assert_eq!(find("ccl-auto-14").note, "restart in 3s");
    assert!(find("ccl-auto-16").note.contains("exit 1"));
    assert!(find("ccl-auto-11").note.contains("recreated 2m ago"));
    assert!(
        find("ccl-auto-12")
            .note
            .contains("task: fix flaky test #42")
    );
    assert!(find("ccl-auto-15").note.contains("create sent 2s ago"));
    let headers: Vec<String> = rs
        .iter()
        .filter_map(|r| match r {
            Row::Group(g) => Some(g.title()),
            _ => None,
        })
        .collect();
    assert_eq!(
        headers,
        vec![
            "manual  ccl-0..ccl-9  restart: never  2/10 up",
            "auto  ccl-auto-11..ccl-auto-20  restart: always  7/10 up",
        ]
    );
    // The countdown moves with the clock.
    let later = rows(&app, NOW + 2_500);
    let n = later
        .iter()
        .filter_map(Row::session)
        .find(|s| s.name == "ccl-auto-14")
        .unwrap();
    assert_eq!(n.note, "restart in 1s");
    // Others are hidden until toggled.
    assert!(!rs.iter().filter_map(Row::session).any(|s| s.name == "main"));
}

#[test]
fn others_are_shown_when_toggled() {
    let mut app = sample::app();
    update(&mut app, key('o'), NOW);
    update(&mut app, key('G'), NOW);
    assert_eq!(app.selected.as_deref(), Some("main"));
    let t = render(&app, 120, 40);
    let buf = t.backend().buffer();
    assert_eq!(mark_of(buf, "main").1, Color::DarkGray);
}

#[test]
fn audit_view() {
    let mut app = sample::app();
    app.view = View::Audit;
    app.selected = Some("ccl-auto-13".to_string());
    let t = render(&app, 120, 40);
    insta::assert_snapshot!(t.backend());
    let buf = t.backend().buffer();
    // The two pools side by side: ccl-1 and ccl-auto-12 share a screen row.
    let y = row_of(buf, "12");
    assert!(line(buf, y).contains("working"));
    let cells: Vec<(String, Color)> = (0..buf.area.width)
        .map(|x| &buf[(x, y)])
        .filter(|c| ["●", "○", "◌"].contains(&c.symbol()))
        .map(|c| (c.symbol().to_string(), c.fg))
        .collect();
    assert_eq!(
        cells,
        vec![
            ("●".to_string(), Color::Green),
            ("●".to_string(), Color::Green)
        ]
    );
    assert_eq!(mark_of(buf, "ccl-auto0").1, Color::Magenta);
}

#[test]
fn help_overlay() {
    let mut app = sample::app();
    update(&mut app, key('?'), NOW);
    assert!(app.help);
    let t = render(&app, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn confirm_dialog() {
    let mut app = sample::app();
    app.selected = Some("ccl-auto-12".to_string());
    update(&mut app, key('r'), NOW);
    assert!(app.confirm.is_some());
    let t = render(&app, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn active_filter() {
    let mut app = sample::app();
    for c in "/auto-1".chars() {
        update(&mut app, key(c), NOW);
    }
    let t = render(&app, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn event_log() {
    let mut app = sample::app();
    app.panel = Panel::Log;
    let t = render(&app, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn preview_of_a_waiting_session() {
    let mut app = sample::app();
    app.selected = Some("ccl-auto-13".to_string());
    let t = render(&app, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn too_small_terminal() {
    let app = sample::app();
    let t = render(&app, 50, 10);
    insta::assert_snapshot!(t.backend());
    let t = render(&app, 60, 12);
    let buf = t.backend().buffer();
    assert!(!(0..12).any(|y| line(buf, y).contains("too small")));
}

#[test]
fn header_flags_and_poll_error() {
    let mut app = sample::app();
    app.sup.mode.paused = true;
    app.sup.mode.dry_run = true;
    app.sup.mode.observe_only = true;
    app.sup.last_poll_error = Some("no tmux".to_string());
    assert!(!line(render(&app, 120, 40).backend().buffer(), 0).contains("PUSH LIMITED"));
    app.sup
        .push_is_unavailable(NOW, "tmux does not keep the wake-up hook on %1");
    let t = render(&app, 120, 40);
    let buf = t.backend().buffer();
    let head = line(buf, 0);
    for flag in ["PAUSED", "DRY-RUN", "OBSERVE-ONLY", "PUSH LIMITED"] {
        assert!(head.contains(flag), "{flag} in {head}");
    }
    assert!(line(buf, 1).contains("poll failed: no tmux"));
}

#[test]
fn stale_polls_turn_the_poll_age_into_a_warning() {
    let mut app = sample::app();
    let age_style = |app: &App| {
        let t = render(app, 120, 40);
        let buf = t.backend().buffer();
        let x = line(buf, 0).find(" ago").unwrap();
        let x = line(buf, 0)[..x].chars().count() as u16;
        (buf[(x - 1, 0)].fg, line(buf, 0))
    };
    // 1 s polls and 10 s calls: 13 s without a good poll is still fine.
    app.sup.last_poll_at = Some(NOW - 13_000);
    let (fg, head) = age_style(&app);
    assert_eq!(fg, Color::Reset, "{head}");
    assert!(!head.contains("stale"), "{head}");
    // tmux stopped answering: the polls time out, the last good one is a minute old.
    app.sup.last_poll_at = Some(NOW - 60_000);
    app.sup.last_poll_error = Some(
        crate::tmux::TmuxError::TimedOut {
            after: crate::tmux::DEFAULT_TIMEOUT,
        }
        .to_string(),
    );
    let (fg, head) = age_style(&app);
    assert_eq!(fg, Color::Yellow, "{head}");
    insta::assert_snapshot!(render(&app, 120, 40).backend());
    // Never polled, long after the start: stale too.
    app.sup.last_poll_at = None;
    app.started_at = NOW - 60_000;
    let t = render(&app, 120, 40);
    assert!(line(t.backend().buffer(), 0).contains("never (stale)"));
}

#[test]
fn a_plan_from_before_the_last_poll_is_not_shown_for_a_healthy_slot() {
    let mut app = sample::app();
    let note = |app: &App, n: &str| {
        rows(app, NOW)
            .iter()
            .filter_map(Row::session)
            .find(|s| s.name == n)
            .unwrap()
            .note
            .clone()
    };
    assert!(note(&app, "ccl-auto-16").contains("restart due"));
    // The next poll shows ccl-auto-16 alive again; the plan still lists it until the next pass.
    let mut p = sample::poll();
    for pane in &mut p.snapshot.panes {
        if pane.session_name == "ccl-auto-16" {
            pane.pane_dead = false;
            pane.dead_status = None;
            pane.current_command = "bash".to_string();
        }
    }
    app.sup.on_poll(p, NOW + 1_000);
    assert!(!app.sup.last_plan.ops.is_empty());
    assert!(!note(&app, "ccl-auto-16").contains("restart due"));
}

#[test]
fn the_session_rows_are_the_selection_in_order() {
    let session_names = |app: &App| -> Vec<String> {
        rows(app, NOW)
            .into_iter()
            .filter_map(|r| r.session().map(|s| s.name.clone()))
            .collect()
    };
    let mut app = sample::app();
    for (filter, others) in [
        ("", false),
        ("", true),
        ("auto", false),
        ("ccl-1", true),
        ("zzz", true),
    ] {
        app.filter = filter.to_string();
        app.show_others = others;
        let got: Vec<String> = app.selection().names();
        assert_eq!(
            got,
            session_names(&app),
            "filter {filter:?}, others {others}"
        );
    }
    app.filter.clear();
    app.show_others = true;
    let all = app.selection().names();
    assert!(
        all.iter().any(|n| n == "ccl-auto0") && all.iter().any(|n| n == "main"),
        "{all:?}"
    );
}

#[test]
fn limited_is_blue_hung_is_orange_and_the_header_counts_them() {
    const YAML: &str = "agent: {hung_after: 10s}\npools:\n  - {name: agents, prefix: \"cc-\", start_index: 1, max: 2, restart: always, agent: claude}\n";
    let cfg =
        crate::config::Config::parse_with_home(YAML, "t", std::path::Path::new("/h")).unwrap();
    let mut sup = crate::controller::Supervisor::without_memory(cfg);
    sup.agents.tz = std::sync::OnceLock::from(jiff::tz::TimeZone::UTC);
    let limit = "❯ go\n  ⎿  You've hit your session limit · resets 11:59pm (UTC)\n";
    for s in 0..12 {
        let t = NOW + s * 1000;
        let quiet = crate::fixtures::running(crate::fixtures::pane("cc-1", 1), "claude");
        let mut busy = crate::fixtures::running(crate::fixtures::pane("cc-2", 2), "claude");
        busy.window_activity = t / 1000;
        let spinner = format!("✢ Dilly-dallying… ({s}s · ↓ 0 tokens)\n  esc to interrupt");
        let poll = crate::fixtures::polled(vec![quiet, busy], &[("%1", limit), ("%2", &spinner)]);
        sup.on_poll(poll, t);
    }
    let app = App::new(sup, "default", false);
    let t = render(&app, 120, 30);
    let buf = t.backend().buffer();
    assert_eq!(mark_of(buf, "cc-1"), ("●".to_string(), Color::Blue));
    assert_eq!(mark_of(buf, "cc-2"), ("●".to_string(), Color::Indexed(208)));
    let header = line(buf, 1);
    assert!(
        header.contains("limited 1") && header.contains("hung 1"),
        "{header}"
    );
}
