//! The `agent:` of a pool or dedicated session: which agent its slots run, the command it
//! defaults to, and the flags the supervisor passes itself (so a `command` may not).

use super::AgentKind;
use super::checker::Checker;

/// Flags the supervisor sets on a Claude Code slot's command line: the pinned session id,
/// its resume, and the hooks file. `-r` and `-c` are the short forms of `--resume` and
/// `--continue`.
const CLAUDE_OWN_FLAGS: &[&str] = &[
    "--session-id",
    "--resume",
    "-r",
    "--continue",
    "-c",
    "--settings",
    "--fork-session",
];

/// Reads `agent` at `at` and resolves `command` with it: `agent: claude` defaults an empty
/// command to `["claude"]` and refuses one that already passes a flag the supervisor sets.
pub(super) fn agent_and_command(
    at: &str,
    what: &str,
    agent: Option<&serde_yaml::Value>,
    command: Option<Vec<String>>,
    ck: &mut Checker<'_>,
) -> (Option<AgentKind>, Vec<String>) {
    let path = format!("{at}.agent");
    let kind = match agent {
        None => None,
        Some(v) if v.is_null() => None,
        Some(v) => match v.as_str() {
            Some("claude") => Some(AgentKind::Claude),
            Some(other) => {
                ck.at(
                    &path,
                    format!("{what}: `{}` is not an agent this supervisor knows", other.escape_debug()),
                    Some("the one agent known is `claude` (Claude Code); leave `agent` out for any other program"),
                );
                None
            }
            None => {
                ck.at(
                    &path,
                    format!("{what}: `agent` must be a word"),
                    Some("agent: claude"),
                );
                None
            }
        },
    };
    let mut command = command.unwrap_or_default();
    if kind == Some(AgentKind::Claude) {
        if command.is_empty() {
            command = vec!["claude".to_string()];
        }
        for (i, arg) in command.iter().enumerate().skip(1) {
            let flag = arg.split_once('=').map_or(arg.as_str(), |(f, _)| f);
            if CLAUDE_OWN_FLAGS.contains(&flag) {
                ck.at(
                    &format!("{at}.command[{i}]"),
                    format!(
                        "{what}: `command` passes `{flag}`, which the supervisor sets itself for `agent: claude`"
                    ),
                    Some(
                        "remove it: each slot gets --session-id (a fresh start) or --resume (after a crash) and --settings (its hooks) from the supervisor",
                    ),
                );
            }
        }
    }
    (kind, command)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::config::{AgentKind, Config};

    fn parse(pool: &str) -> Result<Config, crate::config::ConfigError> {
        let yaml = format!(
            "pools:\n  - {{name: a, prefix: \"cc-\", max: 2, restart: always, {pool}}}\nsessions:\n  - {{name: solo, restart: always, agent: claude}}\n"
        );
        Config::parse_with_home(&yaml, "t.yaml", std::path::Path::new("/h"))
    }

    #[test]
    fn agent_claude_defaults_the_command_and_marks_the_slots() {
        let cfg = parse("agent: claude").unwrap();
        assert_eq!(cfg.pools[0].agent, Some(AgentKind::Claude));
        assert_eq!(cfg.pools[0].command, vec!["claude".to_string()]);
        assert_eq!(cfg.sessions[0].command, vec!["claude".to_string()]);
        let own = parse("agent: claude, command: [/opt/claude, --model, opus]").unwrap();
        assert_eq!(own.pools[0].command[0], "/opt/claude");
        assert_eq!(parse("command: [sh]").unwrap().pools[0].agent, None);
    }

    #[test]
    fn a_command_may_not_pass_the_flags_the_supervisor_sets() {
        for flag in [
            "--resume",
            "--session-id=x",
            "-c",
            "--settings",
            "--continue",
        ] {
            let e = parse(&format!("agent: claude, command: [claude, \"{flag}\"]")).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("which the supervisor sets itself"),
                "{flag}: {text}"
            );
            assert!(text.contains("t.yaml:2"), "{flag}: {text}");
        }
        // Without `agent: claude` the command is the operator's business.
        assert!(parse("command: [claude, --resume]").is_ok());
    }

    #[test]
    fn an_unknown_agent_is_named() {
        let e = parse("agent: codex").unwrap_err().to_string();
        assert!(e.contains("`codex` is not an agent"), "{e}");
    }
}
