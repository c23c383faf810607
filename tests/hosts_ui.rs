//! The terminal UI with pools on other hosts, in a real terminal (a pane of a private tmux
//! server, `tests/common/ui.rs`) against real sshd servers: each host under its own header;
//! Enter on another host's slot opens `ssh -t HOST tmux attach-session` in a new window of the
//! UI's own session, and that host's tmux sees the client; a host whose sshd stops is shown
//! unreachable, its slots greyed with their last state, and `r` on one of them is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use common::hosts::{Host, config, pool};
use common::process::Home;
use common::sshd::sshd_or_skip;
use common::ui::Ui;

/// The clients attached to host a's tmux server, by session.
fn clients(a: &Host) -> String {
    let out = a.tmux.tmux(&["list-clients", "-F", "#{client_session}"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_ui_groups_by_host_attaches_over_ssh_and_greys_a_host_that_is_gone() {
    if !sshd_or_skip("the_ui_groups_by_host_attaches_over_ssh_and_greys_a_host_that_is_gone") {
        return;
    }
    let (mut a, b) = (Host::start("a"), Host::start("b"));
    let here = TestServer::new();
    let term = TestServer::new();
    let home = Home::new();
    let cfg = home.config(&config(
        &a,
        &b,
        &[
            &pool("on-a", "wa-", 2, Some("a")),
            &pool("on-b", "wb-", 1, Some("b")),
        ],
    ));
    let ui = Ui::start_on(&term, &here, &home, &cfg);
    ui.wait_for("both hosts' slots up", |s| {
        s.contains("hosts 2/2 up")
            && s.lines().any(|l| l.contains("wa-1") && l.contains("idle"))
            && s.lines().any(|l| l.contains("wb-0") && l.contains("idle"))
    });
    let s = ui.screen();
    let at = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle}:\n{s}"));
    // No pool here and no session: no header for this machine.
    assert!(!s.contains("this machine"), "{s}");
    assert!(at("▌a  ") < at("wa-0"), "{s}");
    assert!(at("wa-1") < at("▌b  ") && at("▌b  ") < at("wb-0"), "{s}");

    // Enter on wa-1: a new window of the UI's session, attached to it on host a.
    ui.keys(&["/"]);
    ui.type_text("wa-1");
    ui.keys(&["Enter"]);
    ui.wait_for("wa-1 selected", |s| s.contains("preview wa-1"));
    ui.keys(&["Enter"]);
    ui.until("host a's tmux has a client on wa-1", || {
        clients(&a).starts_with("wa-1")
    });
    let windows = term.tmux_ok(&["list-windows", "-t", "=supervisor:", "-F", "#{window_name}"]);
    assert!(windows.lines().any(|w| w == "wa-1@a"), "{windows}");
    // Closed, the UI's window is the current one again (the screen and keys go to it).
    term.tmux_ok(&["kill-window", "-t", "=supervisor:1"]);
    ui.until("the attach client is gone", || clients(&a).is_empty());

    // Host a's sshd is gone: unreachable, its slots greyed with their last state.
    a.sshd.stop();
    ui.wait_for("host a unreachable", |s| {
        s.contains("hosts 1/2 up") && s.contains("UNREACHABLE")
    });
    let s = ui.screen();
    let row = s
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == "wa-1"))
        .unwrap();
    assert!(row.contains('·') && row.contains("idle"), "{row}");
    assert!(row.contains("host unreachable, as of"), "{row}");
    // r on it (the filter kept it selected): refused, with why.
    ui.keys(&["r"]);
    ui.wait_for("r refused", |s| s.contains("host a is unreachable"));
}
