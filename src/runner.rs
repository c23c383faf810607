//! The loops' side of the work: running poll and op jobs against tmux on blocking threads
//! (`work`), the state file and the lock ([`Persist`]), push's wake-up sources ([`Push`]),
//! tickers, and the headless daemon loop. The decisions are the controller's; this is where
//! they are carried out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::config::Config;
use crate::controller::Supervisor;
use crate::time::Millis;
use crate::tmux::{Shutdown, Tmux};

/// The current wall-clock time in milliseconds (read only by the loops, never by logic).
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// A clock for the loops: [`now_ms`] in production; loop tests pass one that follows tokio's
/// paused clock.
pub type Clock = dyn Fn() -> Millis + Send + Sync;

/// The async runtime of the daemon and the UI: one worker for the owning task, a few
/// blocking threads for tmux.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(4)
        .enable_all()
        .build()
}

/// An interval that skips missed ticks instead of bursting after a stall.
pub fn ticker(period: Duration) -> tokio::time::Interval {
    let mut t = tokio::time::interval(period);
    t.set_missed_tick_behavior(MissedTickBehavior::Skip);
    t
}

/// How long a stopping supervisor waits for the tmux calls it stopped to come back (they
/// end at once when the [`Shutdown`] switch is on; this only bounds the wait if one does not).
pub const STOP_GRACE: Duration = Duration::from_secs(1);

/// A config read again (SIGHUP): the new one, or why it was not valid.
pub type Reload = Result<Config, String>;

/// Folds a config read again into the supervisor; with intervals changed, the tickers are
/// made anew. A refused or invalid config leaves the one in use, and says why.
pub fn apply_reload(
    sup: &mut Supervisor,
    reload: Reload,
    now: Millis,
    poll_tick: &mut tokio::time::Interval,
    reconcile_tick: &mut tokio::time::Interval,
) {
    let push_before = sup.config.push;
    let applied = reload.and_then(|c| {
        sup.reload(c, now)
            .map_err(|e| format!("the new config is refused: {e}"))
    });
    match applied {
        Ok(()) => {
            if sup.config.push != push_before {
                let text = format!(
                    "`push: {}` takes effect at the next start; push stays {} until then",
                    sup.config.push,
                    if push_before { "on" } else { "off" }
                );
                sup.memory
                    .push(now, crate::memory::EventKind::Info, "", text);
            }
            if poll_tick.period() != sup.config.poll_interval {
                *poll_tick = ticker(sup.config.poll_interval);
            }
            if reconcile_tick.period() != sup.config.reconcile_interval {
                *reconcile_tick = ticker(sup.config.reconcile_interval);
            }
        }
        Err(e) => sup.note_error(now, format!("{e}; the config in use stays")),
    }
}

/// What the daemon loop works with besides the supervisor and tmux: the stop switch of its
/// tmux calls, its clock, the metrics it keeps up to date (if served), and push: the wake-up
/// it waits on and what rings it.
pub struct Kit<'a> {
    pub stop: Shutdown,
    pub clock: &'a Clock,
    pub metrics: Option<Arc<std::sync::Mutex<Metrics>>>,
    pub push: PushSetup,
}

/// The headless loop: poll every `poll_interval`, and at once on a wake-up (push); reconcile
/// every `reconcile_interval` and right after a poll that shows a supervised slot missing or
/// dead or that a wake-up asked for; a config read again (`reloads`) is applied at once;
/// returns on `shutdown`.
///
/// On the way out `stop` is triggered: the tmux call in progress ends at once, queued ops are
/// dropped (and logged as not run), push's waiter is ended, and the memory is saved.
pub async fn run_daemon(
    mut sup: Supervisor,
    mut persist: Persist,
    tmux: Arc<dyn Tmux>,
    shutdown: impl std::future::Future<Output = ()>,
    mut reloads: mpsc::UnboundedReceiver<Reload>,
    kit: Kit<'_>,
) -> Supervisor {
    let Kit {
        stop,
        clock,
        metrics,
        push,
    } = kit;
    let mut push = Push::start(push);
    let metered = |f: &mut dyn FnMut(&mut Metrics)| {
        if let Some(m) = &metrics {
            match m.lock() {
                Ok(mut m) => f(&mut m),
                Err(poisoned) => f(&mut poisoned.into_inner()),
            }
        }
    };
    let mut poll_started = tokio::time::Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut poll_tick = ticker(sup.config.poll_interval);
    let mut reconcile_tick = ticker(sup.config.reconcile_interval);
    let mut service = Service::default();
    let watchdog = Service::watchdog_period();
    let mut watchdog_tick = ticker(watchdog.unwrap_or(Duration::from_secs(3600)));
    tokio::pin!(shutdown);
    tracing::info!(
        slots = sup.layout.slots.len(),
        observe_only = sup.mode.observe_only,
        dry_run = sup.mode.dry_run,
        "daemon started"
    );
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = watchdog_tick.tick(), if watchdog.is_some() => Service::watchdog(),
            Some(reload) = reloads.recv() => {
                let now = clock();
                Service::reloading();
                apply_reload(&mut sup, reload, now, &mut poll_tick, &mut reconcile_tick);
                Service::reloaded();
                poll_tick.reset_immediately();
                persist.save(&mut sup, now);
            }
            _ = poll_tick.tick(), if !sup.polling() => {
                if let Some(job) = sup.poll_tick() {
                    poll_started = tokio::time::Instant::now();
                    push.polling(Arc::clone(&tmux), job, tx.clone());
                }
            }
            () = push.wake().rung() => {
                if let Some(job) = sup.woken() {
                    poll_started = tokio::time::Instant::now();
                    push.polling(Arc::clone(&tmux), job, tx.clone());
                }
            }
            _ = reconcile_tick.tick() => {
                let now = clock();
                persist.retry_lock(&mut sup, now);
                let jobs = sup.reconcile_tick(now);
                metered(&mut |m| m.sent(&jobs));
                spawn_execute(&tmux, jobs, &tx);
            }
            Some(work) = rx.recv() => {
                let now = clock();
                match work {
                    Work::Polled(r) => {
                        let calls = metrics::poll_calls(&r);
                        let jobs = sup.polled(*r, now);
                        let took = poll_started.elapsed();
                        metered(&mut |m| {
                            m.polled(&sup, calls, took, now);
                            m.sent(&jobs);
                        });
                        spawn_execute(&tmux, jobs, &tx);
                        service.polled(&sup);
                        crate::notify::deliver(sup.outbox.take(), &sup.config.notify, &mut crate::notify::ring_terminal_bell);
                        push.after_poll(&mut sup, &tmux, now);
                        if let Some(job) = sup.poll_after_wake() {
                            poll_started = tokio::time::Instant::now();
                            push.polling(Arc::clone(&tmux), job, tx.clone());
                        }
                    }
                    Work::Executed(r) => {
                        sup.executed(r, now);
                        // See the effect soon rather than at the next tick.
                        poll_tick.reset_immediately();
                    }
                }
                persist.save(&mut sup, now);
            }
        }
    }
    Service::stopping();
    stop.trigger();
    push.stop().await;
    wind_down(&mut sup, &mut rx, clock).await;
    persist.save(&mut sup, clock());
    tracing::info!("daemon stopped");
    sup
}

/// The ops in progress come back at once as stopped: fold them in (within [`STOP_GRACE`]) so
/// the memory says which ops were not run.
pub async fn wind_down(
    sup: &mut Supervisor,
    rx: &mut mpsc::UnboundedReceiver<Work>,
    clock: &Clock,
) {
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    while sup.polling() || sup.executing() > 0 {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Work::Executed(r))) => sup.executed(r, clock()),
            // Not folded in: nothing more is planned on the way out.
            Ok(Some(Work::Polled(_))) => sup.poll_dropped(),
            Ok(None) | Err(_) => {
                sup.abandon_work();
                break;
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT; each SIGHUP calls `on_hup` (the daemon reads its config
/// again).
pub async fn signals(on_hup: impl Fn()) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        // Without handlers the default actions still end the process.
        return std::future::pending().await;
    };
    let which = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => {
                tracing::info!("SIGHUP received: reading the config again");
                on_hup();
            }
        }
    };
    tracing::info!("{which} received: stopping");
}

#[cfg(test)]
mod loop_tests;
mod metrics;
mod persist;
mod push;
mod service;
mod work;
pub use metrics::{Metrics, serve as serve_metrics, start as start_metrics};
pub use persist::Persist;
pub use push::{Push, PushSetup, push_setup};
pub use service::Service;
pub use work::{Work, execute, spawn_execute, spawn_poll};

#[cfg(test)]
mod tests;
