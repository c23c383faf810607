//! The config as written: raw structs filled by `serde_yaml`, before defaults and rules.
//! Unknown keys are not rejected here: the position scan has already reported every one.

use std::collections::BTreeMap;

use serde::Deserialize;

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
    pub(super) status_file: Option<String>,
    #[serde(default)]
    pub(super) state_dir: Option<String>,
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
}
