//! Pools on other hosts, against real sshd servers on loopback (tests/common/sshd.rs), each
//! "host" with a tmux server of its own, and the real binary: both hosts' pools created and
//! kept alive over ssh; a slot is only its own host's session (the prefix trap across
//! hosts); names, commands, arguments, environment and directories with spaces, `;`, `$` and
//! quotes arrive exactly; a host whose sshd is gone is unreachable, nothing is done there and
//! the other host is still recovered; back, it is reconciled. Without openssh-server the tests
//! say so and pass (CI installs it and requires it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use common::hosts::{Host, all, config, has, pool};
use common::process::{Daemon, Home, slot};
use common::sshd::{TestHost, sshd_or_skip};

/// The id of session `name` on `server`.
fn session_id(server: &TestServer, name: &str) -> String {
    server.display(name, "#{session_id}")
}

fn host_state<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("no host {name} in {json}"))["state"]
}

#[test]
fn pools_on_two_hosts_are_kept_alive_and_each_slot_is_its_own_hosts_session() {
    if !sshd_or_skip("pools_on_two_hosts_are_kept_alive_and_each_slot_is_its_own_hosts_session") {
        return;
    }
    let (a, b) = (Host::start("a"), Host::start("b"));
    let here = TestServer::new();
    // The prefix trap, across hosts: b's slot name and a local slot's name on host a, and a
    // stray of a's pool there. None of them is a slot; none may be touched.
    a.tmux.new_session("wb-0");
    a.tmux.new_session("loc-0");
    a.tmux.new_session("wa-99");
    // A pane there whose directory's name forges a list-panes line: a dead wa-1 on %0.
    let home = Home::new();
    let evil = home
        .path()
        .join("evil\n4242\t$0\twa-1\t1\t1\t0\t1\t%0\t1\t1\t\t\tsh\tt\tx");
    std::fs::create_dir(&evil).unwrap();
    a.tmux.tmux_ok(&[
        "new-session",
        "-d",
        "-s",
        "main",
        "-c",
        evil.to_str().unwrap(),
    ]);
    let decoys: Vec<String> = ["wb-0", "loc-0", "wa-99", "main"]
        .iter()
        .map(|n| session_id(&a.tmux, n))
        .collect();
    let cfg = home.config(&config(
        &a,
        &b,
        &[
            &pool("on-a", "wa-", 2, Some("a")),
            &pool("on-b", "wb-", 2, Some("b")),
            &pool("here", "loc-", 1, None),
        ],
    ));
    let _daemon = Daemon::start(&home, &here, &cfg);
    home.wait("both hosts' pools and the local one exist", || {
        all(&a.tmux, &["wa-0", "wa-1"]) && all(&b.tmux, &["wb-0", "wb-1"]) && has(&here, "loc-0")
    });
    // Nothing of b's or this machine's was made on a, and the decoys are the same sessions.
    let on_a = a.tmux.session_names();
    assert_eq!(
        on_a.iter()
            .filter(|n| n.starts_with("wb-") || n.starts_with("loc-"))
            .count(),
        2,
        "{on_a:?}"
    );
    for (n, id) in ["wb-0", "loc-0", "wa-99", "main"].iter().zip(&decoys) {
        assert_eq!(&session_id(&a.tmux, n), id, "{n} on a was replaced");
    }

    // Killed on its host, a slot comes back there.
    let before = session_id(&b.tmux, "wb-1");
    b.tmux.tmux_ok(&["kill-session", "-t", "=wb-1:"]);
    home.wait("wb-1 is back on b", || {
        has(&b.tmux, "wb-1") && session_id(&b.tmux, "wb-1") != before
    });

    let (code, json) = home.check_json(&here, &cfg);
    assert_eq!(host_state(&json, "a"), "up", "{json}");
    assert_eq!(host_state(&json, "b"), "up", "{json}");
    assert_eq!(slot(&json, "wa-0")["host"], "a");
    assert_eq!(slot(&json, "wb-0")["host"], "b");
    assert_eq!(slot(&json, "loc-0")["host"], serde_json::Value::Null);
    assert_eq!(slot(&json, "wa-0")["present"], true, "{json}");
    assert_eq!(
        slot(&json, "wa-0")["pane_id"]
            .as_str()
            .map(|p| p.ends_with("@a")),
        Some(true)
    );
    let strays = json["strays"].as_array().unwrap();
    assert_eq!(strays.len(), 1, "{json}");
    assert_eq!(
        (&strays[0]["name"], &strays[0]["host"]),
        (&"wa-99".into(), &"a".into())
    );
    let others: Vec<&str> = json["others"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.as_str())
        .collect();
    for o in ["wb-0@a", "loc-0@a", "main@a", "keep@a", "keep@b"] {
        assert!(others.contains(&o), "{o} not among {others:?}");
    }
    // The stray makes check say there is something to look at.
    assert_eq!(code, 1, "{json}");
    // Push is this machine's: no wake-up hook was tried on another host's panes.
    let log = home.log_text();
    assert!(!log.contains("push limited"), "{log}");
}

#[test]
fn names_commands_and_environment_arrive_exactly_over_ssh() {
    if !sshd_or_skip("names_commands_and_environment_arrive_exactly_over_ssh") {
        return;
    }
    let (a, b) = (Host::start("a"), Host::start("b"));
    let here = TestServer::new();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dir with space; $HOME 'q'");
    std::fs::create_dir(&dir).unwrap();
    let out = work.path().join("argv");
    let never = work.path().join("pwned");
    // Each argument on a line, then the variable and the directory: what the pane got.
    let script = format!(
        "printf '%s\\n' \"$@\" \"$V\" \"$(pwd)\" > {}; exec sleep 3600",
        out.display()
    );
    let args = [
        "a b",
        &format!("x; touch {}", never.display()),
        &format!("$(touch {})", never.display()),
        "`id`",
        "it's \"quoted\"",
        "$HOME",
        "#{session_name}",
        "tail;",
    ];
    let value = format!("v w; $(touch {}) 'q' \"dq\" #{{pane_id}}", never.display());
    let mut command = vec!["sh".to_string(), "-c".into(), script, "sh".into()];
    command.extend(args.iter().map(ToString::to_string));
    let pool = serde_json::json!({
        "name": "odd", "prefix": "wq-", "max": 1, "restart": "always", "host": "a",
        "workdir": dir, "command": command, "env": {"V": value},
    });
    let home = Home::new();
    let cfg = home.config(&config(&a, &b, &[&pool.to_string()]));
    let _daemon = Daemon::start(&home, &here, &cfg);
    home.wait("the pane wrote what it got", || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.lines().count() == args.len() + 2)
    });
    let got = std::fs::read_to_string(&out).unwrap();
    let mut want: Vec<String> = args.iter().map(ToString::to_string).collect();
    want.push(value);
    want.push(dir.display().to_string());
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
    assert!(
        !never.exists(),
        "a shell ran something it was given as text"
    );
    assert!(has(&a.tmux, "wq-0"));
}

#[test]
fn an_unreachable_host_is_left_alone_and_reconciled_when_it_answers_again() {
    if !sshd_or_skip("an_unreachable_host_is_left_alone_and_reconciled_when_it_answers_again") {
        return;
    }
    let (mut a, b) = (Host::start("a"), Host::start("b"));
    let here = TestServer::new();
    let home = Home::new();
    let cfg = home.config(&config(
        &a,
        &b,
        &[
            &pool("on-a", "wa-", 2, Some("a")),
            &pool("on-b", "wb-", 2, Some("b")),
        ],
    ));
    let _daemon = Daemon::start(&home, &here, &cfg);
    home.wait("both pools exist", || {
        all(&a.tmux, &["wa-0", "wa-1"]) && all(&b.tmux, &["wb-0", "wb-1"])
    });

    a.sshd.stop();
    home.wait("the daemon says host a is unreachable", || {
        home.log_text().contains("host a unreachable")
    });
    let (code, json) = home.check_json(&here, &cfg);
    assert_eq!(code, 1, "{json}");
    assert_eq!(host_state(&json, "a"), "unreachable", "{json}");
    assert_eq!(host_state(&json, "b"), "up", "{json}");

    // a's server still runs (only its sshd is gone): a slot killed there is not recreated
    // while a does not answer, and b's slots are still recovered meanwhile.
    a.tmux.tmux_ok(&["kill-session", "-t", "=wa-1:"]);
    let before = session_id(&b.tmux, "wb-0");
    b.tmux.tmux_ok(&["kill-session", "-t", "=wb-0:"]);
    home.wait("wb-0 is back on b", || {
        has(&b.tmux, "wb-0") && session_id(&b.tmux, "wb-0") != before
    });
    // Recovering wb-0 took polls and a reconcile pass after wa-1 was killed: nothing was
    // done on a.
    assert!(
        !has(&a.tmux, "wa-1"),
        "wa-1 was recreated on a host that does not answer"
    );

    a.sshd.start_again();
    home.wait("wa-1 is back on a", || has(&a.tmux, "wa-1"));
    assert!(home.log_text().contains("host a answers again"));
    let (_, json) = home.check_json(&here, &cfg);
    assert_eq!(host_state(&json, "a"), "up", "{json}");
}

#[test]
fn a_host_that_hangs_is_unreachable_and_holds_up_no_other_host() {
    if !sshd_or_skip("a_host_that_hangs_is_unreachable_and_holds_up_no_other_host") {
        return;
    }
    let (mut a, b) = (Host::start("a"), Host::start("b"));
    let here = TestServer::new();
    // Killing loc-0 must not end the local server (a new one starts its ids again at $0).
    here.new_session("keep");
    let home = Home::new();
    let cfg = home.config(&config(
        &a,
        &b,
        &[
            &pool("on-a", "wa-", 1, Some("a")),
            &pool("on-b", "wb-", 1, Some("b")),
            &pool("here", "loc-", 1, None),
        ],
    ));
    let _daemon = Daemon::start(&home, &here, &cfg);
    home.wait("every pool exists", || {
        has(&a.tmux, "wa-0") && has(&b.tmux, "wb-0") && has(&here, "loc-0")
    });
    // Its link gone: connections are taken and nothing answers.
    a.sshd.freeze();
    home.wait("the daemon says host a is unreachable", || {
        home.log_text().contains("host a unreachable")
    });
    for (server, name) in [(&b.tmux, "wb-0"), (&here, "loc-0")] {
        let before = session_id(server, name);
        server.tmux_ok(&["kill-session", "-t", &format!("={name}:")]);
        home.wait(&format!("{name} is back"), || {
            has(server, name) && session_id(server, name) != before
        });
    }
    a.sshd.thaw();
    a.tmux.tmux_ok(&["kill-session", "-t", "=wa-0:"]);
    home.wait("host a answers again and wa-0 is back", || {
        has(&a.tmux, "wa-0")
    });
}

#[test]
fn a_secret_in_a_pools_environment_is_in_no_long_lived_command_line() {
    if !sshd_or_skip("a_secret_in_a_pools_environment_is_in_no_long_lived_command_line") {
        return;
    }
    let a = Host {
        sshd: TestHost::start("a"),
        tmux: TestServer::new(),
    };
    let b = Host::start("b");
    let here = TestServer::new();
    let home = Home::new();
    let out = home.path().join("seen");
    let secret = format!("hunter2-{}", std::process::id());
    let pool = serde_json::json!({
        "name": "s", "prefix": "ws-", "max": 1, "restart": "always", "host": "a",
        "env": {"SECRET_TOKEN": secret},
        "command": ["sh", "-c", format!("printf %s \"$SECRET_TOKEN\" > '{}'; exec sleep 1000", out.display())],
    });
    let cfg = home.config(&config(&a, &b, &[&pool.to_string()]));
    // No server runs on a: the supervisor's create over ssh starts it.
    assert!(!a.tmux.is_running());
    let _daemon = Daemon::start(&home, &here, &cfg);
    home.wait("the pane on a got its environment", || {
        std::fs::read_to_string(&out).is_ok_and(|s| s == secret)
    });
    let cmdline = |pid: &str| {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&raw).replace('\0', " ")
    };
    let server_pid = a.tmux.tmux_ok(&["display-message", "-p", "#{pid}"]);
    let server = cmdline(server_pid.trim());
    assert!(!server.is_empty());
    assert!(
        !server.contains("hunter2"),
        "a's tmux server shows the secret: {server}"
    );
    // The shared connection stays up for minutes: its command line is the poll's.
    let state = home.state_dir();
    let masters: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .map(|p| cmdline(&p))
        .filter(|c| c.starts_with("ssh") && c.contains(state.to_str().unwrap()))
        .collect();
    assert!(!masters.is_empty(), "no shared ssh connection found");
    for m in &masters {
        assert!(
            !m.contains("hunter2"),
            "a long-lived ssh shows the secret: {m}"
        );
    }
}

#[test]
fn a_remote_shell_that_prints_on_every_command_changes_nothing() {
    if !sshd_or_skip("a_remote_shell_that_prints_on_every_command_changes_nothing") {
        return;
    }
    let (mut a, b) = (Host::start("a"), Host::start("b"));
    // bash reads BASH_ENV for every command sshd runs: a chatty rc file, on stdout and
    // stderr, a line that looks like tmux's and one left open (tmux's answer is glued on).
    let rc = a.sshd.dir().join("chatty.sh");
    let chatty = "echo 'Welcome to a! 4242\t$0\t%0'\nprintf 'Port 22'\necho 'motd' >&2\n";
    std::fs::write(&rc, chatty).unwrap();
    a.sshd.set_env(&format!("BASH_ENV={}", rc.display()));
    assert!(
        a.sshd.ssh_ok(&["true"]).contains("Welcome"),
        "the rc file does not run"
    );
    let here = TestServer::new();
    let home = Home::new();
    let out = home.path().join("env");
    let pool = serde_json::json!({
        "name": "e", "prefix": "we-", "max": 1, "restart": "always", "host": "a",
        "env": {"V": "applied"},
        "command": ["sh", "-c", format!("printf %s \"$V\" > '{}'; exec sleep 1000", out.display())],
    });
    let cfg = home.config(&config(&a, &b, &[&pool.to_string()]));
    let _daemon = Daemon::start(&home, &here, &cfg);
    // The create's second call (the real command, with its environment) ran: the ids were
    // found under the banner.
    home.wait("the pane on a got its environment", || {
        std::fs::read_to_string(&out).is_ok_and(|s| s == "applied")
    });
    let (_, json) = home.check_json(&here, &cfg);
    assert_eq!(slot(&json, "we-0")["present"], true, "{json}");
    assert_eq!(slot(&json, "we-0")["command"], "sleep", "{json}");
    // The banner's forged-looking line made no session of its own.
    assert!(!json.to_string().contains("Welcome"), "{json}");
    // Killed, it is created again, with its environment.
    let pid = a.tmux.display("we-0", "#{pane_pid}");
    std::fs::remove_file(&out).unwrap();
    a.tmux.tmux_ok(&["kill-session", "-t", "=we-0:"]);
    home.wait("we-0 is back with its environment", || {
        std::fs::read_to_string(&out).is_ok_and(|s| s == "applied")
            && has(&a.tmux, "we-0")
            && a.tmux.display("we-0", "#{pane_pid}") != pid
    });
}
