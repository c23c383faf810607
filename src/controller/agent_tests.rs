//! Tests of Claude Code slots in the controller: pinned ids, resume or fresh, the hooks'
//! word on the state and on the conversation id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use super::*;
use crate::claude::events::HookRecord;
use crate::claude::session::{Transcript, is_id};
use crate::config::Config;
use crate::fixtures::{dead, pane, polled, running, state_of as state};
use crate::jobs::{Done, OpKind, OpResult};
use crate::observe::State;

pub(super) const NOW: Millis = 1_000_000_000;

pub(super) const YAML: &str = r#"
pools:
  - name: agents
    prefix: "cc-"
    start_index: 1
    max: 2
    restart: always
    workdir: /nonexistent/work
    agent: claude
"#;

pub(super) fn sup() -> Supervisor {
    let cfg = Config::parse_with_home(YAML, "t", std::path::Path::new("/h")).unwrap();
    let mut sup = Supervisor::without_memory(cfg);
    sup.agents.files = Some(AgentFiles {
        state_dir: PathBuf::from("/state"),
        server_key: "_tmp_tmux-0_t".into(),
        settings: Some(PathBuf::from("/state/claude-settings.json")),
    });
    sup
}

pub(super) fn command_of(job: &OpJob) -> Vec<String> {
    match &job.kind {
        OpKind::Create(l) | OpKind::Respawn { launch: l, .. } => l.command.clone(),
        OpKind::Kill(_) | OpKind::Interrupt(_) => Vec::new(),
    }
}

pub(super) fn flag_after<'a>(cmd: &'a [String], flag: &str) -> Option<&'a str> {
    cmd.iter()
        .position(|a| a == flag)
        .map(|i| cmd[i + 1].as_str())
}

/// Creates both slots and reports them created as panes %1 and %2.
pub(super) fn started(sup: &mut Supervisor) -> Vec<OpJob> {
    sup.on_poll(polled(Vec::new(), &[]), NOW);
    let jobs = sup.reconcile(NOW);
    let results = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| OpResult {
            job: j.clone(),
            outcome: Ok(Done::Created(OwnedPane {
                server_pid: 100,
                session_id: format!("${}", i + 1),
                pane_id: format!("%{}", i + 1),
            })),
        })
        .collect();
    sup.on_executed(results, NOW + 10);
    jobs
}

pub(super) fn agent_pane(name: &str, n: u32) -> crate::tmux::Pane {
    let mut p = running(pane(name, n), "claude");
    p.session_created = NOW / 1000;
    p
}

#[test]
fn a_fresh_start_is_pinned_and_says_where_its_hooks_report() {
    let mut sup = sup();
    let jobs = started(&mut sup);
    let cmd = command_of(&jobs[0]);
    assert_eq!(cmd[0], "TMUX_SUPERVISOR_SLOT=cc-1");
    assert_eq!(cmd[1], "TMUX_SUPERVISOR_STATE_DIR=/state");
    assert_eq!(cmd[2], "claude");
    assert_eq!(
        flag_after(&cmd, "--settings"),
        Some("/state/claude-settings.json")
    );
    let id = flag_after(&cmd, "--session-id").unwrap();
    assert!(is_id(id) && flag_after(&cmd, "--resume").is_none());
    let mem = sup.memory.slot("cc-1").unwrap().agent.clone().unwrap();
    assert_eq!((mem.id.as_str(), mem.resumed), (id, false));
    assert_ne!(flag_after(&command_of(&jobs[1]), "--session-id"), Some(id));
    assert!(
        sup.memory
            .events
            .iter()
            .any(|e| e.text.starts_with("cc-1: fresh conversation")
                && e.text.ends_with("first start"))
    );
}

#[test]
fn a_crashed_agent_comes_back_with_its_conversation_or_fresh_without_its_transcript() {
    let mut sup = sup();
    let jobs = started(&mut sup);
    let id1 = flag_after(&command_of(&jobs[0]), "--session-id")
        .unwrap()
        .to_string();
    let id2 = flag_after(&command_of(&jobs[1]), "--session-id")
        .unwrap()
        .to_string();
    sup.on_poll(
        polled(vec![agent_pane("cc-1", 1), agent_pane("cc-2", 2)], &[]),
        NOW + 1000,
    );
    // Both die; cc-1's transcript is there, cc-2's is not.
    let mut poll = polled(
        vec![
            dead(agent_pane("cc-1", 1), 137),
            dead(agent_pane("cc-2", 2), 137),
        ],
        &[],
    );
    let probes = sup.poll_job().transcripts;
    assert_eq!(probes.len(), 2);
    poll.transcripts = probes
        .into_iter()
        .map(|p| {
            let t = if p.slot == "cc-1" {
                Transcript::Found("/h/.claude/projects/-nonexistent-work/x.jsonl".into(), 10)
            } else {
                Transcript::Missing(vec!["/h/.claude/projects/-nonexistent-work/y.jsonl".into()])
            };
            (p, t)
        })
        .collect();
    sup.on_poll(poll, NOW + 120_000);
    let jobs = sup.reconcile(NOW + 120_000);
    let by = |n: &str| jobs.iter().find(|j| j.name == n).map(command_of).unwrap();
    let c1 = by("cc-1");
    assert_eq!(flag_after(&c1, "--resume"), Some(id1.as_str()));
    assert!(flag_after(&c1, "--session-id").is_none());
    let c2 = by("cc-2");
    let new2 = flag_after(&c2, "--session-id").unwrap();
    assert!(new2 != id2 && flag_after(&c2, "--resume").is_none());
    assert!(
        sup.memory
            .slot("cc-1")
            .unwrap()
            .agent
            .as_ref()
            .unwrap()
            .resumed
    );
    let why = sup
        .memory
        .events
        .iter()
        .rev()
        .find(|e| e.name == "cc-2")
        .unwrap();
    assert!(
        why.text
            .contains(&format!("no transcript for {}", &id2[..8])),
        "{}",
        why.text
    );
}

#[test]
fn the_operator_may_recreate_fresh() {
    let mut sup = sup();
    let jobs = started(&mut sup);
    let id1 = flag_after(&command_of(&jobs[0]), "--session-id")
        .unwrap()
        .to_string();
    sup.on_poll(polled(vec![agent_pane("cc-1", 1)], &[]), NOW + 1000);
    assert!(
        sup.next_agent_start("cc-1", false, NOW + 2000)
            .unwrap()
            .resumed()
    );
    let job = sup.recreate_fresh("cc-1", NOW + 2000).unwrap();
    let cmd = command_of(&job);
    assert_ne!(flag_after(&cmd, "--session-id").unwrap(), id1);
}

fn record(slot: &str, event: &str, at_ms: Millis) -> HookRecord {
    HookRecord {
        event: event.into(),
        at_ms: at_ms as u64,
        session_id: None,
        transcript_path: None,
        cwd: None,
        tool_name: Some("Bash".into()),
        notification_type: None,
        message: None,
        error: None,
        source: None,
        slot: Some(slot.into()),
        pane: None,
        ..HookRecord::default()
    }
}

#[test]
fn hooks_decide_the_state_until_the_pane_moves_on() {
    let mut sup = sup();
    started(&mut sup);
    let t = NOW + 10_000;
    // Quiet pane, a permission prompt asked 4 s ago: waiting, said by the hook.
    let mut p = agent_pane("cc-1", 1);
    p.window_activity = (t - 4_000) / 1000;
    let mut poll = polled(vec![p.clone()], &[]);
    poll.hooks = vec![record("cc-1", "PermissionRequest", t - 4_000)];
    sup.on_poll(poll, t);
    assert_eq!(
        state(&sup, "cc-1"),
        (State::Waiting, "hook PermissionRequest 4s ago: Bash".into())
    );
    // Ten seconds later, nothing changed: still waiting.
    let mut poll = polled(vec![p.clone()], &[]);
    poll.hooks = vec![record("cc-1", "PermissionRequest", t - 4_000)];
    sup.on_poll(poll, t + 10_000);
    assert_eq!(state(&sup, "cc-1").0, State::Waiting);
    // Granted: the pane prints the agent working again; the pane decides.
    let mut busy = p.clone();
    busy.window_activity = (t + 11_000) / 1000;
    let mut poll = polled(vec![busy], &[("%1", "✻ Running… (esc to interrupt)")]);
    poll.hooks = vec![record("cc-1", "PermissionRequest", t - 4_000)];
    sup.on_poll(poll, t + 11_500);
    assert_eq!(
        state(&sup, "cc-1"),
        (State::Working, "pattern 'esc to interrupt'".into())
    );
}

#[test]
fn a_working_hook_falls_after_an_interrupt_and_a_stale_record_is_ignored() {
    let mut sup = sup();
    started(&mut sup);
    let t = NOW + 10_000;
    let mut p = agent_pane("cc-1", 1);
    p.window_activity = (t - 1_000) / 1000;
    p.title = "⠐ Mock session".into();
    let mut poll = polled(vec![p.clone()], &[]);
    poll.hooks = vec![record("cc-1", "UserPromptSubmit", t - 2_000)];
    sup.on_poll(poll, t);
    assert_eq!(state(&sup, "cc-1").0, State::Working);
    assert!(state(&sup, "cc-1").1.starts_with("hook UserPromptSubmit"));
    // Esc: no hook; the pane goes quiet and says so.
    p.title = "✳ Mock session".into();
    let text =
        "❯ slow 20\n  ⎿  Interrupted · What should Claude do instead?\n\n❯ \n  ? for shortcuts";
    let mut poll = polled(vec![p.clone()], &[("%1", text)]);
    poll.hooks = vec![record("cc-1", "UserPromptSubmit", t - 2_000)];
    sup.on_poll(poll, t + 10_000);
    assert_eq!(state(&sup, "cc-1"), (State::Idle, "interrupted".into()));
    // A record from before the slot's last start says nothing (the pane text still stands).
    let mut poll = polled(vec![p], &[]);
    poll.hooks = vec![record("cc-1", "PermissionRequest", NOW - 5_000)];
    sup.on_poll(poll, t + 11_000);
    assert_eq!(state(&sup, "cc-1"), (State::Idle, "interrupted".into()));
    assert!(sup.last.as_ref().unwrap().slots[0].hook.is_none());
}

#[test]
fn the_agents_hooks_name_its_conversation() {
    let mut sup = sup();
    started(&mut sup);
    let t = NOW + 10_000;
    let cleared = "9f8e7d6c-0000-4000-8000-000000000002";
    let mut rec = record("cc-1", "SessionStart", t - 1_000);
    rec.session_id = Some(cleared.into());
    rec.transcript_path = Some(format!("/h/.claude/projects/x/{cleared}.jsonl"));
    let mut poll = polled(vec![agent_pane("cc-1", 1)], &[]);
    poll.hooks = vec![rec.clone()];
    sup.on_poll(poll, t);
    let a = sup.memory.slot("cc-1").unwrap().agent.clone().unwrap();
    assert_eq!(a.id, cleared);
    assert_eq!(a.transcript, rec.transcript_path);
    // A forged id is never taken.
    let mut bad = record("cc-2", "SessionStart", t - 1_000);
    bad.session_id = Some("--dangerously-skip-permissions".into());
    let before = sup.memory.slot("cc-2").unwrap().agent.clone();
    let mut poll = polled(vec![agent_pane("cc-2", 2)], &[]);
    poll.hooks = vec![bad];
    sup.on_poll(poll, t + 1000);
    assert_eq!(sup.memory.slot("cc-2").unwrap().agent, before);
}
