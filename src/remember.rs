//! Folding one observation into the memory: ops in flight seen done or timed out, crashes
//! while working turned into sticky failures, healthy streaks resetting the backoff, events
//! for the log, and the state each slot is shown in. Pure: `now` is passed in.

use crate::config::BackoffConfig;
use crate::memory::{
    Action, EventKind, InFlight, Memory, OwnedPane, STATE_VERSION_PANES, SlotMemory,
};
use crate::observe::{Cause, Observation, SlotStatus, State, died_badly, exit_words};
use crate::pool::{Layout, Slot};
use crate::time::Millis;
use crate::tmux::Pane;

/// How long an op may stay in flight without its effect being seen.
pub const IN_FLIGHT_TIMEOUT_MS: Millis = 15_000;

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
    let down: Vec<String> = obs
        .hosts
        .iter()
        .filter(|h| !h.up())
        .map(|h| h.name.clone())
        .collect();
    for st in &mut obs.slots {
        let slot = &layout.slots[st.slot];
        // A host that does not answer: its slots show what was last known, which is no news
        // (no healthy streak goes on, no crash is found).
        if slot.host.as_ref().is_some_and(|h| down.contains(h)) {
            continue;
        }
        let events = remember_slot(st, slot, backoff, memory.slot_mut(&slot.name), now);
        for (kind, text) in events {
            memory.push(now, kind, &slot.name, text);
        }
    }
    log_new_strays(obs, memory, now);
}

/// Folds one slot's part of the observation into its memory and settles the state it is
/// shown in; returns the events for the log.
fn remember_slot(
    st: &mut SlotStatus,
    slot: &Slot,
    backoff: &BackoffConfig,
    m: &mut SlotMemory,
    now: Millis,
) -> Vec<(EventKind, String)> {
    let name = &slot.name;
    let raw = st.state;
    let session_id = st.pane.as_ref().map(|p| p.session_id.clone());
    adopt_the_last_session(st, m);
    // An op of ours on this slot (in flight now, or its state not yet recorded since): what
    // the poll shows is its doing, never a crash.
    let had_op = m.in_flight.is_some();
    let timed_out = settle_in_flight(m, st.pane.as_ref(), name, now);
    let was_working = m.last_state == Some(State::Working);
    let ended = note_an_end(st, m, raw, was_working, had_op, name);
    // An op out at this poll is what answers a failure: its result says "recovered" (a poll
    // may come back with its effect before the op's own result does).
    if !had_op {
        clear_a_stale_failure(m, raw, session_id.as_ref());
    }
    note_clean_exit(m, st.pane.as_ref(), raw, was_working);
    follow_the_healthy_streak(m, raw, backoff, now);

    let (state, cause) = shown(st, m, raw);
    st.state = state;
    st.cause = cause;
    if st.pane.as_ref().is_some_and(|p| p.pane_dead) && !st.owned && slot.supervised() {
        // Reconcile leaves it: say why a dead pane of a kept-alive slot stays dead.
        st.cause = Cause::NotOurs(Box::new(std::mem::replace(&mut st.cause, Cause::Shell)));
    }
    // While an op of ours runs, the state it passes through is not history.
    m.last_state = (!had_op).then_some(raw);
    m.last_session = session_id;
    m.last_foreground_agent = st.foreground_agent;
    timed_out.into_iter().chain(ended).collect()
}

/// Memory from before panes were recorded: the single pane of the session this supervisor
/// saw last in a slot it had started is taken as its own, once.
fn adopt_the_last_session(st: &mut SlotStatus, m: &mut SlotMemory) {
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
}

/// The op in flight: done when the poll shows its effect, dropped after a timeout (told).
fn settle_in_flight(
    m: &mut SlotMemory,
    pane: Option<&Pane>,
    name: &str,
    now: Millis,
) -> Option<(EventKind, String)> {
    let f = m.in_flight.as_mut()?;
    // A clock stepped back must not freeze timeouts: nothing started in the future.
    if f.since > now {
        f.since = now;
    }
    if in_flight_done(f, pane) {
        m.in_flight = None;
        None
    } else if now.saturating_sub(f.since) > IN_FLIGHT_TIMEOUT_MS {
        let event = (
            EventKind::Error,
            format!("{} of {name} not confirmed after 15s", f.op),
        );
        m.in_flight = None;
        Some(event)
    } else {
        None
    }
}

/// A slot that was working and then vanished, died or dropped to a shell crashed: marked
/// failed. Any other end of a live session is only told. Nothing is, while an op of ours runs.
fn note_an_end(
    st: &SlotStatus,
    m: &mut SlotMemory,
    raw: State,
    was_working: bool,
    had_op: bool,
    name: &str,
) -> Option<(EventKind, String)> {
    if had_op {
        return None;
    }
    // The shell must have taken over from the agent itself: a shell that was already the
    // foreground (a wrapper script running the agent), or one coming back after another
    // program ran at the prompt, says nothing about the agent.
    let dropped = match raw {
        State::Missing | State::Absent | State::Failed => true,
        State::Idle => st.foreground_shell && m.last_foreground_agent,
        _ => false,
    };
    if was_working && dropped {
        let how = match raw {
            State::Missing | State::Absent => "session vanished".to_string(),
            State::Idle => "agent exited to a shell".to_string(),
            _ => st.reason(),
        };
        m.failed = Some(format!("crashed while working ({how})"));
        m.failed_session = st.pane.as_ref().map(|p| p.session_id.clone());
        return Some((
            EventKind::Failed,
            format!("{name} crashed while working ({how})"),
        ));
    }
    if !matches!(m.last_state, Some(State::Idle | State::Waiting)) {
        return None;
    }
    // Any other end of a live session is worth a line in the event log.
    let dead = st.pane.as_ref().filter(|p| p.pane_dead);
    if dead.is_some() || raw == State::Missing {
        let what = match dead.map(|p| exit_words(p.dead_status, p.dead_signal)) {
            Some(Some(how)) => format!("died, {how}"),
            Some(None) => "died".to_string(),
            None => "session vanished".to_string(),
        };
        Some((EventKind::Failed, format!("{name}: {what}")))
    } else if raw == State::Absent {
        Some((EventKind::Info, format!("{name}: session ended")))
    } else {
        None
    }
}

/// A failure mark belongs to one session: a new live session, or the agent working again,
/// clears it.
fn clear_a_stale_failure(m: &mut SlotMemory, raw: State, session_id: Option<&String>) {
    if m.failed.is_some() && m.in_flight.is_none() {
        let new_session = session_id.is_some() && session_id != m.failed_session.as_ref();
        // A placeholder's output (a create left unfinished) is not the agent working again.
        let working_again = matches!(raw, State::Working | State::Waiting) && !m.on_placeholder;
        if new_session || working_again {
            m.failed = None;
            m.failed_session = None;
        }
    }
}

/// Clean exits, for on-failure.
fn note_clean_exit(m: &mut SlotMemory, pane: Option<&Pane>, raw: State, was_working: bool) {
    match raw {
        State::Failed if pane.is_some_and(|p| p.pane_dead) => {
            m.clean_exit = pane.is_some_and(|p| !died_badly(p)) && !was_working;
        }
        State::Missing if m.last_session.is_some() && !was_working && m.failed.is_none() => {
            m.clean_exit = true;
        }
        s if s.healthy() => m.clean_exit = false,
        _ => {}
    }
}

/// Healthy streaks reset the backoff.
fn follow_the_healthy_streak(m: &mut SlotMemory, raw: State, backoff: &BackoffConfig, now: Millis) {
    if raw.healthy() {
        let since = (*m.healthy_since.get_or_insert(now)).min(now);
        if m.restarts > 0 && now.saturating_sub(since) >= backoff.reset_after.as_millis() as i64 {
            m.restarts = 0;
        }
    } else {
        m.healthy_since = None;
    }
}

/// What is shown: gave up, starting under an op of ours, failed by a mark, or as observed.
fn shown(st: &SlotStatus, m: &SlotMemory, raw: State) -> (State, Cause) {
    if m.gave_up {
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
        let quiet_now =
            matches!(raw, State::Failed | State::Missing | State::Absent) || st.foreground_shell;
        (
            State::Failed,
            Cause::Marked {
                failure: f.clone(),
                now: (!quiet_now).then(|| Box::new(st.cause.clone())),
            },
        )
    } else {
        (raw, st.cause.clone())
    }
}

/// A stray is told when it appears, not at every poll while it stays.
fn log_new_strays(obs: &Observation, memory: &mut Memory, now: Millis) {
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
