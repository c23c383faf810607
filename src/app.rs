//! UI state ([`App`]) and the pure [`update`]: keys, ticks and work results in, effects out.
//! No tmux, no clock, no terminal here: the loop in `tui.rs` performs the effects.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::controller::Supervisor;
use crate::jobs::{OpJob, OpResult, PollJob, PollResult};
use crate::keymap::{Action, action_for, is_ctrl_c};
use crate::memory::Millis;
use crate::ui::rows::{Concern, Kind, Row, SessionRow, recreate_concerns, rows};

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
    Kill(String),
}

/// A question waiting for `y` / `n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub question: String,
    /// Why it asks.
    pub detail: Vec<String>,
    pub pending: Pending,
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
    Polled(PollResult),
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
    /// Try again for the lock of the server (observe-only while another supervisor has it).
    TryLock,
    /// Attach to a session: by `switch-client`, or by suspending the UI.
    Attach {
        name: String,
        switch: bool,
    },
    Quit,
    Redraw,
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

    /// The selected session's row, if it is shown.
    pub fn selected_row(&self, now: Millis) -> Option<SessionRow> {
        let name = self.selected.as_deref()?;
        rows(self, now)
            .into_iter()
            .filter_map(|r| match r {
                Row::Session(s) => Some(s),
                _ => None,
            })
            .find(|s| s.name == name)
    }

    /// The pane of the selected session, if it is live.
    pub fn selected_pane_id(&self) -> Option<String> {
        let name = self.selected.as_deref()?;
        let obs = self.sup.last.as_ref()?;
        obs.slots
            .iter()
            .filter_map(|s| s.pane.as_ref())
            .chain(obs.strays.iter().map(|s| &s.pane))
            .chain(obs.others.iter())
            .find(|p| p.session_name == name)
            .map(|p| p.pane_id.clone())
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
            if app.sup.wants_lock {
                fx.push(Effect::TryLock);
            }
            let jobs = app.sup.reconcile_tick(now);
            execute(jobs, &mut fx);
            fx.push(Effect::Redraw);
        }
        Msg::Polled(r) => {
            let jobs = app.sup.polled(r, now);
            execute(jobs, &mut fx);
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
    let names = crate::ui::rows::names(app);
    if app
        .selected
        .as_ref()
        .is_none_or(|s| !names.iter().any(|n| n == s))
    {
        app.selected = names.into_iter().next();
    }
}

fn move_selection(app: &mut App, to: impl Fn(usize, usize) -> usize) {
    let names = crate::ui::rows::names(app);
    if names.is_empty() {
        return;
    }
    let at = app
        .selected
        .as_ref()
        .and_then(|s| names.iter().position(|n| n == s))
        .unwrap_or(0);
    let i = to(at, names.len()).min(names.len() - 1);
    app.selected = Some(names[i].clone());
}

fn on_key(app: &mut App, k: KeyEvent, now: Millis, fx: &mut Vec<Effect>) {
    if is_ctrl_c(&k) {
        quit(app, fx);
        return;
    }
    if let Some(c) = app.confirm.take() {
        match k.code {
            KeyCode::Char('y' | 'Y') => perform(app, c.pending, now, fx),
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
        Action::Attach => attach(app, now, fx),
        Action::Recreate => recreate(app, now, fx),
        Action::RecreatePool => recreate_pool(app, now),
        Action::Kill => kill(app, now),
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

/// Refuses operator ops when this supervisor may not touch the server at all.
fn may_act(app: &mut App, now: Millis) -> bool {
    if app.sup.mode.observe_only {
        app.complain(
            "observe-only: another supervisor is reconciling this server",
            now,
        );
        false
    } else if app.sup.mode.dry_run {
        app.complain("dry-run: nothing is executed", now);
        false
    } else {
        true
    }
}

fn attach(app: &mut App, now: Millis, fx: &mut Vec<Effect>) {
    let Some(row) = app.selected_row(now) else {
        return;
    };
    if !row.live {
        app.complain(format!("{} has no session to attach to", row.name), now);
        return;
    }
    if app.switch_client {
        app.say(
            format!("switched to {}: prefix L comes back here", row.name),
            now,
        );
    }
    fx.push(Effect::Attach {
        name: row.name,
        switch: app.switch_client,
    });
}

fn recreate(app: &mut App, now: Millis, fx: &mut Vec<Effect>) {
    let Some(row) = app.selected_row(now) else {
        return;
    };
    let Kind::Slot(slot) = row.kind else {
        app.complain(
            format!(
                "{} is not a slot: only configured slots are recreated (x kills it)",
                row.name
            ),
            now,
        );
        return;
    };
    if !may_act(app, now) {
        return;
    }
    let concerns = recreate_concerns(app, slot);
    if concerns.is_empty() {
        perform(app, Pending::Recreate(vec![row.name]), now, fx);
    } else {
        let verb = if row.live { "Restart" } else { "Create" };
        app.confirm = Some(Confirm {
            question: format!("{verb} {}?", row.name),
            detail: concerns.iter().map(ToString::to_string).collect(),
            pending: Pending::Recreate(vec![row.name]),
        });
    }
}

fn recreate_pool(app: &mut App, now: Millis) {
    let Some(row) = app.selected_row(now) else {
        return;
    };
    let Kind::Slot(slot) = row.kind else {
        app.complain(
            format!("{} is not a slot: select a slot of the pool", row.name),
            now,
        );
        return;
    };
    if !may_act(app, now) {
        return;
    }
    let group = app.sup.layout.slots[slot].group.clone();
    let Some(g) = app.sup.layout.groups.iter().find(|g| g.name == group) else {
        return;
    };
    let names: Vec<String> = g
        .slots
        .iter()
        .map(|&i| app.sup.layout.slots[i].name.clone())
        .collect();
    // Per slot, only what a recreate interrupts; the pool-wide concern is said once below.
    let mut detail: Vec<String> = g
        .slots
        .iter()
        .flat_map(|&i| {
            recreate_concerns(app, i)
                .into_iter()
                .filter_map(move |c| match c {
                    Concern::Busy(st) => Some((i, st)),
                    _ => None,
                })
        })
        .map(|(i, st)| format!("{}: is {st}", app.sup.layout.slots[i].name))
        .collect();
    if g.restart == Some(crate::config::Restart::Never) {
        detail.insert(
            0,
            format!("pool {group} is operator-owned (restart: never)"),
        );
    }
    app.confirm = Some(Confirm {
        question: format!("Recreate all {} slots of pool {group}?", names.len()),
        detail,
        pending: Pending::Recreate(names),
    });
}

fn kill(app: &mut App, now: Millis) {
    let Some(row) = app.selected_row(now) else {
        return;
    };
    if !row.live {
        app.complain(format!("{} has no session to kill", row.name), now);
        return;
    }
    if !may_act(app, now) {
        return;
    }
    let mut detail = Vec::new();
    match row.kind {
        Kind::Slot(i) if app.sup.layout.slots[i].supervised() => {
            detail.push("it is kept alive: reconcile will create it again".to_string());
        }
        Kind::Stray { pool } => detail.push(format!("stray of pool {pool}")),
        _ => {}
    }
    if matches!(row.state.as_str(), "working" | "waiting") {
        detail.push(format!("it is {}", row.state));
    }
    app.confirm = Some(Confirm {
        question: format!("Kill session {}?", row.name),
        detail,
        pending: Pending::Kill(row.name),
    });
}

fn perform(app: &mut App, pending: Pending, now: Millis, fx: &mut Vec<Effect>) {
    match pending {
        Pending::Recreate(names) => {
            let busy: Vec<&String> = names
                .iter()
                .filter(|n| {
                    app.sup
                        .memory
                        .slot(n)
                        .is_some_and(|m| m.in_flight.is_some())
                })
                .collect();
            let skipped = busy.len();
            let busy: Vec<String> = busy.into_iter().cloned().collect();
            let jobs: Vec<OpJob> = names
                .iter()
                .filter(|n| !busy.contains(n))
                .filter_map(|n| app.sup.recreate(n, now))
                .collect();
            let text = match (jobs.len(), skipped) {
                (0, _) => "an op is already in flight; wait for the next poll".to_string(),
                (1, 0) => format!("recreating {}", jobs[0].name),
                (n, 0) => format!("recreating {n} sessions"),
                (n, s) => format!("recreating {n} sessions ({s} already in flight)"),
            };
            if jobs.is_empty() {
                app.complain(text, now);
            } else {
                app.say(text, now);
            }
            let jobs = app.sup.sent(jobs);
            execute(jobs, fx);
        }
        Pending::Kill(name) => {
            let job = app.sup.kill(&name, now);
            app.say(format!("killing {name}"), now);
            let jobs = app.sup.sent(vec![job]);
            execute(jobs, fx);
        }
    }
}

#[cfg(test)]
mod tests;
