//! Configuration: YAML → defaults → validation, every problem collected with its file, line and column.
//!
//! Loading runs in three steps. First the YAML is read as an event stream (yaml-rust2) to learn
//! where every key stands and to report every unknown key at once. Then it is deserialized
//! through the `serde_yaml` API into raw structs. Last, the raw values are checked against the
//! rules of the design (names, ranges, collisions, durations) and resolved into a [`Config`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use yaml_rust2::Event;
use yaml_rust2::parser::{MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// The production layout, compiled in: used when no config file is found.
pub const DEFAULT_YAML: &str = include_str!("../config.example.yaml");

/// Name shown for the embedded default in messages.
pub const EMBEDDED: &str = "<embedded default config>";

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
    pub status_file: Option<PathBuf>,
    pub state_dir: PathBuf,
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
}

/// A single named session with its own working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub name: String,
    pub restart: Restart,
    pub workdir: PathBuf,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
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
}

/// One thing wrong with a config, located where the YAML allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{}: {n} problem{} in the config; nothing was started",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            match (p.line, p.column) {
                (Some(l), Some(c)) => write!(f, "  {}:{l}:{c}: {}", self.file, p.message)?,
                (Some(l), None) => write!(f, "  {}:{l}: {}", self.file, p.message)?,
                _ => write!(f, "  {}: {}", self.file, p.message)?,
            }
            if let Some(h) = &p.hint {
                write!(f, "\n      hint: {h}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Where the config is read from, in the order of the design: `--config`, then
/// `$TMUX_SUPERVISOR_CONFIG`, then `$XDG_CONFIG_HOME/tmux-supervisor/config.yaml`
/// (if that file exists), then the embedded default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    Embedded,
}

impl ConfigSource {
    /// `var` looks up an environment variable; `exists` tells whether a file exists.
    pub fn locate(
        cli: Option<&Path>,
        var: impl Fn(&str) -> Option<String>,
        exists: impl Fn(&Path) -> bool,
    ) -> Self {
        if let Some(p) = cli {
            return ConfigSource::File(p.to_path_buf());
        }
        if let Some(p) = var("TMUX_SUPERVISOR_CONFIG").filter(|s| !s.is_empty()) {
            return ConfigSource::File(PathBuf::from(p));
        }
        let base = var("XDG_CONFIG_HOME")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| Path::new(&h).join(".config")));
        if let Some(base) = base {
            let p = base.join("tmux-supervisor").join("config.yaml");
            if exists(&p) {
                return ConfigSource::File(p);
            }
        }
        ConfigSource::Embedded
    }

    /// Where it is found with the process's real environment.
    pub fn from_env(cli: Option<&Path>) -> Self {
        Self::locate(cli, |k| std::env::var(k).ok(), Path::is_file)
    }

    /// Reads and loads the config.
    pub fn load(&self) -> Result<Config, ConfigError> {
        match self {
            ConfigSource::Embedded => Config::parse(DEFAULT_YAML, EMBEDDED),
            ConfigSource::File(p) => {
                let name = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError {
                    file: name.clone(),
                    problems: vec![Problem {
                        line: None,
                        column: None,
                        message: format!("cannot read the config file: {e}"),
                        hint: Some(
                            "check the path given with --config or $TMUX_SUPERVISOR_CONFIG".into(),
                        ),
                    }],
                })?;
                Config::parse(&text, &name)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Step 1: where every key stands, and which keys are unknown.

/// Line and column (both 1-based) of every key and sequence item, by path
/// (`pools[1].prefix`, `sessions[0]`).
#[derive(Debug, Default)]
struct Positions {
    at: HashMap<String, (usize, usize)>,
    /// (parent path, key, position) of every mapping key, in document order.
    keys: Vec<(String, String, (usize, usize))>,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct PositionReceiver {
    pos: Positions,
    stack: Vec<Frame>,
}

impl PositionReceiver {
    /// The path of the node that starts now, or `None` when it is a mapping key (then recorded).
    fn place(&mut self, ev: &Event, mark: Marker) -> Option<String> {
        let here = (mark.line(), mark.col() + 1);
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { path, key }) => {
                if let Some(k) = key.take() {
                    Some(join(path, &k))
                } else {
                    let name = match ev {
                        Event::Scalar(s, ..) => s.clone(),
                        _ => "?".to_string(),
                    };
                    // yaml-rust2 marks a block mapping that is a sequence item at the `:` after
                    // its first key; point at the key itself.
                    if let Some(start) = self.pos.at.get_mut(path.as_str())
                        && start.0 == here.0
                        && start.1 > here.1
                    {
                        *start = here;
                    }
                    let full = join(path, &name);
                    self.pos.at.insert(full, here);
                    self.pos.keys.push((path.clone(), name.clone(), here));
                    *key = Some(name);
                    None
                }
            }
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                self.pos.at.entry(p.clone()).or_insert(here);
                Some(p)
            }
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl MarkedEventReceiver for PositionReceiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match &ev {
            Event::Scalar(..) | Event::Alias(..) => {
                self.place(&ev, mark);
            }
            Event::MappingStart(..) => {
                if let Some(path) = self.place(&ev, mark) {
                    self.stack.push(Frame::Map { path, key: None });
                } else {
                    // A complex key: track it as an anonymous mapping so the stack stays balanced.
                    self.stack.push(Frame::Map {
                        path: "?".into(),
                        key: None,
                    });
                }
            }
            Event::SequenceStart(..) => {
                let path = self.place(&ev, mark).unwrap_or_else(|| "?".into());
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

/// The keys each mapping may hold, by path with indices removed; `None` = free-form (env).
fn known_keys(parent: &str) -> Option<&'static [&'static str]> {
    let generic: String = {
        let mut out = String::new();
        let mut skip = false;
        for c in parent.chars() {
            match c {
                '[' => skip = true,
                ']' => {
                    skip = false;
                    out.push_str("[]");
                }
                _ if !skip => out.push(c),
                _ => {}
            }
        }
        out
    };
    Some(match generic.as_str() {
        "" => &[
            "tmux",
            "poll_interval",
            "reconcile_interval",
            "pools",
            "sessions",
            "backoff",
            "agent",
            "status_file",
            "state_dir",
        ],
        "tmux" => &["socket_name", "socket_path"],
        "pools[]" => &[
            "name",
            "prefix",
            "start_index",
            "max",
            "min",
            "restart",
            "workdir",
            "command",
            "env",
        ],
        "sessions[]" => &["name", "restart", "workdir", "command", "env"],
        "backoff" => &["initial", "max", "reset_after", "max_restarts"],
        "agent" => &[
            "commands",
            "shells",
            "working_patterns",
            "waiting_patterns",
            "busy_window",
        ],
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Step 2: the raw shape, as written.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    tmux: Option<RawTmux>,
    #[serde(default)]
    poll_interval: Option<serde_yaml::Value>,
    #[serde(default)]
    reconcile_interval: Option<serde_yaml::Value>,
    #[serde(default)]
    pools: Option<Vec<RawPool>>,
    #[serde(default)]
    sessions: Option<Vec<RawSession>>,
    #[serde(default)]
    backoff: Option<RawBackoff>,
    #[serde(default)]
    agent: Option<RawAgent>,
    #[serde(default)]
    status_file: Option<String>,
    #[serde(default)]
    state_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTmux {
    #[serde(default)]
    socket_name: Option<String>,
    #[serde(default)]
    socket_path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    name: Option<String>,
    prefix: Option<String>,
    #[serde(default)]
    start_index: Option<serde_yaml::Value>,
    #[serde(default)]
    max: Option<serde_yaml::Value>,
    #[serde(default)]
    min: Option<serde_yaml::Value>,
    #[serde(default)]
    restart: Option<serde_yaml::Value>,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    env: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    name: Option<String>,
    #[serde(default)]
    restart: Option<serde_yaml::Value>,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    env: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackoff {
    #[serde(default)]
    initial: Option<serde_yaml::Value>,
    #[serde(default)]
    max: Option<serde_yaml::Value>,
    #[serde(default)]
    reset_after: Option<serde_yaml::Value>,
    #[serde(default)]
    max_restarts: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    #[serde(default)]
    commands: Option<Vec<String>>,
    #[serde(default)]
    shells: Option<Vec<String>>,
    #[serde(default)]
    working_patterns: Option<Vec<String>>,
    #[serde(default)]
    waiting_patterns: Option<Vec<String>>,
    #[serde(default)]
    busy_window: Option<serde_yaml::Value>,
}

// ---------------------------------------------------------------------------------------------
// Step 3: defaults and validation.

/// Collects problems, locating each by its YAML path.
struct Checker<'a> {
    pos: &'a Positions,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn at(&mut self, path: &str, message: impl Into<String>, hint: Option<&str>) {
        let (line, column) = self.locate(path);
        self.problems.push(Problem {
            line,
            column,
            message: message.into(),
            hint: hint.map(str::to_string),
        });
    }

    /// The position of `path`, else of its nearest ancestor that has one.
    fn locate(&self, path: &str) -> (Option<usize>, Option<usize>) {
        let mut p = path;
        loop {
            if let Some(&(l, c)) = self.pos.at.get(p) {
                return (Some(l), Some(c));
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return (None, None),
            }
        }
    }

    fn duration(
        &mut self,
        path: &str,
        v: Option<&serde_yaml::Value>,
        default: Duration,
    ) -> Duration {
        let Some(v) = v else { return default };
        let text = match v {
            serde_yaml::Value::String(s) => s.clone(),
            serde_yaml::Value::Null => return default,
            other => {
                let shown = serde_yaml::to_string(other).unwrap_or_default();
                self.at(
                    path,
                    format!(
                        "`{path}` must be a duration with a unit, not `{}`",
                        shown.trim()
                    ),
                    Some("write it like 500ms, 2s, 5m or 1h"),
                );
                return default;
            }
        };
        match humantime::parse_duration(text.trim()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.at(
                    path,
                    format!("`{path}` must be longer than zero"),
                    Some("write it like 500ms, 2s, 5m or 1h"),
                );
                default
            }
            Err(e) => {
                self.at(
                    path,
                    format!("`{path}`: `{text}` is not a duration ({e})"),
                    Some("write it like 500ms, 2s, 5m or 1h"),
                );
                default
            }
        }
    }

    /// A whole number >= 0, or `None` when absent or wrong (then reported).
    fn uint(&mut self, path: &str, v: Option<&serde_yaml::Value>) -> Option<u32> {
        let v = v?;
        if v.is_null() {
            return None;
        }
        if let Some(n) = v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            return Some(n);
        }
        let shown = serde_yaml::to_string(v).unwrap_or_default();
        self.at(
            path,
            format!("`{path}` must be a whole number, not `{}`", shown.trim()),
            Some("write a number such as 0, 10 or 11, without quotes"),
        );
        None
    }

    /// A restart policy; a missing one is reported as missing.
    fn restart(&mut self, path: &str, what: &str, v: Option<&serde_yaml::Value>) -> Restart {
        let hint = Some("say it explicitly: restart: never | on-failure | always");
        match v.and_then(serde_yaml::Value::as_str) {
            Some("never") => Restart::Never,
            Some("on-failure") => Restart::OnFailure,
            Some("always") => Restart::Always,
            Some(other) => {
                self.at(
                    &format!("{path}.restart"),
                    format!("{what}: `{other}` is not a restart policy"),
                    hint,
                );
                Restart::Never
            }
            None if v.is_some_and(|v| !v.is_null()) => {
                self.at(
                    &format!("{path}.restart"),
                    format!("{what}: `restart` must be a word"),
                    hint,
                );
                Restart::Never
            }
            None => {
                self.at(path, format!("{what} has no `restart` policy"), hint);
                Restart::Never
            }
        }
    }

    /// Checks that `name` can be a tmux session name exactly as written.
    fn session_name(&mut self, path: &str, what: &str, name: &str) {
        if let Some(why) = bad_name_reason(name) {
            self.at(
                path,
                format!("{what} `{}` {why}", name.escape_debug()),
                Some("tmux session names may not contain . : # ; whitespace or control characters"),
            );
        }
    }
}

/// Why a string cannot be a tmux session name, if it cannot.
pub fn bad_name_reason(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    for c in name.chars() {
        let bad = match c {
            '.' | ':' => Some("tmux rewrites it"),
            '#' => Some("tmux expands it as a format"),
            ';' => Some("tmux reads it as a command separator"),
            c if c.is_whitespace() => Some("whitespace is not allowed"),
            c if c.is_control() => Some("control characters are not allowed"),
            _ => None,
        };
        if let Some(why) = bad {
            return Some(format!("contains `{}`: {why}", c.escape_debug()));
        }
    }
    None
}

/// Expands a leading `~` to the home directory.
pub fn expand_home(path: &str, home: &Path) -> PathBuf {
    if path == "~" {
        home.to_path_buf()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(path)
    }
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

/// `$XDG_STATE_HOME/tmux-supervisor`, else `~/.local/state/tmux-supervisor`.
pub fn default_state_dir(home: &Path) -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|s| !s.is_empty())
        .map_or_else(|| home.join(".local").join("state"), PathBuf::from)
        .join("tmux-supervisor")
}

fn strings(v: Option<Vec<String>>, default: &[&str]) -> Vec<String> {
    v.unwrap_or_else(|| default.iter().map(|s| (*s).to_string()).collect())
}

impl Config {
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
        let mut recv = PositionReceiver::default();
        if let Err(e) = Parser::new_from_str(text).load(&mut recv, false) {
            let m = e.marker();
            return Err(fail(vec![Problem {
                line: Some(m.line()),
                column: Some(m.col() + 1),
                message: format!("YAML syntax error: {}", e.info()),
                hint: Some("check the indentation and quoting around this line".into()),
            }]));
        }
        let pos = recv.pos;
        let mut unknown = Vec::new();
        for (parent, key, (line, col)) in &pos.keys {
            if let Some(known) = known_keys(parent)
                && !known.contains(&key.as_str())
            {
                {
                    let place = if parent.is_empty() {
                        "at the top level".to_string()
                    } else {
                        format!("in `{parent}`")
                    };
                    unknown.push(Problem {
                        line: Some(*line),
                        column: Some(*col),
                        message: format!("unknown key `{key}` {place}"),
                        hint: Some(match closest(key, known) {
                            Some(k) => format!("did you mean `{k}`?"),
                            None => format!("known keys here: {}", known.join(", ")),
                        }),
                    });
                }
            }
        }
        if !unknown.is_empty() {
            return Err(fail(unknown));
        }

        // Step 2: the raw shape.
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_yaml::from_str::<Option<RawConfig>>(text)
                .map_err(|e| {
                    let loc = e.location();
                    fail(vec![Problem {
                        line: loc.as_ref().map(serde_yaml::Location::line),
                        column: loc.as_ref().map(serde_yaml::Location::column),
                        message: strip_location(&e.to_string()),
                        hint: Some(
                            "compare with config.example.yaml for the expected type of each key"
                                .into(),
                        ),
                    }])
                })?
                .unwrap_or_default()
        };

        // Step 3: defaults and rules.
        let mut ck = Checker {
            pos: &pos,
            problems: Vec::new(),
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

    /// Every slot name the config defines, with where it comes from, in config order.
    pub fn slot_sources(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for p in &self.pools {
            for i in p.start_index..p.start_index.saturating_add(p.max) {
                out.push((
                    format!("{}{i}", p.prefix),
                    format!("pool `{}` (prefix `{}`, index {i})", p.name, p.prefix),
                ));
            }
        }
        for s in &self.sessions {
            out.push((s.name.clone(), format!("dedicated session `{}`", s.name)));
        }
        out
    }
}

/// `serde_yaml` appends " at line L column C"; the location is printed separately.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// The known key nearest to a misspelt one (at most two edits away).
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn resolve(raw: RawConfig, ck: &mut Checker<'_>, file: &str, home: &Path) -> Config {
    let tmux = raw.tmux.unwrap_or_default();
    let socket_name = tmux.socket_name.filter(|s| !s.is_empty());
    let socket_path = tmux.socket_path.filter(|s| !s.is_empty());
    if socket_name.is_some() && socket_path.is_some() {
        ck.at(
            "tmux.socket_path",
            "`tmux.socket_name` and `tmux.socket_path` are both set",
            Some("set at most one: socket_name is tmux -L, socket_path is tmux -S"),
        );
    }

    let poll_interval = ck.duration(
        "poll_interval",
        raw.poll_interval.as_ref(),
        Duration::from_secs(1),
    );
    let reconcile_interval = ck.duration(
        "reconcile_interval",
        raw.reconcile_interval.as_ref(),
        Duration::from_secs(5),
    );

    let rb = raw.backoff.unwrap_or_default();
    let backoff = BackoffConfig {
        initial: ck.duration(
            "backoff.initial",
            rb.initial.as_ref(),
            Duration::from_secs(2),
        ),
        max: ck.duration("backoff.max", rb.max.as_ref(), Duration::from_secs(300)),
        reset_after: ck.duration(
            "backoff.reset_after",
            rb.reset_after.as_ref(),
            Duration::from_secs(600),
        ),
        max_restarts: ck
            .uint("backoff.max_restarts", rb.max_restarts.as_ref())
            .unwrap_or(0),
    };
    if backoff.initial > backoff.max {
        ck.at(
            "backoff.initial",
            format!(
                "`backoff.initial` ({}) is longer than `backoff.max` ({})",
                humantime::format_duration(backoff.initial),
                humantime::format_duration(backoff.max)
            ),
            Some("the first delay cannot exceed the cap"),
        );
    }

    let ra = raw.agent.unwrap_or_default();
    let agent = AgentConfig {
        commands: strings(ra.commands, &["claude", "node"]),
        shells: strings(
            ra.shells,
            &["bash", "zsh", "sh", "fish", "dash", "ksh", "tcsh"],
        ),
        working_patterns: strings(
            ra.working_patterns,
            &["esc to interrupt", "ctrl+c to interrupt"],
        ),
        waiting_patterns: strings(ra.waiting_patterns, &["Do you want to", "[y/n]", "[Y/n]"]),
        busy_window: ck.duration(
            "agent.busy_window",
            ra.busy_window.as_ref(),
            Duration::from_secs(3),
        ),
    };
    for (key, list) in [
        ("working_patterns", &agent.working_patterns),
        ("waiting_patterns", &agent.waiting_patterns),
        ("commands", &agent.commands),
        ("shells", &agent.shells),
    ] {
        for (i, p) in list.iter().enumerate() {
            if p.is_empty() {
                ck.at(
                    &format!("agent.{key}[{i}]"),
                    format!("`agent.{key}` holds an empty string"),
                    Some("an empty pattern would match everything; remove it"),
                );
            }
        }
    }

    let mut pools = Vec::new();
    let mut pool_names: HashMap<String, usize> = HashMap::new();
    for (i, rp) in raw.pools.unwrap_or_default().into_iter().enumerate() {
        let at = format!("pools[{i}]");
        let name = rp.name.unwrap_or_default();
        if name.is_empty() {
            ck.at(
                &at,
                format!("pool {i} has no `name`"),
                Some("add `name: auto` or similar"),
            );
        } else if let Some(first) = pool_names.insert(name.clone(), i) {
            ck.at(
                &format!("{at}.name"),
                format!("pool name `{name}` is used twice (pools {first} and {i})"),
                Some("give every pool its own name"),
            );
        }
        let prefix = rp.prefix.unwrap_or_default();
        if prefix.is_empty() {
            ck.at(
                &format!("{at}.prefix"),
                format!("pool `{name}` has no `prefix`"),
                Some("slots are named prefix + index, e.g. prefix: \"ccl-auto-\""),
            );
        } else {
            ck.session_name(
                &format!("{at}.prefix"),
                &format!("pool `{name}` prefix"),
                &prefix,
            );
        }
        let start_index = ck
            .uint(&format!("{at}.start_index"), rp.start_index.as_ref())
            .unwrap_or(0);
        let given_max = ck.uint(&format!("{at}.max"), rp.max.as_ref());
        let max = given_max.unwrap_or(0);
        let given_min = ck.uint(&format!("{at}.min"), rp.min.as_ref());
        if rp.max.is_none() {
            ck.at(
                &at,
                format!("pool `{name}` has no `max`"),
                Some("max is the number of slots watched: [start_index, start_index+max)"),
            );
        } else if given_max.is_some() && max == 0 {
            ck.at(
                &format!("{at}.max"),
                format!("pool `{name}`: `max` must be at least 1"),
                Some("max is the number of slots watched: [start_index, start_index+max)"),
            );
        } else if given_max.is_some() && max > MAX_SLOTS_PER_POOL {
            ck.at(
                &format!("{at}.max"),
                format!("pool `{name}`: `max` {max} is more than {MAX_SLOTS_PER_POOL}"),
                None,
            );
        } else if start_index.checked_add(max).is_none() {
            ck.at(
                &format!("{at}.start_index"),
                format!("pool `{name}`: start_index + max overflows"),
                None,
            );
        }
        let min = given_min.unwrap_or(max);
        if min > max {
            ck.at(
                &format!("{at}.min"),
                format!("pool `{name}`: `min` ({min}) is greater than `max` ({max})"),
                Some("min slots are kept alive out of the max watched; min <= max"),
            );
        }
        let restart = ck.restart(&at, &format!("pool `{name}`"), rp.restart.as_ref());
        let env = rp.env.unwrap_or_default();
        check_env(ck, &format!("{at}.env"), &env);
        pools.push(PoolConfig {
            name,
            prefix,
            start_index,
            max: if max > MAX_SLOTS_PER_POOL { 0 } else { max },
            min: min.min(max),
            restart,
            workdir: expand_home(rp.workdir.as_deref().unwrap_or("~"), home),
            command: rp.command.unwrap_or_default(),
            env,
        });
    }

    let mut sessions = Vec::new();
    for (i, rs) in raw.sessions.unwrap_or_default().into_iter().enumerate() {
        let at = format!("sessions[{i}]");
        let name = rs.name.unwrap_or_default();
        ck.session_name(&format!("{at}.name"), "dedicated session name", &name);
        let restart = ck.restart(
            &at,
            &format!("dedicated session `{name}`"),
            rs.restart.as_ref(),
        );
        let env = rs.env.unwrap_or_default();
        check_env(ck, &format!("{at}.env"), &env);
        sessions.push(SessionConfig {
            name,
            restart,
            workdir: expand_home(rs.workdir.as_deref().unwrap_or("~"), home),
            command: rs.command.unwrap_or_default(),
            env,
        });
    }

    let cfg = Config {
        source: file.to_string(),
        socket_name,
        socket_path: socket_path.map(|p| expand_home(&p, home)),
        poll_interval,
        reconcile_interval,
        pools,
        sessions,
        backoff,
        agent,
        status_file: raw.status_file.map(|p| expand_home(&p, home)),
        state_dir: raw
            .state_dir
            .map_or_else(|| default_state_dir(home), |p| expand_home(&p, home)),
    };
    check_collisions(&cfg, ck);
    cfg
}

fn check_env(ck: &mut Checker<'_>, at: &str, env: &BTreeMap<String, String>) {
    for k in env.keys() {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            ck.at(
                &format!("{at}.{k}"),
                format!(
                    "environment variable name `{}` is not valid",
                    k.escape_debug()
                ),
                Some("a name may not be empty or contain `=`"),
            );
        }
    }
}

/// No two slots of the whole config may share a name.
fn check_collisions(cfg: &Config, ck: &mut Checker<'_>) {
    let mut seen: HashMap<String, (String, String)> = HashMap::new();
    let mut reported: HashSet<(String, String)> = HashSet::new();
    let paths: Vec<String> = cfg
        .pools
        .iter()
        .enumerate()
        .flat_map(|(i, p)| std::iter::repeat_n(format!("pools[{i}]"), p.max as usize))
        .chain((0..cfg.sessions.len()).map(|i| format!("sessions[{i}].name")))
        .collect();
    for ((name, source), path) in cfg.slot_sources().into_iter().zip(paths) {
        if name.is_empty() {
            continue;
        }
        if let Some((first, first_path)) = seen.get(&name) {
            let key = (first.clone(), source.clone());
            if reported.insert(key) {
                let hint = match (
                    first_path.starts_with("sessions"),
                    path.starts_with("sessions"),
                ) {
                    (false, false) => {
                        "make the ranges disjoint: change a prefix, start_index or max"
                    }
                    (true, true) => "give every dedicated session its own name",
                    _ => {
                        "rename the dedicated session, or change the pool's prefix, start_index \
                         or max so its range leaves this name out"
                    }
                };
                ck.at(
                    &path,
                    format!("slot `{name}` is defined twice: by {first} and by {source}"),
                    Some(hint),
                );
            }
        } else {
            seen.insert(name, (source, path));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_with_home(text, "test.yaml", Path::new("/home/op"))
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
    fn unknown_key_suggests_the_near_one() {
        let err = parse("pools:\n  - name: a\n    prefx: b\n").unwrap_err();
        assert_eq!(err.problems.len(), 1);
        let p = &err.problems[0];
        assert_eq!((p.line, p.column), (Some(3), Some(5)));
        assert!(p.message.contains("prefx"));
        assert_eq!(p.hint.as_deref(), Some("did you mean `prefix`?"));
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
        for bad in ["a.b", "a:b", "a#b", "a;b", "a b", "a\tb", ""] {
            assert!(bad_name_reason(bad).is_some(), "{bad:?}");
        }
        assert!(bad_name_reason("ccl-auto-11").is_none());
    }

    #[test]
    fn locate_follows_the_discovery_order() {
        let none = |_: &str| None;
        let no = |_: &Path| false;
        assert_eq!(
            ConfigSource::locate(Some(Path::new("/c.yaml")), |_| Some("/e".into()), no),
            ConfigSource::File("/c.yaml".into())
        );
        assert_eq!(
            ConfigSource::locate(
                None,
                |k| (k == "TMUX_SUPERVISOR_CONFIG").then(|| "/e.yaml".into()),
                no
            ),
            ConfigSource::File("/e.yaml".into())
        );
        let xdg = |k: &str| (k == "XDG_CONFIG_HOME").then(|| "/x".to_string());
        assert_eq!(
            ConfigSource::locate(None, xdg, |_| true),
            ConfigSource::File("/x/tmux-supervisor/config.yaml".into())
        );
        assert_eq!(ConfigSource::locate(None, xdg, no), ConfigSource::Embedded);
        assert_eq!(ConfigSource::locate(None, none, no), ConfigSource::Embedded);
    }

    #[test]
    fn home_is_expanded() {
        let h = Path::new("/home/op");
        assert_eq!(expand_home("~", h), PathBuf::from("/home/op"));
        assert_eq!(expand_home("~/src", h), PathBuf::from("/home/op/src"));
        assert_eq!(expand_home("/abs", h), PathBuf::from("/abs"));
    }
}
