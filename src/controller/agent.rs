//! The controller's side of Claude Code slots: what each poll looks for (the transcript of
//! every slot's conversation, the hook events), how a start is launched (`--session-id` or
//! `--resume`, `--settings`, the slot's name for the hook), and the conversation id the
//! agent's own hooks report.

use std::collections::HashMap;
use std::path::PathBuf;

use super::Supervisor;
use crate::claude::events::HookRecord;
use crate::claude::session::{self, Start, Transcript};
use crate::config::AgentKind;
use crate::jobs::{OpJob, OpKind};
use crate::memory::{Action, AgentSession, EventKind};
use crate::observe::{Cause, Observation, State};
use crate::time::{Millis, short_age};
use crate::tmux::Launch;

/// How long a hung agent has after its Esc before it is respawned.
pub const HUNG_GRACE: Millis = 3_000;

/// Where an agent slot's files are, as the loop that runs the supervisor set them up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFiles {
    /// The state dir: the hook records its events there.
    pub state_dir: PathBuf,
    /// The tmux server's key (`socket::key`): the hook finds it from `$TMUX`.
    pub server_key: String,
    /// The `--settings` file with the supervisor's hooks, when it could be written.
    pub settings: Option<PathBuf>,
}

impl AgentFiles {
    /// The files of the configured server, with no `--settings` file (yet).
    pub fn for_config(config: &crate::config::Config) -> Self {
        AgentFiles {
            state_dir: config.state_dir.clone(),
            server_key: crate::socket::key(&crate::socket::server_socket(
                config.socket_name.as_deref(),
                config.socket_path.as_deref(),
            )),
            settings: None,
        }
    }
}

impl AgentFiles {
    /// The same, with the `--settings` file written for agent slots (when the config has any);
    /// if it cannot be written, why (the agents then run without the supervisor's hooks).
    pub fn with_settings(mut self, config: &crate::config::Config) -> (Self, Option<String>) {
        if !config.pools.iter().any(|p| p.agent.is_some())
            && !config.sessions.iter().any(|s| s.agent.is_some())
        {
            return (self, None);
        }
        match crate::claude::settings::write_for_slots(&config.state_dir) {
            Ok(path) => {
                self.settings = Some(path);
                (self, None)
            }
            Err(e) => (self, Some(format!("agents run without hooks: {e}"))),
        }
    }
}

/// What the controller knows of agent slots between polls.
#[derive(Debug, Clone)]
pub struct AgentState {
    pub files: Option<AgentFiles>,
    /// The machine's time zone: a reset time without a zone is in it.
    pub tz: std::sync::OnceLock<jiff::tz::TimeZone>,
    /// Slot name → the conversation id looked for at the last poll and what was found.
    transcripts: HashMap<String, (String, Transcript)>,
}

impl Default for AgentState {
    /// No files yet; the machine's time zone is read when first needed.
    fn default() -> Self {
        AgentState {
            files: None,
            tz: std::sync::OnceLock::new(),
            transcripts: HashMap::new(),
        }
    }
}

/// One slot's conversation for the poll to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptProbe {
    pub slot: String,
    pub id: String,
    pub workdir: PathBuf,
    /// `CLAUDE_CONFIG_DIR` and `HOME` of the slot's own environment.
    pub config_dir: Option<String>,
    pub home: Option<String>,
    /// Where the agent's hooks said the transcript is.
    pub from_hook: Option<String>,
}

impl TranscriptProbe {
    /// Looks for the transcript (the poll does it, off the owner task).
    pub fn look(&self, home: &std::path::Path) -> Transcript {
        let dir = session::config_dir(
            self.config_dir.as_deref(),
            self.home.as_deref(),
            std::env::var_os("CLAUDE_CONFIG_DIR"),
            home,
        );
        session::find_transcript(session::transcript_places(
            &self.id,
            &self.workdir,
            &dir,
            self.from_hook.as_deref(),
        ))
    }
}

impl Supervisor {
    /// The transcripts the next poll looks for: one per agent slot with a conversation.
    pub(super) fn transcript_probes(&self) -> Vec<TranscriptProbe> {
        self.layout
            .slots
            .iter()
            .filter(|s| s.agent == Some(AgentKind::Claude))
            .filter_map(|s| {
                let a = self.memory.slot(&s.name)?.agent.as_ref()?;
                Some(TranscriptProbe {
                    slot: s.name.clone(),
                    id: a.id.clone(),
                    workdir: s.workdir.clone(),
                    config_dir: s.env.get("CLAUDE_CONFIG_DIR").cloned(),
                    home: s.env.get("HOME").cloned(),
                    from_hook: a.transcript.clone(),
                })
            })
            .collect()
    }

    /// Keeps what the poll found of each conversation's transcript.
    pub(super) fn keep_transcripts(&mut self, found: Vec<(TranscriptProbe, Transcript)>) {
        self.agents.transcripts = found
            .into_iter()
            .map(|(p, t)| (p.slot, (p.id, t)))
            .collect();
    }

    /// Settles `limited` and `hung` on the observation (after it was remembered).
    pub(super) fn settle_conditions(&mut self, obs: &mut Observation, now: Millis) {
        let transcript_len: HashMap<String, u64> = self
            .agents
            .transcripts
            .iter()
            .filter_map(|(slot, (_, t))| match t {
                Transcript::Found(_, len) => Some((slot.clone(), *len)),
                Transcript::Missing(_) | Transcript::Empty(_) => None,
            })
            .collect();
        let reads = crate::claude::conditions::Reads {
            captures: &self.captures,
            transcript_len: &transcript_len,
            tz: &self.agents.tz,
        };
        crate::claude::conditions::settle(
            obs,
            &self.layout,
            &self.config.agent,
            &reads,
            &mut self.memory,
            now,
        );
    }

    /// With `agent.on_hung: restart`, a hung agent (in the pane the supervisor started) is
    /// sent Esc, so it can end its turn and write its transcript; [`HUNG_GRACE`] later it is
    /// respawned with its conversation. The event log says each step.
    pub(super) fn hung_jobs(&mut self, now: Millis) -> Vec<OpJob> {
        if !self.config.agent.restart_hung || !self.mode.acts() {
            return Vec::new();
        }
        let Some(obs) = &self.last else {
            return Vec::new();
        };
        // Hung now, or sent Esc earlier (then respawned after the grace, whatever the Esc did:
        // a turn that stalled once is started again from its transcript).
        let hung: Vec<(usize, Cause, crate::tmux::Pane)> = obs
            .slots
            .iter()
            .filter(|s| s.owned && self.layout.slots[s.slot].supervised())
            .filter(|s| {
                s.state == State::Hung
                    || self
                        .memory
                        .slot(&self.layout.slots[s.slot].name)
                        .is_some_and(|m| m.hung_interrupt.is_some())
            })
            .filter_map(|s| Some((s.slot, s.cause.clone(), s.pane.clone()?)))
            .collect();
        let mut jobs = Vec::new();
        for (slot, cause, pane) in hung {
            let name = self.layout.slots[slot].name.clone();
            let m = self.memory.slot_mut(&name);
            if m.in_flight.is_some() {
                continue;
            }
            match m.hung_interrupt {
                None => {
                    m.hung_interrupt = Some(now);
                    self.memory.push(
                        now,
                        EventKind::Info,
                        &name,
                        format!("{name} is hung ({cause}): interrupting it (Esc)"),
                    );
                    jobs.push(OpJob {
                        host: self.host_of(&name),
                        name,
                        kind: OpKind::Interrupt(pane.pane_id),
                        manual: false,
                    });
                }
                Some(at) if now.saturating_sub(at) >= HUNG_GRACE => {
                    m.hung_interrupt = None;
                    self.memory.push(
                        now,
                        EventKind::Info,
                        &name,
                        format!(
                            "{name}: {} after the interrupt, respawning it with its conversation",
                            short_age(now.saturating_sub(at))
                        ),
                    );
                    let launch = self.launch(slot, false, now);
                    self.begin_start(&name, Action::Respawn, Some(pane.pane_pid), now);
                    jobs.push(OpJob {
                        host: self.host_of(&name),
                        name,
                        kind: OpKind::Respawn {
                            pane_id: pane.pane_id,
                            launch,
                        },
                        manual: false,
                    });
                }
                Some(_) => {}
            }
        }
        jobs
    }

    /// What the next start of slot `name` would be, without starting it: the confirm of the
    /// operator's `r` says it. `None` for a slot that runs no known agent.
    pub fn next_agent_start(&self, name: &str, fresh: bool, now: Millis) -> Option<Start> {
        let slot = &self.layout.slots[self.layout.slot(name)?];
        slot.agent?;
        let last = self.memory.slot(name).and_then(|m| m.agent.as_ref());
        let transcript = self
            .agents
            .transcripts
            .get(name)
            .filter(|(id, _)| last.is_some_and(|l| &l.id == id))
            .map(|(_, t)| t);
        Some(session::next_start(last, transcript, fresh, now))
    }

    /// What a start of slot `slot` runs. For an agent slot the conversation is decided and
    /// remembered first (so a supervisor that dies right after still knows the id), and the
    /// event log says which it is.
    pub(super) fn launch(&mut self, slot: usize, fresh: bool, now: Millis) -> Launch {
        let s = &self.layout.slots[slot];
        let mut launch = Launch {
            name: s.name.clone(),
            workdir: s.workdir.clone(),
            command: s.command.clone(),
            env: s.env.clone(),
        };
        let name = s.name.clone();
        let Some(start) = self.next_agent_start(&name, fresh, now) else {
            return launch;
        };
        // `env` runs the command: assignments in front of the program are its environment,
        // in one tmux call (no secret is among them).
        let mut command = Vec::new();
        if let Some(files) = &self.agents.files {
            command.push(format!("TMUX_SUPERVISOR_SLOT={name}"));
            command.push(format!(
                "TMUX_SUPERVISOR_STATE_DIR={}",
                files.state_dir.display()
            ));
        }
        command.append(&mut launch.command);
        if let Some(settings) = self.agents.files.as_ref().and_then(|f| f.settings.clone()) {
            command.push("--settings".to_string());
            command.push(settings.display().to_string());
        }
        command.extend(start.flags());
        launch.command = command;
        let m = self.memory.slot_mut(&name);
        let transcript = match (&start, &m.agent) {
            (Start::Resume { .. }, Some(a)) => a.transcript.clone(),
            _ => None,
        };
        m.agent = Some(AgentSession {
            id: start.id().to_string(),
            resumed: start.resumed(),
            started_at: Some(now),
            transcript,
        });
        self.memory.push(
            now,
            EventKind::Info,
            &name,
            format!("{name}: {}", start.describe()),
        );
        launch
    }

    /// The agent's own hooks name its conversation (a `/clear` starts a new one; a session
    /// the supervisor did not start tells it here first): the memory follows them.
    pub(super) fn follow_hook_sessions(&mut self, obs: &Observation) {
        for s in &obs.slots {
            let slot = &self.layout.slots[s.slot];
            if slot.agent.is_none() {
                continue;
            }
            let Some(rec) = &s.hook else { continue };
            let Some(id) = rec.session_id.as_deref().filter(|id| session::is_id(id)) else {
                continue;
            };
            let m = self.memory.slot_mut(&slot.name);
            match &mut m.agent {
                Some(a) if a.id == id => {
                    if rec.transcript_path.is_some() {
                        a.transcript.clone_from(&rec.transcript_path);
                    }
                }
                other => {
                    *other = Some(AgentSession {
                        id: id.to_string(),
                        resumed: false,
                        started_at: None,
                        transcript: rec.transcript_path.clone(),
                    });
                }
            }
        }
    }
}

/// The latest hook event of every slot and pane, by where it belongs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookRecords {
    /// Slot name → its record (the agent ran with `TMUX_SUPERVISOR_SLOT`).
    pub by_slot: HashMap<String, HookRecord>,
    /// Pane id (`%N`) → its record (hooks installed for a session the supervisor did not
    /// start).
    pub by_pane: HashMap<String, HookRecord>,
}

impl HookRecords {
    pub fn new(records: Vec<HookRecord>) -> Self {
        let mut out = HookRecords::default();
        for r in records {
            let map = match (&r.slot, &r.pane) {
                (Some(s), _) => out.by_slot.entry(s.clone()),
                (None, Some(p)) => out.by_pane.entry(p.clone()),
                (None, None) => continue,
            };
            match map {
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    if e.get().at_ms < r.at_ms {
                        e.insert(r);
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(r);
                }
            }
        }
        out
    }
}
