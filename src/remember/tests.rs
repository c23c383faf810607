//! Tests of folding observations into the memory, by theme; here the one-poll harness they share.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use super::*;
use crate::fixtures::{dead, pane, production, running};
use crate::memory::SlotMemory;
use crate::observe::{ExternalStatus, SlotStatus, observe};
use crate::tmux::Snapshot;

const NOW: Millis = 1_000_000_000;

fn state_of<'a>(obs: &'a Observation, layout: &Layout, name: &str) -> &'a SlotStatus {
    let i = layout.slot(name).unwrap();
    obs.slots.iter().find(|s| s.slot == i).unwrap()
}

fn quiet(p: Pane) -> Pane {
    Pane {
        window_activity: NOW / 1000 - 60,
        ..p
    }
}

/// Runs observe + remember for one poll.
fn poll(
    layout: &Layout,
    cfg: &crate::config::Config,
    mem: &mut Memory,
    panes: Vec<Pane>,
    caps: &HashMap<String, String>,
    now: Millis,
) -> Observation {
    let mut obs = observe(
        layout,
        &cfg.agent,
        &Snapshot {
            panes,
            rejected: Vec::new(),
            hosts: Vec::new(),
        },
        caps,
        &ExternalStatus::new(),
        mem,
        now,
    );
    remember(&mut obs, layout, &cfg.backoff, mem, now);
    obs
}

mod backoff;
mod crashes;
mod event_log;
mod in_flight;
mod old_memory;
