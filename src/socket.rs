//! Which tmux server is meant, as the real path of its socket (found the way tmux finds it,
//! without running tmux), and the collision-free file-name key the state file and the lock of
//! that server are named by.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

/// What tmux looks at to find its socket when neither `-S` nor `-L` says it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketEnv {
    /// `$TMUX` (`SOCKET,PID,SESSION`), set inside a tmux pane.
    pub tmux: Option<OsString>,
    /// `$TMUX_TMPDIR`: where tmux keeps its `tmux-UID` dir (default `/tmp`).
    pub tmux_tmpdir: Option<OsString>,
    /// The real user id: tmux names its dir `tmux-UID` after it.
    pub uid: u32,
    /// The working directory, against which a relative `-S` path is taken.
    pub cwd: PathBuf,
}

impl SocketEnv {
    /// This process's environment, user and working directory.
    pub fn current() -> Self {
        SocketEnv {
            tmux: std::env::var_os("TMUX"),
            tmux_tmpdir: std::env::var_os("TMUX_TMPDIR"),
            uid: rustix::process::getuid().as_raw(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        }
    }
}

/// The socket tmux uses for `-L name` / `-S path` / neither, as tmux computes it: `-S PATH` made
/// absolute; `-L NAME` → `$TMUX_TMPDIR` (else `/tmp`) `/tmux-UID/NAME`; neither → the socket
/// part of `$TMUX` when it is set, else `.../tmux-UID/default`. Not resolved: see [`resolve`].
pub fn socket_path(name: Option<&str>, path: Option<&Path>, env: &SocketEnv) -> PathBuf {
    let in_tmux_dir = |label: &str| {
        env.tmux_tmpdir
            .as_deref()
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
            .join(format!("tmux-{}", env.uid))
            .join(label)
    };
    if let Some(p) = path {
        return env.cwd.join(p);
    }
    if let Some(n) = name {
        return in_tmux_dir(n);
    }
    match env.tmux.as_deref().and_then(tmux_env_socket) {
        Some(s) => env.cwd.join(s),
        None => in_tmux_dir("default"),
    }
}

/// The socket part of a `$TMUX` value (`SOCKET,PID,SESSION`). The socket path may itself hold
/// commas, so the last two fields are dropped; a value without them is taken up to its first
/// comma. `None` for an empty socket.
fn tmux_env_socket(value: &OsStr) -> Option<PathBuf> {
    let bytes = value.as_bytes();
    let last_two = bytes
        .iter()
        .rposition(|&b| b == b',')
        .and_then(|last| bytes[..last].iter().rposition(|&b| b == b','));
    let socket = match last_two {
        Some(cut) => &bytes[..cut],
        None => bytes.split(|&b| b == b',').next().unwrap_or_default(),
    };
    (!socket.is_empty()).then(|| PathBuf::from(OsStr::from_bytes(socket)))
}

/// `path` with its longest existing ancestor resolved (symlinks, `.`, `..`), so one server
/// reached by several names gets one path: `/tmp` through a symlink, the path tmux wrote into
/// `$TMUX` (which it resolved), a `-S` path through a symlinked dir or to a symlinked socket.
pub fn resolve(path: &Path) -> PathBuf {
    let mut rest: Vec<&OsStr> = Vec::new();
    let mut base = path;
    loop {
        if let Ok(real) = std::fs::canonicalize(base) {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                base = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The real socket path of the server this process would talk to.
pub fn server_socket(name: Option<&str>, path: Option<&Path>) -> PathBuf {
    resolve(&socket_path(name, path, &SocketEnv::current()))
}

/// Longest key kept whole: file names of the state dir add up to about 40 bytes to it, and a
/// file name has at most 255.
const KEY_MAX: usize = 180;

/// A file-name key for a socket path, one-to-one and readable: `/` becomes `_`; ASCII letters,
/// digits and `-` stay; every other byte (`_`, `.` and `%` included) becomes `%XX`. So
/// `/tmp/tmux-1000/a.b` → `_tmp_tmux-1000_a%2Eb` and `/tmp/tmux-1000/a_b` → `_tmp_tmux-1000_a%5Fb`.
/// A key longer than [`KEY_MAX`] keeps its start and ends in `~` and a 64-bit FNV-1a hash of
/// the whole path, so a long socket path still gets a lock file (tmux allows 107 bytes, which
/// escaped may be three times as long).
pub fn key(socket: &Path) -> String {
    use std::hash::Hasher as _;
    let whole = escaped(socket);
    if whole.len() <= KEY_MAX {
        return whole;
    }
    let mut h = fnv::FnvHasher::default();
    h.write(socket.as_os_str().as_bytes());
    format!("{}~{:016x}", &whole[..KEY_MAX - 17], h.finish())
}

fn escaped(socket: &Path) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for &b in socket.as_os_str().as_bytes() {
        match b {
            b'/' => out.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_long_socket_path_gets_a_short_distinct_key() {
        let long = |c: &str| PathBuf::from(format!("/tmp/{}", c.repeat(100)));
        let (a, b) = (key(&long(".")), key(&long("_")));
        assert_eq!(a.len(), KEY_MAX);
        assert_ne!(a, b);
        assert!(a.contains('~'));
        assert_eq!(a, key(&long(".")), "stable");
        // Short ones are kept whole.
        assert_eq!(key(Path::new("/tmp/x")), "_tmp_x");
    }

    fn env(tmux: Option<&str>, tmpdir: Option<&str>) -> SocketEnv {
        SocketEnv {
            tmux: tmux.map(OsString::from),
            tmux_tmpdir: tmpdir.map(OsString::from),
            uid: 1000,
            cwd: PathBuf::from("/home/op"),
        }
    }

    #[test]
    fn every_way_of_naming_the_default_server_gives_one_socket() {
        let outside = socket_path(None, None, &env(None, None));
        assert_eq!(outside, Path::new("/tmp/tmux-1000/default"));
        let inside = socket_path(
            None,
            None,
            &env(Some("/tmp/tmux-1000/default,4242,0"), None),
        );
        assert_eq!(inside, outside);
        let by_name = socket_path(Some("default"), None, &env(None, None));
        assert_eq!(by_name, outside);
        let by_path = socket_path(
            None,
            Some(Path::new("/tmp/tmux-1000/default")),
            &env(None, None),
        );
        assert_eq!(by_path, outside);
        // An empty $TMUX is no tmux.
        assert_eq!(socket_path(None, None, &env(Some(""), None)), outside);
    }

    #[test]
    fn socket_name_and_path_are_found_where_tmux_puts_them() {
        assert_eq!(
            socket_path(Some("x"), None, &env(None, Some("/run/t"))),
            Path::new("/run/t/tmux-1000/x")
        );
        assert_eq!(
            socket_path(Some("x"), None, &env(None, Some(""))),
            Path::new("/tmp/tmux-1000/x")
        );
        // -L and -S win over $TMUX, -S over -L.
        let inside = env(Some("/tmp/tmux-1000/default,1,0"), None);
        assert_eq!(
            socket_path(Some("x"), None, &inside),
            Path::new("/tmp/tmux-1000/x")
        );
        assert_eq!(
            socket_path(Some("x"), Some(Path::new("rel/s")), &inside),
            Path::new("/home/op/rel/s")
        );
    }

    #[test]
    fn a_tmux_socket_with_commas_keeps_them() {
        assert_eq!(
            socket_path(None, None, &env(Some("/tmp/a,b/sock,99,3"), None)),
            Path::new("/tmp/a,b/sock")
        );
        // Malformed: no pid and session fields.
        assert_eq!(
            socket_path(None, None, &env(Some("/tmp/s"), None)),
            Path::new("/tmp/s")
        );
        assert_eq!(
            socket_path(None, None, &env(Some(",1,2"), None)),
            Path::new("/tmp/tmux-1000/default")
        );
    }

    #[test]
    fn keys_are_readable_and_never_collide() {
        assert_eq!(key(Path::new("/tmp/tmux-1000/a.b")), "_tmp_tmux-1000_a%2Eb");
        assert_eq!(key(Path::new("/tmp/tmux-1000/a_b")), "_tmp_tmux-1000_a%5Fb");
        assert_eq!(key(Path::new("/tmp/tmux-0/default")), "_tmp_tmux-0_default");
        let names = [
            "/tmp/x.N",
            "/tmp/x_N",
            "/tmp/x/N",
            "/tmp/x%2EN",
            "/tmp/x%5FN",
            "/tmp/x N",
            "/tmp/x\u{e9}N",
            "/tmp/x-N",
        ];
        let keys: std::collections::BTreeSet<String> =
            names.iter().map(|n| key(Path::new(n))).collect();
        assert_eq!(keys.len(), names.len(), "{keys:?}");
        for k in &keys {
            assert!(
                k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_%".contains(&b)),
                "{k}"
            );
        }
    }

    #[test]
    fn resolving_follows_symlinked_dirs_up_to_what_exists() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let real = std::fs::canonicalize(&real).unwrap();
        // The dir exists, the socket not yet; a dir below it does not exist either.
        assert_eq!(resolve(&link.join("sock")), real.join("sock"));
        assert_eq!(resolve(&link.join("sub/sock")), real.join("sub/sock"));
        assert_eq!(resolve(&link.join("../real/sock")), real.join("sock"));
    }
}
