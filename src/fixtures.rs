//! Sample data for tests and benchmarks: panes, snapshots and the production layout.

use crate::config::{Config, DEFAULT_YAML};
use crate::controller::Supervisor;
use crate::jobs::PollResult;
use crate::observe::State;
use crate::pool::Layout;
use crate::tmux::{Nonce, Pane, Snapshot, format_record, parse_snapshot};

/// The production config (embedded default) with `~` as `/home/op`, and its layout.
pub fn production() -> (Config, Layout) {
    match Config::parse_with_home(DEFAULT_YAML, "default", std::path::Path::new("/home/op")) {
        Ok(cfg) => {
            let layout = Layout::new(&cfg);
            (cfg, layout)
        }
        Err(e) => panic!("the embedded default config must load: {e}"),
    }
}

/// A production-shaped config with `n` slots for benchmarks: a `restart: never` pool `ccl-0..`
/// of n/2 slots and a `restart: always` pool `ccl-auto-0..` of the rest, polled every second.
pub fn sized(n: usize) -> Config {
    let half = n / 2;
    let yaml = format!(
        "poll_interval: 1s\nreconcile_interval: 5s\npools:\n  - {{name: manual, prefix: \"ccl-\", start_index: 0, max: {half}, restart: never}}\n  - {{name: auto, prefix: \"ccl-auto-\", start_index: 0, max: {}, restart: always}}\n",
        n - half
    );
    match Config::parse_with_home(&yaml, "bench", std::path::Path::new("/home/op")) {
        Ok(cfg) => cfg,
        Err(e) => panic!("the sized config must load: {e}"),
    }
}

/// A live pane of session `name` running a shell, quiet since the epoch.
pub fn pane(name: &str, n: u32) -> Pane {
    Pane {
        server_pid: 100,
        session_id: format!("${n}"),
        session_name: name.to_string(),
        session_created: 1_000,
        session_activity: 1_000,
        session_attached: 0,
        window_activity: 1_000,
        pane_id: format!("%{n}"),
        pane_pid: 10_000 + n,
        pane_dead: false,
        dead_status: None,
        dead_signal: None,
        server_version: "3.3a".to_string(),
        current_command: "bash".to_string(),
        title: String::new(),
        current_path: "/home/op".to_string(),
        died_hook: String::new(),
    }
}

/// The same pane running `command` in the foreground.
pub fn running(mut p: Pane, command: &str) -> Pane {
    p.current_command = command.to_string();
    p
}

/// The same pane, dead with an exit status.
pub fn dead(mut p: Pane, status: i32) -> Pane {
    p.pane_dead = true;
    p.dead_status = Some(status);
    p
}

/// The nonce of the hand-made snapshots below.
pub fn nonce() -> Nonce {
    Nonce::fixed("TSUPfixture")
}

/// A `list-panes` output record in the snapshot format (newline included), for parser tests
/// and benchmarks.
pub fn snapshot_line(p: &Pane) -> String {
    format_record(p, &nonce())
}

/// Parses hand-made snapshot text built with [`snapshot_line`].
pub fn parse(text: &str) -> Snapshot {
    parse_snapshot(text, &nonce())
}

/// A poll that saw `panes`, with `captures` as (pane id, text).
pub fn polled(panes: Vec<Pane>, captures: &[(&str, &str)]) -> PollResult {
    PollResult {
        snapshot: Snapshot {
            panes,
            rejected: Vec::new(),
            hosts: Vec::new(),
        },
        captures: captures
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        ..PollResult::default()
    }
}

/// A slot's state and its reason, as the supervisor's last poll decided them.
///
/// # Panics
/// When `name` is not a slot or nothing was polled yet.
pub fn state_of(sup: &Supervisor, name: &str) -> (State, String) {
    let Some(i) = sup.layout.slot(name) else {
        panic!("{name} is not a slot");
    };
    let Some(obs) = sup.last.as_ref() else {
        panic!("nothing polled yet");
    };
    (obs.slots[i].state, obs.slots[i].reason())
}

/// A working agent in ccl-auto-12 (pane %12, pid 10012).
pub fn working() -> PollResult {
    polled(
        vec![running(pane("ccl-auto-12", 12), "claude")],
        &[("%12", "Thinking… (esc to interrupt)")],
    )
}

/// The production layout polled fast, as loop tests use it.
pub const PRODUCTION_FAST: &str = r#"
poll_interval: 500ms
reconcile_interval: 1s
pools:
  - name: manual
    prefix: "ccl-"
    start_index: 0
    max: 10
    restart: never
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: 10
    restart: always
"#;
