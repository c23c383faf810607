//! One Claude Code hook event as recorded for the supervisor: the bounded record, the small file
//! per slot (or per pane) it is kept in under the state dir, and reading them back without
//! trusting what is there (no symlink followed, no FIFO opened, sizes and counts capped).

use std::fs::{self, OpenOptions};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::statedir;

/// Longest free text kept (a message, an error, a tool name), in characters.
pub const TEXT_MAX: usize = 300;
/// Longest name kept (the event, a session id, a `SessionStart` source), in characters.
pub const NAME_MAX: usize = 100;
/// Longest path kept, in bytes; a longer one is dropped, never cut (it would name another file).
pub const PATH_MAX: usize = 1024;
/// Longest slot name a file is named after, in bytes.
pub const SLOT_MAX: usize = 200;
/// Most files [`scan`] looks at in one events dir.
pub const MAX_FILES: usize = 4096;
/// Largest record file [`scan`] reads; a bigger one is skipped.
pub const MAX_FILE_BYTES: u64 = 16 * 1024;

/// The latest hook event of one slot (or of one pane outside the slots), as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRecord {
    /// `hook_event_name`, e.g. `Stop`.
    pub event: String,
    /// Unix milliseconds when the hook ran.
    pub at_ms: u64,
    pub session_id: Option<String>,
    pub transcript_path: Option<String>,
    pub cwd: Option<String>,
    pub tool_name: Option<String>,
    /// Notification: `permission_prompt`, `idle_prompt`, …
    pub notification_type: Option<String>,
    /// Notification's `message`; for `StopFailure`, its `last_assistant_message` (the API error
    /// the client showed).
    pub message: Option<String>,
    /// `StopFailure`: `rate_limit`, …
    pub error: Option<String>,
    /// `SessionStart`: `startup`, `resume`, `clear`, `compact`.
    pub source: Option<String>,
    /// `SessionEnd`: `prompt_input_exit`, `clear`, `logout`, `other`.
    #[serde(default)]
    pub reason: Option<String>,
    /// `$TMUX_SUPERVISOR_SLOT`: the slot the supervisor started this agent in.
    pub slot: Option<String>,
    /// `$TMUX_PANE`, `%N`.
    pub pane: Option<String>,
}

impl HookRecord {
    /// The same record with every field made safe to keep and show: text stripped of control
    /// and direction-changing characters and cut to its bound, paths longer than [`PATH_MAX`]
    /// or holding a control character dropped, a slot that is not a valid session name or a
    /// pane that is not `%` and digits dropped.
    #[must_use]
    pub fn bounded(self) -> Self {
        let text = |s: Option<String>, max| s.and_then(|s| clean(&s, max));
        HookRecord {
            event: clean(&self.event, NAME_MAX).unwrap_or_default(),
            at_ms: self.at_ms,
            session_id: text(self.session_id, NAME_MAX),
            transcript_path: self.transcript_path.filter(|p| path_ok(p)),
            cwd: self.cwd.filter(|p| path_ok(p)),
            tool_name: text(self.tool_name, TEXT_MAX),
            notification_type: text(self.notification_type, NAME_MAX),
            message: text(self.message, TEXT_MAX),
            error: text(self.error, TEXT_MAX),
            source: text(self.source, NAME_MAX),
            reason: text(self.reason, NAME_MAX),
            slot: self.slot.filter(|s| slot_ok(s)),
            pane: self.pane.filter(|p| pane_number(p).is_some()),
        }
    }

    /// The name of the file this record is kept in: `slot-NAME.json` when it has a slot, else
    /// `pane-N.json`; `None` when it has neither (or they are not valid).
    pub fn file_name(&self) -> Option<String> {
        if let Some(slot) = self.slot.as_deref().filter(|s| slot_ok(s)) {
            return Some(format!("slot-{slot}.json"));
        }
        let n = pane_number(self.pane.as_deref()?)?;
        Some(format!("pane-{n}.json"))
    }
}

/// `s` without control characters (whitespace ones become a space) and without the invisible
/// characters that change the direction or joining of text, cut to `max` characters (with `…`).
/// `None` when nothing is left.
fn clean(s: &str, max: usize) -> Option<String> {
    let kept = s.chars().filter_map(|c| match c {
        '\t' | '\n' | '\r' => Some(' '),
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}' => None,
        c if c.is_control() => None,
        c => Some(c),
    });
    let mut out: String = kept.clone().take(max).collect();
    if kept.count() > max {
        out.pop();
        out.push('…');
    }
    let out = out.trim().to_owned();
    (!out.is_empty()).then_some(out)
}

fn path_ok(p: &str) -> bool {
    !p.is_empty() && p.len() <= PATH_MAX && !p.chars().any(char::is_control)
}

/// A slot name a file may be named after: a valid session name (no `.`, `:`, whitespace or
/// control characters, so never `..` nor hidden) without `/`, at most [`SLOT_MAX`] bytes.
pub fn slot_ok(s: &str) -> bool {
    s.len() <= SLOT_MAX && !s.contains('/') && crate::tmux::check_session_name(s).is_ok()
}

/// The N of a `%N` pane id (at most 10 digits).
fn pane_number(p: &str) -> Option<&str> {
    let n = p.strip_prefix('%')?;
    (!n.is_empty() && n.len() <= 10 && n.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

/// A server key as [`crate::socket::key`] makes them (letters, digits, `-`, `_`, `%`, `~`).
fn key_ok(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 255 - "events-".len()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_%~".contains(&b))
}

/// `<state_dir>/events-<key>`: the records of the tmux server with this key.
pub fn events_dir(state_dir: &Path, server_key: &str) -> PathBuf {
    state_dir.join(format!("events-{server_key}"))
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// The events dir, created 0700 (with a private state dir) if missing; a symlink there, or a
/// dir others may write to, is refused.
fn events_dir_checked(state_dir: &Path, server_key: &str, create: bool) -> io::Result<PathBuf> {
    if !key_ok(server_key) {
        return Err(invalid(format!("{server_key:?} is not a server key")));
    }
    let dir = events_dir(state_dir, server_key);
    if create && fs::symlink_metadata(&dir).is_err() {
        statedir::create_private(state_dir)?;
        match statedir::create_private(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    let meta = fs::symlink_metadata(&dir)?;
    if !meta.is_dir() {
        return Err(invalid(format!(
            "{} is not a directory (a symlink is never followed)",
            dir.display()
        )));
    }
    statedir::check(&dir).map_err(|e| invalid(e.to_string()))?;
    Ok(dir)
}

/// Keeps `rec` (made [`HookRecord::bounded`] first) as the latest event of its slot or pane,
/// written atomically with mode 0600, unless the file already holds a newer one. Not synced to
/// the disk: a record tells about the panes of a running tmux server, which a crash of the
/// machine ends too, and the agent waits for its hook, so it must not wait on the disk (an
/// `fsync` cost 0.5 to 3 ms here, far more on a busy disk).
pub fn record(state_dir: &Path, server_key: &str, rec: &HookRecord) -> io::Result<()> {
    let rec = rec.clone().bounded();
    let name = rec
        .file_name()
        .ok_or_else(|| invalid("the event names no slot and no pane".into()))?;
    let dir = events_dir_checked(state_dir, server_key, true)?;
    let path = dir.join(&name);
    let mut rec = rec;
    match read_record(&path) {
        Ok(prev) if prev.at_ms > rec.at_ms => return Ok(()),
        // Claude Code's permission Notification (some seconds after the prompt) names no tool:
        // the one its PermissionRequest named is kept.
        Ok(prev)
            if rec.event == "Notification"
                && rec.tool_name.is_none()
                && prev.session_id == rec.session_id
                && matches!(prev.event.as_str(), "PermissionRequest" | "Notification") =>
        {
            rec.tool_name = prev.tool_name;
        }
        _ => {}
    }
    let bytes = serde_json::to_vec(&rec).map_err(io::Error::other)?;
    statedir::write_atomic_unsynced(&path, &bytes)
}

/// One record file: a regular file (never through a symlink, never blocking on a FIFO) of at
/// most [`MAX_FILE_BYTES`], holding a record.
fn read_record(path: &Path) -> io::Result<HookRecord> {
    let file = statedir::open(path, OpenOptions::new().read(true))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(invalid(format!(
            "bigger than {} KiB",
            MAX_FILE_BYTES / 1024
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| invalid(format!("not a hook record: {e}")))
}

/// A file of the events dir that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: PathBuf,
    pub why: String,
}

/// What [`scan`] found: the records (in file-name order) and the files it skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    pub records: Vec<HookRecord>,
    pub skipped: Vec<Skipped>,
}

/// The latest event of each slot and pane of the server with this key; files that are not
/// records are skipped (see [`scan`] for why).
pub fn load(state_dir: &Path, server_key: &str) -> Vec<HookRecord> {
    scan(state_dir, server_key).records
}

/// Reads the events dir: at most [`MAX_FILES`] entries; only `slot-*.json` and `pane-*.json`
/// (temp files and anything else ignored); a symlink, a FIFO, a file too big, one that is not
/// a record, or one whose record names another slot or pane than its file name is skipped and
/// reported. A missing dir is no records.
pub fn scan(state_dir: &Path, server_key: &str) -> Loaded {
    let mut out = Loaded::default();
    let dir = events_dir(state_dir, server_key);
    if matches!(fs::symlink_metadata(&dir), Err(e) if e.kind() == io::ErrorKind::NotFound) {
        return out;
    }
    let skip = |file: PathBuf, why: String| Skipped { file, why };
    let entries = match events_dir_checked(state_dir, server_key, false).and_then(fs::read_dir) {
        Ok(e) => e,
        Err(e) => {
            out.skipped.push(skip(dir, e.to_string()));
            return out;
        }
    };
    let mut names = Vec::new();
    for (i, entry) in entries.enumerate() {
        if i == MAX_FILES {
            out.skipped.push(skip(
                dir.clone(),
                format!("more than {MAX_FILES} files; the rest were not read"),
            ));
            break;
        }
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        // Exact names only (the supervisor writes no other case), temp files never.
        let ours = (name.starts_with("slot-") || name.starts_with("pane-"))
            && name.rsplit_once('.').is_some_and(|(_, ext)| ext == "json");
        if ours {
            names.push(name);
        }
    }
    names.sort();
    for name in names {
        let path = dir.join(&name);
        match read_record(&path) {
            Ok(rec) if rec.file_name().as_deref() == Some(name.as_str()) => {
                out.records.push(rec.bounded());
            }
            Ok(rec) => out.skipped.push(skip(
                path,
                format!(
                    "its record belongs in {}",
                    rec.file_name().unwrap_or_else(|| "no file".into())
                ),
            )),
            Err(e) => out.skipped.push(skip(path, e.to_string())),
        }
    }
    out
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
