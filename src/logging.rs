//! Logging to a file only: daily files in the state dir (never written through a symlink, the
//! newest [`KEEP_DAILY_LOGS`] kept), or `--log-file`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::statedir;

/// How many daily log files are kept in the state dir, today's included.
pub const KEEP_DAILY_LOGS: usize = 7;

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
            tracing_appender::non_blocking(DailyLog::open(dir, KEEP_DAILY_LOGS, SystemTime::now())?)
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
/// without following a symlink (mode 0600). Each time a day's file is opened, at start and at
/// midnight, the oldest daily files beyond `keep` are deleted.
#[derive(Debug)]
pub struct DailyLog {
    dir: PathBuf,
    keep: usize,
    day: i64,
    file: File,
}

impl DailyLog {
    /// Opens the file of the day of `now`, then deletes the oldest beyond `keep`.
    pub fn open(dir: &Path, keep: usize, now: SystemTime) -> io::Result<Self> {
        let day = day_of(now);
        let file = statedir::open_append(&dir.join(file_name(day)))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file_name(day))))?;
        let log = DailyLog {
            dir: dir.to_path_buf(),
            keep,
            day,
            file,
        };
        log.prune();
        Ok(log)
    }

    /// Writes `buf` to the file of the day of `now`, moving to a new file when the day changed.
    /// When the new day's file cannot be opened, the log goes on in the old one and says why.
    pub fn write_at(&mut self, buf: &[u8], now: SystemTime) -> io::Result<usize> {
        let day = day_of(now);
        if day != self.day {
            self.day = day;
            match statedir::open_append(&self.dir.join(file_name(day))) {
                Ok(file) => {
                    self.file = file;
                    self.prune();
                }
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

    /// Deletes the oldest daily log files (by the date in their names) beyond `keep`, never
    /// the current one. Only regular files named exactly like a daily log are touched.
    fn prune(&self) {
        let current = file_name(self.day);
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut old: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_daily_name(n) && *n != current)
            .collect();
        old.sort_unstable_by(|a, b| b.cmp(a));
        for name in old.iter().skip(self.keep.saturating_sub(1)) {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
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

/// True for `tmux-supervisor.log.YYYY-MM-DD`.
fn is_daily_name(name: &str) -> bool {
    name.strip_prefix(DAILY_PREFIX)
        .and_then(|r| r.strip_prefix('.'))
        .is_some_and(|date| {
            date.len() == 10
                && date.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                })
        })
}

/// Starts logging to `target`; if it cannot be written, says so on stderr and, with
/// `stderr_fallback` (the daemon), logs to stderr instead. Keep the guard until exit.
pub fn start(target: &LogTarget, verbose: u8, stderr_fallback: bool) -> Option<WorkerGuard> {
    match init(target, verbose) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!(
                "tmux-supervisor: cannot write the log {}: {e}",
                target.describe()
            );
            if stderr_fallback {
                let _ = tracing_subscriber::fmt()
                    .with_writer(std::io::stderr)
                    .try_init();
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::os::unix::fs::{PermissionsExt as _, symlink};
    use std::time::Duration;

    const DAY: u64 = 86_400;

    fn at(day: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(day * DAY + 3600)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
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
        assert!(is_daily_name("tmux-supervisor.log.2022-01-08"));
        for n in [
            "tmux-supervisor.log",
            "tmux-supervisor.log.2022-01-0",
            "tmux-supervisor.log.2022-01-08.gz",
            "tmux-supervisor.log.2022_01_08",
            "state-x.json",
        ] {
            assert!(!is_daily_name(n), "{n}");
        }
    }

    #[test]
    fn only_the_newest_seven_daily_files_are_kept_at_start_and_at_midnight() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        std::fs::write(&target, "precious").unwrap();
        // Ten old days (19 000 … 19 009), a file that only looks like a log, a symlink
        // named like an old log.
        for d in 19_000..19_010 {
            std::fs::write(dir.path().join(file_name(d)), "old").unwrap();
        }
        std::fs::write(dir.path().join("tmux-supervisor.log.notes"), "mine").unwrap();
        symlink(&target, dir.path().join(file_name(18_000))).unwrap();

        let mut log = DailyLog::open(dir.path(), KEEP_DAILY_LOGS, at(19_020)).unwrap();
        log.write_at(b"hello\n", at(19_020)).unwrap();
        let mut expected: Vec<String> = (19_004..19_010).map(file_name).collect();
        expected.push(file_name(19_020));
        expected.push(file_name(18_000));
        expected.push("tmux-supervisor.log.notes".into());
        expected.sort();
        assert_eq!(names(dir.path()), expected);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(file_name(19_020))).unwrap(),
            "hello\n"
        );
        let mode = std::fs::metadata(dir.path().join(file_name(19_020)))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        // Midnight: the next day's file, and the oldest goes.
        log.write_at(b"next\n", at(19_021)).unwrap();
        assert!(!dir.path().join(file_name(19_004)).exists());
        assert!(dir.path().join(file_name(19_005)).exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(file_name(19_021))).unwrap(),
            "next\n"
        );
        let regular_daily = names(dir.path())
            .iter()
            .filter(|n| is_daily_name(n) && !dir.path().join(n).is_symlink())
            .count();
        assert_eq!(regular_daily, KEEP_DAILY_LOGS);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }

    #[test]
    fn a_daily_file_that_is_a_symlink_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        std::fs::write(&target, "precious").unwrap();
        symlink(&target, dir.path().join(file_name(19_000))).unwrap();
        symlink(&target, dir.path().join(file_name(19_002))).unwrap();
        let e = DailyLog::open(dir.path(), 7, at(19_000)).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // At midnight: the log goes on in the day before's file and says why.
        let mut log = DailyLog::open(dir.path(), 7, at(19_001)).unwrap();
        log.write_at(b"a\n", at(19_002)).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        let text = std::fs::read_to_string(dir.path().join(file_name(19_001))).unwrap();
        assert!(
            text.contains("symbolic link") && text.ends_with("a\n"),
            "{text}"
        );
    }
}
