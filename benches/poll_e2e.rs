//! End-to-end poll cost against a private tmux server with 20, 200 and 1000 sessions: one
//! supervisor poll as the program does it, the bare `list-panes` call it depends on, and the
//! N × `has-session` a per-session poller would need. Run with `cargo bench --bench poll_e2e`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tmux_supervisor::controller::Supervisor;
use tmux_supervisor::runner::now_ms;
use tmux_supervisor::tmux::{Endpoint, Nonce, TmuxCli, snapshot_format};

const SIZES: [usize; 3] = [20, 200, 1000];
/// Sessions created per tmux invocation (chained with `;`).
const BATCH: usize = 100;

/// A private tmux server (`-L` unique, `-f /dev/null`, empty HOME, `/bin/sh` panes), killed
/// and its socket removed on drop, also while unwinding from a panic.
struct Server {
    socket: String,
    home: tempfile::TempDir,
}

impl Server {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Server {
            socket: format!("tsup-bench-{}-{nanos}", std::process::id()),
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env("HOME", self.home.path())
            .env("SHELL", "/bin/sh")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Creates the sessions, `BATCH` per tmux invocation.
    fn create(&self, names: &[String]) {
        for chunk in names.chunks(BATCH) {
            let mut args: Vec<&str> = Vec::new();
            for name in chunk {
                if !args.is_empty() {
                    args.push(";");
                }
                args.extend(["new-session", "-d", "-s", name, "-x", "200", "-y", "50"]);
            }
            let out = self.tmux(&args);
            assert!(
                out.status.success(),
                "creating sessions failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn session_count(&self) -> usize {
        let out = self.tmux(&["list-sessions", "-F", "#{session_name}"]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    fn client(&self) -> TmuxCli {
        TmuxCli::new(Endpoint {
            socket_name: Some(self.socket.clone()),
            socket_path: None,
        })
        .with_config_file("/dev/null")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null", "kill-server"])
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // The `-L` socket lives in $TMUX_TMPDIR (or /tmp) / tmux-UID / SOCKET.
        if let Ok(meta) = std::fs::metadata("/proc/self") {
            let dir = std::env::var_os("TMUX_TMPDIR")
                .filter(|d| !d.is_empty())
                .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
            let _ =
                std::fs::remove_file(dir.join(format!("tmux-{}", meta.uid())).join(&self.socket));
        }
    }
}

/// The median (the mean of the middle two for an even count); zero when empty.
fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    match v.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Row {
    n: usize,
    a: Vec<Duration>,
    b: Vec<Duration>,
    c: Vec<Duration>,
}

/// What to measure, from the environment.
struct Settings {
    /// Rounds of (a) and (b): they are cheap, and more rounds make their medians steadier.
    poll_rounds: usize,
    /// Rounds of (c), which takes seconds.
    rounds: usize,
    sizes: Vec<usize>,
    /// For profiling the poll alone (e.g. under callgrind): leave out (c).
    skip_c: bool,
}

impl Settings {
    fn from_env() -> Self {
        let env_rounds = |key: &str, default: usize| -> usize {
            std::env::var(key)
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(default)
                .max(10)
        };
        Settings {
            poll_rounds: env_rounds("POLL_ROUNDS", 31),
            rounds: env_rounds("ROUNDS", 11),
            sizes: std::env::var("SIZES").ok().map_or_else(
                || SIZES.to_vec(),
                |s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
            ),
            skip_c: std::env::var_os("SKIP_HAS_SESSION").is_some(),
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` runs this
    // binary without it: then only check that it built, start no tmux server.
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("poll_e2e: run with `cargo bench --bench poll_e2e`; nothing to do in test mode");
        return;
    }
    let settings = Settings::from_env();
    let server = Server::new();
    let cli = server.client();
    let mut rows = Vec::new();
    for &n in &settings.sizes {
        let cfg = tmux_supervisor::fixtures::sized(n);
        let mut sup = Supervisor::without_memory(cfg);
        let names: Vec<String> = sup.layout.slots.iter().map(|s| s.name.clone()).collect();
        hold_exactly(&server, n, &names);
        let row = measure(&cli, &mut sup, n, &names, &settings);
        eprintln!("N={n}: done");
        rows.push(row);
    }
    print_table(&mut rows, &settings);
    drop(server);
}

/// Brings the server to exactly the `n` sessions `names`, then lets new shells settle.
fn hold_exactly(server: &Server, n: usize, names: &[String]) {
    let have = server.session_count();
    let t = Instant::now();
    // Names of a smaller size are a subset: only the new ones are created.
    let existing: std::collections::HashSet<String> = {
        let out = server.tmux(&["list-sessions", "-F", "#{session_name}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !existing.contains(*n))
        .cloned()
        .collect();
    server.create(&missing);
    assert_eq!(
        server.session_count(),
        n,
        "the server must hold exactly N sessions"
    );
    eprintln!(
        "N={n}: created {} sessions (had {have}) in {:.0} ms",
        missing.len(),
        ms(t.elapsed())
    );
    // Let the new shells start and settle before measuring.
    std::thread::sleep(Duration::from_millis(if n >= 1000 { 3000 } else { 1000 }));
}

/// The rounds of (a), (b) and (c) on a server holding the `n` sessions `names`.
fn measure(
    cli: &TmuxCli,
    sup: &mut Supervisor,
    n: usize,
    names: &[String],
    settings: &Settings,
) -> Row {
    let poll = |sup: &mut Supervisor| {
        let t = Instant::now();
        let r = sup.poll_job().run(cli);
        assert!(r.error.is_none(), "poll failed: {:?}", r.error);
        assert_eq!(r.snapshot.panes.len(), n);
        sup.on_poll(r, now_ms());
        t.elapsed()
    };
    let bare = || {
        let t = Instant::now();
        let out = cli
            .command()
            .args(["list-panes", "-a", "-F", &snapshot_format(&Nonce::random())])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let e = t.elapsed();
        assert!(out.status.success());
        assert!(!out.stdout.is_empty());
        e
    };
    let per_session = |names: &[String]| {
        let t = Instant::now();
        for name in names {
            let st = cli
                .command()
                .args(["has-session", "-t", &format!("={name}:")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "has-session {name}");
        }
        t.elapsed()
    };

    // Warm-up: the first poll captures nothing new after this and the caches are hot.
    for _ in 0..3 {
        poll(sup);
        bare();
    }
    let mut row = Row {
        n,
        a: Vec::new(),
        b: Vec::new(),
        c: Vec::new(),
    };
    for i in 0..settings.poll_rounds {
        // Alternate the order so background noise hits both sides alike.
        if i % 2 == 0 {
            row.a.push(poll(sup));
            row.b.push(bare());
        } else {
            row.b.push(bare());
            row.a.push(poll(sup));
        }
    }
    if !settings.skip_c {
        for _ in 0..settings.rounds {
            row.c.push(per_session(names));
        }
    }
    row
}

fn print_table(rows: &mut [Row], settings: &Settings) {
    let Settings {
        poll_rounds,
        rounds,
        ..
    } = settings;
    println!();
    println!(
        "poll_e2e: medians of {poll_rounds} rounds for (a) and (b), of {rounds} for (c); min..max in brackets"
    );
    println!("(a) one supervisor poll: PollJob::run with TmuxCli + Supervisor::on_poll");
    println!(
        "(b) bare `tmux list-panes -a -F <snapshot format>`: spawned, output read, not parsed"
    );
    println!("(c) N x `tmux has-session -t =NAME:`, one after the other");
    println!();
    println!("| N | (a) poll ms | (b) list-panes ms | a/b | (c) N x has-session ms | c/a |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let range = |v: &[Duration]| {
            let lo = v.iter().min().copied().unwrap_or_default();
            let hi = v.iter().max().copied().unwrap_or_default();
            format!("[{:.2}..{:.2}]", ms(lo), ms(hi))
        };
        let (ra, rb, rc) = (range(&r.a), range(&r.b), range(&r.c));
        let a = median(&mut r.a);
        let b = median(&mut r.b);
        let c = median(&mut r.c);
        let (c_cell, c_ratio) = if r.c.is_empty() {
            ("skipped".to_string(), "-".to_string())
        } else {
            (
                format!("{:.1} {rc}", ms(c)),
                format!("{:.1}", c.as_secs_f64() / a.as_secs_f64()),
            )
        };
        println!(
            "| {} | {:.2} {ra} | {:.2} {rb} | {:.2} | {c_cell} | {c_ratio} |",
            r.n,
            ms(a),
            ms(b),
            a.as_secs_f64() / b.as_secs_f64(),
        );
    }
}
