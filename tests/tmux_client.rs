//! Tests of `tmux::TmuxCli` against a real tmux server (each test on its own socket).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::TestServer;
use tmux_supervisor::tmux::{Created, Launch, Pane, Snapshot, Target, Tmux, TmuxCli, TmuxError};

const WAIT: Duration = Duration::from_secs(10);

fn launch(name: &str, workdir: &Path, command: &[&str]) -> Launch {
    Launch {
        name: name.to_owned(),
        workdir: workdir.to_owned(),
        command: command.iter().map(|s| (*s).to_owned()).collect(),
        env: BTreeMap::new(),
    }
}

fn created(result: Result<Created, TmuxError>) -> (String, String) {
    match result.unwrap() {
        Created::New {
            session_id,
            pane_id,
            ..
        } => (session_id, pane_id),
        Created::AlreadyExists => panic!("session unexpectedly exists"),
        Created::Unfinished { error, .. } => panic!("the program was not started: {error}"),
    }
}

fn pane(client: &TmuxCli, name: &str) -> Option<Pane> {
    client.snapshot().unwrap().session(name).cloned()
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap()
}

#[test]
fn create_snapshot_respawn_capture_kill_round_trip() {
    let server = TestServer::new();
    let client = server.client();
    let dir = tempfile::tempdir().unwrap();
    let mut first = launch(
        "round-trip",
        dir.path(),
        &["sh", "-c", "echo \"first-$GREETING\"; exec sleep 300"],
    );
    first.env.insert("GREETING".into(), "hello".into());
    let (session_id, pane_id) = created(client.create(&first));
    assert!(session_id.starts_with('$'), "{session_id}");
    assert!(pane_id.starts_with('%'), "{pane_id}");

    // Until the pane's process group is set up, tmux reports no path (an environment makes
    // the create a new-session then a respawn-pane, so this window comes just after create).
    server.wait_until("tmux reports the pane's path", WAIT, || {
        pane(&client, "round-trip").is_some_and(|p| !p.current_path.is_empty())
    });
    let before = pane(&client, "round-trip").expect("session in snapshot");
    assert_eq!(before.session_id, session_id);
    assert_eq!(before.pane_id, pane_id);
    assert!(!before.pane_dead);
    assert_eq!(before.dead_status, None);
    assert_eq!(before.session_attached, 0);
    assert_eq!(
        PathBuf::from(&before.current_path),
        canonical(dir.path()),
        "pane_current_path"
    );
    assert!(client.snapshot().unwrap().server_pid().is_some());
    assert!(client.snapshot().unwrap().rejected.is_empty());

    server.wait_until("the pane prints its greeting", WAIT, || {
        client.capture(std::slice::from_ref(&pane_id), 20).unwrap()[&pane_id]
            .contains("first-hello")
    });

    let second = launch(
        "round-trip",
        dir.path(),
        &["sh", "-c", "echo second-run; exec sleep 300"],
    );
    client.respawn(&pane_id, &second).unwrap();
    server.wait_until("the respawned pane prints", WAIT, || {
        let text = client.capture(std::slice::from_ref(&pane_id), 20).unwrap();
        text[&pane_id].contains("second-run") && !text[&pane_id].contains("first-hello")
    });
    let after = pane(&client, "round-trip").expect("session survives respawn");
    assert_eq!(after.session_id, session_id);
    assert_eq!(after.pane_id, pane_id);
    assert_ne!(after.pane_pid, before.pane_pid);
    assert!(!after.pane_dead);

    client.kill(&Target::Session(session_id)).unwrap();
    assert!(pane(&client, "round-trip").is_none());
}

#[test]
fn exact_names_dodge_the_prefix_trap() {
    let server = TestServer::new();
    let client = server.client();
    server.new_session("ccl-auto-11");
    let long_id = pane(&client, "ccl-auto-11").unwrap().session_id;

    assert!(client.snapshot().unwrap().session("ccl-auto-1").is_none());
    // Killing a missing exact name fails instead of hitting ccl-auto-11 by prefix.
    let err = client.kill(&Target::Name("ccl-auto-1".into())).unwrap_err();
    assert!(matches!(err, TmuxError::Failed { .. }), "{err}");
    assert_eq!(server.session_names(), ["ccl-auto-11"]);

    let dir = tempfile::tempdir().unwrap();
    created(client.create(&launch("ccl-auto-1", dir.path(), &[])));
    assert_eq!(
        client.snapshot().unwrap().session_names(),
        ["ccl-auto-1", "ccl-auto-11"]
    );
    client.kill(&Target::Name("ccl-auto-1".into())).unwrap();
    assert_eq!(server.session_names(), ["ccl-auto-11"]);
    assert_eq!(pane(&client, "ccl-auto-11").unwrap().session_id, long_id);
}

#[test]
fn arguments_and_paths_arrive_unmangled_and_inject_nothing() {
    let server = TestServer::new();
    let client = server.client();
    let tmp = tempfile::tempdir().unwrap();
    // `#i` is not a format, but `##` and `#{pid}` are: all must arrive literally.
    let workdir = tmp.path().join("we#ird dir ## #{pid}");
    std::fs::create_dir(&workdir).unwrap();
    let args = [
        "a;",
        "$(touch x)",
        ";",
        "set-option",
        "-g",
        "status-left",
        "pwned;",
        "kill-server;",
        "#{pid}",
        "b\\;",
        "",
    ];
    let script =
        "{ printf '%s\\n' \"$0\" \"$@\"; printf 'K=%s\\n' \"$K\"; } > out.txt; exec sleep 300";
    let mut command = vec!["sh", "-c", script];
    command.extend(args);
    let mut l = launch("inject", &workdir, &command);
    l.env.insert("K".into(), "v#{pid};".into());
    created(client.create(&l));

    let out = workdir.join("out.txt");
    server.wait_until("the pane writes out.txt", WAIT, || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.contains("K="))
    });
    let mut expected: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    expected.push("K=v#{pid};".to_owned());
    let got: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(got, expected);

    assert!(!workdir.join("x").exists(), "$(touch x) was executed");
    assert!(!tmp.path().join("x").exists(), "$(touch x) was executed");
    let p = pane(&client, "inject").unwrap();
    assert_eq!(PathBuf::from(&p.current_path), canonical(&workdir));
    assert!(server.is_running(), "kill-server; was executed");
    assert_eq!(server.session_names(), ["inject"]);
    let status_left = server.tmux_ok(&["show-options", "-gv", "status-left"]);
    assert_ne!(status_left.trim(), "pwned;");
    assert_ne!(status_left.trim(), "pwned");

    // Respawn gets the same treatment.
    std::fs::remove_file(&out).unwrap();
    client.respawn(&p.pane_id, &l).unwrap();
    server.wait_until("the respawned pane writes out.txt", WAIT, || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.contains("K="))
    });
    let again: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(again, expected);
    assert_eq!(server.session_names(), ["inject"]);
}

#[test]
fn session_names_with_hash_space_and_semicolon_are_exact() {
    let server = TestServer::new();
    // A session that stays, so the server does not exit (and race the next create) each
    // time the last test session is killed.
    server.new_session("keep");
    let client = server.client();
    let dir = tempfile::tempdir().unwrap();
    for name in ["we#ird name", "semi;", "##{pid}"] {
        let (session_id, _) = created(client.create(&launch(name, dir.path(), &[])));
        let p = pane(&client, name).unwrap_or_else(|| panic!("{name:?} not in snapshot"));
        assert_eq!(p.session_id, session_id);
        assert_eq!(
            client.create(&launch(name, dir.path(), &[])).unwrap(),
            Created::AlreadyExists
        );
        client.kill(&Target::Name(name.to_owned())).unwrap();
        assert!(pane(&client, name).is_none());
    }
    // Names tmux would silently rewrite are refused.
    for bad in ["", "a.b", "a:b", "tab\there"] {
        let err = client.create(&launch(bad, dir.path(), &[])).unwrap_err();
        assert!(matches!(err, TmuxError::InvalidName(_)), "{bad:?}: {err}");
    }
    // tmux would silently start the pane in another directory: refused instead.
    let err = client
        .create(&launch("nowhere", &dir.path().join("missing"), &[]))
        .unwrap_err();
    assert!(matches!(err, TmuxError::NoWorkdir(_)), "{err}");
    assert_eq!(server.session_names(), ["keep"]);
}

#[test]
fn no_server_means_an_empty_snapshot() {
    let server = TestServer::new();
    let client = server.client();
    // Never started: the socket file does not even exist.
    assert_eq!(client.snapshot().unwrap(), Snapshot::default());

    server.new_session("alive");
    assert_eq!(client.snapshot().unwrap().session_names(), ["alive"]);

    // Killed between two calls: the socket file is left behind.
    server.kill_server();
    assert_eq!(client.snapshot().unwrap(), Snapshot::default());
}

#[test]
fn a_server_without_sessions_means_an_empty_snapshot() {
    // What a poll sees just after the last session was killed, before the server exits.
    let server = TestServer::new();
    server.tmux_ok(&["start-server", ";", "set-option", "-g", "exit-empty", "off"]);
    assert!(server.is_running());
    assert_eq!(server.client().snapshot().unwrap(), Snapshot::default());
}

#[test]
fn remain_on_exit_keeps_the_dead_pane_and_its_status() {
    let server = TestServer::new();
    let client = server.client();
    let dir = tempfile::tempdir().unwrap();
    // Several sessions, because tmux 3.3a occasionally loses a dead pane's status (empty
    // pane_dead_status with pane_dead=1): every pane must be dead, and the status, when
    // reported, must be 3.
    let names: Vec<String> = (0..4).map(|i| format!("exit-3-{i}")).collect();
    for name in &names {
        created(client.create(&launch(name, dir.path(), &["sh", "-c", "exit 3"])));
    }
    server.wait_until("every pane is dead", WAIT, || {
        let snap = client.snapshot().unwrap();
        names
            .iter()
            .all(|n| snap.session(n).is_some_and(|p| p.pane_dead))
    });
    let snap = client.snapshot().unwrap();
    let statuses: Vec<Option<i32>> = names
        .iter()
        .map(|n| snap.session(n).unwrap().dead_status)
        .collect();
    assert!(
        statuses.iter().all(|s| matches!(s, None | Some(3))),
        "{statuses:?}"
    );
    assert!(statuses.contains(&Some(3)), "{statuses:?}");
    assert!(
        names
            .iter()
            .all(|n| snap.session(n).unwrap().dead_signal.is_none())
    );

    // A dead pane can be restarted in place.
    let dead = snap.session(&names[0]).unwrap().clone();
    client
        .respawn(
            &dead.pane_id,
            &launch(&names[0], dir.path(), &["sleep", "300"]),
        )
        .unwrap();
    server.wait_until("the respawned pane is alive", WAIT, || {
        pane(&client, &names[0]).is_some_and(|p| !p.pane_dead)
    });
    let alive = pane(&client, &names[0]).unwrap();
    assert_eq!(alive.session_id, dead.session_id);
    assert_eq!(alive.pane_id, dead.pane_id);
}

#[test]
fn duplicate_session_is_already_exists() {
    let server = TestServer::new();
    let client = server.client();
    let dir = tempfile::tempdir().unwrap();
    let l = launch("dup", dir.path(), &["sleep", "300"]);
    created(client.create(&l));
    assert_eq!(client.create(&l).unwrap(), Created::AlreadyExists);
    assert_eq!(server.session_names(), ["dup"]);
}

#[test]
fn version_check() {
    let server = TestServer::new();
    let client = server.client();
    let found = client.check_version().unwrap();
    assert!(found.starts_with('3'), "{found}");
    assert!(client.version().unwrap() >= (3, 2));

    let dir = tempfile::tempdir().unwrap();
    let fake = |name: &str, output: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho '{output}'\n")).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
        server.client().with_program(path)
    };
    // A script just written may briefly be "text file busy" when another test thread forks.
    let check = |cli: &TmuxCli| {
        let mut result = None;
        server.wait_until("the fake tmux can be executed", WAIT, || {
            let r = cli.check_version();
            let busy = matches!(&r, Err(TmuxError::Io(e))
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy);
            result = Some(r);
            !busy
        });
        result.unwrap()
    };

    let old = fake("tmux-old", "tmux 3.1");
    match check(&old) {
        Err(TmuxError::TooOld { found }) => assert_eq!(found, "3.1"),
        other => panic!("expected TooOld, got {other:?}"),
    }
    let master = fake("tmux-master", "tmux master");
    assert_eq!(check(&master).unwrap(), "master");
    let next = fake("tmux-next", "tmux next-3.4");
    assert_eq!(check(&next).unwrap(), "next-3.4");

    let missing = server
        .client()
        .with_program(dir.path().join("no-such-tmux"));
    assert!(matches!(
        missing.check_version(),
        Err(TmuxError::NotFound(_))
    ));
    assert!(matches!(missing.snapshot(), Err(TmuxError::NotFound(_))));
    assert!(!server.is_running(), "-V must not start a server");
}

#[test]
fn capture_several_panes_in_one_call_survives_a_missing_one() {
    let server = TestServer::new();
    let client = server.client();
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for name in ["cap-a", "cap-b", "cap-c"] {
        let script = format!("echo 'output of {name}'; exec sleep 300");
        let (_, pane_id) =
            created(client.create(&launch(name, dir.path(), &["sh", "-c", &script])));
        ids.push(pane_id);
    }
    server.wait_until("every pane has printed", WAIT, || {
        let got = client.capture(&ids, 10).unwrap();
        ids.iter().all(|id| got[id].contains("output of"))
    });

    // All panes in ONE tmux process: a wrapper first on the program path counts the calls.
    let calls = dir.path().join("calls");
    let wrapper = dir.path().join("tmux-counting");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho call >> '{}'\nexec tmux \"$@\"\n",
            calls.display()
        ),
    )
    .unwrap();
    let mut perm = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&wrapper, perm).unwrap();
    let counting = server.client().with_program(&wrapper);
    let got = counting.capture(&ids, 10).unwrap();
    let n = std::fs::read_to_string(&calls).unwrap().lines().count();
    assert_eq!(n, 1, "{n} tmux calls for one chained capture");
    assert_eq!(got.len(), 3);
    for (id, name) in ids.iter().zip(["cap-a", "cap-b", "cap-c"]) {
        assert_eq!(got[id], format!("output of {name}\n"), "pane {id}");
    }

    let with_missing = vec![ids[0].clone(), "%999999".to_owned(), ids[2].clone()];
    let got = client.capture(&with_missing, 10).unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[&ids[0]], "output of cap-a\n");
    assert_eq!(got[&ids[2]], "output of cap-c\n");

    // Only the last N lines come back.
    let (_, long) = created(client.create(&launch(
        "cap-long",
        dir.path(),
        &["sh", "-c", "seq 1 80; exec sleep 300"],
    )));
    server.wait_until("the long pane has printed", WAIT, || {
        client.capture(std::slice::from_ref(&long), 5).unwrap()[&long] == "76\n77\n78\n79\n80\n"
    });

    assert!(client.capture(&[], 10).unwrap().is_empty());
    assert!(matches!(
        client.capture(&["cap-a".to_owned()], 10),
        Err(TmuxError::InvalidTarget(_))
    ));
}

#[test]
fn switch_client_uses_exact_targets() {
    let server = TestServer::new();
    let client = server.client();
    server.new_session("sw");
    // No client is attached, so tmux refuses, but the request is well-formed.
    let err = client
        .switch_client(None, &Target::Name("sw".into()))
        .unwrap_err();
    assert!(matches!(err, TmuxError::Failed { .. }), "{err}");
    let err = client
        .switch_client(Some("/dev/pts/999"), &Target::Name("sw".into()))
        .unwrap_err();
    assert!(matches!(err, TmuxError::Failed { .. }), "{err}");
    assert!(matches!(
        client.switch_client(None, &Target::Session("sw".into())),
        Err(TmuxError::InvalidTarget(_))
    ));
}
