//! Building tmux argv: exact targets and their validation (with the one session-name rule,
//! which the config uses too), argv elements with the escaping
//! tmux needs (`;` at the end, `#` in formats), the `-c`/`-e`/command part of a launch, and
//! the argv as shown in logs (secrets redacted).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::{Launch, TmuxError};

/// Exact targets only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A session by exact name, rendered `=NAME:`.
    Name(String),
    /// A session id, `$3`.
    Session(String),
    /// A pane id, `%7`.
    Pane(String),
}

impl Target {
    /// The `-t` argument: `=NAME:`, `$3` or `%7`.
    pub fn render(&self) -> String {
        match self {
            Target::Name(name) => format!("={name}:"),
            Target::Session(id) | Target::Pane(id) => id.clone(),
        }
    }

    /// Refuse anything that tmux could resolve by prefix or pattern instead of exactly.
    pub(super) fn validate(&self) -> Result<(), TmuxError> {
        let ok = match self {
            Target::Name(name) => validate_name(name).is_ok(),
            Target::Session(id) => is_id(id, '$'),
            Target::Pane(id) => is_id(id, '%'),
        };
        if ok {
            Ok(())
        } else {
            Err(TmuxError::InvalidTarget(self.render()))
        }
    }
}

pub(super) fn is_id(s: &str, sigil: char) -> bool {
    s.strip_prefix(sigil)
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Why a name cannot be the name of a supervised session (DESIGN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    /// `.` or `:`: tmux silently rewrites it to `_`.
    Rewritten(char),
    /// `#`: tmux expands it as a format.
    Format,
    /// `;`: tmux reads it as a command separator.
    Separator,
    /// A space, or another whitespace character (a tab, a newline).
    Whitespace(char),
    /// A control character that is not whitespace: tmux escapes it.
    Control(char),
}

impl NameProblem {
    /// The rule in one line, as the hint under a config error.
    pub const RULE: &'static str =
        "tmux session names may not contain . : # ; whitespace or control characters";

    /// tmux would not keep the name as given (it rewrites `.` and `:` and escapes control
    /// characters, tab and newline included), or there is no name: `=NAME:` could then never
    /// find that session exactly.
    fn defeats_exact_target(self) -> bool {
        match self {
            NameProblem::Empty | NameProblem::Rewritten(_) | NameProblem::Control(_) => true,
            NameProblem::Whitespace(c) => c.is_control(),
            NameProblem::Format | NameProblem::Separator => false,
        }
    }
}

impl std::fmt::Display for NameProblem {
    /// `is empty`, or `contains `C`: why`, to follow the name in a message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (c, why) = match *self {
            NameProblem::Empty => return f.write_str("is empty"),
            NameProblem::Rewritten(c) => (c, "tmux rewrites it"),
            NameProblem::Format => ('#', "tmux expands it as a format"),
            NameProblem::Separator => (';', "tmux reads it as a command separator"),
            NameProblem::Whitespace(c) => (c, "whitespace is not allowed"),
            NameProblem::Control(c) => (c, "control characters are not allowed"),
        };
        write!(f, "contains `{}`: {why}", c.escape_debug())
    }
}

/// Every problem of `name`, in order: the one place session-name characters are judged.
fn name_problems(name: &str) -> impl Iterator<Item = NameProblem> + '_ {
    let empty = name.is_empty().then_some(NameProblem::Empty);
    empty
        .into_iter()
        .chain(name.chars().filter_map(|c| match c {
            '.' | ':' => Some(NameProblem::Rewritten(c)),
            '#' => Some(NameProblem::Format),
            ';' => Some(NameProblem::Separator),
            c if c.is_whitespace() => Some(NameProblem::Whitespace(c)),
            c if c.is_control() => Some(NameProblem::Control(c)),
            _ => None,
        }))
}

/// The first reason `name` cannot be a supervised session name, if any: the rule the config
/// is checked against (not empty, no `.` `:` `#` `;` whitespace or control characters).
pub fn check_session_name(name: &str) -> Result<(), NameProblem> {
    name_problems(name).next().map_or(Ok(()), Err)
}

/// The part of [`check_session_name`] that tmux itself needs: a name it keeps as given, so
/// that `=NAME:` finds exactly it. `#`, `;` and whitespace pass (a session the operator named
/// `my notes#1` can still be killed or switched to; `-s` doubles the `#`, a trailing `;` is
/// escaped), the rest is refused up front.
pub(super) fn validate_name(name: &str) -> Result<(), TmuxError> {
    if name_problems(name).any(NameProblem::defeats_exact_target) {
        Err(TmuxError::InvalidName(name.to_owned()))
    } else {
        Ok(())
    }
}

/// One argv element after the base arguments.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    /// A normal argument: a trailing `;` is escaped so tmux does not take it as a separator.
    Plain(OsString),
    /// A `-e KEY=VALUE`: like `Plain`, but only `KEY=…` is shown in error messages and logs.
    Env { key: String, value: String },
    /// A secret on its own (a `set-environment` value): shown as `…`.
    Secret(OsString),
    /// The `;` that separates two tmux commands in one invocation.
    Separator,
}

impl Arg {
    pub(super) fn plain(s: impl Into<OsString>) -> Self {
        Arg::Plain(s.into())
    }

    pub(super) fn to_os_string(&self) -> OsString {
        match self {
            Arg::Plain(s) | Arg::Secret(s) => escape_trailing_semicolon(s),
            Arg::Env { key, value } => {
                escape_trailing_semicolon(OsStr::new(&format!("{key}={value}")))
            }
            Arg::Separator => OsString::from(";"),
        }
    }
}

/// tmux 3.3a splits commands at an argv element ending in `;` unless it ends in `\;`, in which
/// case it drops the backslash. So `a;` → `a\;` and `a\;` → `a\\;` both arrive unchanged.
fn escape_trailing_semicolon(s: &OsStr) -> OsString {
    let bytes = s.as_bytes();
    match bytes.split_last() {
        Some((b';', head)) => {
            let mut out = head.to_vec();
            out.extend_from_slice(b"\\;");
            OsString::from_vec(out)
        }
        _ => s.to_owned(),
    }
}

/// `-s` and `-c` are format-expanded by tmux: `#` must be doubled to arrive literally.
pub(super) fn double_hashes(s: &OsStr) -> OsString {
    let mut out = Vec::with_capacity(s.len());
    for &b in s.as_bytes() {
        out.push(b);
        if b == b'#' {
            out.push(b'#');
        }
    }
    OsString::from_vec(out)
}

/// For error messages and logs: arguments joined by spaces, `-e` values redacted.
pub(super) fn render_args(args: &[Arg]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|a| match a {
            Arg::Plain(s) => s.to_string_lossy().into_owned(),
            Arg::Env { key, .. } => format!("{key}=…"),
            Arg::Secret(_) => "…".to_owned(),
            Arg::Separator => ";".to_owned(),
        })
        .collect();
    let mut text = parts.join(" ");
    if text.len() > 300 {
        let mut cut = 300;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// `-c DIR [-e K=V …] [-- env CMD ARGS…]`, shared by new-session and respawn-pane.
///
/// An empty workdir means no `-c` (tmux's default). A workdir that is not a directory is an
/// error: tmux would silently start the pane somewhere else. `here`: the server is on this
/// machine, so the directory can be looked at (another host's is that host's to have).
pub(super) fn launch_args(launch: &Launch, here: bool) -> Result<Vec<Arg>, TmuxError> {
    let mut args = Vec::new();
    if !launch.workdir.as_os_str().is_empty() {
        if here && !launch.workdir.is_dir() {
            return Err(TmuxError::NoWorkdir(launch.workdir.clone()));
        }
        args.push(Arg::plain("-c"));
        args.push(Arg::Plain(double_hashes(launch.workdir.as_os_str())));
    }
    for (key, value) in &launch.env {
        args.push(Arg::plain("-e"));
        args.push(Arg::Env {
            key: key.clone(),
            value: value.clone(),
        });
    }
    if !launch.command.is_empty() {
        // With `env` in front even a one-word command has two argv elements, so tmux execs it
        // directly instead of through `sh -c`.
        args.push(Arg::plain("--"));
        args.push(Arg::plain("env"));
        args.extend(launch.command.iter().map(|a| Arg::plain(a.as_str())));
    }
    Ok(args)
}

pub(super) fn capture_args(pane: &str, lines: u32) -> Vec<Arg> {
    vec![
        Arg::plain("capture-pane"),
        Arg::plain("-p"),
        Arg::plain("-J"),
        Arg::plain("-t"),
        Arg::plain(pane),
        Arg::plain("-S"),
        Arg::plain(format!("-{lines}")),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn secrets_never_show_in_logs_even_with_an_equals_sign() {
        let args = [
            Arg::Env {
                key: "TOKEN".into(),
                value: "c2VjcmV0=".into(),
            },
            Arg::Separator,
            Arg::plain("set-environment"),
            Arg::plain("TOKEN"),
            Arg::Secret("c2VjcmV0=".into()),
        ];
        let text = render_args(&args);
        assert_eq!(text, "TOKEN=… ; set-environment TOKEN …");
        assert!(!text.contains("c2Vj"));
        assert_eq!(args[0].to_os_string(), "TOKEN=c2VjcmV0=");
    }

    #[test]
    fn targets_render_exactly() {
        assert_eq!(Target::Name("ccl-auto-1".into()).render(), "=ccl-auto-1:");
        assert_eq!(Target::Session("$3".into()).render(), "$3");
        assert_eq!(Target::Pane("%7".into()).render(), "%7");
        assert!(Target::Session("ccl".into()).validate().is_err());
        assert!(Target::Pane("$3".into()).validate().is_err());
        assert!(Target::Name("a.b".into()).validate().is_err());
        assert!(Target::Name("a#b c".into()).validate().is_ok());
    }

    #[test]
    fn session_names_and_why_not() {
        let why = |name: &str| check_session_name(name).unwrap_err().to_string();
        assert!(check_session_name("ccl-auto-11").is_ok());
        assert_eq!(why(""), "is empty");
        assert_eq!(why("a.b"), "contains `.`: tmux rewrites it");
        assert_eq!(why("a:b"), "contains `:`: tmux rewrites it");
        assert_eq!(why("a#b"), "contains `#`: tmux expands it as a format");
        assert_eq!(
            why("a;b"),
            "contains `;`: tmux reads it as a command separator"
        );
        assert_eq!(why("a b"), "contains ` `: whitespace is not allowed");
        assert_eq!(why("a\tb"), "contains `\\t`: whitespace is not allowed");
        assert_eq!(
            why("a\u{7}b"),
            "contains `\\u{7}`: control characters are not allowed"
        );
        // The first problem is the one reported.
        assert_eq!(why("a b.c"), "contains ` `: whitespace is not allowed");
    }

    proptest! {
        /// The tmux check refuses exactly what it refused before it shared the rule, and
        /// never a name the config rule lets through.
        #[test]
        fn exact_names_are_the_old_rule_and_looser_than_the_config(name in any::<String>()) {
            let old = name.is_empty()
                || name.chars().any(|c| c == '.' || c == ':' || c.is_control());
            prop_assert_eq!(validate_name(&name).is_err(), old);
            if validate_name(&name).is_err() {
                prop_assert!(check_session_name(&name).is_err());
            }
        }
    }

    #[test]
    fn escaping() {
        let esc = |s: &str| escape_trailing_semicolon(OsStr::new(s));
        assert_eq!(esc("a;"), "a\\;");
        assert_eq!(esc(";"), "\\;");
        assert_eq!(esc("a\\;"), "a\\\\;");
        assert_eq!(esc("a;b"), "a;b");
        assert_eq!(esc(""), "");
        assert_eq!(
            double_hashes(OsStr::new("/tmp/we#ird ##")),
            "/tmp/we##ird ####"
        );
    }

    #[test]
    fn launch_args_and_redaction() {
        let launch = Launch {
            env: BTreeMap::from([("TOKEN".into(), "secret".into())]),
            workdir: "/".into(),
            command: vec!["sh".into(), "-c".into(), "x;".into()],
            ..Launch::default()
        };
        let text = render_args(&launch_args(&launch, true).unwrap());
        assert_eq!(text, "-c / -e TOKEN=… -- env sh -c x;");
        let nowhere = Launch {
            workdir: "/no/such/dir".into(),
            ..Launch::default()
        };
        assert!(matches!(
            launch_args(&nowhere, true),
            Err(TmuxError::NoWorkdir(_))
        ));
        assert!(launch_args(&Launch::default(), true).unwrap().is_empty());
    }
}
