//! The state dir made trustworthy: created private, refused when it is not the user's own or
//! others can write to it, and every file in it opened without following a symlink (temp files
//! with a random name and an exclusive create).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// A state dir that cannot be trusted: others could plant or change the files in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(
        "the state dir {} is writable by group or others (mode {mode:04o}); it holds the lock and the memory of the supervisor, so it must be yours alone: `chmod 700 {}`",
        dir.display(),
        dir.display()
    )]
    Writable { dir: PathBuf, mode: u32 },
    #[error(
        "the state dir {} belongs to uid {owner}, not to you (uid {me}); it holds the lock and the memory of the supervisor, so it must be yours: `chown {me} {}` and `chmod 700 {}`, or set another state_dir",
        dir.display(),
        dir.display(),
        dir.display()
    )]
    Owner { dir: PathBuf, owner: u32, me: u32 },
}

/// Creates the state dir (mode 0700) if it is missing, then checks it as [`check`] does. A dir
/// that cannot be created is not refused here: the files in it then fail to open, and say so.
pub fn prepare(dir: &Path) -> Result<(), Refused> {
    let _ = create_private(dir);
    check(dir)
}

/// Refuses a state dir (followed if it is a symlink) that is not owned by this user or that
/// group or others can write to, as ssh refuses such a `~/.ssh`. A missing dir passes.
pub fn check(dir: &Path) -> Result<(), Refused> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => judge(dir, m.uid(), m.mode(), rustix::process::geteuid().as_raw()),
        _ => Ok(()),
    }
}

/// The rule of [`check`] on a dir's owner and mode, for the user `me`.
pub fn judge(dir: &Path, owner: u32, mode: u32, me: u32) -> Result<(), Refused> {
    if owner != me {
        return Err(Refused::Owner {
            dir: dir.to_path_buf(),
            owner,
            me,
        });
    }
    if mode & 0o022 != 0 {
        return Err(Refused::Writable {
            dir: dir.to_path_buf(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

/// Creates `dir` and its missing parents with mode 0700.
pub fn create_private(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Why a file in the state dir was not opened: it is a symlink, or not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotFollowed {
    #[error("it is a symbolic link, and links are never followed in the state dir; remove it")]
    Symlink,
    #[error("it is not a regular file; remove it")]
    NotAFile,
}

/// True when `e` is a [`NotFollowed`] refusal (not a plain I/O error).
pub fn is_not_followed(e: &io::Error) -> bool {
    matches!(e.get_ref(), Some(inner) if inner.is::<NotFollowed>())
}

/// Opens `path` with `options` plus `O_NOFOLLOW` (a symlink there is an error, never followed)
/// and `O_NONBLOCK` (a FIFO planted there cannot hang the open), and checks it is a regular file.
pub fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let file = options
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                io::Error::new(io::ErrorKind::InvalidInput, NotFollowed::Symlink)
            } else {
                e
            }
        })?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            NotFollowed::NotAFile,
        ));
    }
    Ok(file)
}

/// Reads a whole file of the state dir, never through a symlink.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    open(path, OpenOptions::new().read(true))?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Opens (creating it, mode 0600) a file of the state dir to append to, never through a
/// symlink.
pub fn open_append(path: &Path) -> io::Result<File> {
    open(
        path,
        OpenOptions::new().append(true).create(true).mode(0o600),
    )
}

/// Replaces `path` with `bytes` atomically: a temp file with a random name, created
/// exclusively with mode 0600 in the same dir, synced, then renamed over `path` (a symlink at
/// `path` is replaced, not followed).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, true)
}

/// [`write_atomic`] without its `fsync`, for a file that matters only while the machine runs
/// and whose writer must not wait on the disk (a hook's record: the agent waits for its hook).
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    if sync {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Moves `path` aside to `aside`, or `aside-2`, `aside-3` … when that name is taken: nothing
/// already there (a file, a symlink) is replaced or written through. Returns the name used.
pub fn move_aside(path: &Path, aside: &Path) -> io::Result<PathBuf> {
    for n in 1..=100 {
        let to = if n == 1 {
            aside.to_path_buf()
        } else {
            let mut s = aside.as_os_str().to_os_string();
            s.push(format!("-{n}"));
            PathBuf::from(s)
        };
        // A hard link fails on an existing name (even a dangling symlink) and never follows
        // one; then the old name goes.
        match fs::hard_link(path, &to) {
            Ok(()) => {
                fs::remove_file(path)?;
                return Ok(to);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "every name to move it aside to is taken",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::os::unix::fs::{PermissionsExt as _, symlink};

    #[test]
    fn a_dir_of_another_user_or_writable_by_others_is_refused() {
        let d = Path::new("/s");
        assert_eq!(judge(d, 1000, 0o40700, 1000), Ok(()));
        assert_eq!(judge(d, 1000, 0o40755, 1000), Ok(()));
        let owner = judge(d, 0, 0o40700, 1000).unwrap_err();
        assert!(matches!(
            owner,
            Refused::Owner {
                owner: 0,
                me: 1000,
                ..
            }
        ));
        assert!(owner.to_string().contains("/s belongs to uid 0"), "{owner}");
        for mode in [0o40770, 0o40707, 0o41777, 0o40720] {
            let e = judge(d, 1000, mode, 1000).unwrap_err();
            assert!(e.to_string().contains("`chmod 700 /s`"), "{e}");
        }
    }

    #[test]
    fn prepare_creates_a_private_dir_and_refuses_one_others_can_write() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("a/b");
        prepare(&dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare(&dir).unwrap_err();
        assert!(e.to_string().contains("mode 0777"), "{e}");
        // A path that cannot be a dir is not refused here (its files fail to open later).
        fs::write(home.path().join("f"), "x").unwrap();
        assert_eq!(prepare(&home.path().join("f/sub")), Ok(()));
    }

    #[test]
    fn symlinks_and_fifos_are_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        fs::write(&target, "precious").unwrap();
        let link = dir.path().join("link");
        symlink(&target, &link).unwrap();
        for e in [
            read(&link).unwrap_err(),
            open_append(&link).unwrap_err(),
            open(&link, OpenOptions::new().write(true).truncate(true)).unwrap_err(),
        ] {
            assert!(is_not_followed(&e), "{e}");
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        let e = read(dir.path()).unwrap_err();
        assert!(is_not_followed(&e) && e.to_string().contains("not a regular file"));
        // A FIFO with no writer would hang a blocking open for read.
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = read(&fifo).unwrap_err();
        assert!(is_not_followed(&e) && e.to_string().contains("not a regular file"));
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
    }

    #[test]
    fn atomic_writes_replace_a_symlink_and_never_write_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        fs::write(&target, "precious").unwrap();
        let path = dir.path().join("state.json");
        symlink(&target, &path).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
        assert!(fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temp file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn moving_aside_never_replaces_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        fs::write(&target, "precious").unwrap();
        let path = dir.path().join("state.json");
        let aside = dir.path().join("state.json.corrupt-1");
        fs::write(&aside, "earlier").unwrap();
        symlink(&target, dir.path().join("state.json.corrupt-1-2")).unwrap();
        fs::write(&path, "bad").unwrap();
        let to = move_aside(&path, &aside).unwrap();
        assert_eq!(to, dir.path().join("state.json.corrupt-1-3"));
        assert_eq!(fs::read_to_string(&to).unwrap(), "bad");
        assert_eq!(fs::read_to_string(&aside).unwrap(), "earlier");
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
        assert!(!path.exists());
    }
}
