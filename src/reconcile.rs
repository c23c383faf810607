//! Deciding what to do: `plan()` compares the configured slots with what a poll saw and the
//! memory, and returns the ops to run, holding crash loops back by the backoff maths. Pure:
//! it reads no clock and touches no tmux.

use crate::config::{BackoffConfig, Restart};
use crate::memory::{Memory, SlotMemory};
use crate::observe::{Observation, State, died_badly};
use crate::pool::Layout;
use crate::time::Millis;

/// At most this many sessions are started in one pass (a server restart must not stampede).
pub const STARTS_PER_PASS: usize = 10;

/// Something to do to one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create the missing session.
    Create { slot: usize },
    /// Restart the session's pane in place (keeps the session, its id and attached clients).
    Respawn {
        slot: usize,
        pane_id: String,
        old_pane_pid: u32,
    },
    /// `max_restarts` reached: mark the slot failed (gave up) and stop acting on it.
    GiveUp { slot: usize },
}

impl Op {
    pub fn slot(&self) -> usize {
        match self {
            Op::Create { slot } | Op::Respawn { slot, .. } | Op::GiveUp { slot } => *slot,
        }
    }

    /// Short words for the UI and the log.
    pub fn describe(&self, layout: &Layout) -> String {
        let name = &layout.slots[self.slot()].name;
        match self {
            Op::Create { .. } => format!("create {name}"),
            Op::Respawn { .. } => format!("respawn {name}"),
            Op::GiveUp { .. } => format!("give up on {name}"),
        }
    }
}

/// Why a slot is not acted on right now (shown as a countdown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub slot: usize,
    pub until: Millis,
}

/// The outcome of one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub ops: Vec<Op>,
    /// Slots that need a start but are backing off.
    pub backing_off: Vec<Waiting>,
    /// Slots that need a start but exceeded this pass's budget.
    pub deferred: usize,
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

/// What a slot needs, from the facts of the poll and its restart policy.
fn need(layout: &Layout, st: &crate::observe::SlotStatus, memory: &Memory) -> Option<Op> {
    let slot = &layout.slots[st.slot];
    let m = memory.slot(&slot.name);
    let crashed = m.is_some_and(|m| m.failed.is_some());
    let clean = m.is_some_and(|m| m.clean_exit);
    match &st.pane {
        None => {
            let start = match slot.restart {
                Restart::Never => false,
                Restart::Always => true,
                // Never seen, or gone badly: start it. Went away cleanly: leave it.
                Restart::OnFailure => crashed || !clean,
            };
            start.then_some(Op::Create { slot: st.slot })
        }
        // Only the pane the supervisor started there is ever respawned: a pane the operator
        // added (a split, a window before it) or a session someone else made is left alone.
        Some(_) if !st.owned => None,
        Some(p) if p.pane_dead => {
            let start = match slot.restart {
                Restart::Never => false,
                Restart::Always => true,
                Restart::OnFailure => crashed || died_badly(p),
            };
            start.then(|| Op::Respawn {
                slot: st.slot,
                pane_id: p.pane_id.clone(),
                old_pane_pid: p.pane_pid,
            })
        }
        // Alive but failed: the agent crashed while working and a shell took over.
        Some(p) if st.state == State::Failed && slot.restart != Restart::Never => {
            Some(Op::Respawn {
                slot: st.slot,
                pane_id: p.pane_id.clone(),
                old_pane_pid: p.pane_pid,
            })
        }
        Some(_) => None,
    }
}

/// The ops for one reconcile pass. Acts only on supervised slots (inside `min`, policy not
/// `never`), one op in flight per slot, with per-slot backoff and a budget per pass.
pub fn plan(
    layout: &Layout,
    backoff: &BackoffConfig,
    obs: &Observation,
    memory: &Memory,
    now: Millis,
) -> Plan {
    let mut out = Plan::default();
    let mut starts = 0;
    for st in &obs.slots {
        let Some(slot) = layout.slots.get(st.slot) else {
            continue;
        };
        // A limited agent is left alone until its limit resets, dead or not; nothing is done
        // on a host that does not answer (what it holds is not known).
        if !slot.supervised()
            || matches!(st.state, State::Starting | State::Limited)
            || obs.host_down(slot.host.as_deref()).is_some()
        {
            continue;
        }
        let mut m = memory.slot(&slot.name).cloned().unwrap_or_default();
        // A clock stepped back must not stretch the backoff: nothing started in the future.
        if m.last_start.is_some_and(|t| t > now) {
            m.last_start = Some(now);
        }
        if m.in_flight.is_some() || m.gave_up {
            continue;
        }
        let Some(op) = need(layout, st, memory) else {
            continue;
        };
        if backoff.max_restarts > 0 && m.restarts >= backoff.max_restarts {
            out.ops.push(Op::GiveUp { slot: st.slot });
            continue;
        }
        let allowed = next_start_allowed(&m, backoff);
        if now < allowed {
            out.backing_off.push(Waiting {
                slot: st.slot,
                until: allowed,
            });
            continue;
        }
        if starts >= STARTS_PER_PASS {
            out.deferred += 1;
            continue;
        }
        starts += 1;
        out.ops.push(op);
    }
    out
}

#[cfg(test)]
mod tests;
