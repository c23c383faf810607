//! The one long-lived `tmux wait-for CHANNEL` of push: blocked until a wake-up hook signals
//! the latch, then a wake-up and at once the next wait. One client process for as long as
//! nothing happens (no process per second); none while no server runs; after a failure it
//! backs off, after a failure that persists it says so once and waits for another server.
//! Stopping releases the client by signalling the latch itself (a killed `wait-for` client
//! stays registered in the server and swallows the next signal), kills it if that does not
//! end it at once, and reaps it.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::TmuxCli;
use super::commands::means_zero_sessions;
use crate::wake::Wake;

/// A wait shorter than this counts as quick: a latch that was already set, or a `wait-for`
/// that returns at once for another reason.
const QUICK: Duration = Duration::from_millis(20);
/// Quick returns in a row before the waiter slows down (a burst of deaths gives a few).
const QUICK_LIMIT: u32 = 5;
/// Failures (not "no server") in a row before the waiter says push is unavailable.
const FAILURE_LIMIT: u32 = 3;
/// The longest pause between two waits.
const MOST_PAUSE: Duration = Duration::from_secs(5);
/// How long stopping waits for the latch to release the client before killing it.
const RELEASE: Duration = Duration::from_millis(500);

/// The waiter task; [`Waiter::stop`] ends it and its client.
#[derive(Debug)]
pub struct Waiter {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// How the waiter is told which server runs: the pid the last poll saw, `None` for none.
pub type ServerSeen = watch::Receiver<Option<u32>>;

impl Waiter {
    /// Starts waiting on `channel` through `cli`'s server whenever `server` says one runs;
    /// each signal rings `wake`. A lasting problem is said once on `problems`.
    pub fn start(
        cli: &TmuxCli,
        channel: &str,
        server: ServerSeen,
        wake: Wake,
        problems: mpsc::UnboundedSender<String>,
    ) -> Self {
        let (stop, stopped) = oneshot::channel();
        let waiting = Waiting {
            cli: cli.clone(),
            channel: channel.to_owned(),
            server,
            wake,
            problems,
            stopped,
        };
        Waiter {
            stop: Some(stop),
            task: Some(tokio::spawn(waiting.run())),
        }
    }

    /// Ends the wait: the client is released (or killed) and reaped before this returns
    /// (within about a second).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(2 * RELEASE, task).await;
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        // Not stopped in order (a panic on the way out): the client dies with the task
        // (`kill_on_drop`).
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The waiter's own state, owned by its task.
struct Waiting {
    cli: TmuxCli,
    channel: String,
    server: ServerSeen,
    wake: Wake,
    problems: mpsc::UnboundedSender<String>,
    stopped: oneshot::Receiver<()>,
}

/// How one wait ended.
enum Ended {
    Signalled,
    /// No server answers: wait for one.
    NoServer,
    Failed(String),
    Stop,
}

impl Waiting {
    async fn run(mut self) {
        let mut failures = 0;
        let mut quick = 0;
        loop {
            let Some(pid) = self.next_server().await else {
                return;
            };
            let started = tokio::time::Instant::now();
            let pause = match self.wait_once().await {
                Ended::Stop => return,
                Ended::Signalled => {
                    self.wake.ring();
                    failures = 0;
                    quick = if started.elapsed() < QUICK {
                        quick + 1
                    } else {
                        0
                    };
                    (quick > QUICK_LIMIT).then(|| backoff(quick - QUICK_LIMIT))
                }
                Ended::NoServer => {
                    if !self.server_changed_from(pid).await {
                        return;
                    }
                    None
                }
                Ended::Failed(why) => {
                    failures += 1;
                    tracing::debug!("the wake-up waiter failed ({failures} in a row): {why}");
                    if failures >= FAILURE_LIMIT {
                        let _ = self.problems.send(format!(
                            "tmux wait-for fails ({why}): no wake-ups from tmux hooks"
                        ));
                        // Nothing more until another server runs.
                        failures = 0;
                        if !self.server_changed_from(pid).await {
                            return;
                        }
                        None
                    } else {
                        Some(backoff(failures))
                    }
                }
            };
            if let Some(pause) = pause
                && !self.pause(pause).await
            {
                return;
            }
        }
    }

    /// The pid of a running server, waiting for one; `None` when told to stop.
    async fn next_server(&mut self) -> Option<u32> {
        loop {
            if let Some(pid) = *self.server.borrow_and_update() {
                return Some(pid);
            }
            tokio::select! {
                changed = self.server.changed() => changed.ok()?,
                _ = &mut self.stopped => return None,
            }
        }
    }

    /// Waits until the server is no longer `pid` (gone or replaced); false when told to stop.
    async fn server_changed_from(&mut self, pid: u32) -> bool {
        loop {
            if *self.server.borrow_and_update() != Some(pid) {
                return true;
            }
            tokio::select! {
                changed = self.server.changed() => if changed.is_err() { return false },
                _ = &mut self.stopped => return false,
            }
        }
    }

    /// Sleeps `d` (less if the server changes); false when told to stop.
    async fn pause(&mut self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            changed = self.server.changed() => changed.is_ok(),
            _ = &mut self.stopped => false,
        }
    }

    /// One `tmux wait-for CHANNEL`, until it returns or the waiter is stopped.
    async fn wait_once(&mut self) -> Ended {
        let mut command = self.cli.command();
        command.arg("wait-for").arg(&self.channel);
        let mut command = tokio::process::Command::from(command);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => return Ended::Failed(format!("cannot run tmux: {e}")),
        };
        let status = tokio::select! {
            s = child.wait() => s,
            _ = &mut self.stopped => {
                // Released by a signal of the latch, as tmux expects; killed if it does not
                // end at once; reaped before the waiter is done.
                if !self.release().await
                    || tokio::time::timeout(RELEASE, child.wait()).await.is_err()
                {
                    let _ = child.kill().await;
                }
                return Ended::Stop;
            }
        };
        match status {
            Ok(s) if s.success() => Ended::Signalled,
            Ok(s) => {
                let mut text = String::new();
                if let Some(mut err) = child.stderr.take() {
                    // tmux hands its stderr to the server: never wait long for its end.
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), err.read_to_string(&mut text))
                            .await;
                }
                let text = text.trim();
                if means_zero_sessions(text) {
                    Ended::NoServer
                } else if text.is_empty() {
                    Ended::Failed(format!("{s}"))
                } else {
                    Ended::Failed(text.to_owned())
                }
            }
            Err(e) => Ended::Failed(e.to_string()),
        }
    }
}

impl Waiting {
    /// `tmux wait-for -S CHANNEL`, within [`RELEASE`]: whether it was done. (Another
    /// supervisor waiting on the same latch polls once more: harmless.)
    async fn release(&self) -> bool {
        let mut command = self.cli.command();
        command.arg("wait-for").arg("-S").arg(&self.channel);
        let mut command = tokio::process::Command::from(command);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let Ok(mut signal) = command.spawn() else {
            return false;
        };
        if let Ok(Ok(s)) = tokio::time::timeout(RELEASE, signal.wait()).await {
            return s.success();
        }
        let _ = signal.kill().await;
        false
    }
}

/// 100 ms, 200 ms, 400 ms … at most [`MOST_PAUSE`].
fn backoff(n: u32) -> Duration {
    Duration::from_millis(100)
        .saturating_mul(1 << n.min(10))
        .min(MOST_PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(9), MOST_PAUSE);
        assert_eq!(backoff(u32::MAX), MOST_PAUSE);
    }
}
