//! The view model: `rows(&App, now)` turns the sessions the operator can select (the app's
//! [`Selection`](crate::app::selection::Selection)) into display rows (pool headers, slots,
//! strays, others) with every text already decided; drawing only lays them out.

use crate::app::App;
use crate::app::selection::{Entry, Kind, entry_key};
use crate::observe::{Cause, SlotStatus, State, exit_words};
use crate::reconcile::next_start_allowed;
use crate::time::{Millis, age_since_secs, ms_until, short_age};
use crate::ui::theme::Mark;

/// One line of the sessions list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row<'a> {
    /// A host's header, above its pools (only when the config has other hosts).
    Host(HostRow),
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

/// A host header: `gpu1  ops@gpu1.example  up` or `… unreachable 12s: why`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRow {
    /// `None`: this machine.
    pub name: Option<String>,
    pub title: String,
    pub up: bool,
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
    /// The selection key ([`Entry::key`]): the name, with the host for another host's.
    pub key: String,
    /// The session's host (`None`: this machine).
    pub host: Option<String>,
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
            key: entry_key(s.host.as_deref(), &s.name),
            host: s.host.clone(),
        };
    };
    let pane = st.pane.as_ref();
    let mut note: Vec<String> = Vec::new();
    if m.is_some_and(|m| m.gave_up) {
        note.push("gave up".to_string());
    }
    note.extend(plan_note(sup, st, m, now));
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
    // Its host does not answer: what was last known, greyed, with its age.
    let down = sup
        .last
        .as_ref()
        .and_then(|o| o.host_down(s.host.as_deref()));
    if let Some(h) = down {
        note.insert(0, unreachable_note(h, now));
    }
    let restarts = m.map_or(0, |m| m.total_restarts);
    SessionRow {
        kind: Kind::Slot(slot),
        mark: if down.is_some() {
            Mark::Other
        } else {
            Mark::Slot(st.state)
        },
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
        key: entry_key(s.host.as_deref(), &s.name),
        host: s.host.clone(),
    }
}

/// The last reconcile pass's word on a slot: "restart in 4s", "restart due". The plan is from
/// the last pass: only believed while the slot still needs a start.
fn plan_note(
    sup: &crate::controller::Supervisor,
    st: &SlotStatus,
    m: Option<&crate::memory::SlotMemory>,
    now: Millis,
) -> Option<String> {
    let slot = st.slot;
    let needs_start = matches!(st.state, State::Missing | State::Failed);
    if let Some(w) = sup
        .last_plan
        .backing_off
        .iter()
        .find(|w| w.slot == slot && needs_start)
    {
        let until = m.map_or(w.until, |m| next_start_allowed(m, &sup.config.backoff));
        return Some(format!("restart in {}", ms_until(until, now)));
    }
    (needs_start && sup.mode.acts() && sup.last_plan.ops.iter().any(|o| o.slot() == slot))
        .then(|| "restart due".to_string())
}

/// "host unreachable, as of 12s ago" (or "never seen").
fn unreachable_note(h: &crate::hosts::HostStatus, now: Millis) -> String {
    match h.last_seen {
        Some(at) => format!("host unreachable, as of {} ago", short_age(now - at)),
        None => "host unreachable, never seen".to_string(),
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
        key: e.key(),
        host: e.host.map(str::to_string),
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

/// Every row to show, in order: the app's selection, with its pool and section headers;
/// with other hosts in the config, each host's pools, strays and other sessions under its
/// own header, this machine's first.
pub fn rows(app: &App, now: Millis) -> Vec<Row<'_>> {
    let sup = &app.sup;
    let shown = app.selection();
    let mut out = Vec::new();
    if sup.layout.hosts.is_empty() {
        host_rows(app, &shown, None, now, &mut out);
        return out;
    }
    for place in shown.places.clone() {
        let mut rows = Vec::new();
        host_rows(app, &shown, place, now, &mut rows);
        if rows.is_empty() {
            continue;
        }
        out.push(Row::Host(host_row(app, place, now)));
        out.extend(rows);
    }
    out
}

fn host_row(app: &App, place: Option<&str>, now: Millis) -> HostRow {
    let Some(name) = place else {
        return HostRow {
            name: None,
            title: format!("this machine  tmux {}", app.server),
            up: true,
        };
    };
    let sup = &app.sup;
    let dest = sup.config.hosts.get(name).map_or_else(String::new, |h| {
        let port = h.port.map_or_else(String::new, |p| format!(":{p}"));
        let server = match h.endpoint.label().as_str() {
            "default" => String::new(),
            label => format!("  tmux {label}"),
        };
        format!("{}{port}{server}", h.ssh)
    });
    let known = sup.hosts.get(name);
    let state = match known {
        None => "not polled yet".to_string(),
        Some(h) if h.up() => "up".to_string(),
        Some(h) => format!(
            "UNREACHABLE{}: {}",
            h.last_seen.map_or_else(
                || ", never seen".to_string(),
                |at| format!(", last seen {} ago", short_age(now - at))
            ),
            h.reason.as_deref().unwrap_or("no answer")
        ),
    };
    HostRow {
        name: Some(name.to_string()),
        title: format!("{name}  {dest}  {state}"),
        up: known.is_some_and(crate::hosts::HostStatus::up),
    }
}

/// The rows of one host (`None`: this machine).
fn host_rows<'a>(
    app: &'a App,
    shown: &crate::app::selection::Selection<'a>,
    place: Option<&str>,
    now: Millis,
    out: &mut Vec<Row<'a>>,
) {
    let sup = &app.sup;
    let obs = sup.last.as_ref();
    let session = |e| Row::Session(session_row(app, e, now));
    for (g, members) in &shown.pools {
        let g = &sup.layout.groups[*g];
        if g.host.as_deref() != place {
            continue;
        }
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
    let strays: Vec<_> = shown.strays.iter().filter(|e| e.host == place).collect();
    if !strays.is_empty() {
        out.push(Row::Section(format!("strays  {}", strays.len())));
        out.extend(strays.into_iter().map(session));
    }
    let others: Vec<_> = shown.others.iter().filter(|e| e.host == place).collect();
    if !others.is_empty() {
        out.push(Row::Section(format!("other sessions  {}", others.len())));
        out.extend(others.into_iter().map(session));
    }
}
