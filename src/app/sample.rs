//! A mixed production state for UI tests: every slot state, two strays, one other session,
//! a few events, all at a fixed `NOW` (never the real clock).

use std::collections::HashMap;

use crate::app::App;
use crate::controller::Supervisor;
use crate::fixtures::{dead, pane, production, running};
use crate::jobs::PollResult;
use crate::memory::{EventKind, InFlight, OwnedPane};
use crate::observe::{External, ExternalState, ExternalStatus};
use crate::time::Millis;
use crate::tmux::{Pane, Snapshot};

/// The fixed clock of every UI test.
pub const NOW: Millis = 1_700_000_000_000;
const NOW_S: i64 = NOW / 1000;

fn aged(mut p: Pane, created_ago_s: i64, output_ago_s: i64) -> Pane {
    p.session_created = NOW_S - created_ago_s;
    p.session_activity = NOW_S - output_ago_s;
    p.window_activity = NOW_S - output_ago_s;
    p
}

/// The panes of the mixed server.
pub fn panes() -> Vec<Pane> {
    let mut attached = aged(running(pane("ccl-0", 1), "claude"), 7_200, 300);
    attached.session_attached = 1;
    vec![
        attached,
        aged(running(pane("ccl-1", 2), "claude"), 3_600, 20),
        aged(pane("ccl-auto-11", 11), 120, 100),
        aged(running(pane("ccl-auto-12", 12), "claude"), 5_400, 10),
        aged(running(pane("ccl-auto-13", 13), "claude"), 5_400, 40),
        aged(dead(running(pane("ccl-auto-16", 16), "claude"), 1), 900, 60),
        aged(running(pane("ccl-auto-17", 17), "node"), 1_800, 1),
        aged(pane("ccl-auto-18", 18), 86_400 * 2, 3_000),
        aged(pane("ccl-auto-19", 19), 86_400 * 2, 3_000),
        aged(pane("ccl-auto-20", 20), 86_400 * 2, 3_000),
        aged(pane("ccl-auto0", 30), 600, 600),
        aged(running(pane("ccl-12", 31), "claude"), 600, 500),
        aged(running(pane("main", 40), "vim"), 90_000, 5),
    ]
}

/// The poll that shows [`panes`], with captures and the status file.
pub fn poll() -> PollResult {
    let captures: HashMap<String, String> = [
        ("%2", "Reading src/app.rs\n✻ Thinking… (esc to interrupt)"),
        (
            "%12",
            "● Running the tests\n  cargo test --all\n  test result: ok. 41 passed\n✻ Compacting… (esc to interrupt)",
        ),
        (
            "%13",
            "Edit file src/ui/mod.rs?\nDo you want to make this edit?\n❯ 1. Yes\n  2. No",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let external: ExternalStatus = [(
        "ccl-auto-12".to_string(),
        External {
            state: ExternalState::Working,
            task: Some("fix flaky test #42".to_string()),
        },
    )]
    .into_iter()
    .collect();
    PollResult {
        snapshot: Snapshot {
            panes: panes(),
            rejected: Vec::new(),
            hosts: Vec::new(),
        },
        captures,
        external,
        warnings: Vec::new(),
        ..PollResult::default()
    }
}

/// The supervisor after one poll of the mixed server and one reconcile pass (planned while
/// paused, so nothing is marked in flight), then resumed.
pub fn supervisor() -> Supervisor {
    let (config, _) = production();
    let mut sup = Supervisor::without_memory(config);
    {
        let m = sup.memory.slot_mut("ccl-auto-11");
        m.restarts = 1;
        m.total_restarts = 1;
        m.last_start = Some(NOW - 120_000);
    }
    {
        let m = sup.memory.slot_mut("ccl-auto-14");
        m.restarts = 2;
        m.total_restarts = 3;
        m.last_start = Some(NOW - 1_000);
    }
    {
        let m = sup.memory.slot_mut("ccl-auto-15");
        m.restarts = 1;
        m.total_restarts = 1;
        m.last_start = Some(NOW - 2_000);
        m.in_flight = Some(InFlight {
            op: crate::memory::Action::Create,
            since: NOW - 2_000,
            old_pane_pid: None,
        });
    }
    sup.memory.push(
        NOW - 300_000,
        EventKind::Created,
        "ccl-auto-11",
        "created ccl-auto-11: created $11",
    );
    sup.memory.push(
        NOW - 61_000,
        EventKind::Failed,
        "ccl-auto-14",
        "ccl-auto-14 crashed while working (session vanished)",
    );
    sup.memory.push(
        NOW - 2_000,
        EventKind::Error,
        "ccl-auto-14",
        "create ccl-auto-14 failed: working directory /home/op does not exist or is not a directory",
    );
    // The supervisor started every auto session that is there.
    for p in panes()
        .iter()
        .filter(|p| p.session_name.starts_with("ccl-auto-"))
    {
        sup.memory.slot_mut(&p.session_name).pane = Some(OwnedPane {
            server_pid: p.server_pid,
            session_id: p.session_id.clone(),
            pane_id: p.pane_id.clone(),
        });
    }
    sup.on_poll(poll(), NOW);
    sup.mode.paused = true;
    let jobs = sup.reconcile(NOW);
    assert!(jobs.is_empty());
    sup.mode.paused = false;
    sup
}

/// The app over [`supervisor`], outside tmux, first row selected.
pub fn app() -> App {
    let mut app = App::new(supervisor(), "default", false);
    app.selected = Some("ccl-0".to_string());
    app
}
