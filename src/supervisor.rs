//! Poll → observe → plan → execute, shared by the terminal UI and the headless daemon.
//!
//! [`Supervisor`] is the state one task owns: it never calls tmux. The tmux work is packed
//! into jobs ([`PollJob`], [`OpJob`]) that run on a blocking thread and come back as results
//! the owner folds in. [`run_daemon`] is the headless loop built from these pieces.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::config::Config;
use crate::memory::{Action, EventKind, InFlight, Lock, Memory, Millis, OwnedPane, Store};
use crate::observe::{
    ExternalStatus, Observation, State, adopt_panes_of_old_memory, observe, panes_to_capture,
    remember,
};
use crate::pool::Layout;
use crate::reconcile::{Op, Plan, plan};
use crate::status_file;
use crate::tmux::{Created, Launch, Snapshot, Target, Tmux, TmuxError};
use crate::tmux_process::Shutdown;

/// The outcome of a create that found the session already there.
const ALREADY_EXISTED: &str = "it already existed: someone else created it";

/// Lines of pane text captured for patterns and the preview.
pub const CAPTURE_LINES: u32 = 40;

/// The current wall-clock time in milliseconds (read only by the loops, never by logic).
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Everything one poll needs, owned, so it can run on a blocking thread.
#[derive(Debug, Clone)]
pub struct PollJob {
    pub layout: Arc<Layout>,
    pub agent: crate::config::AgentConfig,
    pub status_file: Option<PathBuf>,
    /// Pane id → `window_activity` when last captured.
    pub last_read: HashMap<String, i64>,
    /// A pane shown in the preview: captured too when it has new output, even a shell.
    pub preview: Option<String>,
    /// Slot name → the pane the supervisor started there (the one read for the slot).
    pub owned: HashMap<String, OwnedPane>,
}

/// What one poll brought back.
#[derive(Debug, Clone, Default)]
pub struct PollResult {
    pub snapshot: Snapshot,
    /// Fresh captures of panes with new output.
    pub captures: HashMap<String, String>,
    pub external: ExternalStatus,
    /// Problems that did not stop the poll (bad status file, failed capture).
    pub warnings: Vec<String>,
    /// The snapshot itself failed.
    pub error: Option<String>,
}

impl PollJob {
    /// One `list-panes` call, then one chained capture call for panes with new output.
    pub fn run(self, tmux: &dyn Tmux) -> PollResult {
        let mut out = PollResult::default();
        match tmux.snapshot() {
            Ok(s) => out.snapshot = s,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        }
        // A slot's pane dead with neither status nor signal: tmux may have missed its exit.
        // Nudge the server so the next poll has the status (pane_dead is acted on anyway).
        if let Some(server) = out.snapshot.server_pid()
            && out.snapshot.panes.iter().any(|p| {
                p.pane_dead
                    && p.dead_status.is_none()
                    && p.dead_signal.is_none()
                    && self.layout.slot(&p.session_name).is_some()
            })
            && let Err(e) = tmux.reap_lost_exits(server)
        {
            tracing::debug!("could not nudge the tmux server for a lost exit status: {e}");
        }
        let mut want = panes_to_capture(
            &self.layout,
            &out.snapshot,
            &self.agent,
            &self.last_read,
            &self.owned,
        );
        if let Some(id) = &self.preview
            && !want.contains(id)
            && let Some(p) = out.snapshot.panes.iter().find(|p| &p.pane_id == id)
            && self.last_read.get(id) != Some(&p.window_activity)
        {
            want.push(id.clone());
        }
        if !want.is_empty() {
            match tmux.capture(&want, CAPTURE_LINES) {
                Ok(c) => out.captures = c,
                Err(e) => out.warnings.push(format!("capture failed: {e}")),
            }
        }
        if let Some(path) = &self.status_file {
            match status_file::read(path) {
                Ok(x) => out.external = x,
                Err(e) => out.warnings.push(e.to_string()),
            }
        }
        out
    }
}

/// What an op job does.
#[derive(Debug, Clone)]
pub enum OpKind {
    Create(Launch),
    Respawn { pane_id: String, launch: Launch },
    Kill(Target),
}

/// One tmux action for one session, owned so it can run on a blocking thread.
#[derive(Debug, Clone)]
pub struct OpJob {
    pub name: String,
    pub kind: OpKind,
    /// Asked for by the operator (not by reconcile).
    pub manual: bool,
}

/// The outcome of an op job.
#[derive(Debug, Clone)]
pub struct OpResult {
    pub job: OpJob,
    /// `Ok(text)` says what happened; `Err(text)` why it failed.
    pub outcome: Result<String, String>,
    /// The pane a create started (the slot follows that pane from now on).
    pub started: Option<OwnedPane>,
}

/// Runs op jobs one after the other against tmux. Once tmux says the supervisor is stopping,
/// the jobs still queued are not run: they come back as not run.
pub fn execute(tmux: &dyn Tmux, jobs: Vec<OpJob>) -> Vec<OpResult> {
    let mut stopping = false;
    jobs.into_iter()
        .map(|job| {
            if stopping {
                let outcome = Err(TmuxError::Stopped.to_string());
                return OpResult {
                    job,
                    outcome,
                    started: None,
                };
            }
            let mut started = None;
            let outcome = match &job.kind {
                OpKind::Create(launch) => tmux.create(launch).map(|c| match c {
                    Created::New {
                        server_pid,
                        session_id,
                        pane_id,
                    } => {
                        started = Some(OwnedPane {
                            server_pid,
                            session_id: session_id.clone(),
                            pane_id,
                        });
                        session_id
                    }
                    Created::AlreadyExists => ALREADY_EXISTED.to_string(),
                }),
                OpKind::Respawn { pane_id, launch } => tmux
                    .respawn(pane_id, launch)
                    .map(|()| format!("pane {pane_id}")),
                OpKind::Kill(target) => tmux.kill(target).map(|()| "killed".to_string()),
            };
            stopping = matches!(outcome, Err(TmuxError::Stopped));
            OpResult {
                job,
                outcome: outcome.map_err(|e| e.to_string()),
                started,
            }
        })
        .collect()
}

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

/// The supervisor's state: config, layout, memory, the last observation and plan.
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
    store: Option<Store>,
    lock: Option<Lock>,
    /// Pane id → the pane's recent text, as last captured.
    captures: HashMap<String, String>,
    /// Pane id → its `window_activity` when last captured (a pane is read again only after
    /// new output).
    read_at: HashMap<String, i64>,
    saved: Vec<u8>,
    /// Last save error, reported once.
    save_error: Option<String>,
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

impl Supervisor {
    /// A supervisor over `config`. With a store, memory is loaded from it and the lock is
    /// tried: without the lock it runs observe-only. Warnings go to the event log.
    pub fn new(config: Config, store: Option<Store>, now: Millis) -> Self {
        let layout = Arc::new(Layout::new(&config));
        let mut memory = Memory::default();
        let mut lock = None;
        let mut observe_only = false;
        let mut notes: Vec<(EventKind, String)> = Vec::new();
        // Slots that left the config are forgotten as the memory is loaded (their events stay).
        let store = store.map(|st| st.keeping_slots(layout.slots.iter().map(|s| s.name.clone())));
        if let Some(st) = &store {
            let (m, warning) = st.load();
            memory = m;
            adopt_panes_of_old_memory(&mut memory);
            if let Some(w) = warning {
                notes.push((EventKind::Error, w.0));
            }
            match st.lock() {
                Ok(Some(l)) => lock = Some(l),
                Ok(None) => {
                    observe_only = true;
                    let who = st
                        .lock_holder()
                        .map_or_else(String::new, |p| format!(" (pid {p})"));
                    notes.push((
                        EventKind::Info,
                        format!(
                            "another supervisor{who} is reconciling this tmux server; observe-only"
                        ),
                    ));
                }
                // A symlink (or a FIFO) where the lock should be is not a lock anyone can
                // trust: observe only, until it is removed and the lock can be taken.
                Err(e) if crate::statedir::is_not_followed(&e) => {
                    observe_only = true;
                    notes.push((
                        EventKind::Error,
                        format!(
                            "cannot take the lock {}: {e}; observe-only until it can be taken",
                            st.lock_path.display()
                        ),
                    ));
                }
                Err(e) => notes.push((
                    EventKind::Error,
                    format!(
                        "cannot take the lock {}: {e}; reconciling without it",
                        st.lock_path.display()
                    ),
                )),
            }
        }
        // In-flight ops of an earlier run are not in flight in this one, and what it last saw
        // is not what this one saw (a slot that was working then is not a crash now).
        for m in memory.slots.values_mut() {
            m.in_flight = None;
            m.last_state = None;
        }
        for (kind, text) in notes {
            memory.push(now, kind, "", text);
        }
        Supervisor {
            config,
            layout,
            memory,
            mode: Mode {
                observe_only,
                ..Mode::default()
            },
            last: None,
            last_plan: Plan::default(),
            last_poll_at: None,
            last_poll_error: None,
            preview_pane: None,
            store,
            lock,
            captures: HashMap::new(),
            read_at: HashMap::new(),
            saved: Vec::new(),
            save_error: None,
            rejected: Vec::new(),
            warnings: Vec::new(),
            unconfirmed: HashMap::new(),
        }
    }

    /// An observe-only supervisor tries again for the lock (the other one may have quit).
    pub fn retry_lock(&mut self, now: Millis) {
        if !self.mode.observe_only || self.lock.is_some() {
            return;
        }
        if let Some(st) = &self.store
            && let Ok(Some(l)) = st.lock()
        {
            self.lock = Some(l);
            self.mode.observe_only = false;
            let (mut m, _) = st.load();
            for slot in m.slots.values_mut() {
                slot.in_flight = None;
                slot.last_state = None;
            }
            let events = std::mem::take(&mut self.memory.events);
            self.memory = m;
            self.memory.events = events;
            self.memory.push(
                now,
                EventKind::Info,
                "",
                "the other supervisor is gone: reconciling now",
            );
        }
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

    /// Plans a reconcile pass over the last observation. When the supervisor may act, the
    /// ops are marked in flight and returned as jobs to execute; otherwise the plan is only
    /// kept for display.
    pub fn reconcile(&mut self, now: Millis) -> Vec<OpJob> {
        let Some(obs) = &self.last else {
            return Vec::new();
        };
        if self.last_poll_error.is_some() {
            return Vec::new();
        }
        let p = plan(&self.layout, &self.config.backoff, obs, &self.memory, now);
        let changed = p.ops != self.last_plan.ops;
        self.last_plan = p.clone();
        if !self.mode.acts() {
            if changed && !p.ops.is_empty() {
                let what: Vec<String> = p.ops.iter().map(|o| o.describe(&self.layout)).collect();
                tracing::info!(mode = ?self.mode, "not acting on the plan: {}", what.join(", "));
            }
            return Vec::new();
        }
        let mut jobs = Vec::new();
        for op in p.ops {
            let slot = op.slot();
            let name = self.layout.slots[slot].name.clone();
            match op {
                Op::GiveUp { .. } => {
                    let m = self.memory.slot_mut(&name);
                    m.gave_up = true;
                    let n = m.restarts;
                    self.memory.push(
                        now,
                        EventKind::GaveUp,
                        &name,
                        format!("gave up on {name} after {n} restarts; recreate it by hand (r)"),
                    );
                }
                Op::Create { .. } => {
                    self.begin_start(&name, Action::Create, None, now);
                    jobs.push(OpJob {
                        name,
                        kind: OpKind::Create(launch_for(&self.layout, slot)),
                        manual: false,
                    });
                }
                Op::Respawn {
                    pane_id,
                    old_pane_pid,
                    ..
                } => {
                    self.begin_start(&name, Action::Respawn, Some(old_pane_pid), now);
                    jobs.push(OpJob {
                        name,
                        kind: OpKind::Respawn {
                            pane_id,
                            launch: launch_for(&self.layout, slot),
                        },
                        manual: false,
                    });
                }
            }
        }
        jobs
    }

    fn begin_start(&mut self, name: &str, op: Action, old_pane_pid: Option<u32>, now: Millis) {
        self.unconfirmed.remove(name);
        let m = self.memory.slot_mut(name);
        if m.started_before {
            m.restarts = m.restarts.saturating_add(1);
            m.total_restarts = m.total_restarts.saturating_add(1);
        }
        m.started_before = true;
        m.last_state = None;
        m.last_start = Some(now);
        m.healthy_since = None;
        m.clean_exit = false;
        m.in_flight = Some(InFlight {
            op,
            since: now,
            old_pane_pid,
        });
    }

    /// The operator asks to recreate a slot: respawn in place if its session is there,
    /// create it if not. Clears a gave-up mark and the backoff. `None` if not a slot.
    pub fn recreate(&mut self, name: &str, now: Millis) -> Option<OpJob> {
        let slot = self.layout.slot(name)?;
        let pane = self
            .last
            .as_ref()
            .and_then(|o| o.slot(slot))
            .and_then(|s| s.pane.clone());
        {
            let m = self.memory.slot_mut(name);
            m.gave_up = false;
            m.restarts = 0;
        }
        let launch = launch_for(&self.layout, slot);
        let job = if let Some(p) = pane {
            self.begin_start(name, Action::Respawn, Some(p.pane_pid), now);
            OpJob {
                name: name.to_string(),
                kind: OpKind::Respawn {
                    pane_id: p.pane_id,
                    launch,
                },
                manual: true,
            }
        } else {
            self.begin_start(name, Action::Create, None, now);
            OpJob {
                name: name.to_string(),
                kind: OpKind::Create(launch),
                manual: true,
            }
        };
        Some(job)
    }

    /// The operator asks to kill a session (a slot or a stray), by its id when known.
    pub fn kill(&mut self, name: &str, now: Millis) -> OpJob {
        // Killing a slot is an op of ours: its vanishing is not a crash.
        if self.layout.slot(name).is_some() {
            let m = self.memory.slot_mut(name);
            m.in_flight = Some(InFlight {
                op: Action::Kill,
                since: now,
                old_pane_pid: None,
            });
            m.last_state = None;
        }
        let id = self.last.as_ref().and_then(|o| {
            o.slots
                .iter()
                .filter_map(|s| s.pane.as_ref())
                .chain(o.strays.iter().map(|s| &s.pane))
                .chain(o.others.iter())
                .find(|p| p.session_name == name)
                .map(|p| p.session_id.clone())
        });
        OpJob {
            name: name.to_string(),
            kind: OpKind::Kill(id.map_or_else(|| Target::Name(name.to_string()), Target::Session)),
            manual: true,
        }
    }

    /// Folds op results in: events, failure marks, in-flight bookkeeping.
    pub fn on_executed(&mut self, results: Vec<OpResult>, now: Millis) {
        for r in results {
            let name = r.job.name.clone();
            let who = if r.job.manual {
                " (by the operator)"
            } else {
                ""
            };
            match (&r.job.kind, r.outcome) {
                // Dropped because the supervisor is stopping: nothing happened to the slot.
                (kind, Err(e)) if e == TmuxError::Stopped.to_string() => {
                    if let Some(m) = self.memory.slots.get_mut(&name) {
                        m.in_flight = None;
                    }
                    let what = match kind {
                        OpKind::Create(_) => "create",
                        OpKind::Respawn { .. } => "respawn",
                        OpKind::Kill(_) => "kill",
                    };
                    self.memory.push(
                        now,
                        EventKind::Info,
                        &name,
                        format!("{what} {name} not done: {e}"),
                    );
                }
                (OpKind::Kill(_), Ok(_)) => {
                    if self.layout.slot(&name).is_some() {
                        self.unconfirmed.insert(name.clone(), CONFIRM_POLLS);
                        self.memory.slot_mut(&name).pane = None;
                    }
                    self.memory
                        .push(now, EventKind::Killed, &name, format!("killed {name}{who}"));
                }
                (OpKind::Kill(_), Err(e)) => {
                    if let Some(m) = self.memory.slots.get_mut(&name) {
                        m.in_flight = None;
                    }
                    self.memory.push(
                        now,
                        EventKind::Error,
                        &name,
                        format!("kill {name} failed: {e}"),
                    );
                }
                (OpKind::Create(_), Ok(text)) if text == ALREADY_EXISTED => {
                    // Someone else was quicker: their session is taken as it is.
                    self.unconfirmed.insert(name.clone(), CONFIRM_POLLS);
                    let m = self.memory.slot_mut(&name);
                    m.failed = None;
                    m.failed_session = None;
                    self.memory.push(
                        now,
                        EventKind::Info,
                        &name,
                        format!("{name} already existed: someone else created it; left as it is"),
                    );
                }
                (kind, Ok(text)) => {
                    self.unconfirmed.insert(name.clone(), CONFIRM_POLLS);
                    // From now on the slot follows the pane this op started.
                    let started = match kind {
                        OpKind::Respawn { pane_id, .. } => self.pane_in_last(pane_id),
                        _ => r.started.clone(),
                    };
                    let m = self.memory.slot_mut(&name);
                    if started.is_some() {
                        m.pane = started;
                    }
                    let recovered = m.failed.take();
                    m.failed_session = None;
                    let verb = if matches!(kind, OpKind::Create(_)) {
                        "created"
                    } else {
                        "restarted"
                    };
                    let (ev, text) = match recovered {
                        Some(f) => (
                            EventKind::Recovered,
                            format!("recovered {name}: {verb} after it {f}{who}"),
                        ),
                        None if verb == "created" => {
                            (EventKind::Created, format!("{verb} {name} ({text}){who}"))
                        }
                        None => (EventKind::Restarted, format!("{verb} {name} ({text}){who}")),
                    };
                    self.memory.push(now, ev, &name, text);
                }
                (kind, Err(e)) => {
                    let current_session = self.last.as_ref().and_then(|o| {
                        o.slots
                            .iter()
                            .filter_map(|s| s.pane.as_ref())
                            .find(|p| p.session_name == name)
                            .map(|p| p.session_id.clone())
                    });
                    let m = self.memory.slot_mut(&name);
                    m.in_flight = None;
                    let what = if matches!(kind, OpKind::Create(_)) {
                        "create"
                    } else {
                        "respawn"
                    };
                    m.failed = Some(format!("{what} failed: {e}"));
                    // The mark belongs to the session that is there (a respawn's), if any.
                    m.failed_session = current_session;
                    self.memory.push(
                        now,
                        EventKind::Error,
                        &name,
                        format!("{what} {name} failed: {e}"),
                    );
                }
            }
        }
    }

    /// Writes the memory if it changed (never when observe-only: the other supervisor owns it).
    pub fn save(&mut self, now: Millis) {
        if self.mode.observe_only {
            return;
        }
        let Some(store) = &self.store else { return };
        let Ok(bytes) = serde_json::to_vec(&self.memory) else {
            return;
        };
        if bytes == self.saved {
            return;
        }
        match store.save(&self.memory) {
            Ok(()) => {
                self.saved = bytes;
                self.save_error = None;
            }
            Err(e) => {
                let msg = format!(
                    "cannot write the state file {}: {e}; restart counters live in memory only",
                    store.path.display()
                );
                if self.save_error.as_ref() != Some(&msg) {
                    self.memory.push(now, EventKind::Error, "", msg.clone());
                    self.save_error = Some(msg);
                }
            }
        }
    }

    /// The per-server state file.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }
}

/// Messages from blocking work back to the owning task.
#[derive(Debug)]
pub enum Work {
    Polled(PollResult),
    Executed(Vec<OpResult>),
}

/// Runs a poll job on a blocking thread and posts the result.
pub fn spawn_poll(tmux: Arc<dyn Tmux>, job: PollJob, tx: mpsc::UnboundedSender<Work>) {
    tokio::task::spawn_blocking(move || {
        // A result always comes back, so the loop never waits forever for a poll.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(tmux.as_ref())))
            .unwrap_or_else(|_| PollResult {
                error: Some("the poll panicked (see the log)".to_string()),
                ..PollResult::default()
            });
        let _ = tx.send(Work::Polled(r));
    });
}

/// Runs op jobs on a blocking thread and posts the results.
pub fn spawn_execute(tmux: Arc<dyn Tmux>, jobs: Vec<OpJob>, tx: mpsc::UnboundedSender<Work>) {
    if jobs.is_empty() {
        return;
    }
    tokio::task::spawn_blocking(move || {
        // A result always comes back, so the loop never waits forever for an op.
        let names = jobs.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            execute(tmux.as_ref(), jobs)
        }))
        .unwrap_or_else(|_| {
            names
                .into_iter()
                .map(|job| OpResult {
                    job,
                    outcome: Err("the op panicked (see the log)".to_string()),
                    started: None,
                })
                .collect()
        });
        let _ = tx.send(Work::Executed(r));
    });
}

/// An interval that skips missed ticks instead of bursting after a stall.
pub fn ticker(period: Duration) -> tokio::time::Interval {
    let mut t = tokio::time::interval(period);
    t.set_missed_tick_behavior(MissedTickBehavior::Skip);
    t
}

/// How long a stopping supervisor waits for the tmux calls it stopped to come back (they
/// end at once when the [`Shutdown`] switch is on; this only bounds the wait if one does not).
pub const STOP_GRACE: Duration = Duration::from_secs(1);

/// The headless loop: poll every `poll_interval`, reconcile every `reconcile_interval` and
/// right after a poll that shows a supervised slot missing or dead; returns on `shutdown`.
///
/// On the way out `stop` is triggered: the tmux call in progress ends at once, queued ops are
/// dropped (and logged as not run), and the memory is saved.
pub async fn run_daemon(
    mut sup: Supervisor,
    tmux: Arc<dyn Tmux>,
    shutdown: impl std::future::Future<Output = ()>,
    stop: Shutdown,
) -> Supervisor {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut poll_tick = ticker(sup.config.poll_interval);
    let mut reconcile_tick = ticker(sup.config.reconcile_interval);
    let mut polling = false;
    let mut executing = false;
    tokio::pin!(shutdown);
    tracing::info!(
        slots = sup.layout.slots.len(),
        observe_only = sup.mode.observe_only,
        dry_run = sup.mode.dry_run,
        "daemon started"
    );
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = poll_tick.tick(), if !polling => {
                polling = true;
                spawn_poll(Arc::clone(&tmux), sup.poll_job(), tx.clone());
            }
            _ = reconcile_tick.tick() => {
                sup.retry_lock(now_ms());
                if !executing {
                    let jobs = sup.reconcile(now_ms());
                    executing = !jobs.is_empty();
                    spawn_execute(Arc::clone(&tmux), jobs, tx.clone());
                }
            }
            Some(work) = rx.recv() => {
                let now = now_ms();
                match work {
                    Work::Polled(r) => {
                        polling = false;
                        if sup.on_poll(r, now) && !executing {
                            let jobs = sup.reconcile(now);
                            executing = !jobs.is_empty();
                            spawn_execute(Arc::clone(&tmux), jobs, tx.clone());
                        }
                    }
                    Work::Executed(r) => {
                        executing = false;
                        sup.on_executed(r, now);
                        // See the effect soon rather than at the next tick.
                        poll_tick.reset_immediately();
                    }
                }
                sup.save(now);
            }
        }
    }
    stop.trigger();
    // The ops in progress come back at once as stopped: fold them in so the memory says so.
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    while polling || executing {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Work::Executed(r))) => {
                executing = false;
                sup.on_executed(r, now_ms());
            }
            Ok(Some(Work::Polled(_))) => polling = false,
            Ok(None) | Err(_) => break,
        }
    }
    sup.save(now_ms());
    tracing::info!("daemon stopped");
    sup
}

#[cfg(test)]
mod tests;
