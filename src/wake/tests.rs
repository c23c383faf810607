//! Tests of the wake-up sources on real sockets and processes: the bell coalesces, `send`
//! reaches a bound socket and never fails without one, the socket is bound safely, a
//! followed process rings once when it ends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::time::Duration;

use super::*;

/// Whether the bell rings within `d` (real time).
async fn rings_within(wake: &Wake, d: Duration) -> bool {
    tokio::time::timeout(d, wake.rung()).await.is_ok()
}

#[tokio::test(start_paused = true)]
async fn ten_rings_before_anyone_looks_are_one_wake_up() {
    let wake = Wake::new();
    for _ in 0..10 {
        wake.clone().ring();
    }
    assert!(rings_within(&wake, Duration::from_millis(1)).await);
    // Only one: the next wait waits for a new ring.
    assert!(!rings_within(&wake, Duration::from_secs(60)).await);
    wake.ring();
    assert!(rings_within(&wake, Duration::from_millis(1)).await);
    // A poll that starts after rings answers them: cleared, they wake nobody.
    wake.ring();
    wake.ring();
    wake.clear();
    assert!(!rings_within(&wake, Duration::from_secs(60)).await);
    wake.clear();
    wake.ring();
    assert!(rings_within(&wake, Duration::from_millis(1)).await);
}

#[tokio::test]
async fn a_datagram_on_the_socket_wakes_the_supervisor() {
    let dir = tempfile::tempdir().unwrap();
    let wake = Wake::new();
    // Nobody listens yet: nothing happens, nothing fails.
    assert!(!send(dir.path(), "_tmp_tmux-0_x"));
    let listener = Listener::bind(dir.path(), "_tmp_tmux-0_x", wake.clone()).unwrap();
    let path = socket_path(dir.path(), "_tmp_tmux-0_x");
    assert_eq!(listener.path(), path);
    assert_eq!(path.file_name().unwrap(), "wake-_tmp_tmux-0_x.sock");
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(send(dir.path(), "_tmp_tmux-0_x"));
    assert!(rings_within(&wake, Duration::from_secs(5)).await);
    // Another server's key reaches nobody.
    assert!(!send(dir.path(), "_tmp_tmux-0_y"));
    // Gone with the supervisor: the socket is removed, and sending is a quiet no-op again.
    drop(listener);
    assert!(!path.exists());
    assert!(!send(dir.path(), "_tmp_tmux-0_x"));
}

#[tokio::test]
async fn a_stale_socket_is_replaced_and_anything_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(dir.path(), "k");
    // A supervisor that died left its socket: nobody reads it.
    drop(std::os::unix::net::UnixDatagram::bind(&path).unwrap());
    assert!(!send(dir.path(), "k"));
    let wake = Wake::new();
    let listener = Listener::bind(dir.path(), "k", wake.clone()).unwrap();
    assert!(send(dir.path(), "k"));
    assert!(rings_within(&wake, Duration::from_secs(5)).await);
    drop(listener);

    // A symlink (to a file of the user's), a regular file, a FIFO, a directory: left alone.
    let target = dir.path().join("precious");
    std::fs::write(&target, "keep me").unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let e = Listener::bind(dir.path(), "k", wake.clone()).unwrap_err();
    assert!(
        e.to_string().contains("a symbolic link, not a socket"),
        "{e}"
    );
    assert!(
        std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    // Sending to it neither blocks nor fails loudly.
    assert!(!send(dir.path(), "k"));
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "x").unwrap();
    let e = Listener::bind(dir.path(), "k", wake.clone()).unwrap_err();
    assert!(e.to_string().contains("a regular file"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "x");
    std::fs::remove_file(&path).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );
    let e = Listener::bind(dir.path(), "k", wake.clone()).unwrap_err();
    assert!(e.to_string().contains("a FIFO"), "{e}");
    assert!(!send(dir.path(), "k"), "a FIFO is not a supervisor");
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let e = Listener::bind(dir.path(), "k", wake).unwrap_err();
    assert!(e.to_string().contains("a directory"), "{e}");
}

#[tokio::test]
async fn a_full_socket_never_blocks_the_sender() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(dir.path(), "k");
    // Bound, never read: the queue fills up.
    let _socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    let started = std::time::Instant::now();
    let sent = (0..10_000).filter(|_| send(dir.path(), "k")).count();
    assert!(sent > 0 && sent < 10_000, "{sent}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_followed_process_rings_once_when_it_ends() {
    let wake = Wake::new();
    let mut panes = PaneProcesses::new(wake.clone());
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let pid = child.id();
    panes.follow([pid]);
    assert_eq!(panes.following(), 1);
    assert!(!rings_within(&wake, Duration::from_millis(100)).await);
    child.kill().unwrap();
    assert!(rings_within(&wake, Duration::from_secs(5)).await);
    child.wait().unwrap();
    // Listed again by a later poll: it does not ring a second time.
    panes.follow([pid]);
    assert!(!rings_within(&wake, Duration::from_millis(100)).await);
    // Let go once no poll lists it; a process that is already gone rings at once.
    panes.follow([]);
    assert_eq!(panes.following(), 0);
    panes.follow([pid]);
    assert!(rings_within(&wake, Duration::from_secs(5)).await);
    // Ten ends at once are one wake-up; a process let go before it ends rings nothing.
    let mut ten: Vec<std::process::Child> = (0..10)
        .map(|_| {
            std::process::Command::new("sleep")
                .arg("60")
                .spawn()
                .unwrap()
        })
        .collect();
    let mut spared = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    panes.follow(ten.iter().map(std::process::Child::id).chain([spared.id()]));
    panes.follow(ten.iter().map(std::process::Child::id));
    for c in &mut ten {
        c.kill().unwrap();
    }
    for c in &mut ten {
        c.wait().unwrap();
    }
    spared.kill().unwrap();
    spared.wait().unwrap();
    assert!(rings_within(&wake, Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The ends may have come in two or three polls of the thread; never ten.
    let mut more = 0;
    while rings_within(&wake, Duration::from_millis(50)).await {
        more += 1;
    }
    assert!(more < 3, "{more} more wake-ups");
}
