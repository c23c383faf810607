//! The daemon under a service manager: what it says on `NOTIFY_SOCKET` (`READY=1` after the
//! first poll, `WATCHDOG=1` at half of `WATCHDOG_USEC`, `RELOADING=1` with `MONOTONIC_USEC`
//! then `READY=1` on SIGHUP, `STOPPING=1` on SIGTERM), read from a datagram socket of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::TestServer;
use common::process::{Daemon, Home, signal};

/// Reads datagrams into `seen` until `done(seen)` (each message is `KEY=VALUE` lines).
fn wait_for(
    sock: &UnixDatagram,
    seen: &mut Vec<String>,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0_u8; 4096];
    while !done(seen) {
        assert!(Instant::now() < deadline, "no {what} in {seen:?}");
        if let Ok(n) = sock.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

/// How many messages hold a line starting with `line`.
fn count(seen: &[String], line: &str) -> usize {
    seen.iter()
        .filter(|m| m.lines().any(|l| l.starts_with(line)))
        .count()
}

#[test]
fn the_daemon_tells_the_service_manager_what_it_does() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(
        r#"
poll_interval: 200ms
reconcile_interval: 500ms
pools:
  - name: svc
    prefix: "svc-"
    max: 2
    restart: always
"#,
    );
    let path = home.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut command = home.command(&server, &config);
    command
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID");
    let mut daemon = Daemon::spawn(command);
    let mut seen = Vec::new();
    wait_for(&sock, &mut seen, "READY=1", |s| count(s, "READY=1") == 1);
    assert!(count(&seen, "STATUS=") >= 1, "{seen:?}");
    // The watchdog, every 200 ms: three pings within a few seconds.
    let started = Instant::now();
    let pings = count(&seen, "WATCHDOG=1");
    wait_for(&sock, &mut seen, "three pings", |s| {
        count(s, "WATCHDOG=1") >= pings + 3
    });
    assert!(started.elapsed() < Duration::from_secs(5), "{seen:?}");
    // The pool comes up: the status says so.
    wait_for(&sock, &mut seen, "STATUS=2 up", |s| {
        count(s, "STATUS=2 up") >= 1
    });
    // A reload is announced with the time, then ready again.
    seen.clear();
    signal(daemon.child.id(), "HUP");
    wait_for(&sock, &mut seen, "RELOADING=1", |s| {
        count(s, "READY=1") >= 1
    });
    let reloading = seen
        .iter()
        .find(|m| m.lines().any(|l| l == "RELOADING=1"))
        .unwrap_or_else(|| panic!("no RELOADING=1 before READY=1: {seen:?}"));
    assert!(
        reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{seen:?}"
    );
    assert!(daemon.alive());
    signal(daemon.child.id(), "TERM");
    wait_for(&sock, &mut seen, "STOPPING=1", |s| {
        count(s, "STOPPING=1") >= 1
    });
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

/// Under systemd (`INVOCATION_ID`), with no tmux server running, the daemon starts the server
/// through `systemd-run --user --scope` (here a fake first on PATH that records its argv and
/// runs the rest), so the server is not in the service's cgroup; SIGKILL of the daemon leaves
/// every session alive. Without systemd-run it says so and starts the server itself.
#[test]
fn under_systemd_the_server_is_started_in_a_scope_of_its_own() {
    use std::os::unix::fs::PermissionsExt as _;
    for with_systemd_run in [true, false] {
        let server = TestServer::new();
        let home = Home::new();
        let config = home.config(
            "poll_interval: 200ms\nreconcile_interval: 500ms\npools:\n  - {name: s, prefix: \"s-\", max: 2, restart: always}\n",
        );
        let bin = home.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let log = home.path().join("systemd-run.log");
        if with_systemd_run {
            let fake = bin.join("systemd-run");
            std::fs::write(
                &fake,
                format!(
                    "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nwhile [ \"$1\" != -- ]; do shift; done\nshift\nexec \"$@\"\n",
                    log.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // Without the fake, PATH holds no systemd-run at all: only tmux.
        let path = if with_systemd_run {
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
        } else {
            std::os::unix::fs::symlink(common::fake_tmux::real_tmux(), bin.join("tmux")).unwrap();
            bin.display().to_string()
        };
        let mut command = home.command(&server, &config);
        command
            .env("INVOCATION_ID", "0123456789abcdef")
            .env("PATH", &path);
        let mut daemon = Daemon::spawn(command);
        server.wait_until("the pool is up", Duration::from_secs(30), || {
            server.session_names().len() == 2
        });
        if with_systemd_run {
            let calls = std::fs::read_to_string(&log).unwrap();
            let calls: Vec<&str> = calls.lines().collect();
            // Tried once, then only the call that started the server.
            assert_eq!(calls.len(), 2, "{calls:?}");
            assert_eq!(calls[0], "--user --scope --quiet --collect -- true");
            assert!(
                calls[1].starts_with("--user --scope --quiet --collect -- tmux -u -L")
                    && calls[1].contains("new-session"),
                "{calls:?}"
            );
        } else {
            // No systemd-run that works (none, or one without a user manager, as here).
            assert!(!log.exists());
            server.wait_until("it said so", Duration::from_secs(10), || {
                home.log_text().contains("systemd-run cannot")
            });
        }
        signal(daemon.child.id(), "KILL");
        let _ = daemon.child.wait();
        assert_eq!(
            server.session_names().len(),
            2,
            "the sessions died with the daemon"
        );
    }
}

/// `daemon --metrics ADDR` serves Prometheus text on `/metrics`, answered from what the last
/// poll saw; its slot counts are what `check --json` says at the same moment.
#[test]
fn metrics_are_served_as_prometheus_text_and_match_check() {
    use std::io::{Read as _, Write as _};
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(
        "poll_interval: 200ms\nreconcile_interval: 500ms\npools:\n  - {name: m, prefix: \"m-\", max: 3, restart: always}\n  - {name: w, prefix: \"w-\", max: 2, restart: never}\n",
    );
    let mut command = home.command(&server, &config);
    command.args(["daemon", "--metrics", "127.0.0.1:0"]);
    let mut daemon = Daemon {
        child: command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    };
    let mut addr = String::new();
    home.wait("the metrics address is logged", || {
        let log = home.log_text();
        log.split("metrics on http://")
            .nth(1)
            .and_then(|rest| rest.split("/metrics").next())
            .is_some_and(|a| {
                addr = a.to_string();
                true
            })
    });
    home.wait("the pool is up", || server.session_names().len() == 3);
    let get = |path: &str| {
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        text
    };
    // Slot counts are whole numbers, rounded from the text.
    let idle_in = |text: &str| -> u64 {
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        let lines = body.lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
        scrape
            .samples
            .iter()
            .filter(|s| {
                s.metric == "tmux_supervisor_slots" && s.labels.get("state") == Some("idle")
            })
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum::<f64>()
            .round() as u64
    };
    // Wait until the metrics see the pool idle, then compare with check at that moment.
    home.wait("the metrics show the pool idle", || {
        idle_in(&get("/metrics")) == 3
    });
    let text = get("/metrics");
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    for name in [
        "tmux_supervisor_starts_total",
        "tmux_supervisor_poll_seconds_bucket",
        "tmux_supervisor_tmux_calls_total",
        "tmux_supervisor_last_poll_age_seconds",
        "tmux_supervisor_recoveries_total",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    let (_, json) = home.check_json(&server, &config);
    let idle = json["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "idle")
        .count();
    assert_eq!(idle_in(&text), idle as u64);
    // An agent's hook event is counted by its name once.
    let key = tmux_supervisor::socket::key(&tmux_supervisor::socket::server_socket(
        Some(&server.socket),
        None,
    ));
    let rec = tmux_supervisor::claude::events::HookRecord {
        event: "Stop".into(),
        at_ms: tmux_supervisor::runner::now_ms() as u64,
        slot: Some("m-1".into()),
        ..Default::default()
    };
    tmux_supervisor::claude::events::record(&home.state_dir(), &key, &rec).unwrap();
    home.wait("the hook event is counted", || {
        get("/metrics").contains("tmux_supervisor_hook_events_total{event=\"Stop\"} 1")
    });
    // A killed slot is a recovery once it is back.
    server.tmux_ok(&["kill-session", "-t", "=m-1:"]);
    home.wait("the recovery is counted", || {
        get("/metrics").contains("tmux_supervisor_recoveries_total 1")
    });
    assert!(get("/other").starts_with("HTTP/1.1 404"));
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn metrics_on_an_address_in_use_start_nothing() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config("pools:\n  - {name: m, prefix: \"m-\", max: 1, restart: always}\n");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = home
        .command(&server, &config)
        .args(["daemon", "--metrics", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot serve metrics on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(server.session_names().is_empty(), "it started the pool");
}
