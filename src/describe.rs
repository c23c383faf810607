//! `tmux-supervisor config`: the resolved pools and slots in words, with each slot's policy.

use crate::config::{Config, Restart};
use crate::pool::Layout;

/// The resolved pools and slots, as `tmux-supervisor config` prints them.
pub fn describe(config: &Config) -> String {
    use std::fmt::Write as _;
    let layout = Layout::new(config);
    let mut out = String::new();
    let endpoint = config.endpoint();
    let server = if endpoint == crate::tmux::Endpoint::default() {
        "the default tmux server".to_string()
    } else {
        format!("tmux {}", endpoint.label())
    };
    let _ = writeln!(out, "config: {}", config.source);
    let _ = writeln!(out, "server: {server}");
    for h in config.hosts.values() {
        let port = h.port.map_or_else(String::new, |p| format!(" port {p}"));
        let _ = writeln!(
            out,
            "host {}: ssh {}{port}, tmux {}",
            h.name,
            h.ssh,
            h.endpoint.label()
        );
    }
    let _ = writeln!(
        out,
        "poll every {}, reconcile every {}",
        humantime::format_duration(config.poll_interval),
        humantime::format_duration(config.reconcile_interval)
    );
    for (group, pool) in layout
        .groups
        .iter()
        .zip(config.pools.iter().map(Some).chain(std::iter::repeat(None)))
    {
        let _ = writeln!(out);
        if let Some(p) = pool {
            let on = p
                .host
                .as_deref()
                .map_or_else(String::new, |h| format!("  on host {h}"));
            let _ = writeln!(
                out,
                "pool {}{on}  {}  restart: {}  keep alive: {} of {}  workdir: {}{}",
                p.name,
                group.range,
                p.restart,
                if p.restart == Restart::Never {
                    0
                } else {
                    p.min
                },
                p.max,
                if p.workdir.as_os_str().is_empty() {
                    "(the tmux server's own)".to_string()
                } else {
                    p.workdir.display().to_string()
                },
                if p.command.is_empty() {
                    String::new()
                } else {
                    format!("  command: {:?}", p.command)
                }
            );
        } else {
            let on = group
                .host
                .as_deref()
                .map_or_else(String::new, |h| format!(" on host {h}"));
            let _ = writeln!(out, "dedicated sessions{on}");
        }
        for &i in &group.slots {
            let s = &layout.slots[i];
            let role = if s.supervised() {
                format!("kept alive ({})", s.restart)
            } else if s.restart == Restart::Never {
                "watched only (restart: never)".to_string()
            } else {
                "watched only (above min)".to_string()
            };
            let _ = writeln!(out, "  {:<24} {role}", s.name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_pool_and_slot_with_its_policy() {
        let (mut cfg, _) = crate::fixtures::production();
        cfg.pools[1].min = 4;
        let text = describe(&cfg);
        assert!(text.contains("server: the default tmux server\n"), "{text}");
        assert!(
            text.contains("pool manual  ccl-0..ccl-9  restart: never  keep alive: 0 of 10"),
            "{text}"
        );
        assert!(
            text.contains(
                "pool auto  ccl-auto-11..ccl-auto-20  restart: always  keep alive: 4 of 10"
            ),
            "{text}"
        );
        let role = |name: &str| {
            text.lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .map(|l| l[2 + 24..].trim_start().to_string())
        };
        assert_eq!(
            role("ccl-0").as_deref(),
            Some("watched only (restart: never)")
        );
        assert_eq!(role("ccl-auto-14").as_deref(), Some("kept alive (always)"));
        assert_eq!(
            role("ccl-auto-15").as_deref(),
            Some("watched only (above min)")
        );
        cfg.socket_name = Some("work".into());
        assert!(describe(&cfg).contains("server: tmux -L work\n"));
    }

    #[test]
    fn hosts_and_what_is_on_them() {
        let cfg = Config::parse_with_home(
            "hosts:\n  gpu1: {ssh: ops@gpu1, port: 2222, tmux: {socket_name: agents}}\npools:\n  - {name: g, prefix: \"g-\", max: 1, restart: always, host: gpu1}\nsessions:\n  - {name: d, restart: always, host: gpu1}\n",
            "h",
            std::path::Path::new("/home/op"),
        )
        .unwrap();
        let text = describe(&cfg);
        assert!(
            text.contains("host gpu1: ssh ops@gpu1 port 2222, tmux -L agents\n"),
            "{text}"
        );
        assert!(text.contains("pool g  on host gpu1  g-0..g-0"), "{text}");
        assert!(text.contains("dedicated sessions on host gpu1\n"), "{text}");
    }
}
