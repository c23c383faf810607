//! From one tmux snapshot (plus pane captures, the external status file and the memory) to
//! each slot's state and the reason it was decided, each stray, and the other sessions. Pure.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

use serde::{Deserialize, Serialize};

use crate::claude::events::HookRecord;
use crate::config::{AgentConfig, AgentKind, Restart};
use crate::controller::HookRecords;
use crate::memory::{Memory, OwnedPane};
use crate::pool::{Class, Layout};
use crate::time::Millis;
use crate::tmux::{Pane, Snapshot};

mod cause;
mod external;
pub mod hooks;
mod pane;
pub use cause::{Cause, exit_words};
pub use external::{External, ExternalState, ExternalStatus, parse_external};
use pane::{PaneRead, pane_state};
pub use pane::{died_badly, is_agent, is_shell};

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
    /// The agent hit a usage or rate limit: left alone until it resets.
    Limited,
    /// The agent works with no progress for `agent.hung_after`.
    Hung,
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
            State::Limited => "limited",
            State::Hung => "hung",
        }
    }

    /// Present and alive.
    pub fn healthy(self) -> bool {
        matches!(
            self,
            State::Idle | State::Working | State::Waiting | State::Limited | State::Hung
        )
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
    /// The agent (`agent.commands`, or a bare version like `2.1.34`) is in the foreground.
    pub foreground_agent: bool,
    /// Number of panes the session has.
    pub panes: usize,
    /// Task from the external status file.
    pub task: Option<String>,
    /// The agent's latest hook event since it started, whether or not it decided the state.
    pub hook: Option<HookRecord>,
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
    /// The other hosts (`hosts:`), whether each answered (set by the controller, which
    /// remembers when each was last seen).
    pub hosts: Vec<crate::hosts::HostStatus>,
}

impl Observation {
    /// The pane read for the live session of that exact name on `host` (`None`: this
    /// machine): a slot's, a stray's or another session's (the one way a session's pane is
    /// found by name).
    pub fn pane_named(&self, host: Option<&str>, name: &str) -> Option<&Pane> {
        self.slots
            .iter()
            .filter_map(|s| s.pane.as_ref())
            .chain(self.strays.iter().map(|s| &s.pane))
            .chain(self.others.iter())
            .find(|p| p.session_name == name && p.host() == host)
    }

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

    /// The host `host` is known and did not answer (`None`, this machine, always answers:
    /// a poll it fails fails as a whole).
    pub fn host_down(&self, host: Option<&str>) -> Option<&crate::hosts::HostStatus> {
        let host = host?;
        self.hosts.iter().find(|h| h.name == host && !h.up())
    }

    /// Slot counts by state.
    pub fn count(&self, state: State) -> usize {
        self.slots.iter().filter(|s| s.state == state).count()
    }
}

/// A session: its host (`None`: this machine) and its name.
type SessionKey<'a> = (Option<&'a str>, &'a str);

/// Every session's panes, by host and name, in snapshot order.
fn sessions(snap: &Snapshot) -> (HashMap<SessionKey<'_>, Vec<&Pane>>, Vec<SessionKey<'_>>) {
    let mut by_name: HashMap<SessionKey<'_>, Vec<&Pane>> = HashMap::new();
    let mut order = Vec::new();
    for p in &snap.panes {
        let key = (p.host(), p.session_name.as_str());
        by_name
            .entry(key)
            .or_insert_with(|| {
                order.push(key);
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
    for key @ (host, name) in order {
        let Class::Slot(i) = layout.classify(host, name) else {
            continue;
        };
        let Some((p, _)) = slot_pane(&by_name[&key], owned.get(name)) else {
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
    let seen = Seen {
        snapshot: snap,
        captures,
        external,
        hooks: &HookRecords::default(),
    };
    observe_all(layout, agent, &seen, memory, now)
}

/// What one poll read: the snapshot, pane captures (pane id → recent text), the status file
/// and the agents' hook events.
pub struct Seen<'a, H: BuildHasher> {
    pub snapshot: &'a Snapshot,
    pub captures: &'a HashMap<String, String, H>,
    pub external: &'a ExternalStatus,
    pub hooks: &'a HookRecords,
}

/// Derives every slot's state from what one poll read, in the order of the design: tmux
/// facts, the agent's hooks, the status file, pane text, the title, output recency.
pub fn observe_all<H: BuildHasher>(
    layout: &Layout,
    agent: &AgentConfig,
    seen: &Seen<'_, H>,
    memory: &Memory,
    now: Millis,
) -> Observation {
    let (snap, captures, external) = (seen.snapshot, seen.captures, seen.external);
    let (by_name, order) = sessions(snap);

    let slots = layout
        .slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let owned_pane = memory.slot(&slot.name).and_then(|m| m.pane.as_ref());
            let found = by_name
                .get(&(slot.host.as_deref(), slot.name.as_str()))
                .and_then(|panes| Some((slot_pane(panes, owned_pane)?, panes.len())));
            let mut status = SlotStatus {
                slot: i,
                state: State::Absent,
                cause: Cause::NoSession,
                pane: None,
                owned: false,
                foreground_shell: false,
                foreground_agent: false,
                panes: 0,
                task: external.get(&slot.name).and_then(|e| e.task.clone()),
                hook: None,
            };
            match found {
                None if slot.supervised() => status.state = State::Missing,
                None => {
                    status.cause = Cause::NoSessionWatched {
                        never: slot.restart == Restart::Never,
                    };
                }
                Some(((p, owned), n)) => {
                    let read = PaneRead {
                        wrapper: !slot.command.is_empty(),
                        claude: slot.agent == Some(AgentKind::Claude),
                        hook: hooks::current(
                            seen.hooks.by_slot.get(&slot.name),
                            seen.hooks.by_pane.get(&p.pane_id),
                            p,
                            memory.slot(&slot.name),
                        ),
                    };
                    status.hook = read.hook.cloned();
                    let (s, r) = pane_state(p, &read, agent, captures, external, now);
                    status.state = s;
                    status.cause = r;
                    status.foreground_shell = !p.pane_dead && is_shell(&p.current_command, agent);
                    status.foreground_agent = !p.pane_dead && is_agent(&p.current_command, agent);
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
    for key @ (host, name) in order {
        let p = by_name[&key][0];
        match layout.classify(host, name) {
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
        hosts: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
