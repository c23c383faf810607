//! Why a slot is in its state: a typed cause that decisions match on, rendered to words only
//! for the screen, the log and `check`.

use std::fmt;

use crate::memory::Action;
use crate::time::{Millis, short_age};
use crate::tmux::Pane;

/// Why a slot's state was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// No session in a slot that is kept alive.
    NoSession,
    /// No session in a slot that is only watched: `restart: never`, or above `min`.
    NoSessionWatched { never: bool },
    /// The pane is dead (tmux 3.3a may have lost its exit status and signal).
    PaneDead {
        status: Option<i32>,
        signal: Option<i32>,
    },
    /// A shell is in the foreground.
    Shell,
    /// The dispatcher's status file says so (its word, as written).
    StatusFile(String),
    /// A waiting or working pattern in the pane text.
    Pattern(String),
    /// The agent's latest hook event says so (`detail`: the tool, message or error it names).
    Hook {
        event: String,
        ago_ms: Millis,
        detail: Option<String>,
    },
    /// The pane title Claude Code sets: a spinner (working) or `✳` (idle).
    Title { working: bool },
    /// The operator pressed Esc: Claude Code says the turn was interrupted.
    Interrupted,
    /// A usage or rate limit, resetting at `until` (unix ms) when the agent said; `dead` when
    /// the agent is gone meanwhile (it is not restarted before the reset).
    Limited {
        line: String,
        until: Option<Millis>,
        now: Millis,
        dead: bool,
    },
    /// Working with no progress for this long.
    Hung { for_ms: Millis },
    /// Output this many seconds ago, within `busy_window`.
    Output { ago_s: i64 },
    /// Nothing printed for this long; `agent` when the agent is in the foreground.
    Quiet { agent: bool, for_ms: Millis },
    /// An op of the supervisor was sent; its effect is not seen yet.
    Sent(Action),
    /// `max_restarts` was reached; `last` is the failure that was marked last.
    GaveUp { restarts: u32, last: Option<String> },
    /// A failure mark that outlives the poll ("crashed while working (…)", "create failed:
    /// …"), with what the pane shows now when that adds something.
    Marked {
        failure: String,
        now: Option<Box<Cause>>,
    },
    /// A dead pane the supervisor did not start: reconcile leaves it to the operator.
    NotOurs(Box<Cause>),
    /// Its host has not answered since the supervisor started: nothing is known of it.
    Unreachable { host: String },
}

impl Cause {
    /// The words already say the slot's policy ("no session (restart: never)").
    pub fn says_policy(&self) -> bool {
        matches!(self, Cause::NoSessionWatched { .. })
    }

    /// The cause of a dead pane.
    pub fn dead(p: &Pane) -> Cause {
        Cause::PaneDead {
            status: p.dead_status,
            signal: p.dead_signal,
        }
    }
}

/// How a dead pane ended, in words: "exit 3", "signal 9", "exit 127 (command not found)";
/// `None` when tmux lost the status. The statuses `env` and shells use when the program cannot
/// be run are named: a typo in a pool's `command` does not show as a bare number.
pub fn exit_words(status: Option<i32>, signal: Option<i32>) -> Option<String> {
    match (status, signal) {
        (_, Some(sig)) if sig != 0 => Some(format!("signal {sig}")),
        (Some(127), _) => Some("exit 127 (command not found)".to_string()),
        (Some(126), _) => Some("exit 126 (not executable)".to_string()),
        (Some(code), _) => Some(format!("exit {code}")),
        _ => None,
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::NoSession => f.write_str("no session"),
            Cause::Unreachable { host } => {
                write!(
                    f,
                    "host {host} has not answered since the start: nothing known"
                )
            }
            Cause::NoSessionWatched { never: true } => f.write_str("no session (restart: never)"),
            Cause::NoSessionWatched { never: false } => {
                f.write_str("no session (above min: watched only)")
            }
            Cause::PaneDead { status, signal } => match exit_words(*status, *signal) {
                Some(w) => write!(f, "pane dead, {w}"),
                None => f.write_str("pane dead"),
            },
            Cause::Shell => f.write_str("shell"),
            Cause::StatusFile(word) => write!(f, "status file says {word}"),
            Cause::Pattern(p) => write!(f, "pattern '{p}'"),
            Cause::Hook {
                event,
                ago_ms,
                detail,
            } => {
                write!(f, "hook {event} {} ago", short_age(*ago_ms))?;
                match detail {
                    Some(d) => write!(f, ": {d}"),
                    None => Ok(()),
                }
            }
            Cause::Title { working: true } => f.write_str("title: spinner (working)"),
            Cause::Title { working: false } => f.write_str("title: ✳ (idle)"),
            Cause::Interrupted => f.write_str("interrupted"),
            Cause::Limited {
                line,
                until,
                now,
                dead,
            } => {
                match until {
                    Some(u) => write!(f, "limit resets in {}", crate::time::countdown(*u, *now))?,
                    None => f.write_str("limit hit")?,
                }
                write!(f, ": {line}")?;
                if *dead {
                    f.write_str(" (agent gone; not restarted before the reset)")?;
                }
                Ok(())
            }
            Cause::Hung { for_ms } => write!(f, "no progress for {}", short_age(*for_ms)),
            Cause::Output { ago_s } => write!(f, "output {ago_s}s ago"),
            Cause::Quiet { agent, for_ms } => {
                let what = if *agent { "agent" } else { "program" };
                write!(f, "{what} quiet for {}", short_age(*for_ms))
            }
            Cause::Sent(op) => write!(f, "{op} sent, waiting for tmux"),
            Cause::GaveUp { restarts, last } => {
                write!(f, "gave up after {restarts} restarts")?;
                match last {
                    Some(l) => write!(f, "; last: {l}"),
                    None => Ok(()),
                }
            }
            Cause::Marked { failure, now } => match now {
                Some(c) => write!(f, "{failure}; now {c}"),
                None => f.write_str(failure),
            },
            Cause::NotOurs(c) => {
                write!(f, "{c} (not a pane the supervisor started: r restarts it)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_each_cause() {
        let dead = |status, signal| Cause::PaneDead { status, signal }.to_string();
        assert_eq!(dead(Some(3), None), "pane dead, exit 3");
        assert_eq!(dead(None, Some(9)), "pane dead, signal 9");
        assert_eq!(
            dead(Some(127), None),
            "pane dead, exit 127 (command not found)"
        );
        assert_eq!(
            dead(Some(126), None),
            "pane dead, exit 126 (not executable)"
        );
        assert_eq!(dead(None, None), "pane dead");
        assert_eq!(
            Cause::GaveUp {
                restarts: 3,
                last: Some("pane dead, exit 1".into())
            }
            .to_string(),
            "gave up after 3 restarts; last: pane dead, exit 1"
        );
        assert_eq!(
            Cause::Marked {
                failure: "crashed while working (session vanished)".into(),
                now: Some(Box::new(Cause::Quiet {
                    agent: true,
                    for_ms: 120_000
                }))
            }
            .to_string(),
            "crashed while working (session vanished); now agent quiet for 2m"
        );
        assert!(Cause::NoSessionWatched { never: true }.says_policy());
        assert!(!Cause::NoSession.says_policy());
    }
}
