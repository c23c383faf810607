//! An in-process tmux for loop tests: sessions and panes kept in memory, every call recorded
//! with the (tokio) time it came in, and deaths injected by the test (each one ringing the
//! loop's wake-up, as push's hooks would, once [`FakeTmux::ring_on_deaths`] is set). Only the
//! logic of the loops is tested on it; the real client is tested against real tmux servers.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::tmux::{Created, Launch, Pane, Snapshot, Target, Tmux, TmuxError};
use crate::wake::Wake;

/// One call the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Snapshot,
    /// `new-session -s NAME`.
    Create(String),
    /// `respawn-pane -t %ID`.
    Respawn(String),
    /// `kill-session -t …` (rendered target).
    Kill(String),
    Capture(Vec<String>),
    SwitchClient(String),
    Reap(u32),
    /// `send-keys -t %ID Escape`.
    Interrupt(String),
    /// `set-hook` of the wake-up hook on these panes.
    Hook(Vec<String>),
}

/// How the program started in a session behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Runs until killed.
    #[default]
    Runs,
    /// Dies at once with this exit status (a crash loop).
    Exits(i32),
}

#[derive(Debug, Default)]
struct Server {
    pid: u32,
    next_id: u32,
    panes: Vec<Pane>,
    /// Session name → how programs started there behave.
    behaviour: HashMap<String, Behaviour>,
    calls: Vec<(tokio::time::Instant, Call)>,
    /// Rung at every death the test injects (push on), as tmux's hooks and the followed
    /// processes would.
    wake: Option<Wake>,
}

/// The fake server; clones share it.
#[derive(Debug, Clone)]
pub struct FakeTmux {
    server: Arc<Mutex<Server>>,
}

impl Default for FakeTmux {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeTmux {
    /// An empty server (no sessions).
    pub fn new() -> Self {
        FakeTmux {
            server: Arc::new(Mutex::new(Server {
                pid: 4242,
                next_id: 1,
                ..Server::default()
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Server> {
        match self.server.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// From now on every death the test injects (a program killed, a session removed) rings
    /// `wake`, as push does for a real server.
    pub fn ring_on_deaths(&self, wake: Wake) {
        self.lock().wake = Some(wake);
    }

    /// The wake-up the injected deaths ring, if set.
    pub fn wake(&self) -> Option<Wake> {
        self.lock().wake.clone()
    }

    /// Rings the wake-up as a hook would (an agent's hook, a `pane-died`), if one is set.
    pub fn fire_wake(&self) {
        if let Some(w) = &self.lock().wake {
            w.ring();
        }
    }

    /// Programs started in `name` from now on behave so.
    pub fn set_behaviour(&self, name: &str, behaviour: Behaviour) {
        self.lock().behaviour.insert(name.to_string(), behaviour);
    }

    /// A session made by someone else, running a shell.
    pub fn add_session(&self, name: &str) -> Pane {
        let mut s = self.lock();
        s.add(name)
    }

    /// The program in the first pane of `name` dies with `status` (tmux keeps the pane).
    pub fn kill_program(&self, name: &str, status: i32) {
        let mut s = self.lock();
        if let Some(p) = s.panes.iter_mut().find(|p| p.session_name == name) {
            p.pane_dead = true;
            p.dead_status = Some(status);
        }
        drop(s);
        self.fire_wake();
    }

    /// The session goes away (killed by someone else).
    pub fn remove_session(&self, name: &str) {
        self.lock().panes.retain(|p| p.session_name != name);
        self.fire_wake();
    }

    /// Session names, each once.
    pub fn sessions(&self) -> Vec<String> {
        let s = self.lock();
        let mut names: Vec<String> = s.panes.iter().map(|p| p.session_name.clone()).collect();
        names.dedup();
        names
    }

    /// The first pane of a session.
    pub fn pane(&self, name: &str) -> Option<Pane> {
        self.lock()
            .panes
            .iter()
            .find(|p| p.session_name == name)
            .cloned()
    }

    /// Every call so far, with the time it came in.
    pub fn calls(&self) -> Vec<(tokio::time::Instant, Call)> {
        self.lock().calls.clone()
    }

    /// The calls that change something (creates, respawns, kills), by session name or pane.
    pub fn ops(&self) -> Vec<(tokio::time::Instant, Call)> {
        self.calls()
            .into_iter()
            .filter(|(_, c)| matches!(c, Call::Create(_) | Call::Respawn(_) | Call::Kill(_)))
            .collect()
    }

    /// Counts of calls by kind name, for quick checks.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for (_, c) in self.calls() {
            let k = match c {
                Call::Snapshot => "snapshot",
                Call::Create(_) => "create",
                Call::Respawn(_) => "respawn",
                Call::Kill(_) => "kill",
                Call::Capture(_) => "capture",
                Call::SwitchClient(_) => "switch-client",
                Call::Reap(_) => "reap",
                Call::Interrupt(_) => "interrupt",
                Call::Hook(_) => "hook",
            };
            *out.entry(k).or_insert(0) += 1;
        }
        out
    }

    fn record(&self, call: Call) -> MutexGuard<'_, Server> {
        let mut s = self.lock();
        s.calls.push((tokio::time::Instant::now(), call));
        s
    }
}

impl Server {
    fn add(&mut self, name: &str) -> Pane {
        let n = self.next_id;
        self.next_id += 1;
        // A shell, quiet since the epoch, with ids `$n` / `%n`.
        let p = Pane {
            server_pid: self.pid,
            ..crate::fixtures::pane(name, n)
        };
        self.panes.push(p.clone());
        p
    }

    /// The program just started in `pane_id` runs or dies, as its session's behaviour says.
    fn started(&mut self, pane_id: &str, command: &[String]) {
        let name = self
            .panes
            .iter()
            .find(|p| p.pane_id == pane_id)
            .map(|p| p.session_name.clone())
            .unwrap_or_default();
        let behaviour = self.behaviour.get(&name).copied().unwrap_or_default();
        let next = self.next_id;
        self.next_id += 1;
        if let Some(p) = self.panes.iter_mut().find(|p| p.pane_id == pane_id) {
            p.pane_pid = 20_000 + next;
            p.current_command = command.first().cloned().unwrap_or_else(|| "bash".into());
            match behaviour {
                Behaviour::Runs => {
                    p.pane_dead = false;
                    p.dead_status = None;
                }
                Behaviour::Exits(status) => {
                    p.pane_dead = true;
                    p.dead_status = Some(status);
                }
            }
        }
    }
}

impl Tmux for FakeTmux {
    fn snapshot(&self) -> Result<Snapshot, TmuxError> {
        let s = self.record(Call::Snapshot);
        Ok(Snapshot {
            panes: s.panes.clone(),
            rejected: Vec::new(),
            hosts: Vec::new(),
        })
    }

    fn create(&self, launch: &Launch) -> Result<Created, TmuxError> {
        let mut s = self.record(Call::Create(launch.name.clone()));
        if s.panes.iter().any(|p| p.session_name == launch.name) {
            return Ok(Created::AlreadyExists);
        }
        let p = s.add(&launch.name);
        s.started(&p.pane_id, &launch.command);
        Ok(Created::New {
            server_pid: p.server_pid,
            session_id: p.session_id,
            pane_id: p.pane_id,
        })
    }

    fn respawn(&self, pane_id: &str, launch: &Launch) -> Result<(), TmuxError> {
        let mut s = self.record(Call::Respawn(pane_id.to_string()));
        if !s.panes.iter().any(|p| p.pane_id == pane_id) {
            return Err(TmuxError::Failed {
                args: format!("respawn-pane -t {pane_id}"),
                message: format!("can't find pane: {pane_id}"),
            });
        }
        s.started(pane_id, &launch.command);
        Ok(())
    }

    fn kill(&self, target: &Target) -> Result<(), TmuxError> {
        let mut s = self.record(Call::Kill(target.render()));
        let before = s.panes.len();
        s.panes.retain(|p| match target {
            Target::Name(n) => &p.session_name != n,
            Target::Session(id) => &p.session_id != id,
            Target::Pane(id) => &p.pane_id != id,
        });
        if s.panes.len() == before {
            return Err(TmuxError::Failed {
                args: format!("kill-session -t {}", target.render()),
                message: "can't find session".to_string(),
            });
        }
        Ok(())
    }

    fn capture(&self, panes: &[String], _lines: u32) -> Result<HashMap<String, String>, TmuxError> {
        let _s = self.record(Call::Capture(panes.to_vec()));
        Ok(HashMap::new())
    }

    fn switch_client(&self, _client_tty: Option<&str>, target: &Target) -> Result<(), TmuxError> {
        let _s = self.record(Call::SwitchClient(target.render()));
        Ok(())
    }

    fn reap_lost_exits(&self, server_pid: u32) -> Result<(), TmuxError> {
        let _s = self.record(Call::Reap(server_pid));
        Ok(())
    }

    fn interrupt(&self, pane_id: &str) -> Result<(), TmuxError> {
        let s = self.record(Call::Interrupt(pane_id.to_string()));
        if s.panes.iter().any(|p| p.pane_id == pane_id) {
            Ok(())
        } else {
            Err(TmuxError::Failed {
                args: format!("send-keys -t {pane_id} Escape"),
                message: format!("can't find pane: {pane_id}"),
            })
        }
    }

    fn set_wake_hooks(&self, panes: &[String]) -> Result<(), TmuxError> {
        let _s = self.record(Call::Hook(panes.to_vec()));
        Ok(())
    }

    fn version(&self) -> Result<String, TmuxError> {
        Ok("3.3a".to_string())
    }
}
