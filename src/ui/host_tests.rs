//! The screens with pools on other hosts: each host under its own header, this machine's
//! first; an unreachable host's slots greyed with what was last known; the audit view's
//! columns named after their host.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::draw;
use super::rows::{Row, rows};
use crate::app::sample::NOW;
use crate::app::{App, View};
use crate::config::Config;
use crate::controller::Supervisor;
use crate::fixtures::{pane, polled};
use crate::hosts::mark;
use crate::tmux::HostPoll;

const HOSTS: &str = "hosts:
  gpu1: {ssh: ops@gpu1.example, tmux: {socket_name: agents}}
  gpu2: {ssh: ops@gpu2.example, port: 2222}
pools:
  - {name: auto, prefix: \"ccl-auto-\", start_index: 11, max: 2, restart: always}
  - {name: gpu, prefix: \"gpu-\", max: 2, restart: always, host: gpu1}
  - {name: build, prefix: \"build-\", max: 2, restart: always, host: gpu2}
";

fn on(host: &str, name: &str, n: u32) -> crate::tmux::Pane {
    let mut p = pane(name, n);
    p.pane_id = mark(&p.pane_id, host);
    p.session_id = mark(&p.session_id, host);
    p.session_created = NOW / 1000 - 600;
    p.window_activity = NOW / 1000 - 120;
    p
}

/// gpu1 answered a minute ago, then stopped answering; gpu2 answers.
fn app() -> App {
    let cfg = Config::parse_with_home(HOSTS, "hosts", std::path::Path::new("/home/op")).unwrap();
    let mut sup = Supervisor::without_memory(cfg);
    let mut here = pane("ccl-auto-11", 1);
    here.session_created = NOW / 1000 - 600;
    here.window_activity = NOW / 1000 - 120;
    let answers = |gpu1: Option<&str>| {
        vec![
            HostPoll {
                name: "gpu1".into(),
                error: gpu1.map(str::to_string),
            },
            HostPoll {
                name: "gpu2".into(),
                error: None,
            },
        ]
    };
    let mut first = polled(
        vec![
            here.clone(),
            on("gpu1", "gpu-0", 2),
            on("gpu1", "gpu-1", 3),
            on("gpu2", "build-0", 4),
            on("gpu2", "build-1", 5),
        ],
        &[],
    );
    first.snapshot.hosts = answers(None);
    sup.on_poll(first, NOW - 60_000);
    let mut then = polled(
        vec![here, on("gpu2", "build-0", 4), on("gpu2", "build-1", 5)],
        &[],
    );
    then.snapshot.hosts = answers(Some(
        "ssh: connect to host gpu1.example port 22: Connection refused",
    ));
    sup.on_poll(then, NOW);
    let mut app = App::new(sup, "-L agents", false);
    app.selected = Some("gpu1:gpu-1".to_string());
    app
}

fn render(app: &App) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(110, 30)).unwrap();
    t.draw(|f| draw(f, app, NOW)).unwrap();
    t
}

#[test]
fn the_table_groups_by_host_and_greys_an_unreachable_one() {
    let app = app();
    let hosts: Vec<String> = rows(&app, NOW)
        .iter()
        .filter_map(|r| match r {
            Row::Host(h) => Some(h.title.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    assert!(hosts[0].starts_with("this machine"));
    assert!(
        hosts[1]
            .starts_with("gpu1  ops@gpu1.example  tmux -L agents  UNREACHABLE, last seen 1m ago"),
        "{hosts:?}"
    );
    assert_eq!(hosts[2], "gpu2  ops@gpu2.example:2222  up");
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn the_audit_view_names_each_hosts_columns() {
    let mut app = app();
    app.view = View::Audit;
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn nothing_is_done_on_a_host_that_does_not_answer() {
    use crate::app::{Effect, Msg, update};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let key = |c| Msg::Key(KeyEvent::new(c, KeyModifiers::NONE));
    for k in [
        KeyCode::Char('r'),
        KeyCode::Char('R'),
        KeyCode::Char('x'),
        KeyCode::Enter,
    ] {
        let mut app = app();
        let fx = update(&mut app, key(k), NOW);
        assert!(
            !fx.iter()
                .any(|e| matches!(e, Effect::Execute(_) | Effect::Attach { .. })),
            "{k:?}: {fx:?}"
        );
        assert!(app.confirm.is_none(), "{k:?}");
        let said = app
            .status
            .as_ref()
            .map(|s| s.text.clone())
            .unwrap_or_default();
        assert!(
            said.starts_with("host gpu1 is unreachable"),
            "{k:?}: {said}"
        );
    }
    // gpu2 answers: its slot is recreated as usual (it asks first: it is kept alive).
    let mut app = app();
    app.selected = Some("gpu2:build-0".to_string());
    update(&mut app, key(KeyCode::Char('r')), NOW);
    assert!(app.confirm.is_some() || app.status.is_some());
    let said = app
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(!said.contains("unreachable"), "{said}");
}

#[test]
fn the_keys_walk_the_screen_in_its_order_and_no_two_sessions_share_a_key() {
    use crate::app::{Msg, update};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut app = app();
    // Sessions of this machine named like gpu1's slot and like gpu2's `main` written with its
    // host (a `:` no session name can hold: tmux rewrites it).
    let mut sup_poll = polled(
        vec![
            pane("ccl-auto-11", 1),
            pane("gpu-0", 7),
            pane("main@gpu2", 8),
            on("gpu2", "build-0", 4),
            on("gpu2", "build-1", 5),
            on("gpu2", "main", 6),
        ],
        &[],
    );
    sup_poll.snapshot.hosts = vec![
        HostPoll {
            name: "gpu1".into(),
            error: Some("down".into()),
        },
        HostPoll {
            name: "gpu2".into(),
            error: None,
        },
    ];
    app.show_others = true;
    app.sup.on_poll(sup_poll, NOW + 1_000);
    let screen: Vec<String> = rows(&app, NOW)
        .iter()
        .filter_map(|r| r.session().map(|s| s.key.clone()))
        .collect();
    let keys = app.selection().names();
    assert_eq!(keys, screen);
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "{keys:?}");
    for k in ["gpu-0", "gpu1:gpu-0", "main@gpu2", "gpu2:main"] {
        assert!(keys.contains(&k.to_string()), "{k} not in {keys:?}");
    }
    // j walks them in that order.
    app.selected = Some(keys[0].clone());
    let mut walked = vec![keys[0].clone()];
    for _ in 1..keys.len() {
        update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE)),
            NOW,
        );
        walked.push(app.selected.clone().unwrap());
    }
    assert_eq!(walked, keys);
}
