//! Push on the loops' side (DESIGN.md §12): what rings their wake-up — tmux's latch through the
//! one waiter, the processes of kept-alive slot panes, the datagram socket agent hooks send
//! to — and what is kept up after each poll: the wake-up hook on every kept-alive slot pane
//! that lacks it (one call for all, at most a few tries per pane), the processes followed,
//! the socket bound once the lock is held, and problems said once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::controller::Supervisor;
use crate::jobs::PollJob;
use crate::store::Store;
use crate::time::Millis;
use crate::tmux::waiter::Waiter;
use crate::tmux::{Pane, Tmux, TmuxCli, hooks};
use crate::wake::{Listener, PaneProcesses, Wake};

use super::work::{Work, spawn_poll};

/// Times the hook is set on one pane before push says tmux does not keep it.
const HOOK_TRIES: u8 = 3;

/// What push needs, made before the runtime starts: the wake-up the loop waits on and, push
/// on, what its sources need (the client the waiter runs, the latch channel, where the
/// wake-up socket goes). Off, only whoever holds the wake-up rings it (the loop tests).
#[derive(Debug, Clone, Default)]
pub struct PushSetup {
    pub wake: Wake,
    on: Option<Sourcing>,
}

#[derive(Debug, Clone)]
struct Sourcing {
    cli: TmuxCli,
    channel: String,
    state_dir: PathBuf,
    key: String,
}

impl PushSetup {
    /// No sources: only whoever holds `wake` rings it.
    pub fn off(wake: Wake) -> Self {
        PushSetup { wake, on: None }
    }
}

/// Push for `config` (`push: true`) on the server of `store`: the client, now setting the
/// wake-up hook on every session it creates, and the setup for [`Push::start`]. Push off, or
/// no state dir: the client as it was, and a setup without sources.
pub fn push_setup(tmux: TmuxCli, config: &Config, store: Option<&Store>) -> (TmuxCli, PushSetup) {
    let Some(store) = store.filter(|_| config.push) else {
        return (tmux, PushSetup::default());
    };
    let key = store.key().to_owned();
    let channel = hooks::channel(&key);
    let tmux = tmux.with_wake_channel(channel.clone());
    let on = Sourcing {
        cli: tmux.clone(),
        channel,
        state_dir: config.state_dir.clone(),
        key,
    };
    (
        tmux,
        PushSetup {
            wake: Wake::new(),
            on: Some(on),
        },
    )
}

/// The loop's push: its wake-up, and (push on) the sources that ring it.
pub struct Push {
    wake: Wake,
    on: Option<Sources>,
}

/// The sources of a push that is on, and what is kept up for them.
struct Sources {
    setup: Sourcing,
    wake: Wake,
    waiter: Waiter,
    /// The server the last poll saw, for the waiter.
    server: watch::Sender<Option<u32>>,
    panes: PaneProcesses,
    listener: Option<Listener>,
    listen_tried: bool,
    /// (server pid, pane id) → times the hook was set on that pane in this run.
    tries: HashMap<(u32, String), u8>,
    /// A call setting hooks is out.
    hooking: Arc<AtomicBool>,
    /// Why the last call setting hooks failed.
    hook_error: Arc<Mutex<Option<String>>>,
    /// tmux does not keep the hook: no more tries.
    hooks_off: bool,
    problems: mpsc::UnboundedReceiver<String>,
}

impl Push {
    /// Push as `setup` says. Starts the waiter: must run inside the runtime.
    pub fn start(setup: PushSetup) -> Push {
        let PushSetup { wake, on } = setup;
        let on = on.map(|setup| {
            let (problems_tx, problems) = mpsc::unbounded_channel();
            let (server, seen) = watch::channel(None);
            let waiter = Waiter::start(&setup.cli, &setup.channel, seen, wake.clone(), problems_tx);
            Sources {
                setup,
                wake: wake.clone(),
                waiter,
                server,
                panes: PaneProcesses::new(wake.clone()),
                listener: None,
                listen_tried: false,
                tries: HashMap::new(),
                hooking: Arc::new(AtomicBool::new(false)),
                hook_error: Arc::new(Mutex::new(None)),
                hooks_off: false,
                problems,
            }
        });
        Push { wake, on }
    }

    /// What the loop waits on.
    pub fn wake(&self) -> &Wake {
        &self.wake
    }

    /// Starts a poll: the wake-ups rung before it are answered by it (see [`Wake::clear`]).
    pub fn polling(&self, tmux: Arc<dyn Tmux>, job: PollJob, tx: mpsc::UnboundedSender<Work>) {
        self.wake.clear();
        spawn_poll(tmux, job, tx);
    }

    /// After a poll was folded into `sup`: the waiter told the server, the live panes of
    /// kept-alive slots followed, and — when this supervisor acts — the socket bound and the
    /// wake-up hook set where it lacks. Problems go to the log and the event log, once.
    pub fn after_poll(&mut self, sup: &mut Supervisor, tmux: &Arc<dyn Tmux>, now: Millis) {
        let Some(on) = &mut self.on else { return };
        while let Ok(why) = on.problems.try_recv() {
            tracing::warn!("push limited: {why}");
            sup.push_is_unavailable(now, &why);
        }
        let Some(obs) = &sup.last else { return };
        let server = obs.server_pid;
        on.server.send_if_modified(|s| {
            let changed = *s != server;
            *s = server;
            changed
        });
        // This machine's panes only: another host's pids are not processes here, and its
        // server cannot signal this one's latch (its slots are seen at the next poll).
        let kept: Vec<&Pane> = obs
            .slots
            .iter()
            .filter(|s| sup.layout.slots[s.slot].supervised())
            .filter_map(|s| s.pane.as_ref())
            .filter(|p| p.host().is_none())
            .collect();
        on.panes
            .follow(kept.iter().filter(|p| !p.pane_dead).map(|p| p.pane_pid));
        if sup.mode.observe_only {
            return;
        }
        let lacking = on.lacking(&kept);
        let problem = on.bind_socket();
        let hooks_failed = on.hooks_failed(&lacking);
        if !lacking.is_empty() && !on.hooks_off {
            on.set_hooks(lacking, tmux);
        }
        if let Some(e) = problem {
            sup.note_error(now, e);
        }
        if let Some(why) = hooks_failed {
            tracing::warn!("push limited: {why}");
            sup.push_is_unavailable(now, &why);
        }
    }

    /// Ends the waiter (its client killed), lets every process go and removes the socket.
    /// Push is off afterwards.
    pub async fn stop(&mut self) {
        if let Some(on) = self.on.take() {
            on.waiter.stop().await;
        }
    }
}

impl Sources {
    /// Kept-alive slot panes without the hook, not yet tried [`HOOK_TRIES`] times. The tries
    /// of panes that are gone are forgotten.
    fn lacking(&mut self, kept: &[&Pane]) -> Vec<(u32, String)> {
        self.tries.retain(|(server, id), _| {
            kept.iter()
                .any(|p| p.server_pid == *server && &p.pane_id == id)
        });
        kept.iter()
            .filter(|p| !hooks::is_set(p, &self.setup.channel))
            .map(|p| (p.server_pid, p.pane_id.clone()))
            .collect()
    }

    /// A pane still without the hook after it was set [`HOOK_TRIES`] times: tmux does not
    /// keep it (or refuses it), and hooks are tried no more. Why, once.
    fn hooks_failed(&mut self, lacking: &[(u32, String)]) -> Option<String> {
        if self.hooks_off {
            return None;
        }
        let worn = lacking
            .iter()
            .find(|p| self.tries.get(*p).copied().unwrap_or(0) >= HOOK_TRIES)?;
        self.hooks_off = true;
        let error = match self.hook_error.lock() {
            Ok(e) => e.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        Some(match error {
            Some(e) => format!("the wake-up hook cannot be set on {} ({e})", worn.1),
            None => format!("tmux does not keep the wake-up hook on {}", worn.1),
        })
    }

    /// One call setting the hook on `lacking`, on a blocking thread; one at a time.
    fn set_hooks(&mut self, lacking: Vec<(u32, String)>, tmux: &Arc<dyn Tmux>) {
        if self.hooking.swap(true, Ordering::SeqCst) {
            return;
        }
        for p in &lacking {
            *self.tries.entry(p.clone()).or_insert(0) += 1;
        }
        let panes: Vec<String> = lacking.into_iter().map(|(_, id)| id).collect();
        let (tmux, hooking, error) = (
            Arc::clone(tmux),
            Arc::clone(&self.hooking),
            Arc::clone(&self.hook_error),
        );
        tokio::task::spawn_blocking(move || {
            let outcome = tmux.set_wake_hooks(&panes).err().map(|e| e.to_string());
            if let Some(e) = &outcome {
                tracing::debug!("setting the wake-up hook on {panes:?} failed: {e}");
            }
            match error.lock() {
                Ok(mut slot) => *slot = outcome,
                Err(poisoned) => *poisoned.into_inner() = outcome,
            }
            hooking.store(false, Ordering::SeqCst);
        });
    }

    /// Binds the wake-up socket the first time this supervisor acts; why not, once.
    fn bind_socket(&mut self) -> Option<String> {
        if self.listen_tried {
            return None;
        }
        self.listen_tried = true;
        let bound = Listener::bind(&self.setup.state_dir, &self.setup.key, self.wake.clone());
        match bound {
            Ok(l) => {
                tracing::debug!(socket = %l.path().display(), "wake-up socket bound");
                self.listener = Some(l);
                None
            }
            Err(e) => {
                let text = format!("agent hooks cannot wake the supervisor: {e}");
                tracing::warn!("{text}");
                Some(text)
            }
        }
    }
}
