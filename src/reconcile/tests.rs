//! Tests of `plan()`: policies, backoff, budgets, and the invariants as property tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::config::Config;
use crate::fixtures::{dead, pane, production};
use crate::memory::{InFlight, Memory, SlotMemory};
use crate::observe::{ExternalStatus, observe};
use crate::tmux::{Pane, Snapshot};

const NOW: Millis = 1_000_000_000;

fn observe_panes(cfg: &Config, layout: &Layout, panes: Vec<Pane>) -> Observation {
    let snap = Snapshot {
        panes,
        rejected: Vec::new(),
        hosts: Vec::new(),
    };
    let mut obs = observe(
        layout,
        &cfg.agent,
        &snap,
        &HashMap::new(),
        &ExternalStatus::new(),
        &Memory::default(),
        NOW,
    );
    // Every pane here is one the supervisor started (a test below says otherwise).
    for s in &mut obs.slots {
        s.owned = s.pane.is_some();
    }
    obs
}

fn names(layout: &Layout, plan: &Plan) -> Vec<String> {
    plan.ops.iter().map(|o| o.describe(layout)).collect()
}

#[test]
fn empty_server_creates_exactly_the_auto_pool() {
    let (cfg, layout) = production();
    let obs = observe_panes(&cfg, &layout, vec![pane("ccl-auto0", 1), pane("main", 2)]);
    let p = plan(&layout, &cfg.backoff, &obs, &Memory::default(), NOW);
    let want: Vec<String> = (11..=20).map(|i| format!("create ccl-auto-{i}")).collect();
    assert_eq!(names(&layout, &p), want);
}

#[test]
fn dead_panes_are_respawned_in_place() {
    let (cfg, layout) = production();
    let obs = observe_panes(&cfg, &layout, vec![dead(pane("ccl-auto-11", 7), 1)]);
    let p = plan(&layout, &cfg.backoff, &obs, &Memory::default(), NOW);
    assert_eq!(
        p.ops[0],
        Op::Respawn {
            slot: layout.slot("ccl-auto-11").unwrap(),
            pane_id: "%7".into(),
            old_pane_pid: 10_007
        }
    );
}

#[test]
fn a_pane_the_supervisor_did_not_start_is_never_respawned() {
    let (cfg, layout) = production();
    let mut obs = observe_panes(
        &cfg,
        &layout,
        vec![
            dead(pane("ccl-auto-11", 7), 1),
            dead(pane("ccl-auto-12", 8), 1),
        ],
    );
    // ccl-auto-11's dead pane is the operator's (or the session someone else made).
    obs.slots[layout.slot("ccl-auto-11").unwrap()].owned = false;
    let p = plan(&layout, &cfg.backoff, &obs, &Memory::default(), NOW);
    let touched: Vec<String> = names(&layout, &p)
        .into_iter()
        .filter(|n| n.contains("ccl-auto-11") || n.contains("ccl-auto-12"))
        .collect();
    assert_eq!(touched, vec!["respawn ccl-auto-12"]);
}

#[test]
fn manual_pool_is_never_touched() {
    let (cfg, layout) = production();
    let obs = observe_panes(&cfg, &layout, vec![dead(pane("ccl-3", 1), 1)]);
    let p = plan(&layout, &cfg.backoff, &obs, &Memory::default(), NOW);
    assert!(p.ops.iter().all(|o| layout.slots[o.slot()].group == "auto"));
}

#[test]
fn on_failure_restarts_only_bad_endings() {
    let cfg = Config::parse(
        "pools:\n  - {name: w, prefix: \"w-\", max: 3, restart: on-failure}\n",
        "t",
    )
    .unwrap();
    let layout = Layout::new(&cfg);
    let obs = observe_panes(
        &cfg,
        &layout,
        vec![dead(pane("w-0", 1), 0), dead(pane("w-1", 2), 2)],
    );
    let mut mem = Memory::default();
    mem.slot_mut("w-2").clean_exit = true;
    let p = plan(&layout, &cfg.backoff, &obs, &mem, NOW);
    assert_eq!(names(&layout, &p), vec!["respawn w-1"]);
    // Never seen before: started.
    let p = plan(&layout, &cfg.backoff, &obs, &Memory::default(), NOW);
    assert_eq!(names(&layout, &p), vec!["respawn w-1", "create w-2"]);
}

#[test]
fn slots_above_min_are_watched_not_kept() {
    let cfg = Config::parse(
        "pools:\n  - {name: w, prefix: \"w-\", max: 4, min: 1, restart: always}\n",
        "t",
    )
    .unwrap();
    let layout = Layout::new(&cfg);
    let obs = observe_panes(&cfg, &layout, vec![dead(pane("w-2", 1), 1)]);
    let p = plan(&layout, &cfg.backoff, &obs, &Memory::default(), NOW);
    assert_eq!(names(&layout, &p), vec!["create w-0"]);
}

fn backoff() -> BackoffConfig {
    BackoffConfig {
        initial: Duration::from_secs(2),
        max: Duration::from_secs(300),
        reset_after: Duration::from_secs(600),
        max_restarts: 0,
    }
}

#[test]
fn backoff_starts_immediately_then_doubles_to_the_cap() {
    let delays: Vec<i64> = (0..12).map(|n| backoff_delay(n, &backoff())).collect();
    assert_eq!(
        delays,
        vec![
            0, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000,
            300_000
        ]
    );
    assert_eq!(backoff_delay(u32::MAX, &backoff()), 300_000);
    let m = SlotMemory {
        restarts: 2,
        last_start: Some(10_000),
        ..SlotMemory::default()
    };
    assert_eq!(next_start_allowed(&m, &backoff()), 14_000);
    assert_eq!(
        next_start_allowed(&SlotMemory::default(), &backoff()),
        Millis::MIN
    );
}

#[test]
fn backoff_holds_a_crash_loop() {
    let (cfg, layout) = production();
    let obs = observe_panes(&cfg, &layout, vec![dead(pane("ccl-auto-11", 1), 3)]);
    let mut mem = Memory::default();
    *mem.slot_mut("ccl-auto-11") = SlotMemory {
        restarts: 3,
        last_start: Some(NOW - 7_000),
        ..SlotMemory::default()
    };
    let p = plan(&layout, &cfg.backoff, &obs, &mem, NOW);
    assert!(!p.ops.iter().any(|o| o.slot() == 10), "{:?}", p.ops);
    assert_eq!(
        p.backing_off,
        vec![Waiting {
            slot: 10,
            until: NOW + 1_000
        }]
    );
    let p = plan(&layout, &cfg.backoff, &obs, &mem, NOW + 1_000);
    assert!(
        p.ops
            .iter()
            .any(|o| matches!(o, Op::Respawn { slot: 10, .. }))
    );
}

#[test]
fn max_restarts_gives_up() {
    let (mut cfg, layout) = production();
    cfg.backoff.max_restarts = 3;
    let obs = observe_panes(&cfg, &layout, vec![dead(pane("ccl-auto-11", 1), 3)]);
    let mut mem = Memory::default();
    mem.slot_mut("ccl-auto-11").restarts = 3;
    mem.slot_mut("ccl-auto-11").last_start = Some(0);
    let p = plan(&layout, &cfg.backoff, &obs, &mem, NOW);
    assert!(p.ops.contains(&Op::GiveUp { slot: 10 }));
    mem.slot_mut("ccl-auto-11").gave_up = true;
    let p = plan(&layout, &cfg.backoff, &obs, &mem, NOW);
    assert!(!p.ops.iter().any(|o| o.slot() == 10));
}

#[test]
fn at_most_ten_starts_per_pass() {
    let cfg = Config::parse(
        "pools:\n  - {name: w, prefix: \"w-\", max: 25, restart: always}\n",
        "t",
    )
    .unwrap();
    let layout = Layout::new(&cfg);
    let obs = observe_panes(&cfg, &layout, vec![]);
    let p = plan(&layout, &cfg.backoff, &obs, &Memory::default(), NOW);
    assert_eq!(p.ops.len(), STARTS_PER_PASS);
    assert_eq!(p.deferred, 15);
}

// ---------------------------------------------------------------------------------------------
// Invariants.

fn arb_pane(name: String, n: u32) -> impl Strategy<Value = Pane> {
    (
        any::<bool>(),
        prop::option::of(-1i32..5),
        prop::sample::select(vec!["bash", "claude", "vim"]),
    )
        .prop_map(move |(is_dead, status, cmd)| {
            let mut p = pane(&name, n);
            p.pane_dead = is_dead;
            p.dead_status = status;
            p.current_command = cmd.to_string();
            p
        })
}

/// Some sessions over a name space that mixes slots, strays and others.
fn arb_panes() -> impl Strategy<Value = Vec<Pane>> {
    let names = prop::sample::subsequence(
        (0..25)
            .map(|i| format!("ccl-auto-{i}"))
            .chain((0..12).map(|i| format!("ccl-{i}")))
            .chain(["ccl-auto0", "main", "ccl-auto-11-old", "x"].map(String::from))
            .collect::<Vec<_>>(),
        0..30,
    );
    names.prop_flat_map(|ns| {
        ns.into_iter()
            .enumerate()
            .map(|(i, n)| arb_pane(n, i as u32))
            .collect::<Vec<_>>()
    })
}

fn arb_memory() -> impl Strategy<Value = Memory> {
    prop::collection::btree_map(
        (11u32..21).prop_map(|i| format!("ccl-auto-{i}")),
        (0u32..8, any::<bool>(), any::<bool>(), 0i64..100_000),
        0..10,
    )
    .prop_map(|m| {
        let mut mem = Memory::default();
        for (name, (restarts, flying, gave_up, ago)) in m {
            let s = mem.slot_mut(&name);
            s.restarts = restarts;
            s.gave_up = gave_up;
            s.last_start = Some(NOW - ago);
            s.in_flight = flying.then_some(InFlight {
                op: crate::memory::Action::Create,
                since: NOW - 1,
                old_pane_pid: None,
            });
        }
        mem
    })
}

proptest! {
    #[test]
    fn plan_only_touches_supervised_slots_without_an_op_in_flight(
        panes in arb_panes(), mem in arb_memory()
    ) {
        let (cfg, layout) = production();
        let mut obs = observe_panes(&cfg, &layout, panes);
        for (i, s) in obs.slots.iter_mut().enumerate() {
            s.owned = s.owned && i % 2 == 0;
        }
        let p = plan(&layout, &cfg.backoff, &obs, &mem, NOW);
        let mut seen = std::collections::HashSet::new();
        for op in &p.ops {
            let slot = &layout.slots[op.slot()];
            // Never a respawn of a pane the supervisor did not start.
            if matches!(op, Op::Respawn { .. }) {
                prop_assert!(obs.slots[op.slot()].owned, "{:?} on {}", op, slot.name);
            }
            // Only slots, only supervised ones: never a stray, an other or restart: never.
            prop_assert!(slot.supervised(), "{:?} on {}", op, slot.name);
            prop_assert!(slot.group == "auto");
            prop_assert!(mem.slot(&slot.name).is_none_or(|m| m.in_flight.is_none() && !m.gave_up));
            // One op per slot per pass.
            prop_assert!(seen.insert(op.slot()));
        }
        let starts = p.ops.iter().filter(|o| !matches!(o, Op::GiveUp { slot: _ })).count();
        prop_assert!(starts <= STARTS_PER_PASS);
    }

    #[test]
    fn backoff_never_shrinks_inside_a_crash_loop(
        initial in 1u64..10_000, max in 1u64..1_000_000, n in 1u32..64
    ) {
        let cfg = BackoffConfig {
            initial: Duration::from_millis(initial),
            max: Duration::from_millis(max.max(initial)),
            reset_after: Duration::from_secs(600),
            max_restarts: 0,
        };
        prop_assert!(backoff_delay(n + 1, &cfg) >= backoff_delay(n, &cfg));
        prop_assert!(backoff_delay(n, &cfg) <= cfg.max.as_millis() as i64);
    }
}
