//! `hosts:`: the other machines whose tmux servers hold pools (DESIGN.md §15), each reached
//! with `ssh`, and the `host:` a pool or dedicated session names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::checker::Checker;
use super::expand_home;
use crate::tmux::Endpoint;

/// One host as written.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawHost {
    #[serde(default)]
    pub(super) ssh: Option<String>,
    #[serde(default)]
    pub(super) port: Option<serde_yaml::Value>,
    #[serde(default)]
    pub(super) identity_file: Option<String>,
    #[serde(default)]
    pub(super) ssh_options: Option<Vec<String>>,
    #[serde(default)]
    pub(super) tmux: Option<super::raw::RawTmux>,
}

/// A machine reached over ssh, and the tmux server on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// The key under `hosts:`, as pools name it.
    pub name: String,
    /// The ssh destination (`ops@gpu1.example`, or a `Host` of the operator's ssh config).
    pub ssh: String,
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
    /// Passed to ssh as given, before the supervisor's own options.
    pub ssh_options: Vec<String>,
    /// The tmux server on that host (`-L` or `-S` there).
    pub endpoint: Endpoint,
}

/// Whether `name` can name a host: letters, digits, `_`, `-` (it is shown in the table, is
/// part of file names in the state dir and is joined to pane ids as `%3@NAME`, so nothing
/// else is taken).
pub fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// Every host, by name.
pub(super) fn hosts(
    raw: BTreeMap<String, RawHost>,
    ck: &mut Checker<'_>,
    home: &Path,
) -> BTreeMap<String, HostConfig> {
    raw.into_iter()
        .map(|(name, rh)| {
            let host = host(&name, rh, ck, home);
            (name, host)
        })
        .collect()
}

fn host(name: &str, rh: RawHost, ck: &mut Checker<'_>, home: &Path) -> HostConfig {
    let at = format!("hosts.{name}");
    if !valid_host_name(name) {
        ck.at(
            &at,
            format!(
                "host name `{}` may only hold letters, digits, `_` and `-`",
                name.escape_debug()
            ),
            Some("name the host the way the table should show it: gpu1, build-2"),
        );
    }
    let ssh = rh.ssh.unwrap_or_default();
    if ssh.is_empty() {
        ck.missing(
            &format!("{at}.ssh"),
            &at,
            format!("host `{name}` has no `ssh` destination"),
            "add `ssh: user@machine` (or a Host of your ssh config)",
        );
    } else if ssh.starts_with('-') || ssh.chars().any(|c| c.is_whitespace() || c.is_control()) {
        ck.at(
            &format!("{at}.ssh"),
            format!(
                "host `{name}`: `{}` is not an ssh destination",
                ssh.escape_debug()
            ),
            Some("user@machine, without spaces; options go in `ssh_options`"),
        );
    }
    let port = rh.port.as_ref().and_then(|v| {
        let port = v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p > 0);
        if port.is_none() {
            ck.at(
                &format!("{at}.port"),
                format!("host `{name}`: `port` must be a number from 1 to 65535"),
                Some("port: 22"),
            );
        }
        port
    });
    let tmux = rh.tmux.unwrap_or_default();
    let socket_name = tmux.socket_name.filter(|s| !s.is_empty());
    let socket_path = tmux.socket_path.filter(|s| !s.is_empty());
    if socket_name.is_some() && socket_path.is_some() {
        ck.at(
            &format!("{at}.tmux.socket_path"),
            format!("host `{name}`: `tmux.socket_name` and `tmux.socket_path` are both set"),
            Some("set at most one: socket_name is tmux -L, socket_path is tmux -S (a path on that host)"),
        );
    }
    if let Some(p) = socket_path.as_ref().filter(|p| !p.starts_with('/')) {
        ck.at(
            &format!("{at}.tmux.socket_path"),
            format!(
                "host `{name}`: `tmux.socket_path` `{}` must be an absolute path on that host",
                p.escape_debug()
            ),
            Some(
                "its `~` is not this machine's: write the path as it is there, or use socket_name",
            ),
        );
    }
    HostConfig {
        name: name.to_string(),
        ssh,
        port,
        identity_file: rh.identity_file.map(|p| expand_home(&p, home)),
        ssh_options: rh.ssh_options.unwrap_or_default(),
        // A path on the other machine: `~` there is not this machine's home, so it is kept.
        endpoint: Endpoint {
            socket_name,
            socket_path: socket_path.map(PathBuf::from),
        },
    }
}

/// A pool's or session's `host:`: one of `hosts`, or this machine when left out.
pub(super) fn host_of(
    at: &str,
    what: &str,
    host: Option<String>,
    hosts: &BTreeMap<String, HostConfig>,
    ck: &mut Checker<'_>,
) -> Option<String> {
    let host = host.filter(|h| !h.is_empty())?;
    if !hosts.contains_key(&host) {
        let known: Vec<&str> = hosts.keys().map(String::as_str).collect();
        let hint = match super::positions::closest(&host, &known) {
            Some(k) => format!("did you mean `{k}`?"),
            None if known.is_empty() => {
                "define it under `hosts:` (name → ssh destination), or leave `host` out for this machine".to_string()
            }
            None => format!("the hosts are: {}", known.join(", ")),
        };
        ck.at(
            &format!("{at}.host"),
            format!("{what}: unknown host `{}`", host.escape_debug()),
            Some(&hint),
        );
    }
    Some(host)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::config::{Config, ConfigError};
    use std::path::{Path, PathBuf};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_with_home(text, "hosts.yaml", Path::new("/home/op"))
    }

    const TWO: &str = "hosts:
  gpu1:
    ssh: ops@gpu1.example
    port: 2222
    identity_file: ~/.ssh/id_ed25519
    ssh_options: [\"-o\", \"ServerAliveInterval=15\"]
    tmux: {socket_name: agents}
  build-2: {ssh: build2}
pools:
  - {name: here, prefix: \"ccl-\", max: 2, restart: never}
  - {name: gpu, prefix: \"gpu-\", max: 8, restart: always, host: gpu1}
sessions:
  - {name: docs, restart: always, host: build-2, workdir: /srv/docs}
";

    #[test]
    fn hosts_and_the_pools_on_them() {
        let cfg = parse(TWO).unwrap();
        let gpu1 = &cfg.hosts["gpu1"];
        assert_eq!(gpu1.ssh, "ops@gpu1.example");
        assert_eq!(gpu1.port, Some(2222));
        assert_eq!(
            gpu1.identity_file.as_deref(),
            Some(Path::new("/home/op/.ssh/id_ed25519"))
        );
        assert_eq!(gpu1.ssh_options, ["-o", "ServerAliveInterval=15"]);
        assert_eq!(gpu1.endpoint.socket_name.as_deref(), Some("agents"));
        assert_eq!(cfg.hosts["build-2"].port, None);
        assert_eq!(cfg.pools[0].host, None);
        assert_eq!(cfg.pools[1].host.as_deref(), Some("gpu1"));
        assert_eq!(cfg.sessions[0].host.as_deref(), Some("build-2"));
        // Another host's directories are that host's: no `~` of this machine, none made up.
        assert_eq!(cfg.pools[1].workdir, PathBuf::new());
        assert_eq!(cfg.sessions[0].workdir, PathBuf::from("/srv/docs"));
        assert_eq!(cfg.pools[0].workdir, PathBuf::from("/home/op"));
    }

    fn problem(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn what_is_wrong_with_a_host_is_said_where_it_stands() {
        let err = problem("hosts:\n  gpu1: {port: 22}\n");
        assert!(
            err.contains("hosts.yaml:2:") && err.contains("host `gpu1` has no `ssh`"),
            "{err}"
        );
        let err = problem("hosts:\n  gpu1: {ssh: \"-oProxyCommand=x\"}\n");
        assert!(err.contains("is not an ssh destination"), "{err}");
        let err = problem("hosts:\n  \"a b\": {ssh: x}\n");
        assert!(err.contains("host name `a b` may only hold"), "{err}");
        let err = problem("hosts:\n  gpu1: {ssh: x, port: 70000}\n");
        assert!(
            err.contains("hosts.yaml:2:") && err.contains("from 1 to 65535"),
            "{err}"
        );
        let err = problem("hosts:\n  gpu1: {ssh: x, prot: 22}\n");
        assert!(err.contains("unknown key `prot` in `hosts.gpu1`"), "{err}");
        assert!(err.contains("did you mean `port`?"), "{err}");
        let err =
            problem("hosts:\n  gpu1:\n    ssh: x\n    tmux: {socket_name: a, socket_path: /b}\n");
        assert!(err.contains("both set"), "{err}");
        let err = problem("hosts:\n  gpu1: {ssh: x, tmux: {socket_path: ~/t}}\n");
        assert!(
            err.contains("must be an absolute path on that host"),
            "{err}"
        );
        let err = problem("hosts:\n  gpu1: {ssh: x, tmux: {socket: a}}\n");
        assert!(
            err.contains("unknown key `socket` in `hosts.gpu1.tmux`"),
            "{err}"
        );
    }

    #[test]
    fn a_pool_on_an_unknown_host_is_refused_with_the_near_name() {
        let err = problem(
            "hosts:\n  gpu1: {ssh: x}\npools:\n  - {name: g, prefix: \"g-\", max: 1, restart: always, host: gpu2}\n",
        );
        assert!(
            err.contains("hosts.yaml:4:") && err.contains("unknown host `gpu2`"),
            "{err}"
        );
        assert!(err.contains("did you mean `gpu1`?"), "{err}");
        let err = problem("sessions:\n  - {name: d, restart: always, host: far}\n");
        assert!(
            err.contains("unknown host `far`") && err.contains("define it under `hosts:`"),
            "{err}"
        );
    }

    #[test]
    fn slot_names_are_unique_across_hosts() {
        let err = problem(
            "hosts:\n  a: {ssh: a}\n  b: {ssh: b}\npools:\n  - {name: one, prefix: \"w-\", max: 2, restart: always, host: a}\n  - {name: two, prefix: \"w-\", max: 2, restart: always, host: b}\n",
        );
        assert!(
            err.contains("`w-0`") && err.contains("pool `one`") && err.contains("pool `two`"),
            "{err}"
        );
    }

    #[test]
    fn claude_slots_stay_on_this_machine_and_remote_dirs_are_absolute() {
        let err = problem(
            "hosts:\n  gpu1: {ssh: x}\npools:\n  - {name: g, prefix: \"g-\", max: 1, restart: always, host: gpu1, agent: claude}\n",
        );
        assert!(
            err.contains("`agent: claude` runs on this machine only"),
            "{err}"
        );
        let err = problem(
            "hosts:\n  gpu1: {ssh: x}\npools:\n  - {name: g, prefix: \"g-\", max: 1, restart: always, host: gpu1, workdir: ~/src}\n",
        );
        assert!(err.contains("an absolute path on host `gpu1`"), "{err}");
    }
}
