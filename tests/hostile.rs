//! What a hostile pane or an operator's own changes put in front of the supervisor, against the
//! real binary and a real tmux server: forged `list-panes` lines in a pane's path and command,
//! agents wrapped in a shell, panes the operator adds to a slot, sessions it did not start, and
//! secrets in a pool's environment. None of it may make the supervisor act outside its slots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake_tmux::FakeTmux;
use common::process::{Daemon, Home, slot};
use common::{PRODUCTION_FAST, TestServer, auto_pool};
use serde_json::Value;

/// One pane as tmux reports it, read with a format of plain fields only.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PaneInfo {
    session: String,
    id: String,
    pid: u32,
    dead: bool,
}

fn panes(server: &TestServer) -> Vec<PaneInfo> {
    let out = server.tmux(&[
        "list-panes",
        "-a",
        "-F",
        "#{session_name}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some(PaneInfo {
                session: f.first()?.to_string(),
                id: f.get(1)?.to_string(),
                pid: f.get(2)?.parse().ok()?,
                dead: *f.get(3)? == "1",
            })
        })
        .collect()
}

fn panes_of(server: &TestServer, session: &str) -> Vec<PaneInfo> {
    panes(server)
        .into_iter()
        .filter(|p| p.session == session)
        .collect()
}

fn pane_by_id(server: &TestServer, id: &str) -> Option<PaneInfo> {
    panes(server).into_iter().find(|p| p.id == id)
}

/// The `-t` of every `respawn-pane` the fake saw.
fn respawned(fake: &FakeTmux) -> Vec<String> {
    fake.calls()
        .iter()
        .filter(|c| c.iter().any(|a| a == "respawn-pane"))
        .filter_map(|c| {
            let at = c.iter().position(|a| a == "respawn-pane")?;
            let t = c[at..].iter().position(|a| a == "-t")?;
            c.get(at + t + 1).cloned()
        })
        .collect()
}

/// A line in the format tmux-supervisor once read with one `list-panes` line per pane: a dead
/// session `name` whose pane is `%0`, the first pane of the server (the operator's `main`).
fn forged_line(name: &str) -> String {
    format!("4242\t$0\t{name}\t1\t1\t0\t1\t%0\t1\t1\t\t\tclaude\tt\tx")
}

#[test]
fn a_pane_path_or_command_forging_a_line_never_creates_hides_or_redirects_a_slot() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    // The operator's `main` sits in a directory whose name holds a newline and a fake line;
    // `w` runs a program whose argv[0] (tmux's `pane_current_command`) holds another.
    let evil = home
        .path()
        .join(format!("evil\n{}", forged_line("ccl-auto-11")));
    std::fs::create_dir(&evil).unwrap();
    let evil_str = evil.to_str().unwrap();
    server.tmux_ok(&[
        "new-session",
        "-d",
        "-s",
        "main",
        "-x",
        "80",
        "-y",
        "20",
        "-c",
        evil_str,
    ]);
    let argv0 = format!("ev\til\n{}", forged_line("ccl-auto-12"));
    server.tmux_ok(&[
        "new-session",
        "-d",
        "-s",
        "w",
        "--",
        "bash",
        "-c",
        "exec -a \"$0\" sleep 1000",
        &argv0,
    ]);
    home.wait("tmux reports the forged path and command", || {
        let out = server.tmux(&[
            "list-panes",
            "-a",
            "-F",
            "#{pane_current_path}#{pane_current_command}",
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        text.contains("ccl-auto-11") && text.contains("ccl-auto-12")
    });
    let main_pane = panes_of(&server, "main")[0].clone();
    let w_pane = panes_of(&server, "w")[0].clone();

    let (_, json) = home.check_json(&server, &config);
    for name in ["ccl-auto-11", "ccl-auto-12"] {
        assert_eq!(slot(&json, name)["present"], false, "{name}: {json}");
    }
    let others = json["others"].as_array().unwrap();
    assert!(others.contains(&Value::from("main")) && others.contains(&Value::from("w")));

    // The daemon creates the real pool and never touches `main` or `w`.
    let fake = FakeTmux::new("passthrough");
    let mut daemon = Daemon::spawn(fake.command(&home, &server, &config));
    home.wait("the whole auto pool exists", || {
        let names: Vec<String> = panes(&server).into_iter().map(|p| p.session).collect();
        auto_pool().iter().all(|s| names.contains(s))
    });
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(panes_of(&server, "main"), vec![main_pane]);
    assert_eq!(panes_of(&server, "w"), vec![w_pane]);
    assert!(respawned(&fake).is_empty(), "{:?}", respawned(&fake));
    for call in fake.calls() {
        assert!(
            !call
                .iter()
                .any(|a| a == "%0" || a == "%1" || a == "=main:" || a == "=w:"),
            "acted on a session that is not a slot: {call:?}"
        );
    }
}

#[test]
fn an_agent_wrapped_in_a_shell_is_not_restarted_and_an_added_pane_is_never_respawned() {
    let server = TestServer::new();
    let home = Home::new();
    // The wrapper shell stays the foreground process group while its program runs.
    let config = home.config(
        r#"
poll_interval: 200ms
reconcile_interval: 500ms
pools:
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: 3
    restart: always
    command: ["bash", "-c", "while :; do sleep 1000; done"]
"#,
    );
    // ccl-auto-13 is made by someone else first: not the supervisor's to respawn.
    server.tmux_ok(&[
        "new-session",
        "-d",
        "-s",
        "ccl-auto-13",
        "--",
        "sh",
        "-c",
        "read x; exit 3",
        ";",
        "set-option",
        "-w",
        "remain-on-exit",
        "on",
    ]);
    let theirs = panes_of(&server, "ccl-auto-13")[0].clone();
    let fake = FakeTmux::new("passthrough");
    let mut daemon = Daemon::spawn(fake.command(&home, &server, &config));
    home.wait("ccl-auto-11 and ccl-auto-12 exist", || {
        !panes_of(&server, "ccl-auto-11").is_empty() && !panes_of(&server, "ccl-auto-12").is_empty()
    });
    let ours11 = panes_of(&server, "ccl-auto-11")[0].clone();
    let ours12 = panes_of(&server, "ccl-auto-12")[0].clone();

    // The wrapped agents run on, poll after poll, reconcile after reconcile.
    let polls = fake.calls_with("list-panes");
    home.wait("fifteen more polls", || {
        fake.calls_with("list-panes") >= polls + 15
    });
    assert!(respawned(&fake).is_empty(), "{:?}", respawned(&fake));
    assert_eq!(panes_of(&server, "ccl-auto-11"), vec![ours11.clone()]);

    // The operator splits ccl-auto-11 with -b (their shell becomes its first pane) and opens a
    // window before the one of ccl-auto-12; then both agents die, and so does ccl-auto-13's.
    server.tmux_ok(&["split-window", "-b", "-d", "-t", "=ccl-auto-11:"]);
    server.tmux_ok(&["new-window", "-b", "-d", "-t", "=ccl-auto-12:"]);
    let added11 = panes_of(&server, "ccl-auto-11")
        .into_iter()
        .find(|p| p.id != ours11.id)
        .unwrap();
    let added12 = panes_of(&server, "ccl-auto-12")
        .into_iter()
        .find(|p| p.id != ours12.id)
        .unwrap();
    for p in [&ours11, &ours12] {
        common::process::signal(p.pid, "KILL");
    }
    server.tmux_ok(&["send-keys", "-t", &theirs.id, "Enter"]);

    // Each pane the supervisor started comes back in its place; nothing else moves.
    home.wait("both agent panes are respawned in place", || {
        [&ours11, &ours12]
            .iter()
            .all(|o| pane_by_id(&server, &o.id).is_some_and(|p| !p.dead && p.pid != o.pid))
    });
    home.wait("ccl-auto-13 is seen dead", || {
        pane_by_id(&server, &theirs.id).is_some_and(|p| p.dead)
    });
    let polls = fake.calls_with("list-panes");
    home.wait("ten more polls", || {
        fake.calls_with("list-panes") >= polls + 10
    });
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(pane_by_id(&server, &added11.id), Some(added11));
    assert_eq!(pane_by_id(&server, &added12.id), Some(added12));
    assert_eq!(panes_of(&server, "ccl-auto-11").len(), 2);
    assert_eq!(panes_of(&server, "ccl-auto-12").len(), 2);
    let mut targets = respawned(&fake);
    targets.sort();
    targets.dedup();
    assert_eq!(targets, vec![ours11.id.clone(), ours12.id.clone()]);
    // The dead pane of the session someone else made is shown, and left for the operator.
    let (_, json) = home.check_json(&server, &config);
    let s = slot(&json, "ccl-auto-13");
    assert_eq!(s["state"], "failed", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .contains("not a pane the supervisor started"),
        "{s}"
    );
}

#[test]
fn a_pool_secret_never_shows_in_the_tmux_servers_command_line() {
    let server = TestServer::new();
    let home = Home::new();
    let out = home.path().join("seen");
    let config = home.config(&format!(
        r#"
poll_interval: 200ms
reconcile_interval: 500ms
pools:
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: 1
    restart: always
    env: {{SECRET_TOKEN: "hunter2-{}"}}
    command: ["sh", "-c", "printf %s \"$SECRET_TOKEN\" > '{}'; exec sleep 1000"]
"#,
        std::process::id(),
        out.display()
    ));
    let secret = format!("hunter2-{}", std::process::id());
    // No server runs: the daemon's first create starts it.
    assert!(!server.is_running());
    let mut daemon = Daemon::start(&home, &server, &config);
    home.wait("the agent got its environment", || {
        std::fs::read_to_string(&out).is_ok_and(|s| s == secret)
    });
    let pid = server.tmux_ok(&["display-message", "-p", "#{pid}"]);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(
        !cmdline.contains("hunter2"),
        "the tmux server shows the secret to every local user: {cmdline}"
    );
    // The session keeps it in its environment, as `new-session -e` would have.
    let env = server.tmux_ok(&["show-environment", "-t", "=ccl-auto-11:", "SECRET_TOKEN"]);
    assert_eq!(env.trim(), format!("SECRET_TOKEN={secret}"));
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

/// An upgrade from a version that did not record panes: the sessions it had started stay
/// supervised, so a dead agent in one of them is respawned, not left dead.
#[test]
fn after_an_upgrade_the_sessions_the_earlier_version_started_stay_supervised() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(
        r#"
poll_interval: 200ms
reconcile_interval: 500ms
pools:
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: 2
    restart: always
    command: ["sleep", "1000"]
"#,
    );
    // ccl-auto-11 was made by the earlier version; ccl-auto-12 by someone else.
    for name in ["ccl-auto-11", "ccl-auto-12"] {
        server.tmux_ok(&[
            "new-session",
            "-d",
            "-s",
            name,
            "--",
            "sleep",
            "1000",
            ";",
            "set-option",
            "-w",
            "remain-on-exit",
            "on",
        ]);
    }
    let ours = panes_of(&server, "ccl-auto-11")[0].clone();
    let theirs = panes_of(&server, "ccl-auto-12")[0].clone();
    let sid = server.tmux_ok(&[
        "display-message",
        "-p",
        "-t",
        "=ccl-auto-11:",
        "#{session_id}",
    ]);
    let dir = home.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let old = format!(
        r#"{{"version": 1, "slots": {{"ccl-auto-11": {{"started_before": true,
            "last_session": "{}", "last_state": "idle"}}}}, "events": []}}"#,
        sid.trim()
    );
    std::fs::write(
        dir.join(format!("state-L-{}.json", server.socket.replace('.', "_"))),
        old,
    )
    .unwrap();
    // Both agents die while no supervisor runs.
    common::process::signal(ours.pid, "KILL");
    common::process::signal(theirs.pid, "KILL");
    home.wait("both panes are dead", || {
        pane_by_id(&server, &ours.id).is_some_and(|p| p.dead)
            && pane_by_id(&server, &theirs.id).is_some_and(|p| p.dead)
    });
    let fake = FakeTmux::new("passthrough");
    let mut daemon = Daemon::spawn(fake.command(&home, &server, &config));
    home.wait("ccl-auto-11 is respawned in place", || {
        pane_by_id(&server, &ours.id).is_some_and(|p| !p.dead && p.pid != ours.pid)
    });
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("an earlier tmux-supervisor"), "{stderr}");
    assert!(pane_by_id(&server, &theirs.id).is_some_and(|p| p.dead));
    let mut targets = respawned(&fake);
    targets.dedup();
    assert_eq!(targets, vec![ours.id.clone()]);
}

/// With an environment and no command (the login shell), the session runs the login shell
/// with the environment, first and after every restart: never the placeholder it was made on.
#[test]
fn a_login_shell_slot_with_an_environment_runs_the_shell_not_its_placeholder() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(
        r#"
poll_interval: 200ms
reconcile_interval: 500ms
pools:
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: 1
    restart: always
    env: {GREETING: "a=b"}
"#,
    );
    let mut daemon = Daemon::start(&home, &server, &config);
    let command = |server: &TestServer| {
        server
            .tmux(&[
                "display-message",
                "-p",
                "-t",
                "=ccl-auto-11:",
                "#{pane_start_command}|#{pane_current_command}",
            ])
            .stdout
    };
    home.wait("ccl-auto-11 runs a shell", || {
        let out = String::from_utf8_lossy(&command(&server)).into_owned();
        out.starts_with('|') && !out.contains("sleep")
    });
    let first = panes_of(&server, "ccl-auto-11")[0].clone();
    // The shell has the environment.
    server.tmux_ok(&[
        "send-keys",
        "-t",
        &first.id,
        "echo \"[$GREETING]\" > seen",
        "Enter",
    ]);
    let seen = home.path().join("seen");
    home.wait("the shell has the environment", || {
        std::fs::read_to_string(&seen).is_ok_and(|s| s.trim() == "[a=b]")
    });
    // Its shell killed, the slot comes back running a shell again.
    common::process::signal(first.pid, "KILL");
    home.wait("ccl-auto-11 is restarted with a shell", || {
        pane_by_id(&server, &first.id).is_some_and(|p| !p.dead && p.pid != first.pid)
            && String::from_utf8_lossy(&command(&server)).starts_with('|')
    });
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    let out = String::from_utf8_lossy(&command(&server)).into_owned();
    assert!(!out.contains("sleep"), "{out}");
}
