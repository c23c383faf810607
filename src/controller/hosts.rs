//! The other hosts in the controller: each poll says which answered; the log says when one
//! stops or starts answering again, and the slots, strays and other sessions of a host that
//! does not answer keep what was last known of them (no op is planned there).

use std::collections::BTreeSet;

use super::Supervisor;
use crate::hosts::HostStatus;
use crate::memory::EventKind;
use crate::observe::{Cause, Observation, State};
use crate::time::Millis;
use crate::tmux::Snapshot;

impl Supervisor {
    /// Folds the hosts' answers of a poll into what is known of each and into `obs`. Returns
    /// the hosts read now for the first time since they were last not (or since the start):
    /// what their slots were before is not known, so nothing of theirs is a transition now
    /// (no crash is found, no notice sent, as for every slot at the first poll).
    pub(super) fn fold_hosts(
        &mut self,
        snapshot: &Snapshot,
        obs: &mut Observation,
        now: Millis,
    ) -> Vec<String> {
        let mut fresh = Vec::new();
        for a in &snapshot.hosts {
            let was = self.hosts.get(&a.name).map(HostStatus::up);
            let h = self
                .hosts
                .entry(a.name.clone())
                .or_insert_with(|| HostStatus {
                    name: a.name.clone(),
                    reason: None,
                    last_seen: None,
                    server_pid: None,
                });
            match &a.error {
                None => {
                    if was != Some(true) {
                        fresh.push(a.name.clone());
                    }
                    let pid = snapshot
                        .panes
                        .iter()
                        .find(|p| p.host() == Some(a.name.as_str()))
                        .map(|p| p.server_pid);
                    let before = std::mem::replace(&mut h.server_pid, pid);
                    h.reason = None;
                    h.last_seen = Some(now);
                    if let Some(old) = before.filter(|&old| pid != Some(old)) {
                        self.another_server(&a.name, old, pid, now);
                    }
                    if was == Some(false) {
                        self.memory.push(
                            now,
                            EventKind::Info,
                            "",
                            format!("host {} answers again: reconciling it", a.name),
                        );
                    }
                }
                Some(e) => {
                    h.reason = Some(e.clone());
                    if was != Some(false) {
                        self.memory.push(
                            now,
                            EventKind::Error,
                            "",
                            format!(
                                "host {} unreachable: {e}; its slots keep their last known state and nothing is done there",
                                a.name
                            ),
                        );
                    }
                }
            }
        }
        obs.hosts = self.hosts.values().cloned().collect();
        for slot in &self.layout.slots {
            if slot.host.as_ref().is_some_and(|h| fresh.contains(h))
                && let Some(m) = self.memory.slots.get_mut(&slot.name)
            {
                m.last_state = None;
            }
        }
        self.keep_what_was_known(obs);
        fresh
    }

    /// The slots, strays and other sessions of the hosts that did not answer, as the last
    /// observation had them.
    fn keep_what_was_known(&self, obs: &mut Observation) {
        let down: BTreeSet<String> = obs
            .hosts
            .iter()
            .filter(|h| !h.up())
            .map(|h| h.name.clone())
            .collect();
        if down.is_empty() {
            return;
        }
        let is_down = |host: Option<&str>| host.is_some_and(|h| down.contains(h));
        for st in &mut obs.slots {
            let Some(host) = self.layout.slots[st.slot].host.as_deref() else {
                continue;
            };
            if !down.contains(host) {
                continue;
            }
            if let Some(before) = self.last.as_ref().and_then(|o| o.slot(st.slot)) {
                *st = before.clone();
            } else {
                st.state = State::Absent;
                st.cause = Cause::Unreachable {
                    host: host.to_string(),
                };
                st.pane = None;
            }
        }
        if let Some(before) = &self.last {
            obs.strays.extend(
                before
                    .strays
                    .iter()
                    .filter(|s| is_down(s.pane.host()))
                    .cloned(),
            );
            obs.others
                .extend(before.others.iter().filter(|p| is_down(p.host())).cloned());
        }
    }

    /// Another host's tmux server is not the one the last poll read: said, and what was
    /// captured of its panes dropped (a new server reuses pane ids).
    fn another_server(&mut self, host: &str, old: u32, new: Option<u32>, now: Millis) {
        let mark = format!("@{host}");
        self.captures.retain(|id, _| !id.ends_with(&mark));
        self.read_at.retain(|id, _| !id.ends_with(&mark));
        let text = match new {
            Some(pid) => format!("host {host}: the tmux server changed (pid {old} → {pid})"),
            None => format!("host {host}: the tmux server is gone: no sessions"),
        };
        self.memory.push(now, EventKind::Info, "", text);
    }

    /// The states before this poll, as transitions are counted: those of the slots of a
    /// `fresh` host (see [`Supervisor::fold_hosts`]) are taken as they are now.
    pub(super) fn before_for(
        &self,
        before: &[State],
        fresh: &[String],
        obs: &Observation,
    ) -> Vec<State> {
        let mut out = before.to_vec();
        for st in &obs.slots {
            let on_fresh = self.layout.slots[st.slot]
                .host
                .as_ref()
                .is_some_and(|h| fresh.contains(h));
            if on_fresh && let Some(b) = out.get_mut(st.slot) {
                *b = st.state;
            }
        }
        out
    }

    /// How many of the other hosts answered the last poll, and how many there are.
    pub fn hosts_up(&self) -> (usize, usize) {
        let up = self.hosts.values().filter(|h| h.up()).count();
        (up, self.layout.hosts.len())
    }
}
