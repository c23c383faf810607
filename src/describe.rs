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
        match pool {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "pool {}  {}  restart: {}  keep alive: {} of {}  workdir: {}{}",
                    p.name,
                    group.range,
                    p.restart,
                    if p.restart == Restart::Never {
                        0
                    } else {
                        p.min
                    },
                    p.max,
                    p.workdir.display(),
                    if p.command.is_empty() {
                        String::new()
                    } else {
                        format!("  command: {:?}", p.command)
                    }
                );
            }
            None => {
                let _ = writeln!(out, "dedicated sessions");
            }
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
}
