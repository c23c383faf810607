//! Runs the real `tmux-supervisor` binary against a test server, with a private home, state
//! dir and log, and stops it (SIGTERM, then SIGKILL) on drop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::TestServer;

/// A private home for one run of the binary: config, state dir, log.
pub struct Home {
    pub dir: tempfile::TempDir,
}

/// How long a supervisor may take to do what a test waits for. Generous: a passing test never
/// waits this long, and a loaded CI machine (other builds, other tmux servers) must not fail.
pub const PATIENCE: Duration = Duration::from_secs(30);

impl Home {
    /// Polls `f` every 20 ms until it is true; after [`PATIENCE`], panics with the end of
    /// this home's log.
    pub fn wait(&self, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !f() {
            if Instant::now() >= deadline {
                let log = self.log_text();
                let tail: Vec<&str> = log.lines().rev().take(60).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "timed out after {PATIENCE:?} waiting until {what}; end of the log:\n{}",
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn new() -> Self {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `config.yaml` here and returns its path.
    pub fn config(&self, yaml: &str) -> PathBuf {
        let p = self.path().join("config.yaml");
        std::fs::write(&p, yaml).unwrap();
        p
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state").join("tmux-supervisor")
    }

    pub fn log(&self) -> PathBuf {
        self.path().join("supervisor.log")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// The state file and lock of the server in the default state dir, named after its real
    /// socket path.
    pub fn store(&self, server: &TestServer) -> tmux_supervisor::memory::Store {
        tmux_supervisor::memory::Store::for_server(
            &self.state_dir(),
            &tmux_supervisor::socket::server_socket(Some(&server.socket), None),
        )
    }

    /// The state file of the server in the default state dir.
    pub fn state_path(&self, server: &TestServer) -> PathBuf {
        self.store(server).path
    }

    /// The persisted memory of the server, as JSON.
    pub fn state(&self, server: &TestServer) -> serde_json::Value {
        std::fs::read(self.state_path(server))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    /// Whether the state file shows each of `names` started at or after `since` (see
    /// [`start_times`]).
    pub fn all_started_since(&self, server: &TestServer, names: &[String], since: i64) -> bool {
        let state = self.state(server);
        names
            .iter()
            .all(|n| start_times(&state, n).iter().any(|&t| t >= since))
    }

    /// The binary with this home's environment, pointed at `server`.
    pub fn command(&self, server: &TestServer, config: &Path) -> Command {
        self.command_logging_to(server, config, &self.log())
    }

    /// The same, with the log in `log`.
    pub fn command_logging_to(&self, server: &TestServer, config: &Path, log: &Path) -> Command {
        let mut c = self.command_without_server(config, log);
        c.args(["-L", &server.socket]);
        c
    }

    /// The binary with this home's environment and no `-L`/`-S` (nor `TMUX`): it talks to the
    /// default server unless the caller says otherwise.
    pub fn command_without_server(&self, config: &Path, log: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tmux-supervisor"));
        c.arg("-c")
            .arg(config)
            .arg("--log-file")
            .arg(log)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env_remove("TMUX_SUPERVISOR_CONFIG")
            .env("HOME", self.path())
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .stdin(Stdio::null());
        c
    }

    /// Runs `check --json` and returns (exit code, parsed JSON).
    pub fn check_json(&self, server: &TestServer, config: &Path) -> (i32, serde_json::Value) {
        let out: Output = self
            .command(server, config)
            .args(["check", "--json"])
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "check --json printed no JSON ({e}); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, json)
    }
}

/// A running daemon; stopped with SIGTERM on drop.
pub struct Daemon {
    pub child: Child,
}

impl Daemon {
    pub fn start(home: &Home, server: &TestServer, config: &Path) -> Self {
        let child = home
            .command(server, config)
            .arg("daemon")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Daemon { child }
    }

    /// Runs `command` (the binary with its options, e.g. from [`Home::command`] with a changed
    /// environment) as `daemon`, stdout and stderr piped.
    pub fn spawn(mut command: Command) -> Self {
        let child = command
            .arg("daemon")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Daemon { child }
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends SIGTERM and waits for the exit (up to 10 s); returns the exit code and stderr.
    pub fn stop(&mut self) -> (Option<i32>, String) {
        if self.alive() {
            signal(self.child.id(), "TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status.and_then(|s| s.code()), err)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            signal(self.child.id(), "TERM");
            std::thread::sleep(Duration::from_millis(200));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// When the events of `state` (the persisted memory) say `name` was started (created,
/// restarted or recovered): the daemon's wall-clock milliseconds, in order.
///
/// A batch of ops is saved with all its events at once, and the next batch is planned only
/// after it is back: once a start shows here, everything planned with it has run and is in
/// the file too.
pub fn start_times(state: &serde_json::Value, name: &str) -> Vec<i64> {
    state["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| {
                    e["name"] == name
                        && ["created", "restarted", "recovered"]
                            .contains(&e["kind"].as_str().unwrap_or_default())
                })
                .filter_map(|e| e["at"].as_i64())
                .collect()
        })
        .unwrap_or_default()
}

/// The slot `name` in a `check --json` report.
pub fn slot<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no slot {name} in {json}"))
}

/// `kill -SIG PID`.
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}
