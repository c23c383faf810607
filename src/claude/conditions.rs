//! Agent conditions that are not crashes (DESIGN §13): `limited` (a usage or rate limit, held
//! until it resets and never restarted) and `hung` (working with no progress for
//! `agent.hung_after`). Settled after the poll is remembered, for Claude Code slots only. Pure:
//! `now` and the machine's time zone are passed in.

use std::collections::HashMap;
use std::hash::{Hash as _, Hasher as _};

use jiff::tz::TimeZone;

use super::limits::{LimitSeen, limit_in, mentions_a_limit, parse_reset};
use crate::claude::events::HookRecord;
use crate::config::{AgentConfig, AgentKind};
use crate::memory::{Limit, Memory, SlotMemory};
use crate::observe::{Cause, Observation, SlotStatus, State};
use crate::pool::Layout;
use crate::time::Millis;

/// What one poll read that the conditions need besides the observation.
pub struct Reads<'a> {
    /// Pane id → its latest text.
    pub captures: &'a HashMap<String, String>,
    /// Slot name → the length of its conversation's transcript.
    pub transcript_len: &'a HashMap<String, u64>,
    /// The machine's time zone, read only when a limit without a zone needs it (finding its
    /// name walks the zoneinfo tree: milliseconds `check` need not spend).
    pub tz: &'a std::sync::OnceLock<TimeZone>,
}

/// Settles `limited` and `hung` for every Claude Code slot.
pub fn settle(
    obs: &mut Observation,
    layout: &Layout,
    agent: &AgentConfig,
    reads: &Reads<'_>,
    memory: &mut Memory,
    now: Millis,
) {
    for st in &mut obs.slots {
        let slot = &layout.slots[st.slot];
        if slot.agent != Some(AgentKind::Claude) {
            continue;
        }
        let m = memory.slot_mut(&slot.name);
        let text = st
            .pane
            .as_ref()
            .and_then(|p| reads.captures.get(&p.pane_id))
            .map(String::as_str);
        limited(st, m, text, reads.tz, now);
        if st.state != State::Limited {
            let len = reads.transcript_len.get(&slot.name).copied();
            hung(st, m, text, len, agent, now);
        }
    }
}

/// A limit seen (in the hook's `StopFailure`, or the pane's last turn) is held until it
/// resets, or until the agent works again; the slot shows `limited` meanwhile, dead or not.
fn limited(
    st: &mut SlotStatus,
    m: &mut SlotMemory,
    text: Option<&str>,
    tz: &std::sync::OnceLock<TimeZone>,
    now: Millis,
) {
    if st.state == State::Working || st.pane.is_none() {
        // A new turn (or a new session): whatever limit there was is over.
        m.limit = None;
        if st.state == State::Working {
            m.expired_limit = None;
        }
        return;
    }
    let tz = || tz.get_or_init(local_zone);
    let seen = from_hook(st.hook.as_ref(), now, &tz)
        .or_else(|| {
            text.filter(|t| mentions_a_limit(t))
                .and_then(|t| limit_in(t, now, tz()))
        })
        .filter(|s| m.expired_limit.as_ref() != Some(&s.line));
    if let Some(s) = seen {
        match &mut m.limit {
            Some(l) if l.line == s.line => {
                if l.until.is_none() {
                    l.until = s.until;
                }
            }
            other => {
                *other = Some(Limit {
                    since: now,
                    until: s.until,
                    line: s.line,
                });
            }
        }
    }
    let Some(l) = &m.limit else { return };
    if l.until.is_some_and(|u| u <= now) {
        m.expired_limit = Some(l.line.clone());
        m.limit = None;
        return;
    }
    let dead = st.pane.as_ref().is_some_and(|p| p.pane_dead);
    st.cause = Cause::Limited {
        line: l.line.clone(),
        until: l.until,
        now,
        dead,
    };
    st.state = State::Limited;
}

/// The machine's time zone (UTC when it cannot be read).
pub fn local_zone() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

/// The hook's word: `StopFailure` with a rate-limit error (its message may carry the reset).
fn from_hook<'t>(
    rec: Option<&HookRecord>,
    now: Millis,
    tz: &dyn Fn() -> &'t TimeZone,
) -> Option<LimitSeen> {
    let rec = rec.filter(|r| r.event == "StopFailure")?;
    let error = rec.error.as_deref()?;
    if !error.contains("rate_limit") {
        return None;
    }
    let until = rec
        .message
        .as_deref()
        .and_then(|t| parse_reset(t, now, tz()));
    // The agent's own words when the hook carries them ("You've hit your session limit ·
    // resets 5:35pm (UTC)"), else the error's name.
    let line = rec
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map_or_else(|| format!("hook StopFailure: {error}"), str::to_string);
    Some(LimitSeen { until, line })
}

/// Progress is a new hook event, a longer transcript, or pane text that changed other than
/// in the spinner's line (its clock counts on while a stream is stalled); no progress for
/// `hung_after` while working is `hung`.
fn hung(
    st: &mut SlotStatus,
    m: &mut SlotMemory,
    text: Option<&str>,
    transcript_len: Option<u64>,
    agent: &AgentConfig,
    now: Millis,
) {
    if st.state != State::Working {
        m.progress = None;
        return;
    }
    let mut h = fnv::FnvHasher::default();
    st.hook.as_ref().map(|r| r.at_ms).hash(&mut h);
    transcript_len.hash(&mut h);
    if let Some(t) = text {
        for line in t.lines() {
            progress_of(line).hash(&mut h);
        }
    }
    let fingerprint = h.finish();
    let since = match m.progress {
        Some((f, at)) if f == fingerprint => at,
        _ => {
            m.progress = Some((fingerprint, now));
            now
        }
    };
    let for_ms = now.saturating_sub(since);
    if for_ms >= agent.hung_after.as_millis() as Millis {
        st.state = State::Hung;
        st.cause = Cause::Hung { for_ms };
    }
}

/// A line as progress sees it: the spinner's line (`✻ Elucidating… (45s · ↓ 12 tokens)`) only
/// by its token count, since its glyph, verb and seconds move without any work done; the
/// footer not at all.
fn progress_of(line: &str) -> &str {
    // The footer ("esc to interrupt · ← for agents", and a hint that comes and goes on its
    // right) is not work either.
    if line.contains("esc to interrupt") || line.contains("for shortcuts") {
        return "";
    }
    let t = line.trim_start();
    let spinner = t.chars().next().is_some_and(|c| "·✢*✶✻✽".contains(c)) && t.contains('…');
    if !spinner {
        return line;
    }
    t.find('↓').map_or("", |i| {
        let rest = &t[i..];
        rest.find(" tokens").map_or(rest, |j| &rest[..j])
    })
}

#[cfg(test)]
mod tests;
