//! Notifications from the real daemon on a real tmux server: a `notify.command` that appends
//! a line to a file gets exactly one line per transition (waiting, limited, failed), and a
//! restarted daemon says nothing of states that were already so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use common::process::{Daemon, Home};

/// Each slot plays one part, chosen by the name the supervisor gives it.
const SCRIPT: &str = r#"#!/bin/sh
sleep 1
case "$TMUX_SUPERVISOR_SLOT" in
  nt-1) printf 'Bash command\n  make deploy\n Do you want to proceed?\n' ;;
  nt-2) printf "> go\n  You've hit your session limit · resets 11:59pm (UTC)\n" ;;
  nt-3) exit 3 ;;
esac
exec sleep 100000
"#;

fn lines(path: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn one_notice_per_transition_and_none_for_what_was_already_so() {
    let server = TestServer::new();
    let home = Home::new();
    let script = home.path().join("agent.sh");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = home.path().join("notices.txt");
    let config = home.config(&format!(
        r#"
poll_interval: 100ms
reconcile_interval: 200ms
backoff: {{initial: 1s, max: 1s}}
notify:
  command: ["sh", "-c", "echo \"$TMUX_SUPERVISOR_SLOT $TMUX_SUPERVISOR_STATE $TMUX_SUPERVISOR_POOL\" >> {out}"]
pools:
  - name: agents
    prefix: "nt-"
    start_index: 1
    max: 3
    restart: always
    agent: claude
    command: ["sh", "{script}"]
"#,
        out = out.display(),
        script = script.display(),
    ));
    let mut daemon = Daemon::start(&home, &server, &config);
    let want = vec![
        "nt-1 waiting agents".to_string(),
        "nt-2 limited agents".to_string(),
        "nt-3 failed agents".to_string(),
    ];
    home.wait("a notice for each of the three transitions", || {
        lines(&out).len() >= 3
    });
    // nt-3 fails again every second; within notify.min_interval (1m) it is not told again.
    home.wait("nt-3 failed and restarted twice more", || {
        home.state(&server)["slots"]["nt-3"]["total_restarts"]
            .as_u64()
            .is_some_and(|n| n >= 3)
    });
    assert_eq!(lines(&out), want);
    daemon.stop();

    // A new daemon: nt-1 is still waiting and nt-2 still limited, which is not news. Its
    // first polls are witnessed by nt-3's next restart.
    let before = home.state(&server)["slots"]["nt-3"]["total_restarts"]
        .as_u64()
        .unwrap();
    let mut daemon = Daemon::start(&home, &server, &config);
    home.wait("the new daemon restarted nt-3", || {
        home.state(&server)["slots"]["nt-3"]["total_restarts"]
            .as_u64()
            .is_some_and(|n| n > before)
    });
    // nt-3's failure is a transition the new daemon saw happen only if it saw it alive first;
    // either way nt-1 and nt-2 said nothing new.
    let now = lines(&out);
    assert_eq!(
        now.iter().filter(|l| l.starts_with("nt-1")).count(),
        1,
        "{now:?}"
    );
    assert_eq!(
        now.iter().filter(|l| l.starts_with("nt-2")).count(),
        1,
        "{now:?}"
    );
    daemon.stop();
}
