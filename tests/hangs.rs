//! Hangs and leaks, against the real binary: a tmux server frozen with SIGSTOP (calls time
//! out without leaking a thread or a descriptor; SIGTERM in the middle of a pass of creates
//! ends the daemon at once), and a status file that is not a regular file (a FIFO, a
//! directory, a device, a huge file), which must neither block a poll nor flood the log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::fake_tmux::FakeTmux;
use common::process::{Daemon, Home, signal};
use common::{PRODUCTION_FAST, TestServer, auto_pool};

/// The hidden option that shortens the tmux call timeout (10 s) for these tests.
const TIMEOUT_ENV: &str = "TMUX_SUPERVISOR_TMUX_TIMEOUT";

/// How long a daemon may take to do what a test waits for (generous for a loaded machine).
const PATIENCE: Duration = Duration::from_secs(40);

/// Three auto slots, polled often.
const SMALL: &str = r#"
poll_interval: 200ms
reconcile_interval: 1s
pools:
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: 3
    restart: always
"#;

fn small_with_status_file(path: &Path) -> String {
    format!("{SMALL}status_file: \"{}\"\n", path.display())
}

fn server_pid(server: &TestServer) -> u32 {
    server
        .tmux_ok(&["display-message", "-p", "#{pid}"])
        .trim()
        .parse()
        .unwrap()
}

/// A tmux server frozen with SIGSTOP; SIGCONT when dropped, so it is never left frozen (and
/// the test server's own drop, `kill-server`, can be answered). Declare it after the server.
struct Frozen(u32);

impl Frozen {
    /// Freezes `pid` now.
    fn stop(pid: u32) -> Self {
        signal(pid, "STOP");
        Frozen(pid)
    }

    /// Only thaws on drop (something else freezes it).
    fn thaw_on_drop(pid: u32) -> Self {
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

fn count_entries(dir: &str) -> usize {
    std::fs::read_dir(dir).map_or(0, Iterator::count)
}

/// (threads, open descriptors) of a process.
fn threads_and_fds(pid: u32) -> (usize, usize) {
    (
        count_entries(&format!("/proc/{pid}/task")),
        count_entries(&format!("/proc/{pid}/fd")),
    )
}

/// The most memory a process has held (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Waits for `child` to exit (up to `limit`); its exit code and how long it took.
fn exit_within(child: &mut Child, limit: Duration) -> Option<(Option<i32>, Duration)> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((status.code(), start.elapsed()));
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Events of the persisted memory whose text contains `part`.
fn events_with(home: &Home, server: &TestServer, part: &str) -> Vec<String> {
    home.state(server)["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["text"].as_str())
                .filter(|t| t.contains(part))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn has_pool(server: &TestServer, names: &[&str]) -> bool {
    let live = server.session_names();
    names.iter().all(|n| live.iter().any(|l| l == n))
}

const SMALL_POOL: [&str; 3] = ["ccl-auto-11", "ccl-auto-12", "ccl-auto-13"];

// ---------------------------------------------------------------------------------------------
// A frozen tmux server

#[test]
fn calls_to_a_frozen_server_time_out_without_leaking_threads_or_descriptors() {
    let server = TestServer::new();
    server.new_session("main");
    let frozen = Frozen::stop(server_pid(&server));
    let home = Home::new();
    let config = home.config(SMALL);
    let fake = FakeTmux::new("passthrough");
    let mut command = fake.command(&home, &server, &config);
    command.env(TIMEOUT_ENV, "1s");
    let mut daemon = Daemon::spawn(command);
    let pid = daemon.child.id();

    // Every poll times out after 1 s; the next one starts when it is back. Sample the daemon
    // while twelve polls are made: (polls started, threads, descriptors).
    let mut samples: Vec<(usize, usize, usize)> = Vec::new();
    home.wait("twelve polls were started", || {
        let started = fake.calls_with("list-panes");
        let (threads, fds) = threads_and_fds(pid);
        samples.push((started, threads, fds));
        started >= 12
    });
    assert!(daemon.alive(), "the daemon died");
    let fewest_fds = |from: usize, to: usize| {
        samples
            .iter()
            .filter(|s| (from..to).contains(&s.0))
            .map(|s| s.2)
            .min()
            .unwrap()
    };
    // A call in progress holds two pipes: the fewest over a stretch is what stays behind.
    let (early, late) = (fewest_fds(3, 5), fewest_fds(10, 12));
    let most_threads = samples.iter().map(|s| s.1).max().unwrap();
    eprintln!(
        "descriptors after 2-3 timed-out calls: {early}, after 9-10: {late}; most threads: {most_threads}"
    );
    // A sample may catch a call's two pipes open in one stretch and not in the other: a
    // difference of two is that, not a leak (a leak grows by one descriptor per timed-out
    // call: seven here).
    assert!(
        late <= early + 2,
        "descriptors grew from {early} to {late} over seven timed-out calls"
    );
    // main, the log writer, one runtime worker and at most four blocking threads.
    assert!(
        most_threads <= 7,
        "{most_threads} threads after eleven timed-out calls"
    );
    // Said once, not once per failed poll.
    let said = "poll failed: tmux did not answer within 1 s";
    home.wait("the timeout is in the event log", || {
        !events_with(&home, &server, said).is_empty()
    });
    assert_eq!(events_with(&home, &server, said).len(), 1);

    // Thawed, the server is read again and the pool is created.
    drop(frozen);
    home.wait("the pool exists after the thaw", || {
        has_pool(&server, &SMALL_POOL)
    });
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn sigterm_during_a_pass_of_creates_on_a_frozen_server_exits_within_one_call_timeout() {
    let server = TestServer::new();
    server.new_session("main");
    // The fake freezes the server at the first create of the pass (the polls before it are
    // answered, so the daemon plans ten creates).
    let _thaw = Frozen::thaw_on_drop(server_pid(&server));
    let home = Home::new();
    let config = home.config(PRODUCTION_FAST);
    let fake = FakeTmux::new("freeze");
    let mut command = fake.command(&home, &server, &config);
    command.env(TIMEOUT_ENV, "5s");
    let mut daemon = Daemon::spawn(command);
    let frozen_pid = fake.log_path().with_extension("log.frozen");
    home.wait("the first create froze the server", || {
        std::fs::read_to_string(&frozen_pid).is_ok_and(|t| t.ends_with('\n'))
    });
    assert_eq!(fake.calls_with("new-session"), 1);

    signal(daemon.child.id(), "TERM");
    let exited = exit_within(&mut daemon.child, Duration::from_secs(30));
    let Some((code, took)) = exited else {
        panic!("the daemon did not exit within 30 s of SIGTERM");
    };
    eprintln!("exited {took:?} after SIGTERM");
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} to exit: more than one call timeout (5 s)"
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        fake.calls_with("new-session"),
        1,
        "creates were started after SIGTERM"
    );
    // The memory says what was not done (the one in progress and the nine queued ones).
    for name in auto_pool() {
        let text = format!("create {name} not done: the supervisor is stopping");
        assert_eq!(
            events_with(&home, &server, &text).len(),
            1,
            "no event {text:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A status file that is not a regular file

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn a_fifo_as_status_file_blocks_neither_the_pool_nor_sigterm() {
    let server = TestServer::new();
    let home = Home::new();
    let fifo = home.path().join("status.fifo");
    mkfifo(&fifo);
    let config = home.config(&small_with_status_file(&fifo));
    let mut daemon = Daemon::start(&home, &server, &config);
    home.wait("the pool exists", || has_pool(&server, &SMALL_POOL));
    home.wait("the FIFO is named in the log", || {
        home.log_text()
            .contains("is a named pipe (FIFO), not a regular file")
    });
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "SIGTERM did not end the daemon: {stderr}");
}

/// Runs `check` and waits for it (killing it after [`PATIENCE`]); (exit code, stderr).
fn check_returns(home: &Home, server: &TestServer, config: &Path) -> (Option<i32>, String) {
    let mut child = home
        .command(server, config)
        .arg("check")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exited = exit_within(&mut child, PATIENCE);
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("check did not return within {PATIENCE:?}");
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (exited.and_then(|e| e.0), stderr)
}

#[test]
fn check_returns_with_a_fifo_or_a_huge_file_as_status_file() {
    let server = TestServer::new();
    server.new_session("ccl-auto-11");
    let home = Home::new();
    let fifo = home.path().join("status.fifo");
    mkfifo(&fifo);
    let config = home.config(&small_with_status_file(&fifo));
    let (code, stderr) = check_returns(&home, &server, &config);
    assert_eq!(code, Some(1), "two slots are missing: {stderr}");
    assert!(
        stderr.contains("is a named pipe (FIFO), not a regular file"),
        "{stderr}"
    );

    // 2 GiB (sparse: it costs no disk): not read, said to be too big.
    let huge = home.path().join("status.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let config = home.config(&small_with_status_file(&huge));
    let (code, stderr) = check_returns(&home, &server, &config);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("is bigger than 1024 KiB"), "{stderr}");
}

#[test]
fn dev_zero_as_status_file_is_not_read_and_the_polls_go_on() {
    let server = TestServer::new();
    let home = Home::new();
    let config = home.config(&small_with_status_file(Path::new("/dev/zero")));
    let fake = FakeTmux::new("passthrough");
    let mut daemon = Daemon::spawn(fake.command(&home, &server, &config));
    home.wait("the pool exists", || has_pool(&server, &SMALL_POOL));
    let polls = fake.calls_with("list-panes");
    home.wait("three more polls", || {
        fake.calls_with("list-panes") >= polls + 3
    });
    // Nothing was read: the daemon stayed small (reading /dev/zero grows without end).
    let peak = peak_rss_kib(daemon.child.id());
    assert!(peak < 200 * 1024, "the daemon grew to {peak} KiB");
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        home.log_text()
            .contains("status file /dev/zero is a character device, not a regular file"),
        "{}",
        home.log_text()
    );
}

#[test]
fn a_directory_as_status_file_is_said_once_not_every_poll() {
    let server = TestServer::new();
    let home = Home::new();
    let dir = home.path().join("status.d");
    std::fs::create_dir(&dir).unwrap();
    let config = home.config(&small_with_status_file(&dir));
    let fake = FakeTmux::new("passthrough");
    let mut daemon = Daemon::spawn(fake.command(&home, &server, &config));
    let path = dir.display().to_string();
    home.wait("the directory is named in the log", || {
        home.log_text().contains(&path)
    });
    let polls = fake.calls_with("list-panes");
    home.wait("five more polls", || {
        fake.calls_with("list-panes") >= polls + 5
    });
    let (code, stderr) = daemon.stop();
    assert_eq!(code, Some(0), "{stderr}");
    let log = home.log_text();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&path)).collect();
    assert_eq!(lines.len(), 1, "said more than once:\n{}", lines.join("\n"));
    assert!(
        lines[0].contains("is a directory, not a regular file"),
        "{}",
        lines[0]
    );
    assert_eq!(events_with(&home, &server, &path).len(), 1);
}
