//! The UI loop on an in-process tmux, a `TestBackend` and tokio's paused clock: ticks,
//! deaths and operator keys in virtual time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use tokio::time::{Instant, sleep};

use super::*;
use crate::config::Config;
use crate::fake::{Call, FakeTmux};
use crate::runner::PushSetup;
use crate::wake::Wake;

use crate::fixtures::PRODUCTION_FAST;

fn key(c: char) -> Input {
    Input::Term(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

fn enter() -> Input {
    Input::Term(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )))
}

/// Creates of `name` at or after `since`.
fn creates(fake: &FakeTmux, name: &str, since: Instant) -> Vec<Instant> {
    fake.ops()
        .into_iter()
        .filter(|(at, c)| *at >= since && *c == Call::Create(name.to_string()))
        .map(|(at, _)| at)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_ui_loop_supervises_and_obeys_the_operators_keys() {
    let fake = FakeTmux::new();
    let theirs = fake.add_session("ccl-3");
    fake.add_session("main");
    let cfg = Config::parse_with_home(PRODUCTION_FAST, "test", std::path::Path::new("/")).unwrap();
    let (sup, persist) = Persist::open(cfg, None, 0);
    let app = App::new(sup, "-L test", true);
    let start = Instant::now();
    let clock: Arc<Clock> =
        Arc::new(move || 1_700_000_000_000 + start.elapsed().as_millis() as Millis);
    let (stop_tx, stop_rx) = mpsc::unbounded_channel();
    let mut ui = Ui::new(
        app,
        persist,
        Arc::new(fake.clone()),
        Push::start(PushSetup::off(Wake::new())),
        clock,
        stop_rx,
    );
    let input = ui.input_tx.clone();
    let mut term = Terminal::new(TestBackend::new(120, 45)).unwrap();

    let operator = operate(&fake, &input, &theirs.pane_id);
    let exit = tokio::select! {
        exit = ui.drive(&mut term) => exit,
        () = operator => panic!("the UI did not quit on q"),
    };
    assert!(matches!(exit, Exit::Quit));
    // What the operator sees: the header and the filtered slot.
    let screen: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(ratatui::buffer::Cell::symbol)
        .collect();
    assert!(screen.contains("tmux-supervisor"), "{screen}");
    assert!(screen.contains("ccl-3"), "{screen}");
    drop(stop_tx);
    let sup = ui.finish().await;
    assert!(
        sup.memory
            .events
            .iter()
            .any(|e| e.text.contains("ccl-3") && e.text.contains("by the operator"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_request_ends_the_ui_loop() {
    let fake = FakeTmux::new();
    let cfg = Config::parse_with_home(PRODUCTION_FAST, "test", std::path::Path::new("/")).unwrap();
    let (sup, persist) = Persist::open(cfg, None, 0);
    let start = Instant::now();
    let clock: Arc<Clock> = Arc::new(move || start.elapsed().as_millis() as Millis);
    let (stop_tx, stop_rx) = mpsc::unbounded_channel();
    let mut ui = Ui::new(
        App::new(sup, "-L test", true),
        persist,
        Arc::new(fake.clone()),
        Push::start(PushSetup::off(Wake::new())),
        clock,
        stop_rx,
    );
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let signal = async {
        sleep(Duration::from_secs(5)).await;
        stop_tx.send("SIGTERM").unwrap();
        sleep(Duration::from_secs(3600)).await;
    };
    let exit = tokio::select! {
        exit = ui.drive(&mut term) => exit,
        () = signal => panic!("the UI did not stop"),
    };
    assert!(matches!(exit, Exit::Stopped("SIGTERM")));
    assert_eq!(fake.sessions().len(), 10);
}

/// What the operator does and sees while the loop runs: the pool created, a dead agent
/// respawned, pause and resume, a confirmed restart of a manual slot, a switch, then q.
async fn operate(fake: &FakeTmux, input: &mpsc::UnboundedSender<Input>, theirs: &str) {
    // The auto pool is created at once.
    sleep(Duration::from_secs(3)).await;
    assert_eq!(fake.sessions().len(), 12, "{:?}", fake.sessions());
    // A dead agent is respawned within a poll.
    fake.kill_program("ccl-auto-12", 1);
    let died = Instant::now();
    sleep(Duration::from_secs(2)).await;
    let pane = fake.pane("ccl-auto-12").unwrap();
    assert!(!pane.pane_dead, "not respawned");
    let respawned: Vec<Instant> = fake
        .ops()
        .into_iter()
        .filter(|(at, c)| *at >= died && *c == Call::Respawn(pane.pane_id.clone()))
        .map(|(at, _)| at)
        .collect();
    assert_eq!(respawned.len(), 1);
    assert!(respawned[0] - died <= Duration::from_millis(600));

    // Paused (p), a killed auto session stays gone, however long; resumed, it is back.
    input.send(key('p')).unwrap();
    sleep(Duration::from_millis(100)).await;
    fake.remove_session("ccl-auto-13");
    let gone = Instant::now();
    sleep(Duration::from_secs(60)).await;
    assert!(
        creates(fake, "ccl-auto-13", gone).is_empty(),
        "created while paused"
    );
    input.send(key('p')).unwrap();
    let resumed = Instant::now();
    sleep(Duration::from_secs(2)).await;
    let back = creates(fake, "ccl-auto-13", gone);
    assert_eq!(back.len(), 1);
    assert!(
        back[0] - resumed <= Duration::from_millis(1100),
        "{:?}",
        back[0] - resumed
    );

    // The manual slot ccl-3, someone else's session: r asks first, y restarts its pane.
    for i in [
        key('/'),
        key('c'),
        key('c'),
        key('l'),
        key('-'),
        key('3'),
        enter(),
    ] {
        input.send(i).unwrap();
    }
    input.send(key('r')).unwrap();
    sleep(Duration::from_millis(100)).await;
    assert!(
        !fake
            .ops()
            .iter()
            .any(|(_, c)| *c == Call::Respawn(theirs.to_string())),
        "restarted without asking"
    );
    input.send(key('y')).unwrap();
    sleep(Duration::from_millis(500)).await;
    assert!(
        fake.ops()
            .iter()
            .any(|(_, c)| *c == Call::Respawn(theirs.to_string()))
    );
    // Enter switches the client (the UI runs inside tmux on this server).
    input.send(enter()).unwrap();
    sleep(Duration::from_millis(100)).await;
    assert!(
        fake.calls()
            .iter()
            .any(|(_, c)| *c == Call::SwitchClient("=ccl-3:".into()))
    );
    // Nothing was ever done to `main`.
    assert!(fake.ops().iter().all(|(_, c)| !matches!(c, Call::Kill(_))));
    input.send(key('q')).unwrap();
    sleep(Duration::from_secs(3600)).await;
}

/// An op result drained in the same batch as the terminal input failing is still folded in
/// (its session owned, its event said), so the wind-down does not wait for a result that
/// already came.
#[tokio::test(start_paused = true)]
async fn a_result_drained_with_a_failed_input_is_folded_in() {
    use crate::jobs::{Done, OpKind, OpResult};
    use crate::memory::OwnedPane;
    let mut lost = 0;
    for _ in 0..20 {
        let fake = FakeTmux::new();
        let cfg =
            Config::parse_with_home(PRODUCTION_FAST, "test", std::path::Path::new("/")).unwrap();
        let (sup, persist) = Persist::open(cfg, None, 0);
        let (_stop_tx, stop_rx) = mpsc::unbounded_channel();
        let mut ui = Ui::new(
            App::new(sup, "-L test", true),
            persist,
            Arc::new(fake.clone()),
            Push::start(PushSetup::off(Wake::new())),
            Arc::new(|| 1_700_000_000_000),
            stop_rx,
        );
        let job = ui
            .app
            .sup
            .recreate("ccl-auto-11", 1_700_000_000_000)
            .unwrap();
        assert!(matches!(job.kind, OpKind::Create(_)));
        let job = ui.app.sup.sent(vec![job]).remove(0);
        ui.fxr
            .work_tx
            .send(Work::Executed(vec![OpResult {
                job,
                outcome: Ok(Done::Created(OwnedPane {
                    server_pid: 1,
                    session_id: "$7".into(),
                    pane_id: "%7".into(),
                })),
            }]))
            .unwrap();
        ui.input_tx.send(Input::Closed("gone".into())).unwrap();
        let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
        assert!(matches!(ui.drive(&mut term).await, Exit::Failed(_)));
        let sup = ui.finish().await;
        if sup
            .memory
            .slot("ccl-auto-11")
            .and_then(|m| m.pane.as_ref())
            .is_none()
        {
            lost += 1;
        }
    }
    assert_eq!(lost, 0, "results lost in {lost} of 20 runs");
}

/// The other supervisor quits: the reconcile tick that takes the lock over acts in the same
/// pass (the loop tries the lock before the tick is folded in), as the daemon does.
#[tokio::test(start_paused = true)]
async fn the_tick_that_takes_the_lock_over_acts_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::Store::new(dir.path(), "k");
    let other = store.lock().unwrap().unwrap();
    let fake = FakeTmux::new();
    let cfg = Config::parse_with_home(PRODUCTION_FAST, "test", std::path::Path::new("/")).unwrap();
    let (sup, persist) = Persist::open(cfg, Some(store), 0);
    assert!(sup.mode.observe_only);
    let start = Instant::now();
    let clock: Arc<Clock> = Arc::new(move || start.elapsed().as_millis() as Millis);
    let (_stop_tx, stop_rx) = mpsc::unbounded_channel();
    let mut ui = Ui::new(
        App::new(sup, "-L t", true),
        persist,
        Arc::new(fake.clone()),
        Push::start(PushSetup::off(Wake::new())),
        clock,
        stop_rx,
    );
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let script = async {
        sleep(Duration::from_millis(2300)).await;
        assert!(fake.sessions().is_empty(), "it acted without the lock");
        let released = Instant::now();
        drop(other);
        // The next reconcile tick (every second) takes the lock and creates the pool.
        sleep(Duration::from_millis(1100)).await;
        let created = fake
            .ops()
            .into_iter()
            .filter(|(at, c)| *at >= released && matches!(c, Call::Create(_)))
            .map(|(at, _)| at - released)
            .min();
        assert!(
            created.is_some_and(|d| d <= Duration::from_secs(1)),
            "{created:?}"
        );
    };
    tokio::select! {
        _ = ui.drive(&mut term) => panic!("the UI stopped"),
        () = script => {}
    }
}

#[tokio::test(start_paused = true)]
async fn with_push_the_ui_repairs_a_death_at_once_and_polls_once_for_it() {
    let fake = FakeTmux::new();
    let wake = Wake::new();
    fake.ring_on_deaths(wake.clone());
    let slow = PRODUCTION_FAST
        .replace("poll_interval: 500ms", "poll_interval: 2s")
        .replace("reconcile_interval: 1s", "reconcile_interval: 5s");
    assert!(slow.contains("poll_interval: 2s"), "{slow}");
    let cfg = Config::parse_with_home(&slow, "test", std::path::Path::new("/")).unwrap();
    let (sup, persist) = Persist::open(cfg, None, 0);
    let start = Instant::now();
    let clock: Arc<Clock> = Arc::new(move || start.elapsed().as_millis() as Millis);
    let (_stop_tx, stop_rx) = mpsc::unbounded_channel();
    let mut ui = Ui::new(
        App::new(sup, "-L test", true),
        persist,
        Arc::new(fake.clone()),
        Push::start(PushSetup::off(wake)),
        clock,
        stop_rx,
    );
    let input = ui.input_tx.clone();
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let script = async {
        sleep(Duration::from_millis(4_100)).await;
        assert_eq!(fake.sessions().len(), 10, "{:?}", fake.sessions());
        let killed = Instant::now();
        fake.remove_session("ccl-auto-13");
        sleep(Duration::from_millis(500)).await;
        input.send(key('q')).unwrap();
        sleep(Duration::from_secs(3600)).await;
        killed
    };
    let killed = tokio::select! {
        exit = ui.drive(&mut term) => {
            assert!(matches!(exit, Exit::Quit));
            None
        }
        k = script => Some(k),
    };
    assert!(killed.is_none(), "the UI did not quit");
    let after: Vec<(Duration, Call)> = fake
        .calls()
        .into_iter()
        .filter(|(at, _)| *at >= start + Duration::from_millis(4_100))
        .map(|(at, c)| (at - start, c))
        .collect();
    let creates: Vec<_> = after
        .iter()
        .filter(|(_, c)| *c == Call::Create("ccl-auto-13".into()))
        .collect();
    // Back in the same instant (virtual time), not at the poll at 6 s or the pass at 5 s.
    assert_eq!(creates.len(), 1, "{after:?}");
    assert!(creates[0].0 < Duration::from_millis(4_110), "{after:?}");
    // The wake-up's poll and the one after the create: no more.
    let polls = after.iter().filter(|(_, c)| *c == Call::Snapshot).count();
    assert_eq!(polls, 2, "{after:?}");
}
