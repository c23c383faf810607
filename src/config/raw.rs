//! The config as written: raw structs filled by `serde_yaml`, before defaults and rules.
//! Unknown keys are not rejected here: the position scan has already reported every one.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Problem;

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) tmux: Option<RawTmux>,
    #[serde(default)]
    pub(super) poll_interval: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) reconcile_interval: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) pools: Option<Vec<RawPool>>,
    #[serde(default)]
    pub(super) sessions: Option<Vec<RawSession>>,
    #[serde(default)]
    pub(super) backoff: Option<RawBackoff>,
    #[serde(default)]
    pub(super) agent: Option<RawAgent>,
    #[serde(default)]
    pub(super) notify: Option<RawNotify>,
    #[serde(default)]
    pub(super) status_file: Option<String>,
    #[serde(default)]
    pub(super) state_dir: Option<String>,
    #[serde(default)]
    pub(super) metrics: Option<String>,
    #[serde(default)]
    pub(super) push: Option<bool>,
    #[serde(default)]
    pub(super) hosts: Option<BTreeMap<String, super::hosts::RawHost>>,
}

impl RawConfig {
    /// The second step of loading: `text` read into the raw shape (an empty file is all
    /// defaults); a value of the wrong type stops it here.
    pub(super) fn read(text: &str) -> Result<RawConfig, Problem> {
        if text.trim().is_empty() {
            return Ok(RawConfig::default());
        }
        let raw = serde_yaml::from_str::<Option<RawConfig>>(text).map_err(|e| {
            let loc = e.location();
            Problem {
                line: loc.as_ref().map(serde_yaml::Location::line),
                column: loc.as_ref().map(serde_yaml::Location::column),
                message: strip_location(&e.to_string()),
                hint: Some(
                    "compare with config.example.yaml for the expected type of each key".into(),
                ),
            }
        })?;
        Ok(raw.unwrap_or_default())
    }
}

/// `serde_yaml` appends " at line L column C"; the location is printed separately.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawTmux {
    #[serde(default)]
    pub(super) socket_name: Option<String>,
    #[serde(default)]
    pub(super) socket_path: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawPool {
    pub(super) name: Option<String>,
    pub(super) prefix: Option<String>,
    #[serde(default)]
    pub(super) start_index: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) max: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) min: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) restart: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) workdir: Option<String>,
    #[serde(default)]
    pub(super) command: Option<Vec<String>>,
    #[serde(default)]
    pub(super) env: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(super) agent: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) host: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawSession {
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) restart: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) workdir: Option<String>,
    #[serde(default)]
    pub(super) command: Option<Vec<String>>,
    #[serde(default)]
    pub(super) env: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(super) agent: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) host: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawBackoff {
    #[serde(default)]
    pub(super) initial: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) max: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) reset_after: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) max_restarts: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawAgent {
    #[serde(default)]
    pub(super) commands: Option<Vec<String>>,
    #[serde(default)]
    pub(super) shells: Option<Vec<String>>,
    #[serde(default)]
    pub(super) working_patterns: Option<Vec<String>>,
    #[serde(default)]
    pub(super) waiting_patterns: Option<Vec<String>>,
    #[serde(default)]
    pub(super) busy_window: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) hung_after: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) on_hung: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawNotify {
    #[serde(default)]
    pub(super) bell: Option<bool>,
    #[serde(default)]
    pub(super) command: Option<Vec<String>>,
    #[serde(default)]
    pub(super) done: Option<bool>,
    #[serde(default)]
    pub(super) min_interval: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) timeout: Option<serde_yaml::Value>,
}
