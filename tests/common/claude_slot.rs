//! A supervised Claude Code slot for end-to-end tests: a private tmux server, the mock, a
//! seeded client HOME and working directory, and the real daemon keeping slot `cc-0` alive
//! with the real client in it; ways to drive it (`send-keys`) and to wait for what
//! `check --json` says. Everything is stopped and removed on drop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::claude_client::{Auth, ClaudeHome, argv};
use crate::claude_mock::{Mock, MockOptions, Request};
use crate::common::TestServer;
use crate::common::process::{Daemon, Home, PATIENCE, signal};

/// The one slot of the pool: prefix `cc-`, index 0.
pub const SLOT: &str = "cc-0";

/// How a slot is set up.
#[derive(Debug, Clone)]
pub struct SlotOptions {
    pub auth: Auth,
    pub mock: MockOptions,
    /// More environment for the client (e.g. `TZ`).
    pub env: Vec<(String, String)>,
    /// More keys of the pool (YAML lines, indented as under `- name: claude`), e.g.
    /// `agent: claude`.
    pub pool_yaml: String,
    /// More top-level sections of the config (YAML lines), e.g. an `agent:` section.
    pub config_yaml: String,
    /// tmux's `focus-events` on the server. Off (tmux's default) makes the client print a hint
    /// under its footer about 10 s after it starts, and take it away about 9 s later.
    pub focus_events: bool,
}

impl Default for SlotOptions {
    fn default() -> Self {
        SlotOptions {
            auth: Auth::ApiKey,
            mock: MockOptions::default(),
            env: Vec::new(),
            pool_yaml: String::new(),
            config_yaml: String::new(),
            focus_events: true,
        }
    }
}

/// The config: one pool `claude` of one slot kept alive (`restart: always`), running the
/// client in `dir` with `env`, polled fast; `pool` and `rest` as in [`SlotOptions`].
pub fn slot_config(
    dir: &Path,
    command: &[String],
    env: &BTreeMap<String, String>,
    pool: &str,
    rest: &str,
) -> String {
    let pool = pool.lines().fold(String::new(), |mut out, l| {
        out.push_str("    ");
        out.push_str(l);
        out.push('\n');
        out
    });
    format!(
        "poll_interval: 250ms\n\
         reconcile_interval: 1s\n\
         pools:\n  \
           - name: claude\n    \
             prefix: \"cc-\"\n    \
             max: 1\n    \
             restart: always\n    \
             workdir: {}\n    \
             command: {}\n    \
             env: {}\n\
         {pool}{rest}",
        json!(dir.display().to_string()),
        json!(command),
        json!(env),
    )
}

/// A supervised slot running the real client against the mock. Fields drop in order: the
/// daemon first (so nothing is recreated), then the tmux server, the mock, the directories.
pub struct ClaudeSlot {
    daemon: Daemon,
    pub server: TestServer,
    pub mock: Mock,
    pub home: Home,
    pub claude: ClaudeHome,
    workdir: tempfile::TempDir,
    /// The slot's working directory (canonical: the client trusts it by that name).
    pub dir: PathBuf,
    pub config: PathBuf,
}

impl ClaudeSlot {
    /// Starts everything and waits until the client shows its prompt in the slot.
    pub fn start(opts: SlotOptions) -> Self {
        let mock = Mock::with(opts.mock);
        let claude = ClaudeHome::new();
        let workdir = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(workdir.path()).unwrap();
        claude.seed(&dir);
        let mut env = claude.env(&mock.base_url(), opts.auth);
        env.extend(opts.env);
        let home = Home::new();
        let config = home.config(&slot_config(
            &dir,
            &argv(opts.auth, &[]),
            &env,
            &opts.pool_yaml,
            &opts.config_yaml,
        ));
        let server = TestServer::new();
        // The server is ours (-f /dev/null, an empty HOME) before the daemon talks to it.
        server.tmux_ok(&["new-session", "-d", "-s", "main", "-x", "80", "-y", "24"]);
        let focus = if opts.focus_events { "on" } else { "off" };
        server.tmux_ok(&["set-option", "-g", "focus-events", focus]);
        let daemon = Daemon::start(&home, &server, &config);
        let slot = ClaudeSlot {
            daemon,
            server,
            mock,
            home,
            claude,
            workdir,
            dir,
            config,
        };
        slot.wait_screen("the client's prompt", "? for shortcuts");
        slot
    }

    /// The slot's object in `check --json`.
    pub fn check(&self) -> Value {
        let (_, json) = self.home.check_json(&self.server, &self.config);
        json["slots"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == SLOT))
            .cloned()
            .unwrap_or_else(|| panic!("no slot {SLOT} in {json}"))
    }

    /// Runs `check --json` until `f` holds for the slot's object, which is returned; after
    /// [`PATIENCE`], panics with the last one, the screen, the mock's log and the daemon's.
    pub fn wait_check(&self, what: &str, mut f: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let s = self.check();
            if f(&s) {
                return s;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("{what}; check --json last said {s}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `check --json` says `state` for the slot; returns its object.
    pub fn wait_state(&self, state: &str) -> Value {
        self.wait_check(&format!("{SLOT} is {state}"), |s| s["state"] == state)
    }

    /// Panics with everything that helps to see why.
    pub fn fail(&self, what: &str) -> ! {
        let log = self.home.log_text();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "timed out after {PATIENCE:?} waiting until {what}\n--- screen:\n{}\n--- mock:\n{}\n--- daemon log:\n{}",
            self.screen(),
            self.mock.summary(),
            tail.join("\n")
        );
    }

    /// The slot's pane as it shows now.
    pub fn screen(&self) -> String {
        let out = self
            .server
            .tmux(&["capture-pane", "-p", "-t", &format!("={SLOT}:")]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `needle`.
    pub fn wait_screen(&self, what: &str, needle: &str) {
        self.wait_screen_until(what, |s| s.contains(needle));
    }

    /// Waits until `f` holds for the screen.
    pub fn wait_screen_until(&self, what: &str, mut f: impl FnMut(&str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !f(&self.screen()) {
            if Instant::now() >= deadline {
                self.fail(what);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `text` into the client, waits until its input line shows it, then presses
    /// Enter (keys and Enter in one burst would read as a paste).
    pub fn say(&self, text: &str) {
        self.keys(&["-l", text]);
        // The input line is `❯`, a no-break space, the text.
        self.wait_screen_until(&format!("the input line shows {text:?}"), |s| {
            s.lines().any(|l| {
                l.strip_prefix('❯')
                    .is_some_and(|l| l.trim_start_matches(['\u{a0}', ' ']).starts_with(text))
            })
        });
        self.keys(&["Enter"]);
    }

    /// [`say`](Self::say), then waits until the mock got a main request with these words.
    pub fn submit(&self, text: &str) -> Request {
        self.say(text);
        let log = self
            .mock
            .wait_for(&format!("the prompt {text:?}"), PATIENCE, |log| {
                log.iter().any(|r| r.is_main() && r.prompt() == text)
            });
        log.into_iter()
            .rev()
            .find(|r| r.is_main() && r.prompt() == text)
            .unwrap()
    }

    /// `tmux send-keys -t =cc-0: ARGS…`.
    pub fn keys(&self, args: &[&str]) {
        let target = format!("={SLOT}:");
        let mut a = vec!["send-keys", "-t", target.as_str()];
        a.extend_from_slice(args);
        self.server.tmux_ok(&a);
    }

    /// The pid of the process in the slot's pane (the client, exec'd by `env`).
    pub fn pane_pid(&self) -> Option<u32> {
        let out = self.server.tmux(&[
            "display-message",
            "-p",
            "-t",
            &format!("={SLOT}:"),
            "#{pane_pid}",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// The daemon's persisted memory of the slot.
    pub fn memory(&self) -> Value {
        self.home.state(&self.server)["slots"][SLOT].clone()
    }

    /// The daemon's event log entries about the slot, as `(kind, text)`.
    pub fn events(&self) -> Vec<(String, String)> {
        self.home.state(&self.server)["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["name"] == SLOT)
                    .map(|e| {
                        let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                        (s("kind"), s("text"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until the daemon's event log about the slot satisfies `f`; returns it.
    pub fn wait_events(
        &self,
        what: &str,
        mut f: impl FnMut(&[(String, String)]) -> bool,
    ) -> Vec<(String, String)> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ev = self.events();
            if f(&ev) {
                return ev;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("{what}; the events were {ev:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the daemon's memory of the slot satisfies `f`.
    pub fn wait_memory(&self, what: &str, mut f: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let m = self.memory();
            if f(&m) {
                return m;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("{what}; the memory last said {m}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ClaudeSlot {
    fn drop(&mut self) {
        // Never panic here: this also runs while unwinding from a failed test.
        let _ = self.daemon.stop();
        // The clients (and a tool they run) end with the server, by SIGHUP; make sure.
        let out = self.server.tmux(&["list-panes", "-a", "-F", "#{pane_pid}"]);
        for pid in String::from_utf8_lossy(&out.stdout).lines() {
            if let Ok(pid) = pid.trim().parse::<u32>() {
                signal(pid, "KILL");
            }
        }
    }
}
