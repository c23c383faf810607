//! Running the controller's jobs against tmux on blocking threads: a poll (one `list-panes`,
//! the nudge for a lost exit, one chained capture, the status file), ops one after the other,
//! and their results posted back to the owning task as [`Work`].

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::hosts::mark;
use crate::jobs::{CAPTURE_LINES, Done, OpError, OpJob, OpKind, OpResult, PollJob, PollResult};
use crate::memory::OwnedPane;
use crate::observe::panes_to_capture;
use crate::status_file;
use crate::tmux::{Created, Target, Tmux, TmuxError};

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
        // A pane the supervisor started, dead with neither status nor signal: tmux may have
        // missed its exit. Nudge the server so the next poll has the status (pane_dead is
        // acted on anyway). A dead pane that is not ours is left dead, so it is not nudged at
        // every poll.
        if let Some(server) = out.snapshot.server_pid()
            && out.snapshot.local().any(|p| {
                p.pane_dead
                    && p.dead_status.is_none()
                    && p.dead_signal.is_none()
                    && self.owned.values().any(|o| {
                        o.pane_id == p.pane_id
                            && o.session_id == p.session_id
                            && o.server_pid == p.server_pid
                    })
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
        self.read_agents(&mut out);
        out
    }

    /// The agents' side of a poll: their hook events and their conversations' transcripts.
    fn read_agents(&self, out: &mut PollResult) {
        if let Some((dir, key)) = &self.hooks_from {
            out.hooks = crate::claude::events::load(dir, key);
        }
        if !self.transcripts.is_empty() {
            let home = crate::config::home_dir();
            out.transcripts = self
                .transcripts
                .iter()
                .map(|p| (p.clone(), p.look(&home)))
                .collect();
        }
    }
}

/// Runs op jobs one after the other against tmux, each on its session's host. Once tmux says
/// the supervisor is stopping, the jobs still queued are not run: they come back as not run.
pub fn execute(tmux: &dyn Tmux, jobs: Vec<OpJob>) -> Vec<OpResult> {
    let mut stopping = false;
    jobs.into_iter()
        .map(|job| {
            if stopping {
                return OpResult {
                    job,
                    outcome: Err(TmuxError::Stopped.into()),
                };
            }
            let outcome = run_op(tmux, &job);
            stopping = matches!(outcome, Err(TmuxError::Stopped));
            OpResult {
                job,
                outcome: outcome.map_err(OpError::from),
            }
        })
        .collect()
}

/// One op, on the server of its session's host: another host's ids are given to it bare,
/// and the ids it reports are marked with the host.
fn run_op(tmux: &dyn Tmux, job: &OpJob) -> Result<Done, TmuxError> {
    let (tmux, host) = match job.host.as_deref() {
        None => (tmux, None),
        Some(h) => match tmux.on_host(h) {
            Some(t) => (t, Some(h)),
            None => return Err(TmuxError::Ssh(format!("no host `{h}` in the config"))),
        },
    };
    // An id of the job's host, as that server knows it; one of another server is left as it
    // is (marked), and tmux refuses it as no exact target.
    let theirs = |id: &str| match (host, id.split_once('@')) {
        (Some(h), Some((bare_id, of))) if of == h => bare_id.to_string(),
        _ => id.to_string(),
    };
    let ours = |id: String| host.map_or_else(|| id.clone(), |h| mark(&id, h));
    let owned = |server_pid, session_id, pane_id| OwnedPane {
        server_pid,
        session_id: ours(session_id),
        pane_id: ours(pane_id),
    };
    match &job.kind {
        OpKind::Create(launch) => tmux.create(launch).map(|c| match c {
            Created::New {
                server_pid,
                session_id,
                pane_id,
            } => Done::Created(owned(server_pid, session_id, pane_id)),
            Created::AlreadyExists => Done::AlreadyExisted,
            Created::Unfinished {
                server_pid,
                session_id,
                pane_id,
                error,
            } => Done::Unfinished {
                pane: owned(server_pid, session_id, pane_id),
                error,
            },
        }),
        OpKind::Respawn { pane_id, launch } => tmux
            .respawn(&theirs(pane_id), launch)
            .map(|()| Done::Respawned),
        OpKind::Kill(target) => {
            let target = match target {
                Target::Name(n) => Target::Name(n.clone()),
                Target::Session(id) => Target::Session(theirs(id)),
                Target::Pane(id) => Target::Pane(theirs(id)),
            };
            tmux.kill(&target).map(|()| Done::Killed)
        }
        OpKind::Interrupt(pane) => tmux.interrupt(&theirs(pane)).map(|()| Done::Interrupted),
    }
}

/// Messages from blocking work back to the owning task.
#[derive(Debug)]
pub enum Work {
    Polled(Box<PollResult>),
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
        let _ = tx.send(Work::Polled(Box::new(r)));
    });
}

/// Runs op jobs on blocking threads, one batch per host (each in order, the hosts side by
/// side: a host slow to answer holds up no other's), and posts each batch's results as it
/// comes back (the controller counts the batches: [`crate::jobs::by_host`]).
pub fn spawn_execute(tmux: &Arc<dyn Tmux>, jobs: Vec<OpJob>, tx: &mpsc::UnboundedSender<Work>) {
    for batch in crate::jobs::by_host(jobs) {
        spawn_batch(Arc::clone(tmux), batch, tx.clone());
    }
}

fn spawn_batch(tmux: Arc<dyn Tmux>, jobs: Vec<OpJob>, tx: mpsc::UnboundedSender<Work>) {
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
                    outcome: Err(OpError::Panicked),
                })
                .collect()
        });
        let _ = tx.send(Work::Executed(r));
    });
}
