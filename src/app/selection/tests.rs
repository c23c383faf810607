//! Tests of the selection model on the mixed production state: order, filter, others, what
//! each entry is, and the concerns a recreate or a kill asks about.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::app::sample;

#[test]
fn pools_then_strays_then_others_when_shown() {
    let app = sample::app();
    let sup = &app.sup;
    let shown = Selection::new(&sup.layout, sup.last.as_ref(), "", false);
    let pools: Vec<(&str, usize)> = shown
        .pools
        .iter()
        .map(|(g, m)| (sup.layout.groups[*g].name.as_str(), m.len()))
        .collect();
    assert_eq!(pools, vec![("manual", 10), ("auto", 10)]);
    let strays: Vec<&str> = shown.strays.iter().map(|e| e.name).collect();
    assert_eq!(strays, vec!["ccl-auto0", "ccl-12"]);
    assert!(shown.others.is_empty());
    let names = shown.names();
    assert_eq!(names.len(), 22);
    assert_eq!((names[0].as_str(), names[21].as_str()), ("ccl-0", "ccl-12"));
    let with_others = Selection::new(&sup.layout, sup.last.as_ref(), "", true);
    assert_eq!(with_others.names().last().map(String::as_str), Some("main"));
    assert_eq!(with_others.names().len(), 23);
}

#[test]
fn the_filter_leaves_out_empty_pools_and_ignores_case() {
    let app = sample::app();
    let sup = &app.sup;
    let shown = Selection::new(&sup.layout, sup.last.as_ref(), "AUTO", true);
    assert_eq!(shown.pools.len(), 1);
    assert_eq!(sup.layout.groups[shown.pools[0].0].name, "auto");
    assert_eq!(shown.strays.len(), 1);
    assert!(shown.others.is_empty());
    assert!(shown.find("ccl-0").is_none());
    assert!(shown.find("ccl-auto0").is_some());
    let none = Selection::new(&sup.layout, sup.last.as_ref(), "zzz", true);
    assert_eq!(none.entries().count(), 0);
}

#[test]
fn each_entry_says_what_it_is_its_state_and_whether_it_is_live() {
    let app = sample::app();
    let sup = &app.sup;
    let shown = Selection::new(&sup.layout, sup.last.as_ref(), "", true);
    let e = |n: &str| *shown.find(n).unwrap();
    let working = e("ccl-auto-12");
    assert_eq!(
        working.kind,
        Kind::Slot(sup.layout.slot("ccl-auto-12").unwrap())
    );
    assert_eq!(working.state, Some(State::Working));
    assert!(working.live());
    assert_eq!(working.pane.unwrap().pane_id, "%12");
    let missing = e("ccl-auto-14");
    assert_eq!(missing.state, Some(State::Missing));
    assert!(!missing.live());
    let stray = e("ccl-auto0");
    assert_eq!(stray.kind, Kind::Stray { pool: "auto" });
    assert_eq!(stray.state, None);
    assert!(stray.live());
    let other = e("main");
    assert_eq!(
        (other.kind, other.state, other.live()),
        (Kind::Other, None, true)
    );
    // Before the first poll: every slot, nothing known about it.
    let before = Selection::new(&sup.layout, None, "", true);
    assert_eq!(before.entries().count(), 20);
    assert!(before.entries().all(|e| e.state.is_none() && !e.live()));
}

#[test]
fn concerns_of_a_recreate() {
    let app = sample::app();
    let (layout, obs) = (&app.sup.layout, app.sup.last.as_ref());
    let of = |n: &str| recreate_concerns(layout, obs, layout.slot(n).unwrap());
    assert_eq!(of("ccl-auto-18"), vec![]);
    assert_eq!(of("ccl-auto-12"), vec![Concern::Busy(State::Working)]);
    assert_eq!(of("ccl-auto-13"), vec![Concern::Busy(State::Waiting)]);
    assert_eq!(
        of("ccl-1"),
        vec![
            Concern::Busy(State::Working),
            Concern::OperatorOwned {
                pool: "manual".into()
            }
        ]
    );
    let mut cfg = app.sup.config.clone();
    cfg.pools[1].min = 4;
    let above = crate::pool::Layout::new(&cfg);
    let i = above.slot("ccl-auto-18").unwrap();
    assert_eq!(recreate_concerns(&above, obs, i), vec![Concern::AboveMin]);
}

#[test]
fn concerns_of_a_kill() {
    let app = sample::app();
    let sup = &app.sup;
    let shown = Selection::new(&sup.layout, sup.last.as_ref(), "", true);
    let of = |n: &str| kill_concerns(&sup.layout, shown.find(n).unwrap());
    assert_eq!(of("ccl-auto-18"), vec![Concern::KeptAlive]);
    assert_eq!(
        of("ccl-auto-12"),
        vec![Concern::KeptAlive, Concern::Busy(State::Working)]
    );
    assert_eq!(of("ccl-1"), vec![Concern::Busy(State::Working)]);
    assert_eq!(of("ccl-0"), vec![]);
    assert_eq!(
        of("ccl-auto0"),
        vec![Concern::Stray {
            pool: "auto".into()
        }]
    );
    assert_eq!(of("main"), vec![]);
}

#[test]
fn concerns_in_words() {
    let words: Vec<String> = [
        Concern::Busy(State::Waiting),
        Concern::OperatorOwned {
            pool: "manual".into(),
        },
        Concern::AboveMin,
        Concern::KeptAlive,
        Concern::Stray {
            pool: "auto".into(),
        },
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        words,
        vec![
            "it is waiting",
            "pool manual is operator-owned (restart: never)",
            "it is not kept alive (above min)",
            "it is kept alive: reconcile will create it again",
            "stray of pool auto",
        ]
    );
}

#[test]
fn a_selection_is_kept_while_shown_and_moves_inside_the_list() {
    let app = sample::app();
    let sup = &app.sup;
    let shown = Selection::new(&sup.layout, sup.last.as_ref(), "auto-1", false);
    assert_eq!(
        shown.kept(Some("ccl-auto-13")).as_deref(),
        Some("ccl-auto-13")
    );
    assert_eq!(shown.kept(Some("ccl-0")).as_deref(), Some("ccl-auto-11"));
    assert_eq!(shown.kept(None).as_deref(), Some("ccl-auto-11"));
    let down = |at: Option<&str>| shown.moved(at, |i, _| i + 1);
    assert_eq!(down(Some("ccl-auto-11")).as_deref(), Some("ccl-auto-12"));
    assert_eq!(down(Some("ccl-auto-19")).as_deref(), Some("ccl-auto-19"));
    assert_eq!(down(Some("ccl-0")).as_deref(), Some("ccl-auto-12"));
    assert_eq!(shown.moved(None, |_, n| n).as_deref(), Some("ccl-auto-19"));
    let none = Selection::new(&sup.layout, sup.last.as_ref(), "zzz", true);
    assert_eq!(none.kept(Some("ccl-0")), None);
    assert_eq!(none.moved(Some("ccl-0"), |i, _| i + 1), None);
}
