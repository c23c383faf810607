//! Plain data between the controller and the loops: what a poll or an op needs to run on a
//! blocking thread, and what it brought back. The UI may read these; nothing here acts.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::claude::events::HookRecord;
use crate::claude::session::Transcript;
use crate::controller::TranscriptProbe;
use crate::memory::OwnedPane;
use crate::observe::ExternalStatus;
use crate::pool::Layout;
use crate::tmux::{Launch, Snapshot, Target, TmuxError};

/// Lines of pane text captured for patterns and the preview.
pub const CAPTURE_LINES: u32 = 40;

/// Everything one poll needs, owned, so it can run on a blocking thread.
#[derive(Debug, Clone)]
pub struct PollJob {
    pub layout: Arc<Layout>,
    pub agent: crate::config::AgentConfig,
    pub status_file: Option<PathBuf>,
    /// Pane id → `window_activity` when last captured.
    pub last_read: HashMap<String, i64>,
    /// A pane shown in the preview: captured too when it has new output, even a shell.
    pub preview: Option<String>,
    /// Slot name → the pane the supervisor started there (the one read for the slot).
    pub owned: HashMap<String, OwnedPane>,
    /// The conversation transcripts of agent slots to look for.
    pub transcripts: Vec<TranscriptProbe>,
    /// Where the agents' hook events are: the state dir and the server's key.
    pub hooks_from: Option<(PathBuf, String)>,
}

/// What one poll brought back.
#[derive(Debug, Clone, Default)]
pub struct PollResult {
    pub snapshot: Snapshot,
    /// Fresh captures of panes with new output.
    pub captures: HashMap<String, String>,
    pub external: ExternalStatus,
    /// Problems that did not stop the poll (bad status file, failed capture).
    pub warnings: Vec<String>,
    /// The snapshot itself failed.
    pub error: Option<String>,
    /// What was found of each transcript looked for.
    pub transcripts: Vec<(TranscriptProbe, Transcript)>,
    /// The latest hook event of every slot and pane that has one.
    pub hooks: Vec<HookRecord>,
}

/// What an op job does.
#[derive(Debug, Clone)]
pub enum OpKind {
    Create(Launch),
    Respawn {
        pane_id: String,
        launch: Launch,
    },
    Kill(Target),
    /// Esc in the pane: interrupts a hung agent's turn before it is respawned.
    Interrupt(String),
}

impl OpKind {
    /// `create`, `respawn`, `kill`.
    pub fn verb(&self) -> &'static str {
        match self {
            OpKind::Create(_) => "create",
            OpKind::Respawn { .. } => "respawn",
            OpKind::Kill(_) => "kill",
            OpKind::Interrupt(_) => "interrupt",
        }
    }
}

/// One tmux action for one session, owned so it can run on a blocking thread.
#[derive(Debug, Clone)]
pub struct OpJob {
    pub name: String,
    pub kind: OpKind,
    /// Asked for by the operator (not by reconcile).
    pub manual: bool,
    /// The host whose server the session is on (`None`: this machine); the op's pane and
    /// session ids are marked with it (`%3@gpu1`).
    pub host: Option<String>,
}

/// Op jobs in one batch per host (in the order each host first comes, each batch in its
/// jobs' order): the batches run side by side.
pub fn by_host(jobs: Vec<OpJob>) -> Vec<Vec<OpJob>> {
    let mut batches: Vec<Vec<OpJob>> = Vec::new();
    for job in jobs {
        match batches.iter_mut().find(|b| b[0].host == job.host) {
            Some(b) => b.push(job),
            None => batches.push(vec![job]),
        }
    }
    batches
}

/// What an op did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// A new session: the slot follows this pane from now on.
    Created(OwnedPane),
    /// A session whose program could not be started and that could not be removed: the slot
    /// owns its pane, marked failed, so reconcile restarts it.
    Unfinished {
        pane: OwnedPane,
        error: String,
    },
    /// A session with that name was already there: someone else created it.
    AlreadyExisted,
    /// The pane was restarted in place.
    Respawned,
    Killed,
    /// Esc was sent.
    Interrupted,
}

/// Why an op did not happen.
#[derive(Debug, Clone)]
pub enum OpError {
    /// tmux refused or failed; the kind of failure is kept.
    Tmux(Arc<TmuxError>),
    /// The op's thread panicked (the log has the message).
    Panicked,
}

impl OpError {
    /// Not run because the supervisor is stopping: nothing happened to the session.
    pub fn is_stopped(&self) -> bool {
        matches!(self, OpError::Tmux(e) if matches!(**e, TmuxError::Stopped))
    }
}

impl From<TmuxError> for OpError {
    fn from(e: TmuxError) -> Self {
        OpError::Tmux(Arc::new(e))
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::Tmux(e) => write!(f, "{e}"),
            OpError::Panicked => f.write_str("the op panicked (see the log)"),
        }
    }
}

/// The outcome of an op job.
#[derive(Debug, Clone)]
pub struct OpResult {
    pub job: OpJob,
    pub outcome: Result<Done, OpError>,
}
