//! Push against real tmux servers and the real binary: the wake-up hook on the slot panes the
//! supervisor keeps alive and nowhere else (not a stray, an other, a manual slot, nor global),
//! a restarted supervisor overwrites it instead of stacking one, a hook left by a supervisor
//! that is gone does nothing but set a latch, a pane whose exit status tmux lost is restarted
//! and the nudge brings its status, the agent hooks' datagram wakes the supervisor, and
//! `push: false` sets nothing. The configs poll once an hour: what happens sooner is push's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::process::{Daemon, Home, PATIENCE, signal};
use common::{TestServer, auto_pool};
use tmux_supervisor::tmux::{Tmux as _, hooks};
use tmux_supervisor::{socket, wake};

const PUSH_ONLY: &str = r#"
poll_interval: 1h
reconcile_interval: 1h
pools:
  - {name: manual, prefix: "ccl-", start_index: 0, max: 10, restart: never}
  - {name: auto, prefix: "ccl-auto-", start_index: 11, max: 10, restart: always}
"#;

/// The server's socket key, as the supervisor names its files and its latch after it.
fn key(server: &TestServer) -> String {
    socket::key(&socket::server_socket(Some(&server.socket), None))
}

fn channel(server: &TestServer) -> String {
    hooks::channel(&key(server))
}

/// One pane as the test reads it.
#[derive(Debug, Clone)]
struct P {
    session: String,
    id: String,
    pid: u32,
    dead: bool,
    status: String,
    hook: String,
}

fn panes(server: &TestServer) -> Vec<P> {
    let out = server.tmux(&[
        "list-panes",
        "-a",
        "-F",
        "#{session_name}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}\t#{pane_dead_status}#{pane_dead_signal}\t#{pane-died[42]}",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(6, '\t').collect();
            Some(P {
                session: f.first()?.to_string(),
                id: f.get(1)?.to_string(),
                pid: f.get(2)?.parse().ok()?,
                dead: *f.get(3)? == "1",
                status: f.get(4)?.to_string(),
                hook: f.get(5)?.to_string(),
            })
        })
        .collect()
}

fn pane(server: &TestServer, session: &str) -> Option<P> {
    panes(server).into_iter().find(|p| p.session == session)
}

/// Every kept-alive slot exists and its pane carries the hook.
fn pool_hooked(server: &TestServer) -> bool {
    let chan = channel(server);
    let all = panes(server);
    auto_pool().iter().all(|name| {
        all.iter()
            .any(|p| &p.session == name && p.hook.contains(&chan))
    })
}

/// Processes blocked in `tmux … wait-for CHANNEL` of this server's latch.
fn waiters(server: &TestServer) -> Vec<u32> {
    let chan = channel(server);
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if args
            .windows(2)
            .any(|w| w[0] == b"wait-for" && w[1] == chan.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

/// What `show-hooks` says for `args`, one line per hook.
fn hooks_shown(server: &TestServer, args: &[&str]) -> String {
    let mut all = vec!["show-hooks"];
    all.extend(args);
    String::from_utf8_lossy(&server.tmux(&all).stdout).into_owned()
}

#[test]
fn the_hook_is_on_kept_alive_slot_panes_only_never_global_nor_elsewhere() {
    let server = TestServer::new();
    for name in ["main", "ccl-auto0", "ccl-3", "ccl-auto-12"] {
        server.new_session(name);
    }
    let home = Home::new();
    let config = home.config(PUSH_ONLY);
    let daemon = Daemon::start(&home, &server, &config);
    // Created ones in their create call, the one someone else made (ccl-auto-12) adopted.
    home.wait("every auto slot carries the hook", || pool_hooked(&server));
    home.wait("the waiter blocks on the latch", || {
        waiters(&server).len() == 1
    });
    let chan = channel(&server);
    for name in ["main", "ccl-auto0", "ccl-3"] {
        assert_eq!(pane(&server, name).unwrap().hook, "", "{name}");
        let t = format!("={name}:");
        for args in [&["-t", &t][..], &["-w", "-t", &t], &["-p", "-t", &t]] {
            let shown = hooks_shown(&server, args);
            assert!(!shown.contains(&chan), "{name} {args:?}: {shown}");
        }
    }
    for args in [&["-g"][..], &["-g", "-w"]] {
        let shown = hooks_shown(&server, args);
        assert!(!shown.contains(&chan), "global {args:?}: {shown}");
    }
    // On a slot: the pane alone, at the fixed index, signalling the latch and nothing else.
    let slot = pane(&server, "ccl-auto-12").unwrap();
    let shown = hooks_shown(&server, &["-p", "-t", &slot.id]);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 1, "{shown}");
    assert!(
        lines[0].starts_with("pane-died[42] wait-for -S ") && lines[0].contains(&chan),
        "{shown}"
    );
    for args in [&["-t", "=ccl-auto-12"][..], &["-w", "-t", "=ccl-auto-12:"]] {
        assert!(!hooks_shown(&server, args).contains(&chan), "{args:?}");
    }
    drop(daemon);
}

#[test]
fn a_restarted_supervisor_overwrites_its_hook_and_never_stacks_a_second() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(PUSH_ONLY);
    let mut first = Daemon::start(&home, &server, &config);
    home.wait("every auto slot carries the hook", || pool_hooked(&server));
    home.wait("the waiter blocks", || waiters(&server).len() == 1);
    let (code, stderr) = first.stop();
    assert_eq!(code, Some(0), "{stderr}");
    // Stopped: its waiter was killed with it, and its socket removed.
    assert!(waiters(&server).is_empty(), "{:?}", waiters(&server));
    assert!(!wake::socket_path(&home.state_dir(), &key(&server)).exists());

    // One hook removed meanwhile (the next supervisor sets it again); the operator's own
    // `pane-died` at another index is theirs and stays.
    let p13 = pane(&server, "ccl-auto-13").unwrap().id;
    let p14 = pane(&server, "ccl-auto-14").unwrap().id;
    server.tmux_ok(&["set-hook", "-p", "-u", "-t", &p13, "pane-died[42]"]);
    server.tmux_ok(&[
        "set-hook",
        "-p",
        "-t",
        &p14,
        "pane-died[0]",
        "display-message mine",
    ]);
    let _second = Daemon::start(&home, &server, &config);
    home.wait("ccl-auto-13 is hooked again", || pool_hooked(&server));
    home.wait("the second waiter blocks", || waiters(&server).len() == 1);
    let chan = channel(&server);
    for p in panes(&server) {
        let shown = hooks_shown(&server, &["-p", "-t", &p.id]);
        let ours = shown.lines().filter(|l| l.contains(&chan)).count();
        assert_eq!(ours, 1, "{}: {shown}", p.session);
        assert!(shown.contains("pane-died[42]"), "{}: {shown}", p.session);
    }
    let shown = hooks_shown(&server, &["-p", "-t", &p14]);
    assert!(
        shown.contains("pane-died[0] display-message mine"),
        "{shown}"
    );
}

#[test]
fn a_hook_left_by_a_supervisor_that_is_gone_only_sets_a_latch() {
    let server = TestServer::new();
    server.new_session("main");
    let home = Home::new();
    let config = home.config(PUSH_ONLY);
    let mut daemon = Daemon::start(&home, &server, &config);
    home.wait("every auto slot carries the hook", || pool_hooked(&server));
    assert_eq!(daemon.stop().0, Some(0));
    assert!(waiters(&server).is_empty(), "{:?}", waiters(&server));
    let before: Vec<(String, String)> = panes(&server)
        .into_iter()
        .map(|p| (p.session, p.id))
        .collect();

    // Its agent dies with nobody supervising: the hook fires (a lost status is collected
    // first, so that it does) and the latch is set, nothing else.
    let victim = pane(&server, "ccl-auto-15").unwrap();
    signal(victim.pid, "KILL");
    collect_status(&server, "ccl-auto-15");
    let latched = std::process::Command::new("timeout")
        .args([
            "10",
            "tmux",
            "-L",
            &server.socket,
            "wait-for",
            &channel(&server),
        ])
        .env_remove("TMUX")
        .status()
        .unwrap();
    assert!(latched.success(), "the hook did not signal the latch");
    let after: Vec<(String, String)> = panes(&server)
        .into_iter()
        .map(|p| (p.session, p.id))
        .collect();
    assert_eq!(after, before, "sessions or panes changed");
    assert!(
        pane(&server, "ccl-auto-15").unwrap().dead,
        "someone restarted it"
    );
    assert!(waiters(&server).is_empty());

    // The next supervisor takes over the same latch and restarts the dead agent.
    let _next = Daemon::start(&home, &server, &config);
    home.wait("ccl-auto-15 restarted", || {
        pane(&server, "ccl-auto-15").is_some_and(|p| !p.dead && p.pid != victim.pid)
    });
}

/// Waits until the dead pane of `session` shows its exit status; once it has shown none for a
/// while (tmux#311: tmux lost it), nudges the server as the supervisor does. Returns whether
/// the nudge was needed.
fn collect_status(server: &TestServer, session: &str) -> bool {
    let client = server.client();
    let deadline = Instant::now() + PATIENCE;
    let mut dead_since = None;
    let mut nudged = false;
    loop {
        let p = pane(server, session).unwrap();
        if p.dead && !p.status.is_empty() {
            return nudged;
        }
        assert!(Instant::now() < deadline, "no exit status for {p:?}");
        if p.dead {
            let since = *dead_since.get_or_insert_with(Instant::now);
            if !nudged && since.elapsed() > Duration::from_millis(300) {
                let pid = server.tmux_ok(&["display-message", "-p", "#{pid}"]);
                client.reap_lost_exits(pid.trim().parse().unwrap()).unwrap();
                nudged = true;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_killed_agent_is_restarted_at_once_whether_or_not_tmux_kept_its_status() {
    // The nudge alone: agents killed until a few exits were lost; each status came after it.
    let server = TestServer::new();
    server.tmux_ok(&["new-session", "-d", "-s", "s", "sleep 300"]);
    server.tmux_ok(&["set-option", "-w", "-t", "=s:", "remain-on-exit", "on"]);
    let mut lost = 0;
    for _ in 0..40 {
        server.tmux_ok(&["respawn-pane", "-k", "-t", "=s:", "sleep 300"]);
        let pid = pane(&server, "s").unwrap().pid;
        signal(pid, "KILL");
        if collect_status(&server, "s") {
            lost += 1;
            if lost == 3 {
                break;
            }
        }
    }
    eprintln!("exit statuses tmux lost and the nudge brought: {lost}");

    // The supervisor: each auto slot's agent killed once, each back within seconds although
    // the next poll is an hour away, with or without a status.
    let home = Home::new();
    let config = home.config(PUSH_ONLY);
    let target = TestServer::new();
    let _daemon = Daemon::start(&home, &target, &config);
    home.wait("every auto slot carries the hook", || pool_hooked(&target));
    for name in auto_pool() {
        let old = pane(&target, &name).unwrap().pid;
        signal(old, "KILL");
        home.wait(&format!("{name} restarted"), || {
            pane(&target, &name).is_some_and(|p| !p.dead && p.pid != old)
        });
    }
}

#[test]
fn an_agent_hooks_datagram_wakes_the_supervisor_at_once() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(PUSH_ONLY);
    let _daemon = Daemon::start(&home, &server, &config);
    home.wait("every auto slot carries the hook", || pool_hooked(&server));
    let sock = wake::socket_path(&home.state_dir(), &key(&server));
    home.wait("the wake-up socket is bound", || sock.exists());
    // Nothing wakes the supervisor for a new stray (no hook, no followed process): only a
    // poll sees it, and the next one is an hour away.
    server.new_session("ccl-auto0");
    home.wait("the datagram was taken", || {
        wake::send(&home.state_dir(), &key(&server))
    });
    home.wait("the stray is seen", || {
        home.log_text().contains("stray session ccl-auto0")
    });
}

#[test]
fn with_push_off_no_hook_no_waiter_and_no_socket() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(&format!("push: false\n{PUSH_ONLY}"));
    let mut daemon = Daemon::start(&home, &server, &config);
    home.wait("the pool is created and saved", || {
        home.all_started_since(&server, &auto_pool(), 0)
    });
    assert!(panes(&server).iter().all(|p| p.hook.is_empty()));
    assert!(waiters(&server).is_empty());
    assert!(!wake::socket_path(&home.state_dir(), &key(&server)).exists());
    assert!(!wake::send(&home.state_dir(), &key(&server)));
    assert_eq!(daemon.stop().0, Some(0));
}
