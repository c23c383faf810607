//! Tests of the `check` audit: what is a problem, the exit status, and the same "up" as the UI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::fixtures::{dead, pane, production};
use crate::observe::{ExternalStatus, observe};
use crate::tmux::Snapshot;
use std::collections::HashMap;

#[test]
fn full_auto_pool_and_no_strays_is_ok() {
    let (cfg, layout) = production();
    let panes = (11..=20)
        .map(|i| pane(&format!("ccl-auto-{i}"), i))
        .chain([pane("ccl-3", 1), pane("main", 2)])
        .collect();
    let snap = Snapshot {
        panes,
        rejected: vec![],
        hosts: Vec::new(),
    };
    let obs = observe(
        &layout,
        &cfg.agent,
        &snap,
        &HashMap::new(),
        &ExternalStatus::new(),
        &crate::memory::Memory::default(),
        0,
    );
    let r = report(&layout, &obs, &Memory::default(), "default");
    assert!(r.ok, "{:?}", r.problems);
    assert_eq!(r.exit_code(), 0);
    assert_eq!(r.others, vec!["main"]);
}

#[test]
fn dead_missing_and_stray_are_problems() {
    let (cfg, layout) = production();
    let panes = (12..=20)
        .map(|i| pane(&format!("ccl-auto-{i}"), i))
        .chain([dead(pane("ccl-auto-11", 1), 3), pane("ccl-auto0", 2)])
        .collect();
    let snap = Snapshot {
        panes,
        rejected: vec![],
        hosts: Vec::new(),
    };
    let obs = observe(
        &layout,
        &cfg.agent,
        &snap,
        &HashMap::new(),
        &ExternalStatus::new(),
        &crate::memory::Memory::default(),
        0,
    );
    let r = report(&layout, &obs, &Memory::default(), "default");
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["slots"][10]["state"], "failed");
    assert_eq!(json["slots"][10]["reason"], "pane dead, exit 3");
    assert_eq!(json["strays"][0]["pool"], "auto");
}

/// A slot that crashed while working is failed though its pane is alive: not "up", in
/// `check` as in the UI's pool header.
#[test]
fn a_failed_slot_with_a_live_pane_is_not_up_in_check_or_the_ui() {
    let mut app = crate::app::sample::app();
    let name = "ccl-auto-11";
    let m = app.sup.memory.slot_mut(name);
    m.failed = Some("crashed while working".into());
    m.failed_session = Some("$11".into());
    app.sup
        .on_poll(crate::app::sample::poll(), crate::app::sample::NOW + 1000);
    let obs = app.sup.last.clone().unwrap();
    let i = app.sup.layout.slot(name).unwrap();
    assert_eq!(obs.slots[i].state, crate::observe::State::Failed);
    assert!(obs.slots[i].pane.as_ref().is_some_and(|p| !p.pane_dead));
    let auto = app
        .sup
        .layout
        .groups
        .iter()
        .find(|g| g.name == "auto")
        .unwrap();
    let up = obs.up(&auto.slots);
    let header = crate::ui::rows::rows(&app, crate::app::sample::NOW + 1000)
        .into_iter()
        .find_map(|r| match r {
            crate::ui::rows::Row::Group(g) if g.name == "auto" => Some(g.up),
            _ => None,
        })
        .unwrap();
    let report = report(&app.sup.layout, &obs, &app.sup.memory, "default");
    let text = report.to_text(&app.sup.layout, crate::app::sample::NOW / 1000, &obs);
    assert!(
        text.contains(&format!("restart: always  {up}/10 up")),
        "{text}"
    );
    assert_eq!(header, up);
    // ccl-auto-11 (failed) is counted in neither.
    let alive = obs
        .slots
        .iter()
        .filter(|s| auto.slots.contains(&s.slot))
        .filter(|s| s.pane.as_ref().is_some_and(|p| !p.pane_dead))
        .count();
    assert!(up < alive, "up {up}, alive panes {alive}");
}

#[test]
fn text_a_pane_set_reaches_the_terminal_without_its_escape_sequences() {
    assert_eq!(
        super::printable("cl\u{1b}[31mRED\u{7}"),
        "cl\\u{1b}[31mRED\\u{7}"
    );
    assert_eq!(super::printable("claude"), "claude");
}
