//! What the supervisor remembers between polls and across restarts: per-slot restart counters,
//! backoff, failed marks and recent events, persisted atomically as JSON; and the lock that
//! keeps a second supervisor from reconciling the same tmux server.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::BackoffConfig;

/// Wall-clock time in milliseconds since the Unix epoch. Passed in, never read inside logic.
pub type Millis = i64;

/// How many events are kept.
pub const EVENT_LIMIT: usize = 200;

/// Version of the state file layout this build writes.
pub const STATE_VERSION: u32 = 2;

/// The first layout that records the pane the supervisor started in each slot.
pub const STATE_VERSION_PANES: u32 = 2;

/// What an op in flight does to its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Respawn,
    Kill,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Respawn => "respawn",
            Action::Kill => "kill",
        })
    }
}

/// An operation the supervisor started and has not yet seen the effect of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub op: Action,
    pub since: Millis,
    /// For a respawn: the pane pid before, so the poll can tell the new process apart.
    #[serde(default)]
    pub old_pane_pid: Option<u32>,
}

/// What is remembered about one slot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlotMemory {
    /// Starts since the backoff was last reset: drives the backoff and `max_restarts`.
    pub restarts: u32,
    /// Starts ever made by this supervisor for this slot.
    pub total_restarts: u32,
    pub last_start: Option<Millis>,
    /// First poll of the current healthy streak.
    pub healthy_since: Option<Millis>,
    /// A sticky failure ("crashed while working", "create failed: …"); cleared by a start.
    pub failed: Option<String>,
    /// The session id the failure belongs to; a different live session clears the mark.
    pub failed_session: Option<String>,
    /// `max_restarts` reached: nothing more until the operator recreates it.
    pub gave_up: bool,
    /// The state seen at the last poll (stored by its name).
    pub last_state: Option<crate::observe::State>,
    /// The session id seen at the last poll.
    pub last_session: Option<String>,
    /// It went away cleanly (exit 0, or vanished while idle): `on-failure` leaves it.
    pub clean_exit: bool,
    /// One op in flight at most.
    pub in_flight: Option<InFlight>,
    /// The supervisor has started this slot before. The very first creation is not a
    /// restart: it does not count toward the backoff or `max_restarts`.
    pub started_before: bool,
    /// The pane the supervisor itself started in this slot (at create or respawn). Only this
    /// pane is ever respawned automatically: a pane the operator added is never touched.
    pub pane: Option<OwnedPane>,
    /// The foreground of the pane was a shell at the last poll. A shell taking over from the
    /// agent while it worked is a crash; a shell that was there all along (a wrapper script
    /// such as `sh run-agent.sh`) is not.
    pub last_foreground_shell: bool,
    /// Memory from a state file written before panes were recorded: the session seen last
    /// may be taken as the supervisor's own at the first poll (see `observe::remember`).
    #[serde(skip)]
    pub adopt_last_session: bool,
}

/// A pane the supervisor started: which server, session and pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedPane {
    /// The tmux server's pid: pane and session ids start again from 0 on a new server.
    pub server_pid: u32,
    /// `$3`
    pub session_id: String,
    /// `%7`
    pub pane_id: String,
}

/// What happened, for the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Created,
    Restarted,
    Recovered,
    Failed,
    GaveUp,
    Killed,
    Stray,
    Error,
    Info,
}

impl EventKind {
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Restarted => "restarted",
            EventKind::Recovered => "recovered",
            EventKind::Failed => "failed",
            EventKind::GaveUp => "gave up",
            EventKind::Killed => "killed",
            EventKind::Stray => "stray",
            EventKind::Error => "error",
            EventKind::Info => "info",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: Millis,
    pub kind: EventKind,
    /// The session name it is about (may be empty for server-wide events).
    pub name: String,
    pub text: String,
}

/// Everything remembered, as persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    pub version: u32,
    /// The layout version of the file this memory was loaded from (0: no file).
    #[serde(skip)]
    pub loaded_version: u32,
    pub slots: BTreeMap<String, SlotMemory>,
    pub events: VecDeque<Event>,
    /// Strays seen at the last poll (a stray is logged once while it stays).
    pub strays_seen: BTreeSet<String>,
}

impl Memory {
    pub fn slot(&self, name: &str) -> Option<&SlotMemory> {
        self.slots.get(name)
    }

    pub fn slot_mut(&mut self, name: &str) -> &mut SlotMemory {
        self.slots.entry(name.to_string()).or_default()
    }

    /// Appends an event, keeping the last [`EVENT_LIMIT`], and logs it.
    pub fn push(&mut self, at: Millis, kind: EventKind, name: &str, text: impl Into<String>) {
        let text = text.into();
        match kind {
            EventKind::Failed | EventKind::GaveUp | EventKind::Error => {
                tracing::warn!(session = name, event = kind.label(), "{text}");
            }
            _ => tracing::info!(session = name, event = kind.label(), "{text}"),
        }
        self.events.push_back(Event {
            at,
            kind,
            name: name.to_string(),
            text,
        });
        while self.events.len() > EVENT_LIMIT {
            self.events.pop_front();
        }
    }
}

/// When the next start of a slot is allowed: immediately for the first start of a streak,
/// then `initial`, doubling with each start, capped at `max`, counted from the last start.
pub fn next_start_allowed(m: &SlotMemory, cfg: &BackoffConfig) -> Millis {
    match (m.restarts, m.last_start) {
        (0, _) | (_, None) => Millis::MIN,
        (n, Some(last)) => last.saturating_add(backoff_delay(n, cfg)),
    }
}

/// The wait before start number `n + 1` after `n` starts in a streak, in milliseconds.
pub fn backoff_delay(n: u32, cfg: &BackoffConfig) -> Millis {
    if n == 0 {
        return 0;
    }
    let initial = cfg.initial.as_millis() as i64;
    let max = cfg.max.as_millis() as i64;
    let shift = (n - 1).min(40);
    initial.saturating_mul(1_i64 << shift).min(max)
}

/// The state file and lock of one tmux server, in the state dir.
#[derive(Debug, Clone)]
pub struct Store {
    pub path: PathBuf,
    pub lock_path: PathBuf,
}

/// A problem with the state file that did not stop the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreWarning(pub String);

/// Holds the per-server lock while alive.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Store {
    /// `server_key` names the tmux server: `default`, `L-NAME` or `S-PATH` (sanitized).
    pub fn new(state_dir: &Path, server_key: &str) -> Self {
        Store {
            path: state_dir.join(format!("state-{server_key}.json")),
            lock_path: state_dir.join(format!("lock-{server_key}")),
        }
    }

    /// Loads the memory. A missing file is an empty memory; an unreadable or corrupt one is
    /// moved aside (never deleted) and an empty memory is used, with a warning.
    pub fn load(&self) -> (Memory, Option<StoreWarning>) {
        let text = match fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Memory::default(), None),
            Err(e) => {
                return (
                    Memory::default(),
                    Some(StoreWarning(format!(
                        "cannot read the state file {}: {e}; starting with empty memory",
                        self.path.display()
                    ))),
                );
            }
        };
        match serde_json::from_slice::<Memory>(&text) {
            Ok(mut m) => {
                let warning = (m.version > STATE_VERSION).then(|| {
                    // Keep the newer file as it was: the next save drops what this build
                    // does not know.
                    let backup = self.path.with_extension(format!("json.v{}", m.version));
                    let kept = match fs::write(&backup, &text) {
                        Ok(()) => format!("a copy is kept as {}", backup.display()),
                        Err(e) => format!("no copy could be kept ({e})"),
                    };
                    StoreWarning(format!(
                        "the state file {} was written by a newer tmux-supervisor (layout {}, this one writes {}); fields it does not know are dropped on the next save; {kept}",
                        self.path.display(),
                        m.version,
                        STATE_VERSION
                    ))
                });
                m.loaded_version = m.version;
                m.version = STATE_VERSION;
                while m.events.len() > EVENT_LIMIT {
                    m.events.pop_front();
                }
                (m, warning)
            }
            Err(e) => {
                let aside = self.path.with_extension(format!(
                    "json.corrupt-{}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                ));
                let moved = fs::rename(&self.path, &aside);
                let what = match moved {
                    Ok(()) => format!("moved aside to {}", aside.display()),
                    Err(re) => format!("could not move it aside ({re})"),
                };
                (
                    Memory::default(),
                    Some(StoreWarning(format!(
                        "the state file {} is corrupt ({e}); {what}; starting with empty memory",
                        self.path.display()
                    ))),
                )
            }
        }
    }

    /// Reads the memory without changing anything on disk (for `check`): a missing or
    /// unreadable file is an empty memory.
    pub fn peek(&self) -> Memory {
        fs::read(&self.path)
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok())
            .unwrap_or_default()
    }

    /// Writes the memory atomically: a temp file (mode 0600) in the same dir, then a rename.
    pub fn save(&self, memory: &Memory) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let mut m = memory.clone();
        m.version = STATE_VERSION;
        let body = serde_json::to_vec_pretty(&m).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            self.path
                .file_name()
                .map_or_else(|| "state".into(), |n| n.to_string_lossy()),
            std::process::id()
        ));
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Takes the per-server lock: `Ok(None)` when another supervisor holds it.
    pub fn lock(&self) -> std::io::Result<Option<Lock>> {
        if let Some(dir) = self.lock_path.parent() {
            create_private_dir(dir)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.lock_path)?;
        match file.try_lock() {
            Ok(()) => {
                let _ = file.set_len(0);
                let _ = writeln!(file, "{}", std::process::id());
                Ok(Some(Lock { _file: file }))
            }
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// The pid written by the holder of the lock, if readable.
    pub fn lock_holder(&self) -> Option<u32> {
        fs::read_to_string(&self.lock_path)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// A file-name-safe key for a tmux server: `default`, `L-NAME`, or `S-` + the path.
pub fn server_key(socket_name: Option<&str>, socket_path: Option<&Path>) -> String {
    let raw = match (socket_name, socket_path) {
        (Some(n), _) => format!("L-{n}"),
        (None, Some(p)) => format!("S-{}", p.display()),
        (None, None) => match std::env::var("TMUX") {
            // Inside tmux the default server is the one in $TMUX: key it by that socket path.
            Ok(t) if !t.is_empty() => format!("S-{}", t.split(',').next().unwrap_or_default()),
            _ => "default".to_string(),
        },
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::Duration;

    fn cfg() -> BackoffConfig {
        BackoffConfig {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(300),
            reset_after: Duration::from_secs(600),
            max_restarts: 0,
        }
    }

    #[test]
    fn backoff_starts_immediately_then_doubles_to_the_cap() {
        let delays: Vec<i64> = (0..12).map(|n| backoff_delay(n, &cfg())).collect();
        assert_eq!(
            delays,
            vec![
                0, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000,
                300_000
            ]
        );
        assert_eq!(backoff_delay(u32::MAX, &cfg()), 300_000);
        let m = SlotMemory {
            restarts: 2,
            last_start: Some(10_000),
            ..SlotMemory::default()
        };
        assert_eq!(next_start_allowed(&m, &cfg()), 14_000);
        assert_eq!(
            next_start_allowed(&SlotMemory::default(), &cfg()),
            Millis::MIN
        );
    }

    #[test]
    fn save_then_load_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(&dir.path().join("state"), "L-test");
        let mut m = Memory::default();
        m.slot_mut("ccl-auto-11").restarts = 3;
        m.push(5, EventKind::Created, "ccl-auto-11", "created");
        store.save(&m).unwrap();
        let mode = fs::metadata(&store.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (back, warn) = store.load();
        assert_eq!(warn, None);
        assert_eq!(back.slot("ccl-auto-11").unwrap().restarts, 3);
        assert_eq!(back.events.len(), 1);
    }

    #[test]
    fn corrupt_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "default");
        fs::write(&store.path, b"{\"slots\": {\"x\": ").unwrap();
        let (m, warn) = store.load();
        assert_eq!(m, Memory::default());
        assert!(warn.unwrap().0.contains("corrupt"));
        assert!(!store.path.exists());
        let aside: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("corrupt"))
            .collect();
        assert_eq!(aside.len(), 1);
    }

    #[test]
    fn newer_file_with_unknown_fields_loads_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "default");
        fs::write(
            &store.path,
            br#"{"version": 9, "future": true, "slots": {"a": {"restarts": 2, "shiny": 1}}}"#,
        )
        .unwrap();
        let (m, warn) = store.load();
        assert_eq!(m.slot("a").unwrap().restarts, 2);
        assert!(warn.unwrap().0.contains("newer"));
        let copy = fs::read_to_string(dir.path().join("state-default.json.v9")).unwrap();
        assert!(copy.contains("shiny"), "{copy}");
    }

    #[test]
    fn second_lock_on_the_same_server_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::new(dir.path(), "L-one");
        let first = a.lock().unwrap();
        assert!(first.is_some());
        assert!(a.lock().unwrap().is_none());
        assert!(Store::new(dir.path(), "L-two").lock().unwrap().is_some());
        drop(first);
        assert!(a.lock().unwrap().is_some());
    }

    #[test]
    fn events_are_capped() {
        let mut m = Memory::default();
        for i in 0..(EVENT_LIMIT as i64 + 50) {
            m.push(i, EventKind::Info, "", "x");
        }
        assert_eq!(m.events.len(), EVENT_LIMIT);
        assert_eq!(m.events.front().unwrap().at, 50);
    }

    #[test]
    fn server_keys_are_file_safe() {
        assert_eq!(server_key(Some("a b/c"), None), "L-a_b_c");
        assert_eq!(
            server_key(None, Some(Path::new("/tmp/x.sock"))),
            "S-_tmp_x_sock"
        );
    }
}
