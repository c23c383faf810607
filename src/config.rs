//! Configuration: YAML → defaults → validation, every problem collected with its file, line and column.
//!
//! Loading runs in three steps. First the YAML is read as an event stream (yaml-rust2) to learn
//! where every key stands and to report every unknown key at once. Then it is deserialized
//! through the `serde_yaml` API into raw structs. Last, the raw values are checked against the
//! rules of the design (names, ranges, collisions, durations) and resolved into a [`Config`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod agents;
mod checker;
mod error;
mod hosts;
mod positions;
mod raw;
mod scan;
mod slots;
mod source;
mod validate;

pub use error::{ConfigError, Problem};
pub use hosts::{HostConfig, valid_host_name};
pub use source::{ConfigSource, Found, default_state_dir, expand_home};

use checker::Checker;
use raw::RawConfig;
use scan::scan;
pub use source::home_dir;
use validate::resolve;

/// The production layout, compiled in: used when no config file is found.
pub const DEFAULT_YAML: &str = include_str!("../config.example.yaml");

/// Name shown for the embedded default in messages.
pub const EMBEDDED: &str = "<embedded default config>";

/// Deepest nesting of mappings and sequences accepted in a config file.
pub const MAX_NESTING: usize = 32;

/// Highest `max` a pool may have: beyond this a pool is a typo, not a pool.
pub const MAX_SLOTS_PER_POOL: u32 = 10_000;

/// What the supervisor does when a slot's session is missing or dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// Shown and audited, never acted on automatically.
    Never,
    /// Restarted only when it died with a non-zero status, a signal, or while working.
    OnFailure,
    /// Kept alive: missing or dead is recreated.
    Always,
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Never => "never",
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
        }
    }
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The agent a pool's slots run, when the supervisor knows it more closely than "a program".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    /// Claude Code: pinned session ids, `--resume` on recreate, hooks (DESIGN §11).
    Claude,
}

impl AgentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Claude => "claude",
        }
    }
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where it came from: a file path or [`EMBEDDED`].
    pub source: String,
    pub socket_name: Option<String>,
    pub socket_path: Option<PathBuf>,
    pub poll_interval: Duration,
    pub reconcile_interval: Duration,
    pub pools: Vec<PoolConfig>,
    pub sessions: Vec<SessionConfig>,
    pub backoff: BackoffConfig,
    pub agent: AgentConfig,
    pub notify: NotifyConfig,
    pub status_file: Option<PathBuf>,
    pub state_dir: PathBuf,
    /// Where the daemon serves Prometheus metrics (`/metrics`), if anywhere.
    pub metrics: Option<std::net::SocketAddr>,
    /// Push (DESIGN.md §12): a dead or missing slot is noticed at once (tmux hooks on the slot
    /// panes, their processes followed, agent hooks' wake-ups), not at the next poll.
    pub push: bool,
    /// Other machines holding pools, by name (DESIGN.md §15); empty: this machine only.
    pub hosts: BTreeMap<String, HostConfig>,
}

/// A metrics address: a bare port (`9464`) is on loopback; any other address only as named
/// (`0.0.0.0:9464`, `[::1]:9464`).
pub fn metrics_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!("`{text}` is not a port or an address with a port (`9464`, `127.0.0.1:9464`)")
    })
}

/// A pool of numbered sessions `prefix + index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    pub name: String,
    pub prefix: String,
    pub start_index: u32,
    /// Slots watched: `[start_index, start_index + max)`.
    pub max: u32,
    /// Slots kept alive: `[start_index, start_index + min)`.
    pub min: u32,
    pub restart: Restart,
    pub workdir: PathBuf,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub agent: Option<AgentKind>,
    /// The host (a key of [`Config::hosts`]) whose tmux server holds it; `None`: this machine.
    pub host: Option<String>,
}

/// A single named session with its own working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub name: String,
    pub restart: Restart,
    pub workdir: PathBuf,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub agent: Option<AgentKind>,
    /// The host (a key of [`Config::hosts`]) whose tmux server holds it; `None`: this machine.
    pub host: Option<String>,
}

/// Per-slot restart backoff for crash loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    pub initial: Duration,
    pub max: Duration,
    pub reset_after: Duration,
    /// 0 = never give up.
    pub max_restarts: u32,
}

/// How a pane's activity is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    pub commands: Vec<String>,
    pub shells: Vec<String>,
    pub working_patterns: Vec<String>,
    pub waiting_patterns: Vec<String>,
    pub busy_window: Duration,
    /// A Claude Code slot `working` with no progress for this long is `hung`.
    pub hung_after: Duration,
    /// A hung slot is interrupted and respawned with its conversation (off by default).
    pub restart_hung: bool,
}

/// Telling the operator when a slot starts needing them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Ring the terminal bell in the supervisor's own window (tmux flags it).
    pub bell: bool,
    /// An argv run detached on each notice, with `TMUX_SUPERVISOR_SLOT`, `_STATE`, `_REASON`
    /// and `_POOL` in its environment.
    pub command: Vec<String>,
    /// Also notify `working` → `idle` ("done").
    pub done: bool,
    /// At most one notice per slot this often.
    pub min_interval: Duration,
    /// The command is killed after this long.
    pub timeout: Duration,
}

impl Config {
    /// The configured tmux server (the config and the command line set at most one of the two).
    pub fn endpoint(&self) -> crate::tmux::Endpoint {
        crate::tmux::Endpoint {
            socket_name: self.socket_name.clone(),
            socket_path: self.socket_path.clone(),
        }
    }

    /// Parses and validates `text`; `file` names it in every message.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        Self::parse_with_home(text, file, &home_dir())
    }

    /// As [`Config::parse`], with `~` meaning `home`.
    pub fn parse_with_home(text: &str, file: &str, home: &Path) -> Result<Config, ConfigError> {
        let fail = |problems: Vec<Problem>| ConfigError {
            file: file.to_string(),
            problems,
        };

        // Step 1: positions and unknown keys.
        let scan = scan(text).map_err(|p| fail(vec![p]))?;
        // Step 2: the raw shape.
        let raw = RawConfig::read(text).map_err(|p| fail(vec![p]))?;

        // Step 3: defaults and rules.
        let mut ck = Checker {
            pos: &scan.positions,
            problems: scan.unknown,
            misspelt: scan.misspelt,
        };
        let cfg = resolve(raw, &mut ck, file, home);
        if ck.problems.is_empty() {
            Ok(cfg)
        } else {
            ck.problems
                .sort_by_key(|p| (p.line.unwrap_or(usize::MAX), p.column));
            Err(fail(ck.problems))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_metrics_port_alone_is_on_loopback_and_an_address_as_named() {
        assert_eq!(metrics_addr("9464").unwrap().to_string(), "127.0.0.1:9464");
        assert_eq!(
            metrics_addr("0.0.0.0:9464").unwrap().to_string(),
            "0.0.0.0:9464"
        );
        assert_eq!(metrics_addr("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert!(metrics_addr("localhost").is_err());
        let err = Config::parse("metrics: nowhere\npools: []\n", "m.yaml").unwrap_err();
        assert!(err.to_string().contains("m.yaml:1:"), "{err}");
        assert!(err.to_string().contains("`nowhere` is not a port"), "{err}");
        let ok = Config::parse("metrics: 9464\npools: []\n", "m.yaml").unwrap();
        assert_eq!(ok.metrics.unwrap().to_string(), "127.0.0.1:9464");
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_with_home(text, "test.yaml", Path::new("/home/op"))
    }

    #[test]
    fn push_is_on_unless_the_config_turns_it_off() {
        assert!(parse("pools: []\n").unwrap().push);
        assert!(parse("push: true\npools: []\n").unwrap().push);
        assert!(!parse("push: false\npools: []\n").unwrap().push);
        for bad in ["push: maybe\n", "push: 1\n", "push: [off]\n"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("test.yaml:1:"), "{bad}: {err}");
        }
        let err = parse("pusj: false\n").unwrap_err().to_string();
        assert!(err.contains("did you mean `push`"), "{err}");
    }

    #[test]
    fn embedded_default_is_the_production_layout() {
        let cfg = parse(DEFAULT_YAML).unwrap();
        assert_eq!(cfg.pools.len(), 2);
        let manual = &cfg.pools[0];
        assert_eq!(
            (
                manual.prefix.as_str(),
                manual.start_index,
                manual.max,
                manual.restart
            ),
            ("ccl-", 0, 10, Restart::Never)
        );
        let auto = &cfg.pools[1];
        assert_eq!(
            (
                auto.prefix.as_str(),
                auto.start_index,
                auto.max,
                auto.min,
                auto.restart
            ),
            ("ccl-auto-", 11, 10, 10, Restart::Always)
        );
        assert_eq!(auto.workdir, PathBuf::from("/home/op"));
        assert_eq!(cfg.poll_interval, Duration::from_secs(1));
        assert_eq!(cfg.reconcile_interval, Duration::from_secs(5));
        assert_eq!(cfg.backoff.max, Duration::from_secs(300));
        assert!(cfg.sessions.is_empty());
        assert_eq!(cfg.socket_name, None);
    }

    #[test]
    fn empty_file_gives_defaults_and_no_pools() {
        let cfg = parse("").unwrap();
        assert!(cfg.pools.is_empty());
        assert_eq!(cfg.agent.busy_window, Duration::from_secs(3));
    }

    #[test]
    fn all_problems_are_reported_together_in_line_order() {
        let err = parse(
            "poll_interval: soon\npools:\n  - name: a\n    prefix: \"x.\"\n    max: 0\n    restart: always\n",
        )
        .unwrap_err();
        let lines: Vec<_> = err.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![Some(1), Some(4), Some(5)], "{err}");
    }

    #[test]
    fn unknown_key_suggests_the_near_one_and_the_other_rules_still_run() {
        let err = parse("pools:\n  - name: a\n    prefx: b\n    max: 0\n    restart: always\n")
            .unwrap_err();
        let p = &err.problems[0];
        assert_eq!((p.line, p.column), (Some(3), Some(5)));
        assert!(p.message.contains("prefx"));
        assert_eq!(p.hint.as_deref(), Some("did you mean `prefix`?"));
        // Reported together with the other rules, but not again as a missing `prefix`.
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(
            err.problems[1].message.contains("`max` must be at least 1"),
            "{err}"
        );
    }

    #[test]
    fn subtle_collision_between_prefixes_is_found() {
        let err = parse(
            "pools:\n  - {name: a, prefix: \"ccl-1\", start_index: 1, max: 1, restart: never}\n  - {name: b, prefix: \"ccl-\", start_index: 11, max: 1, restart: never}\n",
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        let m = &err.problems[0].message;
        assert!(
            m.contains("`ccl-11`") && m.contains("pool `a`") && m.contains("pool `b`"),
            "{m}"
        );
        assert_eq!(err.problems[0].line, Some(3));
    }

    #[test]
    fn names_are_checked_for_tmux() {
        let dedicated = |name: &str| {
            parse(&format!(
                "sessions:\n  - {{name: {name:?}, restart: never}}\n"
            ))
        };
        for bad in ["a.b", "a:b", "a#b", "a;b", "a b", "a\tb", ""] {
            let err = dedicated(bad).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{bad:?}: {err}");
            let problem = &err.problems[0];
            let why = crate::tmux::check_session_name(bad).unwrap_err();
            assert!(
                problem.message.ends_with(&why.to_string()),
                "{bad:?}: {err}"
            );
            assert_eq!(
                problem.hint.as_deref(),
                Some(crate::tmux::NameProblem::RULE)
            );
        }
        assert!(dedicated("ccl-auto-11").is_ok());
    }
}
