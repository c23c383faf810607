//! Several hosts as one tmux (DESIGN.md §15): [`Fleet`] polls this machine's server and every
//! other host's (over its one shared ssh connection) in parallel and hands the controller one
//! snapshot, each other host's pane and session ids marked with its name (`%3@gpu1`); a host
//! that does not answer is in the snapshot as unreachable, and the others are not held up.
//! Ops for a slot on another host go to that host's client ([`Tmux::on_host`]).

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Config;
use crate::time::Millis;
use crate::tmux::ssh::{SshRoute, SshTarget};
use crate::tmux::{Created, HostPoll, Launch, Snapshot, Target, Tmux, TmuxCli, TmuxError};

mod remote;
use remote::{Reach, Remote};

/// How long a poll waits for the other hosts once it has asked them: a host slower than this
/// counts as unreachable for that poll, and its call goes on alone (no second one is sent
/// while it is out), so one stuck host never holds up the others.
pub const HOST_WAIT: Duration = Duration::from_secs(2);

/// An id of another host's server, marked with the host: `%3` on gpu1 is `%3@gpu1`.
pub fn mark(id: &str, host: &str) -> String {
    format!("{id}@{host}")
}

/// An id as its own server knows it: `%3@gpu1` is `%3` there.
pub fn bare(id: &str) -> &str {
    id.split_once('@').map_or(id, |(id, _)| id)
}

/// A host in an observation: whether its server answered, why not, and when it last did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostStatus {
    pub name: String,
    /// Why the last poll that asked it could not read it; `None`: it answered.
    pub reason: Option<String>,
    /// When its server last answered (ms since the epoch); `None`: not since the start.
    pub last_seen: Option<Millis>,
    /// Its tmux server's pid when it last answered with a session (`None`: no server runs).
    pub server_pid: Option<u32>,
}

impl HostStatus {
    /// Its server answered the last poll that asked it.
    pub fn up(&self) -> bool {
        self.reason.is_none()
    }
}

/// This machine's tmux and every other host's.
pub struct Fleet {
    local: TmuxCli,
    remotes: Vec<Arc<Remote>>,
    /// How long a poll waits for the other hosts ([`HOST_WAIT`] unless told).
    wait: Duration,
}

impl Fleet {
    /// `local` and a client for every host of `config` (through ssh, with the same timeout
    /// and stop switch as `local`; their control sockets in the state dir).
    pub fn new(local: TmuxCli, config: &Config) -> Self {
        // The shared connections' sockets go in the state dir only when it is this user's
        // alone (`check` may run on one it only warns about, or one not made yet).
        // ssh reads `%` in a ControlPath as a token and a space as the end of the option.
        let plain = config
            .state_dir
            .to_str()
            .is_some_and(|p| !p.contains(['%', '"', '\'']) && !p.contains(char::is_whitespace));
        let control_dir = (plain
            && config.state_dir.is_dir()
            && crate::statedir::check(&config.state_dir).is_ok())
        .then_some(config.state_dir.as_path());
        let remotes = config
            .hosts
            .values()
            .map(|h| {
                let route = SshRoute::new(
                    SshTarget {
                        host: &h.name,
                        destination: &h.ssh,
                        port: h.port,
                        identity_file: h.identity_file.as_deref(),
                        options: &h.ssh_options,
                    },
                    control_dir,
                );
                Arc::new(Remote {
                    name: h.name.clone(),
                    cli: TmuxCli::new(h.endpoint.clone())
                        .with_timeout(local.timeout())
                        .with_shutdown(local.shutdown().clone())
                        .with_ssh(route),
                    reach: Mutex::new(Reach::default()),
                })
            })
            .collect();
        Fleet {
            local,
            remotes,
            wait: HOST_WAIT,
        }
    }

    /// Waits up to `wait` for the other hosts at each poll: `check`, which polls once and
    /// may have to open the connections first, waits as long as a call may take.
    #[must_use]
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// This machine's client.
    pub fn local(&self) -> &TmuxCli {
        &self.local
    }

    /// The client of another host, by name.
    pub fn remote(&self, host: &str) -> Option<&TmuxCli> {
        self.remotes.iter().find(|r| r.name == host).map(|r| &r.cli)
    }

    /// The other hosts' names, in config order.
    pub fn hosts(&self) -> Vec<&str> {
        self.remotes.iter().map(|r| r.name.as_str()).collect()
    }
}

/// Why another host's server could not be read, in a few words: tmux's own message without
/// the argv it refused (a `list-panes` format is long and says nothing to the operator).
fn reason(e: &TmuxError) -> String {
    match e {
        TmuxError::Failed { message, .. } => format!("tmux: {message}"),
        e => e.to_string(),
    }
}

/// Another host's server is older than the supervisor needs (as its panes say it).
fn too_old(snap: &Snapshot) -> Option<String> {
    let version = snap.panes.first()?.server_version.as_str();
    match crate::tmux::check_version_text(version) {
        Ok(_) => None,
        Err(TmuxError::TooOld { found }) => Some(format!(
            "tmux {found} there is too old: 3.2 or newer is needed"
        )),
        Err(_) => Some(format!(
            "tmux there does not say its version ({version:?}): 3.2 or newer is needed"
        )),
    }
}

/// Another host's snapshot with its ids marked, added to the whole.
fn merge(into: &mut Snapshot, host: &str, snap: Snapshot) {
    for mut p in snap.panes {
        p.pane_id = mark(&p.pane_id, host);
        p.session_id = mark(&p.session_id, host);
        into.panes.push(p);
    }
    into.rejected
        .extend(snap.rejected.into_iter().map(|l| format!("{host}: {l}")));
}

/// One call per other host, each on a thread of its own (by index into the remotes, with
/// what that host's call needs), its result (a panic too) handed to `after` there, then sent.
type Answer<T> = (usize, Result<T, TmuxError>);

impl Fleet {
    /// Starts `call` for each of `jobs` side by side; [`Fleet::gather`] collects the answers.
    /// `after` sees each result on the call's thread (or here, when no thread could start).
    fn ask<D, T>(
        &self,
        what: &'static str,
        jobs: Vec<(usize, D)>,
        call: fn(&Remote, D) -> Result<T, TmuxError>,
        after: fn(&Remote, &Result<T, TmuxError>),
    ) -> (mpsc::Receiver<Answer<T>>, usize)
    where
        D: Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let asked = jobs.len();
        for (i, data) in jobs {
            let remote = Arc::clone(&self.remotes[i]);
            let sender = tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{what} {}", remote.name))
                .spawn(move || {
                    // A panic answers too: no host is left waiting for a call for ever.
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        call(&remote, data)
                    }))
                    .unwrap_or_else(|_| {
                        Err(TmuxError::BadOutput(format!(
                            "the {what} panicked (see the log)"
                        )))
                    });
                    after(&remote, &result);
                    let _ = sender.send((i, result));
                });
            if let Err(e) = spawned {
                let result = Err(TmuxError::Io(e));
                after(&self.remotes[i], &result);
                let _ = tx.send((i, result));
            }
        }
        (rx, asked)
    }

    /// The answers of [`Fleet::ask`] that come within the wait from `started`; the calls that
    /// are late go on alone.
    fn gather<T>(
        &self,
        rx: &mpsc::Receiver<Answer<T>>,
        asked: usize,
        started: Instant,
    ) -> HashMap<usize, Result<T, TmuxError>> {
        let deadline = started + self.wait;
        let mut answers = HashMap::new();
        while answers.len() < asked {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((i, result)) => {
                    answers.insert(i, result);
                }
                Err(_) => break,
            }
        }
        answers
    }
}

impl Tmux for Fleet {
    fn snapshot(&self) -> Result<Snapshot, TmuxError> {
        let started = Instant::now();
        let mut hosts: Vec<HostPoll> = Vec::with_capacity(self.remotes.len());
        let mut jobs = Vec::new();
        for (i, remote) in self.remotes.iter().enumerate() {
            let error = remote.begin(started).err();
            if error.is_none() {
                jobs.push((i, ()));
            }
            hosts.push(HostPoll {
                name: remote.name.clone(),
                error,
            });
        }
        let (rx, asked) = self.ask("poll", jobs, |r, ()| r.cli.snapshot(), Remote::end);
        let mut snap = self.local.snapshot()?;
        let mut answers = self.gather(&rx, asked, started);
        for (i, remote) in self.remotes.iter().enumerate() {
            if hosts[i].error.is_some() {
                continue;
            }
            match answers.remove(&i) {
                Some(Ok(s)) => match too_old(&s) {
                    Some(why) => hosts[i].error = Some(why),
                    None => merge(&mut snap, &remote.name, s),
                },
                Some(Err(e)) => hosts[i].error = Some(reason(&e)),
                None => {
                    hosts[i].error = Some(format!("no answer within {} s", self.wait.as_secs()));
                }
            }
        }
        snap.hosts = hosts;
        Ok(snap)
    }

    fn create(&self, launch: &Launch) -> Result<Created, TmuxError> {
        self.local.create(launch)
    }

    fn respawn(&self, pane_id: &str, launch: &Launch) -> Result<(), TmuxError> {
        self.local.respawn(pane_id, launch)
    }

    fn kill(&self, target: &Target) -> Result<(), TmuxError> {
        self.local.kill(target)
    }

    /// Each host's panes in one call to that host, the hosts side by side; a host that fails
    /// or does not answer within the poll's wait leaves its panes out (read at a next poll).
    fn capture(&self, panes: &[String], lines: u32) -> Result<HashMap<String, String>, TmuxError> {
        let started = Instant::now();
        let mut by_host: HashMap<Option<&str>, Vec<String>> = HashMap::new();
        for id in panes {
            let host = id.split_once('@').map(|(_, h)| h);
            by_host.entry(host).or_default().push(bare(id).to_string());
        }
        let jobs: Vec<(usize, (Vec<String>, u32))> = self
            .remotes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, (by_host.remove(&Some(r.name.as_str()))?, lines))))
            .collect();
        let (rx, asked) = self.ask(
            "capture",
            jobs,
            |r, (ids, lines)| r.cli.capture(&ids, lines),
            |_, _| {},
        );
        let mut out = match by_host.remove(&None) {
            Some(local) => self.local.capture(&local, lines)?,
            None => HashMap::new(),
        };
        for (i, answer) in self.gather(&rx, asked, started) {
            let host = &self.remotes[i].name;
            match answer {
                Ok(texts) => out.extend(texts.into_iter().map(|(id, t)| (mark(&id, host), t))),
                Err(e) => tracing::debug!(host, "capture on another host failed: {e}"),
            }
        }
        Ok(out)
    }

    fn switch_client(&self, client_tty: Option<&str>, target: &Target) -> Result<(), TmuxError> {
        self.local.switch_client(client_tty, target)
    }

    fn reap_lost_exits(&self, server_pid: u32) -> Result<(), TmuxError> {
        self.local.reap_lost_exits(server_pid)
    }

    fn interrupt(&self, pane_id: &str) -> Result<(), TmuxError> {
        self.local.interrupt(pane_id)
    }

    /// Push is this machine's: another host's panes get no hook (its server could not wake
    /// this one), they are seen at the next poll.
    fn set_wake_hooks(&self, panes: &[String]) -> Result<(), TmuxError> {
        let local: Vec<String> = panes.iter().filter(|p| !p.contains('@')).cloned().collect();
        if local.is_empty() {
            return Ok(());
        }
        self.local.set_wake_hooks(&local)
    }

    fn version(&self) -> Result<String, TmuxError> {
        Tmux::version(&self.local)
    }

    fn on_host(&self, host: &str) -> Option<&dyn Tmux> {
        self.remote(host).map(|c| c as &dyn Tmux)
    }
}

#[cfg(test)]
mod tests;
