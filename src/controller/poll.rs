//! The controller's polls: the job that asks for one, and its result folded in — problems
//! said once, ops confirmed, captures kept, the observation remembered, server changes told.

use std::collections::HashMap;
use std::sync::Arc;

use super::HookRecords;
use super::Supervisor;
use crate::jobs::{PollJob, PollResult};
use crate::memory::EventKind;
use crate::observe::{Observation, Seen, State, observe_all};
use crate::remember::remember;
use crate::time::Millis;
use crate::tmux::Pane;

/// How long before the poll's result a capture may have been taken.
const CAPTURE_MARGIN_MS: Millis = 250;

impl Supervisor {
    /// The job for the next poll.
    pub fn poll_job(&self) -> PollJob {
        PollJob {
            layout: Arc::clone(&self.layout),
            agent: self.config.agent.clone(),
            status_file: self.config.status_file.clone(),
            last_read: self.read_at.clone(),
            preview: self.preview_pane.clone(),
            owned: self
                .memory
                .slots
                .iter()
                .filter_map(|(name, m)| Some((name.clone(), m.pane.clone()?)))
                .collect(),
            transcripts: self.transcript_probes(),
            hooks_from: self
                .agents
                .files
                .as_ref()
                .map(|f| (f.state_dir.clone(), f.server_key.clone())),
        }
    }

    /// Folds a poll in. Returns true when a reconcile should run now (a supervised slot is
    /// missing, dead or failed).
    pub fn on_poll(&mut self, result: PollResult, now: Millis) -> bool {
        if let Some(e) = result.error {
            self.poll_failed(e, now);
            return false;
        }
        self.last_poll_at = Some(now);
        self.last_poll_error = None;
        self.say_new_warnings(result.warnings, now);
        self.log_new_rejected(&result.snapshot.rejected);
        self.confirm_ops_a_poll_on();
        self.keep_captures(&result.snapshot.panes, result.captures, now);
        self.keep_transcripts(result.transcripts);
        let hooks = HookRecords::new(result.hooks);
        let seen = Seen {
            snapshot: &result.snapshot,
            captures: &self.captures,
            external: &result.external,
            hooks: &hooks,
        };
        let mut obs = observe_all(&self.layout, &self.config.agent, &seen, &self.memory, now);
        let fresh = self.fold_hosts(&result.snapshot, &mut obs, now);
        self.follow_hook_sessions(&obs);
        let before: Vec<State> = self
            .last
            .as_ref()
            .map(|o| o.slots.iter().map(|s| s.state).collect())
            .unwrap_or_default();
        remember(
            &mut obs,
            &self.layout,
            &self.config.backoff,
            &mut self.memory,
            now,
        );
        self.settle_conditions(&mut obs, now);
        let before = self.before_for(&before, &fresh, &obs);
        self.log_state_changes(&before, &obs);
        self.outbox
            .add(&before, &obs, &self.layout, &self.config.notify, now);
        self.tell_server_change(&obs, now);
        let urgent = obs.slots.iter().any(|s| {
            let slot = &self.layout.slots[s.slot];
            slot.supervised()
                && matches!(s.state, State::Missing | State::Failed)
                && obs.host_down(slot.host.as_deref()).is_none()
        });
        self.last = Some(obs);
        urgent
    }

    /// The snapshot failed: said when the reason is new, and the last observation stands.
    fn poll_failed(&mut self, e: String, now: Millis) {
        if self.last_poll_error.as_ref() != Some(&e) {
            self.memory
                .push(now, EventKind::Error, "", format!("poll failed: {e}"));
        }
        self.last_poll_error = Some(e);
    }

    /// A problem comes back every poll while its cause stays: say it when it appears.
    fn say_new_warnings(&mut self, warnings: Vec<String>, now: Millis) {
        for w in &warnings {
            if !self.warnings.contains(w) {
                self.memory.push(now, EventKind::Error, "", w.clone());
            }
        }
        self.warnings = warnings;
    }

    /// A bad line comes back every poll while its cause stays: log it when it appears.
    fn log_new_rejected(&mut self, rejected: &[String]) {
        for line in rejected {
            if !self.rejected.contains(line) {
                tracing::warn!(line = %line.escape_debug(), "tmux output line skipped: wrong shape");
            }
        }
        self.rejected = rejected.to_vec();
    }

    /// An op tmux said it did, with a whole poll since: its effect was seen or is gone.
    fn confirm_ops_a_poll_on(&mut self) {
        let memory = &mut self.memory;
        self.unconfirmed.retain(|name, left| {
            *left = left.saturating_sub(1);
            if *left > 0 {
                return true;
            }
            if let Some(m) = memory.slots.get_mut(name)
                && let Some(f) = m.in_flight.take()
            {
                tracing::info!(
                    session = %name,
                    "{} done, but the poll after it does not show it: acting on what is there",
                    f.op
                );
            }
            false
        });
    }

    /// Keeps captures of panes that still exist; refreshes those read this time.
    /// Keeps the fresh captures. `window_activity` counts whole seconds: a pane captured within
    /// the second of its last output may have printed more in that second (a permission prompt
    /// drawn just after a hook woke the poll), and then it would never change again; such a
    /// capture is marked to be taken once more at the next poll.
    fn keep_captures(&mut self, panes: &[Pane], fresh: HashMap<String, String>, now: Millis) {
        let activity: HashMap<&str, i64> = panes
            .iter()
            .map(|p| (p.pane_id.as_str(), p.window_activity))
            .collect();
        self.captures
            .retain(|k, _| activity.contains_key(k.as_str()));
        self.read_at
            .retain(|k, _| activity.contains_key(k.as_str()));
        // The capture was taken a little before `now`: a margin for the poll's own time.
        let captured_in = now.saturating_sub(CAPTURE_MARGIN_MS) / 1000;
        for (pane, text) in fresh {
            let a = activity.get(pane.as_str()).copied().unwrap_or_default();
            let complete = captured_in > a;
            self.read_at
                .insert(pane.clone(), if complete { a } else { a - 1 });
            self.captures.insert(pane, text);
        }
    }

    /// Logs each slot whose shown state is not what it was at the last poll.
    fn log_state_changes(&self, before: &[State], obs: &Observation) {
        for (i, st) in obs.slots.iter().enumerate() {
            if before.get(i) != Some(&st.state) {
                tracing::info!(
                    session = %self.layout.slots[st.slot].name,
                    state = st.state.as_str(),
                    reason = %st.cause,
                    "state changed"
                );
            }
        }
    }

    /// Tells a tmux server replaced, gone, or running (again, or for the first time) since the
    /// last poll.
    fn tell_server_change(&mut self, obs: &Observation, now: Millis) {
        let before_pid = self.last.as_ref().and_then(|o| o.server_pid);
        if before_pid.is_some() && obs.server_pid != before_pid {
            // A new server reuses pane ids: what was captured belongs to the old one.
            self.captures.clear();
            self.read_at.clear();
            let text = match obs.server_pid {
                Some(pid) => format!(
                    "the tmux server changed (pid {} → {pid})",
                    before_pid.unwrap_or_default()
                ),
                None => "the tmux server is gone: no sessions".to_string(),
            };
            self.memory.push(now, EventKind::Info, "", text);
        } else if before_pid.is_none()
            && obs.server_pid.is_some()
            && self.last.as_ref().is_some_and(|o| o.server_pid.is_none())
        {
            let pid = obs.server_pid.unwrap_or_default();
            self.memory.push(
                now,
                EventKind::Info,
                "",
                format!("a tmux server is running now (pid {pid})"),
            );
        }
    }
}
