//! The foreground attach: the terminal lent to `tmux attach-session` until the operator
//! detaches, or until the UI must stop (a signal), when the attach client is ended and the
//! terminal left as the operator's shell had it.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use crossterm::cursor::Show;
use crossterm::terminal::LeaveAlternateScreen;
use tokio::io::AsyncReadExt as _;
use tokio::process::Child;
use tokio::sync::oneshot;

use crate::terminal::{self, Term};
use crate::tmux::{Target, TmuxCli};

/// How long an attach client asked to end (SIGTERM) has before it is killed, and how long its
/// error output is waited for.
const END_GRACE: Duration = Duration::from_secs(1);

/// What a foreground attach came back with.
pub(super) struct Attached {
    /// The child's failure, in words (shown in the UI).
    pub child: Result<(), String>,
    /// The terminal, back in UI mode; `None` when the attach was ended because the UI is
    /// stopping (the terminal is then the shell's again).
    pub term: Option<std::io::Result<Term>>,
}

/// `tmux attach-session -t =NAME:` on the session's machine: here, or `ssh -t HOST …`.
fn attach_command(cli: &TmuxCli, name: &str) -> std::process::Command {
    let args: Vec<std::ffi::OsString> = vec![
        "attach-session".into(),
        "-t".into(),
        Target::Name(name.to_string()).render().into(),
    ];
    cli.invocation(&args, true, false)
}

/// Inside tmux: `tmux new-window -n NAME@HOST -- ssh -t HOST tmux attach-session -t =NAME:`
/// in the UI's own session (`$TMUX` says which server and session that is), so the operator
/// is in the agent's pane at once and closes the window to come back. tmux expands `-n` as a
/// format (`#(cmd)` runs a command here), and another host's session name is anyone's text
/// there: the window is named with its plain characters only.
pub(super) fn in_new_window(cli: &TmuxCli, host: &str, name: &str) -> Result<(), String> {
    let attach = attach_command(cli, name);
    let mut command = std::process::Command::new("tmux");
    command
        .arg("new-window")
        .arg("-n")
        .arg(window_name(name, host))
        .arg("--")
        .arg(attach.get_program())
        .args(attach.get_args())
        .stdin(Stdio::null());
    let out = crate::tmux::process::run(command, cli.timeout(), cli.shutdown())
        .map_err(|e| format!("cannot run tmux new-window: {e:?}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "tmux new-window: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `switch-client` to the session `name` on a blocking thread; `failed` hears why not.
pub(super) fn switch(
    tmux: std::sync::Arc<dyn crate::tmux::Tmux>,
    name: String,
    failed: impl FnOnce(String) + Send + 'static,
) {
    tokio::task::spawn_blocking(move || {
        match tmux.switch_client(None, &Target::Name(name.clone())) {
            Ok(()) => tracing::info!(session = %name, "switched the client"),
            Err(e) => {
                tracing::warn!(session = %name, "switch-client failed: {e}");
                failed(e.to_string());
            }
        }
    });
}

/// [`in_new_window`] on a blocking thread; `failed` hears why not (`cli` is `None`: no such
/// host in the config).
pub(super) fn open_window(
    cli: Option<TmuxCli>,
    host: String,
    name: String,
    failed: impl FnOnce(String) + Send + 'static,
) {
    let Some(cli) = cli else {
        failed(format!("no host `{host}` in the config"));
        return;
    };
    tokio::task::spawn_blocking(move || match in_new_window(&cli, &host, &name) {
        Ok(()) => {
            tracing::info!(session = %name, host = %host, "opened a window attached over ssh");
        }
        Err(e) => {
            tracing::warn!(session = %name, host = %host, "new-window failed: {e}");
            failed(e);
        }
    });
}

/// `NAME@HOST` with every character but letters, digits, `-`, `_` and `.` as `_`: nothing
/// tmux could expand.
fn window_name(name: &str, host: &str) -> String {
    let plain = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{}@{}", plain(name), plain(host))
}

/// Hands the terminal to `tmux attach-session -t =NAME:` and takes it back when the operator
/// detaches. When `end` fires first, the client is ended (SIGTERM, then SIGKILL) and the
/// terminal is not taken back. The terminal comes back even when the child fails to start.
pub(super) async fn foreground(cli: &TmuxCli, name: &str, end: oneshot::Receiver<()>) -> Attached {
    let mut cmd = tokio::process::Command::from(attach_command(cli, name));
    // Nested inside another server's client: attach anyway, the operator asked for it.
    cmd.env_remove("TMUX")
        // stdin and stdout stay the terminal; stderr is kept for the message shown in the UI.
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let suspended = terminal::suspend();
    // The terminal modes of the shell, put back if the client is ended before it can.
    let shell_modes = rustix::termios::tcgetattr(std::io::stdin()).ok();
    tracing::info!(session = name, "attaching in the foreground");
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Attached {
                child: Err(format!("cannot run tmux attach-session: {e}")),
                term: Some(suspended.resume()),
            };
        }
    };
    let stderr = child.stderr.take();
    let stderr = tokio::spawn(async move {
        let mut text = Vec::new();
        if let Some(mut pipe) = stderr {
            let _ = pipe.read_to_end(&mut text).await;
        }
        text
    });
    let mut end = end;
    let (status, ended) = tokio::select! {
        s = child.wait() => (s, false),
        Ok(()) = &mut end => (end_client(&mut child).await, true),
    };
    let text = match tokio::time::timeout(END_GRACE, stderr).await {
        Ok(Ok(t)) => String::from_utf8_lossy(&t).trim().to_string(),
        _ => String::new(),
    };
    let child = match status {
        Ok(s) if s.success() || ended => Ok(()),
        Ok(s) if text.is_empty() => Err(format!("tmux attach-session exited with {s}")),
        Ok(_) => Err(text),
        Err(e) => Err(format!("waiting for tmux attach-session: {e}")),
    };
    if ended {
        if let Some(modes) = &shell_modes {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                modes,
            );
        }
        suspended.stay_restored();
        tracing::info!(session = name, "attach ended: the UI is stopping");
        return Attached { child, term: None };
    }
    let term = suspended.resume();
    tracing::info!(session = name, ?child, "back from attach");
    Attached {
        child,
        term: Some(term),
    }
}

/// Asks the attach client to end (SIGTERM: it tells its server, which gives the terminal
/// back), and kills it if it has not ended within [`END_GRACE`] (a frozen server).
async fn end_client(child: &mut Child) -> std::io::Result<ExitStatus> {
    let pid = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32));
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if let Ok(status) = tokio::time::timeout(END_GRACE, child.wait()).await {
            return status;
        }
        tracing::warn!("the attach client did not end on SIGTERM: killing it");
    }
    let _ = child.start_kill();
    let status = child.wait().await;
    // It had no time to give the terminal back: the main screen and the cursor.
    let _ = crossterm::execute!(std::io::stdout(), LeaveAlternateScreen, Show);
    status
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_window_name_holds_nothing_tmux_expands() {
        assert_eq!(super::window_name("gpu-1", "gpu1"), "gpu-1@gpu1");
        assert_eq!(
            super::window_name("#(touch /tmp/x)", "gpu1"),
            "__touch__tmp_x_@gpu1"
        );
        assert_eq!(
            super::window_name("a;b #{pane_id}", "h"),
            "a_b___pane_id_@h"
        );
    }
}
