//! End to end against the real Claude Code client, offline: a supervised slot on a private
//! tmux server runs it against the project's mock of the Messages API, driven by `send-keys`,
//! and `check --json` is asked what the slot is doing. Built only with `--features
//! real-claude` (see the README); the mock's own tests run here too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/claude_client.rs"]
mod claude_client;
#[path = "common/claude_mock/mod.rs"]
mod claude_mock;
#[path = "common/claude_slot.rs"]
mod claude_slot;
mod common;
#[path = "real_claude/conditions.rs"]
mod conditions;
#[path = "real_claude/hooks.rs"]
mod hooks;
#[path = "real_claude/sessions.rs"]
mod sessions;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use claude_client::Auth;
use claude_mock::{MockOptions, Outcome, Request, Reset};
use claude_slot::{ClaudeSlot, SLOT, SlotOptions};
use common::process::{PATIENCE, signal};
use serde_json::Value;

fn reason(s: &Value) -> &str {
    s["reason"].as_str().unwrap_or_default()
}

/// The last main-loop request the mock answered ended this way.
fn last_main_ended(log: &[Request], outcome: Outcome) -> bool {
    log.iter()
        .rev()
        .find(|r| r.is_main())
        .is_some_and(|r| r.outcome == outcome)
}

#[test]
fn the_slot_config_is_valid_with_more_pool_keys_and_sections() {
    let home = common::process::Home::new();
    let env = std::collections::BTreeMap::from([("HOME".to_string(), "/x y/\"q\"".to_string())]);
    let yaml = claude_slot::slot_config(
        std::path::Path::new("/tmp/a dir: with # odd"),
        &["env".into(), "-u".into(), "X".into(), "/bin/sleep".into()],
        &env,
        "min: 1",
        "agent:\n  busy_window: 2s\n",
    );
    let config = home.config(&yaml);
    let out = home
        .command_without_server(&config, &home.log())
        .arg("config")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{yaml}\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("keep alive: 1 of 1") && text.contains("workdir: /tmp/a dir: with # odd"),
        "{text}"
    );
}

#[test]
fn idle_at_the_prompt_working_while_it_streams_idle_when_done() {
    let slot = ClaudeSlot::start(SlotOptions::default());
    let s = slot.wait_state("idle");
    assert_eq!(s["command"], "claude", "tmux names the client claude: {s}");

    slot.submit("please be slow 6");
    slot.mock.wait_for("the answer streaming", PATIENCE, |_| {
        slot.mock.main_stream_open()
    });
    let s = slot.wait_state("working");
    assert!(
        slot.mock.main_stream_open(),
        "the stream had ended before check said working: {s}"
    );

    slot.mock
        .wait_for("the answer streamed to its end", PATIENCE, |log| {
            last_main_ended(log, Outcome::Done)
        });
    slot.wait_screen("the turn's end", "Working slowly on it.");
    slot.wait_state("idle");

    // The conversation goes on in the same client: the next turn carries the first prompt.
    let next = slot.submit("and now hello");
    assert!(
        next.carries("please be slow 6"),
        "the second turn lost the first: {:?}",
        next.user_prompts()
    );
    slot.wait_screen("the second answer", "Nothing to do.");
    slot.wait_state("idle");
}

#[test]
fn a_permission_prompt_is_waiting_and_stays_waiting_then_the_tool_run_is_working() {
    // A tool that runs long enough for a check to see it running on a loaded machine.
    let slot = ClaudeSlot::start(SlotOptions {
        mock: MockOptions {
            tool_command: "sleep 6 && touch mock_tool_ran.txt && echo hello-from-mock".into(),
            ..MockOptions::default()
        },
        ..SlotOptions::default()
    });
    slot.wait_state("idle");
    slot.submit("run a tool");
    slot.wait_screen("the Bash permission prompt", "Do you want to proceed?");
    let s = slot.wait_state("waiting");
    eprintln!("waiting: {}", reason(&s));

    // Still waiting 10 s later, and at every check in between: nobody answered.
    let since = Instant::now();
    while since.elapsed() < Duration::from_secs(10) {
        let s = slot.check();
        assert_eq!(s["state"], "waiting", "after {:?}: {s}", since.elapsed());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(slot.screen().contains("Do you want to proceed?"));

    slot.keys(&["1"]);
    slot.wait_screen("the tool running", "Running…");
    let s = slot.wait_state("working");
    let ran = slot.dir.join("mock_tool_ran.txt");
    assert!(
        !ran.exists() && slot.screen().contains("Running…"),
        "the tool had ended before check said working: {s}"
    );
    eprintln!("working while the tool runs: {}", reason(&s));

    slot.mock.wait_for("the tool's result", PATIENCE, |log| {
        log.iter().any(|r| {
            r.is_main()
                && r.plan.as_ref().is_some_and(|p| p.tool_result)
                && r.outcome == Outcome::Done
        })
    });
    assert!(
        ran.exists(),
        "the mock got a tool result but the tool did not run"
    );
    slot.wait_screen("the answer after the tool", "Tool finished.");
    slot.wait_state("idle");
}

#[test]
fn an_esc_interrupt_ends_idle() {
    let slot = ClaudeSlot::start(SlotOptions::default());
    slot.wait_state("idle");
    slot.submit("please be slow 20");
    slot.mock.wait_for("the answer streaming", PATIENCE, |_| {
        slot.mock.main_stream_open()
    });
    slot.wait_state("working");
    slot.keys(&["Escape"]);
    let esc = Instant::now();
    slot.wait_screen("the interrupt", "Interrupted");
    slot.mock
        .wait_for("the client closing the stream", PATIENCE, |log| {
            last_main_ended(log, Outcome::ClientGone)
        });
    let s = slot.wait_state("idle");
    eprintln!("idle {:?} after Esc: {}", esc.elapsed(), reason(&s));
}

#[test]
fn sigkill_while_working_is_failed_then_the_slot_is_recreated_fresh() {
    let slot = ClaudeSlot::start(SlotOptions::default());
    slot.wait_state("idle");
    slot.submit("please be slow 20");
    slot.mock.wait_for("the answer streaming", PATIENCE, |_| {
        slot.mock.main_stream_open()
    });
    slot.wait_state("working");
    slot.wait_memory("the daemon has seen it working", |m| {
        m["last_state"] == "working"
    });
    let pid = slot.pane_pid().unwrap();
    signal(pid, "KILL");
    let killed = Instant::now();

    // The daemon marks it failed and restarts it within milliseconds (tmux's pane-died hook
    // wakes it), and the new client's start clears the mark: the daemon's own record is the
    // witness, not a check that would have to land in between.
    let events = slot.wait_events("failed (crashed while working), then recovered", |ev| {
        // tmux 3.3a may not have the signal yet when the daemon acts (it loses SIGCHLD at
        // times, tmux#311): "pane dead" alone is the truth then.
        let failed = ev.iter().position(|(k, t)| {
            k == "failed"
                && (t.ends_with("crashed while working (pane dead, signal 9)")
                    || t.ends_with("crashed while working (pane dead)"))
        });
        failed.is_some_and(|i| ev[i..].iter().any(|(k, _)| k == "recovered"))
    });
    eprintln!("events: {events:?}");
    slot.wait_check("a new client in the slot", |s| {
        s["present"] == true
            && s["command"] == "claude"
            && slot.pane_pid().is_some_and(|p| p != pid)
    });
    slot.wait_screen("the new client's prompt", "? for shortcuts");
    eprintln!("recreated {:?} after SIGKILL", killed.elapsed());
    assert_eq!(slot.memory()["restarts"], 1, "{}", slot.memory());
    let s = slot.wait_state("idle");
    eprintln!("then: {}", reason(&s));
    // A pool without an agent of its own recreates a fresh client: a new conversation.
    let first = slot.submit("hello after the crash");
    assert!(
        !first.carries("please be slow 20"),
        "{:?}",
        first.user_prompts()
    );
    eprintln!("after the recreate: {}", reason(&slot.check()));
}

/// Waits until the screen shows `needle`, then says what check makes of the slot once its
/// output has settled (issue 13 gives these their own state).
fn note(slot: &ClaudeSlot, what: &str, needle: &str) {
    slot.wait_screen(what, needle);
    let s = slot.wait_check("the output settled", |s| {
        s["state"] != "working" || reason(s).starts_with("pattern")
    });
    eprintln!("{what}: {} ({})", s["state"], reason(&s));
}

#[test]
fn the_mocks_errors_reach_the_client_with_an_api_key() {
    let slot = ClaudeSlot::start(SlotOptions::default());
    slot.wait_state("idle");
    slot.submit("overloaded");
    note(&slot, "retrying on 529", "Retrying in");
    slot.keys(&["Escape"]);
    // Esc before any output puts the prompt back in the input box. (A key sent right after
    // Esc would make the two one Alt key.)
    slot.wait_screen_until("the retries given up", |s| !s.contains("esc to interrupt"));
    slot.keys(&["C-u"]);
    slot.wait_screen("the prompt cleared", "? for shortcuts");
    slot.submit("ratelimit");
    note(
        &slot,
        "a 429 with an API key",
        "API Error: Request rejected (429)",
    );
    let r = slot.mock.last_main().unwrap();
    assert_eq!(r.status, 429);
    assert!(
        r.header("x-api-key")
            .is_some_and(|k| k.starts_with("sk-ant-api03"))
    );
    // A stalled stream: the client keeps its working line while nothing comes.
    slot.submit("hang 20");
    slot.mock.wait_for("the stream stalled", PATIENCE, |_| {
        slot.mock.main_stream_open()
    });
    note(&slot, "a stalled stream", "esc to interrupt");
    let line = slot
        .screen()
        .lines()
        .find(|l| l.contains('…'))
        .map(str::to_string);
    eprintln!("its working line: {line:?}");
}

#[test]
fn the_mocks_rate_limit_reaches_a_subscriber_with_its_reset_time() {
    // A reset on a whole minute that is not on the hour, two hours on, shown in UTC.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut reset = now / 60 * 60 + 7200;
    if (reset / 60).is_multiple_of(60) {
        reset += 60;
    }
    let (h, m) = (reset / 3600 % 24, reset / 60 % 60);
    let shown = format!(
        "resets {}:{m:02}{} (UTC)",
        if h % 12 == 0 { 12 } else { h % 12 },
        if h < 12 { "am" } else { "pm" }
    );
    let slot = ClaudeSlot::start(SlotOptions {
        auth: Auth::OAuth,
        mock: MockOptions {
            ratelimit_reset: Reset::At(reset),
            ..MockOptions::default()
        },
        env: vec![("TZ".into(), "UTC".into())],
        ..SlotOptions::default()
    });
    slot.wait_screen("the subscriber's header", "Claude Max");
    slot.wait_state("idle");
    slot.submit("ratelimit");
    note(
        &slot,
        "the session limit",
        &format!("You've hit your session limit · {shown}"),
    );
    note(&slot, "the rate-limit menu", "What do you want to do?");
    let r = slot.mock.last_main().unwrap();
    assert_eq!(r.status, 429);
    assert!(
        r.header("authorization")
            .is_some_and(|a| a.starts_with("Bearer sk-an")),
        "{:?}",
        r.headers
    );
    assert!(r.header("x-api-key").is_none(), "{:?}", r.headers);
}

#[test]
fn the_clients_redraws_at_its_prompt_are_not_work() {
    // tmux's default: the client then shows a hint under its footer about 10 s after it
    // starts and takes it away about 9 s later, with its title still `✳` (idle).
    let slot = ClaudeSlot::start(SlotOptions {
        focus_events: false,
        ..SlotOptions::default()
    });
    slot.wait_state("idle");
    for (what, shown) in [
        ("the focus-events hint shown", true),
        ("the hint gone", false),
    ] {
        slot.wait_screen_until(what, |s| s.contains("focus-events off") == shown);
        let s = slot.check();
        assert_eq!(s["state"], "idle", "{what}: {s}");
    }
}

#[test]
fn idle_when_done_stays_idle_through_the_clients_late_redraw() {
    let slot = ClaudeSlot::start(SlotOptions::default());
    slot.wait_state("idle");
    let log = slot.dir.join("pane-output.log");
    let pipe = format!("exec cat >> '{}'", log.display());
    slot.server
        .tmux_ok(&["pipe-pane", "-t", &format!("={SLOT}:"), &pipe]);
    slot.submit("hello");
    slot.wait_screen("the answer", "Nothing to do.");
    slot.wait_state("idle");
    // About 6 s after a turn the client redraws its footer once (the effort hint goes).
    let quiet = std::fs::metadata(&log).map_or(0, |m| m.len());
    slot.wait_screen_until("the client's late redraw", |_| {
        std::fs::metadata(&log).is_ok_and(|m| m.len() > quiet)
    });
    let s = slot.check();
    assert_eq!(s["state"], "idle", "{s}");
}
