//! Talking to tmux: the `Tmux` trait, its CLI implementation (`TmuxCli`) and the snapshot parser.
//!
//! Everything here is synchronous and spawns `tmux` with an argv (never a shell string); async
//! callers run it in `spawn_blocking`. See DESIGN.md §4 for the rules this module enforces:
//! `-u` and the configured socket on every call, exact targets only, one `list-panes -a` per
//! poll, `remain-on-exit` set in the same call that creates a session.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
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

/// A random token of one poll, put around every record of its `list-panes` output.
///
/// A pane's foreground command, title and path are printed by tmux as they are: a directory
/// named `x\n4242\t$0\tccl-auto-11…` would otherwise read as a line of its own, a forged
/// session. The pane cannot know the token of the poll that reads it, so nothing it prints can
/// start, end or split a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nonce(String);

impl Nonce {
    /// 128 random bits from the OS, as 32 hex digits after a fixed tag.
    pub fn random() -> Self {
        let mut bytes = [0_u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No OS randomness (never seen on Linux): SipHash with std's random keys over the
            // time and a counter still gives a token no pane can guess.
            use std::hash::BuildHasher as _;
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let seed = (
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
                COUNTER.fetch_add(1, Ordering::Relaxed),
            );
            let state = std::collections::hash_map::RandomState::new();
            bytes[..8].copy_from_slice(&state.hash_one(seed).to_le_bytes());
            bytes[8..].copy_from_slice(&state.hash_one((seed, 1_u8)).to_le_bytes());
        }
        let mut text = String::from("TSUP");
        for b in bytes {
            let _ = write!(text, "{b:02x}");
        }
        Nonce(text)
    }

    /// A fixed token, for tests and benchmarks that build tmux output by hand.
    pub fn fixed(text: &str) -> Self {
        Nonce(text.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Number of fixed (TAB-separated, never free text) fields of a record.
const FIXED_FIELDS: usize = 12;

/// The `list-panes -F` format of one poll: `N<` then the fixed fields joined by real TAB bytes,
/// then the free-text fields (command, title, path) each after `N|`, then `N>`, where `N` is the
/// poll's [`Nonce`].
pub fn snapshot_format(nonce: &Nonce) -> String {
    let n = nonce.as_str();
    format!(
        "{n}<#{{pid}}\t#{{session_id}}\t#{{session_name}}\t#{{session_created}}\t\
         #{{session_activity}}\t#{{session_attached}}\t#{{window_activity}}\t#{{pane_id}}\t\
         #{{pane_pid}}\t#{{pane_dead}}\t#{{pane_dead_status}}\t#{{pane_dead_signal}}\
         {n}|#{{pane_current_command}}{n}|#{{pane_title}}{n}|#{{pane_current_path}}{n}>"
    )
}

/// What tmux prints for `pane` with [`snapshot_format`], newline included (tests, benchmarks).
pub fn format_record(p: &Pane, nonce: &Nonce) -> String {
    let n = nonce.as_str();
    let opt = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or_default();
    format!(
        "{n}<{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}{n}|{}{n}|{}{n}|{}{n}>\n",
        p.server_pid,
        p.session_id,
        p.session_name,
        p.session_created,
        p.session_activity,
        p.session_attached,
        p.window_activity,
        p.pane_id,
        p.pane_pid,
        u8::from(p.pane_dead),
        opt(p.dead_status),
        opt(p.dead_signal),
        p.current_command,
        p.title,
        p.current_path,
    )
}

/// Parse the output of `list-panes -a -F` [`snapshot_format`]`(nonce)`.
///
/// The output is cut at every occurrence of the nonce, which only tmux's own format can
/// produce: a record is `<` fixed fields, three `|` free-text fields, and `>` followed by the
/// newline tmux adds. Free text may hold any byte (newlines and TABs included) and stays in
/// its field. A record of any other shape, or with a malformed id or number, goes to
/// `rejected` (with the nonce shown as `⁞`), and so does text outside any record. An empty
/// `pane_dead_status` / `pane_dead_signal` is `None` (tmux 3.3a sometimes loses them;
/// `pane_dead` is the truth). Never panics.
pub fn parse_snapshot(text: &str, nonce: &Nonce) -> Snapshot {
    let n = nonce.as_str();
    let mut snapshot = Snapshot::default();
    let mut chunks = text.split(n);
    let outside = |s: &str| !s.trim().is_empty();
    if let Some(head) = chunks.next()
        && outside(head)
    {
        snapshot.rejected.push(head.to_owned());
    }
    // The chunks of the record being read, from its `<` on.
    let mut record: Vec<&str> = Vec::new();
    let reject = |record: &[&str], snapshot: &mut Snapshot| {
        if !record.is_empty() {
            snapshot.rejected.push(record.join("\u{205e}"));
        }
    };
    for chunk in chunks {
        match chunk.as_bytes().first() {
            Some(b'<') => {
                reject(&record, &mut snapshot);
                record = vec![chunk];
            }
            Some(b'|') if !record.is_empty() => record.push(chunk),
            Some(b'>') if !record.is_empty() => {
                record.push(chunk);
                match parse_record(&record) {
                    Some(pane) => snapshot.panes.push(pane),
                    None => reject(&record, &mut snapshot),
                }
                record.clear();
                // Whatever follows the record on its line is not tmux's.
                let tail = &chunk[1..];
                let tail = tail.strip_prefix('\n').unwrap_or(tail);
                if outside(tail) {
                    snapshot.rejected.push(tail.to_owned());
                }
            }
            _ => {
                reject(&record, &mut snapshot);
                record.clear();
                if outside(chunk) {
                    snapshot.rejected.push(chunk.to_owned());
                }
            }
        }
    }
    reject(&record, &mut snapshot);
    snapshot
}

/// One record, as the chunks between its nonces: `<fixed`, `|command`, `|title`, `|path`, `>…`.
fn parse_record(chunks: &[&str]) -> Option<Pane> {
    let [fixed, command, title, path, end] = chunks else {
        return None;
    };
    let fixed = fixed.strip_prefix('<')?;
    let command = command.strip_prefix('|')?;
    let title = title.strip_prefix('|')?;
    let path = path.strip_prefix('|')?;
    // Text after the end marker is reported by the caller; the record itself is whole.
    end.strip_prefix('>')?;
    let f: Vec<&str> = fixed.split('\t').collect();
    if f.len() != FIXED_FIELDS {
        return None;
    }
    let id = |s: &str, sigil: char| -> Option<String> { is_id(s, sigil).then(|| s.to_owned()) };
    let optional = |s: &str| -> Option<Option<i32>> {
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    // tmux escapes control characters in session names, so an unescaped one is not tmux's.
    if f[2].is_empty() || f[2].chars().any(char::is_control) {
        return None;
    }
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
        current_command: command.to_owned(),
        title: title.to_owned(),
        current_path: path.to_owned(),
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
        /// The server's pid (ids start again from 0 on a new server).
        server_pid: u32,
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
    /// Has the server collect the exit of panes it shows dead without a status: tmux 3.3a
    /// can miss the SIGCHLD of a pane's process (libutempter, tmux#311), and then shows
    /// `pane_dead=1` with no status until some other child exits.
    fn reap_lost_exits(&self, server_pid: u32) -> Result<(), TmuxError>;
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

fn bad_ids(stdout: &str) -> TmuxError {
    TmuxError::BadOutput(format!("new-session -P printed {:?}", stdout.trim_end()))
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
    fn reap_lost_exits(&self, server_pid: u32) -> Result<(), TmuxError> {
        // The SIGCHLD it missed: its handler reaps every child that has exited.
        let pid = rustix::process::Pid::from_raw(i32::try_from(server_pid).unwrap_or(0))
            .ok_or_else(|| TmuxError::BadOutput(format!("server pid {server_pid}")))?;
        rustix::process::kill_process(pid, rustix::process::Signal::CHILD)
            .map_err(|e| TmuxError::Io(e.into()))
    }

    fn snapshot(&self) -> Result<Snapshot, TmuxError> {
        let nonce = Nonce::random();
        let args = [
            Arg::plain("list-panes"),
            Arg::plain("-a"),
            Arg::plain("-F"),
            Arg::plain(snapshot_format(&nonce)),
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
        Ok(parse_snapshot(
            &String::from_utf8_lossy(&output.stdout),
            &nonce,
        ))
    }

    fn create(&self, launch: &Launch) -> Result<Created, TmuxError> {
        validate_name(&launch.name)?;
        // The client that starts a tmux server becomes it, and Linux then shows that client's
        // command line as the server's for as long as it runs: `-e KEY=VALUE` on that
        // `new-session` would be in `ps` for every local user. So with an environment the
        // session starts on a placeholder, and its pane is respawned with the real command
        // and `-e` by a second client, once the server surely runs.
        let placeholder = Launch {
            name: launch.name.clone(),
            workdir: launch.workdir.clone(),
            command: vec!["sleep".into(), "60".into()],
            env: BTreeMap::new(),
        };
        let first = if launch.env.is_empty() {
            launch
        } else {
            &placeholder
        };
        let mut args = vec![
            Arg::plain("new-session"),
            Arg::plain("-d"),
            Arg::plain("-P"),
            Arg::plain("-F"),
            Arg::plain("#{pid}\t#{session_id}\t#{pane_id}"),
            Arg::plain("-s"),
            Arg::Plain(double_hashes(OsStr::new(&launch.name))),
            Arg::plain("-x"),
            Arg::plain("200"),
            Arg::plain("-y"),
            Arg::plain("50"),
        ];
        args.extend(launch_args(first)?);
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
        let mut f = line.split('\t');
        let (Some(pid), Some(session_id), Some(pane_id), None) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(bad_ids(&stdout));
        };
        let (Ok(server_pid), true, true) =
            (pid.parse(), is_id(session_id, '$'), is_id(pane_id, '%'))
        else {
            return Err(bad_ids(&stdout));
        };
        if !launch.env.is_empty() {
            let mut args = vec![
                Arg::plain("respawn-pane"),
                Arg::plain("-k"),
                Arg::plain("-t"),
                Arg::plain(pane_id),
            ];
            args.extend(launch_args(launch)?);
            // The session keeps the environment too, as `new-session -e` would have set it.
            for (key, value) in &launch.env {
                args.extend([
                    Arg::Separator,
                    Arg::plain("set-environment"),
                    Arg::plain("-t"),
                    Arg::plain(session_id),
                    Arg::plain(key.as_str()),
                    Arg::Secret(value.into()),
                ]);
            }
            if let Err(e) = self.run(&args) {
                // Never leave the placeholder looking like a started slot.
                let _ = self.kill(&Target::Session(session_id.to_owned()));
                return Err(e);
            }
        }
        Ok(Created::New {
            server_pid,
            session_id: session_id.to_owned(),
            pane_id: pane_id.to_owned(),
        })
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

    fn nonce() -> Nonce {
        Nonce::fixed("TSUPtest")
    }

    fn normal() -> Pane {
        Pane {
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
        }
    }

    fn text(panes: &[Pane]) -> String {
        panes.iter().map(|p| format_record(p, &nonce())).collect()
    }

    #[test]
    fn format_marks_every_field_with_the_nonce() {
        let f = snapshot_format(&nonce());
        assert!(f.starts_with("TSUPtest<#{pid}\t#{session_id}\t#{session_name}\t"));
        assert!(f.ends_with(
            "#{pane_dead_signal}TSUPtest|#{pane_current_command}TSUPtest|#{pane_title}TSUPtest|#{pane_current_path}TSUPtest>"
        ));
        assert_eq!(f.matches("TSUPtest").count(), 5);
        // Twelve fixed fields, eleven TABs between them, none in the free text.
        assert_eq!(f.matches('\t').count(), FIXED_FIELDS - 1);
        let a = Nonce::random();
        let b = Nonce::random();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 4 + 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn parses_a_normal_record() {
        let snap = parse_snapshot(&text(&[normal()]), &nonce());
        assert!(snap.rejected.is_empty(), "{:?}", snap.rejected);
        assert_eq!(snap.panes, vec![normal()]);
        assert_eq!(snap.server_pid(), Some(4242));
        assert_eq!(snap.session("ccl-auto-1").unwrap().pane_id, "%7");
        assert!(snap.session("ccl-auto").is_none());
    }

    #[test]
    fn free_text_with_tabs_newlines_and_fake_records_stays_in_its_field() {
        // What the old line format read as a second pane: a forged dead `ccl-auto-11` whose
        // pane is the first pane of `main`.
        let forged = "4242\t$0\tccl-auto-11\t1\t1\t0\t1\t%0\t1\t1\t\t\tclaude\tt\t/";
        let mut p = normal();
        p.session_name = "main".into();
        p.current_path = format!("/tmp/x\n{forged}\n");
        p.current_command = format!("a\tb\n{forged}");
        p.title = "\t\n<|>".into();
        let snap = parse_snapshot(&text(&[p.clone(), normal()]), &nonce());
        assert!(snap.rejected.is_empty(), "{:?}", snap.rejected);
        assert_eq!(snap.panes, vec![p, normal()]);
        assert!(snap.session("ccl-auto-11").is_none());
    }

    #[test]
    fn records_of_the_wrong_shape_are_rejected() {
        let good = format_record(&normal(), &nonce());
        let n = "TSUPtest";
        let cases = [
            // one fixed field short
            good.replacen("4242\t", "", 1),
            // pid not a number
            good.replacen("4242", "x", 1),
            // pane_dead neither 0 nor 1
            good.replacen("\t0\t\t", "\t2\t\t", 1),
            // pane id without its sigil
            good.replacen("%7", "7", 1),
            // a free-text field missing
            good.replacen(&format!("{n}|my title"), "", 1),
            // cut short before the end marker
            good[..good.len() - n.len() - 2].to_string(),
            // a control character in the session name (tmux escapes them)
            good.replacen("ccl-auto-1", "ccl-auto-1\u{7}", 1),
        ];
        for case in &cases {
            let snap = parse_snapshot(&format!("{case}{good}"), &nonce());
            assert_eq!(snap.panes, vec![normal()], "case {case:?}");
            assert_eq!(snap.rejected.len(), 1, "case {case:?}: {:?}", snap.rejected);
            assert!(!snap.rejected[0].contains(n), "the nonce is not logged");
        }
    }

    #[test]
    fn text_outside_records_is_rejected_not_parsed() {
        let good = format_record(&normal(), &nonce());
        let snap = parse_snapshot(&format!("garbage\n{good}trailing\n\n"), &nonce());
        assert_eq!(snap.panes, vec![normal()]);
        assert_eq!(snap.rejected, vec!["garbage\n", "trailing\n\n"]);
        // Output of another nonce (an old poll, a pane echoing a format) is not ours.
        let other = format_record(&normal(), &Nonce::fixed("TSUPother"));
        let snap = parse_snapshot(&other, &nonce());
        assert!(snap.panes.is_empty());
        assert_eq!(snap.rejected.len(), 1);
    }

    #[test]
    fn garbage_and_empty_input() {
        assert_eq!(parse_snapshot("", &nonce()), Snapshot::default());
        assert_eq!(parse_snapshot("\n\n", &nonce()), Snapshot::default());
        let snap = parse_snapshot("garbage\n\u{fffd}\u{fffd}\t\t\t\n", &nonce());
        assert!(snap.panes.is_empty());
        assert_eq!(snap.rejected.len(), 1);
    }

    #[test]
    fn dead_pane_with_and_without_status() {
        let lost = Pane {
            pane_dead: true,
            ..normal()
        };
        let exited = Pane {
            dead_status: Some(3),
            ..lost.clone()
        };
        let signalled = Pane {
            dead_signal: Some(9),
            ..lost.clone()
        };
        let snap = parse_snapshot(&text(&[lost, exited, signalled]), &nonce());
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
        let b = Pane {
            session_name: "b".into(),
            ..normal()
        };
        let a2 = Pane {
            pane_id: "%8".into(),
            ..normal()
        };
        let snap = parse_snapshot(&text(&[normal(), b, a2]), &nonce());
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
            let _ = parse_snapshot(&text, &nonce());
        }
    }
}
