//! The slots of a config: each pool (its name, prefix and index range) and each dedicated
//! session resolved and checked, and no slot name defined twice across them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::agents::agent_and_command;
use super::checker::Checker;
use super::hosts::host_of;
use super::raw::{RawPool, RawSession};
use super::{
    AgentKind, Config, HostConfig, MAX_SLOTS_PER_POOL, PoolConfig, SessionConfig, expand_home,
};

/// The hosts of the config, by name.
type Hosts = BTreeMap<String, HostConfig>;

/// Every pool, in the order written.
pub(super) fn pools(
    raw: Vec<RawPool>,
    ck: &mut Checker<'_>,
    home: &Path,
    hosts: &Hosts,
) -> Vec<PoolConfig> {
    // Pool name → the first pool that has it.
    let mut names: HashMap<String, usize> = HashMap::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, rp)| pool(i, rp, &mut names, ck, (home, hosts)))
        .collect()
}

fn pool(
    i: usize,
    rp: RawPool,
    names: &mut HashMap<String, usize>,
    ck: &mut Checker<'_>,
    (home, hosts): (&Path, &Hosts),
) -> PoolConfig {
    let RawPool {
        name,
        prefix,
        start_index,
        max,
        min,
        restart,
        workdir,
        command,
        env,
        agent,
        host,
    } = rp;
    let at = format!("pools[{i}]");
    let name = pool_name(i, &at, name.unwrap_or_default(), names, ck);
    let prefix = prefix.unwrap_or_default();
    check_prefix(&at, &name, &prefix, ck);
    let range = IndexRange::check(
        &at,
        &name,
        start_index.as_ref(),
        max.as_ref(),
        min.as_ref(),
        ck,
    );
    let restart = ck.restart(&at, &format!("pool `{name}`"), restart.as_ref());
    let env = env.unwrap_or_default();
    ck.env_names(&format!("{at}.env"), &env);
    let (agent, command) =
        agent_and_command(&at, &format!("pool `{name}`"), agent.as_ref(), command, ck);
    let host = placed(&at, &format!("pool `{name}`"), host, agent, hosts, ck);
    PoolConfig {
        name,
        prefix,
        start_index: range.start_index,
        max: range.max,
        min: range.min,
        restart,
        workdir: workdir_on(&at, host.as_deref(), workdir, home, ck),
        command,
        env,
        agent,
        host,
    }
}

/// A pool's or session's working directory: on this machine `~` by default and expanded; on
/// another host none by default (tmux starts panes where that server does) and an absolute
/// path as written (its `~` is not this machine's, and it cannot be looked at from here).
fn workdir_on(
    at: &str,
    host: Option<&str>,
    workdir: Option<String>,
    home: &Path,
    ck: &mut Checker<'_>,
) -> std::path::PathBuf {
    let Some(host) = host else {
        return expand_home(workdir.as_deref().unwrap_or("~"), home);
    };
    match workdir {
        None => std::path::PathBuf::new(),
        Some(w) if w.starts_with('/') => std::path::PathBuf::from(w),
        Some(w) => {
            ck.at(
                &format!("{at}.workdir"),
                format!("`workdir` `{}` must be an absolute path on host `{host}`", w.escape_debug()),
                Some("write the path as it is on that host, e.g. /home/ops/src; leave it out for the server's own directory"),
            );
            std::path::PathBuf::new()
        }
    }
}

/// The host a pool or session is on (`None`: this machine). A Claude Code slot runs here
/// only: its hooks, settings and transcripts are files of this machine's.
fn placed(
    at: &str,
    what: &str,
    host: Option<String>,
    agent: Option<AgentKind>,
    hosts: &Hosts,
    ck: &mut Checker<'_>,
) -> Option<String> {
    let host = host_of(at, what, host, hosts, ck)?;
    if agent == Some(AgentKind::Claude) {
        ck.at(
            &format!("{at}.host"),
            format!("{what}: `agent: claude` runs on this machine only, not on host `{host}`"),
            Some("its hooks, settings and transcripts are read here; on another host leave `agent` out (its panes are still read)"),
        );
    }
    Some(host)
}

/// A pool's name: required, and given to one pool only.
fn pool_name(
    i: usize,
    at: &str,
    name: String,
    names: &mut HashMap<String, usize>,
    ck: &mut Checker<'_>,
) -> String {
    if name.is_empty() {
        ck.missing(
            &format!("{at}.name"),
            at,
            format!("pool {i} has no `name`"),
            "add `name: auto` or similar",
        );
    } else if let Some(first) = names.insert(name.clone(), i) {
        ck.at(
            &format!("{at}.name"),
            format!("pool name `{name}` is used twice (pools {first} and {i})"),
            Some("give every pool its own name"),
        );
    }
    name
}

/// A pool's prefix: required, and a tmux session name by itself.
fn check_prefix(at: &str, name: &str, prefix: &str, ck: &mut Checker<'_>) {
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
            prefix,
        );
    }
}

/// The slots a pool watches, `[start_index, start_index + max)`, and keeps alive,
/// `[start_index, start_index + min)`.
struct IndexRange {
    start_index: u32,
    max: u32,
    min: u32,
}

impl IndexRange {
    /// Reads and checks `start_index`, `max` (required, at least 1, at most
    /// [`MAX_SLOTS_PER_POOL`]) and `min` (at most `max`, `max` when not given). A `max` past
    /// the limit watches nothing.
    fn check(
        at: &str,
        name: &str,
        start_index: Option<&serde_yaml::Value>,
        written_max: Option<&serde_yaml::Value>,
        min: Option<&serde_yaml::Value>,
        ck: &mut Checker<'_>,
    ) -> IndexRange {
        let start_index = ck
            .uint(&format!("{at}.start_index"), start_index)
            .unwrap_or(0);
        let given_max = ck.uint(&format!("{at}.max"), written_max);
        let max = given_max.unwrap_or(0);
        let given_min = ck.uint(&format!("{at}.min"), min);
        if written_max.is_none() {
            ck.missing(
                &format!("{at}.max"),
                at,
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
        IndexRange {
            start_index,
            max: if max > MAX_SLOTS_PER_POOL { 0 } else { max },
            min: min.min(max),
        }
    }
}

/// Every dedicated session, in the order written.
pub(super) fn sessions(
    raw: Vec<RawSession>,
    ck: &mut Checker<'_>,
    home: &Path,
    hosts: &Hosts,
) -> Vec<SessionConfig> {
    raw.into_iter()
        .enumerate()
        .map(|(i, rs)| session(i, rs, ck, home, hosts))
        .collect()
}

fn session(
    i: usize,
    rs: RawSession,
    ck: &mut Checker<'_>,
    home: &Path,
    hosts: &Hosts,
) -> SessionConfig {
    let at = format!("sessions[{i}]");
    let name = rs.name.unwrap_or_default();
    ck.session_name(&format!("{at}.name"), "dedicated session name", &name);
    let restart = ck.restart(
        &at,
        &format!("dedicated session `{name}`"),
        rs.restart.as_ref(),
    );
    let env = rs.env.unwrap_or_default();
    ck.env_names(&format!("{at}.env"), &env);
    let (agent, command) = agent_and_command(
        &at,
        &format!("dedicated session `{name}`"),
        rs.agent.as_ref(),
        rs.command,
        ck,
    );
    let host = placed(
        &at,
        &format!("dedicated session `{name}`"),
        rs.host,
        agent,
        hosts,
        ck,
    );
    SessionConfig {
        name,
        restart,
        workdir: workdir_on(&at, host.as_deref(), rs.workdir, home, ck),
        command,
        env,
        agent,
        host,
    }
}

/// No two slots of the whole config may share a name.
pub(super) fn check_collisions(cfg: &Config, ck: &mut Checker<'_>) {
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
