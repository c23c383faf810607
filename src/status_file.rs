//! Reading the dispatcher's status file: only a regular file (checked on the open descriptor,
//! opened without blocking), at most [`MAX_BYTES`], with each kind of problem named.

use std::fs::{File, FileType, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::observe::{ExternalStatus, parse_external};

/// The largest status file read; a bigger one is ignored as a whole.
pub const MAX_BYTES: u64 = 1024 * 1024;

/// Why the status file was not used this poll.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A FIFO, a directory, a device or a socket: reading it could block or never end.
    #[error("status file {} is {kind}, not a regular file; ignored", .path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("status file {} is bigger than {} KiB; ignored", .path.display(), MAX_BYTES / 1024)]
    TooBig { path: PathBuf },
    #[error("cannot read status file {}: {message}", .path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("status file {} is not valid: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
}

/// The status file's contents. A missing file is no status at all (not a problem).
pub fn read(path: &Path) -> Result<ExternalStatus, Problem> {
    let unreadable = |e: std::io::Error| Problem::Unreadable {
        path: path.to_owned(),
        message: e.to_string(),
    };
    // Non-blocking, so that opening a FIFO without a writer returns at once; the type is then
    // checked on the descriptor itself (no window for a swap between a stat and the open).
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ExternalStatus::default());
        }
        Err(e) => return Err(unreadable(e)),
    };
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.file_type().is_file() {
        return Err(Problem::NotRegular {
            path: path.to_owned(),
            kind: kind_of(meta.file_type()),
        });
    }
    let text = read_capped(file)
        .map_err(unreadable)?
        .ok_or(Problem::TooBig {
            path: path.to_owned(),
        })?;
    parse_external(&String::from_utf8_lossy(&text)).map_err(|message| Problem::Invalid {
        path: path.to_owned(),
        message,
    })
}

/// The whole file if it has at most [`MAX_BYTES`], else `None` (it may grow while read: the
/// cap is on what is read, not on what `stat` said).
fn read_capped(file: File) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_BYTES).then_some(bytes))
}

fn kind_of(t: FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn a_good_file_is_read() {
        let d = dir();
        let p = d.path().join("status.json");
        std::fs::write(&p, r#"{"ccl-auto-11": {"state": "working", "task": "t"}}"#).unwrap();
        let s = read(&p).unwrap();
        assert_eq!(
            s["ccl-auto-11"].state,
            crate::observe::ExternalState::Working
        );
        assert_eq!(s["ccl-auto-11"].task.as_deref(), Some("t"));
    }

    #[test]
    fn a_symlink_to_a_good_file_is_followed() {
        let d = dir();
        let p = d.path().join("status.json");
        std::fs::write(&p, r#"{"a": {"state": "idle"}}"#).unwrap();
        let l = d.path().join("link.json");
        std::os::unix::fs::symlink(&p, &l).unwrap();
        assert_eq!(
            read(&l).unwrap()["a"].state,
            crate::observe::ExternalState::Idle
        );
    }

    #[test]
    fn a_missing_file_is_no_status() {
        let d = dir();
        assert!(read(&d.path().join("nothing")).unwrap().is_empty());
    }

    #[test]
    fn a_fifo_without_writer_returns_at_once() {
        let d = dir();
        let p = d.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        let e = read(&p).unwrap_err();
        assert!(matches!(
            e,
            Problem::NotRegular {
                kind: "a named pipe (FIFO)",
                ..
            }
        ));
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_directory_and_a_device_are_refused() {
        let d = dir();
        assert!(matches!(
            read(d.path()),
            Err(Problem::NotRegular {
                kind: "a directory",
                ..
            })
        ));
        assert!(matches!(
            read(Path::new("/dev/zero")),
            Err(Problem::NotRegular {
                kind: "a character device",
                ..
            })
        ));
    }

    #[test]
    fn a_file_over_the_cap_is_refused_without_reading_it_all() {
        let d = dir();
        let p = d.path().join("big.json");
        // Sparse: 4 GiB of zeros on the file system costs nothing.
        File::create(&p).unwrap().set_len(4 << 30).unwrap();
        assert!(matches!(read(&p), Err(Problem::TooBig { .. })));
        // Exactly at the cap it is read (and found not to be JSON).
        File::create(&p).unwrap().set_len(MAX_BYTES).unwrap();
        assert!(matches!(read(&p), Err(Problem::Invalid { .. })));
    }

    #[test]
    fn bad_json_and_no_permission_are_named() {
        let d = dir();
        let p = d.path().join("bad.json");
        std::fs::write(&p, "{nope").unwrap();
        let e = read(&p).unwrap_err();
        assert!(e.to_string().contains("is not valid"), "{e}");
        assert!(matches!(
            read(&d.path().join("bad.json/child")),
            Err(Problem::Unreadable { .. })
        ));
    }
}
