//! The terminal UI's event loop: one task owns the [`App`]; it merges terminal input, poll and
//! reconcile ticks, work results and signals, drains what is queued, then draws once.
//!
//! The poll / reconcile logic is `run_daemon`'s, moved into `app::update` as messages.

use std::path::Path;
use std::sync::Arc;

use crossterm::event::EventStream;
use futures_util::StreamExt as _;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::controller::Supervisor;
use crate::runner::{Persist, Push, PushSetup, Reload, now_ms};
use crate::terminal;
use crate::tmux::{Endpoint, Tmux, TmuxCli};

mod attach;
mod ui_loop;

use ui_loop::{Exit, Input, Ui};

/// Set to `1` to make the `!` key panic (for the test that the terminal is restored).
pub const TEST_PANIC_ENV: &str = "TMUX_SUPERVISOR_TEST_PANIC";

/// How the UI attaches to a session.
#[derive(Debug, Clone)]
pub struct Attach {
    /// The tmux client for `attach-session` (its `-L` / `-S`).
    pub cli: TmuxCli,
    /// The UI runs inside tmux on the same server: use `switch-client` instead.
    pub switch_client: bool,
    /// The UI runs inside tmux (any server): a session on another host opens in a new window
    /// of the UI's own session.
    pub inside_tmux: bool,
    /// The other hosts' clients, by name (`ssh -t HOST tmux attach-session`).
    pub hosts: std::collections::BTreeMap<String, TmuxCli>,
}

impl Attach {
    /// Decides from `$TMUX` whether the UI runs inside tmux, and inside a client of the
    /// supervised server.
    pub fn detect(fleet: &crate::hosts::Fleet) -> Self {
        let env = std::env::var("TMUX").ok();
        let cli = fleet.local();
        Attach {
            switch_client: same_server(env.as_deref(), cli.endpoint()),
            inside_tmux: env.is_some_and(|v| !v.is_empty()),
            cli: cli.clone(),
            hosts: fleet
                .hosts()
                .into_iter()
                .filter_map(|h| Some((h.to_string(), fleet.remote(h)?.clone())))
                .collect(),
        }
    }

    /// The client for a session on `host` (`None`: this machine).
    pub fn client(&self, host: Option<&str>) -> Option<&TmuxCli> {
        match host {
            None => Some(&self.cli),
            Some(h) => self.hosts.get(h),
        }
    }
}

/// True when `$TMUX` (`SOCKET,PID,SESSION`) names the server of `ep`: the same `-S` path,
/// the same `-L` name (the socket's file name), or `default` when neither is given.
pub fn same_server(tmux_env: Option<&str>, ep: &Endpoint) -> bool {
    let Some(value) = tmux_env.filter(|v| !v.is_empty()) else {
        return false;
    };
    // The socket path may itself contain commas: drop the last two fields.
    let mut parts = value.rsplitn(3, ',');
    let socket = match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(path)) => path,
        _ => value,
    };
    let socket = Path::new(socket);
    match (&ep.socket_path, &ep.socket_name) {
        (Some(p), _) => {
            socket == p
                || matches!((socket.canonicalize(), p.canonicalize()), (Ok(a), Ok(b)) if a == b)
        }
        (None, Some(name)) => socket.file_name().is_some_and(|f| f == name.as_str()),
        (None, None) => socket.file_name().is_some_and(|f| f == "default"),
    }
}

/// The task that owns the crossterm `EventStream` and forwards its events, so the loop can
/// drain them with `try_recv` (polling the stream with a no-op waker would lose wake-ups:
/// crossterm keeps the first waker it is given). Dropping the task drops the stream.
struct InputTask(Option<JoinHandle<()>>);

impl InputTask {
    fn spawn(tx: mpsc::UnboundedSender<Input>) -> Self {
        InputTask(Some(tokio::spawn(async move {
            let mut events = EventStream::new();
            loop {
                let msg = match events.next().await {
                    Some(Ok(ev)) => {
                        tracing::debug!(?ev, "terminal input");
                        Input::Term(ev)
                    }
                    Some(Err(e)) => Input::Closed(e.to_string()),
                    None => Input::Closed("terminal input ended".to_string()),
                };
                let last = matches!(msg, Input::Closed(_));
                if tx.send(msg).is_err() || last {
                    break;
                }
            }
        })))
    }

    /// Stops reading keys: the stream is dropped before this returns (once; again is a no-op).
    async fn stop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// The signals that end the UI.
struct Signals {
    term: Signal,
    hup: Signal,
    int: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The name of the next one that arrives.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Runs the terminal UI until the operator quits or SIGTERM or SIGINT arrives; SIGHUP reads
/// the config again (`reread`) and applies it. The terminal is restored on every exit path and on panic; nothing is printed
/// while the UI is up. Memory is saved after results and on exit.
/// Runs the terminal UI until the operator quits or a signal (SIGTERM, SIGHUP, SIGINT)
/// arrives. The terminal is restored on every exit path and on panic; nothing is printed
/// while the UI is up. Memory is saved after results and on exit.
pub async fn run(
    sup: Supervisor,
    persist: Persist,
    tmux: Arc<dyn Tmux>,
    attach: Attach,
    push: PushSetup,
    reread: impl Fn() -> Reload + Send + 'static,
) -> anyhow::Result<()> {
    let mut signals = Signals::new()?;
    let (stop_tx, stop_rx) = mpsc::unbounded_channel();
    let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<()>();
    let mut app = App::new(sup, attach.cli.endpoint().label(), attach.switch_client);
    app.started_at = now_ms();
    app.call_timeout = attach.cli.timeout();
    tracing::info!(
        slots = app.sup.layout.slots.len(),
        observe_only = app.sup.mode.observe_only,
        dry_run = app.sup.mode.dry_run,
        switch_client = attach.switch_client,
        "ui started"
    );
    let push = Push::start(push);
    let mut ui = Ui::new(app, persist, tmux, push, Arc::new(now_ms), stop_rx);
    ui.windows = attach.inside_tmux.then(|| attach.hosts.clone());
    // SIGHUP reads the config again (as the daemon does); SIGTERM and SIGINT end the UI.
    let signal_task = tokio::spawn(async move {
        loop {
            let sig = signals.recv().await;
            tracing::info!("{sig} received");
            let sent = if sig == "SIGHUP" {
                reload_tx.send(()).is_ok()
            } else {
                stop_tx.send(sig).is_ok()
            };
            if !sent {
                break;
            }
        }
    });
    let to_ui = ui.reload_tx.clone();
    let reload_task = tokio::spawn(async move {
        while reload_rx.recv().await.is_some() {
            if to_ui.send(reread()).is_err() {
                break;
            }
        }
    });
    ui.test_panic = std::env::var_os(TEST_PANIC_ENV).is_some_and(|v| v == "1");

    let restore = terminal::RestoreOnDrop;
    let mut term = terminal::init()?;
    let mut input = InputTask::spawn(ui.input_tx.clone());
    let result = loop {
        match ui.drive(&mut term).await {
            Exit::Quit => break Ok(()),
            Exit::Stopped(sig) => {
                tracing::info!("{sig}: leaving the UI");
                break Ok(());
            }
            Exit::Failed(e) => break Err(e),
            Exit::Foreground(host, name) => {
                let Some(cli) = attach.client(host.as_deref()) else {
                    continue;
                };
                input.stop().await;
                tracing::info!(session = %name, host = ?host, "attaching in the foreground");
                let (end_tx, end_rx) = tokio::sync::oneshot::channel();
                let attached = attach::foreground(cli, &name, end_rx);
                let outcome = ui.while_attached(attached, end_tx).await;
                term = match outcome.term {
                    Some(Ok(t)) => t,
                    Some(Err(e)) => {
                        break Err(anyhow::Error::from(e).context("bringing the UI back"));
                    }
                    // Ended by a signal: the terminal is already the shell's again.
                    None => break Ok(()),
                };
                input = InputTask::spawn(ui.input_tx.clone());
            }
        }
    };
    input.stop().await;
    drop(term);
    drop(restore);
    signal_task.abort();
    reload_task.abort();
    // The tmux calls in progress stop and queued ops are dropped; what comes back is folded
    // in so the memory says which ops were not run.
    attach.cli.shutdown().trigger();
    ui.finish().await;
    tracing::info!("ui stopped");
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::path::PathBuf;

    fn ep(name: Option<&str>, path: Option<&str>) -> Endpoint {
        Endpoint {
            socket_name: name.map(str::to_string),
            socket_path: path.map(PathBuf::from),
        }
    }

    #[test]
    fn same_server_compares_the_socket() {
        let default = Some("/tmp/tmux-1000/default,1234,0");
        assert!(same_server(default, &ep(None, None)));
        assert!(!same_server(default, &ep(Some("work"), None)));
        assert!(same_server(
            Some("/tmp/tmux-1000/work,1,2"),
            &ep(Some("work"), None)
        ));
        assert!(same_server(
            Some("/run/my,sock,99,3"),
            &ep(None, Some("/run/my,sock"))
        ));
        assert!(!same_server(
            Some("/run/other,99,3"),
            &ep(None, Some("/run/my"))
        ));
        assert!(!same_server(None, &ep(None, None)));
        assert!(!same_server(Some(""), &ep(None, None)));
    }
}
