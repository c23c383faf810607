//! `tmux-supervisor check`: one poll, observed and remembered against a read-only copy of the
//! memory, and the audit of it as text or JSON, with its exit status. With a server running
//! that is one tmux process: the version comes from the same `list-panes` call.

use serde::Serialize;

use crate::config::AgentKind;
use crate::config::Config;
use crate::controller::{AgentFiles, Mode, Supervisor};
use crate::memory::{Memory, Store};
use crate::observe::{Observation, State};
use crate::pool::Layout;
use crate::time::short_age;
use crate::tmux::{NEEDS_TMUX, Snapshot, Tmux, check_version_text};
use crate::{runner, statedir};

/// Exit status of `check`: every supervised slot present and alive, no stray, no failure.
pub const EXIT_OK: u8 = 0;
/// Something needs a look: a supervised slot missing or dead, a stray, a failed slot.
pub const EXIT_PROBLEMS: u8 = 1;
/// The config or tmux could not be read: nothing was audited.
pub const EXIT_ERROR: u8 = 2;

/// The JSON document `check --json` prints (schema documented in the README).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// `true` when the exit status is 0.
    pub ok: bool,
    /// Which tmux server was read (`default`, `-L NAME` or `-S PATH`).
    pub server: String,
    /// The tmux server's pid, when a server runs.
    pub server_pid: Option<u32>,
    pub slots: Vec<SlotReport>,
    pub strays: Vec<StrayReport>,
    /// Other sessions' names (`NAME@HOST` for another host's).
    pub others: Vec<String>,
    /// The other hosts (`hosts:` in the config), whether each answered.
    pub hosts: Vec<HostReport>,
    /// Problems that make `ok` false, in words.
    pub problems: Vec<String>,
}

/// One other host.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HostReport {
    pub name: String,
    /// `up` | `unreachable`
    pub state: &'static str,
    /// Why it could not be read.
    pub reason: Option<String>,
    /// When its server last answered (RFC 3339, UTC); `null`: not in this check.
    pub last_seen: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlotReport {
    pub name: String,
    pub pool: String,
    /// The host whose server holds it; `null`: this machine.
    pub host: Option<String>,
    /// Index in the pool, `null` for a dedicated session.
    pub index: Option<u32>,
    /// idle | working | waiting | failed | missing | absent | starting
    pub state: State,
    pub present: bool,
    pub reason: String,
    /// Starts made by the supervisor in the current crash-loop streak.
    pub restarts: u32,
    /// Kept alive by reconcile (inside `min`, policy not `never`).
    pub supervised: bool,
    pub session_id: Option<String>,
    pub pane_id: Option<String>,
    pub command: Option<String>,
    pub task: Option<String>,
    /// The agent the slot runs (`claude`), `null` for any other program.
    pub agent: Option<AgentKind>,
    /// The agent's conversation id (Claude Code's session id; `session_id` is tmux's).
    pub agent_session_id: Option<String>,
    /// The agent's current start resumed its conversation (`null`: not an agent slot, or
    /// never started by the supervisor).
    pub resumed: Option<bool>,
    /// The agent's latest hook event since it started.
    pub last_hook: Option<LastHook>,
    /// A limited agent's reset time (RFC 3339, UTC), when it said.
    pub limited_until: Option<String>,
}

/// A hook event and how long ago it came.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LastHook {
    pub event: String,
    pub age_s: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StrayReport {
    pub name: String,
    pub pool: String,
    /// `null`: this machine.
    pub host: Option<String>,
    pub session_id: String,
}

/// `check`: one poll of `tmux` and the audit of it against `config` and the memory in
/// `store`, printed as text or (`json`) as one JSON object; returns the exit status. The
/// memory is only read: check changes nothing. `server` names the server in the report.
pub fn run(tmux: &dyn Tmux, config: &Config, store: &Store, server: &str, json: bool) -> u8 {
    // A state dir others can write to is read all the same (check acts on nothing), with a
    // warning.
    if let Err(refused) = statedir::check(&config.state_dir) {
        eprintln!(
            "tmux-supervisor: warning: {refused} (check only reads it; daemon and the UI refuse to start)"
        );
    }
    // The remembered failures, counters and panes, read only: check changes nothing.
    let memory = store.peek();
    let mut sup = Supervisor::new(config.clone(), memory, Mode::default());
    sup.agents.files = Some(AgentFiles::for_config(config));
    let result = sup.poll_job().run(tmux);
    if let Some(e) = result.error {
        // Is tmux there at all, and new enough? Only now is it asked on its own.
        if let Err(why) = tmux.version() {
            eprintln!("tmux-supervisor: {why}\n  {NEEDS_TMUX}");
        } else {
            eprintln!("tmux-supervisor: cannot read tmux: {e}");
        }
        return EXIT_ERROR;
    }
    if let Err(why) = usable_version(tmux, &result.snapshot) {
        eprintln!("tmux-supervisor: {why}\n  {NEEDS_TMUX}");
        return EXIT_ERROR;
    }
    warn_skipped(&result.snapshot.rejected);
    for w in &result.warnings {
        eprintln!("tmux-supervisor: {w}");
    }
    let now = runner::now_ms();
    // The supervisor folds the poll into its copy of the memory, as a running one would.
    sup.on_poll(result, now);
    let (Some(obs), memory) = (sup.last.as_ref(), &sup.memory) else {
        eprintln!("tmux-supervisor: cannot read tmux");
        return EXIT_ERROR;
    };
    let report = report(&sup.layout, obs, memory, server);
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("tmux-supervisor: {e}");
                return EXIT_ERROR;
            }
        }
    } else {
        print!("{}", report.to_text(&sup.layout, now / 1000, obs));
    }
    report.exit_code()
}

/// The version of the server that answered (`#{version}` of the snapshot), or when none
/// answered (or it has no such format), of the tmux program (`tmux -V`): below 3.2 is refused.
fn usable_version(tmux: &dyn Tmux, snapshot: &Snapshot) -> Result<String, crate::tmux::TmuxError> {
    match snapshot.server_version() {
        Some(v) => check_version_text(v),
        None => tmux.version(),
    }
}

/// `check` has no log: lines of tmux output it could not read are said on stderr (a few of
/// them, escaped), so an audit that silently lost a session is not taken as the truth.
fn warn_skipped(rejected: &[String]) {
    const SHOWN: usize = 5;
    if rejected.is_empty() {
        return;
    }
    eprintln!(
        "tmux-supervisor: skipped {} line(s) of tmux output of the wrong shape:",
        rejected.len()
    );
    for line in rejected.iter().take(SHOWN) {
        let escaped: String = line.escape_debug().take(200).collect();
        eprintln!("  {escaped}");
    }
    if rejected.len() > SHOWN {
        eprintln!("  … and {} more", rejected.len() - SHOWN);
    }
}

/// Builds the audit of one observation.
pub fn report(layout: &Layout, obs: &Observation, memory: &Memory, server: &str) -> Report {
    let mut problems = Vec::new();
    let slots: Vec<SlotReport> = obs
        .slots
        .iter()
        .map(|st| {
            let slot = &layout.slots[st.slot];
            let agent = memory
                .slot(&slot.name)
                .and_then(|m| m.agent.as_ref())
                .filter(|_| slot.agent.is_some());
            let present = st.pane.is_some();
            let alive = st.pane.as_ref().is_some_and(|p| !p.pane_dead);
            // A host that does not answer is one problem, said below, not one per slot.
            let reachable = obs.host_down(slot.host.as_deref()).is_none();
            if reachable && slot.supervised() && !alive {
                problems.push(format!("{} is {} ({})", slot.name, st.state, st.cause));
            } else if reachable && st.state == State::Failed {
                problems.push(format!("{} failed: {}", slot.name, st.cause));
            }
            SlotReport {
                name: slot.name.clone(),
                pool: slot.group.clone(),
                host: slot.host.clone(),
                index: slot.index,
                state: st.state,
                present,
                reason: st.reason(),
                restarts: memory.slot(&slot.name).map_or(0, |m| m.restarts),
                supervised: slot.supervised(),
                session_id: st.pane.as_ref().map(|p| p.session_id.clone()),
                pane_id: st.pane.as_ref().map(|p| p.pane_id.clone()),
                command: st.pane.as_ref().map(|p| p.current_command.clone()),
                task: st.task.clone(),
                agent: slot.agent,
                agent_session_id: agent.map(|a| a.id.clone()),
                resumed: agent.filter(|a| a.started_at.is_some()).map(|a| a.resumed),
                limited_until: memory
                    .slot(&slot.name)
                    .and_then(|m| m.limit.as_ref())
                    .filter(|_| st.state == State::Limited)
                    .and_then(|l| l.until)
                    .and_then(|u| jiff::Timestamp::from_millisecond(u).ok())
                    .map(|t| t.to_string()),
                last_hook: st.hook.as_ref().map(|h| LastHook {
                    event: h.event.clone(),
                    age_s: (obs.at.saturating_sub(h.at_ms as i64) / 1000).max(0),
                }),
            }
        })
        .collect();
    let strays: Vec<StrayReport> = obs
        .strays
        .iter()
        .map(|s| {
            problems.push(format!(
                "stray session {} (looks like pool {})",
                s.name, s.pool
            ));
            StrayReport {
                name: s.name.clone(),
                pool: s.pool.clone(),
                host: s.pane.host().map(str::to_string),
                session_id: s.pane.session_id.clone(),
            }
        })
        .collect();
    let hosts = host_reports(obs, &mut problems);
    Report {
        ok: problems.is_empty(),
        server: server.to_string(),
        server_pid: obs.server_pid,
        slots,
        strays,
        others: obs
            .others
            .iter()
            .map(|p| match p.host() {
                None => p.session_name.clone(),
                Some(h) => format!("{}@{h}", p.session_name),
            })
            .collect(),
        hosts,
        problems,
    }
}

/// Each other host, and a problem for each one that did not answer.
fn host_reports(obs: &Observation, problems: &mut Vec<String>) -> Vec<HostReport> {
    obs.hosts
        .iter()
        .map(|h| {
            if !h.up() {
                problems.push(format!(
                    "host {} unreachable: {}",
                    h.name,
                    h.reason.as_deref().unwrap_or("no answer")
                ));
            }
            HostReport {
                name: h.name.clone(),
                state: if h.up() { "up" } else { "unreachable" },
                reason: h.reason.clone(),
                last_seen: h
                    .last_seen
                    .and_then(|t| jiff::Timestamp::from_millisecond(t).ok())
                    .map(|t| t.to_string()),
            }
        })
        .collect()
}

impl Report {
    pub fn exit_code(&self) -> u8 {
        if self.ok { EXIT_OK } else { EXIT_PROBLEMS }
    }

    /// The audit as a plain table, one section per pool.
    pub fn to_text(&self, layout: &Layout, now_secs: i64, obs: &Observation) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tmux server: {}{}",
            self.server,
            self.server_pid
                .map_or_else(|| " (not running)".to_string(), |p| format!(" (pid {p})"))
        );
        for h in &self.hosts {
            let _ = writeln!(
                out,
                "host {}: {}{}",
                h.name,
                h.state,
                h.reason
                    .as_deref()
                    .map_or_else(String::new, |r| format!(" ({})", printable(r)))
            );
        }
        for g in &layout.groups {
            let up = obs.up(&g.slots);
            let on = g
                .host
                .as_deref()
                .map_or_else(String::new, |h| format!("{h}: "));
            let _ = writeln!(
                out,
                "\n{on}{}  {}  restart: {}  {up}/{} up",
                g.name,
                g.range,
                g.restart.map_or("per session", |r| r.as_str()),
                g.slots.len()
            );
            for &i in &g.slots {
                let r = &self.slots[i];
                let age = obs.slots[i]
                    .pane
                    .as_ref()
                    .map(|p| short_age((now_secs - p.session_created) * 1000))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:<22} {:<9} {:<9} up {:<5} restarts {:<3} {}",
                    r.name,
                    r.state.as_str(),
                    printable(r.command.as_deref().unwrap_or("-")),
                    if age.is_empty() { "-" } else { &age },
                    r.restarts,
                    printable(&r.reason)
                );
            }
        }
        let _ = writeln!(out, "\nstrays: {}", self.strays.len());
        for s in &self.strays {
            let on = s
                .host
                .as_deref()
                .map_or_else(String::new, |h| format!(" on {h}"));
            let _ = writeln!(out, "  {:<22} looks like pool {}{on}", s.name, s.pool);
        }
        let _ = writeln!(out, "other sessions: {}", self.others.len());
        if self.ok {
            let _ = writeln!(out, "\nall well");
        } else {
            let _ = writeln!(out, "\n{} problem(s):", self.problems.len());
            for p in &self.problems {
                let _ = writeln!(out, "  - {}", printable(p));
            }
        }
        out
    }
}

/// Text a pane set (its program's name can be any bytes) made safe for a terminal: control
/// characters (escape sequences among them) are written as `\u{..}`, not sent.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
