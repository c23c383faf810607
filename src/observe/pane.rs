//! The state of one live pane and why, in the order of the design, and what a pane's
//! foreground command is (the agent, a shell).

use std::collections::HashMap;
use std::hash::BuildHasher;

use super::{Cause, ExternalState, ExternalStatus, State, hooks};
use crate::claude::events::HookRecord;
use crate::config::AgentConfig;
use crate::time::Millis;
use crate::tmux::Pane;

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

/// The state of a live session's pane, in the order of the design: tmux facts, the external
/// status, pane text patterns (waiting before working), output recency, idle.
///
/// A shell in the foreground is never by itself a failure: it is `idle` ("shell"). When the
/// slot's own command is the shell (a wrapper such as `sh run-agent.sh` or
/// `bash -c 'while :; do claude; done'`, where the shell stays the foreground process group),
/// the status file and the pane text still say what the agent inside does; recency does not
/// (a prompt redrawing is not work).
pub(super) fn pane_state<H: BuildHasher>(
    p: &Pane,
    read: &PaneRead<'_>,
    agent: &AgentConfig,
    captures: &HashMap<String, String, H>,
    external: &ExternalStatus,
    now: Millis,
) -> (State, Cause) {
    if p.pane_dead {
        return (State::Failed, Cause::dead(p));
    }
    let shell = is_shell(&p.current_command, agent);
    if shell && !read.wrapper {
        return (State::Idle, Cause::Shell);
    }
    let text = captures.get(&p.pane_id).map(String::as_str);
    if let Some(rec) = read.hook
        && let Some(decided) = hooks::hook_state(rec, p, text, agent, now)
    {
        return decided;
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
    // Claude Code's own marks: for a Claude Code slot, and for any pane where the agent runs
    // in the foreground (the manual pool runs it without `agent: claude`).
    if read.claude || is_agent(&p.current_command, agent) {
        if text.is_some_and(hooks::interrupted) {
            return (State::Idle, Cause::Interrupted);
        }
        if let Some(s) = hooks::title_state(&p.title) {
            return (
                s,
                Cause::Title {
                    working: s == State::Working,
                },
            );
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

/// How a slot's pane is read: its command is a wrapper (not the agent itself), it runs Claude
/// Code, and the agent's latest hook event.
pub(super) struct PaneRead<'a> {
    pub(super) wrapper: bool,
    pub(super) claude: bool,
    pub(super) hook: Option<&'a HookRecord>,
}

/// True when a dead pane ended badly (non-zero status, a signal, or an unknown status).
pub fn died_badly(p: &Pane) -> bool {
    match (p.dead_status, p.dead_signal) {
        (_, Some(sig)) if sig != 0 => true,
        (Some(code), _) => code != 0,
        _ => true,
    }
}
