//! Logging to a file only: daily files in the state dir (never written through a symlink), or
//! `--log-file`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::statedir;

/// The name of the daily log files: this, a dot, and the date (UTC), e.g. `.2025-03-09`.
pub const DAILY_PREFIX: &str = "tmux-supervisor.log";

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
            LogTarget::Daily(dir) => format!("{}/{DAILY_PREFIX}.<date>", dir.display()),
            LogTarget::File(p) => p.display().to_string(),
        }
    }
}

/// Starts file logging. Keep the guard alive until exit: it flushes the log on drop.
/// `verbose`: 0 info, 1 debug, 2+ trace; `RUST_LOG` overrides.
pub fn init(target: &LogTarget, verbose: u8) -> io::Result<WorkerGuard> {
    let (writer, guard) = match target {
        LogTarget::Daily(dir) => {
            statedir::create_private(dir)?;
            tracing_appender::non_blocking(DailyLog::open(dir, SystemTime::now())?)
        }
        LogTarget::File(path) => {
            // The operator named this file: it is opened as given (a symlink is followed).
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            tracing_appender::non_blocking(file)
        }
    };
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

/// The daily log: `tmux-supervisor.log.YYYY-MM-DD` (UTC) in the state dir, appended to, opened
/// without following a symlink (mode 0600).
#[derive(Debug)]
pub struct DailyLog {
    dir: PathBuf,
    day: i64,
    file: File,
}

impl DailyLog {
    /// Opens the file of the day of `now`.
    pub fn open(dir: &Path, now: SystemTime) -> io::Result<Self> {
        let day = day_of(now);
        let file = statedir::open_append(&dir.join(file_name(day)))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file_name(day))))?;
        Ok(DailyLog {
            dir: dir.to_path_buf(),
            day,
            file,
        })
    }

    /// Writes `buf` to the file of the day of `now`, moving to a new file when the day changed.
    /// When the new day's file cannot be opened, the log goes on in the old one and says why.
    pub fn write_at(&mut self, buf: &[u8], now: SystemTime) -> io::Result<usize> {
        let day = day_of(now);
        if day != self.day {
            self.day = day;
            match statedir::open_append(&self.dir.join(file_name(day))) {
                Ok(file) => self.file = file,
                Err(e) => {
                    let _ = writeln!(
                        self.file,
                        "tmux-supervisor: cannot open the log {}: {e}; logging on here",
                        self.dir.join(file_name(day)).display()
                    );
                }
            }
        }
        self.file.write(buf)
    }
}

impl Write for DailyLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_at(buf, SystemTime::now())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Days since the Unix epoch (UTC).
fn day_of(t: SystemTime) -> i64 {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    secs.div_euclid(86_400)
}

/// `tmux-supervisor.log.YYYY-MM-DD` for a day since the epoch (the civil-from-days algorithm
/// of Howard Hinnant's date library).
fn file_name(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{DAILY_PREFIX}.{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::os::unix::fs::symlink;
    use std::time::Duration;

    const DAY: u64 = 86_400;

    fn at(day: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(day * DAY + 3600)
    }

    #[test]
    fn file_names_are_utc_dates() {
        assert_eq!(file_name(0), "tmux-supervisor.log.1970-01-01");
        assert_eq!(
            file_name(day_of(at(19_000))),
            "tmux-supervisor.log.2022-01-08"
        );
        assert_eq!(file_name(11_016), "tmux-supervisor.log.2000-02-29");
        assert_eq!(file_name(-1), "tmux-supervisor.log.1969-12-31");
    }

    #[test]
    fn a_daily_file_that_is_a_symlink_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        std::fs::write(&target, "precious").unwrap();
        symlink(&target, dir.path().join(file_name(19_000))).unwrap();
        symlink(&target, dir.path().join(file_name(19_002))).unwrap();
        let e = DailyLog::open(dir.path(), at(19_000)).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // At midnight: the log goes on in the day before's file and says why.
        let mut log = DailyLog::open(dir.path(), at(19_001)).unwrap();
        log.write_at(b"a\n", at(19_002)).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        let text = std::fs::read_to_string(dir.path().join(file_name(19_001))).unwrap();
        assert!(
            text.contains("symbolic link") && text.ends_with("a\n"),
            "{text}"
        );
    }
}
