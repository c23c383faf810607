//! Sample data for tests and benchmarks: panes, snapshots and the production layout.

use crate::config::{Config, DEFAULT_YAML};
use crate::pool::Layout;
use crate::tmux::Pane;

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
        current_command: "bash".to_string(),
        title: String::new(),
        current_path: "/home/op".to_string(),
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

/// A `list-panes` output line in the snapshot format, for parser tests and benchmarks.
pub fn snapshot_line(p: &Pane) -> String {
    let opt = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or_default();
    [
        p.server_pid.to_string(),
        p.session_id.clone(),
        p.session_name.clone(),
        p.session_created.to_string(),
        p.session_activity.to_string(),
        p.session_attached.to_string(),
        p.window_activity.to_string(),
        p.pane_id.clone(),
        p.pane_pid.to_string(),
        u8::from(p.pane_dead).to_string(),
        opt(p.dead_status),
        opt(p.dead_signal),
        p.current_command.clone(),
        p.title.clone(),
        p.current_path.clone(),
    ]
    .join("\t")
}
