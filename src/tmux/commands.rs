//! What each [`Tmux`] call asks of tmux, for [`TmuxCli`]: one `list-panes -a` per snapshot,
//! `new-session` with `remain-on-exit` in the same call, `respawn-pane`, `kill-session`,
//! chained `capture-pane`s, `switch-client`, and what their output and errors mean.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::args::{
    Arg, Target, capture_args, double_hashes, is_id, launch_args, render_args, validate_name,
};
use super::cli::stderr_text;
use super::hooks::set_hook_args;
use super::snapshot::{Nonce, Snapshot, parse_snapshot, snapshot_format};
use super::{Created, Launch, Tmux, TmuxCli, TmuxError};

impl TmuxCli {
    /// `new-session … -s NAME … ; set-option -w … remain-on-exit on`, and with push the
    /// wake-up hook on the new pane: one call. `first` is what runs in it first.
    fn new_session_args(&self, launch: &Launch, first: &Launch) -> Result<Vec<Arg>, TmuxError> {
        let mut args = vec![
            Arg::plain("new-session"),
            Arg::plain("-d"),
            Arg::plain("-P"),
            Arg::plain("-F"),
            Arg::Plain(format!("{NEW_IDS}#{{pid}}\t#{{session_id}}\t#{{pane_id}}").into()),
            Arg::plain("-s"),
            Arg::Plain(double_hashes(OsStr::new(&launch.name))),
            Arg::plain("-x"),
            Arg::plain("200"),
            Arg::plain("-y"),
            Arg::plain("50"),
        ];
        args.extend(launch_args(first, self.ssh().is_none())?);
        args.extend([
            Arg::Separator,
            Arg::plain("set-option"),
            Arg::plain("-w"),
            Arg::plain("-t"),
            Arg::plain(Target::Name(launch.name.clone()).render()),
            Arg::plain("remain-on-exit"),
            Arg::plain("on"),
        ]);
        // Push: the wake-up hook on the new pane, in the same call (see `hooks`).
        if let Some(channel) = self.wake_channel() {
            args.push(Arg::Separator);
            args.extend(set_hook_args(&Target::Name(launch.name.clone()), channel)?);
        }
        Ok(args)
    }

    /// One pane's text, after a marker of its own (what comes before it is not tmux's).
    fn capture_one(&self, pane: &str, lines: u32) -> Result<String, TmuxError> {
        let marker = unique_marker();
        let mut args = vec![
            Arg::plain("display-message"),
            Arg::plain("-p"),
            Arg::plain(marker.as_str()),
            Arg::Separator,
        ];
        args.extend(capture_args(pane, lines));
        let output = self.run(&args)?;
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(after_marker(&text, &marker).unwrap_or_default().to_string())
    }
}

/// What `new-session -P` prints before the new ids: over ssh, the remote user's shell may have
/// printed something before them, even on the same line.
const NEW_IDS: &str = "tmux-supervisor-new:";

/// The ids after the last [`NEW_IDS`] of `stdout`.
fn new_ids_in(stdout: &str) -> Option<(u32, &str, &str)> {
    let at = stdout.rfind(NEW_IDS)? + NEW_IDS.len();
    new_ids(stdout[at..].lines().next()?)
}

/// `PID\t$S\t%P`, as `new-session -P` prints it.
fn new_ids(line: &str) -> Option<(u32, &str, &str)> {
    let mut f = line.trim_end_matches('\r').split('\t');
    let (Some(pid), Some(session_id), Some(pane_id), None) =
        (f.next(), f.next(), f.next(), f.next())
    else {
        return None;
    };
    let pid = pid.parse().ok()?;
    (is_id(session_id, '$') && is_id(pane_id, '%')).then_some((pid, session_id, pane_id))
}

fn bad_ids(stdout: &str) -> TmuxError {
    TmuxError::BadOutput(format!("new-session -P printed {:?}", stdout.trim_end()))
}
/// Keep the last `lines` lines of a capture, ignoring the blank rows below the cursor.
fn last_lines(text: &str, lines: u32) -> String {
    let mut rows: Vec<&str> = text.lines().collect();
    while rows.last().is_some_and(|r| r.trim().is_empty()) {
        rows.pop();
    }
    let start = rows.len().saturating_sub(lines as usize);
    let mut out = String::new();
    for row in &rows[start..] {
        out.push_str(row);
        out.push('\n');
    }
    out
}

/// What follows the line that ends with the first `marker` (that line may start with what the
/// remote user's shell printed before tmux).
fn after_marker<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let at = text.find(marker)? + marker.len();
    let rest = &text[at..];
    Some(
        rest.strip_prefix("\r\n")
            .or_else(|| rest.strip_prefix('\n'))
            .unwrap_or(rest),
    )
}

/// A marker line that no pane will print by accident (and that has no `#` to expand).
fn unique_marker() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "@@tmux-supervisor-capture-{}-{}-{nanos}@@",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `stderr` of a `list-panes -a` that found no server to talk to, or a server without any
/// session (tmux 3.3a then says "no current target", e.g. just after the last session was
/// killed and before the server exits): both mean zero sessions.
pub(super) fn means_zero_sessions(stderr: &str) -> bool {
    stderr.contains("no server running on")
        || stderr.contains("no current target")
        || stderr.contains("error connecting to")
        || stderr.contains("No such file or directory")
        || stderr.contains("server exited unexpectedly")
}

impl Tmux for TmuxCli {
    fn reap_lost_exits(&self, server_pid: u32) -> Result<(), TmuxError> {
        // The SIGCHLD it missed: its handler reaps every child that has exited.
        let pid = rustix::process::Pid::from_raw(i32::try_from(server_pid).unwrap_or(0))
            .ok_or_else(|| TmuxError::BadOutput(format!("server pid {server_pid}")))?;
        rustix::process::kill_process(pid, rustix::process::Signal::CHILD)
            .map_err(|e| TmuxError::Io(e.into()))
    }

    fn set_wake_hooks(&self, panes: &[String]) -> Result<(), TmuxError> {
        match self.wake_channel() {
            Some(channel) => self.hook_panes(channel, panes),
            None => Ok(()),
        }
    }

    fn version(&self) -> Result<String, TmuxError> {
        self.check_version()
    }

    fn snapshot(&self) -> Result<Snapshot, TmuxError> {
        let nonce = Nonce::random();
        let args = [
            Arg::plain("list-panes"),
            Arg::plain("-a"),
            Arg::plain("-F"),
            Arg::plain(snapshot_format(&nonce)),
        ];
        let output = self.run_poll(&args)?;
        if !output.status.success() {
            let message = stderr_text(&output);
            if means_zero_sessions(&message) {
                return Ok(Snapshot::default());
            }
            return Err(TmuxError::Failed {
                args: render_args(&args),
                message,
            });
        }
        // Rejected lines are the caller's to report (the supervisor logs each once).
        Ok(parse_snapshot(
            &String::from_utf8_lossy(&output.stdout),
            &nonce,
        ))
    }

    fn create(&self, launch: &Launch) -> Result<Created, TmuxError> {
        validate_name(&launch.name)?;
        // The client that starts a tmux server becomes it, and Linux then shows that client's
        // command line as the server's for as long as it runs: `-e KEY=VALUE` on that
        // `new-session` would be in `ps` for every local user. So with an environment the
        // session starts on a placeholder, and its pane is respawned with the real command
        // and `-e` by a second client, once the server surely runs.
        // The placeholder of the login shell is the login shell: a respawn without a command
        // runs the pane's first command again, which must not be a placeholder for ever.
        let placeholder = Launch {
            name: launch.name.clone(),
            workdir: launch.workdir.clone(),
            command: if launch.command.is_empty() {
                Vec::new()
            } else {
                vec!["sleep".into(), "60".into()]
            },
            env: BTreeMap::new(),
        };
        let first = if launch.env.is_empty() {
            launch
        } else {
            &placeholder
        };
        let args = self.new_session_args(launch, first)?;
        let output = self.run_starting_server(&args)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            let message = stderr_text(&output);
            if message.contains("duplicate session") {
                return Ok(Created::AlreadyExists);
            }
            return Err(TmuxError::Failed {
                args: render_args(&args),
                message,
            });
        }
        // The last line of that shape: over ssh, the remote user's shell may print before it.
        let Some((server_pid, session_id, pane_id)) = new_ids_in(&stdout) else {
            return Err(bad_ids(&stdout));
        };
        if !launch.env.is_empty() {
            let mut args = vec![
                Arg::plain("respawn-pane"),
                Arg::plain("-k"),
                Arg::plain("-t"),
                Arg::plain(pane_id),
            ];
            args.extend(launch_args(launch, self.ssh().is_none())?);
            // The session keeps the environment too, as `new-session -e` would have set it.
            for (key, value) in &launch.env {
                args.extend([
                    Arg::Separator,
                    Arg::plain("set-environment"),
                    Arg::plain("-t"),
                    Arg::plain(session_id),
                    Arg::plain(key.as_str()),
                    Arg::Secret(value.into()),
                ]);
            }
            if let Err(e) = self.run(&args) {
                // Never leave the placeholder looking like a started slot: remove it, or, if
                // that fails too, say the slot owns it.
                if self.kill(&Target::Session(session_id.to_owned())).is_ok() {
                    return Err(e);
                }
                return Ok(Created::Unfinished {
                    server_pid,
                    session_id: session_id.to_owned(),
                    pane_id: pane_id.to_owned(),
                    error: e.to_string(),
                });
            }
        }
        Ok(Created::New {
            server_pid,
            session_id: session_id.to_owned(),
            pane_id: pane_id.to_owned(),
        })
    }

    fn respawn(&self, pane_id: &str, launch: &Launch) -> Result<(), TmuxError> {
        let target = Target::Pane(pane_id.to_owned());
        target.validate()?;
        let mut args = vec![
            Arg::plain("respawn-pane"),
            Arg::plain("-k"),
            Arg::plain("-t"),
            Arg::plain(target.render()),
        ];
        args.extend(launch_args(launch, self.ssh().is_none())?);
        self.run(&args).map(drop)
    }

    fn interrupt(&self, pane_id: &str) -> Result<(), TmuxError> {
        let target = Target::Pane(pane_id.to_owned());
        target.validate()?;
        self.run(&[
            Arg::plain("send-keys"),
            Arg::plain("-t"),
            Arg::plain(target.render()),
            Arg::plain("Escape"),
        ])
        .map(drop)
    }

    fn kill(&self, target: &Target) -> Result<(), TmuxError> {
        target.validate()?;
        self.run(&[
            Arg::plain("kill-session"),
            Arg::plain("-t"),
            Arg::plain(target.render()),
        ])
        .map(drop)
    }

    fn capture(&self, panes: &[String], lines: u32) -> Result<HashMap<String, String>, TmuxError> {
        let lines = lines.max(1);
        let mut result = HashMap::new();
        if panes.is_empty() {
            return Ok(result);
        }
        for pane in panes {
            Target::Pane(pane.clone()).validate()?;
        }
        let marker = unique_marker();
        // A marker first: what comes before it is not tmux's (over ssh, the remote user's
        // shell may print something), and each pane's text ends at a marker.
        let mut args = vec![
            Arg::plain("display-message"),
            Arg::plain("-p"),
            Arg::plain(marker.as_str()),
        ];
        for pane in panes {
            args.push(Arg::Separator);
            args.extend(capture_args(pane, lines));
            args.extend([
                Arg::Separator,
                Arg::plain("display-message"),
                Arg::plain("-p"),
                Arg::plain(marker.as_str()),
            ]);
        }
        let output = self.run_raw(&args)?;
        if output.status.success() {
            let text = String::from_utf8_lossy(&output.stdout);
            let mut chunks: Vec<String> = Vec::with_capacity(panes.len());
            let mut current = String::new();
            for row in after_marker(&text, &marker)
                .unwrap_or_default()
                .split_inclusive('\n')
            {
                if row.trim_end_matches(['\n', '\r']) == marker {
                    chunks.push(std::mem::take(&mut current));
                } else {
                    current.push_str(row);
                }
            }
            if chunks.len() == panes.len() {
                for (pane, chunk) in panes.iter().zip(chunks) {
                    result.insert(pane.clone(), last_lines(&chunk, lines));
                }
                return Ok(result);
            }
            tracing::warn!(
                expected = panes.len(),
                found = chunks.len(),
                "chained capture returned the wrong number of markers; capturing one by one"
            );
        } else {
            tracing::debug!(
                stderr = %stderr_text(&output),
                "chained capture failed; capturing one by one"
            );
        }
        for pane in panes {
            match self.capture_one(pane, lines) {
                Ok(text) => {
                    result.insert(pane.clone(), last_lines(&text, lines));
                }
                Err(TmuxError::Failed { message, .. }) => {
                    tracing::debug!(pane = %pane, %message, "capture skipped");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(result)
    }

    fn switch_client(&self, client_tty: Option<&str>, target: &Target) -> Result<(), TmuxError> {
        target.validate()?;
        let mut args = vec![Arg::plain("switch-client")];
        if let Some(tty) = client_tty {
            args.push(Arg::plain("-c"));
            args.push(Arg::plain(tty));
        }
        args.push(Arg::plain("-t"));
        args.push(Arg::plain(target.render()));
        self.run(&args).map(drop)
    }
}

#[cfg(test)]
#[path = "commands_tests.rs"]
mod tests;
