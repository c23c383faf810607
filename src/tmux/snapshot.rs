//! The snapshot of one poll: every pane as one `list-panes -a` prints it (with the server's
//! version and the supervisor's wake-up hook of each pane), in a format marked by a random
//! nonce so that no pane's free text can forge a record, and its parser.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::args::is_id;

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
    /// `#{version}` of the server (`3.3a`); empty when that tmux has no such format.
    pub server_version: String,
    pub current_command: String,
    pub title: String,
    pub current_path: String,
    /// The pane's `pane-died` hook at the supervisor's index ([`super::hooks::HOOK_INDEX`]),
    /// as tmux prints it (`wait-for -S "…"`); empty when none is set. Free text: anyone on the
    /// server may set it.
    pub died_hook: String,
}

impl Pane {
    /// The host the pane is on, `None` for this machine: the panes of another host's server
    /// carry its name in their ids (`%3@gpu1`, `$2@gpu1`), which tmux itself never prints, so
    /// no pane can pass for one of another server.
    pub fn host(&self) -> Option<&str> {
        self.pane_id.split_once('@').map(|(_, h)| h)
    }
}

/// Every pane of every session of one server, from a single `list-panes -a` call (with
/// other hosts: of every server, each host's ids marked with its name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub panes: Vec<Pane>,
    /// Lines that did not parse, kept for logging.
    pub rejected: Vec<String>,
    /// The other hosts asked in this poll, whether each answered.
    pub hosts: Vec<HostPoll>,
}

/// One other host in a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPoll {
    pub name: String,
    /// Why its server could not be read (the host is unreachable); `None`: its panes are in.
    pub error: Option<String>,
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

    /// This machine's tmux server's pid, if it has at least one pane.
    pub fn server_pid(&self) -> Option<u32> {
        self.local().next().map(|p| p.server_pid)
    }

    /// This machine's tmux server's version (`3.3a`), if it has at least one pane and tmux
    /// says it.
    pub fn server_version(&self) -> Option<&str> {
        self.local()
            .next()
            .map(|p| p.server_version.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The panes of this machine's server.
    pub fn local(&self) -> impl Iterator<Item = &Pane> {
        self.panes.iter().filter(|p| p.host().is_none())
    }

    /// Why `host` could not be read in this poll, if it was asked and did not answer.
    pub fn host_error(&self, host: &str) -> Option<&str> {
        self.hosts
            .iter()
            .find(|h| h.name == host)
            .and_then(|h| h.error.as_deref())
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
const FIXED_FIELDS: usize = 13;

/// The `list-panes -F` format of one poll: `N<` then the fixed fields joined by real TAB bytes,
/// then the free-text fields (command, title, path, the wake-up hook) each after `N|`, then
/// `N>`, where `N` is the poll's [`Nonce`].
pub fn snapshot_format(nonce: &Nonce) -> String {
    let n = nonce.as_str();
    let hook = super::hooks::HOOK_INDEX;
    format!(
        "{n}<#{{pid}}\t#{{session_id}}\t#{{session_name}}\t#{{session_created}}\t\
         #{{session_activity}}\t#{{session_attached}}\t#{{window_activity}}\t#{{pane_id}}\t\
         #{{pane_pid}}\t#{{pane_dead}}\t#{{pane_dead_status}}\t#{{pane_dead_signal}}\t\
         #{{version}}{n}|#{{pane_current_command}}{n}|#{{pane_title}}{n}|\
         #{{pane_current_path}}{n}|#{{pane-died[{hook}]}}{n}>"
    )
}

/// What tmux prints for `pane` with [`snapshot_format`], newline included (tests, benchmarks).
pub fn format_record(p: &Pane, nonce: &Nonce) -> String {
    let n = nonce.as_str();
    let opt = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or_default();
    format!(
        "{n}<{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}{n}|{}{n}|{}{n}|{}{n}|{}{n}>\n",
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
        p.server_version,
        p.current_command,
        p.title,
        p.current_path,
        p.died_hook,
    )
}

/// Parse the output of `list-panes -a -F` [`snapshot_format`]`(nonce)`.
///
/// The output is cut at every occurrence of the nonce, which only tmux's own format can
/// produce: a record is `<` fixed fields, four `|` free-text fields, and `>` followed by the
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

/// One record, as the chunks between its nonces: `<fixed`, `|command`, `|title`, `|path`,
/// `|hook`, `>…`.
fn parse_record(chunks: &[&str]) -> Option<Pane> {
    let [fixed, command, title, path, hook, end] = chunks else {
        return None;
    };
    let fixed = fixed.strip_prefix('<')?;
    let command = command.strip_prefix('|')?;
    let title = title.strip_prefix('|')?;
    let path = path.strip_prefix('|')?;
    let hook = hook.strip_prefix('|')?;
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
        server_version: f[12].to_owned(),
        current_command: command.to_owned(),
        title: title.to_owned(),
        current_path: path.to_owned(),
        died_hook: hook.to_owned(),
    })
}

#[cfg(test)]
mod tests;
