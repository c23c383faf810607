//! The pure controller: [`Supervisor`] folds polls and op results into the memory, plans
//! reconcile passes and operator ops, and schedules the work (one poll at a time; a reconcile
//! on its tick and right after a poll that shows a kept-alive slot missing or dead; never
//! while ops are out). It never calls tmux, reads the clock or opens a file: the loops in
//! `runner.rs` and `tui.rs` do, and hand it `now`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::Config;
use crate::jobs::{OpJob, OpResult, PollJob, PollResult};
use crate::memory::{EventKind, Memory, OwnedPane};
use crate::observe::{Observation, State, observe};
use crate::pool::Layout;
use crate::reconcile::Plan;
use crate::remember::remember;
use crate::time::Millis;
use crate::tmux::Launch;

/// What a slot should run, as tmux needs it.
pub fn launch_for(layout: &Layout, slot: usize) -> Launch {
    let s = &layout.slots[slot];
    Launch {
        name: s.name.clone(),
        workdir: s.workdir.clone(),
        command: s.command.clone(),
        env: s.env.clone(),
    }
}

/// How the supervisor may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mode {
    /// Another supervisor holds this server's lock: watch only.
    pub observe_only: bool,
    /// `--dry-run`: plan, show, execute nothing.
    pub dry_run: bool,
    /// Paused by the operator.
    pub paused: bool,
}

impl Mode {
    pub fn acts(self) -> bool {
        !(self.observe_only || self.dry_run || self.paused)
    }
}

/// The supervisor's state: config, layout, memory, the last observation and plan, and what
/// work is out.
pub struct Supervisor {
    pub config: Config,
    pub layout: Arc<Layout>,
    pub memory: Memory,
    pub mode: Mode,
    pub last: Option<Observation>,
    pub last_plan: Plan,
    /// When the last poll that read tmux came back (a failed poll leaves it as it was), and
    /// why the polls since then failed.
    pub last_poll_at: Option<Millis>,
    pub last_poll_error: Option<String>,
    /// The pane the UI previews, captured by the next polls when it changes.
    pub preview_pane: Option<String>,
    /// Observe-only because the lock could not be taken: the loop tries it again.
    pub wants_lock: bool,
    /// A poll is out.
    polling: bool,
    /// Batches of ops out.
    executing: usize,
    /// Pane id → the pane's recent text, as last captured.
    captures: HashMap<String, String>,
    /// Pane id → its `window_activity` when last captured (a pane is read again only after
    /// new output).
    read_at: HashMap<String, i64>,
    /// Lines of tmux output skipped at the last poll, each logged once while it stays.
    rejected: Vec<String>,
    /// Problems of the last poll (status file, captures), each said once while it stays.
    warnings: Vec<String>,
    /// Slot name → polls still to come back before an op tmux reported done counts as
    /// observed, whatever the poll shows (see [`CONFIRM_POLLS`]).
    unconfirmed: HashMap<String, u32>,
}

/// Polls that must come back after an op's result before the op stops being in flight. The
/// first may have been started before the op finished (one poll runs while ops run); the
/// second was started after it. Without this, a session created and then killed (or gone)
/// before that poll stayed "starting" until the in-flight timeout (15 s).
const CONFIRM_POLLS: u32 = 2;

/// An earlier run's ops are not in flight in this one, and what it last saw is not what this
/// one saw (a slot that was working then is not a crash now).
pub fn forget_the_last_run(memory: &mut Memory) {
    for m in memory.slots.values_mut() {
        m.in_flight = None;
        m.last_state = None;
    }
}

impl Supervisor {
    /// A supervisor over `config` with the memory the loop loaded (see
    /// `runner::Persist::open`) and the mode it may act in.
    pub fn new(config: Config, mut memory: Memory, mode: Mode) -> Self {
        let layout = Arc::new(Layout::new(&config));
        forget_the_last_run(&mut memory);
        Supervisor {
            config,
            layout,
            memory,
            mode,
            last: None,
            last_plan: Plan::default(),
            last_poll_at: None,
            last_poll_error: None,
            preview_pane: None,
            wants_lock: false,
            polling: false,
            executing: 0,
            captures: HashMap::new(),
            read_at: HashMap::new(),
            rejected: Vec::new(),
            warnings: Vec::new(),
            unconfirmed: HashMap::new(),
        }
    }

    /// A supervisor with nothing remembered, free to act (`check`, tests, benchmarks).
    pub fn without_memory(config: Config) -> Self {
        Supervisor::new(config, Memory::default(), Mode::default())
    }

    /// The lock was taken after all (the other supervisor quit): reconcile from now on, with
    /// the memory that supervisor left; this one's event log is kept.
    pub fn took_lock(&mut self, mut memory: Memory, now: Millis) {
        forget_the_last_run(&mut memory);
        memory.events = std::mem::take(&mut self.memory.events);
        self.memory = memory;
        self.mode.observe_only = false;
        self.wants_lock = false;
        self.memory.push(
            now,
            EventKind::Info,
            "",
            "the other supervisor is gone: reconciling now",
        );
    }

    /// A poll is out.
    pub fn polling(&self) -> bool {
        self.polling
    }

    /// Batches of ops out.
    pub fn executing(&self) -> usize {
        self.executing
    }

    /// The poll tick: the job to run, unless a poll is already out.
    pub fn poll_tick(&mut self) -> Option<PollJob> {
        if self.polling {
            return None;
        }
        self.polling = true;
        Some(self.poll_job())
    }

    /// The reconcile tick: the ops to run, unless ops are still out.
    pub fn reconcile_tick(&mut self, now: Millis) -> Vec<OpJob> {
        if self.executing > 0 {
            return Vec::new();
        }
        let jobs = self.reconcile(now);
        self.sent(jobs)
    }

    /// A poll came back: folded in, and a reconcile at once when it shows a kept-alive slot
    /// missing or dead (unless ops are still out).
    pub fn polled(&mut self, result: PollResult, now: Millis) -> Vec<OpJob> {
        self.polling = false;
        if self.on_poll(result, now) && self.executing == 0 {
            let jobs = self.reconcile(now);
            return self.sent(jobs);
        }
        Vec::new()
    }

    /// Ops came back.
    pub fn executed(&mut self, results: Vec<OpResult>, now: Millis) {
        self.executing = self.executing.saturating_sub(1);
        self.on_executed(results, now);
    }

    /// Counts a batch of ops as out (the operator's too) and hands it on.
    pub fn sent(&mut self, jobs: Vec<OpJob>) -> Vec<OpJob> {
        if !jobs.is_empty() {
            self.executing += 1;
        }
        jobs
    }

    /// A poll came back that is not folded in (the loop is stopping).
    pub fn poll_dropped(&mut self) {
        self.polling = false;
    }

    /// The stopping loop gave up waiting for what was out.
    pub fn abandon_work(&mut self) {
        self.polling = false;
        self.executing = 0;
    }

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
        }
    }

    /// Folds a poll in. Returns true when a reconcile should run now (a supervised slot is
    /// missing, dead or failed).
    pub fn on_poll(&mut self, result: PollResult, now: Millis) -> bool {
        if let Some(e) = result.error {
            if self.last_poll_error.as_ref() != Some(&e) {
                self.memory
                    .push(now, EventKind::Error, "", format!("poll failed: {e}"));
            }
            self.last_poll_error = Some(e);
            return false;
        }
        self.last_poll_at = Some(now);
        self.last_poll_error = None;
        // A problem comes back every poll while its cause stays: say it when it appears.
        for w in &result.warnings {
            if !self.warnings.contains(w) {
                self.memory.push(now, EventKind::Error, "", w.clone());
            }
        }
        self.warnings.clone_from(&result.warnings);
        // A bad line comes back every poll while its cause stays: log it when it appears.
        for line in &result.snapshot.rejected {
            if !self.rejected.contains(line) {
                tracing::warn!(line = %line.escape_debug(), "tmux output line skipped: wrong shape");
            }
        }
        self.rejected.clone_from(&result.snapshot.rejected);
        // An op tmux said it did, with a whole poll since: its effect was seen or is gone.
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
        // Keep captures of panes that still exist; refresh those read this time.
        let activity: HashMap<&str, i64> = result
            .snapshot
            .panes
            .iter()
            .map(|p| (p.pane_id.as_str(), p.window_activity))
            .collect();
        self.captures
            .retain(|k, _| activity.contains_key(k.as_str()));
        self.read_at
            .retain(|k, _| activity.contains_key(k.as_str()));
        for (pane, text) in result.captures {
            let a = activity.get(pane.as_str()).copied().unwrap_or_default();
            self.read_at.insert(pane.clone(), a);
            self.captures.insert(pane, text);
        }
        let mut obs = observe(
            &self.layout,
            &self.config.agent,
            &result.snapshot,
            &self.captures,
            &result.external,
            &self.memory,
            now,
        );
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
            self.memory
                .push(now, EventKind::Info, "", "a tmux server is running again");
        }
        let urgent = obs.slots.iter().any(|s| {
            self.layout.slots[s.slot].supervised()
                && matches!(s.state, State::Missing | State::Failed)
        });
        self.last = Some(obs);
        urgent
    }

    /// A pane of the last observation, by id, as an owned pane.
    fn pane_in_last(&self, pane_id: &str) -> Option<OwnedPane> {
        let obs = self.last.as_ref()?;
        obs.slots
            .iter()
            .filter_map(|s| s.pane.as_ref())
            .find(|p| p.pane_id == pane_id)
            .map(|p| OwnedPane {
                server_pid: p.server_pid,
                session_id: p.session_id.clone(),
                pane_id: p.pane_id.clone(),
            })
    }

    /// The latest captured text of a pane, if any.
    pub fn capture_of(&self, pane_id: &str) -> Option<&str> {
        self.captures.get(pane_id).map(String::as_str)
    }

    /// Says a problem of the loop's (the state file cannot be written, …) in the event log.
    pub fn note_error(&mut self, now: Millis, text: impl Into<String>) {
        self.memory.push(now, EventKind::Error, "", text);
    }
}

mod ops;
#[cfg(test)]
mod tests;
