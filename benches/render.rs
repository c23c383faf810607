//! Criterion benchmarks of the UI at 20, 200 and 1000 sessions: building the rows from the
//! supervisor's state, and building them plus drawing one whole frame into a `TestBackend`
//! at 120×40 and 200×60 (table view, the selection on the last slot so the table scrolls).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tmux_supervisor::app::App;
use tmux_supervisor::controller::Supervisor;
use tmux_supervisor::fixtures::{self, pane, sized, snapshot_line};
use tmux_supervisor::jobs::PollResult;
use tmux_supervisor::time::Millis;
use tmux_supervisor::ui;

const SIZES: [usize; 3] = [20, 200, 1000];
const NOW: Millis = 2_000_000;

/// A UI over `n` slots (half a `never` pool, half an `always` pool), every other auto slot
/// live, after one poll: a mix of idle, missing and absent rows.
fn app(n: usize) -> App {
    let cfg = sized(n);
    let mut sup = Supervisor::without_memory(cfg);
    let mut text = String::new();
    for (i, slot) in sup.layout.slots.iter().enumerate() {
        if i % 2 == 0 {
            text.push_str(&snapshot_line(&pane(&slot.name, i as u32)));
        }
    }
    let result = PollResult {
        snapshot: fixtures::parse(&text),
        ..PollResult::default()
    };
    sup.on_poll(result, NOW);
    let mut app = App::new(sup, "-L bench", false);
    app.selected = app.sup.layout.slots.last().map(|s| s.name.clone());
    app
}

fn render(c: &mut Criterion) {
    let mut rows = c.benchmark_group("rows");
    for n in SIZES {
        let app = app(n);
        rows.bench_with_input(BenchmarkId::from_parameter(n), &app, |b, app| {
            b.iter(|| black_box(ui::rows::rows(app, NOW)));
        });
    }
    rows.finish();
    for (w, h) in [(120u16, 40u16), (200, 60)] {
        let mut frame = c.benchmark_group(format!("frame_{w}x{h}"));
        for n in SIZES {
            let app = app(n);
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            frame.bench_with_input(BenchmarkId::from_parameter(n), &app, |b, app| {
                b.iter(|| {
                    term.draw(|f| ui::draw(f, app, NOW)).unwrap();
                });
            });
        }
        frame.finish();
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
