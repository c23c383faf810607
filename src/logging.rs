//! Logging to a file only (tracing-appender): daily rolling in the state dir, or `--log-file`.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Where the log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// `tmux-supervisor.log.YYYY-MM-DD` in this directory, a new file each day.
    Daily(PathBuf),
    /// Exactly this file, appended to.
    File(PathBuf),
}

impl LogTarget {
    pub fn describe(&self) -> String {
        match self {
            LogTarget::Daily(dir) => format!("{}/tmux-supervisor.log.<date>", dir.display()),
            LogTarget::File(p) => p.display().to_string(),
        }
    }
}

/// Starts file logging. Keep the guard alive until exit: it flushes the log on drop.
/// `verbose`: 0 info, 1 debug, 2+ trace; `RUST_LOG` overrides.
pub fn init(target: &LogTarget, verbose: u8) -> std::io::Result<WorkerGuard> {
    let appender = match target {
        LogTarget::Daily(dir) => {
            std::fs::create_dir_all(dir)?;
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("tmux-supervisor.log")
                .build(dir)
                .map_err(std::io::Error::other)?
        }
        LogTarget::File(path) => {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let name = path
                .file_name()
                .ok_or_else(|| std::io::Error::other("--log-file needs a file name"))?;
            // Open once here so a path that cannot be written is reported now, not lost later.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::NEVER)
                .filename_prefix(name.to_string_lossy().as_ref())
                .build(dir)
                .map_err(std::io::Error::other)?
        }
    };
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
    Ok(guard)
}
