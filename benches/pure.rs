//! Criterion benchmarks of the pure parts at 20, 200 and 1000 sessions: parsing a `list-panes`
//! snapshot, observation (`observe` + `remember`, and `Supervisor::on_poll`), and `plan()`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tmux_supervisor::config::Config;
use tmux_supervisor::controller::Supervisor;
use tmux_supervisor::fixtures::{self, pane, sized, snapshot_line};
use tmux_supervisor::jobs::PollResult;
use tmux_supervisor::memory::Memory;
use tmux_supervisor::observe::{ExternalStatus, Observation, observe};
use tmux_supervisor::pool::Layout;
use tmux_supervisor::reconcile::plan;
use tmux_supervisor::remember::remember;
use tmux_supervisor::time::Millis;
use tmux_supervisor::tmux::Snapshot;

const SIZES: [usize; 3] = [20, 200, 1000];
/// A fixed "now": 1000 s after the fixture panes' last activity, so every shell is idle.
const NOW: Millis = 2_000_000;

/// The benchmark config of `n` slots (`fixtures::sized`) and its layout.
fn config(n: usize) -> (Config, Layout) {
    let cfg = sized(n);
    let layout = Layout::new(&cfg);
    assert_eq!(layout.slots.len(), n);
    (cfg, layout)
}

/// The `list-panes` text of a server holding exactly the slots of `layout` whose index passes
/// `keep` (each a live shell).
fn snapshot_text(layout: &Layout, keep: impl Fn(usize) -> bool) -> String {
    let mut text = String::new();
    for (i, slot) in layout.slots.iter().enumerate().filter(|(i, _)| keep(*i)) {
        text.push_str(&snapshot_line(&pane(&slot.name, i as u32)));
    }
    text
}

/// The memory after a first poll of `snap` (the steady state of a running supervisor).
fn warmed(cfg: &Config, layout: &Layout, snap: &Snapshot) -> (Memory, Observation) {
    let mut memory = Memory::default();
    let mut obs = observe_once(cfg, layout, snap);
    remember(&mut obs, layout, &cfg.backoff, &mut memory, NOW - 1000);
    (memory, obs)
}

fn observe_once(cfg: &Config, layout: &Layout, snap: &Snapshot) -> Observation {
    let captures: HashMap<String, String> = HashMap::new();
    observe(
        layout,
        &cfg.agent,
        snap,
        &captures,
        &ExternalStatus::new(),
        &Memory::default(),
        NOW,
    )
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_snapshot");
    for n in SIZES {
        let (_, layout) = config(n);
        let text = snapshot_text(&layout, |_| true);
        assert_eq!(fixtures::parse(&text).panes.len(), n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| fixtures::parse(black_box(text)));
        });
    }
    g.finish();
}

fn observation(c: &mut Criterion) {
    let mut g = c.benchmark_group("observe_remember");
    for n in SIZES {
        let (cfg, layout) = config(n);
        let snap = fixtures::parse(&snapshot_text(&layout, |_| true));
        let (memory, _) = warmed(&cfg, &layout, &snap);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_batched_ref(
                || memory.clone(),
                |memory| {
                    let mut obs = observe_once(&cfg, &layout, black_box(&snap));
                    remember(&mut obs, &layout, &cfg.backoff, memory, NOW);
                    obs
                },
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();

    // What the program runs per poll after the tmux call: `Supervisor::on_poll`.
    let mut g = c.benchmark_group("on_poll");
    for n in SIZES {
        let (cfg, layout) = config(n);
        let snap = fixtures::parse(&snapshot_text(&layout, |_| true));
        let result = PollResult {
            snapshot: snap,
            ..PollResult::default()
        };
        let mut sup = Supervisor::without_memory(cfg);
        sup.on_poll(result.clone(), NOW - 1000);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_batched(
                || result.clone(),
                |r| sup.on_poll(r, NOW),
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

/// Which slots (by index) have a live session in a `plan()` case.
type Keep = fn(usize) -> bool;

fn planning(c: &mut Criterion) {
    let cases: [(&str, Keep); 3] = [
        ("all_up", |_| true),
        ("every_other_missing", |i| i % 2 == 0),
        ("all_missing", |_| false),
    ];
    for (case, keep) in cases {
        let mut g = c.benchmark_group(format!("plan/{case}"));
        for n in SIZES {
            let (cfg, layout) = config(n);
            // Memory from a poll when everything was up, then the observation of this case.
            let full = fixtures::parse(&snapshot_text(&layout, |_| true));
            let (mut memory, _) = warmed(&cfg, &layout, &full);
            let snap = fixtures::parse(&snapshot_text(&layout, keep));
            let mut obs = observe_once(&cfg, &layout, &snap);
            remember(&mut obs, &layout, &cfg.backoff, &mut memory, NOW);
            let p = plan(&layout, &cfg.backoff, &obs, &memory, NOW);
            if case == "all_up" {
                assert!(p.ops.is_empty());
            } else {
                assert!(!p.ops.is_empty());
            }
            g.throughput(Throughput::Elements(n as u64));
            g.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter(|| plan(&layout, &cfg.backoff, black_box(&obs), &memory, NOW));
            });
        }
        g.finish();
    }
}

criterion_group!(benches, parse, observation, planning);
criterion_main!(benches);
