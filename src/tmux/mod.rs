//! Talking to tmux: the `Tmux` trait, its errors and the server it talks to; the parts live in
//! the submodules.
//!
//! Everything here is synchronous and spawns `tmux` with an argv (never a shell string); async
//! callers run it in `spawn_blocking`. See DESIGN.md §4 for the rules this module enforces:
//! `-u` and the configured socket on every call, exact targets only, one `list-panes -a` per
//! poll, `remain-on-exit` set in the same call that creates a session.
//!
//! - `snapshot`: the panes of one poll, and the nonce-marked `list-panes` format and parser;
//! - `args`: exact targets, argv elements and their escaping, the `-c`/`-e`/command part;
//! - [`process`]: running one tmux process with a timeout and a stop switch;
//! - `cli`: [`TmuxCli`], the real client (which tmux, which server, one call, the version);
//! - `commands`: what each [`Tmux`] call asks of tmux, for [`TmuxCli`];
//! - [`hooks`]: the supervisor's wake-up hook on its own slot panes (push, DESIGN.md §12);
//! - [`waiter`]: the one long-lived `tmux wait-for` that turns those hooks into wake-ups;
//! - [`ssh`]: another host's server, each call through its one shared ssh connection.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

mod args;
mod cli;
mod commands;
pub mod hooks;
pub mod process;
mod snapshot;
pub mod ssh;
pub mod waiter;

pub use args::{NameProblem, Target, check_session_name};
pub use cli::{DEFAULT_TIMEOUT, NEEDS_TMUX, TmuxCli, check_version_text};
pub use process::Shutdown;
pub use snapshot::{
    HostPoll, Nonce, Pane, Snapshot, format_record, parse_snapshot, snapshot_format,
};

/// Which tmux server: -L name, -S path, or the default one.
///
/// When both are set, `socket_path` wins (as it does for tmux itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub socket_name: Option<String>,
    pub socket_path: Option<PathBuf>,
}

impl Endpoint {
    /// The server in the operator's words, for messages and the header: `-S PATH`, `-L NAME`,
    /// or `default`.
    pub fn label(&self) -> String {
        match (&self.socket_path, &self.socket_name) {
            (Some(p), _) => format!("-S {}", p.display()),
            (None, Some(n)) => format!("-L {n}"),
            (None, None) => "default".to_string(),
        }
    }
}

/// What to start in a new session or a respawned pane.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Session name (used by `create` only).
    pub name: String,
    pub workdir: PathBuf,
    /// Program and arguments, exec'd directly (through `env`); empty means the login shell for
    /// `create`, and the pane's original command for `respawn`.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// What `create` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New {
        /// The server's pid (ids start again from 0 on a new server).
        server_pid: u32,
        session_id: String,
        pane_id: String,
    },
    /// A session with that exact name already exists (someone else created it): re-poll.
    AlreadyExists,
    /// The session was made on its placeholder, but the program could not be started in it
    /// (a session with an environment starts in two calls) and the placeholder could not be
    /// removed either (the supervisor is stopping, or tmux stopped answering): the slot must
    /// own that pane, or nobody would ever restart it.
    Unfinished {
        server_pid: u32,
        session_id: String,
        pane_id: String,
        /// Why the program was not started.
        error: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    /// The binary is missing from PATH.
    #[error("tmux not found (`{0}` is not on PATH): install tmux 3.2 or newer")]
    NotFound(String),
    #[error("tmux {found} is too old: tmux-supervisor needs 3.2 or newer")]
    TooOld { found: String },
    /// Non-zero exit; `message` is the trimmed stderr.
    #[error("tmux {args}: {message}")]
    Failed { args: String, message: String },
    #[error("tmux: {0}")]
    Io(#[from] std::io::Error),
    /// The call was killed at its timeout (a frozen or overloaded tmux server).
    #[error("tmux did not answer within {}", seconds(*after))]
    TimedOut { after: Duration },
    /// Not run, or cut short: the supervisor is stopping.
    #[error("the supervisor is stopping")]
    Stopped,
    #[error("unexpected tmux output: {0}")]
    BadOutput(String),
    #[error(
        "invalid tmux session name {0:?}: it must be non-empty, without '.', ':' or control characters"
    )]
    InvalidName(String),
    #[error("not an exact tmux target: {0:?}")]
    InvalidTarget(String),
    #[error("working directory {} does not exist or is not a directory", .0.display())]
    NoWorkdir(PathBuf),
    /// ssh could not reach another host's server (its message, trimmed).
    #[error("ssh: {0}")]
    Ssh(String),
}

/// `10 s`, `1.5 s`, `250 ms`: a timeout in the operator's words.
pub fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Everything the supervisor asks of tmux; faked in logic tests.
pub trait Tmux: Send + Sync {
    fn snapshot(&self) -> Result<Snapshot, TmuxError>;
    fn create(&self, launch: &Launch) -> Result<Created, TmuxError>;
    fn respawn(&self, pane_id: &str, launch: &Launch) -> Result<(), TmuxError>;
    fn kill(&self, target: &Target) -> Result<(), TmuxError>;
    /// The last `lines` lines (at least 1, trailing blank lines dropped) of each pane, in one
    /// tmux call; panes that do not exist are missing from the map.
    fn capture(&self, panes: &[String], lines: u32) -> Result<HashMap<String, String>, TmuxError>;
    fn switch_client(&self, client_tty: Option<&str>, target: &Target) -> Result<(), TmuxError>;
    /// Has the server collect the exit of panes it shows dead without a status: tmux 3.3a
    /// can miss the SIGCHLD of a pane's process (libutempter, tmux#311), and then shows
    /// `pane_dead=1` with no status until some other child exits.
    fn reap_lost_exits(&self, server_pid: u32) -> Result<(), TmuxError>;
    /// Presses Esc in a pane (`send-keys -t %ID Escape`): interrupts a Claude Code turn.
    fn interrupt(&self, pane_id: &str) -> Result<(), TmuxError>;
    /// Push: sets the supervisor's wake-up hook ([`hooks`]) on these panes (slot panes it keeps
    /// alive that lack it), in one call; nothing when push is off.
    fn set_wake_hooks(&self, panes: &[String]) -> Result<(), TmuxError>;
    /// The version of the tmux program (`3.3a`), as `tmux -V` says it; [`TmuxError::TooOld`]
    /// below 3.2. For when no server answers (a snapshot says the server's own version).
    fn version(&self) -> Result<String, TmuxError>;
    /// The tmux server of another host (`hosts:`), to run an op of a slot there; `None` when
    /// this client knows no such host.
    fn on_host(&self, host: &str) -> Option<&dyn Tmux> {
        let _ = host;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_labels() {
        let ep = |name: Option<&str>, path: Option<&str>| Endpoint {
            socket_name: name.map(str::to_string),
            socket_path: path.map(PathBuf::from),
        };
        assert_eq!(ep(None, None).label(), "default");
        assert_eq!(ep(Some("w"), None).label(), "-L w");
        assert_eq!(ep(None, Some("/s")).label(), "-S /s");
        // As for tmux itself, the path wins.
        assert_eq!(ep(Some("w"), Some("/s")).label(), "-S /s");
    }
}
