//! Collecting the problems of a config, each located by its YAML path, and reading single
//! values: durations with a unit, whole numbers, restart policies, tmux and environment names.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::positions::Positions;
use super::{Problem, Restart};
use crate::tmux::{NameProblem, check_session_name};

/// Collects problems, locating each by its YAML path.
pub(super) struct Checker<'a> {
    pub(super) pos: &'a Positions,
    pub(super) problems: Vec<Problem>,
    /// Paths of required keys that an unknown key probably meant to write.
    pub(super) misspelt: HashSet<String>,
}

impl Checker<'_> {
    /// Reports a missing required key, unless a misspelling of it was already reported.
    pub(super) fn missing(&mut self, key: &str, at: &str, message: String, hint: &str) {
        if !self.misspelt.contains(key) {
            self.at(at, message, Some(hint));
        }
    }

    pub(super) fn at(&mut self, path: &str, message: impl Into<String>, hint: Option<&str>) {
        let (line, column) = self.locate(path);
        self.problems.push(Problem {
            line,
            column,
            message: message.into(),
            hint: hint.map(str::to_string),
        });
    }

    /// The position of `path`, else of its nearest ancestor that has one.
    fn locate(&self, path: &str) -> (Option<usize>, Option<usize>) {
        let mut p = path;
        loop {
            if let Some(&(l, c)) = self.pos.at.get(p) {
                return (Some(l), Some(c));
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return (None, None),
            }
        }
    }

    pub(super) fn duration(
        &mut self,
        path: &str,
        v: Option<&serde_yaml::Value>,
        default: Duration,
    ) -> Duration {
        let Some(v) = v else { return default };
        let text = match v {
            serde_yaml::Value::String(s) => s.clone(),
            serde_yaml::Value::Null => return default,
            other => {
                let shown = serde_yaml::to_string(other).unwrap_or_default();
                self.at(
                    path,
                    format!(
                        "`{path}` must be a duration with a unit, not `{}`",
                        shown.trim()
                    ),
                    Some("write it like 500ms, 2s, 5m or 1h"),
                );
                return default;
            }
        };
        match humantime::parse_duration(text.trim()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.at(
                    path,
                    format!("`{path}` must be longer than zero"),
                    Some("write it like 500ms, 2s, 5m or 1h"),
                );
                default
            }
            Err(e) => {
                self.at(
                    path,
                    format!("`{path}`: `{text}` is not a duration ({e})"),
                    Some("write it like 500ms, 2s, 5m or 1h"),
                );
                default
            }
        }
    }

    /// A whole number >= 0, or `None` when absent or wrong (then reported).
    pub(super) fn uint(&mut self, path: &str, v: Option<&serde_yaml::Value>) -> Option<u32> {
        let v = v?;
        if v.is_null() {
            return None;
        }
        if let Some(n) = v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            return Some(n);
        }
        let shown = serde_yaml::to_string(v).unwrap_or_default();
        self.at(
            path,
            format!("`{path}` must be a whole number, not `{}`", shown.trim()),
            Some("write a number such as 0, 10 or 11, without quotes"),
        );
        None
    }

    /// A restart policy; a missing one is reported as missing.
    pub(super) fn restart(
        &mut self,
        path: &str,
        what: &str,
        v: Option<&serde_yaml::Value>,
    ) -> Restart {
        let hint = Some("say it explicitly: restart: never | on-failure | always");
        match v.and_then(serde_yaml::Value::as_str) {
            Some("never") => Restart::Never,
            Some("on-failure") => Restart::OnFailure,
            Some("always") => Restart::Always,
            Some(other) => {
                self.at(
                    &format!("{path}.restart"),
                    format!("{what}: `{other}` is not a restart policy"),
                    hint,
                );
                Restart::Never
            }
            None if v.is_some_and(|v| !v.is_null()) => {
                self.at(
                    &format!("{path}.restart"),
                    format!("{what}: `restart` must be a word"),
                    hint,
                );
                Restart::Never
            }
            None => {
                if let Some(h) = hint {
                    self.missing(
                        &format!("{path}.restart"),
                        path,
                        format!("{what} has no `restart` policy"),
                        h,
                    );
                }
                Restart::Never
            }
        }
    }

    /// Checks that `name` can be a tmux session name exactly as written.
    pub(super) fn session_name(&mut self, path: &str, what: &str, name: &str) {
        if let Err(why) = check_session_name(name) {
            self.at(
                path,
                format!("{what} `{}` {why}", name.escape_debug()),
                Some(NameProblem::RULE),
            );
        }
    }

    /// Checks the names of a section's environment variables.
    pub(super) fn env_names(&mut self, at: &str, env: &BTreeMap<String, String>) {
        for k in env.keys() {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                self.at(
                    &format!("{at}.{k}"),
                    format!(
                        "environment variable name `{}` is not valid",
                        k.escape_debug()
                    ),
                    Some("a name may not be empty or contain `=`"),
                );
            }
        }
    }
}
