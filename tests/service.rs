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
