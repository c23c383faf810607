//! Telling the operator (DESIGN §13): a notice on each slot's transition into `waiting`,
//! `failed`, `limited` or `hung` (and `working` → `idle` with `notify.done`), once per
//! transition and at most once per slot per `notify.min_interval`; delivered as the bell in the
//! supervisor's own window and `notify.command`, run detached with a timeout.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::NotifyConfig;
use crate::observe::{Observation, State};
use crate::pool::Layout;
use crate::time::Millis;

/// One slot that started needing the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub slot: String,
    pub pool: String,
    pub state: State,
    pub reason: String,
}

/// Notices waiting for the loop to deliver them, and when each slot was last notified.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    pending: Vec<Notice>,
    last_sent: HashMap<String, Millis>,
}

impl Outbox {
    /// Adds the notices of one poll (see [`notices`]).
    pub fn add(
        &mut self,
        before: &[State],
        obs: &Observation,
        layout: &Layout,
        cfg: &NotifyConfig,
        now: Millis,
    ) {
        let new = notices(before, obs, layout, cfg, &mut self.last_sent, now);
        self.pending.extend(new);
    }

    /// The notices to deliver now.
    pub fn take(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.pending)
    }
}

/// The notices of one poll: `before` is each slot's state at the poll before (empty at the
/// first poll, so states that were already so at start-up say nothing). `last_sent` holds when
/// each slot was last notified.
fn notices(
    before: &[State],
    obs: &Observation,
    layout: &Layout,
    cfg: &NotifyConfig,
    last_sent: &mut HashMap<String, Millis>,
    now: Millis,
) -> Vec<Notice> {
    let mut out = Vec::new();
    for st in &obs.slots {
        let Some(&was) = before.get(st.slot) else {
            continue;
        };
        if was == st.state {
            continue;
        }
        let wanted = match st.state {
            State::Waiting | State::Failed | State::Limited | State::Hung => true,
            State::Idle => cfg.done && was == State::Working,
            _ => false,
        };
        if !wanted {
            continue;
        }
        let slot = &layout.slots[st.slot];
        let min = cfg.min_interval.as_millis() as Millis;
        if last_sent
            .get(&slot.name)
            .is_some_and(|&at| now.saturating_sub(at) < min)
        {
            tracing::debug!(session = %slot.name, state = %st.state, "notice held back: min_interval");
            continue;
        }
        last_sent.insert(slot.name.clone(), now);
        out.push(Notice {
            slot: slot.name.clone(),
            pool: slot.group.clone(),
            state: st.state,
            reason: st.reason(),
        });
    }
    out
}

/// Delivers notices: `bell` once for the lot (when `notify.bell`), and `notify.command` once
/// per notice, each on a thread of its own that kills it after `notify.timeout`, so nothing
/// here waits on it.
pub fn deliver(notices: Vec<Notice>, cfg: &NotifyConfig, bell: &mut dyn FnMut()) {
    if notices.is_empty() {
        return;
    }
    if cfg.bell {
        bell();
    }
    let Some((program, args)) = cfg.command.split_first() else {
        return;
    };
    for n in notices {
        tracing::info!(session = %n.slot, state = %n.state, "notifying: {}", n.reason);
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("TMUX_SUPERVISOR_SLOT", &n.slot)
            .env("TMUX_SUPERVISOR_STATE", n.state.as_str())
            .env("TMUX_SUPERVISOR_REASON", &n.reason)
            .env("TMUX_SUPERVISOR_POOL", &n.pool)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let timeout = cfg.timeout;
        let spawned = std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || run_bounded(cmd, timeout, &n.slot));
        if let Err(e) = spawned {
            tracing::warn!("notify: cannot start a thread: {e}");
        }
    }
}

/// The bell in the supervisor's own window: BEL on stdout when that is a terminal (the UI's,
/// or the daemon's tmux window), so tmux flags the window.
pub fn ring_terminal_bell() {
    use std::io::{IsTerminal as _, Write as _};
    let mut out = std::io::stdout();
    if out.is_terminal() {
        let _ = out.write_all(b"\x07");
        let _ = out.flush();
    }
}

/// Runs `cmd` and waits at most `timeout` for it, then kills it.
fn run_bounded(mut cmd: Command, timeout: Duration, slot: &str) {
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(session = %slot, "notify.command cannot be run: {e}");
            return;
        }
    };
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if !status.success() => {
                tracing::warn!(session = %slot, "notify.command ended with {status}");
                return;
            }
            Ok(Some(_)) => return,
            Ok(None) if Instant::now() >= deadline => {
                tracing::warn!(session = %slot, "notify.command still running after {timeout:?}: killed");
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                tracing::warn!(session = %slot, "notify.command: {e}");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::fixtures::production;
    use crate::observe::{Cause, SlotStatus};

    fn obs(states: &[State]) -> Observation {
        Observation {
            slots: states
                .iter()
                .enumerate()
                .map(|(i, &state)| SlotStatus {
                    slot: i,
                    state,
                    cause: Cause::Shell,
                    pane: None,
                    owned: false,
                    foreground_shell: false,
                    foreground_agent: false,
                    panes: 0,
                    task: None,
                    hook: None,
                })
                .collect(),
            ..Observation::default()
        }
    }

    fn cfg(done: bool) -> NotifyConfig {
        NotifyConfig {
            bell: true,
            command: Vec::new(),
            done,
            min_interval: Duration::from_secs(60),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn once_per_transition_none_at_start_and_held_back_within_min_interval() {
        let (_, layout) = production();
        let mut sent = HashMap::new();
        let mut told = |before: &[State], now: &[State], done: bool, at: Millis| {
            notices(before, &obs(now), &layout, &cfg(done), &mut sent, at)
        };
        let (i, w, f) = (State::Idle, State::Working, State::Waiting);
        // The first poll: whatever is waiting already says nothing.
        assert!(told(&[], &[f, i], false, 0).is_empty());
        let n = told(&[w, i], &[f, i], false, 1000);
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].slot.as_str(), n[0].state), ("ccl-0", State::Waiting));
        // The same state again: nothing.
        assert!(told(&[f, i], &[f, i], false, 2000).is_empty());
        // Back and forth within a minute: held back; after it: said.
        assert!(told(&[w, i], &[f, i], false, 30_000).is_empty());
        assert_eq!(told(&[w, i], &[f, i], false, 61_000).len(), 1);
        // Done only when asked.
        assert!(told(&[w, w], &[w, i], false, 200_000).is_empty());
        let done = told(&[w, w], &[w, i], true, 300_000);
        assert_eq!(
            (done[0].slot.as_str(), done[0].state),
            ("ccl-1", State::Idle)
        );
    }
}
