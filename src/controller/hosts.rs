//! The other hosts in the controller: each poll says which answered; the log says when one
//! stops or starts answering again, and the slots, strays and other sessions of a host that
//! does not answer keep what was last known of them (no op is planned there).

use std::collections::BTreeSet;

use super::Supervisor;
use crate::hosts::HostStatus;
use crate::memory::EventKind;
use crate::observe::{Cause, Observation, State};
use crate::time::Millis;
use crate::tmux::HostPoll;

impl Supervisor {
    /// Folds the hosts' answers of a poll into what is known of each and into `obs`.
    pub(super) fn fold_hosts(&mut self, answers: &[HostPoll], obs: &mut Observation, now: Millis) {
        for a in answers {
            let was = self.hosts.get(&a.name).map(|h| h.up);
            let h = self
                .hosts
                .entry(a.name.clone())
                .or_insert_with(|| HostStatus {
                    name: a.name.clone(),
                    up: false,
                    reason: None,
                    last_seen: None,
                });
            match &a.error {
                None => {
                    h.up = true;
                    h.reason = None;
                    h.last_seen = Some(now);
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
                    h.up = false;
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
        let down: BTreeSet<&str> = obs
            .hosts
            .iter()
            .filter(|h| !h.up)
            .map(|h| h.name.as_str())
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

    /// How many of the other hosts answered the last poll, and how many there are.
    pub fn hosts_up(&self) -> (usize, usize) {
        let up = self.hosts.values().filter(|h| h.up).count();
        (up, self.layout.hosts.len().max(self.hosts.len()))
    }
}
