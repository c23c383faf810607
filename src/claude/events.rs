//! One Claude Code hook event as recorded in the state dir, one small file per slot (or per
//! pane, for a session the supervisor did not start), and reading them back.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The latest hook event of one slot or pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRecord {
    /// `hook_event_name`, e.g. `Stop`.
    pub event: String,
    /// Unix milliseconds when the hook ran.
    pub at_ms: u64,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub transcript_path: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub tool_name: Option<String>,
    #[serde(default)]
    pub notification_type: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// `$TMUX_SUPERVISOR_SLOT` of the agent's environment.
    #[serde(default)]
    pub slot: Option<String>,
    /// `$TMUX_PANE`, `%N`.
    #[serde(default)]
    pub pane: Option<String>,
}

/// Most files read from the events dir at one poll.
const MAX_FILES: usize = 4096;
/// Largest record read.
const MAX_BYTES: u64 = 64 * 1024;

/// `<state_dir>/events-<key>`.
pub fn events_dir(state_dir: &Path, server_key: &str) -> PathBuf {
    state_dir.join(format!("events-{server_key}"))
}

/// Every record in the events dir of that server; unreadable or corrupt files are skipped.
pub fn load(state_dir: &Path, server_key: &str) -> Vec<HookRecord> {
    let Ok(dir) = std::fs::read_dir(events_dir(state_dir, server_key)) else {
        return Vec::new();
    };
    dir.flatten()
        .take(MAX_FILES)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| read_one(&e.path()).ok())
        .collect()
}

fn read_one(path: &Path) -> io::Result<HookRecord> {
    use std::io::Read as _;
    let file = crate::statedir::open(path, std::fs::OpenOptions::new().read(true))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(io::Error::other("too large"));
    }
    serde_json::from_slice(&bytes).map_err(io::Error::other)
}
