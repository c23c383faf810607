//! What the supervisor remembers between polls and across restarts: per-slot restart counters,
//! backoff, failed marks and recent events (persisted by [`crate::store`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

pub use crate::store::{Lock, Store, StoreWarning};

/// The time of everything remembered (also at its own path, [`crate::time::Millis`]).
pub use crate::time::Millis;

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
    /// The agent itself (`agent.commands`) was the pane's foreground at the last poll. Only
    /// a shell taking over from the agent while it worked is a crash: not one that was there
    /// all along (a wrapper script such as `sh run-agent.sh`), nor one coming back after some
    /// other program the operator ran at the prompt (`make`, a loop printing output).
    pub last_foreground_agent: bool,
    /// The slot's pane is the placeholder of a create left unfinished: its output is not the
    /// agent's, so it never clears the failure mark (a new session or a start does).
    pub on_placeholder: bool,
    /// The Claude Code conversation of an `agent: claude` slot: the id it was started with,
    /// and whether that start resumed it.
    pub agent: Option<AgentSession>,
    /// The agent hit a usage or rate limit: never restarted nor counted as a crash until it
    /// resets (or the agent works again).
    pub limit: Option<Limit>,
    /// The limit line that has expired: the same line still on screen is not a new limit.
    pub expired_limit: Option<String>,
    /// A hung agent was sent Esc then (`agent.on_hung: restart`): it is respawned next.
    pub hung_interrupt: Option<Millis>,
    /// The working agent's last progress: a fingerprint of its hook events, transcript and
    /// pane text (the spinner's clock left out), and when it last changed. Kept in the state
    /// file, so `check` (one poll) tells a hung agent as the daemon does.
    pub progress: Option<(u64, Millis)>,
    /// Memory from a state file written before panes were recorded: the session seen last
    /// may be taken as the supervisor's own at the first poll (see `remember::remember`).
    #[serde(skip)]
    pub adopt_last_session: bool,
}

/// The conversation an agent slot runs (DESIGN §11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSession {
    /// The conversation's UUID: minted before a fresh start (`--session-id`), kept when it is
    /// resumed (`--resume`), and taken from the agent's own hooks when it changes (`/clear`).
    pub id: String,
    /// The current start was a `--resume`.
    pub resumed: bool,
    /// When the agent was last started with this id (a resume that dies again soon after is
    /// followed by a fresh start).
    pub started_at: Option<Millis>,
    /// Where the agent's hooks said its transcript is, when they did.
    #[serde(default)]
    pub transcript: Option<String>,
}

/// A usage or rate limit an agent slot hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// First seen.
    pub since: Millis,
    /// When it resets, when the agent said.
    pub until: Option<Millis>,
    /// What said it: the pane's line, or the hook's error.
    pub line: String,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn events_are_capped() {
        let mut m = Memory::default();
        for i in 0..(EVENT_LIMIT as i64 + 50) {
            m.push(i, EventKind::Info, "", "x");
        }
        assert_eq!(m.events.len(), EVENT_LIMIT);
        assert_eq!(m.events.front().unwrap().at, 50);
    }
}
