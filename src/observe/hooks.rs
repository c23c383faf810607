//! The agent's own word on what it does: its latest hook event, taken for the slot's state
//! unless the pane has moved on since (DESIGN §11, "Which signal decides"), and the pane title
//! Claude Code sets (a spinner while it works, `✳` when it is idle).

use super::{Cause, State};
use crate::claude::events::HookRecord;
use crate::config::AgentConfig;
use crate::memory::SlotMemory;
use crate::time::Millis;
use crate::tmux::Pane;

/// The hook record that speaks for this pane now: the slot's own (its agent ran with
/// `TMUX_SUPERVISOR_SLOT`), else the pane's (hooks installed by hand), and only one written
/// since the current agent started: after the supervisor's last start of the slot, and not
/// before the session was made.
pub fn current<'a>(
    by_slot: Option<&'a HookRecord>,
    by_pane: Option<&'a HookRecord>,
    pane: &Pane,
    memory: Option<&SlotMemory>,
) -> Option<&'a HookRecord> {
    let started = memory.and_then(|m| m.last_start).unwrap_or(0).max(0) as u64;
    let created = (pane.session_created.max(0) as u64).saturating_mul(1000);
    [by_slot, by_pane]
        .into_iter()
        .flatten()
        .filter(|r| r.at_ms >= started && r.at_ms + 1000 >= created)
        .max_by_key(|r| r.at_ms)
}

/// What the latest hook event says, unless the pane contradicts it: a `working` event (the
/// prompt sent, a tool about to run or done) falls when the pane has been quiet longer than
/// `busy_window` and shows no working line (an Esc interrupt fires no hook); a `waiting` or
/// `idle` event falls when the pane printed after it and now shows the agent working (the
/// permission was granted, a new turn began).
pub fn hook_state(
    rec: &HookRecord,
    p: &Pane,
    text: Option<&str>,
    agent: &AgentConfig,
    now: Millis,
) -> Option<(State, Cause)> {
    let output_ms = p.window_activity.saturating_mul(1000);
    let quiet_ms = now.saturating_sub(output_ms);
    let shows_working = shows_working(p, text, agent);
    // window_activity has whole seconds: output within the hook's second is not "after" it.
    let printed_since = output_ms > rec.at_ms as i64 + 1000;
    let state = match rec.event.as_str() {
        "UserPromptSubmit" | "PreToolUse" | "PostToolUse" => {
            if quiet_ms > agent.busy_window.as_millis() as i64 && !shows_working {
                return None;
            }
            State::Working
        }
        "PermissionRequest" => State::Waiting,
        "Notification" => match rec.notification_type.as_deref() {
            Some("permission_prompt" | "elicitation_dialog") => State::Waiting,
            Some("idle_prompt") => State::Idle,
            _ => return None,
        },
        "Stop" | "SessionStart" | "StopFailure" => State::Idle,
        _ => return None,
    };
    if state != State::Working && printed_since && shows_working {
        return None;
    }
    if state == State::Waiting && printed_since && text.is_some_and(|t| !shows_waiting(t, agent)) {
        // Answered (or cancelled with Esc): the prompt is gone from the pane.
        return None;
    }
    let ago_ms = now.saturating_sub(rec.at_ms as i64).max(0);
    Some((
        state,
        Cause::Hook {
            event: rec.event.clone(),
            ago_ms,
            detail: detail(rec),
        },
    ))
}

/// What the pane title says, for a Claude Code slot: a Braille spinner in front while it
/// works, `✳` when it is idle.
pub fn title_state(title: &str) -> Option<State> {
    let first = title.chars().next()?;
    if ('\u{2801}'..='\u{28FF}').contains(&first) {
        Some(State::Working)
    } else if first == '✳' {
        Some(State::Idle)
    } else {
        None
    }
}

/// Claude Code's line after an Esc: the turn was interrupted.
pub const INTERRUPTED: &str = "Interrupted · What should Claude do instead?";

/// The last turn in the pane text ended with an Esc: the interrupted line comes after the
/// last answer (`●`) and the last "done" line (`✻ Churned for 12s`).
pub fn interrupted(text: &str) -> bool {
    let mut last_interrupt = None;
    let mut last_turn = None;
    for (i, line) in text.lines().enumerate() {
        if line.contains(INTERRUPTED) {
            last_interrupt = Some(i);
        } else if let Some(c) = line.trim_start().chars().next()
            && matches!(c, '●' | '✻' | '✶' | '✽' | '✢' | '·' | '*')
        {
            last_turn = Some(i);
        }
    }
    last_interrupt.is_some_and(|i| last_turn.is_none_or(|t| t < i))
}

fn shows_working(p: &Pane, text: Option<&str>, agent: &AgentConfig) -> bool {
    text.is_some_and(|t| {
        agent
            .working_patterns
            .iter()
            .any(|w| t.contains(w.as_str()))
    }) || title_state(&p.title) == Some(State::Working)
}

fn shows_waiting(text: &str, agent: &AgentConfig) -> bool {
    agent
        .waiting_patterns
        .iter()
        .any(|w| text.contains(w.as_str()))
        || text.contains("Esc to cancel")
}

/// The tool, message or error an event names, for the reason.
fn detail(rec: &HookRecord) -> Option<String> {
    match rec.event.as_str() {
        "Stop" => Some("done".into()),
        "StopFailure" => rec
            .error
            .clone()
            .or_else(|| Some("stopped on an error".into())),
        "SessionStart" => rec.source.clone(),
        "Notification" => match (&rec.message, &rec.tool_name) {
            (Some(m), Some(t)) => Some(format!("{m} ({t})")),
            (m, t) => m.clone().or_else(|| t.clone()),
        },
        _ => rec.tool_name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_says_working_or_idle() {
        assert_eq!(title_state("⠐ Mock session"), Some(State::Working));
        assert_eq!(title_state("⠂ Fix the tests"), Some(State::Working));
        assert_eq!(title_state("✳ Claude Code"), Some(State::Idle));
        assert_eq!(title_state("bash"), None);
        assert_eq!(title_state(""), None);
    }

    #[test]
    fn an_interrupt_counts_only_when_it_is_the_last_turn() {
        let after = "● Hello\n✻ Baked for 1s\n❯ slow 20\n  ⎿  Interrupted · What should Claude do instead?\n❯ ";
        assert!(interrupted(after));
        let later = format!("{after}hi\n● Hi there\n✻ Churned for 2s\n❯ ");
        assert!(!interrupted(&later));
        assert!(!interrupted("● Hello\n❯ "));
    }
}
