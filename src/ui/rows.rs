//! The view model: `rows(&App, now)` turns the sessions the operator can select (the app's
//! [`Selection`](crate::app::selection::Selection)) into display rows (pool headers, slots,
//! strays, others) with every text already decided; drawing only lays them out.

use crate::app::App;
use crate::app::selection::{Entry, Kind};
use crate::observe::{Cause, SlotStatus, State, exit_words};
use crate::reconcile::next_start_allowed;
use crate::time::{Millis, age_since_secs, ms_until, short_age};
use crate::ui::theme::Mark;

/// One line of the sessions list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row<'a> {
    /// A pool (or the dedicated sessions) header.
    Group(GroupRow),
    /// The header of the strays or others section.
    Section(String),
    /// A session: a slot, a stray or another session.
    Session(SessionRow<'a>),
}

/// A pool header: `auto  ccl-auto-11..ccl-auto-20  restart: always  9/10 up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub name: String,
    pub range: String,
    pub restart: String,
    pub up: usize,
    pub total: usize,
}

impl GroupRow {
    pub fn title(&self) -> String {
        format!(
            "{}  {}  restart: {}  {}/{} up",
            self.name, self.range, self.restart, self.up, self.total
        )
    }
}

/// A session row, all text decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow<'a> {
    pub kind: Kind<'a>,
    pub mark: Mark,
    pub name: String,
    /// The short cell label for the audit view (the slot index, or the name).
    pub cell: String,
    pub state: String,
    pub command: String,
    /// Age of the last output.
    pub output: String,
    pub uptime: String,
    pub restarts: String,
    pub note: String,
    /// The session exists on the server.
    pub live: bool,
}

impl<'a> Row<'a> {
    pub fn session(&self) -> Option<&SessionRow<'a>> {
        match self {
            Row::Session(s) => Some(s),
            _ => None,
        }
    }
}

/// A limit's countdown and a hang's length: on the row, not only in the preview.
fn condition_note(cause: &Cause) -> Option<String> {
    match cause {
        Cause::Limited {
            until: Some(u),
            now,
            ..
        } => Some(format!(
            "limit resets in {}",
            crate::time::countdown(*u, *now)
        )),
        Cause::Limited { until: None, .. } => Some("limit hit".to_string()),
        Cause::Hung { .. } => Some(cause.to_string()),
        _ => None,
    }
}

/// An agent slot's conversation: "session 1a2b3c4d resumed" (or "fresh"; no word when the
/// supervisor did not start it).
fn agent_note(s: &crate::pool::Slot, m: Option<&crate::memory::SlotMemory>) -> Option<String> {
    s.agent?;
    let a = m?.agent.as_ref()?;
    let how = match (a.started_at, a.resumed) {
        (None, _) => "",
        (Some(_), true) => " resumed",
        (Some(_), false) => " fresh",
    };
    Some(format!(
        "session {}{how}",
        crate::claude::session::short(&a.id)
    ))
}

fn slot_row(app: &App, slot: usize, now: Millis) -> SessionRow<'static> {
    let sup = &app.sup;
    let st: Option<&SlotStatus> = sup.last.as_ref().and_then(|o| o.slot(slot));
    let s = &sup.layout.slots[slot];
    let m = sup.memory.slot(&s.name);
    let cell = s.index.map_or_else(|| s.name.clone(), |i| i.to_string());
    let Some(st) = st else {
        return SessionRow {
            kind: Kind::Slot(slot),
            mark: Mark::Other,
            name: s.name.clone(),
            cell,
            state: "unknown".to_string(),
            command: String::new(),
            output: String::new(),
            uptime: String::new(),
            restarts: String::new(),
            note: "waiting for the first poll".to_string(),
            live: false,
        };
    };
    let pane = st.pane.as_ref();
    let mut note: Vec<String> = Vec::new();
    if m.is_some_and(|m| m.gave_up) {
        note.push("gave up".to_string());
    }
    // The plan is from the last reconcile pass: only believe it while the slot still needs it.
    let needs_start = matches!(st.state, State::Missing | State::Failed);
    if let Some(w) = sup
        .last_plan
        .backing_off
        .iter()
        .find(|w| w.slot == slot && needs_start)
    {
        let until = m.map_or(w.until, |m| next_start_allowed(m, &sup.config.backoff));
        note.push(format!("restart in {}", ms_until(until, now)));
    } else if needs_start && sup.mode.acts() && sup.last_plan.ops.iter().any(|o| o.slot() == slot) {
        note.push("restart due".to_string());
    }
    if let Some(f) = m.and_then(|m| m.in_flight.as_ref()) {
        note.push(format!("{} sent {} ago", f.op, short_age(now - f.since)));
    }
    if let Some(how) = pane
        .filter(|p| p.pane_dead)
        .and_then(|p| exit_words(p.dead_status, p.dead_signal))
    {
        note.push(how);
    }
    if st.state == State::Failed
        && let Some(f) = m.and_then(|m| m.failed.as_ref())
        && !m.is_some_and(|m| m.gave_up)
    {
        note.push(f.clone());
    }
    if let Some(t) = &st.task {
        note.push(format!("task: {t}"));
    }
    if let Some(at) = m.and_then(|m| m.last_start)
        && m.is_some_and(|m| m.in_flight.is_none())
        && pane.is_some()
    {
        let verb = if m.is_some_and(|m| m.total_restarts > 0) {
            "recreated"
        } else {
            "created"
        };
        note.push(format!("{verb} {} ago", short_age(now - at)));
    }
    note.extend(condition_note(&st.cause));
    note.extend(agent_note(s, m));
    if pane.is_some_and(|p| p.session_attached > 0) {
        note.push("attached".to_string());
    }
    if st.panes > 1 {
        note.push(format!("{} panes", st.panes));
    }
    let restarts = m.map_or(0, |m| m.total_restarts);
    SessionRow {
        kind: Kind::Slot(slot),
        mark: Mark::Slot(st.state),
        name: s.name.clone(),
        cell,
        state: st.state.as_str().to_string(),
        command: pane.map(|p| p.current_command.clone()).unwrap_or_default(),
        output: pane.map_or_else(String::new, |p| age_since_secs(p.window_activity, now)),
        uptime: pane.map_or_else(String::new, |p| age_since_secs(p.session_created, now)),
        restarts: if restarts == 0 {
            String::new()
        } else {
            restarts.to_string()
        },
        note: note.join(", "),
        live: pane.is_some(),
    }
}

/// The row of a stray or another session (always live: it is on the server).
fn pane_row<'a>(
    e: &Entry<'a>,
    mark: Mark,
    state: &str,
    note: String,
    now: Millis,
) -> SessionRow<'a> {
    let (command, output, uptime) = e.pane.map_or_else(Default::default, |p| {
        (
            p.current_command.clone(),
            age_since_secs(p.window_activity, now),
            age_since_secs(p.session_created, now),
        )
    });
    SessionRow {
        kind: e.kind,
        mark,
        name: e.name.to_string(),
        cell: e.name.to_string(),
        state: state.to_string(),
        command,
        output,
        uptime,
        restarts: String::new(),
        note,
        live: e.live(),
    }
}

/// The row of one selectable session.
fn session_row<'a>(app: &App, e: &Entry<'a>, now: Millis) -> SessionRow<'a> {
    match e.kind {
        Kind::Slot(i) => slot_row(app, i, now),
        Kind::Stray { pool } => {
            let note = format!("looks like pool {pool}; not a slot, left alone");
            pane_row(e, Mark::Stray, "stray", note, now)
        }
        Kind::Other => {
            let note = if e.pane.is_some_and(|p| p.session_attached > 0) {
                "attached".to_string()
            } else {
                String::new()
            };
            pane_row(e, Mark::Other, "other", note, now)
        }
    }
}

/// Every row to show, in order: the app's selection, with its pool and section headers.
pub fn rows(app: &App, now: Millis) -> Vec<Row<'_>> {
    let sup = &app.sup;
    let obs = sup.last.as_ref();
    let shown = app.selection();
    let session = |e| Row::Session(session_row(app, e, now));
    let mut out = Vec::new();
    for (g, members) in &shown.pools {
        let g = &sup.layout.groups[*g];
        out.push(Row::Group(GroupRow {
            name: g.name.clone(),
            range: g.range.clone(),
            restart: g
                .restart
                .map_or_else(|| "per session".to_string(), |r| r.as_str().to_string()),
            up: obs.map_or(0, |o| o.up(&g.slots)),
            total: g.slots.len(),
        }));
        out.extend(members.iter().map(session));
    }
    if !shown.strays.is_empty() {
        out.push(Row::Section(format!("strays  {}", shown.strays.len())));
        out.extend(shown.strays.iter().map(session));
    }
    if !shown.others.is_empty() {
        out.push(Row::Section(format!(
            "other sessions  {}",
            shown.others.len()
        )));
        out.extend(shown.others.iter().map(session));
    }
    out
}
