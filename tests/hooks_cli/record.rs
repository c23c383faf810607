//! `tmux-supervisor hook` as Claude Code runs it: in a pane of a private tmux server, with no
//! supervisor; with stdin a terminal, a pipe or a FIFO that never closes; outside tmux; with bad
//! input, an unwritable state dir, or files planted in the events dir.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestServer;
use crate::{BIN, bin, text};
use tmux_supervisor::claude::events;

/// Runs `sh -c SCRIPT` as the command of a new session on `server` (so `$TMUX` and `$TMUX_PANE`
/// are tmux's own), with `env` in its environment, and waits for the file `done` it writes.
fn in_pane(server: &TestServer, env: &[(&str, &str)], script: &str, done: &Path) {
    let mut args = vec!["new-session", "-d", "-x", "80", "-y", "20"];
    let pairs: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for p in &pairs {
        args.extend(["-e", p]);
    }
    let command = format!("{script}; sleep 30");
    args.push(&command);
    server.tmux_ok(&args);
    server.wait_until("the pane's script is done", Duration::from_secs(20), || {
        done.exists()
    });
}

/// The supervisor's key for `server`, as it names its own state file.
fn key(server: &TestServer) -> String {
    tmux_supervisor::socket::key(&tmux_supervisor::socket::server_socket(
        Some(&server.socket),
        None,
    ))
}

#[test]
fn a_hook_in_a_pane_records_under_the_supervisors_key_and_prints_nothing() {
    let server = TestServer::new();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let event = r#"{"session_id":"9b1ef456","transcript_path":"/h/.claude/projects/-p/9b1ef456.jsonl","cwd":"/p","hook_event_name":"PermissionRequest","tool_name":"Bash","tool_input":{"command":"rm -rf /"}}"#;
    fs::write(dir.path().join("event.json"), event).unwrap();
    let out = dir.path().join("out");
    let script = format!(
        "cd {d} && '{BIN}' hook PermissionRequest < event.json > out.tmp 2> err; echo $? > rc; mv out.tmp out",
        d = dir.path().display()
    );
    let env = [
        ("TMUX_SUPERVISOR_STATE_DIR", state.to_str().unwrap()),
        ("TMUX_SUPERVISOR_SLOT", "ccl-auto-11"),
    ];
    in_pane(&server, &env, &script, &out);
    assert_eq!(
        fs::read_to_string(dir.path().join("rc")).unwrap().trim(),
        "0"
    );
    assert_eq!(fs::read(&out).unwrap(), b"", "nothing on stdout");
    let file = events::events_dir(&state, &key(&server)).join("slot-ccl-auto-11.json");
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let recs = events::load(&state, &key(&server));
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r.event, "PermissionRequest");
    assert_eq!(r.tool_name.as_deref(), Some("Bash"));
    assert_eq!(r.session_id.as_deref(), Some("9b1ef456"));
    assert_eq!(r.slot.as_deref(), Some("ccl-auto-11"));
    let pane = server.tmux_ok(&["list-panes", "-a", "-F", "#{pane_id}"]);
    assert_eq!(r.pane.as_deref(), Some(pane.trim()));
}

#[test]
fn a_hook_whose_stdin_never_closes_or_is_a_terminal_returns_at_once() {
    let server = TestServer::new();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // The pane's terminal as stdin: nobody types, nothing is read.
    let done = dir.path().join("ms");
    let script = format!(
        "s=$(date +%s%N); '{BIN}' hook Stop; e=$(date +%s%N); echo $(( (e - s) / 1000000 )) > {}",
        done.display()
    );
    in_pane(
        &server,
        &[("TMUX_SUPERVISOR_STATE_DIR", state.to_str().unwrap())],
        &script,
        &done,
    );
    let ms: u64 = fs::read_to_string(&done).unwrap().trim().parse().unwrap();
    assert!(ms < 1000, "{ms} ms");
    let recs = events::load(&state, &key(&server));
    assert_eq!(
        recs.iter().map(|r| r.event.as_str()).collect::<Vec<_>>(),
        ["Stop"]
    );
    // A pipe that stays open, with half an event in it; and a FIFO held open for writing.
    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let held = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let tmux_env = format!("/tmp/tmux-1/x,{},0", std::process::id());
    for stdin in [Stdio::piped(), Stdio::from(held.try_clone().unwrap())] {
        let started = Instant::now();
        let mut child = bin(dir.path())
            .env("TMUX", &tmux_env)
            .env("TMUX_PANE", "%7")
            .args([
                "hook",
                "--state-dir",
                state.to_str().unwrap(),
                "Notification",
            ])
            .stdin(stdin)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Half an event, and the pipe kept open until the hook is done.
        let open = child.stdin.take().map(|mut w| {
            w.write_all(br#"{"hook_event_name":"Notification","message":"Claude needs"#)
                .unwrap();
            w
        });
        let out = child.wait_with_output().unwrap();
        drop(open);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    }
}

#[test]
fn a_hook_outside_tmux_with_bad_input_or_an_unwritable_state_dir_still_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let run = |tmux: Option<&str>, state: &Path, input: &[u8]| {
        let mut c = bin(dir.path());
        c.args(["hook", "Stop"])
            .env("TMUX_SUPERVISOR_STATE_DIR", state)
            .env("TMUX_PANE", "%3")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(t) = tmux {
            c.env("TMUX", t);
        }
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(out.stdout.is_empty());
        out
    };
    run(None, &state, br#"{"hook_event_name":"Stop"}"#);
    assert!(!state.exists(), "outside tmux there is nothing to record");
    let tmux = "/tmp/tmux-4242/hooks-cli,1,0";
    run(Some(tmux), &state, b"\xff not json");
    let key = tmux_supervisor::socket::key(Path::new("/tmp/tmux-4242/hooks-cli"));
    let recs = events::load(&state, &key);
    assert_eq!(
        (recs.len(), recs[0].event.as_str()),
        (1, "Stop"),
        "{recs:?}"
    );
    let file = dir.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let out = run(Some(tmux), &file.join("state"), b"{}");
    assert!(text(&out.stderr).contains("Stop not recorded"), "{out:?}");
}

#[test]
fn planted_files_in_the_events_dir_neither_hang_nor_redirect_the_hook() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let key = tmux_supervisor::socket::key(Path::new("/tmp/tmux-4242/planted"));
    let events_dir = events::events_dir(&state, &key);
    fs::create_dir_all(&events_dir).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(&events_dir, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(events_dir.join("slot-a.json"))
            .status()
            .unwrap()
            .success()
    );
    let precious = dir.path().join("precious");
    fs::write(&precious, "precious").unwrap();
    symlink(&precious, events_dir.join("slot-b.json")).unwrap();
    for slot in ["a", "b"] {
        let started = Instant::now();
        let out = bin(dir.path())
            .args(["hook", "--state-dir", state.to_str().unwrap(), "Stop"])
            .env("TMUX", "/tmp/tmux-4242/planted,1,0")
            .env("TMUX_SUPERVISOR_SLOT", slot)
            .output()
            .unwrap();
        assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    assert_eq!(fs::read_to_string(&precious).unwrap(), "precious");
    let recs = events::scan(&state, &key);
    assert_eq!(recs.skipped, vec![]);
    let slots: Vec<_> = recs
        .records
        .iter()
        .map(|r| r.slot.clone().unwrap())
        .collect();
    assert_eq!(slots, ["a", "b"]);
}

#[test]
fn the_hook_wakes_a_supervisor_listening_on_its_socket_even_at_a_long_path() {
    let dir = tempfile::tempdir().unwrap();
    let key = tmux_supervisor::socket::key(Path::new("/tmp/tmux-4242/woken"));
    // The second state dir's socket path is longer than a socket address may be: the test
    // binds it through a short symlink, the hook reaches it from inside the dir.
    let long = dir.path().join("d".repeat(100)).join("state");
    for (i, state) in [dir.path().join("state"), long].into_iter().enumerate() {
        fs::create_dir_all(&state).unwrap();
        let short = dir.path().join(format!("s{i}"));
        symlink(&state, &short).unwrap();
        let sock =
            std::os::unix::net::UnixDatagram::bind(short.join(format!("wake-{key}.sock"))).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let out = bin(dir.path())
            .args([
                "hook",
                "--state-dir",
                state.to_str().unwrap(),
                "UserPromptSubmit",
            ])
            .env("TMUX", "/tmp/tmux-4242/woken,1,0")
            .env("TMUX_PANE", "%1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let mut buf = [0u8; 64];
        let n = sock.recv(&mut buf).unwrap();
        assert!(n > 0, "{}", state.display());
        // By then the event is on disk.
        assert_eq!(events::load(&state, &key)[0].event, "UserPromptSubmit");
    }
}

#[test]
fn an_event_recorded_with_no_supervisor_is_read_at_the_next_start() {
    let server = TestServer::new();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    let event = r#"{"session_id":"9b1ef456-0000-4000-8000-000000000001","hook_event_name":"PermissionRequest","tool_name":"Bash"}"#;
    fs::write(dir.path().join("event.json"), event).unwrap();
    // The slot's agent asks for a permission while no supervisor runs, then waits.
    let script = format!(
        "cd {d} && TMUX_SUPERVISOR_STATE_DIR={s} TMUX_SUPERVISOR_SLOT=cc-1 '{BIN}' hook PermissionRequest < event.json; touch done; exec sleep 100",
        d = dir.path().display(),
        s = state.display()
    );
    server.tmux_ok(&[
        "new-session",
        "-d",
        "-s",
        "cc-1",
        "-x",
        "80",
        "-y",
        "20",
        &script,
    ]);
    let done = dir.path().join("done");
    server.wait_until("the hook ran", Duration::from_secs(20), || done.exists());
    let config = dir.path().join("config.yaml");
    fs::write(
        &config,
        format!(
            "state_dir: {}\npools:\n  - {{name: a, prefix: \"cc-\", start_index: 1, max: 1, restart: never, agent: claude}}\n",
            state.display()
        ),
    )
    .unwrap();
    let out = bin(dir.path())
        .args([
            "-c",
            config.to_str().unwrap(),
            "-L",
            &server.socket,
            "check",
            "--json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let slot = &json["slots"][0];
    assert_eq!(slot["name"], "cc-1", "{json}");
    assert_eq!(slot["state"], "waiting", "{slot}");
    assert!(
        slot["reason"]
            .as_str()
            .unwrap()
            .starts_with("hook PermissionRequest"),
        "{slot}"
    );
    assert_eq!(slot["last_hook"]["event"], "PermissionRequest", "{slot}");
    assert_eq!(
        slot["agent_session_id"], "9b1ef456-0000-4000-8000-000000000001",
        "{slot}"
    );
}
