//! The pure controller: [`Supervisor`] folds polls and op results into the memory, plans
//! reconcile passes and operator ops, and schedules the work (one poll at a time, and one more
//! at once after a wake-up; a reconcile on its tick and right after a poll that shows a
//! kept-alive slot missing or dead, or that a wake-up asked for; never while ops are out). It
//! never calls tmux, reads the clock or opens a file: the loops in `runner.rs` and `tui.rs`
//! do, and hand it `now`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::Config;
use crate::jobs::{OpJob, OpResult, PollJob, PollResult};
use crate::memory::{EventKind, Memory, OwnedPane};
use crate::observe::Observation;
use crate::pool::Layout;
use crate::reconcile::Plan;
use crate::time::Millis;

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
    /// Claude Code slots: where their files are, and what the polls found of them.
    pub agents: AgentState,
    /// Notices for the operator, for the loop to deliver.
    pub outbox: crate::notify::Outbox,
    /// Push is on but tmux's wake-up latch cannot be used (why, said once): what tmux reports
    /// waits for the next poll; the other wake-up sources still work. Shown in the UI's header.
    pub push_unavailable: Option<String>,
    /// A poll is out.
    polling: bool,
    /// A wake-up came while a poll was out: one more poll as soon as it is back (that poll
    /// may have read tmux before the event).
    wake_pending: bool,
    /// The poll out was asked for by a wake-up: reconcile as soon as it is back.
    woken_poll: bool,
    /// Batches of ops out, by the host each runs on (`None`: this machine): a host with a
    /// batch out gets no new ops; the others do.
    executing: Vec<Option<String>>,
    /// The other hosts, by name: whether each answered the last poll that asked it.
    pub hosts: std::collections::BTreeMap<String, crate::hosts::HostStatus>,
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
            agents: AgentState::default(),
            outbox: crate::notify::Outbox::default(),
            push_unavailable: None,
            polling: false,
            wake_pending: false,
            woken_poll: false,
            executing: Vec::new(),
            hosts: std::collections::BTreeMap::new(),
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

    /// Applies a new config (valid: the loop checked it) at once, with the memory kept: new
    /// slots are supervised from the next pass; slots that left it are no longer supervised
    /// and never killed (by the usual rules they are strays or others now). A config for
    /// another tmux server or state dir is refused: that needs a restart.
    pub fn reload(&mut self, config: Config, now: Millis) -> Result<(), String> {
        if config.endpoint() != self.config.endpoint() {
            return Err("it names another tmux server: that needs a restart".to_string());
        }
        if config.state_dir != self.config.state_dir {
            return Err("it names another state dir: that needs a restart".to_string());
        }
        if config.hosts != self.config.hosts {
            return Err("it changes `hosts:`: that needs a restart".to_string());
        }
        let layout = Arc::new(Layout::new(&config));
        let old: std::collections::BTreeSet<&str> =
            self.layout.slots.iter().map(|s| s.name.as_str()).collect();
        let new: std::collections::BTreeSet<&str> =
            layout.slots.iter().map(|s| s.name.as_str()).collect();
        let text = format!(
            "config reloaded from {}: {} slots, {} new, {} no longer supervised (left alone)",
            config.source,
            new.len(),
            new.difference(&old).count(),
            old.difference(&new).count()
        );
        self.config = config;
        self.layout = layout;
        // The last observation and plan are by slot index of the old layout.
        self.last = None;
        self.last_plan = Plan::default();
        self.memory.push(now, EventKind::Info, "", text);
        Ok(())
    }

    /// A poll is out.
    pub fn polling(&self) -> bool {
        self.polling
    }

    /// Batches of ops out.
    pub fn executing(&self) -> usize {
        self.executing.len()
    }

    /// A batch of ops is out on `host` (`None`: this machine).
    pub(crate) fn busy(&self, host: Option<&str>) -> bool {
        self.executing.iter().any(|h| h.as_deref() == host)
    }

    /// Every place that holds slots has a batch out: no reconcile pass now.
    fn busy_everywhere(&self) -> bool {
        !self.executing.is_empty()
            && self.busy(None)
            && self.layout.hosts.iter().all(|h| self.busy(Some(h)))
    }

    /// The poll tick: the job to run, unless a poll is already out.
    pub fn poll_tick(&mut self) -> Option<PollJob> {
        if self.polling {
            return None;
        }
        self.polling = true;
        self.woken_poll = false;
        Some(self.poll_job())
    }

    /// A wake-up (a tmux hook, a slot's process that ended, an agent's hook): a poll now, then
    /// a reconcile as soon as it is back. With a poll out, one more poll once it is back; any
    /// number of wake-ups before that make that one poll.
    pub fn woken(&mut self) -> Option<PollJob> {
        if self.polling {
            self.wake_pending = true;
            return None;
        }
        self.wake_pending = false;
        let job = self.poll_tick();
        self.woken_poll = true;
        job
    }

    /// After a poll came back: the poll a wake-up asked for while it was out, if any.
    pub fn poll_after_wake(&mut self) -> Option<PollJob> {
        if self.wake_pending && !self.polling {
            return self.woken();
        }
        None
    }

    /// The reconcile tick: the ops to run, unless ops are still out.
    pub fn reconcile_tick(&mut self, now: Millis) -> Vec<OpJob> {
        if self.busy_everywhere() {
            return Vec::new();
        }
        let jobs = self.reconcile(now);
        self.sent(jobs)
    }

    /// A poll came back: folded in, and a reconcile at once when it shows a kept-alive slot
    /// missing or dead, or when a wake-up asked for it (unless ops are still out).
    pub fn polled(&mut self, result: PollResult, now: Millis) -> Vec<OpJob> {
        self.polling = false;
        let woken = std::mem::take(&mut self.woken_poll);
        let urgent = self.on_poll(result, now);
        if (urgent || woken) && !self.busy_everywhere() {
            let jobs = self.reconcile(now);
            return self.sent(jobs);
        }
        Vec::new()
    }

    /// Ops came back.
    pub fn executed(&mut self, results: Vec<OpResult>, now: Millis) {
        let host = results.first().map(|r| r.job.host.clone());
        let at = host
            .and_then(|h| self.executing.iter().position(|x| *x == h))
            .or_else(|| (!self.executing.is_empty()).then_some(0));
        if let Some(i) = at {
            self.executing.remove(i);
        }
        self.on_executed(results, now);
    }

    /// Counts the batches of these ops as out (the operator's too: one per host, as the loop
    /// runs them, see [`crate::jobs::by_host`]) and hands them on.
    pub fn sent(&mut self, jobs: Vec<OpJob>) -> Vec<OpJob> {
        let mut hosts: Vec<Option<String>> = Vec::new();
        for j in &jobs {
            if !hosts.contains(&j.host) {
                hosts.push(j.host.clone());
            }
        }
        self.executing.extend(hosts);
        jobs
    }

    /// A poll came back that is not folded in (the loop is stopping).
    pub fn poll_dropped(&mut self) {
        self.polling = false;
    }

    /// The stopping loop gave up waiting for what was out.
    pub fn abandon_work(&mut self) {
        self.polling = false;
        self.executing.clear();
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

    /// The loop found push's tmux latch unusable: said once in the event log, kept for the
    /// header; polling goes on.
    pub fn push_is_unavailable(&mut self, now: Millis, why: &str) {
        if self.push_unavailable.is_none() {
            self.memory.push(
                now,
                EventKind::Info,
                "",
                format!("push limited: {why}; what tmux reports waits for the next poll"),
            );
            self.push_unavailable = Some(why.to_string());
        }
    }
}

mod agent;
mod hosts;
mod ops;
mod poll;
pub use agent::{AgentFiles, AgentState, HookRecords, TranscriptProbe};
#[cfg(test)]
mod agent_tests;
#[cfg(test)]
mod condition_tests;
#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod tests;
