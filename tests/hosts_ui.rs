//! The terminal UI with pools on other hosts, in a real terminal (a pane of a private tmux
//! server) against real sshd servers: each host under its own header; Enter on another host's
//! slot opens `ssh -t HOST tmux attach-session` in a new window of the UI's own session, and
//! that host's tmux sees the client; a host whose sshd stops is shown unreachable, its slots
//! greyed with their last state, and `r` on one of them is refused with why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::TestServer;
use common::hosts::{Host, config, pool};
use common::process::Home;
use common::sshd::sshd_or_skip;

const WAIT: Duration = Duration::from_secs(30);

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
    term.tmux_ok(&[
        "new-session",
        "-d",
        "-s",
        "supervisor",
        "-x",
        "130",
        "-y",
        "40",
    ]);
    let line = format!(
        "env -u TMUX_SUPERVISOR_CONFIG HOME={h} XDG_STATE_HOME={h}/state XDG_CONFIG_HOME={h}/config {bin} -L {sock} -c {cfg} --log-file {h}/ui.log",
        h = home.path().display(),
        bin = env!("CARGO_BIN_EXE_tmux-supervisor"),
        sock = here.socket,
        cfg = cfg.display(),
    );
    term.tmux_ok(&["send-keys", "-t", "=supervisor:", "-l", &line]);
    term.tmux_ok(&["send-keys", "-t", "=supervisor:", "Enter"]);
    let screen = || term.tmux_ok(&["capture-pane", "-p", "-t", "=supervisor:0"]);
    term.wait_until("both hosts' slots are up on screen", WAIT, || {
        let s = screen();
        s.contains("hosts 2/2 up")
            && s.lines().any(|l| l.contains("wa-1") && l.contains("idle"))
            && s.lines().any(|l| l.contains("wb-0") && l.contains("idle"))
    });
    let s = screen();
    let at = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle}:\n{s}"));
    // No pool here and no session: no header for this machine.
    assert!(!s.contains("this machine"), "{s}");
    assert!(at("▌a  ") < at("wa-0"), "{s}");
    assert!(at("wa-1") < at("▌b  ") && at("▌b  ") < at("wb-0"), "{s}");

    // Enter on wa-1: a new window of the UI's session, attached to it on host a.
    term.tmux_ok(&["send-keys", "-t", "=supervisor:0", "/"]);
    term.tmux_ok(&["send-keys", "-t", "=supervisor:0", "-l", "wa-1"]);
    term.tmux_ok(&["send-keys", "-t", "=supervisor:0", "Enter"]);
    term.wait_until("wa-1 is selected", WAIT, || {
        screen().contains("preview wa-1")
    });
    term.tmux_ok(&["send-keys", "-t", "=supervisor:0", "Enter"]);
    term.wait_until("host a's tmux has a client on wa-1", WAIT, || {
        a.tmux
            .tmux(&["list-clients", "-F", "#{client_session}"])
            .stdout
            .starts_with(b"wa-1")
    });
    let windows = term.tmux_ok(&["list-windows", "-t", "=supervisor:", "-F", "#{window_name}"]);
    assert!(windows.lines().any(|w| w == "wa-1@a"), "{windows}");
    term.tmux_ok(&["kill-window", "-t", "=supervisor:1"]);
    term.wait_until("the attach client is gone", WAIT, || {
        a.tmux
            .tmux(&["list-clients", "-F", "#{client_session}"])
            .stdout
            .is_empty()
    });

    // Host a's sshd is gone: unreachable, its slots greyed with their last state.
    a.sshd.stop();
    term.wait_until("host a is shown unreachable", WAIT, || {
        let s = screen();
        s.contains("hosts 1/2 up") && s.contains("UNREACHABLE")
    });
    let s = screen();
    let row = s
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == "wa-1"))
        .unwrap();
    assert!(row.contains('·') && row.contains("idle"), "{row}");
    assert!(row.contains("host unreachable, as of"), "{row}");
    // r on it (the filter kept it selected): refused, with why.
    term.tmux_ok(&["send-keys", "-t", "=supervisor:0", "r"]);
    term.wait_until("r is refused", WAIT, || {
        screen().contains("host a is unreachable")
    });
    term.tmux_ok(&["send-keys", "-t", "=supervisor:0", "q"]);
    term.wait_until("the UI quit", WAIT, || {
        !screen().contains("tmux-supervisor  server")
    });
}
