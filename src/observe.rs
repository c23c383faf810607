//! From one tmux snapshot (plus pane captures, the external status file and the memory) to
//! each slot's state and the reason it was decided, each stray, and the other sessions. Pure.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use serde::{Deserialize, Serialize};

use crate::config::{AgentConfig, BackoffConfig, Restart};
use crate::memory::{Action, EventKind, InFlight, Memory, OwnedPane, STATE_VERSION_PANES};
use crate::pool::{Class, Layout};
use crate::time::Millis;
use crate::tmux::{Pane, Snapshot};

mod cause;
pub use cause::{Cause, exit_words};

/// How long an op may stay in flight without its effect being seen.
pub const IN_FLIGHT_TIMEOUT_MS: Millis = 15_000;

/// What a slot is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Idle,
    Working,
    Waiting,
    Failed,
    Missing,
    Absent,
    Starting,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Working => "working",
            State::Waiting => "waiting",
            State::Failed => "failed",
            State::Missing => "missing",
            State::Absent => "absent",
            State::Starting => "starting",
        }
    }

    /// Present and alive.
    pub fn healthy(self) -> bool {
        matches!(self, State::Idle | State::Working | State::Waiting)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One slot as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotStatus {
    /// Index into [`Layout::slots`].
    pub slot: usize,
    pub state: State,
    /// Why the state was decided.
    pub cause: Cause,
    /// The pane read for this slot, when the session exists: the one the supervisor started
    /// there if it is still in the session (in any window), else the session's first pane.
    pub pane: Option<Pane>,
    /// `pane` is the one the supervisor started: only then may reconcile respawn it.
    pub owned: bool,
    /// A shell is in the foreground of `pane`.
    pub foreground_shell: bool,
    /// Number of panes the session has.
    pub panes: usize,
    /// Task from the external status file.
    pub task: Option<String>,
}

impl SlotStatus {
    /// Why the state was decided, in words.
    pub fn reason(&self) -> String {
        self.cause.to_string()
    }
}

/// A live session that looks like a pool member but is not a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrayStatus {
    pub name: String,
    pub pool: String,
    pub pane: Pane,
}

/// Everything one poll saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observation {
    pub at: Millis,
    pub slots: Vec<SlotStatus>,
    pub strays: Vec<StrayStatus>,
    /// Sessions that are neither slots nor strays.
    pub others: Vec<Pane>,
    pub server_pid: Option<u32>,
    /// Lines of tmux output that could not be read.
    pub rejected: usize,
}

impl Observation {
    /// The status of slot `i` (`slots` is in layout order, one entry per slot).
    pub fn slot(&self, i: usize) -> Option<&SlotStatus> {
        self.slots.get(i).filter(|s| s.slot == i)
    }

    /// How many of these slots are up: present, alive and not failed (one definition for the
    /// UI's pool headers and `check`).
    pub fn up(&self, slots: &[usize]) -> usize {
        slots
            .iter()
            .filter(|&&i| self.slot(i).is_some_and(|s| s.state.healthy()))
            .count()
    }

    /// Slot counts by state.
    pub fn count(&self, state: State) -> usize {
        self.slots.iter().filter(|s| s.state == state).count()
    }
}

/// What the dispatcher's status file says a session is doing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum ExternalState {
    /// `working` (or `busy`).
    Working,
    Waiting,
    Idle,
    /// Any other word: shown nowhere as a state, the other signals decide.
    Other(String),
}

impl From<String> for ExternalState {
    fn from(word: String) -> Self {
        match word.as_str() {
            "working" | "busy" => ExternalState::Working,
            "waiting" => ExternalState::Waiting,
            "idle" => ExternalState::Idle,
            _ => ExternalState::Other(word),
        }
    }
}

impl fmt::Display for ExternalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExternalState::Working => "working",
            ExternalState::Waiting => "waiting",
            ExternalState::Idle => "idle",
            ExternalState::Other(w) => w,
        })
    }
}

/// One entry of the external status file written by a dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct External {
    pub state: ExternalState,
    #[serde(default)]
    pub task: Option<String>,
}

/// The external status file: `{"ccl-auto-11": {"state": "working", "task": "…"}}`.
pub type ExternalStatus = BTreeMap<String, External>;

/// Parses the external status file.
pub fn parse_external(text: &str) -> Result<ExternalStatus, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// True when a pane's foreground command is the agent (a bare version like `2.1.34` counts).
pub fn is_agent(command: &str, agent: &AgentConfig) -> bool {
    agent.commands.iter().any(|c| c == command)
        || (!command.is_empty()
            && command.contains('.')
            && command.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// True when a pane's foreground command is a shell (a login shell may show as `-bash`).
pub fn is_shell(command: &str, agent: &AgentConfig) -> bool {
    let c = command.strip_prefix('-').unwrap_or(command);
    agent.shells.iter().any(|s| s == c)
}

/// Every session's panes, in snapshot order.
fn sessions(snap: &Snapshot) -> (HashMap<&str, Vec<&Pane>>, Vec<&str>) {
    let mut by_name: HashMap<&str, Vec<&Pane>> = HashMap::new();
    let mut order = Vec::new();
    for p in &snap.panes {
        by_name
            .entry(p.session_name.as_str())
            .or_insert_with(|| {
                order.push(p.session_name.as_str());
                Vec::new()
            })
            .push(p);
    }
    (by_name, order)
}

/// The pane to read for a slot: the one the supervisor started, if it is still in this
/// session on this server, else the first pane (which is then never respawned).
pub fn slot_pane<'a>(panes: &[&'a Pane], owned: Option<&OwnedPane>) -> Option<(&'a Pane, bool)> {
    if let Some(o) = owned
        && let Some(p) = panes.iter().find(|p| {
            p.pane_id == o.pane_id && p.session_id == o.session_id && p.server_pid == o.server_pid
        })
    {
        return Some((p, true));
    }
    panes.first().map(|p| (*p, false))
}

/// Panes worth capturing this poll: the pane read for each slot, when it is alive, not a
/// shell in the foreground (unless the slot's own command is one: a wrapper script), and has
/// had output since it was last captured (`last_read` maps pane id → `window_activity` at
/// capture). `owned` maps slot name → the pane the supervisor started there.
pub fn panes_to_capture<H: BuildHasher, H2: BuildHasher>(
    layout: &Layout,
    snap: &Snapshot,
    agent: &AgentConfig,
    last_read: &HashMap<String, i64, H>,
    owned: &HashMap<String, OwnedPane, H2>,
) -> Vec<String> {
    let (by_name, order) = sessions(snap);
    let mut out = Vec::new();
    for name in order {
        let Class::Slot(i) = layout.classify(name) else {
            continue;
        };
        let Some((p, _)) = slot_pane(&by_name[name], owned.get(name)) else {
            continue;
        };
        let wrapper = !layout.slots[i].command.is_empty();
        if p.pane_dead || (is_shell(&p.current_command, agent) && !wrapper) {
            continue;
        }
        if last_read.get(&p.pane_id) != Some(&p.window_activity) {
            out.push(p.pane_id.clone());
        }
    }
    out
}

/// Derives every slot's state from tmux facts alone (plus captures and the status file).
/// `captures` maps pane id → recent pane text. `now` is in milliseconds.
pub fn observe<H: BuildHasher>(
    layout: &Layout,
    agent: &AgentConfig,
    snap: &Snapshot,
    captures: &HashMap<String, String, H>,
    external: &ExternalStatus,
    memory: &Memory,
    now: Millis,
) -> Observation {
    let (by_name, order) = sessions(snap);

    let slots = layout
        .slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let owned_pane = memory.slot(&slot.name).and_then(|m| m.pane.as_ref());
            let found = by_name
                .get(slot.name.as_str())
                .and_then(|panes| Some((slot_pane(panes, owned_pane)?, panes.len())));
            let mut status = SlotStatus {
                slot: i,
                state: State::Absent,
                cause: Cause::NoSession,
                pane: None,
                owned: false,
                foreground_shell: false,
                panes: 0,
                task: external.get(&slot.name).and_then(|e| e.task.clone()),
            };
            match found {
                None if slot.supervised() => status.state = State::Missing,
                None => {
                    status.cause = Cause::NoSessionWatched {
                        never: slot.restart == Restart::Never,
                    };
                }
                Some(((p, owned), n)) => {
                    let wrapper = !slot.command.is_empty();
                    let (s, r) = pane_state(p, wrapper, agent, captures, external, now);
                    status.state = s;
                    status.cause = r;
                    status.foreground_shell = !p.pane_dead && is_shell(&p.current_command, agent);
                    status.pane = Some(p.clone());
                    status.owned = owned;
                    status.panes = n;
                }
            }
            status
        })
        .collect();

    let mut strays = Vec::new();
    let mut others = Vec::new();
    for name in order {
        let p = by_name[name][0];
        match layout.classify(name) {
            Class::Slot(_) => {}
            Class::Stray { pool } => strays.push(StrayStatus {
                name: name.to_string(),
                pool: pool.to_string(),
                pane: p.clone(),
            }),
            Class::Other => others.push(p.clone()),
        }
    }
    Observation {
        at: now,
        slots,
        strays,
        others,
        server_pid: snap.server_pid(),
        rejected: snap.rejected.len(),
    }
}

/// The state of a live session's pane, in the order of the design: tmux facts, the external
/// status, pane text patterns (waiting before working), output recency, idle.
///
/// A shell in the foreground is never by itself a failure: it is `idle` ("shell"). When the
/// slot's own command is the shell (a wrapper such as `sh run-agent.sh` or
/// `bash -c 'while :; do claude; done'`, where the shell stays the foreground process group),
/// the status file and the pane text still say what the agent inside does; recency does not
/// (a prompt redrawing is not work).
fn pane_state<H: BuildHasher>(
    p: &Pane,
    wrapper: bool,
    agent: &AgentConfig,
    captures: &HashMap<String, String, H>,
    external: &ExternalStatus,
    now: Millis,
) -> (State, Cause) {
    if p.pane_dead {
        return (State::Failed, Cause::dead(p));
    }
    let shell = is_shell(&p.current_command, agent);
    if shell && !wrapper {
        return (State::Idle, Cause::Shell);
    }
    if let Some(e) = external.get(&p.session_name) {
        let s = match e.state {
            ExternalState::Working => Some(State::Working),
            ExternalState::Waiting => Some(State::Waiting),
            ExternalState::Idle => Some(State::Idle),
            ExternalState::Other(_) => None,
        };
        if let Some(s) = s {
            return (s, Cause::StatusFile(e.state.to_string()));
        }
    }
    if let Some(text) = captures.get(&p.pane_id) {
        for pat in &agent.waiting_patterns {
            if text.contains(pat.as_str()) {
                return (State::Waiting, Cause::Pattern(pat.clone()));
            }
        }
        for pat in &agent.working_patterns {
            if text.contains(pat.as_str()) {
                return (State::Working, Cause::Pattern(pat.clone()));
            }
        }
    }
    if shell {
        return (State::Idle, Cause::Shell);
    }
    let age_ms = now.saturating_sub(p.window_activity.saturating_mul(1000));
    if age_ms <= agent.busy_window.as_millis() as i64 {
        return (
            State::Working,
            Cause::Output {
                ago_s: (age_ms.max(0) + 500) / 1000,
            },
        );
    }
    (
        State::Idle,
        Cause::Quiet {
            agent: is_agent(&p.current_command, agent),
            for_ms: age_ms,
        },
    )
}

/// True when a dead pane ended badly (non-zero status, a signal, or an unknown status).
pub fn died_badly(p: &Pane) -> bool {
    match (p.dead_status, p.dead_signal) {
        (_, Some(sig)) if sig != 0 => true,
        (Some(code), _) => code != 0,
        _ => true,
    }
}

/// Folds one observation into the memory and settles each slot's shown state:
/// in-flight ops seen done, crashes while working turned into sticky failures, healthy
/// streaks resetting the backoff, gave-up slots held failed, strays logged once.
pub fn remember(
    obs: &mut Observation,
    layout: &Layout,
    backoff: &BackoffConfig,
    memory: &mut Memory,
    now: Millis,
) {
    for st in &mut obs.slots {
        let slot = &layout.slots[st.slot];
        let name = slot.name.clone();
        let raw = st.state;
        let mut events: Vec<(EventKind, String)> = Vec::new();
        let m = memory.slot_mut(&name);
        let session_id = st.pane.as_ref().map(|p| p.session_id.clone());

        // Memory from before panes were recorded: the single pane of the session this
        // supervisor saw last in a slot it had started is taken as its own, once.
        if std::mem::take(&mut m.adopt_last_session)
            && m.pane.is_none()
            && st.panes == 1
            && let Some(p) = &st.pane
            && m.last_session.as_ref() == Some(&p.session_id)
        {
            m.pane = Some(OwnedPane {
                server_pid: p.server_pid,
                session_id: p.session_id.clone(),
                pane_id: p.pane_id.clone(),
            });
            st.owned = true;
        }

        // An op of ours on this slot (in flight now, or its state not yet recorded since): what
        // the poll shows is its doing, never a crash.
        let had_op = m.in_flight.is_some();
        // A clock stepped back must not freeze timeouts: nothing started in the future.
        if let Some(f) = m.in_flight.as_mut()
            && f.since > now
        {
            f.since = now;
        }

        // The op in flight: done when the poll shows its effect, dropped after a timeout.
        if let Some(f) = &m.in_flight {
            if in_flight_done(f, st.pane.as_ref()) {
                m.in_flight = None;
            } else if now.saturating_sub(f.since) > IN_FLIGHT_TIMEOUT_MS {
                events.push((
                    EventKind::Error,
                    format!("{} of {name} not confirmed after 15s", f.op),
                ));
                m.in_flight = None;
            }
        }

        // A slot that was working and then vanished, died or dropped to a shell crashed. The
        // shell must have taken over from the agent: a shell that was already the foreground
        // (a wrapper script running the agent) says nothing about it.
        let was_working = m.last_state == Some(State::Working);
        let dropped = match raw {
            State::Missing | State::Absent | State::Failed => true,
            State::Idle => st.foreground_shell && !m.last_foreground_shell,
            _ => false,
        };
        if was_working && dropped && !had_op {
            let how = match raw {
                State::Missing | State::Absent => "session vanished".to_string(),
                State::Idle => "agent exited to a shell".to_string(),
                _ => st.reason(),
            };
            m.failed = Some(format!("crashed while working ({how})"));
            m.failed_session.clone_from(&session_id);
            events.push((
                EventKind::Failed,
                format!("{name} crashed while working ({how})"),
            ));
        } else if !had_op && matches!(m.last_state, Some(State::Idle | State::Waiting)) {
            // Any other end of a live session is worth a line in the event log.
            let dead = st.pane.as_ref().filter(|p| p.pane_dead);
            if dead.is_some() || raw == State::Missing {
                let what = match dead.map(|p| exit_words(p.dead_status, p.dead_signal)) {
                    Some(Some(how)) => format!("died, {how}"),
                    Some(None) => "died".to_string(),
                    None => "session vanished".to_string(),
                };
                events.push((EventKind::Failed, format!("{name}: {what}")));
            } else if raw == State::Absent {
                events.push((EventKind::Info, format!("{name}: session ended")));
            }
        }

        // A failure mark belongs to one session: a new live session, or the agent working
        // again, clears it.
        if m.failed.is_some() && m.in_flight.is_none() {
            let new_session = session_id.is_some() && session_id != m.failed_session;
            if new_session || matches!(raw, State::Working | State::Waiting) {
                m.failed = None;
                m.failed_session = None;
            }
        }

        // Clean exits, for on-failure.
        match raw {
            State::Failed if st.pane.as_ref().is_some_and(|p| p.pane_dead) => {
                m.clean_exit = st.pane.as_ref().is_some_and(|p| !died_badly(p)) && !was_working;
            }
            State::Missing if m.last_session.is_some() && !was_working && m.failed.is_none() => {
                m.clean_exit = true;
            }
            s if s.healthy() => m.clean_exit = false,
            _ => {}
        }

        // Healthy streaks reset the backoff.
        if raw.healthy() {
            let since = (*m.healthy_since.get_or_insert(now)).min(now);
            if m.restarts > 0 && now.saturating_sub(since) >= backoff.reset_after.as_millis() as i64
            {
                m.restarts = 0;
            }
        } else {
            m.healthy_since = None;
        }

        // What is shown.
        let (state, cause) = if m.gave_up {
            (
                State::Failed,
                Cause::GaveUp {
                    restarts: m.restarts,
                    last: m.failed.clone(),
                },
            )
        } else if let Some(f) = &m.in_flight
            && f.op != Action::Kill
            && (st.pane.is_none() || st.pane.as_ref().is_some_and(|p| p.pane_dead))
        {
            (State::Starting, Cause::Sent(f.op))
        } else if let Some(f) = &m.failed {
            let quiet_now = matches!(raw, State::Failed | State::Missing | State::Absent)
                || st.foreground_shell;
            (
                State::Failed,
                Cause::Marked {
                    failure: f.clone(),
                    now: (!quiet_now).then(|| Box::new(st.cause.clone())),
                },
            )
        } else {
            (raw, st.cause.clone())
        };
        st.state = state;
        st.cause = cause;
        if st.pane.as_ref().is_some_and(|p| p.pane_dead) && !st.owned && slot.supervised() {
            // Reconcile leaves it: say why a dead pane of a kept-alive slot stays dead.
            st.cause = Cause::NotOurs(Box::new(std::mem::replace(&mut st.cause, Cause::Shell)));
        }
        // While an op of ours runs, the state it passes through is not history.
        m.last_state = (!had_op).then_some(raw);
        m.last_session = session_id;
        m.last_foreground_shell = st.foreground_shell;
        for (kind, text) in events {
            memory.push(now, kind, &name, text);
        }
    }

    let current: std::collections::BTreeSet<String> =
        obs.strays.iter().map(|s| s.name.clone()).collect();
    for s in &obs.strays {
        if !memory.strays_seen.contains(&s.name) {
            memory.push(
                now,
                EventKind::Stray,
                &s.name,
                format!(
                    "stray session {} looks like pool {} but is not a slot; left alone",
                    s.name, s.pool
                ),
            );
        }
    }
    memory.strays_seen = current;
}

/// Memory loaded from a state file older than [`STATE_VERSION_PANES`] knows no slot's pane:
/// each slot it had started may adopt, at the first poll, the single pane of the session it
/// saw there last. Without this an upgrade would leave every dead pane of the pool dead.
pub fn adopt_panes_of_old_memory(memory: &mut Memory) {
    if memory.loaded_version == 0 || memory.loaded_version >= STATE_VERSION_PANES {
        return;
    }
    for m in memory.slots.values_mut() {
        m.adopt_last_session = m.started_before && m.pane.is_none() && m.last_session.is_some();
    }
}

fn in_flight_done(f: &InFlight, pane: Option<&Pane>) -> bool {
    match pane {
        None => f.op == Action::Kill,
        // A new process in the pane (it may already have died again: crash loops do).
        Some(p) if f.op == Action::Respawn => Some(p.pane_pid) != f.old_pane_pid,
        Some(_) if f.op == Action::Kill => false,
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests;
