//! Running one tmux client process: its output read on the calling thread with poll(2), a
//! deadline, and a stop switch; a call that times out or is stopped leaves no thread and no
//! descriptor behind.
//!
//! Why not a reader thread per pipe: a tmux client hands its stdout to the server (as
//! `SCM_RIGHTS` in its identify messages). When the server is frozen (`kill -STOP`) those
//! messages sit unread in the server's socket, so the write end of our stdout pipe stays open
//! in the kernel even after the client is killed. A thread blocked reading that pipe never
//! ends, and the descriptor it holds is never closed. Here the read ends are polled with a
//! deadline and closed when the call gives up.

use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// How often a waiting call looks at the stop switch.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// A switch shared by every clone: once turned on, calls in progress end at once and new
/// calls are not started. Turned on when the supervisor stops.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops calls in progress and refuses new ones, for every clone.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why a call brought back no output.
#[derive(Debug)]
pub enum Failure {
    /// The program could not be started.
    Spawn(std::io::Error),
    /// No exit within the timeout: the process was killed and reaped.
    TimedOut,
    /// The stop switch was on: the process (if started) was killed and reaped.
    Stopped,
    /// Reading its output or waiting for it failed.
    Io(std::io::Error),
}

/// Runs `command` with stdin from /dev/null and stdout and stderr captured, and waits at most
/// `timeout` for it to close both and exit. The exit status is not checked.
pub fn run(mut command: Command, timeout: Duration, stop: &Shutdown) -> Result<Output, Failure> {
    if stop.is_triggered() {
        return Err(Failure::Stopped);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(Failure::Spawn)?;
    let deadline = Instant::now() + timeout;
    let mut pipes = Pipes {
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        out: Vec::new(),
        err: Vec::new(),
    };
    let status = pipes
        .read_to_end(deadline, stop)
        .and_then(|()| wait(&mut child, deadline, stop));
    match status {
        Ok(status) => Ok(Output {
            status,
            stdout: pipes.out,
            stderr: pipes.err,
        }),
        Err(failure) => {
            // Our read ends are closed here, whoever still holds the write ends.
            drop(pipes);
            // Best effort: it may have exited in the meantime.
            let _ = child.kill();
            let _ = child.wait();
            Err(failure)
        }
    }
}

/// The child's output pipes while they are open, and what was read from them.
struct Pipes {
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Pipes {
    /// Reads both pipes until both are at their end (the child closes them when it exits),
    /// without any thread: poll(2) says which one has something.
    fn read_to_end(&mut self, deadline: Instant, stop: &Shutdown) -> Result<(), Failure> {
        let mut chunk = vec![0u8; 64 * 1024];
        while self.stdout.is_some() || self.stderr.is_some() {
            if stop.is_triggered() {
                return Err(Failure::Stopped);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::TimedOut);
            }
            let wait = Timespec::try_from(left.min(STOP_CHECK)).unwrap_or(Timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            });
            let (out_ready, err_ready) = {
                let mut fds = Vec::with_capacity(2);
                if let Some(p) = &self.stdout {
                    fds.push(PollFd::new(p, PollFlags::IN));
                }
                if let Some(p) = &self.stderr {
                    fds.push(PollFd::new(p, PollFlags::IN));
                }
                match poll(&mut fds, Some(&wait)) {
                    Ok(_) => {}
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(Failure::Io(e.into())),
                }
                let mut ready = fds.iter().map(|f| !f.revents().is_empty());
                let out_ready = self.stdout.is_some() && ready.next().unwrap_or(false);
                let err_ready = self.stderr.is_some() && ready.next().unwrap_or(false);
                (out_ready, err_ready)
            };
            // Readable or hung up: one read does not block, and 0 bytes means the end.
            if out_ready {
                read_some(&mut self.stdout, &mut self.out, &mut chunk)?;
            }
            if err_ready {
                read_some(&mut self.stderr, &mut self.err, &mut chunk)?;
            }
        }
        Ok(())
    }
}

/// One read from a pipe poll(2) found ready; at its end the pipe is closed (set to `None`).
fn read_some<R: std::io::Read>(
    pipe: &mut Option<R>,
    into: &mut Vec<u8>,
    chunk: &mut [u8],
) -> Result<(), Failure> {
    let Some(p) = pipe else { return Ok(()) };
    match p.read(chunk) {
        Ok(0) => *pipe = None,
        Ok(n) => into.extend_from_slice(&chunk[..n]),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
        Err(e) => return Err(Failure::Io(e)),
    }
    Ok(())
}

/// Waits for the exit of a child that has closed its output (that comes right before it
/// exits), until the deadline or the stop switch.
fn wait(child: &mut Child, deadline: Instant, stop: &Shutdown) -> Result<ExitStatus, Failure> {
    let mut pause = Duration::from_micros(100);
    loop {
        if let Some(status) = child.try_wait().map_err(Failure::Io)? {
            return Ok(status);
        }
        if stop.is_triggered() {
            return Err(Failure::Stopped);
        }
        if Instant::now() >= deadline {
            return Err(Failure::TimedOut);
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn collects_both_outputs_and_the_exit_status() {
        // More than a pipe's buffer on both, so neither can be read after the other.
        let out = run(
            sh("head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2; exit 3"),
            Duration::from_secs(30),
            &Shutdown::new(),
        )
        .unwrap();
        assert_eq!(out.stdout.len(), 300_000);
        assert_eq!(out.stderr.len(), 200_000);
        assert_eq!(out.status.code(), Some(3));
    }

    #[test]
    fn a_pipe_held_open_by_someone_else_times_out() {
        // A grandchild keeps stdout open after the child exits (as a frozen tmux server
        // keeps the client's stdout): the call gives up at the deadline.
        let started = Instant::now();
        let r = run(
            sh("sleep 5 & echo started"),
            Duration::from_millis(300),
            &Shutdown::new(),
        );
        assert!(matches!(r, Err(Failure::TimedOut)), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn a_triggered_switch_ends_a_call_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let started = dir.path().join("started");
        let stop = Shutdown::new();
        let trigger = stop.clone();
        let script = format!("touch '{}'; exec sleep 30", started.display());
        let call = std::thread::spawn(move || run(sh(&script), Duration::from_secs(60), &stop));
        while !started.exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
        trigger.trigger();
        let r = call.join().unwrap();
        assert!(matches!(r, Err(Failure::Stopped)), "{r:?}");
        assert!(matches!(
            run(sh("true"), Duration::from_secs(5), &trigger),
            Err(Failure::Stopped)
        ));
    }

    #[test]
    fn a_timeout_says_how_long_tmux_was_given() {
        let said = |ms| {
            crate::tmux::TmuxError::TimedOut {
                after: Duration::from_millis(ms),
            }
            .to_string()
        };
        assert_eq!(said(10_000), "tmux did not answer within 10 s");
        assert_eq!(said(1_500), "tmux did not answer within 1.5 s");
        assert_eq!(said(250), "tmux did not answer within 250 ms");
    }

    #[test]
    fn a_missing_program_is_a_spawn_failure() {
        let r = run(
            Command::new("/no/such/tmux"),
            Duration::from_secs(5),
            &Shutdown::new(),
        );
        assert!(
            matches!(&r, Err(Failure::Spawn(e)) if e.kind() == std::io::ErrorKind::NotFound),
            "{r:?}"
        );
    }
}
