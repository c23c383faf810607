//! Defaults and the rules of a config: every problem collected, located by its YAML path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use super::positions::Positions;
use super::raw::RawConfig;
use super::{
    AgentConfig, BackoffConfig, Config, MAX_SLOTS_PER_POOL, PoolConfig, Problem, Restart,
    SessionConfig, default_state_dir, expand_home,
};
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
    fn missing(&mut self, key: &str, at: &str, message: String, hint: &str) {
        if !self.misspelt.contains(key) {
            self.at(at, message, Some(hint));
        }
    }

    fn at(&mut self, path: &str, message: impl Into<String>, hint: Option<&str>) {
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

    fn duration(
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
    fn uint(&mut self, path: &str, v: Option<&serde_yaml::Value>) -> Option<u32> {
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
    fn restart(&mut self, path: &str, what: &str, v: Option<&serde_yaml::Value>) -> Restart {
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
    fn session_name(&mut self, path: &str, what: &str, name: &str) {
        if let Err(why) = check_session_name(name) {
            self.at(
                path,
                format!("{what} `{}` {why}", name.escape_debug()),
                Some(NameProblem::RULE),
            );
        }
    }
}

fn strings(v: Option<Vec<String>>, default: &[&str]) -> Vec<String> {
    v.unwrap_or_else(|| default.iter().map(|s| (*s).to_string()).collect())
}

pub(super) fn resolve(raw: RawConfig, ck: &mut Checker<'_>, file: &str, home: &Path) -> Config {
    let tmux = raw.tmux.unwrap_or_default();
    let socket_name = tmux.socket_name.filter(|s| !s.is_empty());
    let socket_path = tmux.socket_path.filter(|s| !s.is_empty());
    if socket_name.is_some() && socket_path.is_some() {
        ck.at(
            "tmux.socket_path",
            "`tmux.socket_name` and `tmux.socket_path` are both set",
            Some("set at most one: socket_name is tmux -L, socket_path is tmux -S"),
        );
    }

    let poll_interval = ck.duration(
        "poll_interval",
        raw.poll_interval.as_ref(),
        Duration::from_secs(1),
    );
    let reconcile_interval = ck.duration(
        "reconcile_interval",
        raw.reconcile_interval.as_ref(),
        Duration::from_secs(5),
    );

    let rb = raw.backoff.unwrap_or_default();
    let backoff = BackoffConfig {
        initial: ck.duration(
            "backoff.initial",
            rb.initial.as_ref(),
            Duration::from_secs(2),
        ),
        max: ck.duration("backoff.max", rb.max.as_ref(), Duration::from_secs(300)),
        reset_after: ck.duration(
            "backoff.reset_after",
            rb.reset_after.as_ref(),
            Duration::from_secs(600),
        ),
        max_restarts: ck
            .uint("backoff.max_restarts", rb.max_restarts.as_ref())
            .unwrap_or(0),
    };
    if backoff.initial > backoff.max {
        ck.at(
            "backoff.initial",
            format!(
                "`backoff.initial` ({}) is longer than `backoff.max` ({})",
                humantime::format_duration(backoff.initial),
                humantime::format_duration(backoff.max)
            ),
            Some("the first delay cannot exceed the cap"),
        );
    }

    let ra = raw.agent.unwrap_or_default();
    let agent = AgentConfig {
        commands: strings(ra.commands, &["claude", "node"]),
        shells: strings(
            ra.shells,
            &["bash", "zsh", "sh", "fish", "dash", "ksh", "tcsh"],
        ),
        working_patterns: strings(
            ra.working_patterns,
            &["esc to interrupt", "ctrl+c to interrupt"],
        ),
        waiting_patterns: strings(ra.waiting_patterns, &["Do you want to", "[y/n]", "[Y/n]"]),
        busy_window: ck.duration(
            "agent.busy_window",
            ra.busy_window.as_ref(),
            Duration::from_secs(3),
        ),
    };
    for (key, list) in [
        ("working_patterns", &agent.working_patterns),
        ("waiting_patterns", &agent.waiting_patterns),
        ("commands", &agent.commands),
        ("shells", &agent.shells),
    ] {
        for (i, p) in list.iter().enumerate() {
            if p.is_empty() {
                ck.at(
                    &format!("agent.{key}[{i}]"),
                    format!("`agent.{key}` holds an empty string"),
                    Some("an empty pattern would match everything; remove it"),
                );
            }
        }
    }

    let mut pools = Vec::new();
    let mut pool_names: HashMap<String, usize> = HashMap::new();
    for (i, rp) in raw.pools.unwrap_or_default().into_iter().enumerate() {
        let at = format!("pools[{i}]");
        let name = rp.name.unwrap_or_default();
        if name.is_empty() {
            ck.missing(
                &format!("{at}.name"),
                &at,
                format!("pool {i} has no `name`"),
                "add `name: auto` or similar",
            );
        } else if let Some(first) = pool_names.insert(name.clone(), i) {
            ck.at(
                &format!("{at}.name"),
                format!("pool name `{name}` is used twice (pools {first} and {i})"),
                Some("give every pool its own name"),
            );
        }
        let prefix = rp.prefix.unwrap_or_default();
        if prefix.is_empty() {
            ck.missing(
                &format!("{at}.prefix"),
                &format!("{at}.prefix"),
                format!("pool `{name}` has no `prefix`"),
                "slots are named prefix + index, e.g. prefix: \"ccl-auto-\"",
            );
        } else {
            ck.session_name(
                &format!("{at}.prefix"),
                &format!("pool `{name}` prefix"),
                &prefix,
            );
        }
        let start_index = ck
            .uint(&format!("{at}.start_index"), rp.start_index.as_ref())
            .unwrap_or(0);
        let given_max = ck.uint(&format!("{at}.max"), rp.max.as_ref());
        let max = given_max.unwrap_or(0);
        let given_min = ck.uint(&format!("{at}.min"), rp.min.as_ref());
        if rp.max.is_none() {
            ck.missing(
                &format!("{at}.max"),
                &at,
                format!("pool `{name}` has no `max`"),
                "max is the number of slots watched: [start_index, start_index+max)",
            );
        } else if given_max.is_some() && max == 0 {
            ck.at(
                &format!("{at}.max"),
                format!("pool `{name}`: `max` must be at least 1"),
                Some("max is the number of slots watched: [start_index, start_index+max)"),
            );
        } else if given_max.is_some() && max > MAX_SLOTS_PER_POOL {
            ck.at(
                &format!("{at}.max"),
                format!("pool `{name}`: `max` {max} is more than {MAX_SLOTS_PER_POOL}"),
                None,
            );
        } else if start_index.checked_add(max).is_none() {
            ck.at(
                &format!("{at}.start_index"),
                format!("pool `{name}`: start_index + max overflows"),
                None,
            );
        }
        let min = given_min.unwrap_or(max);
        if min > max {
            ck.at(
                &format!("{at}.min"),
                format!("pool `{name}`: `min` ({min}) is greater than `max` ({max})"),
                Some("min slots are kept alive out of the max watched; min <= max"),
            );
        }
        let restart = ck.restart(&at, &format!("pool `{name}`"), rp.restart.as_ref());
        let env = rp.env.unwrap_or_default();
        check_env(ck, &format!("{at}.env"), &env);
        pools.push(PoolConfig {
            name,
            prefix,
            start_index,
            max: if max > MAX_SLOTS_PER_POOL { 0 } else { max },
            min: min.min(max),
            restart,
            workdir: expand_home(rp.workdir.as_deref().unwrap_or("~"), home),
            command: rp.command.unwrap_or_default(),
            env,
        });
    }

    let mut sessions = Vec::new();
    for (i, rs) in raw.sessions.unwrap_or_default().into_iter().enumerate() {
        let at = format!("sessions[{i}]");
        let name = rs.name.unwrap_or_default();
        ck.session_name(&format!("{at}.name"), "dedicated session name", &name);
        let restart = ck.restart(
            &at,
            &format!("dedicated session `{name}`"),
            rs.restart.as_ref(),
        );
        let env = rs.env.unwrap_or_default();
        check_env(ck, &format!("{at}.env"), &env);
        sessions.push(SessionConfig {
            name,
            restart,
            workdir: expand_home(rs.workdir.as_deref().unwrap_or("~"), home),
            command: rs.command.unwrap_or_default(),
            env,
        });
    }

    let cfg = Config {
        source: file.to_string(),
        socket_name,
        socket_path: socket_path.map(|p| expand_home(&p, home)),
        poll_interval,
        reconcile_interval,
        pools,
        sessions,
        backoff,
        agent,
        status_file: raw.status_file.map(|p| expand_home(&p, home)),
        state_dir: raw
            .state_dir
            .map_or_else(|| default_state_dir(home), |p| expand_home(&p, home)),
    };
    check_collisions(&cfg, ck);
    cfg
}

fn check_env(ck: &mut Checker<'_>, at: &str, env: &BTreeMap<String, String>) {
    for k in env.keys() {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            ck.at(
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

/// No two slots of the whole config may share a name.
fn check_collisions(cfg: &Config, ck: &mut Checker<'_>) {
    // Each slot name with the config entry (path, label) that defines it and the detail.
    let mut defs: Vec<(String, String, String, String)> = Vec::new();
    for (i, p) in cfg.pools.iter().enumerate() {
        for idx in p.start_index..p.start_index.saturating_add(p.max) {
            defs.push((
                format!("{}{idx}", p.prefix),
                format!("pools[{i}]"),
                format!("pool `{}`", p.name),
                format!("prefix `{}`, index {idx}", p.prefix),
            ));
        }
    }
    for (i, s) in cfg.sessions.iter().enumerate() {
        defs.push((
            s.name.clone(),
            format!("sessions[{i}].name"),
            format!("dedicated session `{}`", s.name),
            format!("sessions[{i}]"),
        ));
    }
    // First definition of each name; then every clash grouped by the pair of entries, so two
    // pools overlapping by a thousand slots give one problem, not a thousand.
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut clashes: Vec<((usize, usize), Vec<usize>)> = Vec::new();
    let entry = |d: &(String, String, String, String)| d.1.clone();
    for (k, d) in defs.iter().enumerate() {
        if d.0.is_empty() {
            continue;
        }
        match first.get(d.0.as_str()) {
            None => {
                first.insert(d.0.as_str(), k);
            }
            Some(&f) => {
                let key = (f, k);
                let pair = (entry(&defs[f]), entry(d));
                if let Some(c) = clashes
                    .iter_mut()
                    .find(|((a, b), _)| (entry(&defs[*a]), entry(&defs[*b])) == pair)
                {
                    c.1.push(k);
                } else {
                    clashes.push((key, vec![k]));
                }
            }
        }
    }
    for ((f, k), names) in clashes {
        let (a, b) = (&defs[f], &defs[k]);
        let hint = match (a.1.starts_with("sessions"), b.1.starts_with("sessions")) {
            (false, false) => "make the ranges disjoint: change a prefix, start_index or max",
            (true, true) => "give every dedicated session its own name",
            _ => {
                "rename the dedicated session, or change the pool's prefix, start_index \
                 or max so its range leaves this name out"
            }
        };
        let message = if names.len() == 1 {
            format!(
                "slot `{}` is defined twice: by {} ({}) and by {} ({})",
                b.0, a.2, a.3, b.2, b.3
            )
        } else {
            let shown: Vec<String> = names
                .iter()
                .take(5)
                .map(|&n| format!("`{}`", defs[n].0))
                .collect();
            let more = if names.len() > 5 {
                format!(" and {} more", names.len() - 5)
            } else {
                String::new()
            };
            format!(
                "{} slots are defined twice, by {} and by {}: {}{more}",
                names.len(),
                a.2,
                b.2,
                shown.join(", ")
            )
        };
        ck.at(&b.1, message, Some(hint));
    }
}
