//! A mock of the Anthropic Messages API on 127.0.0.1 (a port the OS chooses) for driving the
//! real Claude Code client offline: the keyword behaviours of `shared/claude-mock`, a request
//! log a test can ask about, and a shutdown on drop. Standard library threads only.
//!
//! `POST /v1/messages` answers by the last text block of the last user turn of a request that
//! carries tools (the main loop); side requests (no tools) get a short fast answer. Keywords:
//! `slow [N]` (stream over N s), `tool` (a Bash `tool_use`; "Tool finished." after its
//! result), `edit` (a Write `tool_use`), `ratelimit` (429 with the unified rate-limit
//! headers), `overloaded` (529), `servererror` (500), `hang [N]` (silence after
//! `message_start`). `POST /v1/messages/count_tokens` counts; anything else answers 200 `{}`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod answer;
pub mod http;
pub mod log;
mod respond;
pub mod stream;
#[cfg(test)]
mod tests;

use std::io::BufReader;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use answer::Mode;
pub use log::{Outcome, Request};

/// When a 429's rate limit resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// This long after the request.
    In(Duration),
    /// At this Unix time (seconds).
    At(u64),
}

/// How the mock behaves where a prompt does not say.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// `slow` without a number.
    pub slow: Duration,
    /// How long the answer after a tool result is streamed (zero: at once).
    pub slow_after_tool: Duration,
    /// `hang` without a number.
    pub hang: Duration,
    pub ratelimit_reset: Reset,
    /// The Bash command of `tool`.
    pub tool_command: String,
    /// The file `edit` writes, in the working directory the system prompt names.
    pub edit_file: String,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            slow: Duration::from_secs(8),
            slow_after_tool: Duration::ZERO,
            hang: Duration::from_secs(300),
            ratelimit_reset: Reset::In(Duration::from_secs(3600)),
            tool_command: "sleep 3 && touch mock_tool_ran.txt && echo hello-from-mock".into(),
            edit_file: "mock_edit.txt".into(),
        }
    }
}

/// A unique id with a prefix, like the API's (`msg_…`, `toolu_…`, `req_…`).
pub fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:016x}{:08x}", nanos as u64, n as u32)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) struct Shared {
    pub(crate) opts: MockOptions,
    log: Mutex<Vec<Request>>,
    pub(crate) stop: AtomicBool,
    /// Every open connection, so a drop can end the threads blocked on them.
    conns: Mutex<Vec<(u64, TcpStream)>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn push(&self, r: Request) -> usize {
        let mut log = lock(&self.log);
        log.push(r);
        log.len() - 1
    }

    pub(crate) fn finish(&self, i: usize, outcome: Outcome) {
        if let Some(r) = lock(&self.log).get_mut(i) {
            r.outcome = outcome;
        }
    }
}

/// The running mock; stopped (listener closed, connections shut, threads joined) on drop.
pub struct Mock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Mock {
    pub fn start() -> Mock {
        Mock::with(MockOptions::default())
    }

    pub fn with(opts: MockOptions) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the mock on 127.0.0.1");
        let addr = listener.local_addr().expect("the mock's address");
        let shared = Arc::new(Shared {
            opts,
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let accept = std::thread::spawn(move || accept_loop(&listener, &s));
        Mock {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`, for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.log).clone()
    }

    /// The requests of the main agent loop (they carry tools), in order.
    pub fn main_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(Request::is_main)
            .collect()
    }

    pub fn last_main(&self) -> Option<Request> {
        self.main_requests().pop()
    }

    /// Answers still being streamed.
    pub fn open_streams(&self) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.outcome == Outcome::Open)
            .count()
    }

    /// An answer of the main loop is being streamed.
    pub fn main_stream_open(&self) -> bool {
        lock(&self.shared.log)
            .iter()
            .any(|r| r.is_main() && r.outcome == Outcome::Open)
    }

    /// One line per request, for a failure message.
    pub fn summary(&self) -> String {
        self.requests()
            .iter()
            .map(|r| {
                let plan = r.plan.as_ref().map_or(String::new(), |p| {
                    format!(" {:?} main={} prompt={:?}", p.mode, p.main, p.prompt)
                });
                format!(
                    "{} {} -> {} {:?}{plan}",
                    r.method, r.target, r.status, r.outcome
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Polls the log every 50 ms until `f` holds; after `timeout`, panics with the log.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&[Request]) -> bool,
    ) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.requests();
            if f(&log) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting until the mock saw {what}; its log:\n{}",
                self.summary()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for (_, c) in lock(&self.shared.conns).iter() {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        let workers = std::mem::take(&mut *lock(&self.shared.workers));
        for w in workers {
            let _ = w.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    static CONN: AtomicU64 = AtomicU64::new(0);
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(stream) = conn else { continue };
        let id = CONN.fetch_add(1, Ordering::Relaxed);
        if let Ok(c) = stream.try_clone() {
            lock(&shared.conns).push((id, c));
        }
        let s = Arc::clone(shared);
        let worker = std::thread::spawn(move || {
            serve(stream, &s);
            lock(&s.conns).retain(|(i, _)| *i != id);
        });
        lock(&shared.workers).push(worker);
    }
}

/// Answers the requests of one keep-alive connection until it closes.
fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(read) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read);
    let mut out = stream;
    while !shared.stop.load(Ordering::Relaxed) {
        let Ok(Some(req)) = http::read_request(&mut reader) else {
            break;
        };
        let close = req.wants_close();
        if respond::respond(&req, &mut out, shared).is_err() || close {
            break;
        }
    }
    let _ = out.shutdown(Shutdown::Both);
}
