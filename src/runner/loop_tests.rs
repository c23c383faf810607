//! The daemon loop on an in-process tmux with tokio's paused clock: ticks, deaths and
//! restarts happen in virtual time, so what must not happen is proved without waiting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::config::Config;
use crate::fake::{Behaviour, Call, FakeTmux};
use crate::fixtures::PRODUCTION_FAST;
use crate::reconcile::backoff_delay;
use tokio::sync::mpsc;

/// The wall clock the loop sees: a fixed start, moved by tokio's (paused) clock.
fn virtual_clock() -> Arc<dyn Fn() -> Millis + Send + Sync> {
    let start = Instant::now();
    Arc::new(move || 1_700_000_000_000 + start.elapsed().as_millis() as Millis)
}

fn config(yaml: &str) -> Config {
    Config::parse_with_home(yaml, "test", std::path::Path::new("/")).unwrap()
}

/// A daemon loop running on `fake`: stop it, or send it configs read again.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    reload: mpsc::UnboundedSender<Reload>,
    handle: tokio::task::JoinHandle<Supervisor>,
}

/// Runs the daemon loop on `fake` until stopped.
fn spawn_daemon(
    sup: Supervisor,
    persist: Persist,
    fake: &FakeTmux,
    clock: Arc<dyn Fn() -> Millis + Send + Sync>,
) -> Running {
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let (reload, reloads) = mpsc::unbounded_channel();
    let tmux: Arc<dyn Tmux> = Arc::new(fake.clone());
    // Deaths the test injects ring the daemon's wake-up only where the test asks for it.
    let wake = fake.wake().unwrap_or_default();
    let handle = tokio::spawn(async move {
        let stopped = async {
            let _ = rx.await;
        };
        let kit = Kit {
            stop: Shutdown::new(),
            clock: &*clock,
            metrics: None,
            push: PushSetup::off(wake),
        };
        run_daemon(sup, persist, tmux, stopped, reloads, kit).await
    });
    Running {
        stop,
        reload,
        handle,
    }
}

async fn stop(daemon: Running) -> Supervisor {
    let _ = daemon.stop.send(());
    daemon.handle.await.unwrap()
}

fn no_store(config: Config) -> (Supervisor, Persist) {
    Persist::open(config, None, 0)
}

/// Seconds since `t0` of every create and respawn, in order.
fn starts(fake: &FakeTmux, t0: Instant) -> Vec<f64> {
    fake.ops()
        .into_iter()
        .filter(|(_, c)| matches!(c, Call::Create(_) | Call::Respawn(_)))
        .map(|(at, _)| (at - t0).as_secs_f64())
        .collect()
}

const CRASH: &str = r#"
poll_interval: 1s
reconcile_interval: 2s
pools:
  - name: crash
    prefix: "crash-"
    max: 1
    restart: always
    command: ["sh", "-c", "exit 3"]
backoff:
  initial: 2s
  max: 5m
"#;

#[tokio::test(start_paused = true)]
async fn a_crash_loop_restarts_at_once_then_backs_off_doubling() {
    let fake = FakeTmux::new();
    fake.set_behaviour("crash-0", Behaviour::Exits(3));
    let t0 = Instant::now();
    let (sup, persist) = no_store(config(CRASH));
    let daemon = spawn_daemon(sup, persist, &fake, virtual_clock());
    tokio::time::sleep(Duration::from_secs(40)).await;
    let sup = stop(daemon).await;
    let at = starts(&fake, t0);
    // Created at once, restarted at once, then after 2, 4, 8 and 16 s; the next (32 s) is
    // past the 40 s.
    assert_eq!(at.len(), 6, "{at:?}");
    assert!(at[0] < 0.1 && at[1] < 0.1, "{at:?}");
    let backoff = sup.config.backoff;
    for (n, w) in at.windows(2).enumerate().skip(1) {
        let want = backoff_delay(n as u32, &backoff) as f64 / 1000.0;
        let gap = w[1] - w[0];
        // Never sooner than the backoff; at most one poll later (the dead slot is reconciled
        // after every poll).
        assert!(
            gap >= want && gap <= want + 1.1,
            "gap {n}: {gap} s, backoff {want} s: {at:?}"
        );
    }
    let m = sup.memory.slot("crash-0").unwrap();
    assert_eq!(m.restarts, 5);
    let i = sup.layout.slot("crash-0").unwrap();
    let st = &sup.last.as_ref().unwrap().slots[i];
    assert_eq!(st.state, crate::observe::State::Failed);
    assert!(st.reason().contains("exit 3"), "{}", st.reason());
}

#[tokio::test(start_paused = true)]
async fn a_slot_that_gave_up_is_never_started_again() {
    let fake = FakeTmux::new();
    fake.set_behaviour("crash-0", Behaviour::Exits(3));
    let t0 = Instant::now();
    let cfg = config(&CRASH.replace(
        "  initial: 2s\n  max: 5m\n",
        "  initial: 1s\n  max: 1s\n  max_restarts: 3\n",
    ));
    let (sup, persist) = no_store(cfg);
    let daemon = spawn_daemon(sup, persist, &fake, virtual_clock());
    tokio::time::sleep(Duration::from_secs(120)).await;
    let sup = stop(daemon).await;
    // Created, then three restarts, then nothing for the rest of the two minutes.
    let at = starts(&fake, t0);
    assert_eq!(at.len(), 4, "{at:?}");
    assert!(at[3] < 10.0, "{at:?}");
    let m = sup.memory.slot("crash-0").unwrap();
    assert!(m.gave_up);
    assert!(
        sup.memory
            .events
            .iter()
            .any(|e| e.text.starts_with("gave up on crash-0 after 3 restarts"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_killed_auto_session_comes_back_and_a_killed_manual_one_never_does() {
    let fake = FakeTmux::new();
    for name in ["ccl-3", "ccl-auto0", "main"] {
        fake.add_session(name);
    }
    let (sup, persist) = no_store(config(PRODUCTION_FAST));
    let daemon = spawn_daemon(sup, persist, &fake, virtual_clock());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(fake.sessions().len(), 13, "{:?}", fake.sessions());
    let killed = Instant::now();
    fake.remove_session("ccl-auto-15");
    fake.remove_session("ccl-3");
    tokio::time::sleep(Duration::from_secs(60)).await;
    stop(daemon).await;
    let creates: Vec<(f64, String)> = fake
        .ops()
        .into_iter()
        .filter_map(|(at, c)| match c {
            Call::Create(n) if at >= killed => Some(((at - killed).as_secs_f64(), n)),
            _ => None,
        })
        .collect();
    // Back within one poll (the poll that sees it gone reconciles at once), once.
    assert_eq!(creates.len(), 1, "{creates:?}");
    assert_eq!(creates[0].1, "ccl-auto-15");
    assert!(creates[0].0 <= 0.6, "{creates:?}");
    // Nothing else was ever touched: not the manual slot, the stray or `main`.
    for (_, c) in fake.ops() {
        match c {
            Call::Create(n) => assert!(n.starts_with("ccl-auto-1") || n == "ccl-auto-20", "{n}"),
            other => panic!("unexpected op {other:?}"),
        }
    }
    assert!(!fake.sessions().contains(&"ccl-3".to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_restarted_daemon_waits_out_the_backoff_it_remembers() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::memory::Store::new(dir.path(), "test");
    let cfg = config(
        &CRASH
            .replace("initial: 2s", "initial: 30s")
            .replace("max: 5m", "max: 1h"),
    );
    let fake = FakeTmux::new();
    fake.set_behaviour("crash-0", Behaviour::Exits(3));
    let clock = virtual_clock();
    let t0 = Instant::now();
    // Created and restarted at once; the next restart is 30 s away when this one stops.
    let (sup, persist) = Persist::open(cfg.clone(), Some(store.clone()), clock());
    let first = spawn_daemon(sup, persist, &fake, Arc::clone(&clock));
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop(first).await;
    assert_eq!(starts(&fake, t0).len(), 2);
    // A new daemon with the memory the first one saved: nothing until the 30 s are up.
    let (sup, persist) = Persist::open(cfg, Some(store), clock());
    assert_eq!(sup.memory.slot("crash-0").unwrap().restarts, 1);
    let second = spawn_daemon(sup, persist, &fake, Arc::clone(&clock));
    tokio::time::sleep(Duration::from_secs(40)).await;
    stop(second).await;
    let at = starts(&fake, t0);
    assert_eq!(at.len(), 3, "{at:?}");
    assert!(at[2] >= 30.0 && at[2] <= 31.1, "{at:?}");
}

#[tokio::test(start_paused = true)]
async fn a_second_daemon_on_the_same_server_only_observes() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::memory::Store::new(dir.path(), "test");
    let fake = FakeTmux::new();
    let clock = virtual_clock();
    let (sup, persist) = Persist::open(config(PRODUCTION_FAST), Some(store.clone()), clock());
    assert!(!sup.mode.observe_only);
    let first = spawn_daemon(sup, persist, &fake, Arc::clone(&clock));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (sup, persist) = Persist::open(config(PRODUCTION_FAST), Some(store), clock());
    assert!(sup.mode.observe_only);
    let second = spawn_daemon(sup, persist, &fake, Arc::clone(&clock));
    let killed = Instant::now();
    fake.remove_session("ccl-auto-13");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let second = stop(second).await;
    stop(first).await;
    let creates = fake
        .ops()
        .into_iter()
        .filter(|(at, c)| *at >= killed && *c == Call::Create("ccl-auto-13".into()))
        .count();
    assert_eq!(creates, 1, "both daemons acted");
    assert!(second.mode.observe_only);
    assert!(
        second
            .memory
            .events
            .iter()
            .any(|e| e.text.contains("observe-only"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_config_read_again_is_applied_with_the_memory_kept() {
    let fake = FakeTmux::new();
    fake.set_behaviour("crash-0", Behaviour::Exits(3));
    let two = format!(
        "{CRASH}  - name: extra\n    prefix: \"extra-\"\n    max: 2\n    restart: always\n"
    );
    let two = two
        .replace("backoff:\n", "")
        .replace("  initial: 2s\n  max: 5m\n", "");
    let two = format!("{two}backoff:\n  initial: 2s\n  max: 5m\n");
    let (sup, persist) = no_store(config(CRASH));
    let daemon = spawn_daemon(sup, persist, &fake, virtual_clock());
    tokio::time::sleep(Duration::from_secs(10)).await;
    // A pool more: its slots are created, and the crash loop's counters go on.
    let before = fake.ops().len();
    daemon.reload.send(Ok(config(&two))).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let names = fake.sessions();
    assert!(
        names.contains(&"extra-0".into()) && names.contains(&"extra-1".into()),
        "{names:?}"
    );
    assert!(fake.ops().len() > before);
    // A broken config: refused, the old one stays (extra-1 killed is recreated).
    daemon
        .reload
        .send(Err("config.yaml:3:5: unknown key `prefx`".into()))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.remove_session("extra-1");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(fake.sessions().contains(&"extra-1".into()));
    // A pool less: its sessions are left alive and never touched again.
    daemon.reload.send(Ok(config(CRASH))).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = Instant::now();
    fake.kill_program("extra-0", 1);
    fake.remove_session("extra-1");
    tokio::time::sleep(Duration::from_secs(30)).await;
    // Another server or state dir: refused as needing a restart.
    let mut elsewhere = config(CRASH);
    elsewhere.socket_name = Some("other".into());
    daemon.reload.send(Ok(elsewhere)).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sup = stop(daemon).await;
    let touched: Vec<Call> = fake
        .ops()
        .into_iter()
        .filter(|(at, c)| {
            *at >= after
                && !matches!(c, Call::Respawn(p) if p == &fake.pane("crash-0").unwrap().pane_id)
        })
        .map(|(_, c)| c)
        .collect();
    assert!(
        touched.is_empty(),
        "a slot that left the config was acted on: {touched:?}"
    );
    assert!(fake.pane("extra-0").unwrap().pane_dead, "left as it is");
    assert!(
        sup.memory.slot("crash-0").unwrap().restarts >= 3,
        "counters kept"
    );
    let said = |w: &str| sup.memory.events.iter().any(|e| e.text.contains(w));
    assert!(said(
        "config reloaded from test: 3 slots, 2 new, 0 no longer supervised"
    ));
    assert!(said("unknown key `prefx`; the config in use stays"));
    assert!(said("1 slots, 0 new, 2 no longer supervised"));
    assert!(said("another tmux server: that needs a restart"));
    assert_eq!(sup.layout.slots.len(), 1);
}

mod wake;
