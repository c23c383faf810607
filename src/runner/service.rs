//! Telling systemd how the daemon is doing (`Type=notify`): `READY=1` once the first poll is
//! in, `STATUS=` with the counts when they change, `WATCHDOG=1` at half the watchdog interval,
//! `RELOADING=1` with `MONOTONIC_USEC` then `READY=1` around a reload, `STOPPING=1` on the way out.
//! Without `NOTIFY_SOCKET` every call is a no-op.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::controller::Supervisor;
use crate::observe::State;

/// What has been said to the service manager.
#[derive(Debug, Default)]
pub struct Service {
    ready: bool,
    status: String,
}

impl Service {
    /// How often to ping the watchdog: half of `WATCHDOG_USEC`, when it is set for us (as
    /// systemd's `sd_watchdog_enabled` reads it: a `WATCHDOG_PID` that is set must be ours;
    /// the crate's own check also refuses an unset one).
    pub fn watchdog_period() -> Option<Duration> {
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        if let Ok(pid) = std::env::var("WATCHDOG_PID")
            && pid.parse::<u32>().ok() != Some(std::process::id())
        {
            return None;
        }
        (usec > 0).then(|| Duration::from_micros(usec / 2))
    }

    /// A poll came back: the first makes the service ready; the counts go in STATUS=.
    pub fn polled(&mut self, sup: &Supervisor) {
        let status = status_line(sup);
        if self.ready && status == self.status {
            return;
        }
        let mut notes = vec![NotifyState::Status(&status)];
        if !self.ready {
            notes.push(NotifyState::Ready);
        }
        send(&notes);
        self.ready = true;
        self.status = status;
    }

    pub fn watchdog() {
        send(&[NotifyState::Watchdog]);
    }

    /// Around a reload: RELOADING=1 with the monotonic time before, READY=1 after.
    pub fn reloading() {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => send(&[NotifyState::Reloading, now]),
            Err(_) => send(&[NotifyState::Reloading]),
        }
    }

    pub fn reloaded() {
        send(&[NotifyState::Ready]);
    }

    pub fn stopping() {
        send(&[NotifyState::Stopping]);
    }
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!("cannot notify the service manager: {e}");
    }
}

/// `10 up, 1 failed, 2 missing, 1 stray` (only the non-zero counts), or why it is blind.
fn status_line(sup: &Supervisor) -> String {
    let Some(obs) = &sup.last else {
        return sup
            .last_poll_error
            .as_ref()
            .map_or_else(|| "starting".to_string(), |e| format!("poll failed: {e}"));
    };
    let up = obs.slots.iter().filter(|s| s.state.healthy()).count();
    let mut parts = vec![format!("{up} up")];
    for state in [State::Failed, State::Missing, State::Starting] {
        let n = obs.count(state);
        if n > 0 {
            parts.push(format!("{n} {state}"));
        }
    }
    if !obs.strays.is_empty() {
        parts.push(format!("{} stray", obs.strays.len()));
    }
    if sup.mode.observe_only {
        parts.push("observe-only".to_string());
    }
    parts.join(", ")
}
