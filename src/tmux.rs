//! Interim tmux types (replaced by the full client at merge).
#![allow(missing_docs)]
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub socket_name: Option<String>,
    pub socket_path: Option<PathBuf>,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    pub server_pid: u32,
    pub session_id: String,
    pub session_name: String,
    pub session_created: i64,
    pub session_activity: i64,
    pub session_attached: u32,
    pub window_activity: i64,
    pub pane_id: String,
    pub pane_pid: u32,
    pub pane_dead: bool,
    pub dead_status: Option<i32>,
    pub dead_signal: Option<i32>,
    pub current_command: String,
    pub title: String,
    pub current_path: String,
}
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub panes: Vec<Pane>,
    pub rejected: Vec<String>,
}
impl Snapshot {
    pub fn session(&self, name: &str) -> Option<&Pane> {
        self.panes.iter().find(|p| p.session_name == name)
    }
    pub fn session_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in &self.panes {
            if !out.contains(&p.session_name.as_str()) {
                out.push(&p.session_name);
            }
        }
        out
    }
    pub fn server_pid(&self) -> Option<u32> {
        self.panes.first().map(|p| p.server_pid)
    }
}
#[derive(Debug, Clone, Default)]
pub struct Launch {
    pub name: String,
    pub workdir: PathBuf,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New { session_id: String, pane_id: String },
    AlreadyExists,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Name(String),
    Session(String),
    Pane(String),
}
#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    #[error("tmux not found: {0}")]
    NotFound(String),
    #[error("tmux {found} is too old: tmux-supervisor needs 3.2 or newer")]
    TooOld { found: String },
    #[error("tmux {args}: {message}")]
    Failed { args: String, message: String },
    #[error("tmux: {0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected tmux output: {0}")]
    BadOutput(String),
}
pub trait Tmux: Send + Sync {
    fn snapshot(&self) -> Result<Snapshot, TmuxError>;
    fn create(&self, launch: &Launch) -> Result<Created, TmuxError>;
    fn respawn(&self, pane_id: &str, launch: &Launch) -> Result<(), TmuxError>;
    fn kill(&self, target: &Target) -> Result<(), TmuxError>;
    fn capture(&self, panes: &[String], lines: u32) -> Result<HashMap<String, String>, TmuxError>;
    fn switch_client(&self, client_tty: Option<&str>, target: &Target) -> Result<(), TmuxError>;
}
