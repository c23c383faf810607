//! `tmux-supervisor check`: the one-poll audit as text or JSON, and its exit status.

use serde::Serialize;

use crate::memory::Memory;
use crate::observe::{Observation, State};
use crate::pool::Layout;
use crate::time::short_age;

/// Exit status of `check`: every supervised slot present and alive, no stray, no failure.
pub const EXIT_OK: u8 = 0;
/// Something needs a look: a supervised slot missing or dead, a stray, a failed slot.
pub const EXIT_PROBLEMS: u8 = 1;

/// The JSON document `check --json` prints (schema documented in the README).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// `true` when the exit status is 0.
    pub ok: bool,
    /// Which tmux server was read (`default`, `-L NAME` or `-S PATH`).
    pub server: String,
    /// The tmux server's pid, when a server runs.
    pub server_pid: Option<u32>,
    pub slots: Vec<SlotReport>,
    pub strays: Vec<StrayReport>,
    pub others: Vec<String>,
    /// Problems that make `ok` false, in words.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlotReport {
    pub name: String,
    pub pool: String,
    /// Index in the pool, `null` for a dedicated session.
    pub index: Option<u32>,
    /// idle | working | waiting | failed | missing | absent | starting
    pub state: State,
    pub present: bool,
    pub reason: String,
    /// Starts made by the supervisor in the current crash-loop streak.
    pub restarts: u32,
    /// Kept alive by reconcile (inside `min`, policy not `never`).
    pub supervised: bool,
    pub session_id: Option<String>,
    pub pane_id: Option<String>,
    pub command: Option<String>,
    pub task: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StrayReport {
    pub name: String,
    pub pool: String,
    pub session_id: String,
}

/// Builds the audit of one observation.
pub fn report(layout: &Layout, obs: &Observation, memory: &Memory, server: &str) -> Report {
    let mut problems = Vec::new();
    let slots: Vec<SlotReport> = obs
        .slots
        .iter()
        .map(|st| {
            let slot = &layout.slots[st.slot];
            let present = st.pane.is_some();
            let alive = st.pane.as_ref().is_some_and(|p| !p.pane_dead);
            if slot.supervised() && !alive {
                problems.push(format!("{} is {} ({})", slot.name, st.state, st.cause));
            } else if st.state == State::Failed {
                problems.push(format!("{} failed: {}", slot.name, st.cause));
            }
            SlotReport {
                name: slot.name.clone(),
                pool: slot.group.clone(),
                index: slot.index,
                state: st.state,
                present,
                reason: st.reason(),
                restarts: memory.slot(&slot.name).map_or(0, |m| m.restarts),
                supervised: slot.supervised(),
                session_id: st.pane.as_ref().map(|p| p.session_id.clone()),
                pane_id: st.pane.as_ref().map(|p| p.pane_id.clone()),
                command: st.pane.as_ref().map(|p| p.current_command.clone()),
                task: st.task.clone(),
            }
        })
        .collect();
    let strays: Vec<StrayReport> = obs
        .strays
        .iter()
        .map(|s| {
            problems.push(format!(
                "stray session {} (looks like pool {})",
                s.name, s.pool
            ));
            StrayReport {
                name: s.name.clone(),
                pool: s.pool.clone(),
                session_id: s.pane.session_id.clone(),
            }
        })
        .collect();
    Report {
        ok: problems.is_empty(),
        server: server.to_string(),
        server_pid: obs.server_pid,
        slots,
        strays,
        others: obs.others.iter().map(|p| p.session_name.clone()).collect(),
        problems,
    }
}

impl Report {
    pub fn exit_code(&self) -> u8 {
        if self.ok { EXIT_OK } else { EXIT_PROBLEMS }
    }

    /// The audit as a plain table, one section per pool.
    pub fn to_text(&self, layout: &Layout, now_secs: i64, obs: &Observation) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tmux server: {}{}",
            self.server,
            self.server_pid
                .map_or_else(|| " (not running)".to_string(), |p| format!(" (pid {p})"))
        );
        for g in &layout.groups {
            let up = obs.up(&g.slots);
            let _ = writeln!(
                out,
                "\n{}  {}  restart: {}  {up}/{} up",
                g.name,
                g.range,
                g.restart.map_or("per session", |r| r.as_str()),
                g.slots.len()
            );
            for &i in &g.slots {
                let r = &self.slots[i];
                let age = obs.slots[i]
                    .pane
                    .as_ref()
                    .map(|p| short_age((now_secs - p.session_created) * 1000))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:<22} {:<9} {:<9} up {:<5} restarts {:<3} {}",
                    r.name,
                    r.state.as_str(),
                    r.command.as_deref().unwrap_or("-"),
                    if age.is_empty() { "-" } else { &age },
                    r.restarts,
                    r.reason
                );
            }
        }
        let _ = writeln!(out, "\nstrays: {}", self.strays.len());
        for s in &self.strays {
            let _ = writeln!(out, "  {:<22} looks like pool {}", s.name, s.pool);
        }
        let _ = writeln!(out, "other sessions: {}", self.others.len());
        if self.ok {
            let _ = writeln!(out, "\nall well");
        } else {
            let _ = writeln!(out, "\n{} problem(s):", self.problems.len());
            for p in &self.problems {
                let _ = writeln!(out, "  - {p}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::fixtures::{dead, pane, production};
    use crate::observe::{ExternalStatus, observe};
    use crate::tmux::Snapshot;
    use std::collections::HashMap;

    #[test]
    fn full_auto_pool_and_no_strays_is_ok() {
        let (cfg, layout) = production();
        let panes = (11..=20)
            .map(|i| pane(&format!("ccl-auto-{i}"), i))
            .chain([pane("ccl-3", 1), pane("main", 2)])
            .collect();
        let snap = Snapshot {
            panes,
            rejected: vec![],
        };
        let obs = observe(
            &layout,
            &cfg.agent,
            &snap,
            &HashMap::new(),
            &ExternalStatus::new(),
            &crate::memory::Memory::default(),
            0,
        );
        let r = report(&layout, &obs, &Memory::default(), "default");
        assert!(r.ok, "{:?}", r.problems);
        assert_eq!(r.exit_code(), 0);
        assert_eq!(r.others, vec!["main"]);
    }

    #[test]
    fn dead_missing_and_stray_are_problems() {
        let (cfg, layout) = production();
        let panes = (12..=20)
            .map(|i| pane(&format!("ccl-auto-{i}"), i))
            .chain([dead(pane("ccl-auto-11", 1), 3), pane("ccl-auto0", 2)])
            .collect();
        let snap = Snapshot {
            panes,
            rejected: vec![],
        };
        let obs = observe(
            &layout,
            &cfg.agent,
            &snap,
            &HashMap::new(),
            &ExternalStatus::new(),
            &crate::memory::Memory::default(),
            0,
        );
        let r = report(&layout, &obs, &Memory::default(), "default");
        assert_eq!(r.exit_code(), 1);
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["slots"][10]["state"], "failed");
        assert_eq!(json["slots"][10]["reason"], "pane dead, exit 3");
        assert_eq!(json["strays"][0]["pool"], "auto");
    }

    /// A slot that crashed while working is failed though its pane is alive: not "up", in
    /// `check` as in the UI's pool header.
    #[test]
    fn a_failed_slot_with_a_live_pane_is_not_up_in_check_or_the_ui() {
        let mut app = crate::ui::sample::app();
        let name = "ccl-auto-11";
        let m = app.sup.memory.slot_mut(name);
        m.failed = Some("crashed while working".into());
        m.failed_session = Some("$11".into());
        app.sup
            .on_poll(crate::ui::sample::poll(), crate::ui::sample::NOW + 1000);
        let obs = app.sup.last.clone().unwrap();
        let i = app.sup.layout.slot(name).unwrap();
        assert_eq!(obs.slots[i].state, crate::observe::State::Failed);
        assert!(obs.slots[i].pane.as_ref().is_some_and(|p| !p.pane_dead));
        let auto = app
            .sup
            .layout
            .groups
            .iter()
            .find(|g| g.name == "auto")
            .unwrap();
        let up = obs.up(&auto.slots);
        let header = crate::ui::rows::rows(&app, crate::ui::sample::NOW + 1000)
            .into_iter()
            .find_map(|r| match r {
                crate::ui::rows::Row::Group(g) if g.name == "auto" => Some(g.up),
                _ => None,
            })
            .unwrap();
        let report = report(&app.sup.layout, &obs, &app.sup.memory, "default");
        let text = report.to_text(&app.sup.layout, crate::ui::sample::NOW / 1000, &obs);
        assert!(
            text.contains(&format!("restart: always  {up}/10 up")),
            "{text}"
        );
        assert_eq!(header, up);
        // ccl-auto-11 (failed) is counted in neither.
        let alive = obs
            .slots
            .iter()
            .filter(|s| auto.slots.contains(&s.slot))
            .filter(|s| s.pane.as_ref().is_some_and(|p| !p.pane_dead))
            .count();
        assert!(up < alive, "up {up}, alive panes {alive}");
    }
}
