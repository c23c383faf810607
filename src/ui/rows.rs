//! The view model: `rows(&App, now)` turns the supervisor's state into display rows (pool
//! headers, slots, strays, others) with every text already decided; drawing only lays them out.

use crate::app::App;
use crate::config::Restart;
use crate::observe::{SlotStatus, State, exit_words};
use crate::reconcile::next_start_allowed;
use crate::time::{Millis, age_since_secs, ms_until, short_age};
use crate::tmux::Pane;
use crate::ui::theme::Mark;

/// One line of the sessions list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// A pool (or the dedicated sessions) header.
    Group(GroupRow),
    /// The header of the strays or others section.
    Section(String),
    /// A session: a slot, a stray or another session.
    Session(SessionRow),
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

/// What a session row is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A configured slot (index into the layout's slots).
    Slot(usize),
    Stray {
        pool: String,
    },
    Other,
}

/// A session row, all text decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub kind: Kind,
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

impl Row {
    pub fn session(&self) -> Option<&SessionRow> {
        match self {
            Row::Session(s) => Some(s),
            _ => None,
        }
    }
}

/// True when `name` passes the name filter (case-insensitive substring).
pub fn passes(filter: &str, name: &str) -> bool {
    filter.is_empty() || name.to_lowercase().contains(&filter.to_lowercase())
}

fn slot_row(app: &App, st: Option<&SlotStatus>, slot: usize, now: Millis) -> SessionRow {
    let sup = &app.sup;
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

fn pane_row(
    kind: Kind,
    mark: Mark,
    p: &Pane,
    state: &str,
    note: String,
    now: Millis,
) -> SessionRow {
    SessionRow {
        kind,
        mark,
        name: p.session_name.clone(),
        cell: p.session_name.clone(),
        state: state.to_string(),
        command: p.current_command.clone(),
        output: age_since_secs(p.window_activity, now),
        uptime: age_since_secs(p.session_created, now),
        restarts: String::new(),
        note,
        live: true,
    }
}

/// Every row to show, in order, after the name filter.
pub fn rows(app: &App, now: Millis) -> Vec<Row> {
    let sup = &app.sup;
    let obs = sup.last.as_ref();
    let mut out = Vec::new();
    for g in &sup.layout.groups {
        let mut members = Vec::new();
        let up = obs.map_or(0, |o| o.up(&g.slots));
        for &i in &g.slots {
            let st = obs.and_then(|o| o.slot(i));
            if passes(&app.filter, &sup.layout.slots[i].name) {
                members.push(Row::Session(slot_row(app, st, i, now)));
            }
        }
        if members.is_empty() {
            continue;
        }
        out.push(Row::Group(GroupRow {
            name: g.name.clone(),
            range: g.range.clone(),
            restart: g
                .restart
                .map_or_else(|| "per session".to_string(), |r| r.as_str().to_string()),
            up,
            total: g.slots.len(),
        }));
        out.extend(members);
    }
    let Some(obs) = obs else { return out };
    let strays: Vec<Row> = obs
        .strays
        .iter()
        .filter(|s| passes(&app.filter, &s.name))
        .map(|s| {
            Row::Session(pane_row(
                Kind::Stray {
                    pool: s.pool.clone(),
                },
                Mark::Stray,
                &s.pane,
                "stray",
                format!("looks like pool {}; not a slot, left alone", s.pool),
                now,
            ))
        })
        .collect();
    if !strays.is_empty() {
        out.push(Row::Section(format!("strays  {}", strays.len())));
        out.extend(strays);
    }
    if app.show_others {
        let others: Vec<Row> = obs
            .others
            .iter()
            .filter(|p| passes(&app.filter, &p.session_name))
            .map(|p| {
                let note = if p.session_attached > 0 {
                    "attached".to_string()
                } else {
                    String::new()
                };
                Row::Session(pane_row(Kind::Other, Mark::Other, p, "other", note, now))
            })
            .collect();
        if !others.is_empty() {
            out.push(Row::Section(format!("other sessions  {}", others.len())));
            out.extend(others);
        }
    }
    out
}

/// The names of the session rows of [`rows`], in the same order, without building the rows:
/// what selection and movement need after every message.
pub fn names(app: &App) -> Vec<String> {
    let sup = &app.sup;
    let passing = |n: &&str| passes(&app.filter, n);
    let mut out: Vec<String> = sup
        .layout
        .groups
        .iter()
        .flat_map(|g| g.slots.iter().map(|&i| sup.layout.slots[i].name.as_str()))
        .filter(passing)
        .map(str::to_string)
        .collect();
    if let Some(obs) = sup.last.as_ref() {
        out.extend(
            obs.strays
                .iter()
                .map(|s| s.name.as_str())
                .filter(passing)
                .map(str::to_string),
        );
        if app.show_others {
            out.extend(
                obs.others
                    .iter()
                    .map(|p| p.session_name.as_str())
                    .filter(passing)
                    .map(str::to_string),
            );
        }
    }
    out
}

/// A reason to ask before recreating a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concern {
    /// The agent is working or waiting: a recreate interrupts it.
    Busy(State),
    /// The slot's pool is the operator's (`restart: never`).
    OperatorOwned { pool: String },
    /// The slot is above `min`: watched, not kept alive.
    AboveMin,
}

impl std::fmt::Display for Concern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Concern::Busy(st) => write!(f, "it is {st}"),
            Concern::OperatorOwned { pool } => {
                write!(f, "pool {pool} is operator-owned (restart: never)")
            }
            Concern::AboveMin => f.write_str("it is not kept alive (above min)"),
        }
    }
}

/// Why `r` on this slot needs a confirmation (empty: it does not).
pub fn recreate_concerns(app: &App, slot: usize) -> Vec<Concern> {
    let sup = &app.sup;
    let s = &sup.layout.slots[slot];
    let mut why = Vec::new();
    let state = sup
        .last
        .as_ref()
        .and_then(|o| o.slot(slot))
        .map(|x| x.state);
    if let Some(st @ (State::Working | State::Waiting)) = state {
        why.push(Concern::Busy(st));
    }
    if s.restart == Restart::Never {
        why.push(Concern::OperatorOwned {
            pool: s.group.clone(),
        });
    } else if !s.supervised() {
        why.push(Concern::AboveMin);
    }
    why
}
