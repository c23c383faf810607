//! Prometheus metrics of the daemon, served as text on `/metrics` from what the loop last
//! saw (a request never calls tmux): slots by pool and state, starts, recoveries and how long
//! they took, poll duration, tmux calls, and the age of the last poll.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::Clock;
use crate::controller::Supervisor;
use crate::jobs::{OpJob, OpKind, PollResult};
use crate::observe::State;
use crate::time::Millis;

type Labels = Vec<(&'static str, String)>;

/// Every state a slot can be in, so a count that drops to 0 is reported as 0.
const STATES: [State; 9] = [
    State::Idle,
    State::Working,
    State::Waiting,
    State::Failed,
    State::Missing,
    State::Absent,
    State::Starting,
    State::Limited,
    State::Hung,
];

/// The metrics and what they are computed from.
pub struct Metrics {
    registry: Registry,
    slots: Family<Labels, Gauge>,
    starts: Family<Labels, Counter>,
    recoveries: Counter,
    recovery_seconds: Histogram,
    poll_seconds: Histogram,
    tmux_calls: Counter,
    hook_events: Family<Labels, Counter>,
    hosts_up: Family<Labels, Gauge>,
    last_poll_age: Gauge<f64, AtomicU64>,
    /// Slot name → the time of the latest hook event counted for it.
    hook_seen: HashMap<String, u64>,
    /// Slot name → when a kept-alive slot that had been up was first seen missing or failed.
    down_since: HashMap<String, Millis>,
    /// Kept-alive slots seen up at least once (the first creation is not a recovery).
    seen_up: std::collections::HashSet<String>,
    last_poll_at: Option<Millis>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tmux_supervisor");
        let slots = Family::<Labels, Gauge>::default();
        let starts = Family::<Labels, Counter>::default();
        let recoveries = Counter::default();
        let recovery_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 16));
        let poll_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        let tmux_calls = Counter::default();
        let hook_events = Family::<Labels, Counter>::default();
        let hosts_up = Family::<Labels, Gauge>::default();
        let last_poll_age = Gauge::<f64, AtomicU64>::default();
        registry.register("slots", "Slots by pool and state", slots.clone());
        registry.register("starts", "Sessions created or respawned", starts.clone());
        registry.register(
            "recoveries",
            "Kept-alive slots back up after being missing or failed",
            recoveries.clone(),
        );
        registry.register(
            "recovery_seconds",
            "From a kept-alive slot seen missing or failed to seen up again",
            recovery_seconds.clone(),
        );
        registry.register("poll_seconds", "How long a poll took", poll_seconds.clone());
        registry.register("tmux_calls", "tmux processes run", tmux_calls.clone());
        registry.register(
            "hook_events",
            "Agent hook events seen, by event (the latest of each slot at each poll)",
            hook_events.clone(),
        );
        registry.register(
            "host_up",
            "Other hosts (hosts: in the config): 1 when its server answered the last poll",
            hosts_up.clone(),
        );
        registry.register(
            "last_poll_age_seconds",
            "Seconds since tmux was last read",
            last_poll_age.clone(),
        );
        Metrics {
            registry,
            slots,
            starts,
            recoveries,
            recovery_seconds,
            poll_seconds,
            tmux_calls,
            hook_events,
            hosts_up,
            last_poll_age,
            hook_seen: HashMap::new(),
            down_since: HashMap::new(),
            seen_up: std::collections::HashSet::new(),
            last_poll_at: None,
        }
    }

    /// A poll came back (and was folded into `sup`) after `took`.
    pub fn polled(&mut self, sup: &Supervisor, result_calls: u64, took: Duration, now: Millis) {
        self.poll_seconds.observe(took.as_secs_f64());
        self.tmux_calls.inc_by(result_calls);
        let Some(obs) = &sup.last else { return };
        self.last_poll_at = sup.last_poll_at;
        for h in &obs.hosts {
            self.hosts_up
                .get_or_create(&vec![("host", h.name.clone())])
                .set(i64::from(h.up()));
        }
        let mut counts: HashMap<(&str, State), i64> = HashMap::new();
        for st in &obs.slots {
            let slot = &sup.layout.slots[st.slot];
            *counts.entry((slot.group.as_str(), st.state)).or_default() += 1;
            if let Some(h) = &st.hook
                && self.hook_seen.insert(slot.name.clone(), h.at_ms) != Some(h.at_ms)
            {
                self.hook_events
                    .get_or_create(&vec![("event", h.event.clone())])
                    .inc();
            }
            if !slot.supervised() {
                continue;
            }
            match st.state {
                State::Missing | State::Failed if self.seen_up.contains(&slot.name) => {
                    self.down_since.entry(slot.name.clone()).or_insert(now);
                }
                s if s.healthy() => {
                    self.seen_up.insert(slot.name.clone());
                    if let Some(since) = self.down_since.remove(&slot.name) {
                        self.recoveries.inc();
                        self.recovery_seconds
                            .observe(now.saturating_sub(since) as f64 / 1000.0);
                    }
                }
                _ => {}
            }
        }
        for g in &sup.layout.groups {
            for state in STATES {
                let n = counts.get(&(g.name.as_str(), state)).copied().unwrap_or(0);
                self.slots
                    .get_or_create(&vec![
                        ("pool", g.name.clone()),
                        ("state", state.to_string()),
                    ])
                    .set(n);
            }
        }
    }

    /// Ops were sent to tmux (one process each).
    pub fn sent(&mut self, jobs: &[OpJob]) {
        for job in jobs {
            self.tmux_calls.inc();
            let kind = match job.kind {
                OpKind::Create(_) => "create",
                OpKind::Respawn { .. } => "respawn",
                OpKind::Kill(_) | OpKind::Interrupt(_) => continue,
            };
            self.starts
                .get_or_create(&vec![("kind", kind.to_string())])
                .inc();
        }
    }

    /// The text exposition, as of `now`.
    pub fn render(&mut self, now: Millis) -> String {
        let age = self
            .last_poll_at
            .map_or(f64::NAN, |at| now.saturating_sub(at) as f64 / 1000.0);
        self.last_poll_age.set(age);
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The tmux processes a poll ran: the `list-panes` (and one through ssh for each other host
/// it asked), and the chained capture if any.
pub fn poll_calls(result: &PollResult) -> u64 {
    if result.error.is_some() {
        return 1;
    }
    let others = result.snapshot.hosts.len() as u64;
    1 + others + u64::from(!result.captures.is_empty())
}

/// Serves `GET /metrics` on `listener` until the task is dropped; anything else is a 404.
/// A request is answered from `metrics` as it is; a slow or huge request is cut off.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Mutex<Metrics>>,
    clock: Arc<Clock>,
) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let metrics = Arc::clone(&metrics);
        let clock = Arc::clone(&clock);
        tokio::spawn(async move {
            // The request head, up to its blank line, at most 4 KiB and 5 s.
            let mut buf = Vec::with_capacity(1024);
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                let mut chunk = [0_u8; 1024];
                while buf.len() < 4096 && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let request = String::from_utf8_lossy(&buf);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = if request.starts_with("GET ") && path == "/metrics" {
                let text = match metrics.lock() {
                    Ok(mut m) => m.render(clock()),
                    Err(poisoned) => poisoned.into_inner().render(clock()),
                };
                ("200 OK", text)
            } else {
                ("404 Not Found", "only /metrics is here\n".to_string())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(body.as_bytes()).await;
            let _ = conn.shutdown().await;
        });
    }
}

/// Binds `addr` and serves the metrics there on `rt`; says where (log and stderr). The
/// metrics to keep up to date come back.
pub fn start(
    rt: &tokio::runtime::Runtime,
    addr: std::net::SocketAddr,
) -> Result<Arc<Mutex<Metrics>>, String> {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
    let shown = listener.local_addr().unwrap_or(addr);
    tracing::info!("metrics on http://{shown}/metrics");
    eprintln!("tmux-supervisor: metrics on http://{shown}/metrics");
    let metrics = Arc::new(Mutex::new(Metrics::new()));
    let clock: Arc<Clock> = Arc::new(super::now_ms);
    rt.spawn(serve(listener, Arc::clone(&metrics), clock));
    Ok(metrics)
}
