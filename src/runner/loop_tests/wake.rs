//! The daemon loop with push on the in-process tmux and the paused clock: a death rings the
//! wake-up (as tmux's hook or a followed process would) and is repaired at once, not at the
//! next poll or reconcile tick; ten deaths make one poll; an idle pool polls no more than
//! without push.

use super::*;

const SLOW: &str = r#"
poll_interval: 2s
reconcile_interval: 5s
pools:
  - name: auto
    prefix: "a-"
    max: 10
    restart: always
"#;

/// Polls (snapshots) since `since`.
fn polls_since(fake: &FakeTmux, since: Instant) -> usize {
    fake.calls()
        .into_iter()
        .filter(|(at, c)| *at >= since && *c == Call::Snapshot)
        .count()
}

/// A daemon on `fake` over SLOW, the pool up; with `push`, deaths ring its wake-up.
async fn running(fake: &FakeTmux, push: bool) -> Running {
    if push {
        fake.ring_on_deaths(crate::wake::Wake::new());
    }
    let (sup, persist) = no_store(config(SLOW));
    let daemon = spawn_daemon(sup, persist, fake, virtual_clock());
    // Past the creates and the polls that confirm them, just after a poll tick (at 4 s).
    tokio::time::sleep(Duration::from_millis(4_100)).await;
    assert_eq!(fake.sessions().len(), 10, "{:?}", fake.sessions());
    daemon
}

#[tokio::test(start_paused = true)]
async fn with_push_a_killed_session_and_a_killed_agent_are_back_at_once() {
    let fake = FakeTmux::new();
    let daemon = running(&fake, true).await;
    let killed = Instant::now();
    fake.remove_session("a-3");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let died = Instant::now();
    fake.kill_program("a-4", 1);
    let pane = fake.pane("a-4").unwrap().pane_id;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop(daemon).await;
    let ops: Vec<(f64, Call)> = fake
        .ops()
        .into_iter()
        .filter(|(at, _)| *at >= killed)
        .map(|(at, c)| ((at - killed).as_secs_f64(), c))
        .collect();
    // Neither waited for the next poll (at 6 s) nor for the reconcile tick (at 5 s).
    assert_eq!(
        ops.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
        vec![Call::Create("a-3".into()), Call::Respawn(pane)],
        "{ops:?}"
    );
    assert!(ops[0].0 < 0.01, "{ops:?}");
    assert!((ops[1].0 - (died - killed).as_secs_f64()) < 0.01, "{ops:?}");
}

#[tokio::test(start_paused = true)]
async fn without_push_the_same_death_waits_for_the_next_poll() {
    let fake = FakeTmux::new();
    let daemon = running(&fake, false).await;
    let killed = Instant::now();
    fake.remove_session("a-3");
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop(daemon).await;
    let at: Vec<f64> = fake
        .ops()
        .into_iter()
        .filter(|(at, _)| *at >= killed)
        .map(|(at, _)| (at - killed).as_secs_f64())
        .collect();
    // The poll at 6 s sees it gone (1.9 s after the kill) and reconciles at once.
    assert_eq!(at.len(), 1, "{at:?}");
    assert!(at[0] > 1.8 && at[0] < 2.0, "{at:?}");
}

#[tokio::test(start_paused = true)]
async fn ten_deaths_at_once_make_one_poll_and_one_pass() {
    let fake = FakeTmux::new();
    let daemon = running(&fake, true).await;
    let died = Instant::now();
    for i in 0..10 {
        fake.kill_program(&format!("a-{i}"), 1);
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop(daemon).await;
    let respawns = fake
        .ops()
        .into_iter()
        .filter(|(at, c)| *at >= died && matches!(c, Call::Respawn(_)))
        .count();
    assert_eq!(respawns, 10);
    // The wake-up's poll, and the one that follows the respawns: not ten, and no tick yet.
    let at: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|(at, _)| *at >= died)
        .map(|(at, c)| ((at - died).as_secs_f64(), c))
        .collect();
    assert_eq!(polls_since(&fake, died), 2, "{at:?}");
}

#[tokio::test(start_paused = true)]
async fn an_idle_pool_polls_no_more_with_push_than_without() {
    let mut polls = Vec::new();
    for push in [true, false] {
        let fake = FakeTmux::new();
        let daemon = running(&fake, push).await;
        let since = Instant::now();
        tokio::time::sleep(Duration::from_secs(120)).await;
        stop(daemon).await;
        polls.push(polls_since(&fake, since));
        assert_eq!(fake.ops().len(), 10, "only the creates");
    }
    // One poll per 2 s tick, push or not.
    assert_eq!(polls, vec![60, 60]);
}

#[tokio::test(start_paused = true)]
async fn a_wake_up_with_nothing_wrong_polls_once_and_changes_nothing() {
    let fake = FakeTmux::new();
    let daemon = running(&fake, true).await;
    let since = Instant::now();
    // An agent's hook rings: the slot is fine.
    fake.fire_wake();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop(daemon).await;
    assert_eq!(polls_since(&fake, since), 1);
    assert_eq!(fake.ops().len(), 10, "only the creates");
}
