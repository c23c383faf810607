//! Fault injection against the real binary and real tmux: the server killed, its socket
//! deleted or replaced; tmux missing, too old or printing garbage (a fake `tmux` on PATH that
//! also records every argv, to prove every target is exact); creates that fail or lose a race;
//! a state dir or state file that is broken; several supervisors; a thousand sessions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::fake_tmux::FakeTmux;
use common::process::{Daemon, Home, PATIENCE, signal, slot, start_times};
use common::{PRODUCTION_FAST, TestServer, auto_pool};
use serde_json::Value;
use tmux_supervisor::config::Config;
use tmux_supervisor::controller::Supervisor;
use tmux_supervisor::jobs::{OpJob, OpKind};
use tmux_supervisor::runner;
use tmux_supervisor::tmux::{Launch, TmuxCli};

// ---------------------------------------------------------------------------------------------
// Helpers

fn sorted<S: Into<String>>(v: impl IntoIterator<Item = S>) -> Vec<String> {
    let mut v: Vec<String> = v.into_iter().map(Into::into).collect();
    v.sort();
    v
}

/// Session name → session id, for every session of the server.
fn session_ids(server: &TestServer) -> BTreeMap<String, String> {
    let out = server.tmux(&["list-sessions", "-F", "#{session_name}\t#{session_id}"]);
    if !out.status.success() {
        return BTreeMap::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, i)| (n.to_string(), i.to_string()))
        .collect()
}

/// The pid of the tmux server answering on the test socket.
fn server_pid(server: &TestServer) -> Option<u32> {
    let out = server.tmux(&["list-sessions", "-F", "#{pid}"]);
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Kills a process this test started (an orphaned tmux server) when dropped.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if pid_alive(self.0) {
            signal(self.0, "KILL");
        }
    }
}

/// Events of the persisted memory: (kind, session name, text).
fn events(state: &Value) -> Vec<(String, String, String)> {
    state["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["kind"].as_str().unwrap_or_default().to_string(),
                        e["name"].as_str().unwrap_or_default().to_string(),
                        e["text"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every session the supervisor says it started or killed is one of `slots`.
fn assert_only_slots_acted_on(state: &Value, slots: &[String]) {
    for (kind, name, text) in events(state) {
        if ["created", "restarted", "recovered", "killed"].contains(&kind.as_str()) {
            assert!(
                slots.contains(&name),
                "acted on {name:?}, not a slot: {kind} {text}"
            );
        }
    }
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn is_id(s: &str, sigil: char) -> bool {
    s.strip_prefix(sigil)
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// `=NAME:` (NAME without `:`), `$N` or `%N`: what tmux resolves exactly, never by prefix.
fn is_exact_target(t: &str) -> bool {
    let by_name = t
        .strip_prefix('=')
        .and_then(|r| r.strip_suffix(':'))
        .is_some_and(|n| !n.is_empty() && !n.contains(':'));
    by_name || is_id(t, '$') || is_id(t, '%')
}

/// Every `-t` in every recorded call is exact; returns the targets seen.
fn assert_exact_targets(calls: &[Vec<String>]) -> Vec<String> {
    let mut targets = Vec::new();
    for call in calls {
        for w in call.windows(2) {
            if w[0] == "-t" {
                assert!(
                    is_exact_target(&w[1]),
                    "inexact target {:?} in tmux {call:?}",
                    w[1]
                );
                targets.push(w[1].clone());
            }
        }
    }
    targets
}

// ---------------------------------------------------------------------------------------------
// 1. The tmux server goes away

#[test]
fn server_killed_and_restarted_with_other_sessions_only_the_pool_is_recreated() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    server.new_session("main");
    let mut daemon = Daemon::start(&home, &server, &config);
    let mut want = auto_pool();
    want.push("main".into());
    let want = sorted(want);
    home.wait("the pool is up", || sorted(server.session_names()) == want);

    // Killed: the pool comes back on a new server, and nothing else does. Once the pool's
    // starts are in the state file, everything planned with them has run.
    let killed = runner::now_ms();
    server.kill_server();
    home.wait("the pool is back and its starts recorded", || {
        sorted(server.session_names()) == auto_pool()
            && home.all_started_since(&server, &auto_pool(), killed)
    });
    assert_eq!(sorted(server.session_names()), auto_pool());

    // Killed again and restarted at once by someone else, holding `main` and a stray.
    let killed = runner::now_ms();
    server.kill_server();
    // The dying server may still answer ("server exited unexpectedly"): retry until both
    // exist, on whichever server comes up first (ours or the daemon's).
    home.wait("main and ccl-auto0 exist", || {
        let names = server.session_names();
        let mut all = true;
        for name in ["main", "ccl-auto0"] {
            if !names.contains(&name.to_string()) {
                all = false;
                let _ = server.tmux(&["new-session", "-d", "-s", name]);
            }
        }
        all
    });
    let theirs: BTreeMap<String, String> = session_ids(&server)
        .into_iter()
        .filter(|(n, _)| n == "main" || n == "ccl-auto0")
        .collect();
    assert_eq!(theirs.len(), 2, "{theirs:?}");
    let mut want = auto_pool();
    want.extend(["main".into(), "ccl-auto0".into()]);
    let want = sorted(want);
    home.wait(
        "the pool is back beside them and its starts recorded",
        || {
            sorted(server.session_names()) == want
                && home.all_started_since(&server, &auto_pool(), killed)
        },
    );
    let ids = session_ids(&server);
    assert_eq!(sorted(ids.keys().cloned()), want);
    for (name, id) in &theirs {
        assert_eq!(ids.get(name), Some(id), "{name} was replaced or touched");
    }
    assert!(daemon.alive(), "the daemon died with the server");
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_only_slots_acted_on(&home.state(&server), &auto_pool());
    let (code, json) = home.check_json(&server, &config);
    assert_eq!(code, 1, "the stray is a problem: {json}");
    assert_eq!(json["strays"][0]["name"], "ccl-auto0");
    assert_eq!(json["others"], serde_json::json!(["main"]));
}

#[test]
fn socket_deleted_the_pool_is_recreated_on_a_new_server() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    server.new_session("main");
    let mut daemon = Daemon::start(&home, &server, &config);
    home.wait("the pool is up", || server.session_names().len() == 11);
    let old_pid = server_pid(&server).unwrap();
    // The old server keeps running, unreachable: this test must end it.
    let _old = KillOnDrop(old_pid);

    let deleted = runner::now_ms();
    std::fs::remove_file(server.socket_path().unwrap()).unwrap();
    home.wait(
        "a new server at that socket holds the pool (and only the pool)",
        || server_pid(&server).is_some_and(|p| p != old_pid),
    );
    // Once the pool's starts are in the state file, everything planned with them has run.
    home.wait("the pool is complete and its starts recorded", || {
        sorted(server.session_names()) == auto_pool()
            && home.all_started_since(&server, &auto_pool(), deleted)
    });
    assert!(pid_alive(old_pid), "the old server was killed");
    assert_eq!(sorted(server.session_names()), auto_pool());
    assert!(daemon.alive(), "the daemon died when the socket went away");
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!home.log_text().contains("panicked"));
    assert_only_slots_acted_on(&home.state(&server), &auto_pool());
}

// ---------------------------------------------------------------------------------------------
// 2. tmux missing or too old

#[test]
fn tmux_missing_from_path_exits_2_naming_tmux() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    let empty = tempfile::tempdir().unwrap();
    for args in [&["check"][..], &["check", "--json"], &["daemon"]] {
        let out = home
            .command(&server, &config)
            .env("PATH", empty.path())
            .args(args)
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("tmux not found"), "{args:?}: {err}");
        assert!(err.contains("tmux 3.2 or newer on PATH"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
    }
    assert!(!server.is_running());
}

#[test]
fn tmux_older_than_3_2_exits_2_saying_so() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    for args in [&["check"][..], &["check", "--json"], &["daemon"]] {
        let fake = FakeTmux::with_version("sessions", "tmux 3.1");
        let out = fake
            .command(&home, &server, &config)
            .args(args)
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("tmux 3.1 is too old"), "{args:?}: {err}");
        assert!(err.contains("3.2"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
        // Nothing but the version was asked: `check` reads it from the server it polls (one
        // call), the daemon asks `tmux -V` before anything else.
        let calls = fake.calls();
        let want = if args[0] == "check" {
            "list-panes"
        } else {
            "-V"
        };
        assert_eq!(calls.len(), 1, "{args:?}: {calls:?}");
        assert!(calls[0].iter().any(|a| a == want), "{args:?}: {calls:?}");
    }
}

#[test]
fn check_is_one_tmux_process_when_a_server_runs_and_asks_the_version_only_without_one() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    // `check --json` through a fresh logging fake: the tmux calls it made.
    let check = || {
        let fake = FakeTmux::new("passthrough");
        let out = fake
            .command(&home, &server, &config)
            .args(["check", "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        fake.calls()
    };
    let calls = check();
    assert_eq!(
        calls.len(),
        2,
        "no server: the poll, then `tmux -V`: {calls:?}"
    );
    assert!(calls[0].iter().any(|a| a == "list-panes"), "{calls:?}");
    assert_eq!(calls[1].last().map(String::as_str), Some("-V"), "{calls:?}");
    server.new_session("main");
    let calls = check();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].iter().any(|a| a == "list-panes"), "{calls:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. Garbage from tmux

#[test]
fn garbage_truncated_and_binary_tmux_output_is_skipped_by_check() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    for mode in ["garbage", "truncated", "binary", "mixed"] {
        let fake = FakeTmux::new(mode);
        let out = fake
            .command(&home, &server, &config)
            .args(["check", "--json"])
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{mode}: exit {:?}: {err}",
            out.status.code()
        );
        assert!(!err.contains("panicked"), "{mode}: {err}");
        assert!(
            err.contains("skipped") && err.contains("wrong shape"),
            "{mode}: check does not say it skipped lines: {err}"
        );
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{mode}: no JSON ({e}): {err}"));
        assert!(
            json["others"]
                .as_array()
                .unwrap()
                .contains(&Value::from("main")),
            "{mode}: the good line was lost: {json}"
        );
        match mode {
            "binary" => {
                let s = slot(&json, "ccl-auto-12");
                assert_eq!(s["present"], true, "{s}");
                assert_eq!(s["command"], "cl\u{fffd}aude", "{s}");
                assert!(
                    json["others"]
                        .as_array()
                        .unwrap()
                        .contains(&Value::from("weird-\u{fffd}\u{fffd}-name")),
                    "{json}"
                );
            }
            "truncated" | "mixed" => {
                assert_eq!(slot(&json, "ccl-auto-11")["present"], false);
            }
            _ => {}
        }
        let text = fake
            .command(&home, &server, &config)
            .arg("check")
            .output()
            .unwrap();
        assert!(
            matches!(text.status.code(), Some(0 | 1)),
            "{mode}: {}",
            stderr_of(&text)
        );
        // Only reads: check never acts.
        for call in fake.calls() {
            assert!(
                !call
                    .iter()
                    .any(|a| a == "new-session" || a == "respawn-pane"),
                "check acted: {call:?}"
            );
        }
    }
}

#[test]
fn garbage_tmux_output_never_stops_the_daemon_and_is_logged_once() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(
        r#"
poll_interval: 100ms
reconcile_interval: 500ms
pools:
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: 2
    restart: always
"#,
    );
    let fake = FakeTmux::new("mixed");
    let mut daemon = Daemon::spawn(fake.command(&home, &server, &config));
    home.wait("several polls", || fake.calls_with("list-panes") >= 15);
    assert!(daemon.alive(), "the daemon died on garbage");
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let log = home.log_text();
    let skipped = log
        .lines()
        .filter(|l| l.contains("not tmux output"))
        .count();
    // Said once while it stays the same, not twice per poll.
    assert_eq!(skipped, 1, "{log}");
    assert!(log.contains("wrong shape"), "{log}");
    // It still acted on what it could read: the missing slots were created.
    assert!(fake.calls_with("new-session") >= 1);
}

// ---------------------------------------------------------------------------------------------
// 10. Exact targets only

#[test]
fn every_tmux_command_uses_an_exact_target() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(
        r#"
poll_interval: 200ms
reconcile_interval: 500ms
pools:
  - name: fk
    prefix: "fk-"
    max: 3
    restart: always
"#,
    );
    // fk-0's dead pane is one this supervisor started (only those are respawned).
    let state = home.state_path(&server);
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(
        &state,
        r#"{"version": 2, "slots": {"fk-0": {"started_before": true,
            "pane": {"server_pid": 4242, "session_id": "$1", "pane_id": "%1"}}}}"#,
    )
    .unwrap();
    let fake = FakeTmux::new("sessions");
    let mut daemon = Daemon::spawn(fake.command(&home, &server, &config));
    home.wait("a respawn, a create and a capture were issued", || {
        let calls = fake.calls();
        let has = |w: &str| calls.iter().any(|c| c.iter().any(|a| a == w));
        has("respawn-pane") && has("new-session") && has("capture-pane")
    });
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    let out = fake
        .command(&home, &server, &config)
        .args(["check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));

    let calls = fake.calls();
    let targets = assert_exact_targets(&calls);
    for want in ["%1", "%2", "=fk-1:"] {
        assert!(
            targets.iter().any(|t| t == want),
            "{want} not in {targets:?}"
        );
    }
    // The stray fk-9 ($3, %3) and `main` ($4, %4) were never a target.
    for never in ["$3", "%3", "$4", "%4", "=fk-9:", "=main:"] {
        assert!(!targets.iter().any(|t| t == never), "{never} targeted");
    }
    // Creates name only slots.
    for call in &calls {
        if let Some(i) = call.iter().position(|a| a == "new-session") {
            let s = call[i..].windows(2).find(|w| w[0] == "-s").unwrap();
            assert_eq!(s[1], "fk-1", "{call:?}");
        }
    }
}

#[test]
fn kill_and_recreate_use_exact_targets_against_real_tmux() {
    let server = TestServer::new();
    // `-t ccl-auto-1` would match ccl-auto-11 by prefix once ccl-auto-1 is gone.
    for name in ["ccl-auto-1", "ccl-auto-11", "main"] {
        server.new_session(name);
    }
    let fake = FakeTmux::new("passthrough");
    let client: TmuxCli = server.client().with_program(fake.program());
    let config = Config::parse(PRODUCTION_FAST, "test").unwrap();

    let mut sup = Supervisor::without_memory(config.clone());
    let polled = sup.poll_job().run(&client);
    assert!(polled.error.is_none(), "{:?}", polled.error);
    sup.on_poll(polled, runner::now_ms());
    // A stray, killed by its id.
    let job = sup.kill("ccl-auto-1", runner::now_ms());
    let r = runner::execute(&client, vec![job]);
    assert!(r[0].outcome.is_ok(), "{:?}", r[0].outcome);
    // The slot, respawned in place by its pane id.
    let job = sup.recreate("ccl-auto-11", runner::now_ms()).unwrap();
    assert!(matches!(job.kind, OpKind::Respawn { .. }), "{job:?}");
    let r = runner::execute(&client, vec![job]);
    assert!(r[0].outcome.is_ok(), "{:?}", r[0].outcome);

    // A supervisor that has not seen it kills by exact name: the gone ccl-auto-1 is an
    // error, not ccl-auto-11.
    let mut blind = Supervisor::without_memory(config);
    let job = blind.kill("ccl-auto-1", runner::now_ms());
    let r = runner::execute(&client, vec![job]);
    assert!(r[0].outcome.is_err(), "{:?}", r[0].outcome);
    assert_eq!(sorted(server.session_names()), ["ccl-auto-11", "main"]);

    let targets = assert_exact_targets(&fake.calls());
    assert!(targets.iter().any(|t| t == "=ccl-auto-1:"), "{targets:?}");
    assert!(targets.iter().any(|t| t.starts_with('$')), "{targets:?}");
    assert!(targets.iter().any(|t| t.starts_with('%')), "{targets:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. Creating fails

#[test]
fn failing_creates_are_shown_failed_back_off_and_leave_the_healthy_pool_alone() {
    let server = TestServer::new();
    let home = Home::new();
    let missing = home.path().join("no-such-dir");
    let config = home.config(&format!(
        r#"
poll_interval: 500ms
reconcile_interval: 1s
pools:
  - name: healthy
    prefix: "ok-"
    max: 2
    restart: always
  - name: nodir
    prefix: "nodir-"
    max: 1
    restart: always
    workdir: "{}"
  - name: nocmd
    prefix: "nocmd-"
    max: 1
    restart: always
    command: ["no-such-command-xyz"]
backoff:
  initial: 2s
  max: 1m
"#,
        missing.display()
    ));
    let started = Instant::now();
    let mut daemon = Daemon::start(&home, &server, &config);
    home.wait("the healthy pool is up", || {
        let names = server.session_names();
        names.contains(&"ok-0".into()) && names.contains(&"ok-1".into())
    });
    let healthy: BTreeMap<String, String> = session_ids(&server)
        .into_iter()
        .filter(|(n, _)| n.starts_with("ok-"))
        .collect();

    let deadline = Instant::now() + PATIENCE;
    let last = loop {
        let (_, json) = home.check_json(&server, &config);
        let nodir = slot(&json, "nodir-0");
        let nocmd = slot(&json, "nocmd-0");
        let reason = |s: &Value, want: &[&str]| {
            s["reason"]
                .as_str()
                .is_some_and(|r| want.iter().all(|w| r.contains(w)))
        };
        if nodir["state"] == "failed"
            && reason(nodir, &["no-such-dir", "does not exist"])
            && nocmd["state"] == "failed"
            && reason(nocmd, &["exit 127 (command not found)"])
        {
            break json;
        }
        assert!(
            Instant::now() < deadline,
            "check does not show both failures with their reasons: {json:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(slot(&last, "nodir-0")["present"], false, "{last}");

    let state = failing_slots_back_off(&home, &server, started);
    let evs = events(&state);
    assert!(
        evs.iter()
            .filter(|(k, n, t)| k == "error" && n == "nodir-0" && t.contains("create"))
            .count()
            >= 4,
        "{state}"
    );
    assert!(start_times(&state, "nocmd-0").len() >= 4, "{state}");

    // The healthy pool was never touched.
    let now: BTreeMap<String, String> = session_ids(&server)
        .into_iter()
        .filter(|(n, _)| n.starts_with("ok-"))
        .collect();
    assert_eq!(now, healthy);
    for name in ["ok-0", "ok-1"] {
        assert_eq!(state["slots"][name]["restarts"], 0, "{state}");
    }
    assert_eq!(
        sorted(server.session_names()),
        ["nocmd-0", "ok-0", "ok-1"],
        "nodir-0 must never exist"
    );
    assert!(daemon.alive());
    assert_eq!(daemon.stop().0, Some(0));
}

/// Waits for three restarts of each failing slot of the test above and checks they backed
/// off; returns the state file's memory then.
fn failing_slots_back_off(home: &Home, server: &TestServer, started: Instant) -> Value {
    // Backoff: 2 s, doubling: the first start, an immediate retry, then +2 s, +4 s. Each
    // gap is taken between the plans (`last_start`, what the backoff counts from), read from
    // the state file while each is the last start: restart n + 1 comes at least
    // backoff_delay(n) after restart n. (The whole doubling series of a crash loop is
    // loop_tests' `a_crash_loop_restarts_at_once_then_backs_off_doubling`.)
    let mut planned: BTreeMap<&str, BTreeMap<u64, i64>> = BTreeMap::new();
    let mut state = Value::Null;
    home.wait("three restarts of each failing slot, done", || {
        state = home.state(server);
        let evs = events(&state);
        let mut all = true;
        for name in ["nodir-0", "nocmd-0"] {
            let m = &state["slots"][name];
            if let (Some(n), Some(t)) = (m["restarts"].as_u64(), m["last_start"].as_i64()) {
                planned.entry(name).or_default().insert(n, t);
            }
            // Four attempts: each a failed create, or a start of a command that is not there.
            let attempts = evs
                .iter()
                .filter(|(k, n, t)| {
                    n == name
                        && ((k == "error" && t.contains("create"))
                            || ["created", "restarted", "recovered"].contains(&k.as_str()))
                })
                .count();
            all &= m["restarts"].as_u64().is_some_and(|n| n >= 3) && attempts >= 4;
        }
        all
    });
    eprintln!(
        "after {:?}, plans by restart count: {planned:?}",
        started.elapsed()
    );
    for name in ["nodir-0", "nocmd-0"] {
        let at = &planned[name];
        for (n, want) in [(1, 2000), (2, 4000)] {
            let (Some(a), Some(b)) = (at.get(&n), at.get(&(n + 1))) else {
                panic!("{name}: restart {n} or {} never seen: {at:?}", n + 1);
            };
            assert!(
                b - a >= want,
                "{name}: restart {} {} ms after restart {n}, backoff {want} ms: {state}",
                n + 1,
                b - a
            );
        }
    }
    state
}

// ---------------------------------------------------------------------------------------------
// 5. Someone else creates the session first

#[test]
fn create_of_a_session_that_already_exists_is_ok_and_makes_no_second_one() {
    let server = TestServer::new();
    server.new_session("dup-0");
    server.new_session("dup-00");
    let before = session_ids(&server);
    let config = Config::parse(
        "pools:\n  - name: dup\n    prefix: \"dup-\"\n    max: 1\n    restart: always\n",
        "test",
    )
    .unwrap();
    let job = OpJob {
        name: "dup-0".into(),
        kind: OpKind::Create(Launch {
            name: "dup-0".into(),
            workdir: server.home.path().to_path_buf(),
            ..Launch::default()
        }),
        manual: false,
        host: None,
    };
    let results = runner::execute(&server.client(), vec![job]);
    assert!(
        matches!(
            results[0].outcome,
            Ok(tmux_supervisor::jobs::Done::AlreadyExisted)
        ),
        "{:?}",
        results[0].outcome
    );
    assert_eq!(session_ids(&server), before);

    let mut sup = Supervisor::without_memory(config);
    sup.on_executed(results, 1);
    assert!(sup.memory.slot("dup-0").unwrap().failed.is_none());
    assert!(
        sup.memory
            .events
            .iter()
            .all(|e| e.kind != tmux_supervisor::memory::EventKind::Error),
        "{:?}",
        sup.memory.events
    );
}

#[test]
fn daemon_losing_the_create_race_keeps_one_session_and_reports_no_error() {
    let server = TestServer::new();
    server.new_session("main");
    let home = Home::new();
    let config = home.config(
        r#"
poll_interval: 300ms
reconcile_interval: 1s
pools:
  - name: race
    prefix: "race-"
    max: 3
    restart: always
"#,
    );
    // Before each of the daemon's `new-session -s NAME`, the fake creates NAME itself.
    let fake = FakeTmux::new("race");
    let mut daemon = Daemon::spawn(fake.command(&home, &server, &config));
    let want = sorted(["main", "race-0", "race-1", "race-2"]);
    home.wait("the pool exists", || sorted(server.session_names()) == want);
    home.wait("the daemon saw each create lose", || {
        events(&home.state(&server))
            .iter()
            .filter(|(_, _, t)| t.contains("already existed"))
            .count()
            == 3
    });
    // Nothing is done about them after. The witness: five more polls (1.2 s at 300 ms)
    // take in a reconcile tick (1 s) on a poll that saw all three, and the fake records any
    // op that tick started.
    let ids = session_ids(&server);
    let polls = fake.calls_with("list-panes");
    home.wait("five more polls", || {
        fake.calls_with("list-panes") >= polls + 5
    });
    assert_eq!(session_ids(&server), ids, "a session was replaced");
    for op in ["kill-session", "respawn-pane"] {
        assert_eq!(fake.calls_with(op), 0, "{op}: {:?}", fake.calls());
    }
    assert!(daemon.alive());
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    let state = home.state(&server);
    let errors: Vec<_> = events(&state)
        .into_iter()
        .filter(|(k, _, _)| k == "error" || k == "failed")
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(fake.calls_with("new-session"), 3, "{:?}", fake.calls());
}

#[test]
fn a_session_killed_right_after_its_create_is_recreated_at_once() {
    let server = TestServer::new();
    server.new_session("main");
    let home = Home::new();
    let config = home.config(
        r#"
poll_interval: 300ms
reconcile_interval: 1s
pools:
  - name: gone
    prefix: "gone-"
    max: 2
    restart: always
"#,
    );
    // Each slot's first session is killed as soon as new-session returns: the poll after
    // the create does not show it. The create was done; the slot is missing again.
    let fake = FakeTmux::new("vanish");
    let started = Instant::now();
    let mut daemon = Daemon::spawn(fake.command(&home, &server, &config));
    home.wait("both slots exist", || {
        sorted(server.session_names()) == ["gone-0", "gone-1", "main"]
    });
    let took = started.elapsed();
    eprintln!("recreated after {took:?}");
    // Not after the 15 s an unconfirmed op may stay in flight.
    assert!(
        took < Duration::from_secs(10),
        "recreated only after {took:?}"
    );
    assert_eq!(fake.calls_with("new-session"), 4, "{:?}", fake.calls());
    assert!(daemon.alive());
    assert_eq!(daemon.stop().0, Some(0));
}

// ---------------------------------------------------------------------------------------------
// 6. The state dir and the state file

#[test]
fn state_dir_that_cannot_be_created_only_observes_and_says_why() {
    let server = TestServer::new();
    let home = Home::new();
    let blocker = home.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let config = home.config(&format!(
        r#"
poll_interval: 300ms
reconcile_interval: 1s
state_dir: "{}/sub"
pools:
  - name: st
    prefix: "st-"
    max: 2
    restart: always
"#,
        blocker.display()
    ));
    // The log goes elsewhere (--log-file): the lock cannot be taken, so nothing is done (a
    // second supervisor could be acting); the plan is still made, and said.
    let mut daemon = Daemon::start(&home, &server, &config);
    home.wait("the plan is made but not acted on", || {
        home.log_text()
            .contains("not acting on the plan: create st-0, create st-1")
    });
    assert!(server.session_names().is_empty());
    assert!(daemon.alive());
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("cannot take the lock")
            && stderr.contains("a-file/sub")
            && stderr.contains("observe-only until it can be taken"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "not a directory"
    );

    // Without --log-file the log belongs in the state dir too: it falls back to stderr.
    let mut c = Command::new(env!("CARGO_BIN_EXE_tmux-supervisor"));
    c.args(["-L", &server.socket, "-c"])
        .arg(&config)
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env("HOME", home.path())
        .stdin(Stdio::null());
    let fake = FakeTmux::new("passthrough");
    c.env("PATH", fake.path_env());
    let mut daemon = Daemon::spawn(c);
    home.wait("a few polls", || fake.calls_with("list-panes") >= 3);
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("not acting on the plan"), "{stderr}");
    assert!(stderr.contains("cannot write the log"), "{stderr}");
    assert!(stderr.contains("a-file/sub"), "{stderr}");
    assert!(server.session_names().is_empty());
}

#[test]
fn broken_state_files_keep_supervising_say_so_and_are_kept() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(
        r#"
poll_interval: 300ms
reconcile_interval: 1s
pools:
  - name: st
    prefix: "st-"
    max: 1
    restart: always
"#,
    );
    let path = home.state_path(&server);
    // A good file to cut short.
    let mut d = Daemon::start(&home, &server, &config);
    home.wait("a state file", || {
        home.state(&server)["slots"]["st-0"]["last_state"] == "idle"
    });
    d.stop();
    let good = std::fs::read(&path).unwrap();
    let newer = br#"{"version": 99, "from_the_future": {"x": 1},
        "slots": {"st-0": {"restarts": 2, "shiny": true}}, "events": []}"#
        .to_vec();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("truncated", good[..good.len() / 2].to_vec(), "corrupt"),
        ("empty", Vec::new(), "corrupt"),
        (
            "not UTF-8",
            b"\xff\xfe{\"slots\": \x80}".to_vec(),
            "corrupt",
        ),
        ("newer", newer, "newer"),
    ];
    for (what, bytes, says) in cases {
        for e in std::fs::read_dir(home.state_dir()).unwrap() {
            let p = e.unwrap().path();
            if p.to_string_lossy().contains(".corrupt-") {
                std::fs::remove_file(p).unwrap();
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        server.tmux_ok(&["kill-session", "-t", "=st-0:"]);
        let mut d = Daemon::start(&home, &server, &config);
        home.wait(
            &format!("{what}: st-0 is back and the state rewritten"),
            || {
                server.session_names() == ["st-0"]
                    && home.state(&server)["slots"]["st-0"]["last_state"] == "idle"
            },
        );
        assert!(d.alive(), "{what}");
        let (code, stderr) = d.stop();
        assert_eq!(code, Some(0), "{what}: {stderr}");
        assert!(stderr.contains(says), "{what}: {stderr}");
        assert_eq!(
            home.state(&server)["version"],
            tmux_supervisor::memory::STATE_VERSION,
            "{what}"
        );
        let aside: Vec<PathBuf> = std::fs::read_dir(home.state_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".corrupt-"))
            .collect();
        if says == "corrupt" {
            assert_eq!(aside.len(), 1, "{what}: {aside:?}");
            assert_eq!(std::fs::read(&aside[0]).unwrap(), bytes, "{what}: not kept");
        } else {
            assert!(aside.is_empty(), "{what}: {aside:?}");
            // What it knew of the newer file was kept.
            assert_eq!(home.state(&server)["slots"]["st-0"]["restarts"], 2);
        }
    }

    // A directory where the file should be: unreadable, unwritable; supervision goes on.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir_all(path.join("in-the-way")).unwrap();
    server.tmux_ok(&["kill-session", "-t", "=st-0:"]);
    let mut d = Daemon::start(&home, &server, &config);
    home.wait("st-0 is back", || server.session_names() == ["st-0"]);
    assert!(d.alive());
    let (code, stderr) = d.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("cannot read the state file"), "{stderr}");
    assert!(
        home.log_text().contains("cannot write the state file"),
        "{}",
        home.log_text()
    );
    assert!(
        path.join("in-the-way").is_dir(),
        "the directory was removed"
    );
}

/// A pool of one slot, `st-0`, kept alive and polled fast.
const ONE_SLOT: &str = r#"
poll_interval: 300ms
reconcile_interval: 1s
pools:
  - name: st
    prefix: "st-"
    max: 1
    restart: always
"#;

/// The binary on `server` with the log in the state dir (no `--log-file`).
fn command_with_daily_log(home: &Home, server: &TestServer, config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tmux-supervisor"));
    c.args(["-L", &server.socket, "-c"])
        .arg(config)
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env_remove("TMUX_SUPERVISOR_CONFIG")
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .stdin(Stdio::null());
    c
}

/// The UTC date `days` from now, as the daily log names it (`date -u +%F`).
fn utc_date(days: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = Command::new("date")
        .arg("-u")
        .arg(format!("--date=@{}", now + days * 86_400))
        .arg("+%F")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The names of the daily log files in `dir`, sorted.
fn daily_logs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("tmux-supervisor.log."))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_state_dir_others_can_write_to_is_refused_and_check_reads_it_with_a_warning() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(ONE_SLOT);
    let dir = home.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut d = Daemon::start(&home, &server, &config);
    home.wait("the daemon exits", || !d.alive());
    let (code, stderr) = d.stop();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("writable by group or others (mode 0777)")
            && stderr.contains(&format!("`chmod 700 {}`", dir.display())),
        "{stderr}"
    );
    assert!(server.session_names().is_empty(), "it acted");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "it wrote in the state dir"
    );

    // check acts on nothing: it reads on and warns.
    let out = home
        .command(&server, &config)
        .args(["check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(slot(&json, "st-0")["state"], "missing");
    assert!(
        stderr_of(&out).contains("warning: the state dir") && stderr_of(&out).contains("chmod 700"),
        "{}",
        stderr_of(&out)
    );

    // Private again, but someone else's (only root can give a dir away).
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    if std::os::unix::fs::chown(&dir, Some(65_534), None).is_ok() {
        let mut d = Daemon::start(&home, &server, &config);
        home.wait("the daemon exits", || !d.alive());
        let (code, stderr) = d.stop();
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("belongs to uid 65534"), "{stderr}");
    } else {
        eprintln!("not root: the owner check is left to the unit tests");
    }
}

#[test]
fn symlinks_planted_in_the_state_dir_are_never_followed() {
    use std::os::unix::fs::symlink;
    let server = TestServer::new();
    let home = Home::new();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious");
    std::fs::write(&target, "precious\n").unwrap();
    let unchanged = || assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    let config = home.config(ONE_SLOT);
    let dir = home.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let store = home.store(&server);
    // Today's and tomorrow's daily log, and the copy a newer state file is kept as.
    for day in [0, 1] {
        symlink(
            &target,
            dir.join(format!("tmux-supervisor.log.{}", utc_date(day))),
        )
        .unwrap();
    }
    let newer = br#"{"version": 7, "slots": {"st-0": {"restarts": 2}}, "events": []}"#;
    std::fs::write(&store.path, newer).unwrap();
    let copy = store.path.with_extension("json.v7");
    symlink(&target, &copy).unwrap();

    let mut d = Daemon::spawn(command_with_daily_log(&home, &server, &config));
    home.wait("st-0 is up and the state file rewritten", || {
        server.session_names() == ["st-0"]
            && home.state(&server)["version"] == tmux_supervisor::memory::STATE_VERSION
            && home.state(&server)["slots"]["st-0"]["last_state"] == "idle"
    });
    let (code, stderr) = d.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("cannot write the log") && stderr.contains("symbolic link"),
        "{stderr}"
    );
    assert!(stderr.contains("a copy is kept"), "{stderr}");
    assert!(
        stderr.contains("daemon started"),
        "it does not log to stderr: {stderr}"
    );
    unchanged();
    assert!(std::fs::symlink_metadata(&copy).unwrap().is_file());
    assert_eq!(std::fs::read(&copy).unwrap(), newer);

    // A symlink for the lock: observe only, and say why, until it is gone.
    server.tmux_ok(&["kill-session", "-t", "=st-0:"]);
    std::fs::remove_file(&store.lock_path).unwrap();
    symlink(&target, &store.lock_path).unwrap();
    let mut d = Daemon::start(&home, &server, &config);
    home.wait("it says why it only observes", || {
        home.log_text()
            .contains("observe-only until it can be taken")
    });
    unchanged();
    std::fs::remove_file(&store.lock_path).unwrap();
    home.wait("it takes the lock and st-0 is back", || {
        server.session_names() == ["st-0"]
    });
    let (code, stderr) = d.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(!stderr.contains("another supervisor"), "{stderr}");
    unchanged();
    assert!(
        std::fs::symlink_metadata(&store.lock_path)
            .unwrap()
            .is_file()
    );
}

#[test]
fn slots_that_left_the_config_are_forgotten_and_their_events_kept() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(
        "poll_interval: 300ms\npools:\n  - name: s\n    prefix: \"s-\"\n    max: 5\n    restart: always\n",
    );
    let slots: serde_json::Map<String, Value> = (0..3000)
        .map(|i| (format!("s-{i}"), serde_json::json!({"restarts": 1})))
        .collect();
    let memory = serde_json::json!({
        "version": 1,
        "slots": slots,
        "events": [{"at": 1, "kind": "created", "name": "s-2999", "text": "created long ago"}],
    });
    std::fs::create_dir_all(home.state_dir()).unwrap();
    std::fs::write(home.state_path(&server), memory.to_string()).unwrap();
    let mut d = Daemon::start(&home, &server, &config);
    home.wait("the state file holds the 5 slots, all up", || {
        let state = home.state(&server);
        state["slots"]
            .as_object()
            .is_some_and(|s| s.len() == 5 && s.values().all(|m| m["last_state"] == "idle"))
    });
    assert_eq!(d.stop().0, Some(0));
    assert!(
        events(&home.state(&server))
            .iter()
            .any(|(_, name, text)| name == "s-2999" && text == "created long ago"),
        "{}",
        home.state(&server)["events"]
    );
}

#[test]
fn daily_logs_beyond_seven_are_deleted_when_logging_starts() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(ONE_SLOT);
    let dir = home.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for day in 1..=10 {
        std::fs::write(
            dir.join(format!("tmux-supervisor.log.2020-01-{day:02}")),
            "old\n",
        )
        .unwrap();
    }
    std::fs::write(dir.join("tmux-supervisor.log.keep-me"), "mine\n").unwrap();
    let today = format!("tmux-supervisor.log.{}", utc_date(0));
    let mut d = Daemon::spawn(command_with_daily_log(&home, &server, &config));
    home.wait("seven daily logs, today's written to", || {
        daily_logs(&dir).len() == 8
            && std::fs::read_to_string(dir.join(&today)).is_ok_and(|t| !t.is_empty())
    });
    assert_eq!(d.stop().0, Some(0));
    let mut expected: Vec<String> = (5..=10)
        .map(|day| format!("tmux-supervisor.log.2020-01-{day:02}"))
        .collect();
    expected.push("tmux-supervisor.log.keep-me".into());
    expected.push(today);
    expected.sort();
    assert_eq!(daily_logs(&dir), expected);
}

// ---------------------------------------------------------------------------------------------
// 7. Several supervisors

#[test]
fn two_daemons_on_different_sockets_both_act_each_on_its_own_server() {
    let a = TestServer::new();
    let b = TestServer::new();
    let home = Home::new();
    let config = home.config(
        r#"
poll_interval: 300ms
reconcile_interval: 1s
pools:
  - name: two
    prefix: "two-"
    max: 2
    restart: always
"#,
    );
    a.new_session("main-a");
    b.new_session("main-b");
    let mut da = Daemon::start(&home, &a, &config);
    let mut db = Daemon::start(&home, &b, &config);
    home.wait("pool on a", || {
        sorted(a.session_names()) == ["main-a", "two-0", "two-1"]
    });
    home.wait("pool on b", || {
        sorted(b.session_names()) == ["main-b", "two-0", "two-1"]
    });
    a.tmux_ok(&["kill-session", "-t", "=two-1:"]);
    b.tmux_ok(&["kill-session", "-t", "=two-0:"]);
    home.wait("a's two-1 back", || {
        sorted(a.session_names()) == ["main-a", "two-0", "two-1"]
    });
    home.wait("b's two-0 back", || {
        sorted(b.session_names()) == ["main-b", "two-0", "two-1"]
    });
    let (ca, ea) = da.stop();
    let (cb, eb) = db.stop();
    assert_eq!((ca, cb), (Some(0), Some(0)), "{ea}\n{eb}");
    assert!(!ea.contains("observe-only") && !eb.contains("observe-only"));
    assert_ne!(home.state_path(&a), home.state_path(&b));
    assert!(home.state(&a).is_object() && home.state(&b).is_object());
}

#[test]
fn one_server_reached_through_tmux_and_by_name_has_one_reconciler_and_one_memory() {
    let server = TestServer::new();
    server.new_session("main");
    let socket = server.socket_path().unwrap();
    let pid = server_pid(&server).unwrap();
    let home = Home::new();
    let config = home.config(
        "poll_interval: 300ms\nreconcile_interval: 1s\npools:\n  - name: one\n    prefix: \"one-\"\n    max: 1\n    restart: always\n",
    );
    // Started in a pane of the server: no -L, $TMUX names the server.
    let inside_log = home.path().join("inside.log");
    let mut inside = home.command_without_server(&config, &inside_log);
    inside.env("TMUX", format!("{},{pid},0", socket.display()));
    let mut inside = Daemon::spawn(inside);
    home.wait("the daemon inside created one-0", || {
        sorted(server.session_names()) == ["main", "one-0"]
    });
    // Started outside with -L NAME: the same server, so it only observes.
    let mut outside = Daemon::start(&home, &server, &config);
    home.wait("the daemon outside says it only observes", || {
        home.log_text().contains("observe-only")
    });
    server.tmux_ok(&["kill-session", "-t", "=one-0:"]);
    home.wait("one-0 is back and its restart counted", || {
        sorted(server.session_names()) == ["main", "one-0"]
            && home.state(&server)["slots"]["one-0"]["restarts"] == 1
    });
    // check, by -L, reads the memory the daemon inside writes.
    let (_, json) = home.check_json(&server, &config);
    assert_eq!(slot(&json, "one-0")["restarts"], 1, "{json}");
    let (ci, ei) = inside.stop();
    let (co, eo) = outside.stop();
    assert_eq!((ci, co), (Some(0), Some(0)), "{ei}\n{eo}");
    assert!(!ei.contains("observe-only"), "{ei}");
    assert!(eo.contains("observe-only"), "{eo}");
    let log = home.log_text();
    for kind in ["created", "restarted", "recovered"] {
        assert!(
            !log.contains(&format!("event=\"{kind}\"")),
            "the daemon outside acted:\n{log}"
        );
    }
}

#[test]
fn sockets_named_a_dot_b_and_a_underscore_b_are_two_servers_each_with_its_pool() {
    let base = TestServer::new();
    let dot = TestServer::with_socket(format!("{}.b", base.socket));
    let under = TestServer::with_socket(format!("{}_b", base.socket));
    let home = Home::new();
    let config = home.config(
        "poll_interval: 300ms\nreconcile_interval: 1s\npools:\n  - name: two\n    prefix: \"two-\"\n    max: 2\n    restart: always\n",
    );
    let mut dd = Daemon::start(&home, &dot, &config);
    let mut du = Daemon::start(&home, &under, &config);
    home.wait("the pool on a.b", || {
        sorted(dot.session_names()) == ["two-0", "two-1"]
    });
    home.wait("the pool on a_b", || {
        sorted(under.session_names()) == ["two-0", "two-1"]
    });
    let (cd, ed) = dd.stop();
    let (cu, eu) = du.stop();
    assert_eq!((cd, cu), (Some(0), Some(0)), "{ed}\n{eu}");
    assert!(
        !ed.contains("observe-only") && !eu.contains("observe-only"),
        "{ed}\n{eu}"
    );
    assert_ne!(home.state_path(&dot), home.state_path(&under));
    assert!(home.state(&dot).is_object() && home.state(&under).is_object());
}

// ---------------------------------------------------------------------------------------------
// 8. A thousand sessions

#[test]
fn a_thousand_sessions_only_the_ten_slots_are_created_and_nothing_else_is_touched() {
    let started = Instant::now();
    let server = TestServer::new();
    // 990 others, 99 per tmux call, each running `cat` (a cheap process).
    for batch in 0..10 {
        let mut args: Vec<String> = Vec::new();
        for i in batch * 99..(batch + 1) * 99 {
            if !args.is_empty() {
                args.push(";".into());
            }
            args.extend(
                ["new-session", "-d", "-s", &format!("other-{i}"), "cat"].map(String::from),
            );
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        server.tmux_ok(&refs);
    }
    let before = session_ids(&server);
    assert_eq!(before.len(), 990);
    let home = Home::new();
    let config = home.config(
        r#"
poll_interval: 500ms
reconcile_interval: 1s
pools:
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: 10
    restart: always
"#,
    );
    let mut daemon = Daemon::start(&home, &server, &config);
    // Once the starts are in the state file everything planned with them has run, and once
    // every slot shows idle and no longer in flight a poll after them has been taken in.
    home.wait("the 10 slots exist, recorded and seen idle", || {
        let state = home.state(&server);
        session_ids(&server).len() == 1000
            && home.all_started_since(&server, &auto_pool(), 0)
            && auto_pool().iter().all(|n| {
                state["slots"][n]["last_state"] == "idle"
                    && state["slots"][n]["in_flight"].is_null()
            })
    });
    let after = session_ids(&server);
    assert_eq!(after.len(), 1000);
    for (name, id) in &before {
        assert_eq!(after.get(name), Some(id), "{name} was touched");
    }
    let created: Vec<String> = after
        .keys()
        .filter(|n| !before.contains_key(*n))
        .cloned()
        .collect();
    assert_eq!(sorted(created), sorted(auto_pool()));

    let (code, json) = home.check_json(&server, &config);
    assert_eq!(code, 0, "{}", json["problems"]);
    let slots = json["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 10);
    for s in slots {
        assert_eq!(s["present"], true, "{s}");
        assert_eq!(s["state"], "idle", "{s}");
    }
    assert_eq!(json["others"].as_array().unwrap().len(), 990);
    assert_eq!(json["strays"].as_array().unwrap().len(), 0);
    assert!(daemon.alive());
    assert_eq!(daemon.stop().0, Some(0));
    assert_only_slots_acted_on(&home.state(&server), &auto_pool());
    eprintln!("1000 sessions: {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// 9. The state file is private

#[test]
fn state_file_lock_and_state_dir_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(
        "poll_interval: 300ms\npools:\n  - name: p\n    prefix: \"p-\"\n    max: 1\n    restart: always\n",
    );
    let mut d = Daemon::start(&home, &server, &config);
    home.wait("the state file is written", || {
        home.state(&server)["slots"]["p-0"]["last_state"] == "idle"
    });
    d.stop();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home.state_path(&server)), 0o600);
    let lock = home.store(&server).lock_path;
    assert_eq!(mode(&lock), 0o600);
    assert_eq!(mode(&home.state_dir()), 0o700);

    // Without --log-file the daily log is written there first: the dir is still private.
    let home = Home::new();
    let mut c = Command::new(env!("CARGO_BIN_EXE_tmux-supervisor"));
    c.args(["-L", &server.socket, "-c"])
        .arg(&config)
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .stdin(Stdio::null());
    let mut d = Daemon::spawn(c);
    home.wait("the state file is written", || {
        home.state(&server)["slots"]["p-0"]["last_state"] == "idle"
    });
    d.stop();
    assert_eq!(mode(&home.state_path(&server)), 0o600);
    assert_eq!(
        mode(&home.state_dir()),
        0o700,
        "the state dir (with the log in it) is readable by others"
    );
}
