//! The dispatcher's status file as the observation reads it: what it says each session is
//! doing, and its parser.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// What the dispatcher's status file says a session is doing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum ExternalState {
    /// `working` (or `busy`).
    Working,
    Waiting,
    Idle,
    /// Any other word: shown nowhere as a state, the other signals decide.
    Other(String),
}

impl From<String> for ExternalState {
    fn from(word: String) -> Self {
        match word.as_str() {
            "working" | "busy" => ExternalState::Working,
            "waiting" => ExternalState::Waiting,
            "idle" => ExternalState::Idle,
            _ => ExternalState::Other(word),
        }
    }
}

impl fmt::Display for ExternalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExternalState::Working => "working",
            ExternalState::Waiting => "waiting",
            ExternalState::Idle => "idle",
            ExternalState::Other(w) => w,
        })
    }
}

/// One entry of the external status file written by a dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct External {
    pub state: ExternalState,
    #[serde(default)]
    pub task: Option<String>,
}

/// The external status file: `{"ccl-auto-11": {"state": "working", "task": "…"}}`.
pub type ExternalStatus = BTreeMap<String, External>;

/// Parses the external status file.
pub fn parse_external(text: &str) -> Result<ExternalStatus, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}
