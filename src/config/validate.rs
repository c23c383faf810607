//! The third step of loading: the raw config resolved section by section into a [`Config`],
//! defaults filled in and every rule checked, each problem collected where it stands.

use std::path::Path;
use std::time::Duration;

use super::checker::Checker;
use super::raw::{RawAgent, RawBackoff, RawConfig, RawNotify, RawTmux};
use super::slots::{check_collisions, pools, sessions};
use super::{AgentConfig, BackoffConfig, Config, NotifyConfig, default_state_dir, expand_home};

/// Every section in turn, then the slots across pools and sessions.
pub(super) fn resolve(raw: RawConfig, ck: &mut Checker<'_>, file: &str, home: &Path) -> Config {
    let (socket_name, socket_path) = tmux_server(raw.tmux.unwrap_or_default(), ck);
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
    let backoff = backoff(&raw.backoff.unwrap_or_default(), ck);
    let agent = agent(raw.agent.unwrap_or_default(), ck);
    let notify = notify(raw.notify.unwrap_or_default(), ck);
    let hosts = super::hosts::hosts(raw.hosts.unwrap_or_default(), ck, home);
    let pools = pools(raw.pools.unwrap_or_default(), ck, home, &hosts);
    let sessions = sessions(raw.sessions.unwrap_or_default(), ck, home, &hosts);
    let metrics = raw.metrics.and_then(|m| match super::metrics_addr(&m) {
        Ok(a) => Some(a),
        Err(e) => {
            ck.at("metrics", e, Some("a bare port listens on loopback only"));
            None
        }
    });

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
        notify,
        status_file: raw.status_file.map(|p| expand_home(&p, home)),
        state_dir: raw
            .state_dir
            .map_or_else(|| default_state_dir(home), |p| expand_home(&p, home)),
        metrics,
        push: raw.push.unwrap_or(true),
        hosts,
    };
    check_collisions(&cfg, ck);
    cfg
}

/// The tmux server's socket name and path, as written (empty is unset); at most one is set.
fn tmux_server(tmux: RawTmux, ck: &mut Checker<'_>) -> (Option<String>, Option<String>) {
    let socket_name = tmux.socket_name.filter(|s| !s.is_empty());
    let socket_path = tmux.socket_path.filter(|s| !s.is_empty());
    if socket_name.is_some() && socket_path.is_some() {
        ck.at(
            "tmux.socket_path",
            "`tmux.socket_name` and `tmux.socket_path` are both set",
            Some("set at most one: socket_name is tmux -L, socket_path is tmux -S"),
        );
    }
    (socket_name, socket_path)
}

/// The crash-loop backoff; the first delay may not exceed the cap.
fn backoff(rb: &RawBackoff, ck: &mut Checker<'_>) -> BackoffConfig {
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
    backoff
}

/// How panes are read; no pattern or program name may be empty.
fn agent(ra: RawAgent, ck: &mut Checker<'_>) -> AgentConfig {
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
        hung_after: ck.duration(
            "agent.hung_after",
            ra.hung_after.as_ref(),
            Duration::from_secs(15 * 60),
        ),
        restart_hung: match ra.on_hung.as_ref().map(|v| v.as_str()) {
            None | Some(Some("none")) => false,
            Some(Some("restart")) => true,
            Some(_) => {
                ck.at(
                    "agent.on_hung",
                    "`agent.on_hung` must be `none` or `restart`",
                    Some("restart interrupts a hung agent, then respawns it with its conversation"),
                );
                false
            }
        },
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
    agent
}

/// Notifications: the bell on by default, a command only when given (not empty).
fn notify(rn: RawNotify, ck: &mut Checker<'_>) -> NotifyConfig {
    let command = rn.command.unwrap_or_default();
    if command.first().is_some_and(String::is_empty) {
        ck.at(
            "notify.command[0]",
            "`notify.command` starts with an empty program name",
            Some("an argv: [\"notify-send\", \"tmux-supervisor\"]"),
        );
    }
    NotifyConfig {
        bell: rn.bell.unwrap_or(true),
        command,
        done: rn.done.unwrap_or(false),
        min_interval: ck.duration(
            "notify.min_interval",
            rn.min_interval.as_ref(),
            Duration::from_secs(60),
        ),
        timeout: ck.duration(
            "notify.timeout",
            rn.timeout.as_ref(),
            Duration::from_secs(10),
        ),
    }
}

fn strings(v: Option<Vec<String>>, default: &[&str]) -> Vec<String> {
    v.unwrap_or_else(|| default.iter().map(|s| (*s).to_string()).collect())
}
