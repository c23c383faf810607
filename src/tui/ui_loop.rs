//! The UI's loop, apart from the terminal it draws on and where its input comes from: one
//! owner of the [`App`] merges input, poll and reconcile ticks, push's wake-ups, work results
//! and stop requests, drains what is queued, performs the effects and draws once. `tui::run` wires it
//! to the real terminal, crossterm's input and the signals; tests drive it on a `TestBackend`
//! with a paused clock.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEventKind};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::{mpsc, oneshot};

use super::attach::Attached;
use crate::app::{App, Effect, Msg, update};
use crate::controller::Supervisor;
use crate::memory::Millis;
use crate::runner::{
    Clock, Persist, Push, Reload, Work, apply_reload, spawn_execute, ticker, wind_down,
};
use crate::tmux::Tmux;
use crate::ui;

/// Most queued messages handled before a frame is drawn anyway.
const DRAIN_LIMIT: usize = 256;

/// What terminal input and attaching report to the loop.
pub(super) enum Input {
    Term(Event),
    /// The terminal stream failed or ended.
    Closed(String),
    AttachFailed(String),
}

/// Why [`Ui::drive`] returned.
pub(super) enum Exit {
    /// The operator quit.
    Quit,
    /// A stop was asked for (a signal): its name.
    Stopped(&'static str),
    /// The operator attaches in the foreground: the terminal must be lent to tmux (here, or
    /// through `ssh -t` for a session of another host): the host and the session's name.
    Foreground(Option<String>, String),
    Failed(anyhow::Error),
}

/// What performs the effects of `update`: tmux work on blocking threads, the poll ticker, the
/// state file and the lock, push's wake-up sources.
struct Performer {
    tmux: Arc<dyn Tmux>,
    work_tx: mpsc::UnboundedSender<Work>,
    poll_tick: tokio::time::Interval,
    persist: Persist,
    push: Push,
}

/// What only the loop can do after an effect.
enum Flow {
    Attach {
        name: String,
        switch: bool,
        host: Option<String>,
    },
    Quit,
    Redraw,
}

impl Performer {
    /// Performs one effect; what only the loop can do comes back as a [`Flow`].
    fn perform(&mut self, app: &mut App, fx: Effect, now: Millis) -> Option<Flow> {
        match fx {
            Effect::Poll(job) => {
                self.push
                    .polling(Arc::clone(&self.tmux), *job, self.work_tx.clone());
            }

            Effect::Execute(jobs) => {
                spawn_execute(&self.tmux, jobs, &self.work_tx);
            }
            Effect::PollSoon => self.poll_tick.reset_immediately(),
            Effect::Save => self.persist.save(&mut app.sup, now),
            Effect::Attach { name, switch, host } => {
                return Some(Flow::Attach { name, switch, host });
            }
            Effect::Quit => return Some(Flow::Quit),
            Effect::Redraw => return Some(Flow::Redraw),
            Effect::Notify(notices) => {
                crate::notify::deliver(
                    notices,
                    &app.sup.config.notify,
                    &mut crate::notify::ring_terminal_bell,
                );
            }
        }
        None
    }

    /// A wake-up: a poll now, or once the poll that is out is back.
    fn woken(&mut self, app: &mut App) {
        app.sup.preview_pane = app.selected_pane_id();
        if let Some(job) = app.sup.woken() {
            self.push
                .polling(Arc::clone(&self.tmux), job, self.work_tx.clone());
        }
    }

    /// A poll was folded in: push follows it, and the poll a wake-up asked for meanwhile runs.
    fn polled(&mut self, app: &mut App, now: Millis) {
        self.push.after_poll(&mut app.sup, &self.tmux, now);
        if let Some(job) = app.sup.poll_after_wake() {
            self.push
                .polling(Arc::clone(&self.tmux), job, self.work_tx.clone());
        }
    }
}

/// The loop's state, kept across foreground attaches.
pub(super) struct Ui {
    pub app: App,
    fxr: Performer,
    reconcile_tick: tokio::time::Interval,
    redraw_tick: tokio::time::Interval,
    work_rx: mpsc::UnboundedReceiver<Work>,
    input_rx: mpsc::UnboundedReceiver<Input>,
    /// Where input is sent: the terminal's reader, switch-client's failures.
    pub input_tx: mpsc::UnboundedSender<Input>,
    stop_rx: mpsc::UnboundedReceiver<&'static str>,
    /// Configs read again (SIGHUP), applied at once.
    pub reload_tx: mpsc::UnboundedSender<Reload>,
    reload_rx: mpsc::UnboundedReceiver<Reload>,
    clock: Arc<Clock>,
    /// The `!` key panics (for the test that the terminal is restored).
    pub test_panic: bool,
    /// Inside tmux, the other hosts' clients: a session of theirs opens in a new window here
    /// (`ssh -t HOST tmux attach-session`); `None` outside tmux.
    pub windows: Option<std::collections::BTreeMap<String, crate::tmux::TmuxCli>>,
}

impl Ui {
    /// The loop over `app`, acting through `tmux`, its memory kept by `persist`, woken by
    /// `push`; a stop is asked for on `stop_rx`.
    pub fn new(
        app: App,
        persist: Persist,
        tmux: Arc<dyn Tmux>,
        push: Push,
        clock: Arc<Clock>,
        stop_rx: mpsc::UnboundedReceiver<&'static str>,
    ) -> Self {
        let (work_tx, work_rx) = mpsc::unbounded_channel::<Work>();
        let (input_tx, input_rx) = mpsc::unbounded_channel::<Input>();
        let (reload_tx, reload_rx) = mpsc::unbounded_channel::<Reload>();
        Ui {
            fxr: Performer {
                tmux,
                work_tx,
                poll_tick: ticker(app.sup.config.poll_interval),
                persist,
                push,
            },
            reconcile_tick: ticker(app.sup.config.reconcile_interval),
            redraw_tick: ticker(Duration::from_secs(1)),
            app,
            work_rx,
            input_rx,
            input_tx,
            stop_rx,
            reload_tx,
            reload_rx,
            clock,
            test_panic: false,
            windows: None,
        }
    }

    /// Inside tmux, a session of another host: `ssh -t HOST tmux attach-session` in a new
    /// window of the UI's own session (a failure comes back as input).
    fn new_window(&self, host: String, name: String) {
        let tx = self.input_tx.clone();
        let cli = self.windows.as_ref().and_then(|w| w.get(&host)).cloned();
        super::attach::open_window(cli, host, name, move |e| {
            let _ = tx.send(Input::AttachFailed(e));
        });
    }

    fn now(&self) -> Millis {
        (self.clock)()
    }

    /// Runs until the operator quits, a stop is asked for, the terminal fails, or a
    /// foreground attach needs the terminal.
    pub async fn drive<B: Backend>(&mut self, term: &mut Terminal<B>) -> Exit
    where
        B::Error: Send + Sync + 'static,
    {
        let mut dirty = true;
        loop {
            if dirty {
                let now = self.now();
                let app = &self.app;
                if let Err(e) = term.draw(|f| ui::draw(f, app, now)) {
                    return Exit::Failed(anyhow::Error::from(e).context("drawing the terminal UI"));
                }
                dirty = false;
            }
            let mut msgs: Vec<Msg> = Vec::new();
            let mut failed = None;
            let wake = self.fxr.push.wake().clone();
            tokio::select! {
                sig = self.stop_rx.recv() => return Exit::Stopped(sig.unwrap_or("stop")),
                () = wake.rung() => self.fxr.woken(&mut self.app),
                Some(r) = self.reload_rx.recv() => {
                    self.reload(r);
                    dirty = true;
                }
                Some(i) = self.input_rx.recv() => push_input(i, &mut msgs, &mut failed),
                Some(w) = self.work_rx.recv() => msgs.push(work_msg(w)),
                _ = self.fxr.poll_tick.tick(), if !self.app.polling() => msgs.push(Msg::PollTick),
                _ = self.reconcile_tick.tick() => msgs.push(Msg::ReconcileTick),
                _ = self.redraw_tick.tick() => msgs.push(Msg::Tick),
            }
            // Drain what is already queued, then draw once.
            while msgs.len() < DRAIN_LIMIT && failed.is_none() {
                if let Ok(w) = self.work_rx.try_recv() {
                    msgs.push(work_msg(w));
                } else if let Ok(i) = self.input_rx.try_recv() {
                    push_input(i, &mut msgs, &mut failed);
                } else {
                    break;
                }
            }
            // Every message drained is handled, work results above all, even when the input
            // failed or the operator quit in this batch: a result left out would lose what an
            // op did (a pane started, a failure). Keys after a quit are not acted on.
            let mut foreground = None;
            let mut quit = false;
            for msg in msgs {
                if (quit || failed.is_some()) && matches!(msg, Msg::Key(_)) {
                    continue;
                }
                self.check_test_panic(&msg);
                let now = self.now();
                if matches!(msg, Msg::ReconcileTick) && self.app.sup.wants_lock {
                    // The lock first: a tick that takes it acts in the same pass.
                    self.fxr.persist.retry_lock(&mut self.app.sup, now);
                }
                let polled = matches!(msg, Msg::Polled(_));
                for fx in update(&mut self.app, msg, now) {
                    match self.fxr.perform(&mut self.app, fx, now) {
                        Some(Flow::Attach {
                            name, switch: true, ..
                        }) => self.switch_client(name),
                        Some(Flow::Attach {
                            name,
                            host: Some(host),
                            ..
                        }) if self.windows.is_some() => self.new_window(host, name),
                        Some(Flow::Attach { name, host, .. }) => foreground = Some((host, name)),
                        Some(Flow::Quit) => quit = true,
                        Some(Flow::Redraw) => dirty = true,
                        None => {}
                    }
                }
                if polled {
                    self.fxr.polled(&mut self.app, now);
                }
            }
            if let Some(e) = failed {
                return Exit::Failed(e);
            }
            if quit {
                return Exit::Quit;
            }
            if let Some((host, name)) = foreground {
                return Exit::Foreground(host, name);
            }
        }
    }

    /// A config read again: applied at once, memory kept (or refused, the one in use kept).
    fn reload(&mut self, reload: Reload) {
        let now = self.now();
        apply_reload(
            &mut self.app.sup,
            reload,
            now,
            &mut self.fxr.poll_tick,
            &mut self.reconcile_tick,
        );
        self.fxr.poll_tick.reset_immediately();
        self.fxr.persist.save(&mut self.app.sup, now);
    }

    fn check_test_panic(&self, msg: &Msg) {
        if self.test_panic
            && let Msg::Key(k) = msg
            && k.code == KeyCode::Char('!')
            && k.kind == KeyEventKind::Press
        {
            panic!("test panic requested with {}=1", super::TEST_PANIC_ENV);
        }
    }

    /// Inside tmux on the same server: the operator's client is switched (a failure comes
    /// back as input).
    fn switch_client(&self, name: String) {
        let tx = self.input_tx.clone();
        super::attach::switch(Arc::clone(&self.fxr.tmux), name, move |e| {
            let _ = tx.send(Input::AttachFailed(e));
        });
    }

    /// While the terminal is lent to a foreground attach: supervision goes on (polls,
    /// reconciles and their results), nothing is drawn. A stop asked for meanwhile saves the
    /// memory at once and ends the attach (`end`); the loop then starts no new work.
    pub async fn while_attached(
        &mut self,
        attached: impl std::future::Future<Output = Attached>,
        end: oneshot::Sender<()>,
    ) -> Attached {
        tokio::pin!(attached);
        let mut end = Some(end);
        let wake = self.fxr.push.wake().clone();
        let outcome = loop {
            let msg = tokio::select! {
                o = &mut attached => break o,
                () = wake.rung(), if end.is_some() => {
                    self.fxr.woken(&mut self.app);
                    continue;
                }
                sig = self.stop_rx.recv(), if end.is_some() => {
                    tracing::info!("{} while attached: leaving the UI", sig.unwrap_or("stop"));
                    let now = self.now();
                    self.fxr.persist.save(&mut self.app.sup, now);
                    if let Some(tx) = end.take() {
                        let _ = tx.send(());
                    }
                    continue;
                }
                Some(w) = self.work_rx.recv() => work_msg(w),
                Some(r) = self.reload_rx.recv() => {
                    self.reload(r);
                    continue;
                }
                _ = self.fxr.poll_tick.tick(), if !self.app.polling() && end.is_some() => {
                    Msg::PollTick
                }
                _ = self.reconcile_tick.tick(), if end.is_some() => Msg::ReconcileTick,
            };
            let now = self.now();
            let polled = matches!(msg, Msg::Polled(_));
            for fx in update(&mut self.app, msg, now) {
                // Nothing to draw or attach while the terminal is lent out.
                let _ = self.fxr.perform(&mut self.app, fx, now);
            }
            if polled {
                self.fxr.polled(&mut self.app, now);
            }
        };
        if let Err(e) = &outcome.child {
            let now = self.now();
            update(&mut self.app, Msg::AttachFailed(e.clone()), now);
        }
        self.fxr.poll_tick.reset_immediately();
        outcome
    }

    /// On the way out: the work in progress was stopped (the tmux stop switch is on); what
    /// comes back is folded in so the memory says which ops were not run, then saved.
    pub async fn finish(mut self) -> Supervisor {
        let clock = Arc::clone(&self.clock);
        self.fxr.push.stop().await;
        wind_down(&mut self.app.sup, &mut self.work_rx, &*clock).await;
        let now = self.now();
        self.fxr.persist.save(&mut self.app.sup, now);
        self.app.sup
    }
}

fn work_msg(w: Work) -> Msg {
    match w {
        Work::Polled(r) => Msg::Polled(r),
        Work::Executed(r) => Msg::Executed(r),
    }
}

fn push_input(i: Input, msgs: &mut Vec<Msg>, failed: &mut Option<anyhow::Error>) {
    match i {
        Input::Term(Event::Key(k)) => msgs.push(Msg::Key(k)),
        Input::Term(Event::Resize(..)) => msgs.push(Msg::Resize),
        Input::Term(_) => {}
        Input::AttachFailed(e) => msgs.push(Msg::AttachFailed(e)),
        Input::Closed(e) => *failed = Some(anyhow::anyhow!("terminal input failed: {e}")),
    }
}

#[cfg(test)]
mod tests;
