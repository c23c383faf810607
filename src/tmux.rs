//! Talking to tmux: the `Tmux` trait, its CLI implementation (`TmuxCli`) and the snapshot parser.
//!
//! Everything here is synchronous and spawns `tmux` with an argv (never a shell string); async
//! callers run it in `spawn_blocking`. See DESIGN.md §4 for the rules this module enforces:
//! `-u` and the configured socket on every call, exact targets only, one `list-panes -a` per
//! poll, `remain-on-exit` set in the same call that creates a session.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::tmux_process::{self, Failure, Shutdown};

/// Which tmux server: -L name, -S path, or the default one.
///
/// When both are set, `socket_path` wins (as it does for tmux itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub socket_name: Option<String>,
    pub socket_path: Option<PathBuf>,
}

/// One pane row of the snapshot (one line of `list-panes -a`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    pub server_pid: u32,
    /// `$3`
    pub session_id: String,
    pub session_name: String,
    pub session_created: i64,
    pub session_activity: i64,
    pub session_attached: u32,
    pub window_activity: i64,
    /// `%7`
    pub pane_id: String,
    pub pane_pid: u32,
    pub pane_dead: bool,
    pub dead_status: Option<i32>,
    pub dead_signal: Option<i32>,
    pub current_command: String,
    pub title: String,
    pub current_path: String,
}

/// Every pane of every session of one server, from a single `list-panes -a` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub panes: Vec<Pane>,
    /// Lines that did not parse, kept for logging.
    pub rejected: Vec<String>,
}

impl Snapshot {
    /// The first pane of the session with exactly that name.
    pub fn session(&self, name: &str) -> Option<&Pane> {
        self.panes.iter().find(|p| p.session_name == name)
    }

    /// Each session name once, in snapshot order.
    pub fn session_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for pane in &self.panes {
            if !names.contains(&pane.session_name.as_str()) {
                names.push(&pane.session_name);
            }
        }
        names
    }

    /// The tmux server's pid, if there is at least one pane.
    pub fn server_pid(&self) -> Option<u32> {
        self.panes.first().map(|p| p.server_pid)
    }
}

/// The `list-panes -F` format: the fields of [`Pane`] joined by real TAB bytes, free text last.
pub const SNAPSHOT_FORMAT: &str = concat!(
    "#{pid}\t",
    "#{session_id}\t",
    "#{session_name}\t",
    "#{session_created}\t",
    "#{session_activity}\t",
    "#{session_attached}\t",
    "#{window_activity}\t",
    "#{pane_id}\t",
    "#{pane_pid}\t",
    "#{pane_dead}\t",
    "#{pane_dead_status}\t",
    "#{pane_dead_signal}\t",
    "#{pane_current_command}\t",
    "#{pane_title}\t",
    "#{pane_current_path}",
);

/// Number of TAB-separated fields in [`SNAPSHOT_FORMAT`].
const SNAPSHOT_FIELDS: usize = 15;

/// Parse the output of `list-panes -a -F SNAPSHOT_FORMAT`.
///
/// One [`Pane`] per good line; a line with too few fields, a malformed id or a non-numeric
/// numeric field goes to `rejected`. Blank lines are skipped. The 13 fixed fields are split from
/// the left, then the title up to the next tab, and the path is everything after it (so a path
/// containing a tab survives). An empty `pane_dead_status` / `pane_dead_signal` is `None`
/// (tmux 3.3a sometimes loses them; `pane_dead` is the truth). Never panics.
pub fn parse_snapshot(text: &str) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Some(pane) => snapshot.panes.push(pane),
            None => snapshot.rejected.push(line.to_owned()),
        }
    }
    snapshot
}

fn parse_line(line: &str) -> Option<Pane> {
    let f: Vec<&str> = line.splitn(SNAPSHOT_FIELDS, '\t').collect();
    if f.len() != SNAPSHOT_FIELDS {
        return None;
    }
    let id = |s: &str, sigil: char| -> Option<String> {
        let digits = s.strip_prefix(sigil)?;
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| s.to_owned())
    };
    let optional = |s: &str| -> Option<Option<i32>> {
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    Some(Pane {
        server_pid: f[0].parse().ok()?,
        session_id: id(f[1], '$')?,
        session_name: f[2].to_owned(),
        session_created: f[3].parse().ok()?,
        session_activity: f[4].parse().ok()?,
        session_attached: f[5].parse().ok()?,
        window_activity: f[6].parse().ok()?,
        pane_id: id(f[7], '%')?,
        pane_pid: f[8].parse().ok()?,
        pane_dead: match f[9] {
            "0" => false,
            "1" => true,
            _ => return None,
        },
        dead_status: optional(f[10])?,
        dead_signal: optional(f[11])?,
        current_command: f[12].to_owned(),
        title: f[13].to_owned(),
        current_path: f[14].to_owned(),
    })
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
        session_id: String,
        pane_id: String,
    },
    /// A session with that exact name already exists (someone else created it): re-poll.
    AlreadyExists,
}

/// Exact targets only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A session by exact name, rendered `=NAME:`.
    Name(String),
    /// A session id, `$3`.
    Session(String),
    /// A pane id, `%7`.
    Pane(String),
}

impl Target {
    /// The `-t` argument: `=NAME:`, `$3` or `%7`.
    pub fn render(&self) -> String {
        match self {
            Target::Name(name) => format!("={name}:"),
            Target::Session(id) | Target::Pane(id) => id.clone(),
        }
    }

    /// Refuse anything that tmux could resolve by prefix or pattern instead of exactly.
    fn validate(&self) -> Result<(), TmuxError> {
        let ok = match self {
            Target::Name(name) => validate_name(name).is_ok(),
            Target::Session(id) => is_id(id, '$'),
            Target::Pane(id) => is_id(id, '%'),
        };
        if ok {
            Ok(())
        } else {
            Err(TmuxError::InvalidTarget(self.render()))
        }
    }
}

fn is_id(s: &str, sigil: char) -> bool {
    s.strip_prefix(sigil)
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// tmux silently rewrites `.` and `:` to `_` and escapes control characters in session names;
/// such a name could then never be targeted exactly, so refuse it up front.
fn validate_name(name: &str) -> Result<(), TmuxError> {
    if name.is_empty() || name.chars().any(|c| c == '.' || c == ':' || c.is_control()) {
        Err(TmuxError::InvalidName(name.to_owned()))
    } else {
        Ok(())
    }
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
}

/// The real [`Tmux`]: runs the tmux CLI.
#[derive(Debug, Clone)]
pub struct TmuxCli {
    program: PathBuf,
    endpoint: Endpoint,
    config_file: Option<PathBuf>,
    timeout: Duration,
    shutdown: Shutdown,
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
        }
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

    /// The program with the base arguments (for `attach-session` by the UI).
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(self.base_args());
        command
    }

    /// `tmux -V`: `tmux 3.3a` → (3, 3); `tmux next-3.4` → (3, 4); `tmux master` → very new.
    pub fn version(&self) -> Result<(u32, u32), TmuxError> {
        let text = self.version_text()?;
        parse_version(&text).ok_or(TmuxError::BadOutput(text))
    }

    /// Fail with [`TmuxError::TooOld`] below 3.2; on success return the version (`3.3a`).
    pub fn check_version(&self) -> Result<String, TmuxError> {
        let text = self.version_text()?;
        let found = text.strip_prefix("tmux ").unwrap_or(&text).to_owned();
        match parse_version(&text) {
            Some(v) if v >= (3, 2) => Ok(found),
            Some(_) => Err(TmuxError::TooOld { found }),
            None => Err(TmuxError::BadOutput(text)),
        }
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
    fn run_raw(&self, args: &[Arg]) -> Result<Output, TmuxError> {
        let mut command = self.command();
        command.args(args.iter().map(Arg::to_os_string));
        tracing::trace!(args = %render_args(args), "tmux");
        tmux_process::run(command, self.timeout, &self.shutdown).map_err(|f| match f {
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
        })
    }

    /// Run and require a zero exit status.
    fn run(&self, args: &[Arg]) -> Result<Output, TmuxError> {
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

    fn capture_one(&self, pane: &str, lines: u32) -> Result<String, TmuxError> {
        let output = self.run(&capture_args(pane, lines))?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
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

fn stderr_text(output: &Output) -> String {
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

/// One argv element after the base arguments.
#[derive(Debug, Clone)]
enum Arg {
    /// A normal argument: a trailing `;` is escaped so tmux does not take it as a separator.
    Plain(OsString),
    /// A `-e` value: like `Plain`, but its value is redacted in error messages and logs.
    Secret(OsString),
    /// The `;` that separates two tmux commands in one invocation.
    Separator,
}

impl Arg {
    fn plain(s: impl Into<OsString>) -> Self {
        Arg::Plain(s.into())
    }

    fn to_os_string(&self) -> OsString {
        match self {
            Arg::Plain(s) | Arg::Secret(s) => escape_trailing_semicolon(s),
            Arg::Separator => OsString::from(";"),
        }
    }
}

/// tmux 3.3a splits commands at an argv element ending in `;` unless it ends in `\;`, in which
/// case it drops the backslash. So `a;` → `a\;` and `a\;` → `a\\;` both arrive unchanged.
fn escape_trailing_semicolon(s: &OsStr) -> OsString {
    let bytes = s.as_bytes();
    match bytes.split_last() {
        Some((b';', head)) => {
            let mut out = head.to_vec();
            out.extend_from_slice(b"\\;");
            OsString::from_vec(out)
        }
        _ => s.to_owned(),
    }
}

/// `-s` and `-c` are format-expanded by tmux: `#` must be doubled to arrive literally.
fn double_hashes(s: &OsStr) -> OsString {
    let mut out = Vec::with_capacity(s.len());
    for &b in s.as_bytes() {
        out.push(b);
        if b == b'#' {
            out.push(b'#');
        }
    }
    OsString::from_vec(out)
}

/// For error messages and logs: arguments joined by spaces, `-e` values redacted.
fn render_args(args: &[Arg]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|a| match a {
            Arg::Plain(s) => s.to_string_lossy().into_owned(),
            Arg::Secret(s) => {
                let s = s.to_string_lossy();
                match s.split_once('=') {
                    Some((k, _)) => format!("{k}=…"),
                    None => "…".to_owned(),
                }
            }
            Arg::Separator => ";".to_owned(),
        })
        .collect();
    let mut text = parts.join(" ");
    if text.len() > 300 {
        let mut cut = 300;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// `-c DIR [-e K=V …] [-- env CMD ARGS…]`, shared by new-session and respawn-pane.
///
/// An empty workdir means no `-c` (tmux's default). A workdir that is not a directory is an
/// error: tmux would silently start the pane somewhere else.
fn launch_args(launch: &Launch) -> Result<Vec<Arg>, TmuxError> {
    let mut args = Vec::new();
    if !launch.workdir.as_os_str().is_empty() {
        if !launch.workdir.is_dir() {
            return Err(TmuxError::NoWorkdir(launch.workdir.clone()));
        }
        args.push(Arg::plain("-c"));
        args.push(Arg::Plain(double_hashes(launch.workdir.as_os_str())));
    }
    for (key, value) in &launch.env {
        args.push(Arg::plain("-e"));
        args.push(Arg::Secret(format!("{key}={value}").into()));
    }
    if !launch.command.is_empty() {
        // With `env` in front even a one-word command has two argv elements, so tmux execs it
        // directly instead of through `sh -c`.
        args.push(Arg::plain("--"));
        args.push(Arg::plain("env"));
        args.extend(launch.command.iter().map(|a| Arg::plain(a.as_str())));
    }
    Ok(args)
}

fn capture_args(pane: &str, lines: u32) -> Vec<Arg> {
    vec![
        Arg::plain("capture-pane"),
        Arg::plain("-p"),
        Arg::plain("-J"),
        Arg::plain("-t"),
        Arg::plain(pane),
        Arg::plain("-S"),
        Arg::plain(format!("-{lines}")),
    ]
}

/// Keep the last `lines` lines of a capture, ignoring the blank rows below the cursor.
fn last_lines(text: &str, lines: u32) -> String {
    let mut rows: Vec<&str> = text.lines().collect();
    while rows.last().is_some_and(|r| r.trim().is_empty()) {
        rows.pop();
    }
    let start = rows.len().saturating_sub(lines as usize);
    let mut out = String::new();
    for row in &rows[start..] {
        out.push_str(row);
        out.push('\n');
    }
    out
}

/// A marker line that no pane will print by accident (and that has no `#` to expand).
fn unique_marker() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "@@tmux-supervisor-capture-{}-{}-{nanos}@@",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `stderr` of a `list-panes -a` that found no server to talk to, or a server without any
/// session (tmux 3.3a then says "no current target", e.g. just after the last session was
/// killed and before the server exits): both mean zero sessions.
fn means_zero_sessions(stderr: &str) -> bool {
    stderr.contains("no server running on")
        || stderr.contains("no current target")
        || stderr.contains("error connecting to")
        || stderr.contains("No such file or directory")
        || stderr.contains("server exited unexpectedly")
}

impl Tmux for TmuxCli {
    fn snapshot(&self) -> Result<Snapshot, TmuxError> {
        let args = [
            Arg::plain("list-panes"),
            Arg::plain("-a"),
            Arg::plain("-F"),
            Arg::plain(SNAPSHOT_FORMAT),
        ];
        let output = self.run_raw(&args)?;
        if !output.status.success() {
            let message = stderr_text(&output);
            if means_zero_sessions(&message) {
                return Ok(Snapshot::default());
            }
            return Err(TmuxError::Failed {
                args: render_args(&args),
                message,
            });
        }
        // Rejected lines are the caller's to report (the supervisor logs each once).
        Ok(parse_snapshot(&String::from_utf8_lossy(&output.stdout)))
    }

    fn create(&self, launch: &Launch) -> Result<Created, TmuxError> {
        validate_name(&launch.name)?;
        let mut args = vec![
            Arg::plain("new-session"),
            Arg::plain("-d"),
            Arg::plain("-P"),
            Arg::plain("-F"),
            Arg::plain("#{session_id}\t#{pane_id}"),
            Arg::plain("-s"),
            Arg::Plain(double_hashes(OsStr::new(&launch.name))),
            Arg::plain("-x"),
            Arg::plain("200"),
            Arg::plain("-y"),
            Arg::plain("50"),
        ];
        args.extend(launch_args(launch)?);
        args.extend([
            Arg::Separator,
            Arg::plain("set-option"),
            Arg::plain("-w"),
            Arg::plain("-t"),
            Arg::plain(Target::Name(launch.name.clone()).render()),
            Arg::plain("remain-on-exit"),
            Arg::plain("on"),
        ]);
        let output = self.run_raw(&args)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            let message = stderr_text(&output);
            if message.contains("duplicate session") {
                return Ok(Created::AlreadyExists);
            }
            return Err(TmuxError::Failed {
                args: render_args(&args),
                message,
            });
        }
        let line = stdout.lines().next().unwrap_or_default();
        match line.split_once('\t') {
            Some((session_id, pane_id)) if is_id(session_id, '$') && is_id(pane_id, '%') => {
                Ok(Created::New {
                    session_id: session_id.to_owned(),
                    pane_id: pane_id.to_owned(),
                })
            }
            _ => Err(TmuxError::BadOutput(format!(
                "new-session -P printed {:?}",
                stdout.trim_end()
            ))),
        }
    }

    fn respawn(&self, pane_id: &str, launch: &Launch) -> Result<(), TmuxError> {
        let target = Target::Pane(pane_id.to_owned());
        target.validate()?;
        let mut args = vec![
            Arg::plain("respawn-pane"),
            Arg::plain("-k"),
            Arg::plain("-t"),
            Arg::plain(target.render()),
        ];
        args.extend(launch_args(launch)?);
        self.run(&args).map(drop)
    }

    fn kill(&self, target: &Target) -> Result<(), TmuxError> {
        target.validate()?;
        self.run(&[
            Arg::plain("kill-session"),
            Arg::plain("-t"),
            Arg::plain(target.render()),
        ])
        .map(drop)
    }

    fn capture(&self, panes: &[String], lines: u32) -> Result<HashMap<String, String>, TmuxError> {
        let lines = lines.max(1);
        let mut result = HashMap::new();
        if panes.is_empty() {
            return Ok(result);
        }
        for pane in panes {
            Target::Pane(pane.clone()).validate()?;
        }
        let marker = unique_marker();
        let mut args = Vec::new();
        for pane in panes {
            if !args.is_empty() {
                args.push(Arg::Separator);
            }
            args.extend(capture_args(pane, lines));
            args.extend([
                Arg::Separator,
                Arg::plain("display-message"),
                Arg::plain("-p"),
                Arg::plain(marker.as_str()),
            ]);
        }
        let output = self.run_raw(&args)?;
        if output.status.success() {
            let text = String::from_utf8_lossy(&output.stdout);
            let mut chunks: Vec<String> = Vec::with_capacity(panes.len());
            let mut current = String::new();
            for row in text.split_inclusive('\n') {
                if row.trim_end_matches(['\n', '\r']) == marker {
                    chunks.push(std::mem::take(&mut current));
                } else {
                    current.push_str(row);
                }
            }
            if chunks.len() == panes.len() {
                for (pane, chunk) in panes.iter().zip(chunks) {
                    result.insert(pane.clone(), last_lines(&chunk, lines));
                }
                return Ok(result);
            }
            tracing::warn!(
                expected = panes.len(),
                found = chunks.len(),
                "chained capture returned the wrong number of markers; capturing one by one"
            );
        } else {
            tracing::debug!(
                stderr = %stderr_text(&output),
                "chained capture failed; capturing one by one"
            );
        }
        for pane in panes {
            match self.capture_one(pane, lines) {
                Ok(text) => {
                    result.insert(pane.clone(), last_lines(&text, lines));
                }
                Err(TmuxError::Failed { message, .. }) => {
                    tracing::debug!(pane = %pane, %message, "capture skipped");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(result)
    }

    fn switch_client(&self, client_tty: Option<&str>, target: &Target) -> Result<(), TmuxError> {
        target.validate()?;
        let mut args = vec![Arg::plain("switch-client")];
        if let Some(tty) = client_tty {
            args.push(Arg::plain("-c"));
            args.push(Arg::plain(tty));
        }
        args.push(Arg::plain("-t"));
        args.push(Arg::plain(target.render()));
        self.run(&args).map(drop)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    fn line(fields: &[&str]) -> String {
        fields.join("\t")
    }

    const NORMAL: [&str; 15] = [
        "4242",
        "$3",
        "ccl-auto-1",
        "1700000000",
        "1700000100",
        "1",
        "1700000200",
        "%7",
        "5151",
        "0",
        "",
        "",
        "claude",
        "my title",
        "/home/me/work",
    ];

    #[test]
    fn format_has_fifteen_tab_separated_fields() {
        assert_eq!(SNAPSHOT_FORMAT.split('\t').count(), SNAPSHOT_FIELDS);
        assert!(SNAPSHOT_FORMAT.starts_with("#{pid}\t#{session_id}\t"));
        assert!(SNAPSHOT_FORMAT.ends_with("\t#{pane_title}\t#{pane_current_path}"));
    }

    #[test]
    fn parses_a_normal_line() {
        let snap = parse_snapshot(&format!("{}\n", line(&NORMAL)));
        assert!(snap.rejected.is_empty());
        assert_eq!(
            snap.panes,
            vec![Pane {
                server_pid: 4242,
                session_id: "$3".into(),
                session_name: "ccl-auto-1".into(),
                session_created: 1_700_000_000,
                session_activity: 1_700_000_100,
                session_attached: 1,
                window_activity: 1_700_000_200,
                pane_id: "%7".into(),
                pane_pid: 5151,
                pane_dead: false,
                dead_status: None,
                dead_signal: None,
                current_command: "claude".into(),
                title: "my title".into(),
                current_path: "/home/me/work".into(),
            }]
        );
        assert_eq!(snap.server_pid(), Some(4242));
        assert_eq!(snap.session("ccl-auto-1").unwrap().pane_id, "%7");
        assert!(snap.session("ccl-auto").is_none());
    }

    #[test]
    fn path_with_a_tab_survives() {
        let mut f = NORMAL;
        f[14] = "/tmp/a\tb\tc";
        let snap = parse_snapshot(&line(&f));
        assert!(snap.rejected.is_empty());
        assert_eq!(snap.panes[0].current_path, "/tmp/a\tb\tc");
        assert_eq!(snap.panes[0].title, "my title");
    }

    #[test]
    fn wrong_field_count_or_bad_number_is_rejected() {
        let short = line(&NORMAL[..14]);
        let mut bad_pid = NORMAL;
        bad_pid[0] = "x";
        let mut bad_dead = NORMAL;
        bad_dead[9] = "2";
        let mut wrong_sigil = NORMAL;
        wrong_sigil[7] = "7";
        let text = [
            short.clone(),
            line(&bad_pid),
            line(&bad_dead),
            line(&wrong_sigil),
            line(&NORMAL),
        ]
        .join("\n");
        let snap = parse_snapshot(&text);
        assert_eq!(snap.panes.len(), 1);
        assert_eq!(snap.rejected.len(), 4);
        assert_eq!(snap.rejected[0], short);
    }

    #[test]
    fn garbage_and_empty_input() {
        assert_eq!(parse_snapshot(""), Snapshot::default());
        assert_eq!(parse_snapshot("\n\n"), Snapshot::default());
        let snap = parse_snapshot("garbage\n\u{fffd}\u{fffd}\t\t\t\n");
        assert!(snap.panes.is_empty());
        assert_eq!(snap.rejected.len(), 2);
    }

    #[test]
    fn dead_pane_with_and_without_status() {
        let mut lost = NORMAL;
        lost[9] = "1";
        let mut exited = NORMAL;
        exited[9] = "1";
        exited[10] = "3";
        let mut signalled = NORMAL;
        signalled[9] = "1";
        signalled[11] = "9";
        let snap = parse_snapshot(&[line(&lost), line(&exited), line(&signalled)].join("\n"));
        assert!(snap.rejected.is_empty());
        let got: Vec<_> = snap
            .panes
            .iter()
            .map(|p| (p.pane_dead, p.dead_status, p.dead_signal))
            .collect();
        assert_eq!(
            got,
            vec![
                (true, None, None),
                (true, Some(3), None),
                (true, None, Some(9))
            ]
        );
    }

    #[test]
    fn session_names_once_in_order() {
        let mut b = NORMAL;
        b[2] = "b";
        let mut a2 = NORMAL;
        a2[7] = "%8";
        let snap = parse_snapshot(&[line(&NORMAL), line(&b), line(&a2)].join("\n"));
        assert_eq!(snap.session_names(), vec!["ccl-auto-1", "b"]);
    }

    #[test]
    fn targets_render_exactly() {
        assert_eq!(Target::Name("ccl-auto-1".into()).render(), "=ccl-auto-1:");
        assert_eq!(Target::Session("$3".into()).render(), "$3");
        assert_eq!(Target::Pane("%7".into()).render(), "%7");
        assert!(Target::Session("ccl".into()).validate().is_err());
        assert!(Target::Pane("$3".into()).validate().is_err());
        assert!(Target::Name("a.b".into()).validate().is_err());
        assert!(Target::Name("a#b c".into()).validate().is_ok());
    }

    #[test]
    fn escaping() {
        let esc = |s: &str| escape_trailing_semicolon(OsStr::new(s));
        assert_eq!(esc("a;"), "a\\;");
        assert_eq!(esc(";"), "\\;");
        assert_eq!(esc("a\\;"), "a\\\\;");
        assert_eq!(esc("a;b"), "a;b");
        assert_eq!(esc(""), "");
        assert_eq!(
            double_hashes(OsStr::new("/tmp/we#ird ##")),
            "/tmp/we##ird ####"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_version("tmux 3.2"), Some((3, 2)));
        assert_eq!(parse_version("tmux 3.1c\n"), Some((3, 1)));
        assert_eq!(parse_version("tmux next-3.4"), Some((3, 4)));
        assert_eq!(parse_version("tmux 3.5-rc2"), Some((3, 5)));
        assert_eq!(parse_version("tmux master"), Some((u32::MAX, 0)));
        assert_eq!(parse_version("tmux"), None);
        assert_eq!(parse_version("screen 4.0"), None);
    }

    #[test]
    fn last_lines_drops_blank_tail() {
        assert_eq!(last_lines("a\nb\nc\n\n  \n\n", 2), "b\nc\n");
        assert_eq!(last_lines("a\n", 5), "a\n");
        assert_eq!(last_lines("\n\n", 5), "");
    }

    #[test]
    fn base_args_and_redaction() {
        let cli = TmuxCli::new(Endpoint {
            socket_name: Some("s".into()),
            socket_path: None,
        })
        .with_config_file("/dev/null");
        assert_eq!(cli.base_args(), ["-u", "-L", "s", "-f", "/dev/null"]);
        let cli = TmuxCli::new(Endpoint {
            socket_name: Some("s".into()),
            socket_path: Some("/tmp/x".into()),
        });
        assert_eq!(cli.base_args(), ["-u", "-S", "/tmp/x"]);
        assert_eq!(TmuxCli::new(Endpoint::default()).base_args(), ["-u"]);
        let launch = Launch {
            env: BTreeMap::from([("TOKEN".into(), "secret".into())]),
            workdir: "/".into(),
            command: vec!["sh".into(), "-c".into(), "x;".into()],
            ..Launch::default()
        };
        let text = render_args(&launch_args(&launch).unwrap());
        assert_eq!(text, "-c / -e TOKEN=… -- env sh -c x;");
        let nowhere = Launch {
            workdir: "/no/such/dir".into(),
            ..Launch::default()
        };
        assert!(matches!(
            launch_args(&nowhere),
            Err(TmuxError::NoWorkdir(_))
        ));
        assert!(launch_args(&Launch::default()).unwrap().is_empty());
    }

    proptest! {
        #[test]
        fn parse_snapshot_never_panics(text in any::<String>()) {
            let _ = parse_snapshot(&text);
        }

        #[test]
        fn parse_snapshot_never_panics_on_tabby_lines(
            fields in proptest::collection::vec("[0-9$%a-z\t\n\r -]{0,8}", 0..20)
        ) {
            let text = fields.join("\t");
            let snap = parse_snapshot(&text);
            prop_assert!(snap.panes.len() + snap.rejected.len() <= text.split('\n').count());
        }
    }
}
