//! The UI under SIGTERM, SIGHUP, SIGINT and a panic: the terminal must be given back (main
//! screen, cursor visible, raw mode off), checked from the tmux pane the UI ran in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::TestServer;
use common::process::{Home, signal};

const CONFIG: &str = r#"
poll_interval: 500ms
reconcile_interval: 1s
pools:
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: 3
    restart: always
"#;

const WAIT: Duration = Duration::from_secs(20);

/// The UI started by `sh` in the `ui` pane; when it ends, `sh` writes its exit status and the
/// terminal's `stty -a` to `out`, then sleeps so the pane can still be inspected.
struct Run {
    /// The server the UI's pane lives on.
    server: TestServer,
    /// The server the UI supervises.
    target: TestServer,
    home: Home,
    out: PathBuf,
}

impl Run {
    fn start(panic_key: bool) -> Self {
        let server = TestServer::new();
        let target = TestServer::new();
        let home = Home::new();
        let config = home.config(CONFIG);
        let out = home.path().join("out");
        let h = home.path().display().to_string();
        let script = format!(
            "env -u TMUX_SUPERVISOR_CONFIG HOME={h} XDG_STATE_HOME={h}/state {panic} {bin} -L {sock} -c {cfg} --log-file {h}/ui.log; echo \"exit=$?\" > {out}; stty -a >> {out}; sleep 600",
            panic = if panic_key {
                "TMUX_SUPERVISOR_TEST_PANIC=1"
            } else {
                ""
            },
            bin = env!("CARGO_BIN_EXE_tmux-supervisor"),
            sock = target.socket,
            cfg = config.display(),
            out = out.display(),
        );
        server.tmux_ok(&[
            "new-session",
            "-d",
            "-s",
            "ui",
            "-x",
            "120",
            "-y",
            "40",
            "sh",
            "-c",
            &script,
        ]);
        let run = Run {
            server,
            target,
            home,
            out,
        };
        run.wait("the UI is up", || {
            run.screen().contains("ccl-auto-13") && run.pane("#{alternate_on}") == "1"
        });
        run
    }

    fn screen(&self) -> String {
        self.server.tmux_ok(&["capture-pane", "-p", "-t", "=ui:"])
    }

    fn pane(&self, format: &str) -> String {
        self.server
            .tmux_ok(&["display-message", "-p", "-t", "=ui:", format])
            .trim()
            .to_string()
    }

    fn wait(&self, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !f() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}; screen:\n{}\nlog:\n{}",
                self.screen(),
                std::fs::read_to_string(self.home.path().join("ui.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pid of the UI process: the child of the pane's `sh`.
    fn ui_pid(&self) -> u32 {
        let sh = self.pane("#{pane_pid}");
        let out = Command::new("ps")
            .args(["--ppid", &sh, "-o", "pid=,comm="])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.contains("tmux-supervisor") || l.contains("tmux-supervi"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no UI process under sh {sh}: {}",
                    String::from_utf8_lossy(&out.stdout)
                )
            })
    }

    /// Waits for the UI to end; returns its exit status line and `stty -a`.
    fn ended(&self) -> (String, String) {
        self.wait("the UI ended and sh wrote its report", || {
            std::fs::read_to_string(&self.out).is_ok_and(|t| t.contains("speed"))
        });
        let text = std::fs::read_to_string(&self.out).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        (first.to_string(), rest.to_string())
    }

    /// The terminal is given back: main screen, cursor shown, cooked mode with echo.
    fn assert_restored(&self, stty: &str) {
        assert_eq!(
            self.pane("#{alternate_on}"),
            "0",
            "still on the alternate screen"
        );
        assert_eq!(self.pane("#{cursor_flag}"), "1", "cursor left hidden");
        let words: Vec<&str> = stty.split_whitespace().collect();
        for mode in ["icanon", "echo", "isig"] {
            assert!(
                words.contains(&mode),
                "raw mode left on ({mode} is off):\n{stty}"
            );
        }
        // The sessions keep running: the UI never kills on the way out.
        for i in 11..=13 {
            assert!(
                self.target
                    .session_names()
                    .contains(&format!("ccl-auto-{i}")),
                "ccl-auto-{i} is gone"
            );
        }
    }
}

fn signal_restores(sig: &str) {
    let run = Run::start(false);
    run.wait("the pool exists", || run.target.session_names().len() >= 3);
    signal(run.ui_pid(), sig);
    let (exit, stty) = run.ended();
    assert_eq!(exit, "exit=0", "after SIG{sig}");
    run.assert_restored(&stty);
}

#[test]
fn sigterm_restores_the_terminal() {
    signal_restores("TERM");
}

/// SIGHUP reads the config again (a pool added is supervised at once) and the UI stays up;
/// it ends on SIGTERM as usual, the terminal given back.
#[test]
fn sighup_reads_the_config_again_and_the_ui_stays_up() {
    let run = Run::start(false);
    run.wait("the pool exists", || run.target.session_names().len() >= 3);
    let more =
        format!("{CONFIG}  - name: more\n    prefix: \"more-\"\n    max: 1\n    restart: always\n");
    run.home.config(&more);
    signal(run.ui_pid(), "HUP");
    run.wait("the new pool is created", || {
        run.target.session_names().contains(&"more-0".to_string())
    });
    let log = std::fs::read_to_string(run.home.path().join("ui.log")).unwrap();
    assert!(log.contains("config reloaded"), "{log}");
    signal(run.ui_pid(), "TERM");
    let (exit, stty) = run.ended();
    assert_eq!(exit, "exit=0");
    run.assert_restored(&stty);
}

#[test]
fn sigint_restores_the_terminal() {
    signal_restores("INT");
}

#[test]
fn a_panic_restores_the_terminal_and_says_why() {
    let run = Run::start(true);
    run.server.tmux_ok(&["send-keys", "-t", "=ui:", "!"]);
    let (exit, stty) = run.ended();
    assert_eq!(exit, "exit=101");
    run.assert_restored(&stty);
    // The whole pane history: with RUST_BACKTRACE set the message scrolls off the screen.
    let history = run
        .server
        .tmux_ok(&["capture-pane", "-p", "-S", "-", "-t", "=ui:"]);
    assert!(
        history.contains("panicked") && history.contains("test panic"),
        "no panic message in the pane:
{history}"
    );
}

#[test]
fn the_ui_outlives_the_server_it_supervises() {
    let run = Run::start(false);
    run.wait("the pool exists", || run.target.session_names().len() >= 3);
    let pid = run.ui_pid();
    run.target.kill_server();
    // The UI keeps running, says the sessions are gone, and brings the pool back.
    run.wait("the pool is back on a new server", || {
        run.target.session_names().len() >= 3
    });
    run.wait("the screen shows the pool up again", || {
        run.screen().contains("3/3 up")
    });
    assert_eq!(run.ui_pid(), pid, "the UI restarted or died");
    assert_eq!(run.pane("#{alternate_on}"), "1");
    signal(pid, "TERM");
    let (exit, stty) = run.ended();
    assert_eq!(exit, "exit=0");
    run.assert_restored(&stty);
}

#[test]
fn the_ui_refuses_a_state_dir_others_can_write_to() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = TestServer::new();
    let target = TestServer::new();
    let home = Home::new();
    let config = home.config(CONFIG);
    let state_dir = home.state_dir();
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::set_permissions(&state_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let h = home.path().display().to_string();
    let out = home.path().join("out");
    let script = format!(
        "env -u TMUX_SUPERVISOR_CONFIG HOME={h} XDG_STATE_HOME={h}/state {bin} -L {sock} -c {cfg} 2> {h}/err; echo \"exit=$?\" > {out}; sleep 600",
        bin = env!("CARGO_BIN_EXE_tmux-supervisor"),
        sock = target.socket,
        cfg = config.display(),
        out = out.display(),
    );
    server.tmux_ok(&[
        "new-session",
        "-d",
        "-s",
        "ui",
        "-x",
        "120",
        "-y",
        "40",
        "sh",
        "-c",
        &script,
    ]);
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(&out).is_ok_and(|t| t.contains("exit=")) {
        assert!(Instant::now() < deadline, "the UI did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), "exit=2");
    let err = std::fs::read_to_string(home.path().join("err")).unwrap();
    assert!(
        err.contains("writable by group or others")
            && err.contains(&format!("`chmod 700 {}`", state_dir.display())),
        "{err}"
    );
    assert!(target.session_names().is_empty(), "it acted");
    assert_eq!(std::fs::read_dir(&state_dir).unwrap().count(), 0);
}

/// Starts the UI, attaches to ccl-auto-11 in the foreground (the UI's pane is on `server`,
/// the pool on `target`), and waits until the client is there.
fn attached_in_the_foreground() -> Run {
    let run = Run::start(false);
    run.wait("the pool exists", || run.target.session_names().len() >= 3);
    run.wait("ccl-auto-11 is idle on screen", || {
        run.screen()
            .lines()
            .any(|l| l.contains("ccl-auto-11") && l.contains("idle"))
    });
    run.server.tmux_ok(&["send-keys", "-t", "=ui:", "Enter"]);
    run.wait("a client is attached to ccl-auto-11", || {
        clients(&run) == "ccl-auto-11"
    });
    run
}

fn clients(run: &Run) -> String {
    run.target
        .tmux_ok(&["list-clients", "-F", "#{client_session}"])
        .trim()
        .to_string()
}

fn signal_while_attached_ends_the_attach_and_restores_the_terminal(sig: &str) {
    let run = attached_in_the_foreground();
    signal(run.ui_pid(), sig);
    let (exit, stty) = run.ended();
    assert_eq!(exit, "exit=0", "after SIG{sig}");
    run.assert_restored(&stty);
    assert_eq!(clients(&run), "", "the attach client is still there");
    let state = run.home.state_dir();
    let saved = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap_or_else(|| panic!("no state file in {}", state.display()));
    let memory: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    let events = memory["events"].to_string();
    assert!(events.contains("created ccl-auto-13"), "{events}");
    let log = std::fs::read_to_string(run.home.path().join("ui.log")).unwrap();
    assert!(log.contains(&format!("SIG{sig} while attached")), "{log}");
}

#[test]
fn sigterm_while_attached_in_the_foreground_ends_the_attach_and_restores_the_terminal() {
    signal_while_attached_ends_the_attach_and_restores_the_terminal("TERM");
}

#[test]
fn sigint_while_attached_in_the_foreground_ends_the_attach_and_restores_the_terminal() {
    signal_while_attached_ends_the_attach_and_restores_the_terminal("INT");
}

/// Sends SIGCONT to a process this test froze, when dropped (declared after the server).
struct Thaw(u32);

impl Drop for Thaw {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

#[test]
fn sigterm_while_attached_to_a_frozen_server_still_restores_the_terminal() {
    let run = attached_in_the_foreground();
    let pid: u32 = run
        .target
        .tmux_ok(&["display-message", "-p", "#{pid}"])
        .trim()
        .parse()
        .unwrap();
    let _thaw = Thaw(pid);
    // The attach client cannot end on its own now (its server never answers): it is killed,
    // and the UI gives the terminal back itself.
    signal(pid, "STOP");
    signal(run.ui_pid(), "TERM");
    let (exit, stty) = run.ended();
    assert_eq!(exit, "exit=0");
    assert_eq!(
        run.pane("#{alternate_on}"),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(run.pane("#{cursor_flag}"), "1", "cursor left hidden");
    let words: Vec<&str> = stty.split_whitespace().collect();
    for mode in ["icanon", "echo", "isig"] {
        assert!(
            words.contains(&mode),
            "raw mode left on ({mode} is off):\n{stty}"
        );
    }
    let log = std::fs::read_to_string(run.home.path().join("ui.log")).unwrap();
    assert!(
        log.contains("did not end on SIGTERM: killing it"),
        "the attach client ended by itself:\n{log}"
    );
}
