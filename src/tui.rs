//! The terminal UI's event loop: one task owns the [`App`]; it merges terminal input, poll and
//! reconcile ticks, work results and signals, drains what is queued, then draws once.
//!
//! The poll / reconcile logic is `run_daemon`'s, moved into `app::update` as messages.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind};
use futures_util::StreamExt as _;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::{App, Effect, Msg, update};
use crate::controller::Supervisor;
use crate::runner::{Persist, Work, now_ms, spawn_execute, spawn_poll, ticker, wind_down};
use crate::terminal;
use crate::tmux::{Endpoint, Target, Tmux, TmuxCli};
use crate::ui;

mod attach;

/// Set to `1` to make the `!` key panic (for the test that the terminal is restored).
pub const TEST_PANIC_ENV: &str = "TMUX_SUPERVISOR_TEST_PANIC";

/// Most queued messages handled before a frame is drawn anyway.
const DRAIN_LIMIT: usize = 256;

/// How the UI attaches to a session.
#[derive(Debug, Clone)]
pub struct Attach {
    /// The tmux client for `attach-session` (its `-L` / `-S`).
    pub cli: TmuxCli,
    /// The UI runs inside tmux on the same server: use `switch-client` instead.
    pub switch_client: bool,
}

impl Attach {
    /// Decides from `$TMUX` whether the UI runs inside a client of `cli`'s server.
    pub fn detect(cli: &TmuxCli) -> Self {
        let env = std::env::var("TMUX").ok();
        Attach {
            switch_client: same_server(env.as_deref(), cli.endpoint()),
            cli: cli.clone(),
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

/// What the input task and attach report to the loop.
enum Input {
    Term(Event),
    /// The terminal stream failed or ended.
    Closed(String),
    AttachFailed(String),
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

/// Runs the terminal UI until the operator quits or a signal (SIGTERM, SIGHUP, SIGINT)
/// arrives. The terminal is restored on every exit path and on panic; nothing is printed
/// while the UI is up. Memory is saved after results and on exit.
/// What the loop itself must do after an effect was performed.
enum Flow {
    Attach { name: String, switch: bool },
    Quit,
    Redraw,
}

/// What performs the effects of `update`: tmux work on blocking threads, the poll ticker, the
/// state file and the lock.
struct Performer {
    tmux: Arc<dyn Tmux>,
    work_tx: mpsc::UnboundedSender<Work>,
    poll_tick: tokio::time::Interval,
    persist: Persist,
}

impl Performer {
    /// Performs one effect; what only the loop can do comes back as a [`Flow`].
    fn perform(&mut self, app: &mut App, fx: Effect, now: crate::memory::Millis) -> Option<Flow> {
        match fx {
            Effect::Poll(job) => spawn_poll(Arc::clone(&self.tmux), *job, self.work_tx.clone()),
            Effect::Execute(jobs) => {
                spawn_execute(Arc::clone(&self.tmux), jobs, self.work_tx.clone());
            }
            Effect::PollSoon => self.poll_tick.reset_immediately(),
            Effect::Save => self.persist.save(&mut app.sup, now),
            Effect::TryLock => self.persist.retry_lock(&mut app.sup, now),
            Effect::Attach { name, switch } => return Some(Flow::Attach { name, switch }),
            Effect::Quit => return Some(Flow::Quit),
            Effect::Redraw => return Some(Flow::Redraw),
        }
        None
    }
}

pub async fn run(
    sup: Supervisor,
    persist: Persist,
    tmux: Arc<dyn Tmux>,
    attach: Attach,
) -> anyhow::Result<()> {
    let mut signals = Signals::new()?;
    let server = attach.cli.endpoint().label();
    let mut app = App::new(sup, server, attach.switch_client);
    app.started_at = now_ms();
    app.call_timeout = attach.cli.timeout();
    let test_panic = std::env::var_os(TEST_PANIC_ENV).is_some_and(|v| v == "1");
    tracing::info!(
        slots = app.sup.layout.slots.len(),
        observe_only = app.sup.mode.observe_only,
        dry_run = app.sup.mode.dry_run,
        switch_client = attach.switch_client,
        "ui started"
    );

    let restore = terminal::RestoreOnDrop;
    let mut term = terminal::init()?;
    let (work_tx, mut work_rx) = mpsc::unbounded_channel::<Work>();
    let (input_tx, mut input_rx) = mpsc::unbounded_channel::<Input>();
    let mut input = InputTask::spawn(input_tx.clone());
    let mut fxr = Performer {
        tmux: Arc::clone(&tmux),
        work_tx,
        poll_tick: ticker(app.sup.config.poll_interval),
        persist,
    };
    let mut reconcile_tick = ticker(app.sup.config.reconcile_interval);
    let mut redraw_tick = ticker(Duration::from_secs(1));
    let mut result = Ok(());
    let mut dirty = true;

    'ui: loop {
        if dirty {
            let now = now_ms();
            if let Err(e) = term.draw(|f| ui::draw(f, &app, now)) {
                result = Err(anyhow::Error::from(e).context("drawing the terminal UI"));
                break;
            }
            dirty = false;
        }
        let mut msgs: Vec<Msg> = Vec::new();
        let mut stop: Option<&str> = None;
        tokio::select! {
            sig = signals.recv() => stop = Some(sig),
            Some(i) = input_rx.recv() => push_input(i, &mut msgs, &mut result),
            Some(w) = work_rx.recv() => msgs.push(work_msg(w)),
            _ = fxr.poll_tick.tick(), if !app.polling() => msgs.push(Msg::PollTick),
            _ = reconcile_tick.tick() => msgs.push(Msg::ReconcileTick),
            _ = redraw_tick.tick() => msgs.push(Msg::Tick),
        }
        if let Some(sig) = stop {
            tracing::info!("{sig}: leaving the UI");
            break;
        }
        if result.is_err() {
            break;
        }
        // Drain what is already queued, then draw once.
        while msgs.len() < DRAIN_LIMIT {
            if let Ok(w) = work_rx.try_recv() {
                msgs.push(work_msg(w));
            } else if let Ok(i) = input_rx.try_recv() {
                push_input(i, &mut msgs, &mut result);
            } else {
                break;
            }
        }
        let mut attach_to = None;
        for msg in msgs {
            if test_panic
                && let Msg::Key(k) = &msg
                && k.code == KeyCode::Char('!')
                && k.kind == KeyEventKind::Press
            {
                panic!("test panic requested with {TEST_PANIC_ENV}=1");
            }
            let now = now_ms();
            for fx in update(&mut app, msg, now) {
                match fxr.perform(&mut app, fx, now) {
                    Some(Flow::Attach { name, switch }) => attach_to = Some((name, switch)),
                    Some(Flow::Quit) => break 'ui,
                    Some(Flow::Redraw) => dirty = true,
                    None => {}
                }
            }
        }
        if result.is_err() {
            break;
        }
        if let Some((name, switch)) = attach_to {
            if switch {
                let tmux = Arc::clone(&tmux);
                let tx = input_tx.clone();
                tokio::task::spawn_blocking(move || {
                    match tmux.switch_client(None, &Target::Name(name.clone())) {
                        Ok(()) => tracing::info!(session = %name, "switched the client"),
                        Err(e) => {
                            tracing::warn!(session = %name, "switch-client failed: {e}");
                            let _ = tx.send(Input::AttachFailed(e.to_string()));
                        }
                    }
                });
            } else {
                input.stop().await;
                tracing::info!(session = %name, "attaching in the foreground");
                // Supervision goes on while the operator is attached: polls, reconcile and
                // their results are served without drawing until the attach returns.
                let (end_tx, end_rx) = tokio::sync::oneshot::channel();
                let mut end_tx = Some(end_tx);
                let attached = attach::foreground(&attach.cli, &name, end_rx);
                tokio::pin!(attached);
                let outcome = loop {
                    let msg = tokio::select! {
                        o = &mut attached => break o,
                        sig = signals.recv(), if end_tx.is_some() => {
                            // Stopping: the memory first, then the attach client is ended
                            // and the terminal given back.
                            tracing::info!("{sig} while attached: leaving the UI");
                            fxr.persist.save(&mut app.sup, now_ms());
                            if let Some(tx) = end_tx.take() {
                                let _ = tx.send(());
                            }
                            continue;
                        }
                        Some(w) = work_rx.recv() => work_msg(w),
                        // Once stopping, no new work is started.
                        _ = fxr.poll_tick.tick(), if !app.polling() && end_tx.is_some() => {
                            Msg::PollTick
                        }
                        _ = reconcile_tick.tick(), if end_tx.is_some() => Msg::ReconcileTick,
                    };
                    let now = now_ms();
                    for fx in update(&mut app, msg, now) {
                        // Nothing to draw or attach while the terminal is lent out.
                        let _ = fxr.perform(&mut app, fx, now);
                    }
                };
                term = match outcome.term {
                    Some(Ok(t)) => t,
                    Some(Err(e)) => {
                        result = Err(anyhow::Error::from(e).context("bringing the UI back"));
                        break;
                    }
                    // Ended by a signal: the terminal is already the shell's again.
                    None => break,
                };
                input = InputTask::spawn(input_tx.clone());
                if let Err(e) = outcome.child {
                    let now = now_ms();
                    update(&mut app, Msg::AttachFailed(e), now);
                }
                fxr.poll_tick.reset_immediately();
                dirty = true;
            }
        }
    }
    input.stop().await;
    drop(term);
    drop(restore);
    // The tmux calls in progress stop and queued ops are dropped; what comes back is folded
    // in so the memory says which ops were not run.
    attach.cli.shutdown().trigger();
    wind_down(&mut app.sup, &mut work_rx, &now_ms).await;
    fxr.persist.save(&mut app.sup, now_ms());
    tracing::info!("ui stopped");
    result
}

fn work_msg(w: Work) -> Msg {
    match w {
        Work::Polled(r) => Msg::Polled(r),
        Work::Executed(r) => Msg::Executed(r),
    }
}

fn push_input(i: Input, msgs: &mut Vec<Msg>, result: &mut anyhow::Result<()>) {
    match i {
        Input::Term(Event::Key(k)) => msgs.push(Msg::Key(k)),
        Input::Term(Event::Resize(..)) => msgs.push(Msg::Resize),
        Input::Term(_) => {}
        Input::AttachFailed(e) => msgs.push(Msg::AttachFailed(e)),
        Input::Closed(e) => *result = Err(anyhow::anyhow!("terminal input failed: {e}")),
    }
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
