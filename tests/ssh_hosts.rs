//! The ssh test hosts themselves (tests/common/sshd.rs): two private sshd on loopback each
//! run a tmux of their own over ssh; `stop` refuses new connections and breaks a
//! `ControlMaster` connection and the command running over it; `start_again` serves the same
//! port with the same keys, and the tmux server started before is still there; `freeze`
//! makes the host hang instead of refusing. Without openssh-server the tests say so and pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::sshd::{RemoteTmux, TestHost, shell_quote, sshd_or_skip};

/// How long a refused or broken ssh may take: it is immediate on loopback.
const FAST: Duration = Duration::from_secs(3);

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `ssh -O check` against the host's `ControlPath`: whether a master is up.
fn master_up(host: &TestHost) -> bool {
    let control = host.control_options();
    let mut extra = as_strs(&control);
    extra.extend(["-O", "check"]);
    host.ssh_command(&extra)
        .output()
        .expect("ssh -O check")
        .status
        .success()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pids of the processes whose command line is exactly `argv`.
fn processes_running(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            (std::fs::read(format!("/proc/{pid}/cmdline")).ok()? == want).then_some(pid)
        })
        .collect()
}

#[test]
fn two_hosts_each_run_their_own_tmux_over_ssh() {
    if !sshd_or_skip("two_hosts_each_run_their_own_tmux_over_ssh") {
        return;
    }
    let one = TestHost::start("one");
    let two = TestHost::start("two");
    assert_ne!(one.port(), two.port());
    let (tmux_one, tmux_two) = (RemoteTmux::new(), RemoteTmux::new());

    one.ssh_ok(&tmux_one.argv(&["new-session", "-d", "-s", "a", "-x", "80", "-y", "24"]));
    two.ssh_ok(&tmux_two.argv(&["new-session", "-d", "-s", "b", "-x", "80", "-y", "24"]));
    let list = ["list-sessions", "-F", "#{session_name}"];
    assert_eq!(one.ssh_ok(&tmux_one.argv(&list)), "a\n");
    assert_eq!(two.ssh_ok(&tmux_two.argv(&list)), "b\n");
    // The host is this machine: the socket is where RemoteTmux's Drop kills the server.
    assert!(
        tmux_one.socket_path().exists(),
        "{:?}",
        tmux_one.socket_path()
    );

    // Every word arrives as it is: quotes, `$`, spaces, an empty word.
    assert_eq!(
        one.ssh_ok(&["printf", "[%s]", "it's", "$HOME", "a b", "", "'"]),
        "[it's][$HOME][a b][][']"
    );
    // Nothing of the client's environment in the session.
    let env = one.ssh_ok(&["sh", "-c", "echo \"${TMUX-unset} ${TMUX_PANE-unset}\""]);
    assert_eq!(env, "unset unset\n");
}

#[test]
fn stop_refuses_connections_and_breaks_the_control_master() {
    if !sshd_or_skip("stop_refuses_connections_and_breaks_the_control_master") {
        return;
    }
    let mut host = TestHost::start("stop");
    let control = host.control_options();
    let control = as_strs(&control);
    let out = host.ssh_with(&control, &["true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(master_up(&host), "no ControlMaster after the first call");

    // A command running over the master when the host goes away.
    let sleep = ["sleep".to_owned(), format!("3600.{}", host.port())];
    let sleep = as_strs(&sleep);
    let mut in_flight = host
        .ssh_command(&control)
        .arg("--")
        .arg(shell_quote(&sleep))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the remote sleep runs", FAST, || {
        !processes_running(&sleep).is_empty()
    });

    host.stop();
    let stopped = Instant::now();
    assert!(!host.is_running());
    wait_until("the command over the master fails", FAST, || {
        in_flight.try_wait().unwrap().is_some()
    });
    assert_eq!(in_flight.wait().unwrap().code(), Some(255));
    assert!(
        processes_running(&sleep).is_empty(),
        "the remote command outlived its sshd"
    );
    wait_until("the ControlMaster is gone", FAST, || !master_up(&host));
    assert!(stopped.elapsed() < FAST);

    // A new connection is refused at once, with or without multiplexing asked for.
    for extra in [vec!["-o", "ControlPath=none"], control.clone()] {
        let t = Instant::now();
        let out = host.ssh_with(&extra, &["true"]);
        assert_eq!(out.status.code(), Some(255), "{extra:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("Connection refused"),
            "{}",
            stderr(&out)
        );
        assert!(t.elapsed() < FAST, "{extra:?} took {:?}", t.elapsed());
    }
}

#[test]
fn start_again_serves_the_same_port_keys_and_tmux() {
    if !sshd_or_skip("start_again_serves_the_same_port_keys_and_tmux") {
        return;
    }
    let mut host = TestHost::start("again");
    let tmux = RemoteTmux::new();
    let control = host.control_options();
    let control = as_strs(&control);
    host.ssh_ok(&tmux.argv(&["new-session", "-d", "-s", "kept"]));
    assert!(host.ssh_with(&control, &["true"]).status.success());
    let port = host.port();

    host.stop();
    assert_eq!(host.ssh(&["true"]).status.code(), Some(255));

    host.start_again();
    assert_eq!(host.port(), port);
    // Same host key (StrictHostKeyChecking=yes), and the tmux server outlived the sshd.
    let list = ["list-sessions", "-F", "#{session_name}"];
    assert_eq!(host.ssh_ok(&tmux.argv(&list)), "kept\n");
    // A new master over the same ControlPath.
    let out = host.ssh_with(&control, &tmux.argv(&list));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(master_up(&host));
}

#[test]
fn a_frozen_host_hangs_until_thawed() {
    if !sshd_or_skip("a_frozen_host_hangs_until_thawed") {
        return;
    }
    let mut host = TestHost::start("frozen");
    host.ssh_ok(&["true"]);
    host.freeze();
    let t = Instant::now();
    let out = host.ssh_with(&["-o", "ConnectTimeout=1"], &["true"]);
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    host.thaw();
    host.ssh_ok(&["true"]);
}
