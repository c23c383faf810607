//! What tmux's answers to the commands mean: the tail of a capture, the ids a new session
//! prints and the text after a marker, with what a remote shell may print before them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn last_lines_drops_blank_tail() {
    assert_eq!(last_lines("a\nb\nc\n\n  \n\n", 2), "b\nc\n");
    assert_eq!(last_lines("a\n", 5), "a\n");
    assert_eq!(last_lines("\n\n", 5), "");
}

#[test]
fn new_ids_are_found_after_whatever_a_remote_shell_printed() {
    let ids = |s: &str| new_ids_in(s).map(|(p, s, i)| (p, s.to_string(), i.to_string()));
    let want = Some((4242, "$3".to_string(), "%7".to_string()));
    assert_eq!(ids("tmux-supervisor-new:4242\t$3\t%7\n"), want);
    // A banner on its own lines, or glued to the ids (printed without a newline).
    assert_eq!(
        ids("Welcome\n1\t$0\t%0\ntmux-supervisor-new:4242\t$3\t%7\n"),
        want
    );
    assert_eq!(ids("Port 22tmux-supervisor-new:4242\t$3\t%7\r\n"), want);
    assert_eq!(ids("4242\t$3\t%7\n"), None);
    assert_eq!(ids("tmux-supervisor-new:x\t$3\t%7\n"), None);
    assert_eq!(ids("tmux-supervisor-new:1\t$3\t%7\textra\n"), None);
}

#[test]
fn the_text_after_a_marker_leaves_what_came_before_it_out() {
    assert_eq!(after_marker("@@m@@\npane\n", "@@m@@"), Some("pane\n"));
    assert_eq!(
        after_marker("Welcome@@m@@\npane\n", "@@m@@"),
        Some("pane\n")
    );
    assert_eq!(
        after_marker("motd\n@@m@@\r\npane\n", "@@m@@"),
        Some("pane\n")
    );
    assert_eq!(after_marker("no marker", "@@m@@"), None);
}
