//! The real binary's terminal UI in a real terminal: it runs in a pane of a private tmux server
//! and supervises pools on that server; keys go in with `send-keys`, the screen is read with
//! `capture-pane`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::process::Home;
use common::{PRODUCTION_FAST, TestServer};

const WAIT: Duration = Duration::from_secs(15);

/// The supervisor's UI running in the `supervisor` session's pane.
struct Ui<'a> {
    server: &'a TestServer,
    log: std::path::PathBuf,
}

impl<'a> Ui<'a> {
    /// Starts the UI from the pane's shell, so that quitting returns to that shell.
    fn start(server: &'a TestServer, home: &Home, config: &Path) -> Self {
        Self::start_on(server, server, home, config)
    }

    /// The UI in a pane of `server`, supervising `target` (which may be another server).
    fn start_on(server: &'a TestServer, target: &TestServer, home: &Home, config: &Path) -> Self {
        server.tmux_ok(&[
            "new-session",
            "-d",
            "-s",
            "supervisor",
            "-x",
            "120",
            "-y",
            "40",
        ]);
        let line = format!(
            "env -u TMUX_SUPERVISOR_CONFIG HOME={h} XDG_STATE_HOME={h}/state XDG_CONFIG_HOME={h}/config {bin} -L {sock} -c {cfg} --log-file {h}/ui.log -v",
            h = home.path().display(),
            bin = env!("CARGO_BIN_EXE_tmux-supervisor"),
            sock = target.socket,
            cfg = config.display(),
        );
        server.tmux_ok(&["send-keys", "-t", "=supervisor:", "-l", &line]);
        server.tmux_ok(&["send-keys", "-t", "=supervisor:", "Enter"]);
        Ui {
            server,
            log: home.path().join("ui.log"),
        }
    }

    fn screen(&self) -> String {
        self.server
            .tmux_ok(&["capture-pane", "-p", "-t", "=supervisor:"])
    }

    fn pane(&self, format: &str) -> String {
        self.server
            .tmux_ok(&["display-message", "-p", "-t", "=supervisor:", format])
            .trim()
            .to_string()
    }

    /// Sends tmux key names (`Enter`, `Escape`, `j`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "=supervisor:"];
        args.extend(keys);
        self.server.tmux_ok(&args);
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        self.server
            .tmux_ok(&["send-keys", "-t", "=supervisor:", "-l", text]);
    }

    /// Escape clears the kept filter. Waits until the screen shows it cleared: followed at
    /// once by another key, the UI would read Escape as Alt+key.
    fn clear_filter(&self) {
        self.keys(&["Escape"]);
        self.wait_for("the filter cleared", |s| {
            !s.contains("(Esc clears)") && s.lines().filter(|l| is_row(l)).count() > 1
        });
    }

    fn wait_for(&self, what: &str, mut f: impl FnMut(&str) -> bool) {
        let mut last = String::new();
        let found = (0..300).any(|_| {
            last = self.screen();
            if f(&last) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
            false
        });
        assert!(found, "the screen never showed {what}:\n{last}");
    }

    /// Waits for a condition on the server, showing the screen if it never holds.
    fn until(&self, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + WAIT;
        while !f() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting until {what}; the screen:\n{}\nlog:\n{}",
                self.screen(),
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log.as_path()).unwrap_or_default();
        log.lines()
            .filter(|l| !l.contains("state changed") && !l.contains("event=\"created\""))
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until the row of `name` shows `state`.
    fn wait_row(&self, name: &str, state: &str) {
        self.wait_for(&format!("{name} {state}"), |s| {
            s.lines()
                .any(|l| is_row(l) && l.contains(&format!(" {name} ")) && l.contains(state))
        });
    }

    /// Narrows the table to `name` (and selects it).
    fn filter(&self, name: &str) {
        self.keys(&["/"]);
        self.type_text(name);
        self.keys(&["Enter"]);
        self.wait_for(&format!("only the row of {name}"), |s| {
            let rows: Vec<&str> = s.lines().filter(|l| is_row(l)).collect();
            rows.len() == 1 && rows[0].contains(&format!(" {name} "))
        });
    }
}

impl Drop for Ui<'_> {
    /// Quits a UI still running before the servers go: with push it would at once bring back
    /// a server it supervises that the test's end kills (it sees every session die), and that
    /// server would outlive the test.
    fn drop(&mut self) {
        let running = || {
            let out = self.server.tmux(&[
                "display-message",
                "-p",
                "-t",
                "=supervisor:",
                "#{pane_current_command}",
            ]);
            String::from_utf8_lossy(&out.stdout).contains("tmux-supervisor")
        };
        if !running() {
            return;
        }
        let _ = self.server.tmux(&["send-keys", "-t", "=supervisor:", "q"]);
        let deadline = std::time::Instant::now() + WAIT;
        while running() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A session row of the table: a state mark, then the name.
fn is_row(line: &str) -> bool {
    let t = line.trim_start();
    ['●', '○', '◌', '◆'].iter().any(|m| t.starts_with(*m)) && t.contains("ccl-")
}

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
