//! One other host as the fleet knows it: its client, and what the polls know of reaching it
//! (a call out, the reconnect backoff, the last failure).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{HOST_WAIT, reason};
use crate::tmux::{Snapshot, TmuxCli, TmuxError};

/// The first wait before a host that failed is asked again; it doubles with each failure.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two tries of a host that does not answer.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Another host: its client and what is known of reaching it.
pub(super) struct Remote {
    pub(super) name: String,
    pub(super) cli: TmuxCli,
    pub(super) reach: Mutex<Reach>,
}

/// What the polls know of reaching one host.
#[derive(Debug, Default)]
pub(super) struct Reach {
    /// Polls in a row that could not read it.
    pub(super) failures: u32,
    /// The last failure, until it answers again.
    pub(super) error: Option<String>,
    /// Not asked again before this (reconnect backoff).
    pub(super) retry_at: Option<Instant>,
    /// A call is out since then (it outlived its poll's wait).
    pub(super) out_since: Option<Instant>,
}

impl Remote {
    /// Asks for a call now: `Err(why not)` while the last one is still out or the host is
    /// backing off.
    pub(super) fn begin(&self, now: Instant) -> Result<(), String> {
        let mut r = self
            .reach
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(since) = r.out_since {
            return Err(format!(
                "no answer for {} s",
                now.saturating_duration_since(since)
                    .as_secs()
                    .max(HOST_WAIT.as_secs())
            ));
        }
        if let Some(at) = r.retry_at
            && now < at
        {
            return Err(r
                .error
                .clone()
                .unwrap_or_else(|| "not answering".to_string()));
        }
        r.out_since = Some(now);
        Ok(())
    }

    /// A call came back.
    pub(super) fn end(&self, result: &Result<Snapshot, TmuxError>) {
        let mut r = self
            .reach
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.out_since = None;
        match result {
            Ok(_) => *r = Reach::default(),
            Err(TmuxError::Stopped) => {}
            Err(e) => {
                r.failures = r.failures.saturating_add(1);
                r.error = Some(reason(e));
                let shift = (r.failures - 1).min(10);
                let wait = RETRY_FIRST.saturating_mul(1 << shift).min(RETRY_MAX);
                r.retry_at = Some(Instant::now() + wait);
            }
        }
    }
}
