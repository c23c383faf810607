//! Real ssh "hosts" for the tests: one private `sshd` per [`TestHost`], on a free loopback
//! port, with its own host key, client key, `authorized_keys` and `known_hosts`, all in a
//! tempdir removed on drop. The host is this machine: a "remote" tmux server started over ssh
//! runs here, as the same user, so each test names its own tmux socket ([`RemoteTmux`]).
//!
//! The sessions sshd starts get the login user's `HOME` (root's, when the tests run as
//! root), but none of the user's dotfiles run for `ssh host cmd`: the shell is not a login
//! shell, so `~/.profile` never runs, and bash's "started by sshd" rule (it sources
//! `~/.bashrc` when `SSH_CLIENT` is set and `SHLVL` < 2, Debian builds it in) is turned off
//! by the config's `SetEnv SHLVL=1`. tmux is always given `-f /dev/null`, so `~/.tmux.conf` is
//! not read either.
//!
//! [`TestHost::stop`] takes the whole instance down: the listener, every per-connection
//! sshd (they outlive a killed listener, and their command lines are rewritten to
//! `sshd: root@notty`, so they are found by the TCP sockets they hold on the port and as the
//! listener's descendants) and the commands they run; a client's `ControlMaster` connection
//! dies with them. Daemons the sessions started (a tmux server) are not sshd's any more and
//! survive, as on a real host whose network went away: [`TestHost::start_again`] brings
//! the host back on the same port with the same keys.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::process::{Pid, Signal, getuid, kill_process};

/// The sshd the tests run, unless `TMUX_SUPERVISOR_TEST_SSHD` names another.
pub const DEFAULT_SSHD: &str = "/usr/sbin/sshd";

/// How long sshd may take to listen, and a stopped instance to be gone.
pub const READY_PATIENCE: Duration = Duration::from_secs(10);

/// How long [`TestHost::start_again`] retries a port still held (e.g. by a socket the kernel
/// keeps a moment).
const REBIND_PATIENCE: Duration = Duration::from_secs(5);

pub fn sshd_path() -> PathBuf {
    std::env::var_os("TMUX_SUPERVISOR_TEST_SSHD")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_SSHD), PathBuf::from)
}

/// Whether the ssh tests can run here: sshd, ssh and ssh-keygen installed.
pub fn sshd_available() -> bool {
    let runs = |prog: &str, arg: &str| {
        Command::new(prog)
            .arg(arg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    sshd_path().is_file() && runs("ssh", "-V") && runs("ssh-keygen", "-?")
}

/// `true` when the test may go on. Without openssh-server it says so on the real stderr
/// (not the captured one: a plain `cargo test` shows the line) and the test returns early;
/// with `TMUX_SUPERVISOR_REQUIRE_SSHD=1` (CI) a missing sshd fails the test instead.
pub fn sshd_or_skip(test: &str) -> bool {
    if sshd_available() {
        return true;
    }
    let required = std::env::var("TMUX_SUPERVISOR_REQUIRE_SSHD").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{test}: sshd not installed ({}) but TMUX_SUPERVISOR_REQUIRE_SSHD=1",
        sshd_path().display()
    );
    // One write, so that lines of tests running in parallel do not interleave.
    let line = format!(
        "*** sshd not installed: skipped {test} ({} missing; apt-get install openssh-server)\n",
        sshd_path().display()
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    false
}

/// One private sshd on `127.0.0.1:PORT`.
pub struct TestHost {
    name: String,
    dir: tempfile::TempDir,
    port: u16,
    user: String,
    child: Option<Child>,
    /// Started and not yet seen refused: only then may a process holding a socket on the
    /// port be ours (once stopped, the port may be another test's).
    live: bool,
    /// More `NAME=VALUE` for the sessions' environment (sshd's `SetEnv`).
    env: Vec<String>,
}

impl TestHost {
    /// Keys, config and a running sshd that accepts connections. Panics (with sshd's log)
    /// when sshd does not come up within [`READY_PATIENCE`].
    pub fn start(name: &str) -> Self {
        // Under /tmp, not $TMPDIR: a ControlPath in here (`control_path`) must stay short.
        let dir = tempfile::Builder::new()
            .prefix(&format!("sshd-{name}-"))
            .tempdir_in("/tmp")
            .expect("tempdir for sshd");
        let user = current_user();
        if getuid().is_root() {
            ensure_privsep_dir();
        }
        keygen(&dir.path().join("host_ed25519"), &format!("host-{name}"));
        keygen(
            &dir.path().join("client_ed25519"),
            &format!("client-{name}"),
        );
        fs::copy(
            dir.path().join("client_ed25519.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized_keys");
        let mut host = TestHost {
            name: name.to_owned(),
            dir,
            port: 0,
            user,
            child: None,
            live: false,
            env: Vec::new(),
        };
        // A free port is free only until someone else binds it: a lost race is another try.
        let mut last = String::new();
        for _ in 0..5 {
            host.port = free_port();
            host.write_config();
            match host.spawn_and_wait() {
                Ok(()) => return host,
                Err(Launch::PortTaken(log)) => last = log,
                Err(Launch::Failed(log)) => panic!("sshd for host {name} failed:\n{log}"),
            }
        }
        panic!("sshd for host {name}: no free port after 5 tries; last log:\n{last}");
    }

    /// Every session on this host gets `assignment` (`NAME=VALUE`) in its environment from
    /// now on (the host is started again with it: same port, same keys).
    pub fn set_env(&mut self, assignment: &str) {
        self.env.push(assignment.to_owned());
        self.write_config();
        self.start_again();
    }

    /// The host back after [`stop`](Self::stop): same port, same keys, same config.
    pub fn start_again(&mut self) {
        self.stop();
        let deadline = Instant::now() + REBIND_PATIENCE;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(Launch::PortTaken(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(Launch::PortTaken(log) | Launch::Failed(log)) => {
                    panic!(
                        "sshd for host {} did not start again on port {}:\n{log}",
                        self.name, self.port
                    )
                }
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user the client logs in as: the user running the tests.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// `USER@127.0.0.1`, the ssh destination (with `-p PORT`).
    pub fn destination(&self) -> String {
        format!("{}@127.0.0.1", self.user)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The client's private key (`-i`).
    pub fn identity_file(&self) -> PathBuf {
        self.dir().join("client_ed25519")
    }

    /// A `known_hosts` holding `[127.0.0.1]:PORT` with this host's key, nothing else.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir().join("sshd_config")
    }

    /// sshd's own log (`-e`, `LogLevel` ERROR): shown when it does not start.
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("sshd.log")
    }

    /// A `ControlPath` for this host (`DIR/cm-%C`), short enough for ssh: it binds the path
    /// plus 17 characters, so the expansion must stay within 90 bytes.
    pub fn control_path(&self) -> String {
        format!("{}/cm-%C", self.dir().display())
    }

    /// The options every client of this host needs, and only those: its own `known_hosts`
    /// (strictly checked, no global one), only the identity given, and `-F /dev/null` so the
    /// user's and the system's `ssh_config` are never read. Port, identity and destination are
    /// [`port`](Self::port), [`identity_file`](Self::identity_file) and
    /// [`destination`](Self::destination).
    pub fn ssh_options(&self) -> Vec<String> {
        vec![
            "-F".into(),
            "/dev/null".into(),
            "-o".into(),
            format!("UserKnownHostsFile={}", self.known_hosts().display()),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            "GlobalKnownHostsFile=/dev/null".into(),
        ]
    }

    /// The options for multiplexing over `control_path()`: `ControlMaster=auto` and a master
    /// that persists 60 s.
    pub fn control_options(&self) -> Vec<String> {
        vec![
            "-o".into(),
            "ControlMaster=auto".into(),
            "-o".into(),
            format!("ControlPath={}", self.control_path()),
            "-o".into(),
            "ControlPersist=60".into(),
        ]
    }

    /// `ssh OPTIONS EXTRA BatchMode ConnectTimeout=10 -p PORT -i KEY USER@127.0.0.1`,
    /// without the caller's `TMUX`, `TMUX_PANE` and ssh agent, stdin null. For ssh the first
    /// value of an option wins, so EXTRA overrides the defaults after it. Append `--` and the
    /// remote command.
    pub fn ssh_command(&self, extra_options: &[&str]) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(self.ssh_options())
            .args(extra_options)
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"])
            .args(["-p", &self.port.to_string()])
            .arg("-i")
            .arg(self.identity_file())
            .arg(self.destination())
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `remote_argv` on the host, each word single-quoted for the remote shell.
    pub fn ssh(&self, remote_argv: &[&str]) -> Output {
        self.ssh_with(&[], remote_argv)
    }

    /// [`ssh`](Self::ssh) with more client options (e.g. [`control_options`](Self::control_options)).
    pub fn ssh_with(&self, extra_options: &[&str], remote_argv: &[&str]) -> Output {
        self.ssh_command(extra_options)
            .arg("--")
            .arg(shell_quote(remote_argv))
            .output()
            .expect("run ssh")
    }

    /// Like [`ssh`](Self::ssh), asserting success; returns stdout.
    pub fn ssh_ok(&self, remote_argv: &[&str]) -> String {
        let out = self.ssh(remote_argv);
        assert!(
            out.status.success(),
            "ssh to host {} ({remote_argv:?}) failed: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether the listener runs (not whether it can be reached: see [`stop`](Self::stop)).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Takes the host down: the listener, every per-connection sshd of this instance and
    /// what they run, then waits until a connection to the port is refused. A client's
    /// `ControlMaster` connection to it breaks at once. Idempotent; never panics (Drop uses it).
    pub fn stop(&mut self) {
        if !self.live {
            return;
        }
        let deadline = Instant::now() + READY_PATIENCE;
        loop {
            let victims = self.freeze_all();
            for &pid in &victims {
                signal(pid, Signal::KILL);
            }
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            if victims.is_empty() && self.refused() {
                self.live = false;
                return;
            }
            if Instant::now() >= deadline {
                let _ = writeln!(
                    std::io::stderr(),
                    "host {}: port {} still not refused after stop",
                    self.name,
                    self.port
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A host that hangs instead of refusing: every process of the instance stopped
    /// (SIGSTOP). Connections are accepted by the kernel and then nothing answers, as with a
    /// host gone from the network. [`thaw`](Self::thaw) resumes them.
    pub fn freeze(&mut self) {
        let _ = self.freeze_all();
    }

    pub fn thaw(&mut self) {
        for pid in self.instance_pids() {
            signal(pid, Signal::CONT);
        }
    }

    /// The pids of this instance: the listener, its descendants, and every sshd holding a
    /// TCP socket on our port (a per-connection sshd outlives a killed listener), with
    /// their descendants. Zombies are left out.
    pub fn instance_pids(&mut self) -> BTreeSet<u32> {
        if !self.live {
            return BTreeSet::new();
        }
        let procs = process_table();
        let mut roots = BTreeSet::new();
        if let Some(child) = self.child.as_mut()
            && matches!(child.try_wait(), Ok(None))
        {
            roots.insert(child.id());
        }
        let inodes = port_socket_inodes(self.port);
        if !inodes.is_empty() {
            for p in &procs {
                if p.comm == "sshd" && holds_any_socket(p.pid, &inodes) {
                    roots.insert(p.pid);
                }
            }
        }
        let mut all = roots.clone();
        let mut frontier: Vec<u32> = roots.into_iter().collect();
        while let Some(parent) = frontier.pop() {
            for p in &procs {
                if p.ppid == parent && all.insert(p.pid) {
                    frontier.push(p.pid);
                }
            }
        }
        all.retain(|pid| procs.iter().any(|p| p.pid == *pid && p.state != 'Z'));
        all
    }

    /// SIGSTOPs the instance until no process of it is left running (so none forks one we
    /// have not seen); returns them all.
    fn freeze_all(&mut self) -> BTreeSet<u32> {
        let mut stopped = BTreeSet::new();
        for _ in 0..50 {
            let now = self.instance_pids();
            let fresh: Vec<u32> = now.difference(&stopped).copied().collect();
            if fresh.is_empty() {
                break;
            }
            for pid in fresh {
                signal(pid, Signal::STOP);
                stopped.insert(pid);
            }
        }
        stopped
    }

    /// Whether a TCP connection to the port is refused now.
    fn refused(&self) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        matches!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
        )
    }

    fn write_config(&self) {
        let d = self.dir();
        let root_login = if getuid().is_root() {
            "PermitRootLogin prohibit-password\n"
        } else {
            ""
        };
        let config = format!(
            "# sshd for test host {name}\n\
             ListenAddress 127.0.0.1\n\
             Port {port}\n\
             HostKey {hostkey}\n\
             AuthorizedKeysFile {authorized}\n\
             PidFile {pid}\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             StrictModes no\n\
             {root_login}\
             LogLevel ERROR\n\
             UseDNS no\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             X11Forwarding no\n\
             # No AcceptEnv: the client's environment stays on the client.\n\
             # bash sources ~/.bashrc for a command from sshd when SHLVL < 2: not here.\n\
             SetEnv SHLVL=1{env}\n",
            env = self.env.iter().fold(String::new(), |all, e| all + " " + e),
            name = self.name,
            port = self.port,
            hostkey = d.join("host_ed25519").display(),
            authorized = d.join("authorized_keys").display(),
            pid = d.join("sshd.pid").display(),
        );
        fs::write(self.config_path(), config).expect("write sshd_config");
        let host_pub = fs::read_to_string(d.join("host_ed25519.pub")).expect("host key");
        let mut fields = host_pub.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        fs::write(
            self.known_hosts(),
            format!("[127.0.0.1]:{} {kind} {key}\n", self.port),
        )
        .expect("write known_hosts");
        let check = Command::new(sshd_path())
            .arg("-t")
            .arg("-f")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .output()
            .expect("run sshd -t");
        assert!(
            check.status.success(),
            "sshd -t rejects the config of host {}: {}",
            self.name,
            String::from_utf8_lossy(&check.stderr)
        );
    }

    /// Starts sshd and waits until it listens on our port (its own socket, not a process
    /// that took the port meanwhile) and greets a connection.
    fn spawn_and_wait(&mut self) -> Result<(), Launch> {
        let log = File::create(self.log_path()).expect("sshd log");
        let child = Command::new(sshd_path())
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(self.config_path())
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sshd");
        let pid = child.id();
        self.child = Some(child);
        self.live = true;
        let deadline = Instant::now() + READY_PATIENCE;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                // Nothing can be connected to an sshd that never listened: the port is not ours.
                self.child = None;
                self.live = false;
                let log = format!("sshd exited ({status}):\n{}", self.log_text());
                return Err(if log.contains("Address already in use") {
                    Launch::PortTaken(log)
                } else {
                    Launch::Failed(log)
                });
            }
            let inodes = port_socket_inodes(self.port);
            if !inodes.is_empty() && holds_any_socket(pid, &inodes) && self.greets() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(Launch::Failed(format!(
                    "not listening on 127.0.0.1:{} after {READY_PATIENCE:?}:\n{}",
                    self.port,
                    self.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether a connection to the port gets an SSH banner.
    fn greets(&self) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut banner = [0u8; 4];
        stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log_text();
        if log.is_empty() {
            String::new()
        } else {
            format!("\nsshd log of host {}:\n{log}", self.name)
        }
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Launch {
    PortTaken(String),
    Failed(String),
}

/// A tmux server on the test host, on a socket no other test (nor the user) uses, started
/// with `-f /dev/null`. The host is this machine, so Drop kills the server locally, by the
/// socket's path (`/tmp/tmux-UID/NAME`: sessions from sshd get no `TMUX_TMPDIR`), which also
/// works while the host is stopped.
pub struct RemoteTmux {
    pub socket: String,
}

impl RemoteTmux {
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        RemoteTmux {
            socket: format!(
                "tsup-ssh-{}-{}-{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    /// `tmux -u -L SOCKET -f /dev/null ARGS`, to run on the host.
    pub fn argv<'a>(&'a self, tmux_args: &[&'a str]) -> Vec<&'a str> {
        let mut words = vec!["tmux", "-u", "-L", &self.socket, "-f", "/dev/null"];
        words.extend_from_slice(tmux_args);
        words
    }

    /// Where the server's socket is on the host (this machine).
    pub fn socket_path(&self) -> PathBuf {
        PathBuf::from(format!("/tmp/tmux-{}/{}", getuid().as_raw(), self.socket))
    }
}

impl Default for RemoteTmux {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for RemoteTmux {
    fn drop(&mut self) {
        let path = self.socket_path();
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&path)
            .args(["-f", "/dev/null", "kill-server"])
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_file(path);
    }
}

/// The words as one command line for a POSIX shell: each in single quotes, `'` as `'\''`.
pub fn shell_quote(argv: &[&str]) -> String {
    argv.iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn current_user() -> String {
    if getuid().is_root() {
        return "root".into();
    }
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// sshd running as root needs its privilege separation directory (built in: /run/sshd),
/// which a container without a system sshd lacks.
fn ensure_privsep_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .expect("create /run/sshd");
    }
    // sshd refuses a privsep dir writable by group or others.
    let mode = fs::metadata(dir)
        .expect("stat /run/sshd")
        .permissions()
        .mode();
    if mode & 0o022 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).expect("chmod /run/sshd");
    }
}

fn keygen(path: &Path, comment: &str) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port nobody listens on right now: bound to 127.0.0.1:0, then closed.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn signal(pid: u32, sig: Signal) {
    if let Some(pid) = Pid::from_raw(pid as i32) {
        let _ = kill_process(pid, sig);
    }
}

struct Proc {
    pid: u32,
    ppid: u32,
    state: char,
    comm: String,
}

/// Every process, from /proc/PID/stat.
fn process_table() -> Vec<Proc> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `PID (COMM) STATE PPID ...`; COMM may hold spaces and parentheses.
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let comm = stat.get(open + 1..close)?.to_owned();
            let mut rest = stat.get(close + 1..)?.split_whitespace();
            let state = rest.next()?.chars().next()?;
            let parent = rest.next()?.parse().ok()?;
            Some(Proc {
                pid,
                ppid: parent,
                state,
                comm,
            })
        })
        .collect()
}

/// The inodes of the IPv4 TCP sockets whose local end is 127.0.0.1:PORT (the listener and
/// the server side of every connection), from /proc/net/tcp.
fn port_socket_inodes(port: u16) -> BTreeSet<u64> {
    let local = format!("0100007F:{port:04X}");
    fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.get(1) != Some(&local.as_str()) {
                return None;
            }
            f.get(9)?.parse().ok().filter(|&inode| inode != 0)
        })
        .collect()
}

fn holds_any_socket(pid: u32, inodes: &BTreeSet<u64>) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|fd| {
        fs::read_link(fd.path()).ok().is_some_and(|target| {
            target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
                .is_some_and(|inode: u64| inodes.contains(&inode))
        })
    })
}
