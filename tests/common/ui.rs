//! The real binary's terminal UI in a pane of a private tmux server (the `supervisor`
//! session): started, read with `capture-pane`, driven with `send-keys`, quit on drop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use super::TestServer;
use super::process::Home;

/// How long a screen or a server may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(15);

/// The supervisor's UI running in the `supervisor` session's pane.
pub struct Ui<'a> {
    pub server: &'a TestServer,
    pub log: std::path::PathBuf,
}

impl<'a> Ui<'a> {
    /// Starts the UI from the pane's shell, so that quitting returns to that shell.
    pub fn start(server: &'a TestServer, home: &Home, config: &Path) -> Self {
        Self::start_on(server, server, home, config)
    }

    /// The UI in a pane of `server`, supervising `target` (which may be another server).
    pub fn start_on(
        server: &'a TestServer,
        target: &TestServer,
        home: &Home,
        config: &Path,
    ) -> Self {
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

    pub fn screen(&self) -> String {
        self.server
            .tmux_ok(&["capture-pane", "-p", "-t", "=supervisor:"])
    }

    pub fn pane(&self, format: &str) -> String {
        self.server
            .tmux_ok(&["display-message", "-p", "-t", "=supervisor:", format])
            .trim()
            .to_string()
    }

    /// Sends tmux key names (`Enter`, `Escape`, `j`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "=supervisor:"];
        args.extend(keys);
        self.server.tmux_ok(&args);
    }

    /// Types text literally.
    pub fn type_text(&self, text: &str) {
        self.server
            .tmux_ok(&["send-keys", "-t", "=supervisor:", "-l", text]);
    }

    /// Escape clears the kept filter. Waits until the screen shows it cleared: followed at
    /// once by another key, the UI would read Escape as Alt+key.
    pub fn clear_filter(&self) {
        self.keys(&["Escape"]);
        self.wait_for("the filter cleared", |s| {
            !s.contains("(Esc clears)") && s.lines().filter(|l| is_row(l)).count() > 1
        });
    }

    pub fn wait_for(&self, what: &str, mut f: impl FnMut(&str) -> bool) {
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
    pub fn until(&self, what: &str, mut f: impl FnMut() -> bool) {
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

    pub fn log_tail(&self) -> String {
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
    pub fn wait_row(&self, name: &str, state: &str) {
        self.wait_for(&format!("{name} {state}"), |s| {
            s.lines()
                .any(|l| is_row(l) && l.contains(&format!(" {name} ")) && l.contains(state))
        });
    }

    /// Narrows the table to `name` (and selects it).
    pub fn filter(&self, name: &str) {
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
pub fn is_row(line: &str) -> bool {
    let t = line.trim_start();
    ['●', '○', '◌', '◆'].iter().any(|m| t.starts_with(*m)) && t.contains("ccl-")
}
