//! The real tmux client: which program, which server, how long a call may take; running one
//! call (`-u` and the socket always first) and checking the version.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use std::sync::Arc;

use super::args::{Arg, render_args};

use super::process::{self, Failure, Shutdown};
use super::ssh::SshRoute;
use super::{Endpoint, TmuxError};

/// The real [`Tmux`]: runs the tmux CLI.
#[derive(Debug, Clone)]
pub struct TmuxCli {
    program: PathBuf,
    endpoint: Endpoint,
    config_file: Option<PathBuf>,
    timeout: Duration,
    shutdown: Shutdown,
    /// Under systemd: the server's socket, to start the server (when it is not running) in
    /// a scope of its own, out of the service's cgroup.
    own_scope: Option<Arc<OwnScope>>,
    /// Push: the latch channel the supervisor's wake-up hooks signal (set on every session it
    /// creates), if push is on.
    wake: Option<String>,
    /// Another host's server: every call runs through ssh (DESIGN.md §15).
    ssh: Option<Arc<SshRoute>>,
}

/// `systemd-run` before the command: a scope of the user's manager, quiet, collected when done.
const SYSTEMD_RUN: [&str; 5] = ["--user", "--scope", "--quiet", "--collect", "--"];

/// Starting the tmux server in a systemd scope of its own.
#[derive(Debug)]
struct OwnScope {
    socket: PathBuf,
    /// Whether `systemd-run` can start a scope here, found out once (it may be missing, or
    /// have no user manager to talk to): without it the server starts as it would anyway.
    usable: std::sync::OnceLock<bool>,
}

impl OwnScope {
    fn usable(&self) -> bool {
        *self.usable.get_or_init(|| {
            let tried = Command::new("systemd-run")
                .args(SYSTEMD_RUN)
                .arg("true")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .output();
            match tried {
                Ok(out) if out.status.success() => true,
                Ok(out) => {
                    tracing::warn!(
                        "systemd-run cannot start a scope ({}): the tmux server starts in the service's cgroup (KillMode=process still keeps it alive when the service stops)",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                    false
                }
                Err(e) => {
                    tracing::warn!(
                        "systemd-run cannot be run ({e}): the tmux server starts in the service's cgroup (KillMode=process still keeps it alive when the service stops)"
                    );
                    false
                }
            }
        })
    }
}

/// How long one tmux invocation may take before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl TmuxCli {
    /// `tmux` from PATH, talking to `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        TmuxCli {
            program: PathBuf::from("tmux"),
            endpoint,
            config_file: None,
            timeout: DEFAULT_TIMEOUT,
            shutdown: Shutdown::new(),
            own_scope: None,
            wake: None,
            ssh: None,
        }
    }

    /// The server on another host, reached with `route`: the same calls, each through ssh.
    #[must_use]
    pub fn with_ssh(mut self, route: SshRoute) -> Self {
        self.ssh = Some(Arc::new(route));
        self
    }

    /// The way to the other host, when this client talks to one.
    pub fn ssh(&self) -> Option<&SshRoute> {
        self.ssh.as_deref()
    }

    /// Push: every session this client creates gets the wake-up hook signalling `channel`
    /// (see [`super::hooks`]), and [`Tmux::set_wake_hooks`](super::Tmux::set_wake_hooks) sets it.
    #[must_use]
    pub fn with_wake_channel(mut self, channel: impl Into<String>) -> Self {
        self.wake = Some(channel.into());
        self
    }

    /// The latch channel of push, if on.
    pub fn wake_channel(&self) -> Option<&str> {
        self.wake.as_deref()
    }

    /// Running under systemd (`INVOCATION_ID`): a call that would start the server (nothing
    /// answers on `socket`) runs through `systemd-run --user --scope`, so the server and every
    /// session live in a scope of their own and a stop of the service never kills them.
    #[must_use]
    pub fn with_own_scope(mut self, socket: PathBuf) -> Self {
        self.own_scope = Some(Arc::new(OwnScope {
            socket,
            usable: std::sync::OnceLock::new(),
        }));
        self
    }

    #[must_use]
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// Adds `-f PATH` (only read when this call starts the server; tests use `/dev/null`).
    #[must_use]
    pub fn with_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Kill a tmux invocation that takes longer than this (default [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Calls end at once, and none is started, once `shutdown` is triggered.
    #[must_use]
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// The switch that stops this client's calls (shared by its clones).
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// How long one tmux invocation may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `-u`, then `-S PATH` or `-L NAME` if configured, then `-f PATH` if configured.
    pub fn base_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["-u".into()];
        if let Some(path) = &self.endpoint.socket_path {
            args.push("-S".into());
            args.push(path.clone().into_os_string());
        } else if let Some(name) = &self.endpoint.socket_name {
            args.push("-L".into());
            args.push(name.into());
        }
        if let Some(config) = &self.config_file {
            args.push("-f".into());
            args.push(config.clone().into_os_string());
        }
        args
    }

    /// The program with the base arguments, on this machine (the waiter's `wait-for`).
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(self.base_args());
        command
    }

    /// `tmux BASE ARGS` on the server's machine: here, or through ssh on another host (`tty`
    /// for an interactive attach there; `master`: the poll, which may start the shared
    /// connection, see [`SshRoute::command`]).
    pub fn invocation(&self, args: &[OsString], tty: bool, master: bool) -> Command {
        match &self.ssh {
            None => {
                let mut command = self.command();
                command.args(args);
                command
            }
            Some(route) => {
                let mut remote = vec![self.program.clone().into_os_string()];
                remote.extend(self.base_args());
                remote.extend(args.iter().cloned());
                route.command(&remote, tty, master)
            }
        }
    }

    /// `tmux -V`: `tmux 3.3a` → (3, 3); `tmux next-3.4` → (3, 4); `tmux master` → very new.
    pub fn version(&self) -> Result<(u32, u32), TmuxError> {
        let text = self.version_text()?;
        parse_version(&text).ok_or(TmuxError::BadOutput(text))
    }

    /// The tmux on PATH, for `--version`: `tmux 3.3a (on PATH)`, or why there is none.
    pub fn found_on_path() -> String {
        match TmuxCli::new(Endpoint::default()).check_version() {
            Ok(v) => format!("tmux {v} (on PATH)"),
            Err(e) => e.to_string(),
        }
    }

    /// Fail with [`TmuxError::TooOld`] below 3.2; on success return the version (`3.3a`).
    pub fn check_version(&self) -> Result<String, TmuxError> {
        check_version_text(&self.version_text()?)
    }

    fn version_text(&self) -> Result<String, TmuxError> {
        let output = self.run_raw(&[Arg::plain("-V")])?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if output.status.success() {
            Ok(text)
        } else {
            Err(TmuxError::Failed {
                args: "-V".to_owned(),
                message: stderr_text(&output),
            })
        }
    }

    /// Run `tmux BASE ARGS`, with a timeout; the exit status is not checked.
    pub(super) fn run_raw(&self, args: &[Arg]) -> Result<Output, TmuxError> {
        self.run_via(args, false)
    }

    /// The poll's call: over ssh, the one that may start the host's shared connection.
    pub(super) fn run_poll(&self, args: &[Arg]) -> Result<Output, TmuxError> {
        self.run_via(args, true)
    }

    fn run_via(&self, args: &[Arg], master: bool) -> Result<Output, TmuxError> {
        let words: Vec<OsString> = args.iter().map(Arg::to_os_string).collect();
        let command = self.invocation(&words, false, master);
        tracing::trace!(args = %render_args(args), host = self.ssh.as_ref().map(|r| r.host.as_str()), "tmux");
        let output = process::run(command, self.timeout, &self.shutdown).map_err(|f| match f {
            Failure::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound && self.ssh.is_some() => {
                TmuxError::Ssh("ssh is not on PATH (install openssh-client)".to_string())
            }
            Failure::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => {
                TmuxError::NotFound(self.program.display().to_string())
            }
            Failure::Spawn(e) | Failure::Io(e) => TmuxError::Io(e),
            Failure::TimedOut => {
                tracing::debug!(args = %render_args(args), "tmux did not answer in time: killed");
                TmuxError::TimedOut {
                    after: self.timeout,
                }
            }
            Failure::Stopped => TmuxError::Stopped,
        })?;
        // ssh's own failures (no connection, refused key) exit 255; the remote command's
        // status comes back as it is.
        if self.ssh.is_some() && output.status.code() == Some(255) {
            return Err(TmuxError::Ssh(ssh_failure(&stderr_text(&output))));
        }
        Ok(output)
    }

    /// Like [`run_raw`](Self::run_raw) for a call that may start the server: under systemd,
    /// with no server answering, through `systemd-run --user --scope`.
    pub(super) fn run_starting_server(&self, args: &[Arg]) -> Result<Output, TmuxError> {
        let Some(scope) = self.own_scope.as_ref().filter(|_| self.ssh.is_none()) else {
            return self.run_raw(args);
        };
        if std::os::unix::net::UnixStream::connect(&scope.socket).is_ok() {
            return self.run_raw(args);
        }
        if !scope.usable() {
            return self.run_raw(args);
        }
        let mut command = Command::new("systemd-run");
        command
            .args(SYSTEMD_RUN)
            .arg(&self.program)
            .args(self.base_args())
            .args(args.iter().map(Arg::to_os_string));
        tracing::info!("starting the tmux server in a systemd scope of its own");
        process::run(command, self.timeout, &self.shutdown).map_err(|f| match f {
            Failure::Spawn(e) | Failure::Io(e) => TmuxError::Io(e),
            Failure::TimedOut => TmuxError::TimedOut {
                after: self.timeout,
            },
            Failure::Stopped => TmuxError::Stopped,
        })
    }

    /// Run and require a zero exit status.
    pub(super) fn run(&self, args: &[Arg]) -> Result<Output, TmuxError> {
        let output = self.run_raw(args)?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(TmuxError::Failed {
                args: render_args(args),
                message: stderr_text(&output),
            })
        }
    }
}

/// `tmux 3.3a` (as `tmux -V` says it) or `3.3a` (as `#{version}` does): the version, or
/// [`TmuxError::TooOld`] below 3.2.
pub fn check_version_text(text: &str) -> Result<String, TmuxError> {
    let text = text.trim();
    let full = if text.starts_with("tmux ") {
        text.to_owned()
    } else {
        format!("tmux {text}")
    };
    let found = full.strip_prefix("tmux ").unwrap_or(&full).to_owned();
    match parse_version(&full) {
        Some(v) if v >= (3, 2) => Ok(found),
        Some(_) => Err(TmuxError::TooOld { found }),
        None => Err(TmuxError::BadOutput(text.to_owned())),
    }
}

/// Why ssh failed, from its stderr: the last line (warnings come first), without ssh's own
/// `ssh: ` in front (the error says it).
fn ssh_failure(stderr: &str) -> String {
    let last = stderr.lines().rev().map(str::trim).find(|l| !l.is_empty());
    match last {
        None => "ssh failed without a message".to_string(),
        Some(l) => l.strip_prefix("ssh: ").unwrap_or(l).to_string(),
    }
}

/// What an operator needs to hear when tmux cannot be used at all.
pub const NEEDS_TMUX: &str =
    "tmux-supervisor needs tmux 3.2 or newer on PATH (e.g. `apt-get install tmux`)";

pub(super) fn stderr_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.trim().strip_prefix("tmux ")?.trim();
    let rest = rest.strip_prefix("next-").unwrap_or(rest);
    if rest.starts_with("master") || rest.starts_with("openbsd-") {
        return Some((u32::MAX, 0));
    }
    let (major, rest) = rest.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
