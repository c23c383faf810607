//! The `tmux-supervisor` command line: parses options, loads the config and starts the chosen mode.

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use tmux_supervisor::config::{Config, ConfigError, Found};
use tmux_supervisor::controller::Supervisor;
use tmux_supervisor::describe::describe;
use tmux_supervisor::hosts::Fleet;
use tmux_supervisor::logging::{self, LogTarget};
use tmux_supervisor::memory::Store;
use tmux_supervisor::runner::{self, Persist};
use tmux_supervisor::tmux::{self, Tmux, TmuxCli};
use tmux_supervisor::{check, socket, statedir};

/// Exit status for a config or tmux error (nothing was started).
const EXIT_ERROR: u8 = check::EXIT_ERROR;

/// Keeps pools of tmux sessions alive and shows their state at a glance.
#[derive(Debug, Parser)]
#[command(name = "tmux-supervisor", about, disable_version_flag = true)]
struct Cli {
    /// Print the version, and the version of the tmux found on PATH.
    #[arg(short = 'V', long)]
    version: bool,
    /// Config file [default: `$TMUX_SUPERVISOR_CONFIG`, else
    /// `~/.config/tmux-supervisor/config.yaml` if it exists, else the embedded default]
    #[arg(short = 'c', long = "config", global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// tmux server socket name (tmux -L); overrides the config.
    #[arg(
        short = 'L',
        long,
        global = true,
        value_name = "NAME",
        conflicts_with = "socket_path"
    )]
    socket_name: Option<String>,
    /// tmux server socket path (tmux -S); overrides the config.
    #[arg(short = 'S', long, global = true, value_name = "PATH")]
    socket_path: Option<PathBuf>,
    /// Compute and show the plan, execute nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    /// Log file (default: tmux-supervisor.log.DATE in the state dir, rolled daily).
    #[arg(long, global = true, value_name = "PATH")]
    log_file: Option<PathBuf>,
    /// More detail in the log (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print each pool with its policy and resolved slot names.
    Config {
        /// Only validate: print nothing on success.
        #[arg(long)]
        check: bool,
    },
    /// One poll, then the audit of every slot, stray and other session; changes nothing.
    /// Exit 0 all well, 1 problems, 2 config or tmux error.
    Check {
        /// Print one JSON object (schema in the README).
        #[arg(long)]
        json: bool,
    },
    /// Headless: poll, reconcile and log, for systemd or a tmux window.
    Daemon {
        /// Serve Prometheus metrics on `/metrics` here: a port (on loopback) or an address
        /// with a port [default: the config's `metrics`, else none].
        #[arg(long, value_name = "ADDR", value_parser = tmux_supervisor::config::metrics_addr)]
        metrics: Option<std::net::SocketAddr>,
    },
    /// Print a shell completion script: `source <(tmux-supervisor completions bash)`.
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the man page (roff): `tmux-supervisor man | man -l -`.
    Man,
    Hook(tmux_supervisor::claude::hook::HookArgs),
    Hooks(tmux_supervisor::claude::install::HooksArgs),
}

/// The shells completions are made for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // What needs no config.
    if cli.version {
        println!(
            "tmux-supervisor {}\n{}",
            env!("CARGO_PKG_VERSION"),
            TmuxCli::found_on_path()
        );
        return ExitCode::SUCCESS;
    }
    match &cli.command {
        Some(Command::Completions { shell }) => return completions(*shell),
        Some(Command::Man) => return man(),
        Some(Command::Hook(args)) => return args.run(),
        Some(Command::Hooks(args)) => return args.run(&found(&cli)),
        _ => {}
    }
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match cli.command {
        Some(Command::Config { check }) => {
            if !check {
                print!("{}", describe(&config));
            }
            ExitCode::SUCCESS
        }
        Some(Command::Check { json }) => check(&config, json),
        Some(Command::Daemon { metrics }) => {
            let at = metrics.or(config.metrics);
            daemon(config, &cli, at)
        }
        // Handled before the config is read.
        Some(Command::Completions { .. } | Command::Man | Command::Hook(_) | Command::Hooks(_)) => {
            ExitCode::SUCCESS
        }
        None => ui(config, &cli),
    }
}

/// `completions SHELL`: the script on stdout.
fn completions(shell: CompletionShell) -> ExitCode {
    use clap::CommandFactory as _;
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "tmux-supervisor",
        &mut std::io::stdout(),
    );
    ExitCode::SUCCESS
}

/// `man`: the man page, in roff, on stdout.
fn man() -> ExitCode {
    use clap::CommandFactory as _;
    let page = clap_mangen::Man::new(Cli::command().version(env!("CARGO_PKG_VERSION")));
    match page.render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        // Read only in part (`| head`): nothing is wrong.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tmux-supervisor: cannot write the man page: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Shortens the time one tmux call may take (a duration, `1s`, `500ms`; default 10 s). For
/// tests that freeze a tmux server; not an operator setting.
const TMUX_TIMEOUT_ENV: &str = "TMUX_SUPERVISOR_TMUX_TIMEOUT";

/// The tmux client for the configured server, after checking tmux is there and new enough
/// (`check` reads the version from its one `list-panes` call instead: `checked` false).
fn tmux_client(config: &Config, checked: bool) -> Result<TmuxCli, String> {
    let mut client = TmuxCli::new(config.endpoint());
    // Under systemd, a server the daemon starts gets a scope of its own.
    if std::env::var_os("INVOCATION_ID").is_some_and(|v| !v.is_empty()) {
        client = client.with_own_scope(socket::server_socket(
            config.socket_name.as_deref(),
            config.socket_path.as_deref(),
        ));
    }
    if let Some(text) = std::env::var_os(TMUX_TIMEOUT_ENV) {
        match humantime::parse_duration(&text.to_string_lossy()) {
            Ok(t) if !t.is_zero() => client = client.with_timeout(t),
            _ => {
                return Err(format!(
                    "tmux-supervisor: {TMUX_TIMEOUT_ENV}={} is not a duration like 1s or 500ms",
                    text.to_string_lossy()
                ));
            }
        }
    }
    if checked && let Err(e) = client.check_version() {
        return Err(format!("tmux-supervisor: {e}\n  {}", tmux::NEEDS_TMUX));
    }
    Ok(client)
}

/// The state dir for `daemon` and the UI: created private if missing; one that others could
/// write to (or that is not the user's) is refused, since its lock and memory cannot be
/// trusted: the message says how to fix it, and nothing starts.
fn trusted_state_dir(config: &Config) -> Result<(), ExitCode> {
    statedir::prepare(&config.state_dir).map_err(|refused| {
        eprintln!("tmux-supervisor: {refused}");
        ExitCode::from(EXIT_ERROR)
    })
}

/// `check`: one poll and the audit.
fn check(config: &Config, json: bool) -> ExitCode {
    let tmux = match tmux_client(config, false) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    // One poll, perhaps on connections it must open first: the other hosts get as long as a
    // call may take.
    let wait = tmux.timeout();
    ExitCode::from(check::run(
        &Fleet::new(tmux, config).with_wait(wait),
        config,
        &Store::for_config(config),
        &config.endpoint().label(),
        json,
    ))
}

/// Where the log goes: `--log-file`, else daily files in the state dir.
fn log_target(config: &Config, cli: &Cli) -> LogTarget {
    cli.log_file.clone().map_or_else(
        || LogTarget::Daily(config.state_dir.clone()),
        LogTarget::File,
    )
}

/// Starts file logging; if the log cannot be written, says so on stderr (and, for the
/// daemon, logs there instead).
fn start_logging(
    config: &Config,
    cli: &Cli,
    stderr_fallback: bool,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    logging::start(&log_target(config, cli), cli.verbose, stderr_fallback)
}

/// What `daemon` and the UI both need: the checked tmux client, the runtime, and a
/// supervisor over the config's server with its memory and lock.
fn start(
    config: Config,
    cli: &Cli,
) -> Result<(TmuxCli, tokio::runtime::Runtime, Supervisor, Persist), ExitCode> {
    let tmux = tmux_client(&config, true).map_err(|e| {
        tracing::error!("{e}");
        eprintln!("{e}");
        ExitCode::from(EXIT_ERROR)
    })?;
    let rt = runner::runtime().map_err(|e| {
        eprintln!("tmux-supervisor: cannot start the runtime: {e}");
        ExitCode::from(EXIT_ERROR)
    })?;
    let store = Store::for_config(&config);
    let (files, problem) =
        tmux_supervisor::controller::AgentFiles::for_config(&config).with_settings(&config);
    let (mut sup, persist) = Persist::open(config, Some(store), runner::now_ms());
    sup.mode.dry_run = cli.dry_run;
    sup.agents.files = Some(files);
    if let Some(p) = problem {
        sup.note_error(runner::now_ms(), p);
    }
    Ok((tmux, rt, sup, persist))
}

/// `daemon`: poll + reconcile + log until SIGTERM, SIGINT or SIGHUP.
fn daemon(config: Config, cli: &Cli, metrics_at: Option<std::net::SocketAddr>) -> ExitCode {
    if let Err(code) = trusted_state_dir(&config) {
        return code;
    }
    let guard = start_logging(&config, cli, true);
    let (tmux, rt, sup, persist) = match start(config, cli) {
        Ok(parts) => parts,
        Err(code) => return code,
    };
    let (tmux, push) = runner::push_setup(tmux, &sup.config, persist.store());
    // Observe-only because another supervisor holds the lock (a lock that could not be taken
    // at all is among the errors printed below).
    if persist.held_elsewhere() {
        eprintln!(
            "tmux-supervisor: another supervisor is reconciling this tmux server; running observe-only"
        );
    }
    for e in &sup.memory.events {
        if e.kind == tmux_supervisor::memory::EventKind::Error {
            eprintln!("tmux-supervisor: {}", e.text);
        }
    }
    let stop = tmux.shutdown().clone();
    let tmux: Arc<dyn Tmux> = Arc::new(Fleet::new(tmux, &sup.config));
    let (reload_tx, reloads) = tokio::sync::mpsc::unbounded_channel();
    let again = found(cli);
    let metrics = match metrics_at.map(|addr| runner::start_metrics(&rt, addr)) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => {
            eprintln!("tmux-supervisor: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    rt.block_on(runner::run_daemon(
        sup,
        persist,
        tmux,
        runner::signals(move || {
            // SIGHUP: the config read again, as at the start (with the same overrides).
            let _ = reload_tx.send(again.load().map_err(|e| e.to_string()));
        }),
        reloads,
        runner::Kit {
            stop,
            clock: &runner::now_ms,
            metrics,
            push,
        },
    ));
    // The tmux calls were stopped; never wait long for a blocking thread.
    rt.shutdown_timeout(runner::STOP_GRACE);
    drop(guard);
    ExitCode::SUCCESS
}

/// The terminal UI over the same supervisor loop as the daemon.
fn ui(config: Config, cli: &Cli) -> ExitCode {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprintln!(
            "tmux-supervisor: the UI needs a terminal; use `tmux-supervisor daemon` or `check` without one"
        );
        return ExitCode::from(EXIT_ERROR);
    }
    if let Err(code) = trusted_state_dir(&config) {
        return code;
    }
    let guard = start_logging(&config, cli, false);
    let (tmux, rt, sup, persist) = match start(config, cli) {
        Ok(parts) => parts,
        Err(code) => return code,
    };
    let (tmux, push) = runner::push_setup(tmux, &sup.config, persist.store());
    let fleet = Fleet::new(tmux, &sup.config);
    let attach = tmux_supervisor::tui::Attach::detect(&fleet);
    let tmux: Arc<dyn Tmux> = Arc::new(fleet);
    let again = found(cli);
    let result = rt.block_on(tmux_supervisor::tui::run(
        sup,
        persist,
        tmux,
        attach,
        push,
        move || again.load().map_err(|e| e.to_string()),
    ));
    // The tmux calls were stopped; never wait long for a blocking thread.
    rt.shutdown_timeout(runner::STOP_GRACE);
    drop(guard);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tmux-supervisor: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Finds and loads the config, then applies the command-line overrides.
fn load_config(cli: &Cli) -> Result<Config, ConfigError> {
    found(cli).load()
}

/// How the config was found: `-c`, and the `-L` / `-S` that override it.
fn found(cli: &Cli) -> Found {
    Found {
        config: cli.config.clone(),
        socket_name: cli.socket_name.clone(),
        socket_path: cli.socket_path.clone(),
    }
}
