//! What the operator can select: the sessions shown, in screen order (each pool's slots, the
//! strays, the other sessions when shown) after the name filter, built from the layout and the
//! last observation; and the reasons to ask before acting on one ([`Concern`]).

use std::fmt;

use crate::config::Restart;
use crate::observe::{Observation, State};
use crate::pool::Layout;
use crate::tmux::Pane;

/// What a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// A configured slot (index into the layout's slots).
    Slot(usize),
    /// Not a slot, but looks like a member of this pool.
    Stray { pool: &'a str },
    /// Neither.
    Other,
}

/// One session the operator can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a str,
    /// The host of the session (`None`: this machine).
    pub host: Option<&'a str>,
    pub kind: Kind<'a>,
    /// A slot's state at the last poll; `None` before the first poll, and for strays and
    /// other sessions.
    pub state: Option<State>,
    /// The pane read for it, when the session exists on the server.
    pub pane: Option<&'a Pane>,
}

impl Entry<'_> {
    /// The session exists on the server.
    pub fn live(&self) -> bool {
        self.pane.is_some()
    }

    /// What the selection keeps: the name of a session of this machine, `HOST:NAME` for
    /// another host's (two hosts may each have a `main`; no session name holds a `:`, tmux
    /// rewrites it, so no name of this machine's reads as another host's).
    pub fn key(&self) -> String {
        entry_key(self.host, self.name)
    }
}

/// The selection key of a session named `name` on `host`: `name`, or `HOST:NAME`.
pub fn entry_key(host: Option<&str>, name: &str) -> String {
    match host {
        None => name.to_string(),
        Some(h) => format!("{h}:{name}"),
    }
}

/// Every session the operator can select, grouped as the screen shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection<'a> {
    /// Per pool (index into the layout's groups) its slots that pass the filter, in layout
    /// order; a pool with none is left out.
    pub pools: Vec<(usize, Vec<Entry<'a>>)>,
    pub strays: Vec<Entry<'a>>,
    /// Empty unless the other sessions are shown.
    pub others: Vec<Entry<'a>>,
    /// This machine (`None`), then each other host: the order the screen groups them in.
    pub places: Vec<Option<&'a str>>,
}

/// True when `name` passes the name filter (case-insensitive substring).
pub fn passes(filter: &str, name: &str) -> bool {
    filter.is_empty() || name.to_lowercase().contains(&filter.to_lowercase())
}

impl<'a> Selection<'a> {
    /// The sessions shown for `layout` and the last observation (none yet: the slots only).
    pub fn new(
        layout: &'a Layout,
        obs: Option<&'a Observation>,
        filter: &str,
        show_others: bool,
    ) -> Self {
        let mut out = Selection {
            places: std::iter::once(None)
                .chain(layout.hosts.iter().map(|h| Some(h.as_str())))
                .collect(),
            ..Selection::default()
        };
        for (g, group) in layout.groups.iter().enumerate() {
            let members: Vec<Entry<'a>> = group
                .slots
                .iter()
                .filter(|&&i| passes(filter, &layout.slots[i].name))
                .map(|&i| {
                    let st = obs.and_then(|o| o.slot(i));
                    Entry {
                        name: &layout.slots[i].name,
                        host: layout.slots[i].host.as_deref(),
                        kind: Kind::Slot(i),
                        state: st.map(|s| s.state),
                        pane: st.and_then(|s| s.pane.as_ref()),
                    }
                })
                .collect();
            if !members.is_empty() {
                out.pools.push((g, members));
            }
        }
        let Some(obs) = obs else { return out };
        out.strays = obs
            .strays
            .iter()
            .filter(|s| passes(filter, &s.name))
            .map(|s| Entry {
                name: &s.name,
                host: s.pane.host(),
                kind: Kind::Stray { pool: &s.pool },
                state: None,
                pane: Some(&s.pane),
            })
            .collect();
        if show_others {
            out.others = obs
                .others
                .iter()
                .filter(|p| passes(filter, &p.session_name))
                .map(|p| Entry {
                    name: &p.session_name,
                    host: p.host(),
                    kind: Kind::Other,
                    state: None,
                    pane: Some(p),
                })
                .collect();
        }
        out
    }

    /// Every entry, in screen order: per place (this machine, then each host), its pools'
    /// slots, its strays, its other sessions.
    pub fn entries(&self) -> impl Iterator<Item = &Entry<'a>> {
        self.places.iter().flat_map(move |&place| {
            self.pools
                .iter()
                .filter(move |(_, members)| members.first().is_some_and(|e| e.host == place))
                .flat_map(|(_, members)| members)
                .chain(self.strays.iter().filter(move |e| e.host == place))
                .chain(self.others.iter().filter(move |e| e.host == place))
        })
    }

    /// The keys of the entries ([`Entry::key`]), in screen order.
    pub fn names(&self) -> Vec<String> {
        self.entries().map(Entry::key).collect()
    }

    /// The entry of the session with this key ([`Entry::key`]), if it is shown.
    pub fn find(&self, key: &str) -> Option<&Entry<'a>> {
        self.entries().find(|e| e.key() == key)
    }

    /// What stays selected: `selected` while it is shown, else the first entry (if any).
    pub fn kept(&self, selected: Option<&str>) -> Option<String> {
        match selected {
            Some(s) if self.find(s).is_some() => Some(s.to_string()),
            _ => self.entries().next().map(Entry::key),
        }
    }

    /// The entry a move leads to: `to(position of selected, count)`, kept inside the list; a
    /// selection not shown moves from the first entry. `None` when nothing is shown.
    pub fn moved(
        &self,
        selected: Option<&str>,
        to: impl Fn(usize, usize) -> usize,
    ) -> Option<String> {
        let names = self.names();
        if names.is_empty() {
            return None;
        }
        let at = selected
            .and_then(|s| names.iter().position(|n| *n == s))
            .unwrap_or(0);
        let i = to(at, names.len()).min(names.len() - 1);
        Some(names[i].clone())
    }
}

/// A reason to ask before recreating or killing a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concern {
    /// The agent is working or waiting: a recreate or a kill interrupts it.
    Busy(State),
    /// The slot's pool is the operator's (`restart: never`).
    OperatorOwned { pool: String },
    /// The slot is above `min`: watched, not kept alive.
    AboveMin,
    /// The slot is kept alive: a killed session is created again.
    KeptAlive,
    /// The session is a stray of this pool.
    Stray { pool: String },
}

impl fmt::Display for Concern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concern::Busy(st) => write!(f, "it is {st}"),
            Concern::OperatorOwned { pool } => {
                write!(f, "pool {pool} is operator-owned (restart: never)")
            }
            Concern::AboveMin => f.write_str("it is not kept alive (above min)"),
            Concern::KeptAlive => f.write_str("it is kept alive: reconcile will create it again"),
            Concern::Stray { pool } => write!(f, "stray of pool {pool}"),
        }
    }
}

/// A working or waiting agent, from a state.
fn busy(state: Option<State>) -> Option<Concern> {
    match state {
        Some(st @ (State::Working | State::Waiting)) => Some(Concern::Busy(st)),
        _ => None,
    }
}

/// Why `r` on this slot needs a confirmation (empty: it does not).
pub fn recreate_concerns(layout: &Layout, obs: Option<&Observation>, slot: usize) -> Vec<Concern> {
    let s = &layout.slots[slot];
    let mut why: Vec<Concern> = busy(obs.and_then(|o| o.slot(slot)).map(|x| x.state))
        .into_iter()
        .collect();
    if s.restart == Restart::Never {
        why.push(Concern::OperatorOwned {
            pool: s.group.clone(),
        });
    } else if !s.supervised() {
        why.push(Concern::AboveMin);
    }
    why
}

/// What the question before `x` on this session says (it always asks).
pub fn kill_concerns(layout: &Layout, entry: &Entry<'_>) -> Vec<Concern> {
    let mut why = Vec::new();
    match entry.kind {
        Kind::Slot(i) if layout.slots[i].supervised() => why.push(Concern::KeptAlive),
        Kind::Stray { pool } => why.push(Concern::Stray {
            pool: pool.to_string(),
        }),
        _ => {}
    }
    why.extend(busy(entry.state));
    why
}

#[cfg(test)]
mod tests;
