//! The `tmux-supervisor` command line: parses options, loads the config and starts the chosen mode.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tmux_supervisor::config::{Config, ConfigError, ConfigSource};
use tmux_supervisor::pool::Layout;

/// Keeps pools of tmux sessions alive and shows their state at a glance.
#[derive(Debug, Parser)]
#[command(name = "tmux-supervisor", version, about)]
struct Cli {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Some(Command::Config { check }) => {
            if !check {
                print!("{}", describe(&config));
            }
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "tmux-supervisor: the terminal UI is not built yet; try `tmux-supervisor config`"
            );
            ExitCode::from(2)
        }
    }
}

/// Finds and loads the config, then applies the command-line overrides.
fn load_config(cli: &Cli) -> Result<Config, ConfigError> {
    let mut config = ConfigSource::from_env(cli.config.as_deref()).load()?;
    if let Some(name) = &cli.socket_name {
        config.socket_name = Some(name.clone());
        config.socket_path = None;
    }
    if let Some(path) = &cli.socket_path {
        config.socket_path = Some(path.clone());
        config.socket_name = None;
    }
    Ok(config)
}

/// The resolved pools and slots, as `tmux-supervisor config` prints them.
fn describe(config: &Config) -> String {
    use std::fmt::Write as _;
    let layout = Layout::new(config);
    let mut out = String::new();
    let server = match (&config.socket_name, &config.socket_path) {
        (Some(n), _) => format!("tmux -L {n}"),
        (_, Some(p)) => format!("tmux -S {}", p.display()),
        _ => "the default tmux server".to_string(),
    };
    let _ = writeln!(out, "config: {}", config.source);
    let _ = writeln!(out, "server: {server}");
    let _ = writeln!(
        out,
        "poll every {}, reconcile every {}",
        humantime::format_duration(config.poll_interval),
        humantime::format_duration(config.reconcile_interval)
    );
    for (group, pool) in layout
        .groups
        .iter()
        .zip(config.pools.iter().map(Some).chain(std::iter::repeat(None)))
    {
        let _ = writeln!(out);
        match pool {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "pool {}  {}  restart: {}  keep alive: {} of {}  workdir: {}{}",
                    p.name,
                    group.range,
                    p.restart,
                    if p.restart == tmux_supervisor::config::Restart::Never {
                        0
                    } else {
                        p.min
                    },
                    p.max,
                    p.workdir.display(),
                    if p.command.is_empty() {
                        String::new()
                    } else {
                        format!("  command: {:?}", p.command)
                    }
                );
            }
            None => {
                let _ = writeln!(out, "dedicated sessions");
            }
        }
        for &i in &group.slots {
            let s = &layout.slots[i];
            let role = if s.supervised() {
                format!("kept alive ({})", s.restart)
            } else if s.restart == tmux_supervisor::config::Restart::Never {
                "watched only (restart: never)".to_string()
            } else {
                "watched only (above min)".to_string()
            };
            let _ = writeln!(out, "  {:<24} {role}", s.name);
        }
    }
    out
}
