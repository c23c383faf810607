//! `agent: claude` on the real client: a crashed agent comes back with its conversation
//! (`--resume` and the same id, and the mock sees the earlier prompt again), and without its
//! transcript it starts fresh under a new id and the event says why.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;

use crate::claude_slot::{ClaudeSlot, SlotOptions};
use crate::common::process::signal;

fn agent_slot() -> ClaudeSlot {
    ClaudeSlot::start(SlotOptions {
        pool_yaml: "agent: claude".to_string(),
        ..SlotOptions::default()
    })
}

fn conversation(m: &Value) -> (String, bool) {
    (
        m["agent"]["id"].as_str().unwrap_or_default().to_string(),
        m["agent"]["resumed"] == true,
    )
}

/// Where the client keeps the transcript of conversation `id` (in the slot's HOME).
fn transcript(slot: &ClaudeSlot, id: &str) -> PathBuf {
    slot.claude
        .config_dir()
        .join("projects")
        .join(tmux_supervisor::claude::session::project_dir_name(
            &slot.dir,
        ))
        .join(format!("{id}.jsonl"))
}

/// Whether the transcript at `path` has the user's prompt `text` as a message: then there
/// is a conversation for `--resume` to bring back.
fn has_prompt(path: &Path, text: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| {
        t.lines().any(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| {
                v["type"] == "user" && v["message"]["content"].to_string().contains(text)
            })
        })
    })
}

/// The client's command line in the slot's pane, as the process shows it.
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

#[test]
fn a_crashed_agent_comes_back_with_its_conversation() {
    let slot = agent_slot();
    slot.wait_state("idle");
    let (id, resumed) = conversation(&slot.memory());
    assert!(!id.is_empty() && !resumed, "{}", slot.memory());
    let pid = slot.pane_pid().unwrap();
    assert!(
        cmdline(pid).contains(&format!("--session-id {id}")),
        "{}",
        cmdline(pid)
    );

    let prompt = "remember the word pelican, then be slow 20";
    slot.submit(prompt);
    slot.mock.wait_for(
        "the answer streaming",
        crate::common::process::PATIENCE,
        |_| slot.mock.main_stream_open(),
    );
    slot.wait_state("working");
    slot.wait_memory("the daemon has seen it working", |m| {
        m["last_state"] == "working"
    });
    // The client appends to its transcript through a write queue, and the prompt's line lands
    // some 300 ms after Enter, when the answer is already streaming and the hook has said
    // `working`. Killed before that, the file has only the title and mode lines: `--resume`
    // then says "No conversation found with session ID" and exits 1, and the supervisor
    // rightly starts fresh. The crash here is of a conversation that exists.
    let file = transcript(&slot, &id);
    slot.wait_memory("the transcript has the prompt", |_| {
        has_prompt(&file, prompt)
    });
    signal(pid, "KILL");
    let killed = Instant::now();
    slot.wait_events("failed (crashed while working), then recovered", |ev| {
        let failed = ev
            .iter()
            .position(|(k, t)| k == "failed" && t.contains("crashed while working"));
        failed.is_some_and(|i| ev[i..].iter().any(|(k, _)| k == "recovered"))
    });
    let m = slot.wait_memory("the conversation resumed", |m| {
        conversation(m) == (id.clone(), true)
    });
    eprintln!("resumed {:?} after SIGKILL: {m}", killed.elapsed());
    let events = slot.events();
    assert!(
        events
            .iter()
            .any(|(_, t)| t.ends_with(&format!("resuming conversation {}", &id[..8]))),
        "{events:?}"
    );
    slot.wait_screen("the resumed client's prompt", "? for shortcuts");
    let new_pid = slot.pane_pid().unwrap();
    assert_ne!(new_pid, pid);
    let line = cmdline(new_pid);
    assert!(
        line.contains(&format!("--resume {id}")),
        "{line}\n{:?}\n{}",
        slot.events(),
        slot.screen()
    );
    assert!(!line.contains("--session-id"), "{line}");
    let check = slot.check();
    assert_eq!(check["agent_session_id"], id.as_str(), "{check}");
    assert_eq!(check["resumed"], true, "{check}");
    assert_eq!(check["agent"], "claude", "{check}");
    // The conversation really came back: the next request carries the earlier prompt.
    let next = slot.submit("what was the word?");
    assert!(
        next.carries("remember the word pelican"),
        "{:?}",
        next.user_prompts()
    );
}

#[test]
fn without_its_transcript_an_agent_starts_fresh_and_the_event_says_why() {
    let slot = agent_slot();
    slot.wait_state("idle");
    let (id, _) = conversation(&slot.memory());
    slot.submit("hello");
    slot.wait_screen("the answer", "✻");
    let file = transcript(&slot, &id);
    slot.wait_memory("the transcript exists", |_| file.is_file());
    std::fs::remove_file(&file).unwrap();
    // The poll that sees the agent dead also looks for its transcript.
    let pid = slot.pane_pid().unwrap();
    signal(pid, "KILL");
    let m = slot.wait_memory("a fresh conversation", |m| {
        let (now, resumed) = conversation(m);
        !now.is_empty() && now != id && !resumed
    });
    let (fresh, _) = conversation(&m);
    let events = slot.events();
    assert!(
        events.iter().any(|(_, t)| t.contains(&format!(
            "fresh conversation {}: no transcript for {}",
            &fresh[..8],
            &id[..8]
        ))),
        "{events:?}"
    );
    slot.wait_screen("the new client's prompt", "? for shortcuts");
    let line = cmdline(slot.pane_pid().unwrap());
    assert!(line.contains(&format!("--session-id {fresh}")), "{line}");
    assert!(!line.contains("--resume"), "{line}");
}
