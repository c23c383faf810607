//! Push wake-ups (DESIGN.md §12): the [`Wake`] every source rings and the owner task waits on
//! (ten rings before it looks make one wake-up), the supervisor's datagram socket in the
//! state dir that agent hooks ring with [`send`], and the processes of slot panes followed
//! until they end. The tmux latch and its waiter are in `tmux::hooks` and `tmux::waiter`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Notify;

mod listen;
mod panes;
#[cfg(test)]
mod tests;

pub use listen::{ListenError, Listener};
pub use panes::PaneProcesses;

/// A wake-up bell: rung by any source, waited on by the owner task. Rings that come while
/// nobody waits are kept as one: the next wait returns at once, and only once.
#[derive(Debug, Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn new() -> Self {
        Self::default()
    }

    /// Something happened: the owner task should look (poll) now.
    pub fn ring(&self) {
        self.0.notify_one();
    }

    /// Returns once the bell has rung since the last return (or [`clear`](Self::clear)).
    pub async fn rung(&self) {
        self.0.notified().await;
    }

    /// A poll starts now: rings that came before it are answered by it, not by another one.
    pub fn clear(&self) {
        use futures_util::FutureExt as _;
        let _ = self.0.notified().now_or_never();
    }
}

/// The supervisor's wake-up socket for the tmux server whose socket key is `key`
/// ([`crate::socket::key`]): `<state_dir>/wake-<key>.sock`, bound by the supervisor that holds
/// that server's lock.
pub fn socket_path(state_dir: &Path, key: &str) -> PathBuf {
    state_dir.join(format!("wake-{key}.sock"))
}

/// Wakes the supervisor of that server, if one runs: one datagram, sent without blocking.
/// Never fails loudly: no socket, nobody bound to it (a supervisor that is gone), a full queue
/// or a file that is not a socket all mean there is no one to wake, and nothing happens.
/// Returns whether a supervisor's socket took the datagram. For the hook: a path longer than a
/// socket address is reached by changing into the state dir.
///
/// `key` is the server's, as the supervisor computes it:
/// `socket::key(&socket::server_socket(socket_name, socket_path))` (also `Store::key`).
pub fn send(state_dir: &Path, key: &str) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(socket) = std::os::unix::net::UnixDatagram::unbound() else {
        return false;
    };
    if socket.set_nonblocking(true).is_err() {
        return false;
    }
    let path = socket_path(state_dir, key);
    if path.as_os_str().as_bytes().len() <= SUN_PATH_MAX {
        return socket.send_to(b"wake", path).is_ok();
    }
    // Too long for a socket address: reached from inside the state dir. This changes the
    // process's working directory, which only a short-lived sender (the hook) may do.
    let name = format!("wake-{key}.sock");
    std::env::set_current_dir(state_dir).is_ok() && socket.send_to(b"wake", name).is_ok()
}

/// Longest socket path `sendto` takes (`sun_path` holds 108 bytes with its NUL).
const SUN_PATH_MAX: usize = 107;
