//! The real binary's terminal UI in a real terminal: it runs in a pane of a private tmux server
//! and supervises pools on that server; keys go in with `send-keys`, the screen is read with
//! `capture-pane`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::process::Home;
use common::ui::Ui;
use common::{PRODUCTION_FAST, TestServer};

fn pane_pid(server: &TestServer, name: &str) -> String {
    server.display(name, "#{pane_pid}")
}

fn has(server: &TestServer, name: &str) -> bool {
    server.session_names().iter().any(|n| n == name)
}

#[test]
fn the_ui_supervises_recreates_kills_pauses_resizes_and_quits() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    server.new_session("ccl-auto0");
    let ui = Ui::start(&server, &home, &config);
    ui.wait_for("ccl-0 and ccl-auto-20", |s| {
        s.contains("ccl-0") && s.contains("ccl-auto-20")
    });
    assert_eq!(
        ui.pane("#{alternate_on}"),
        "1",
        "the UI is not on the alternate screen"
    );
    ui.until("the auto pool exists", || {
        (11..=20).all(|i| has(&server, &format!("ccl-auto-{i}")))
    });
    ui.wait_for("the stray", |s| {
        s.contains("ccl-auto0") && s.contains("stray")
    });

    // Filter to ccl-auto-12, r, y: that pane is restarted (a new pane pid).
    ui.wait_row("ccl-auto-12", "idle");
    ui.filter("ccl-auto-12");
    let before = pane_pid(&server, "ccl-auto-12");
    ui.keys(&["r"]);
    ui.keys(&["y"]);
    ui.until("ccl-auto-12 has a new pane pid", || {
        pane_pid(&server, "ccl-auto-12") != before
    });
    ui.clear_filter();

    // x then y on a stray: it is gone, and nothing else is.
    ui.filter("ccl-auto0");
    ui.keys(&["x"]);
    ui.wait_for("the kill confirmation", |s| {
        s.contains("ccl-auto0") && s.contains("kill")
    });
    ui.keys(&["y"]);
    ui.until("the stray is gone", || !has(&server, "ccl-auto0"));
    assert!((11..=20).all(|i| has(&server, &format!("ccl-auto-{i}"))));
    ui.clear_filter();

    // p: PAUSED, and a killed auto session stays missing until p again. The witness: the
    // UI's own word in its log that a reconcile planned the create and did not act on it.
    ui.keys(&["p"]);
    ui.wait_for("PAUSED", |s| s.contains("PAUSED"));
    server.tmux_ok(&["kill-session", "-t", "=ccl-auto-14:"]);
    ui.wait_for("ccl-auto-14 missing", |s| {
        s.lines()
            .any(|l| l.contains("ccl-auto-14") && l.contains("missing"))
    });
    ui.until("the paused UI declines to create ccl-auto-14", || {
        std::fs::read_to_string(&ui.log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("not acting on the plan:") && l.contains("create ccl-auto-14"))
    });
    assert!(!has(&server, "ccl-auto-14"), "recreated while paused");
    ui.keys(&["p"]);
    ui.wait_for("PAUSED gone", |s| !s.contains("PAUSED"));
    ui.until("ccl-auto-14 is back after resuming", || {
        has(&server, "ccl-auto-14")
    });

    // A tiny terminal says so; back to a normal size, the table returns.
    server.tmux_ok(&[
        "resize-window",
        "-t",
        "=supervisor:",
        "-x",
        "40",
        "-y",
        "10",
    ]);
    ui.wait_for("too small", |s| s.to_lowercase().contains("too small"));
    server.tmux_ok(&[
        "resize-window",
        "-t",
        "=supervisor:",
        "-x",
        "120",
        "-y",
        "40",
    ]);
    ui.wait_for("the table again", |s| {
        s.contains("ccl-auto-20") && !s.to_lowercase().contains("too small")
    });

    // q: back at the shell, on the normal screen, cursor visible.
    ui.keys(&["q"]);
    ui.until("the UI left the alternate screen", || {
        ui.pane("#{alternate_on}") == "0"
    });
    ui.until("the pane is back at its shell", || {
        ui.pane("#{pane_current_command}") != "tmux-supervisor"
    });
    assert_eq!(ui.pane("#{cursor_flag}"), "1", "cursor hidden after quit");
    let screen = ui.screen();
    assert!(
        !screen.contains("ccl-auto-20"),
        "UI text left on the normal screen:\n{screen}"
    );
    // Sessions keep running after the UI quits.
    assert!((11..=20).all(|i| has(&server, &format!("ccl-auto-{i}"))));
}

#[test]
fn enter_moves_an_attached_client_to_the_chosen_session() {
    let server = TestServer::new();
    let outer = TestServer::new();
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    let ui = Ui::start(&server, &home, &config);
    ui.wait_for("ccl-auto-20", |s| s.contains("ccl-auto-20"));
    ui.until("the auto pool exists", || has(&server, "ccl-auto-13"));

    // A real client: `tmux -L S attach` running in a pane of a second private server.
    outer.tmux_ok(&["new-session", "-d", "-s", "outer", "-x", "130", "-y", "45"]);
    let attach = format!(
        "env -u TMUX tmux -L {} -f /dev/null attach -t =supervisor:",
        server.socket
    );
    outer.tmux_ok(&["send-keys", "-t", "=outer:", "-l", &attach]);
    outer.tmux_ok(&["send-keys", "-t", "=outer:", "Enter"]);
    let clients = || {
        server
            .tmux_ok(&["list-clients", "-F", "#{client_session}"])
            .trim()
            .to_string()
    };
    ui.until("a client is attached to the supervisor", || {
        clients() == "supervisor"
    });

    ui.wait_row("ccl-auto-13", "idle");
    ui.filter("ccl-auto-13");
    ui.keys(&["Enter"]);
    ui.until("the client moved to ccl-auto-13", || {
        clients() == "ccl-auto-13"
    });
}

#[test]
fn supervision_goes_on_while_attached_in_the_foreground() {
    // The UI runs on its own terminal server and supervises another: Enter attaches in the
    // foreground (the UI steps aside) instead of switching a client.
    let term = TestServer::new();
    let target = TestServer::new();
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    let ui = Ui::start_on(&term, &target, &home, &config);
    ui.wait_row("ccl-auto-13", "idle");
    ui.filter("ccl-auto-13");
    target.tmux_ok(&[
        "send-keys",
        "-t",
        "=ccl-auto-13:",
        "-l",
        "echo ATTACHED-HERE",
    ]);
    target.tmux_ok(&["send-keys", "-t", "=ccl-auto-13:", "Enter"]);
    ui.keys(&["Enter"]);
    ui.wait_for("the attached session", |s| {
        s.contains("ATTACHED-HERE") && !s.contains("ccl-auto-20")
    });
    ui.until("a client is attached to ccl-auto-13", || {
        target
            .tmux_ok(&["list-clients", "-F", "#{client_session}"])
            .trim()
            == "ccl-auto-13"
    });

    // While attached, a killed auto session still comes back.
    target.tmux_ok(&["kill-session", "-t", "=ccl-auto-15:"]);
    ui.until("ccl-auto-15 is back while the operator is attached", || {
        has(&target, "ccl-auto-15")
    });

    // Detach (prefix d): the UI comes back.
    ui.keys(&["C-b", "d"]);
    ui.wait_for("the table again", |s| {
        s.contains("ccl-auto-13") && s.contains("filter")
    });
    assert_eq!(ui.pane("#{alternate_on}"), "1");
}
