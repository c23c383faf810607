//! The state file of one tmux server (atomic writes; corrupt and newer files kept; slots that
//! left the config forgotten) and its lock, which keeps a second supervisor from reconciling
//! the same server. Named after the server's real socket path; never opened through a symlink.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::memory::{EVENT_LIMIT, Memory, STATE_VERSION};
use crate::statedir;

/// The state file and lock of one tmux server, in the state dir.
#[derive(Debug, Clone)]
pub struct Store {
    pub path: PathBuf,
    pub lock_path: PathBuf,
    /// The server's key in file names ([`crate::socket::key`]).
    key: String,
    /// When set, slots not named here are dropped from the memory as it is loaded.
    slots: Option<Arc<BTreeSet<String>>>,
    /// The state file an earlier version wrote for this server (named after how the server
    /// was named, see [`legacy_key`]): read once, when there is no file under `path` yet.
    legacy: Option<PathBuf>,
    /// The lock an earlier version takes for this server: held, it means that version still
    /// runs on it (during an upgrade), and this one must not act. Only tried, never kept.
    legacy_lock: Option<PathBuf>,
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
    /// `server_key` names the tmux server in file names: see [`crate::socket::key`].
    pub fn new(state_dir: &Path, server_key: &str) -> Self {
        Store {
            path: state_dir.join(format!("state-{server_key}.json")),
            lock_path: state_dir.join(format!("lock-{server_key}")),
            key: server_key.to_owned(),
            slots: None,
            legacy: None,
            legacy_lock: None,
        }
    }

    /// The same store, reading the memory an earlier version kept under `legacy_key` when
    /// this server has no state file of its own yet (an upgrade keeps its counters, and
    /// which sessions it had started).
    #[must_use]
    pub fn with_legacy(mut self, state_dir: &Path, legacy_key: &str) -> Self {
        self.legacy = Some(state_dir.join(format!("state-{legacy_key}.json")));
        self.legacy_lock = Some(state_dir.join(format!("lock-{legacy_key}")));
        self
    }

    /// The state file and lock of the configured server, named after its real socket path, so
    /// every way of naming one server (`-L`, `-S`, `$TMUX` inside a pane) finds the same
    /// ones; the earlier version's, named by how the server was named, are read once.
    pub fn for_config(config: &crate::config::Config) -> Self {
        let tmux_env = std::env::var("TMUX").ok();
        let (name, path) = (config.socket_name.as_deref(), config.socket_path.as_deref());
        Store::for_server(&config.state_dir, &crate::socket::server_socket(name, path)).with_legacy(
            &config.state_dir,
            &legacy_key(name, path, tmux_env.as_deref()),
        )
    }

    /// The key naming the server in file names (its state file, lock and wake-up socket).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The store of the server whose real socket path is `socket` (however it was named).
    pub fn for_server(state_dir: &Path, socket: &Path) -> Self {
        Store::new(state_dir, &crate::socket::key(socket))
    }

    /// The same store, forgetting at load every slot that is not one of `slots` (a slot that
    /// left the config); the events about it stay.
    #[must_use]
    pub fn keeping_slots(mut self, slots: impl IntoIterator<Item = String>) -> Self {
        self.slots = Some(Arc::new(slots.into_iter().collect()));
        self
    }

    /// Loads the memory. A missing file is an empty memory; an unreadable or corrupt one is
    /// moved aside (never deleted) and an empty memory is used, with a warning.
    pub fn load(&self) -> (Memory, Option<StoreWarning>) {
        let text = match statedir::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return self.load_legacy(),
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
                    let kept = match statedir::write_atomic(&backup, &text) {
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
                if let Some(keep) = &self.slots {
                    m.slots.retain(|name, _| keep.contains(name));
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
                let what = match statedir::move_aside(&self.path, &aside) {
                    Ok(to) => format!("moved aside to {}", to.display()),
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

    /// The memory of the earlier version's state file, if there is one and it reads: it is
    /// left where it is (the next save writes the new file).
    fn load_legacy(&self) -> (Memory, Option<StoreWarning>) {
        let Some(mut m) = self.read_legacy() else {
            return (Memory::default(), None);
        };
        if let Some(keep) = &self.slots {
            m.slots.retain(|name, _| keep.contains(name));
        }
        let from = self.legacy.as_deref().unwrap_or(&self.path);
        let warning = StoreWarning(format!(
            "read the memory an earlier tmux-supervisor kept in {}; from now on it is kept in {}",
            from.display(),
            self.path.display()
        ));
        (m, Some(warning))
    }

    fn read_legacy(&self) -> Option<Memory> {
        let text = statedir::read(self.legacy.as_deref()?).ok()?;
        let mut m: Memory = serde_json::from_slice(&text).ok()?;
        // Only a file of an older layout: a newer one under the old name is not ours to take.
        if m.version >= STATE_VERSION {
            return None;
        }
        m.loaded_version = m.version;
        m.version = STATE_VERSION;
        while m.events.len() > EVENT_LIMIT {
            m.events.pop_front();
        }
        Some(m)
    }

    /// Reads the memory without changing anything on disk (for `check`): a missing or
    /// unreadable file is an empty memory.
    pub fn peek(&self) -> Memory {
        match statedir::read(&self.path) {
            Ok(t) => serde_json::from_slice(&t).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.read_legacy().unwrap_or_default()
            }
            Err(_) => Memory::default(),
        }
    }

    /// Writes the memory atomically: a temp file (random name, mode 0600) in the same dir,
    /// then a rename.
    pub fn save(&self, memory: &Memory) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        statedir::create_private(dir)?;
        let mut m = memory.clone();
        m.version = STATE_VERSION;
        let body = serde_json::to_vec_pretty(&m).map_err(std::io::Error::other)?;
        statedir::write_atomic(&self.path, &body)
    }

    /// Takes the per-server lock: `Ok(None)` when another supervisor holds it. A lock file
    /// that is a symlink or not a regular file is an error that [`statedir::is_not_followed`]
    /// recognises.
    pub fn lock(&self) -> std::io::Result<Option<Lock>> {
        if let Some(dir) = self.lock_path.parent() {
            statedir::create_private(dir)?;
        }
        let mut file = statedir::open(
            &self.lock_path,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600),
        )?;
        match file.try_lock() {
            Ok(()) if self.earlier_version_holds_its_lock() => Ok(None),
            Ok(()) => {
                let _ = file.set_len(0);
                let _ = writeln!(file, "{}", std::process::id());
                Ok(Some(Lock { _file: file }))
            }
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// An earlier version, which names its lock after how the server was named, holds that
    /// lock now (it is tried, and let go at once when free).
    fn earlier_version_holds_its_lock(&self) -> bool {
        let Some(path) = &self.legacy_lock else {
            return false;
        };
        let Ok(file) = statedir::open(path, OpenOptions::new().read(true).write(true)) else {
            return false;
        };
        matches!(file.try_lock(), Err(TryLockError::WouldBlock))
    }

    /// The pid written by the holder of the lock, if readable.
    pub fn lock_holder(&self) -> Option<u32> {
        String::from_utf8(statedir::read(&self.lock_path).ok()?)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests;

/// The key earlier versions named a server's files by: how it was named (`default`,
/// `L-NAME`, `S-PATH`, or `S-` + the socket of `$TMUX` inside tmux), every character but ASCII
/// letters, digits, `-` and `_` made `_`. Ambiguous (`-L a.b` and `-L a_b` share it), which is
/// why it is only read, once, to carry an upgrade's memory over.
pub fn legacy_key(
    socket_name: Option<&str>,
    socket_path: Option<&Path>,
    tmux_env: Option<&str>,
) -> String {
    let raw = match (socket_name, socket_path, tmux_env.filter(|t| !t.is_empty())) {
        (Some(n), _, _) => format!("L-{n}"),
        (None, Some(p), _) => format!("S-{}", p.display()),
        (None, None, Some(t)) => format!("S-{}", t.split(',').next().unwrap_or_default()),
        (None, None, None) => "default".to_string(),
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
