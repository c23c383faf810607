//! The controller's ops: reconcile passes and the operator's recreate and kill turned into
//! jobs (each marked in flight), and their results folded back into the memory.

use super::{CONFIRM_POLLS, Supervisor};
use crate::jobs::{Done, OpError, OpJob, OpKind, OpResult};
use crate::memory::{Action, EventKind, InFlight, OwnedPane};
use crate::reconcile::{Op, plan};
use crate::time::Millis;
use crate::tmux::Target;

impl Supervisor {
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
            // A host with ops still out gets none more now (the next pass has its results).
            if self.busy(self.layout.slots[slot].host.as_deref()) {
                continue;
            }
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
                    let launch = self.launch(slot, false, now);
                    self.begin_start(&name, Action::Create, None, now);
                    jobs.push(OpJob {
                        host: self.host_of(&name),
                        name,
                        kind: OpKind::Create(launch),
                        manual: false,
                    });
                }
                Op::Respawn {
                    pane_id,
                    old_pane_pid,
                    ..
                } => {
                    let launch = self.launch(slot, false, now);
                    self.begin_start(&name, Action::Respawn, Some(old_pane_pid), now);
                    jobs.push(OpJob {
                        host: self.host_of(&name),
                        name,
                        kind: OpKind::Respawn { pane_id, launch },
                        manual: false,
                    });
                }
            }
        }
        if !self.busy(None) {
            jobs.extend(self.hung_jobs(now));
        }
        jobs
    }

    pub(super) fn begin_start(
        &mut self,
        name: &str,
        op: Action,
        old_pane_pid: Option<u32>,
        now: Millis,
    ) {
        self.unconfirmed.remove(name);
        let m = self.memory.slot_mut(name);
        if m.started_before {
            m.restarts = m.restarts.saturating_add(1);
            m.total_restarts = m.total_restarts.saturating_add(1);
        }
        m.started_before = true;
        m.on_placeholder = false;
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
    /// create it if not; an agent slot resumes its conversation when it can. Clears a gave-up
    /// mark and the backoff. `None` if not a slot.
    pub fn recreate(&mut self, name: &str, now: Millis) -> Option<OpJob> {
        self.recreate_as(name, false, now)
    }

    /// As [`Supervisor::recreate`], with a new conversation for an agent slot.
    pub fn recreate_fresh(&mut self, name: &str, now: Millis) -> Option<OpJob> {
        self.recreate_as(name, true, now)
    }

    fn recreate_as(&mut self, name: &str, fresh: bool, now: Millis) -> Option<OpJob> {
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
        let launch = self.launch(slot, fresh, now);
        let job = if let Some(p) = pane {
            self.begin_start(name, Action::Respawn, Some(p.pane_pid), now);
            OpJob {
                host: self.host_of(name),
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
                host: self.host_of(name),
                name: name.to_string(),
                kind: OpKind::Create(launch),
                manual: true,
            }
        };
        Some(job)
    }

    /// The host of a slot, by name (`None`: this machine, or not a slot).
    pub(super) fn host_of(&self, name: &str) -> Option<String> {
        let i = self.layout.slot(name)?;
        self.layout.slots[i].host.clone()
    }

    /// The operator asks to kill a session of this machine's (a slot or a stray), by its id
    /// when known.
    pub fn kill(&mut self, name: &str, now: Millis) -> OpJob {
        self.kill_on(None, name, now)
    }

    /// The operator asks to kill a session on `host` (`None`: this machine): a slot there or
    /// a stray, by its id when known.
    pub fn kill_on(&mut self, host: Option<&str>, name: &str, now: Millis) -> OpJob {
        // Killing a slot is an op of ours: its vanishing is not a crash.
        let slot = self
            .layout
            .slot(name)
            .filter(|&i| self.layout.slots[i].host.as_deref() == host);
        if slot.is_some() {
            let m = self.memory.slot_mut(name);
            m.in_flight = Some(InFlight {
                op: Action::Kill,
                since: now,
                old_pane_pid: None,
            });
            m.last_state = None;
        }
        let id = self
            .last
            .as_ref()
            .and_then(|o| o.pane_named(host, name))
            .map(|p| p.session_id.clone());
        OpJob {
            host: host.map(str::to_string),
            name: name.to_string(),
            kind: OpKind::Kill(id.map_or_else(|| Target::Name(name.to_string()), Target::Session)),
            manual: true,
        }
    }

    /// Folds op results in: events, failure marks, in-flight bookkeeping.
    pub fn on_executed(&mut self, results: Vec<OpResult>, now: Millis) {
        for r in results {
            let name = r.job.name.as_str();
            let who = if r.job.manual {
                " (by the operator)"
            } else {
                ""
            };
            let verb = r.job.kind.verb();
            // A kill of a session that is not the slot of that name (a stray or another
            // session of that name on another host): said, and no slot's memory touched.
            let slot_here = self
                .layout
                .slot(name)
                .is_some_and(|i| self.layout.slots[i].host == r.job.host);
            if !slot_here && matches!(r.job.kind, OpKind::Kill(_)) {
                let on = r
                    .job
                    .host
                    .as_deref()
                    .map_or_else(String::new, |h| format!(" on {h}"));
                match &r.outcome {
                    Ok(_) => self.memory.push(
                        now,
                        EventKind::Killed,
                        name,
                        format!("killed {name}{on}{who}"),
                    ),
                    Err(e) => self.memory.push(
                        now,
                        EventKind::Error,
                        name,
                        format!("kill {name}{on} failed: {e}"),
                    ),
                }
                continue;
            }
            match r.outcome {
                // Dropped because the supervisor is stopping: nothing happened to the slot.
                Err(e) if e.is_stopped() => self.not_done(name, verb, &e, now),
                Ok(Done::Killed) => self.killed(name, who, now),
                Ok(Done::Interrupted) => self.memory.push(
                    now,
                    EventKind::Info,
                    name,
                    format!("{name}: Esc sent to the hung agent"),
                ),
                Err(e) if matches!(r.job.kind, OpKind::Interrupt(_)) => self.memory.push(
                    now,
                    EventKind::Error,
                    name,
                    format!("interrupt {name} failed: {e}"),
                ),
                Err(e) if matches!(r.job.kind, OpKind::Kill(_)) => self.kill_failed(name, &e, now),
                Ok(Done::AlreadyExisted) => self.already_existed(name, now),
                Ok(Done::Unfinished { pane, error }) => self.unfinished(name, pane, &error, now),
                Ok(done @ (Done::Created(_) | Done::Respawned)) => {
                    self.started(name, &done, &r.job.kind, who, now);
                }
                Err(e) => self.start_failed(name, verb, &e, now),
            }
        }
    }

    fn not_done(&mut self, name: &str, verb: &str, e: &OpError, now: Millis) {
        if let Some(m) = self.memory.slots.get_mut(name) {
            m.in_flight = None;
        }
        self.memory.push(
            now,
            EventKind::Info,
            name,
            format!("{verb} {name} not done: {e}"),
        );
    }

    fn killed(&mut self, name: &str, who: &str, now: Millis) {
        if self.layout.slot(name).is_some() {
            self.unconfirmed.insert(name.to_string(), CONFIRM_POLLS);
            self.memory.slot_mut(name).pane = None;
        }
        self.memory
            .push(now, EventKind::Killed, name, format!("killed {name}{who}"));
    }

    fn kill_failed(&mut self, name: &str, e: &OpError, now: Millis) {
        if let Some(m) = self.memory.slots.get_mut(name) {
            m.in_flight = None;
        }
        self.memory.push(
            now,
            EventKind::Error,
            name,
            format!("kill {name} failed: {e}"),
        );
    }

    /// Someone else was quicker: their session is taken as it is.
    fn already_existed(&mut self, name: &str, now: Millis) {
        self.unconfirmed.insert(name.to_string(), CONFIRM_POLLS);
        let m = self.memory.slot_mut(name);
        m.failed = None;
        m.failed_session = None;
        self.memory.push(
            now,
            EventKind::Info,
            name,
            format!("{name} already existed: someone else created it; left as it is"),
        );
    }

    /// Its placeholder is there and ours: marked failed, it is restarted.
    fn unfinished(&mut self, name: &str, pane: OwnedPane, error: &str, now: Millis) {
        self.unconfirmed.insert(name.to_string(), CONFIRM_POLLS);
        let m = self.memory.slot_mut(name);
        m.failed_session = Some(pane.session_id.clone());
        m.pane = Some(pane);
        m.failed = Some(format!("create failed: {error}"));
        m.on_placeholder = true;
        self.memory.push(
            now,
            EventKind::Error,
            name,
            format!("create {name} failed: {error}; its placeholder is restarted"),
        );
    }

    /// Created or respawned: from now on the slot follows the pane this op started, and a
    /// failure mark it had is told as recovered.
    fn started(&mut self, name: &str, done: &Done, kind: &OpKind, who: &str, now: Millis) {
        self.unconfirmed.insert(name.to_string(), CONFIRM_POLLS);
        let (started, what) = match (done, kind) {
            (Done::Created(p), _) => (Some(p.clone()), p.session_id.clone()),
            (_, OpKind::Respawn { pane_id, .. }) => {
                (self.pane_in_last(pane_id), format!("pane {pane_id}"))
            }
            _ => (None, String::new()),
        };
        let m = self.memory.slot_mut(name);
        if started.is_some() {
            m.pane = started;
        }
        let recovered = m.failed.take();
        m.failed_session = None;
        let created = matches!(done, Done::Created(_));
        let past = if created { "created" } else { "restarted" };
        let (ev, text) = match recovered {
            Some(f) => (
                EventKind::Recovered,
                format!("recovered {name}: {past} after it {f}{who}"),
            ),
            None if created => (EventKind::Created, format!("created {name} ({what}){who}")),
            None => (
                EventKind::Restarted,
                format!("restarted {name} ({what}){who}"),
            ),
        };
        self.memory.push(now, ev, name, text);
    }

    /// A create or respawn failed: the slot is marked failed, and the mark belongs to the
    /// session that is there (a respawn's), if any.
    fn start_failed(&mut self, name: &str, verb: &str, e: &OpError, now: Millis) {
        let host = self.host_of(name);
        let current_session = self
            .last
            .as_ref()
            .and_then(|o| o.pane_named(host.as_deref(), name))
            .map(|p| p.session_id.clone());
        let m = self.memory.slot_mut(name);
        m.in_flight = None;
        m.failed = Some(format!("{verb} failed: {e}"));
        m.failed_session = current_session;
        self.memory.push(
            now,
            EventKind::Error,
            name,
            format!("{verb} {name} failed: {e}"),
        );
    }
}
