//! UI state ([`App`]) and the pure [`update`]: keys, ticks and work results in, effects out.
//! What can be selected is the [`Selection`] model; the operator's ops are in `ops`. No tmux,
//! no clock, no terminal here: the loop in `tui.rs` performs the effects.

mod ops;
#[cfg(test)]
pub(crate) mod sample;
pub mod selection;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::controller::Supervisor;
use crate::jobs::{OpJob, OpResult, PollJob, PollResult};
use crate::keymap::{Action, action_for, is_ctrl_c};
use crate::time::Millis;
use selection::{Entry, Selection};

/// How long a status message stays.
pub const STATUS_MS: Millis = 5_000;
/// Rows moved by `PgUp` / `PgDn`.
pub const PAGE: usize = 10;

/// The sessions area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Table,
    Audit,
}

/// The bottom panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Preview,
    Log,
}

/// What a confirmed dialog does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Recreate(Vec<String>),
    /// Recreate an agent slot with a new conversation.
    RecreateFresh(String),
    /// Kill a session: its host (`None`: this machine) and name.
    Kill(Option<String>, String),
}

/// A question waiting for `y` / `n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub question: String,
    /// Why it asks.
    pub detail: Vec<String>,
    pub pending: Pending,
    /// Another answer than yes: its key, what it does in words, and the op.
    pub instead: Option<(char, String, Pending)>,
}

/// A short message shown in the footer until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub until: Millis,
    pub error: bool,
}

/// Everything the UI shows and remembers.
pub struct App {
    pub sup: Supervisor,
    /// The tmux server, as shown in the header (`default`, `-L NAME`, `-S PATH`).
    pub server: String,
    /// Attach by `switch-client` (the UI runs inside tmux on the same server).
    pub switch_client: bool,
    /// The selected session, by name (stable across polls).
    pub selected: Option<String>,
    pub view: View,
    pub panel: Panel,
    pub show_others: bool,
    pub filter: String,
    /// The filter is being typed.
    pub filtering: bool,
    pub help: bool,
    pub confirm: Option<Confirm>,
    pub status: Option<Status>,
    pub should_quit: bool,
    /// When the UI started (the age of "never polled").
    pub started_at: Millis,
    /// How long one tmux call may take (a poll is overdue only after that).
    pub call_timeout: std::time::Duration,
}

/// Everything that can happen to the UI.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize,
    /// Time to poll (ignored while a poll is in flight).
    PollTick,
    /// Time to reconcile.
    ReconcileTick,
    Polled(Box<PollResult>),
    Executed(Vec<OpResult>),
    /// Once a second: ages and countdowns move, status messages expire.
    Tick,
    /// Attaching to a session failed.
    AttachFailed(String),
}

/// What the loop must do.
#[derive(Debug)]
pub enum Effect {
    Poll(Box<PollJob>),
    Execute(Vec<OpJob>),
    /// Poll again soon (an op just ran).
    PollSoon,
    /// Write the memory if it changed.
    Save,
    /// Attach to a session: by `switch-client`, or by suspending the UI.
    Attach {
        name: String,
        switch: bool,
        /// The session's host (`None`: this machine): attached with `ssh -t`.
        host: Option<String>,
    },
    Quit,
    Redraw,
    /// Tell the operator: the bell, and `notify.command`.
    Notify(Vec<crate::notify::Notice>),
}

impl App {
    pub fn new(sup: Supervisor, server: impl Into<String>, switch_client: bool) -> Self {
        App {
            sup,
            server: server.into(),
            switch_client,
            selected: None,
            view: View::Table,
            panel: Panel::Preview,
            show_others: false,
            filter: String::new(),
            filtering: false,
            help: false,
            confirm: None,
            status: None,
            should_quit: false,
            started_at: 0,
            call_timeout: crate::tmux::DEFAULT_TIMEOUT,
        }
    }

    /// A poll is in flight.
    pub fn polling(&self) -> bool {
        self.sup.polling()
    }

    /// Nothing has been read from tmux for longer than three poll intervals and one call
    /// timeout: the screen may be out of date (tmux frozen, polls failing).
    pub fn polls_are_stale(&self, now: Millis) -> bool {
        let limit = self.sup.config.poll_interval * 3 + self.call_timeout;
        let since = self.sup.last_poll_at.unwrap_or(self.started_at);
        now.saturating_sub(since) > limit.as_millis() as Millis
    }

    /// Ops are in flight.
    pub fn executing(&self) -> bool {
        self.sup.executing() > 0
    }

    /// The sessions the operator can select now: what is shown, after the filter.
    pub fn selection(&self) -> Selection<'_> {
        Selection::new(
            &self.sup.layout,
            self.sup.last.as_ref(),
            &self.filter,
            self.show_others,
        )
    }

    /// The selected session, if it is shown.
    pub fn selected_entry(&self) -> Option<Entry<'_>> {
        let name = self.selected.as_deref()?;
        self.selection().find(name).copied()
    }

    /// The pane of the selected session, if it is live.
    pub fn selected_pane_id(&self) -> Option<String> {
        self.selected_entry()?.pane.map(|p| p.pane_id.clone())
    }

    fn say(&mut self, text: impl Into<String>, now: Millis) {
        self.status = Some(Status {
            text: text.into(),
            until: now + STATUS_MS,
            error: false,
        });
    }

    fn complain(&mut self, text: impl Into<String>, now: Millis) {
        self.status = Some(Status {
            text: text.into(),
            until: now + STATUS_MS,
            error: true,
        });
    }
}

/// Folds one message into the state and says what the loop must do.
pub fn update(app: &mut App, msg: Msg, now: Millis) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(k) => {
            if k.kind == KeyEventKind::Press {
                on_key(app, k, now, &mut fx);
                fx.push(Effect::Redraw);
            }
        }
        Msg::Resize => fx.push(Effect::Redraw),
        Msg::PollTick => {
            app.sup.preview_pane = app.selected_pane_id();
            if let Some(job) = app.sup.poll_tick() {
                fx.push(Effect::Poll(Box::new(job)));
            }
        }
        Msg::ReconcileTick => {
            let jobs = app.sup.reconcile_tick(now);
            execute(jobs, &mut fx);
            fx.push(Effect::Redraw);
        }
        Msg::Polled(r) => {
            let jobs = app.sup.polled(*r, now);
            execute(jobs, &mut fx);
            let notices = app.sup.outbox.take();
            if !notices.is_empty() {
                fx.push(Effect::Notify(notices));
            }
            fx.push(Effect::Save);
            fx.push(Effect::Redraw);
        }
        Msg::Executed(results) => {
            let failures: Vec<String> = results
                .iter()
                .filter_map(|r| {
                    r.outcome
                        .as_ref()
                        .err()
                        .map(|e| format!("{}: {e}", r.job.name))
                })
                .collect();
            app.sup.executed(results, now);
            if let Some(first) = failures.first() {
                app.complain(first.clone(), now);
            }
            fx.push(Effect::PollSoon);
            fx.push(Effect::Save);
            fx.push(Effect::Redraw);
        }
        Msg::Tick => {
            if app.status.as_ref().is_some_and(|s| s.until <= now) {
                app.status = None;
            }
            fx.push(Effect::Redraw);
        }
        Msg::AttachFailed(e) => {
            app.complain(format!("attach failed: {e}"), now);
            fx.push(Effect::Redraw);
        }
    }
    keep_selection_visible(app);
    fx
}

fn execute(jobs: Vec<OpJob>, fx: &mut Vec<Effect>) {
    if !jobs.is_empty() {
        fx.push(Effect::Execute(jobs));
    }
}

/// When the selected session is no longer shown (filtered out, gone), select the first one.
fn keep_selection_visible(app: &mut App) {
    app.selected = app.selection().kept(app.selected.as_deref());
}

fn move_selection(app: &mut App, to: impl Fn(usize, usize) -> usize) {
    let moved = app.selection().moved(app.selected.as_deref(), to);
    if moved.is_some() {
        app.selected = moved;
    }
}

fn on_key(app: &mut App, k: KeyEvent, now: Millis, fx: &mut Vec<Effect>) {
    if is_ctrl_c(&k) {
        quit(app, fx);
        return;
    }
    if let Some(c) = app.confirm.take() {
        match k.code {
            KeyCode::Char('y' | 'Y') => ops::perform(app, c.pending, now, fx),
            KeyCode::Char(key) if c.instead.as_ref().is_some_and(|i| i.0 == key) => {
                if let Some((_, _, pending)) = c.instead {
                    ops::perform(app, pending, now, fx);
                }
            }
            KeyCode::Char('n' | 'N') | KeyCode::Esc => app.say("cancelled", now),
            _ => app.confirm = Some(c),
        }
        return;
    }
    if app.help {
        app.help = false;
        return;
    }
    if app.filtering {
        match k.code {
            KeyCode::Esc => {
                app.filter.clear();
                app.filtering = false;
            }
            KeyCode::Enter => app.filtering = false,
            KeyCode::Backspace => {
                app.filter.pop();
            }
            KeyCode::Char(c)
                if !k
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                app.filter.push(c);
            }
            _ => {}
        }
        return;
    }
    if k.code == KeyCode::Esc {
        app.filter.clear();
        app.status = None;
        return;
    }
    let Some(action) = action_for(&k) else {
        return;
    };
    match action {
        Action::Up => move_selection(app, |i, _| i.saturating_sub(1)),
        Action::Down => move_selection(app, |i, _| i + 1),
        Action::Top => move_selection(app, |_, _| 0),
        Action::Bottom => move_selection(app, |_, n| n),
        Action::PageUp => move_selection(app, |i, _| i.saturating_sub(PAGE)),
        Action::PageDown => move_selection(app, |i, _| i + PAGE),
        Action::Attach => ops::attach(app, now, fx),
        Action::Recreate => ops::recreate(app, now, fx),
        Action::RecreatePool => ops::recreate_pool(app, now),
        Action::Kill => ops::kill(app, now),
        Action::Pause => {
            app.sup.mode.paused = !app.sup.mode.paused;
            if app.sup.mode.paused {
                app.say("paused: the plan is shown, nothing is executed", now);
            } else {
                app.say("resumed reconciling", now);
            }
        }
        Action::ToggleView => {
            app.view = match app.view {
                View::Table => View::Audit,
                View::Audit => View::Table,
            };
        }
        Action::TogglePanel => {
            app.panel = match app.panel {
                Panel::Preview => Panel::Log,
                Panel::Log => Panel::Preview,
            };
        }
        Action::ToggleOthers => app.show_others = !app.show_others,
        Action::Filter => app.filtering = true,
        Action::Help => app.help = true,
        Action::Quit => quit(app, fx),
    }
}

fn quit(app: &mut App, fx: &mut Vec<Effect>) {
    app.should_quit = true;
    fx.push(Effect::Quit);
}

#[cfg(test)]
mod tests;
