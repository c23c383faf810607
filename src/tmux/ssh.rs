//! Another machine's tmux server, reached with `ssh` (DESIGN.md §15): the options of the one
//! multiplexed connection per host, and the argv of a tmux call turned into the one command
//! line the remote shell reads.
//!
//! ssh joins everything after the destination with spaces and hands it to the remote user's
//! shell, which splits it again: every element is single-quoted here, so a session name,
//! a path or a command with spaces, `;`, `$`, quotes or newlines arrives exactly as it was.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How long ssh may take to connect to a host.
pub const CONNECT_TIMEOUT_S: u32 = 5;

/// How long the shared connection stays up after its last call.
pub const CONTROL_PERSIST_S: u32 = 300;

/// The way to one host: the ssh program and everything before the remote command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshRoute {
    /// The host's name in the config (for messages).
    pub host: String,
    program: PathBuf,
    /// Options, then `--` and the destination.
    args: Vec<OsString>,
    /// Where the supervisor's own options start in `args` (the operator's come first).
    own_from: usize,
}

/// What the config says of a host, for [`SshRoute::new`].
#[derive(Debug, Clone, Copy)]
pub struct SshTarget<'a> {
    pub host: &'a str,
    pub destination: &'a str,
    pub port: Option<u16>,
    pub identity_file: Option<&'a Path>,
    /// The operator's options, given first: ssh keeps the first value of an option, so
    /// theirs win over the supervisor's defaults.
    pub options: &'a [String],
}

impl SshRoute {
    /// The route to `target`, its control socket in `state_dir`: `ssh-HASH`, the hash of
    /// everything that says where the connection goes, so a host whose destination changed
    /// never reuses the old connection, and short: ssh first binds the path plus 17
    /// characters, and a Unix socket's path has at most 107 bytes, so the whole path may have
    /// 90 (a state dir of up to 69 bytes). Without a state dir to trust (`None`: missing,
    /// or others may write there, where they could put a socket that answers for the host)
    /// every call connects on its own (`ControlPath=none`).
    pub fn new(target: SshTarget<'_>, state_dir: Option<&Path>) -> Self {
        let mut args: Vec<OsString> = target.options.iter().map(OsString::from).collect();
        let own_from = args.len();
        let mut control_path = OsString::from("ControlPath=");
        match state_dir {
            Some(dir) => control_path.push(dir.join(control_name(&target))),
            None => control_path.push("none"),
        }
        for o in [
            OsString::from("BatchMode=yes"),
            format!("ConnectTimeout={CONNECT_TIMEOUT_S}").into(),
            format!("ControlPersist={CONTROL_PERSIST_S}").into(),
            control_path,
            // A link that drops silently is found within about 10 s.
            "ServerAliveInterval=5".into(),
            "ServerAliveCountMax=2".into(),
        ] {
            args.push("-o".into());
            args.push(o);
        }
        if let Some(port) = target.port {
            args.push("-p".into());
            args.push(port.to_string().into());
        }
        if let Some(key) = target.identity_file {
            args.push("-i".into());
            args.push(key.as_os_str().to_owned());
        }
        args.push("--".into());
        args.push(target.destination.into());
        SshRoute {
            host: target.host.to_string(),
            program: PathBuf::from("ssh"),
            args,
            own_from,
        }
    }

    /// Uses another ssh program (tests).
    #[must_use]
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// `ssh -T|-t OPTIONS -- DEST 'ARG' 'ARG' …`: `remote` run by the remote shell exactly
    /// as given; `tty` for an interactive attach. Only a `master` call (the poll's
    /// `list-panes`) may start the shared connection: the process that does stays for
    /// [`CONTROL_PERSIST_S`] with its command line in `ps`, so that line must hold no secret
    /// (another call's `-e KEY=VALUE` might). The others use it when it is up, and connect on
    /// their own when it is not.
    pub fn command(&self, remote: &[OsString], tty: bool, master: bool) -> Command {
        let mut command = Command::new(&self.program);
        command.arg(if tty { "-t" } else { "-T" });
        command.args(&self.args[..self.own_from]);
        command.arg("-o").arg(if master {
            "ControlMaster=auto"
        } else {
            "ControlMaster=no"
        });
        command.args(&self.args[self.own_from..]);
        command.arg(remote_line(remote));
        command
    }
}

/// `ssh-0123456789abcdef`: a hash of the host's destination, port, identity and options
/// (std's hasher with fixed keys: the same route gives the same name).
fn control_name(target: &SshTarget<'_>) -> String {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::hash::DefaultHasher::new();
    (
        target.destination,
        target.port,
        target.identity_file,
        target.options,
    )
        .hash(&mut h);
    format!("ssh-{:016x}", h.finish())
}

/// The argv as one line for the remote user's shell, read alike by sh, dash, bash, zsh and
/// fish: every element in single quotes, even a plain word (an alias in the remote user's rc
/// file is not expanded for a quoted word), except `'` and `\`, each written outside them
/// backslashed (`\'`, `\\`: fish reads both as escapes even inside single quotes). csh and
/// tcsh are not supported, nor zsh's `CSH_JUNKIE_QUOTES` (a newline inside quotes).
pub fn remote_line(argv: &[OsString]) -> OsString {
    let mut line = Vec::new();
    for (i, arg) in argv.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        quote_into(arg, &mut line);
    }
    OsString::from_vec(line)
}

fn quote_into(arg: &OsStr, out: &mut Vec<u8>) {
    let bytes = arg.as_bytes();
    if bytes.is_empty() {
        out.extend_from_slice(b"''");
        return;
    }
    // Runs of other bytes in single quotes (never an empty pair: zsh's RC_QUOTES reads `''`
    // inside quotes as a quote), each `'` and `\` between them, backslashed.
    let mut quoted = false;
    for &b in bytes {
        if matches!(b, b'\'' | b'\\') {
            if quoted {
                out.push(b'\'');
                quoted = false;
            }
            out.push(b'\\');
            out.push(b);
        } else {
            if !quoted {
                out.push(b'\'');
                quoted = true;
            }
            out.push(b);
        }
    }
    if quoted {
        out.push(b'\'');
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn line(args: &[&str]) -> String {
        let words: Vec<OsString> = args.iter().map(OsString::from).collect();
        remote_line(&words).into_string().unwrap()
    }

    /// What `SHELL -c` makes of the line: the arguments as printf got them; `None` when that
    /// shell is not installed here.
    fn through(shell: &str, args: &[&str]) -> Option<Vec<String>> {
        let mut words: Vec<OsString> = vec!["/usr/bin/printf".into(), "%s\\0".into()];
        words.extend(args.iter().map(OsString::from));
        let out = Command::new(shell)
            .arg("-c")
            .arg(remote_line(&words))
            .env("HOME", "/nonexistent")
            .output()
            .ok()?;
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        Some(text.split_terminator('\0').map(str::to_string).collect())
    }

    #[test]
    fn plain_words_stay_and_the_rest_is_quoted() {
        assert_eq!(
            line(&["tmux", "-u", "-L", "agents", "/usr/bin/x"]),
            "'tmux' '-u' '-L' 'agents' '/usr/bin/x'"
        );
        assert_eq!(line(&["a b", ""]), "'a b' ''");
        assert_eq!(line(&["it's"]), "'it'\\''s'");
        assert_eq!(line(&["a\\b'"]), "'a'\\\\'b'\\'");
        assert_eq!(line(&["''"]), "\\'\\'");
        assert_eq!(line(&["=ccl-auto-11:", "%3"]), "'=ccl-auto-11:' '%3'");
        assert_eq!(line(&["$3"]), "'$3'");
    }

    #[test]
    fn every_hostile_argument_arrives_exactly() {
        let hostile = [
            "a b",
            "x; rm -rf /tmp/nothing",
            "$(touch /tmp/never)",
            "`id`",
            "$HOME",
            "it's \"quoted\"",
            "'",
            "''",
            "back\\slash",
            "line\nbreak",
            "tab\there",
            "*",
            "~",
            "#{pane_id}",
            "=ccl-auto-11:",
            "",
            "-n",
            "ünïcödé",
            "a\\",
            "\\'",
            "x\\';touch /tmp/never;#",
            "=ls",
            "%self",
            "~root",
            "!!",
            "{a,b}",
            "[ab]*",
        ];
        // sh is everywhere; the others where installed (CI may have only sh and bash).
        assert_eq!(through("sh", &hostile).unwrap(), hostile);
        for shell in ["dash", "bash", "zsh", "fish"] {
            if let Some(got) = through(shell, &hostile) {
                assert_eq!(got, hostile, "{shell}");
            }
        }
    }

    #[test]
    fn the_operators_options_come_first_and_the_destination_last() {
        let route = SshRoute::new(
            SshTarget {
                host: "gpu1",
                destination: "ops@gpu1.example",
                port: Some(2222),
                identity_file: Some(Path::new("/k/id")),
                options: &["-o".into(), "ControlPersist=10".into()],
            },
            Some(Path::new("/state")),
        );
        let cmd = route.command(&["tmux".into(), "-V".into()], false, true);
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&args[..3], ["-T", "-o", "ControlPersist=10"]);
        let control = args.iter().find(|a| a.starts_with("ControlPath=")).unwrap();
        assert!(control.starts_with("ControlPath=/state/ssh-"), "{control}");
        assert_eq!(control.len(), "ControlPath=/state/ssh-".len() + 16);
        assert!(args.contains(&"BatchMode=yes".to_string()));
        assert!(args.contains(&"ControlMaster=auto".to_string()));
        let op = route.command(&[], false, false);
        assert!(op.get_args().any(|a| a == "ControlMaster=no"));
        let n = args.len();
        assert_eq!(&args[n - 3..], ["--", "ops@gpu1.example", "'tmux' '-V'"]);
        let p = args.iter().position(|a| a == "-p").unwrap();
        assert_eq!(args[p + 1], "2222");
        let tty = route.command(&[], true, false);
        let alone = SshRoute::new(
            SshTarget {
                host: "gpu1",
                destination: "gpu1",
                port: None,
                identity_file: None,
                options: &[],
            },
            None,
        );
        let args: Vec<String> = alone
            .command(&[], false, true)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.contains(&"ControlPath=none".to_string()), "{args:?}");
        assert_eq!(tty.get_args().next().unwrap(), "-t");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Any argument without a NUL (which no argv can hold) arrives as it was, in every
        /// shell installed here.
        #[test]
        fn any_argument_arrives_exactly(args in proptest::collection::vec("[^\\x00]{0,12}", 1..4)) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            for shell in ["sh", "dash", "bash", "zsh", "fish"] {
                if let Some(got) = through(shell, &args) {
                    proptest::prop_assert_eq!(&got, &args, "{}", shell);
                }
            }
        }
    }
}
