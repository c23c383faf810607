//! `tmux-supervisor hook EVENT`, the command Claude Code's hooks run: reads the event on stdin,
//! keeps it as the latest event of its slot (or pane) in the state dir and wakes the
//! supervisor. Prints nothing on stdout, always exits 0, never waits on anyone.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use super::events::{self, HookRecord};
use super::input::{self, Fields};

/// Set in a slot's environment by the supervisor: the slot's name.
pub const SLOT_ENV: &str = "TMUX_SUPERVISOR_SLOT";
/// Set in a slot's environment by the supervisor: the state dir to record in (wins over
/// `--state-dir`).
pub const STATE_DIR_ENV: &str = "TMUX_SUPERVISOR_STATE_DIR";

/// Called by Claude Code's hooks: records the event read on stdin for the supervisor, prints
/// nothing, always exits 0.
#[derive(Debug, Clone, clap::Args)]
pub struct HookArgs {
    /// The hook event, e.g. `Stop` [default: the `hook_event_name` of the event JSON read on
    /// stdin].
    #[arg(value_name = "EVENT")]
    pub event: Option<String>,
    /// The state dir to record in [default: the default state dir];
    /// `$TMUX_SUPERVISOR_STATE_DIR` wins when it is set.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl HookArgs {
    pub fn run(&self) -> ExitCode {
        run(self.event.as_deref(), self.state_dir.as_deref())
    }
}

/// Records one hook event and wakes the supervisor. Exits 0 whatever happens: a hook that
/// fails would be shown to the operator by Claude Code, and nothing here is theirs to fix
/// mid-session; a failure to record is said in one line on stderr.
pub fn run(event: Option<&str>, state_dir: Option<&Path>) -> ExitCode {
    let at_ms = now_ms();
    let fields = input::fields(&input::read_stdin());
    let Some(rec) = record_of(event, fields, &Env::current(), at_ms) else {
        return ExitCode::SUCCESS;
    };
    // Outside tmux there is no pane and no server to tell.
    let Some(key) = server_key() else {
        return ExitCode::SUCCESS;
    };
    let dir = state_dir_of(state_dir);
    match events::record(&dir, &key, &rec) {
        Ok(()) => {
            crate::wake::send(&dir, &key);
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "tmux-supervisor hook: {} not recorded in {}: {e}",
                rec.event,
                dir.display()
            );
        }
    }
    ExitCode::SUCCESS
}

/// What the hook reads from its environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// `$TMUX_SUPERVISOR_SLOT`.
    pub slot: Option<String>,
    /// `$TMUX_PANE`.
    pub pane: Option<String>,
}

impl Env {
    pub fn current() -> Self {
        let var = |k| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            slot: var(SLOT_ENV),
            pane: var("TMUX_PANE"),
        }
    }
}

/// The record of one event: its name from the event JSON, else from the command line; `None`
/// when neither names it. A slot that is not a valid name is dropped (the pane is used).
pub fn record_of(event: Option<&str>, f: Fields, env: &Env, at_ms: u64) -> Option<HookRecord> {
    let name = f
        .hook_event_name
        .clone()
        .or_else(|| event.map(str::to_owned))?;
    let message = f.message.or_else(|| {
        (name == "StopFailure")
            .then_some(f.last_assistant_message)
            .flatten()
    });
    let rec = HookRecord {
        event: name,
        at_ms,
        session_id: f.session_id,
        transcript_path: f.transcript_path,
        cwd: f.cwd,
        tool_name: f.tool_name,
        notification_type: f.notification_type,
        message,
        error: f.error,
        source: f.source,
        reason: f.reason,
        slot: env.slot.clone(),
        pane: env.pane.clone(),
    }
    .bounded();
    (!rec.event.is_empty()).then_some(rec)
}

/// `$TMUX_SUPERVISOR_STATE_DIR`, else `--state-dir`, else the default state dir.
fn state_dir_of(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = std::env::var_os(STATE_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from);
    crate::config::default_state_dir(&home)
}

/// The key of the tmux server this pane belongs to (from `$TMUX`), named as the supervisor
/// names its own state file for that server; `None` outside tmux.
fn server_key() -> Option<String> {
    std::env::var_os("TMUX").filter(|t| !t.is_empty())?;
    Some(crate::socket::key(&crate::socket::server_socket(
        None, None,
    )))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn env(slot: Option<&str>, pane: Option<&str>) -> Env {
        Env {
            slot: slot.map(Into::into),
            pane: pane.map(Into::into),
        }
    }

    #[test]
    fn the_event_json_names_the_event_before_the_command_line() {
        let f = input::fields(br#"{"hook_event_name":"Stop","session_id":"s1"}"#);
        let r = record_of(Some("Notification"), f, &env(Some("a"), Some("%1")), 7).unwrap();
        assert_eq!((r.event.as_str(), r.at_ms), ("Stop", 7));
        assert_eq!(r.session_id.as_deref(), Some("s1"));
        assert_eq!(r.file_name().as_deref(), Some("slot-a.json"));
        // Bad JSON: the command line's event, nothing else.
        let r = record_of(
            Some("Stop"),
            input::fields(b"{x"),
            &env(None, Some("%1")),
            7,
        );
        assert_eq!(r.unwrap().file_name().as_deref(), Some("pane-1.json"));
        assert_eq!(
            record_of(None, Fields::default(), &env(None, None), 7),
            None
        );
        assert_eq!(
            record_of(Some("\u{7}"), Fields::default(), &env(None, None), 7),
            None
        );
    }

    #[test]
    fn a_stop_failure_keeps_the_error_the_client_showed() {
        let f = input::fields(
            br#"{"hook_event_name":"StopFailure","error":"rate_limit","last_assistant_message":"API Error: Request rejected (429)"}"#,
        );
        let r = record_of(None, f, &env(Some("a"), None), 1).unwrap();
        assert_eq!(r.error.as_deref(), Some("rate_limit"));
        assert_eq!(
            r.message.as_deref(),
            Some("API Error: Request rejected (429)")
        );
        // A Stop's answer is not kept.
        let f = input::fields(br#"{"hook_event_name":"Stop","last_assistant_message":"secret"}"#);
        assert_eq!(
            record_of(None, f, &env(Some("a"), None), 1)
                .unwrap()
                .message,
            None
        );
    }

    #[test]
    fn an_invalid_slot_falls_back_to_the_pane() {
        let r = record_of(
            Some("Stop"),
            Fields::default(),
            &env(Some("../x"), Some("%9")),
            1,
        );
        let r = r.unwrap();
        assert_eq!(r.slot, None);
        assert_eq!(r.file_name().as_deref(), Some("pane-9.json"));
    }
}
