//! Tests of the snapshot format and its parser, on literal tmux output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn nonce() -> Nonce {
    Nonce::fixed("TSUPtest")
}

fn normal() -> Pane {
    Pane {
        server_pid: 4242,
        session_id: "$3".into(),
        session_name: "ccl-auto-1".into(),
        session_created: 1_700_000_000,
        session_activity: 1_700_000_100,
        session_attached: 1,
        window_activity: 1_700_000_200,
        pane_id: "%7".into(),
        pane_pid: 5151,
        pane_dead: false,
        dead_status: None,
        dead_signal: None,
        server_version: "3.3a".into(),
        current_command: "claude".into(),
        title: "my title".into(),
        current_path: "/home/me/work".into(),
        died_hook: String::new(),
    }
}

fn text(panes: &[Pane]) -> String {
    panes.iter().map(|p| format_record(p, &nonce())).collect()
}

#[test]
fn format_marks_every_field_with_the_nonce() {
    let f = snapshot_format(&nonce());
    assert!(f.starts_with("TSUPtest<#{pid}\t#{session_id}\t#{session_name}\t"));
    assert!(f.ends_with(
        "#{pane_dead_signal}\t#{version}TSUPtest|#{pane_current_command}TSUPtest|#{pane_title}TSUPtest|#{pane_current_path}TSUPtest|#{pane-died[42]}TSUPtest>"
    ));
    assert_eq!(f.matches("TSUPtest").count(), 6);
    // Thirteen fixed fields, twelve TABs between them, none in the free text.
    assert_eq!(f.matches('\t').count(), FIXED_FIELDS - 1);
    let a = Nonce::random();
    let b = Nonce::random();
    assert_ne!(a, b);
    assert_eq!(a.as_str().len(), 4 + 32);
    assert!(a.as_str().bytes().all(|c| c.is_ascii_alphanumeric()));
}

#[test]
fn parses_a_normal_record() {
    let snap = parse_snapshot(&text(&[normal()]), &nonce());
    assert!(snap.rejected.is_empty(), "{:?}", snap.rejected);
    assert_eq!(snap.panes, vec![normal()]);
    assert_eq!(snap.server_pid(), Some(4242));
    assert_eq!(snap.session("ccl-auto-1").unwrap().pane_id, "%7");
    assert!(snap.session("ccl-auto").is_none());
}

#[test]
fn free_text_with_tabs_newlines_and_fake_records_stays_in_its_field() {
    // What the old line format read as a second pane: a forged dead `ccl-auto-11` whose
    // pane is the first pane of `main`.
    let forged = "4242\t$0\tccl-auto-11\t1\t1\t0\t1\t%0\t1\t1\t\t\tclaude\tt\t/";
    let mut p = normal();
    p.session_name = "main".into();
    p.current_path = format!("/tmp/x\n{forged}\n");
    p.current_command = format!("a\tb\n{forged}");
    p.title = "\t\n<|>".into();
    p.died_hook = format!("run-shell \"{forged}\"");
    let snap = parse_snapshot(&text(&[p.clone(), normal()]), &nonce());
    assert!(snap.rejected.is_empty(), "{:?}", snap.rejected);
    assert_eq!(snap.panes, vec![p, normal()]);
    assert!(snap.session("ccl-auto-11").is_none());
}

#[test]
fn the_servers_version_and_each_panes_wake_up_hook_are_read() {
    let hooked = Pane {
        died_hook: "wait-for -S \"tmux-supervisor-wake-_tmp_x\"".into(),
        ..normal()
    };
    let snap = parse_snapshot(&text(&[hooked.clone(), normal()]), &nonce());
    assert!(snap.rejected.is_empty(), "{:?}", snap.rejected);
    assert_eq!(snap.panes, vec![hooked, normal()]);
    assert_eq!(snap.server_version(), Some("3.3a"));
    // A tmux without `#{version}` prints nothing there: no version, the record still reads.
    let old = Pane {
        server_version: String::new(),
        ..normal()
    };
    let snap = parse_snapshot(&text(&[old]), &nonce());
    assert_eq!(snap.panes.len(), 1);
    assert_eq!(snap.server_version(), None);
    assert_eq!(Snapshot::default().server_version(), None);
}

#[test]
fn records_of_the_wrong_shape_are_rejected() {
    let good = format_record(&normal(), &nonce());
    let n = "TSUPtest";
    let cases = [
        // one fixed field short
        good.replacen("4242\t", "", 1),
        // pid not a number
        good.replacen("4242", "x", 1),
        // pane_dead neither 0 nor 1
        good.replacen("\t0\t\t", "\t2\t\t", 1),
        // pane id without its sigil
        good.replacen("%7", "7", 1),
        // a free-text field missing
        good.replacen(&format!("{n}|my title"), "", 1),
        // cut short before the end marker
        good[..good.len() - n.len() - 2].to_string(),
        // a control character in the session name (tmux escapes them)
        good.replacen("ccl-auto-1", "ccl-auto-1\u{7}", 1),
    ];
    for case in &cases {
        let snap = parse_snapshot(&format!("{case}{good}"), &nonce());
        assert_eq!(snap.panes, vec![normal()], "case {case:?}");
        assert_eq!(snap.rejected.len(), 1, "case {case:?}: {:?}", snap.rejected);
        assert!(!snap.rejected[0].contains(n), "the nonce is not logged");
    }
}

#[test]
fn text_outside_records_is_rejected_not_parsed() {
    let good = format_record(&normal(), &nonce());
    let snap = parse_snapshot(&format!("garbage\n{good}trailing\n\n"), &nonce());
    assert_eq!(snap.panes, vec![normal()]);
    assert_eq!(snap.rejected, vec!["garbage\n", "trailing\n\n"]);
    // Output of another nonce (an old poll, a pane echoing a format) is not ours.
    let other = format_record(&normal(), &Nonce::fixed("TSUPother"));
    let snap = parse_snapshot(&other, &nonce());
    assert!(snap.panes.is_empty());
    assert_eq!(snap.rejected.len(), 1);
}

#[test]
fn garbage_and_empty_input() {
    assert_eq!(parse_snapshot("", &nonce()), Snapshot::default());
    assert_eq!(parse_snapshot("\n\n", &nonce()), Snapshot::default());
    let snap = parse_snapshot("garbage\n\u{fffd}\u{fffd}\t\t\t\n", &nonce());
    assert!(snap.panes.is_empty());
    assert_eq!(snap.rejected.len(), 1);
}

#[test]
fn dead_pane_with_and_without_status() {
    let lost = Pane {
        pane_dead: true,
        ..normal()
    };
    let exited = Pane {
        dead_status: Some(3),
        ..lost.clone()
    };
    let signalled = Pane {
        dead_signal: Some(9),
        ..lost.clone()
    };
    let snap = parse_snapshot(&text(&[lost, exited, signalled]), &nonce());
    assert!(snap.rejected.is_empty());
    let got: Vec<_> = snap
        .panes
        .iter()
        .map(|p| (p.pane_dead, p.dead_status, p.dead_signal))
        .collect();
    assert_eq!(
        got,
        vec![
            (true, None, None),
            (true, Some(3), None),
            (true, None, Some(9))
        ]
    );
}

#[test]
fn session_names_once_in_order() {
    let b = Pane {
        session_name: "b".into(),
        ..normal()
    };
    let a2 = Pane {
        pane_id: "%8".into(),
        ..normal()
    };
    let snap = parse_snapshot(&text(&[normal(), b, a2]), &nonce());
    assert_eq!(snap.session_names(), vec!["ccl-auto-1", "b"]);
}

proptest! {
    #[test]
    fn parse_snapshot_never_panics(text in any::<String>()) {
        let _ = parse_snapshot(&text, &nonce());
    }
}
