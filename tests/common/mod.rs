//! Test harness for every real-tmux test: one private tmux server per test, cleaned up on drop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tmux_supervisor::tmux::{Endpoint, TmuxCli};

pub mod fake_tmux;
pub mod hosts;
pub mod process;
pub mod sshd;
pub mod ui;

/// The production layout (manual `ccl-0..9` never restarted, auto `ccl-auto-11..20` kept
/// alive), polled fast so tests see changes quickly.
#[allow(unused_imports)]
pub use tmux_supervisor::fixtures::PRODUCTION_FAST;

/// The names of the production auto pool.
pub fn auto_pool() -> Vec<String> {
    (11..=20).map(|i| format!("ccl-auto-{i}")).collect()
}

/// A tmux server on its own `-L` socket, unique per test (tests run in parallel threads).
///
/// The server is not started by `new()`: "no server running" is a valid state to test. Dropping
/// it (also while unwinding from a failed assertion) kills the server and removes the socket.
pub struct TestServer {
    pub socket: String,
    /// An empty home for the server's shells: the developer's shell profile (which may be
    /// slow or take locks) never runs in a test pane.
    pub home: tempfile::TempDir,
}

impl TestServer {
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        TestServer {
            home: tempfile::tempdir().expect("temp home"),
            socket: format!(
                "tsup-{}-{}-{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    /// A server on the socket `name` (a test makes it unique, e.g. from [`TestServer::new`]'s).
    pub fn with_socket(name: String) -> Self {
        TestServer {
            home: tempfile::tempdir().expect("temp home"),
            socket: name,
        }
    }

    /// `tmux -L SOCKET -f /dev/null ARGS`, without the caller's `TMUX`/`TMUX_PANE`.
    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env("HOME", self.home.path())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// Like [`tmux`](Self::tmux), asserting success; returns stdout.
    pub fn tmux_ok(&self, args: &[&str]) -> String {
        let out = self.tmux(args);
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `display-message -p FORMAT` of the session with exactly this name, trimmed.
    pub fn display(&self, name: &str, format: &str) -> String {
        self.tmux_ok(&["display-message", "-p", "-t", &format!("={name}:"), format])
            .trim()
            .to_string()
    }

    /// A detached session with exactly this name, running the default shell.
    pub fn new_session(&self, name: &str) {
        // `-s` is format-expanded: double `#` so the name arrives unchanged.
        let escaped = name.replace('#', "##");
        self.tmux_ok(&["new-session", "-d", "-s", &escaped, "-x", "200", "-y", "50"]);
    }

    /// Names of all sessions (empty when no server is running).
    pub fn session_names(&self) -> Vec<String> {
        let out = self.tmux(&["list-sessions", "-F", "#{session_name}"]);
        if !out.status.success() {
            return Vec::new();
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            socket_name: Some(self.socket.clone()),
            socket_path: None,
        }
    }

    pub fn client(&self) -> TmuxCli {
        TmuxCli::new(self.endpoint()).with_config_file("/dev/null")
    }

    /// Whether a server answers on this socket.
    pub fn is_running(&self) -> bool {
        self.tmux(&["list-sessions"]).status.success()
    }

    pub fn kill_server(&self) {
        let _ = self.tmux(&["kill-server"]);
    }

    /// Poll `f` every 50 ms until it is true; panic mentioning `what` after `timeout`.
    #[allow(clippy::unused_self)]
    pub fn wait_until(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if f() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting until {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where tmux puts the `-L` socket: `$TMUX_TMPDIR` (or /tmp) / tmux-UID / SOCKET.
    pub fn socket_path(&self) -> Option<PathBuf> {
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let dir = std::env::var_os("TMUX_TMPDIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        Some(dir.join(format!("tmux-{uid}")).join(&self.socket))
    }
}

impl Default for TestServer {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Never panic here: this also runs while unwinding from a failed test.
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null", "kill-server"])
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if let Some(path) = self.socket_path() {
            let _ = std::fs::remove_file(path);
        }
    }
}
