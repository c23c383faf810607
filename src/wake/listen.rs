//! The supervisor's wake-up socket: a unix datagram socket in the state dir (mode 0600),
//! bound safely (a stale socket of a supervisor that is gone is replaced; anything else at
//! that path is refused and never followed), read by a task that rings the [`Wake`] for every
//! datagram, and removed when the supervisor stops.

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use tokio::net::UnixDatagram;
use tokio::task::JoinHandle;

use super::{Wake, socket_path};

/// The bound socket and the task reading it; dropping it stops the task and removes the
/// socket (if it is still the one bound here).
#[derive(Debug)]
pub struct Listener {
    path: PathBuf,
    /// Device and inode of the socket bound here.
    id: (u64, u64),
    task: JoinHandle<()>,
}

/// Why the wake-up socket was not bound.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// Something else is at the path: it is left alone.
    #[error("{} is {what}, not a socket: left as it is", path.display())]
    NotASocket { path: PathBuf, what: &'static str },
    #[error("cannot bind {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Listener {
    /// Binds `<state_dir>/wake-<key>.sock` and rings `wake` for each datagram that arrives.
    /// Call with the server's lock held: a socket already there is a stale one and is
    /// replaced. Must run inside the tokio runtime.
    pub fn bind(state_dir: &Path, key: &str, wake: Wake) -> Result<Listener, ListenError> {
        let path = socket_path(state_dir, key);
        let io = |source| ListenError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_socket() => std::fs::remove_file(&path).map_err(io)?,
            Ok(m) => {
                return Err(ListenError::NotASocket {
                    path,
                    what: kind(m.file_type()),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        // bind(2) creates the file and never follows a symlink put there meanwhile: it fails.
        let socket = std::os::unix::net::UnixDatagram::bind(&path).map_err(io)?;
        // The state dir is the user's alone (checked at the start), so this is the file just
        // bound: only its owner may send.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        let meta = std::fs::symlink_metadata(&path).map_err(io)?;
        socket.set_nonblocking(true).map_err(io)?;
        let socket = UnixDatagram::from_std(socket).map_err(io)?;
        let task = tokio::spawn(async move {
            let mut buf = [0_u8; 256];
            // Each datagram is a wake-up, whatever it says; an error ends the reading.
            while socket.recv(&mut buf).await.is_ok() {
                wake.ring();
            }
        });
        Ok(Listener {
            path,
            id: (meta.dev(), meta.ino()),
            task,
        })
    }

    /// Where the socket is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A file type in words, for the refusal.
fn kind(t: std::fs::FileType) -> &'static str {
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a device"
    }
}
