//! Agent conditions on the real client (`agent: claude`): a subscriber's 429 is `limited`
//! with the reset time the client shows, never restarted nor counted as a crash; a stalled
//! stream is `hung`, and with `on_hung: restart` it comes back with its conversation; Esc
//! during a turn ends `idle` ("interrupted").

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::claude_client::Auth;
use crate::claude_mock::{MockOptions, Reset};
use crate::claude_slot::{ClaudeSlot, SlotOptions};

fn reason(s: &Value) -> &str {
    s["reason"].as_str().unwrap_or_default()
}

#[test]
fn a_subscribers_limit_is_limited_until_its_reset_and_never_restarted() {
    // A reset on a whole minute, two hours on (the client shows minutes).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset = now / 60 * 60 + 7200;
    let until = jiff::Timestamp::from_second(reset as i64)
        .unwrap()
        .to_string();
    let slot = ClaudeSlot::start(SlotOptions {
        auth: Auth::OAuth,
        mock: MockOptions {
            ratelimit_reset: Reset::At(reset),
            ..MockOptions::default()
        },
        env: vec![("TZ".into(), "UTC".into())],
        pool_yaml: "agent: claude".to_string(),
        ..SlotOptions::default()
    });
    slot.wait_state("idle");
    slot.submit("ratelimit");
    let s = slot.wait_state("limited");
    assert_eq!(s["limited_until"], until.as_str(), "{s}");
    // A countdown of the two hours (less the time the test took to get here), and the line
    // that said it.
    let r = reason(&s);
    assert!(
        (r.starts_with("limit resets in 1h5") || r.starts_with("limit resets in 2h00m"))
            && r.contains("You've hit your session limit"),
        "{s}"
    );
    // Limited for 30 s: no restart, no crash, whatever the client shows meanwhile.
    let since = Instant::now();
    while since.elapsed() < Duration::from_secs(30) {
        let s = slot.check();
        assert_eq!(s["state"], "limited", "after {:?}: {s}", since.elapsed());
        assert_eq!(s["restarts"], 0, "{s}");
        std::thread::sleep(Duration::from_secs(1));
    }
    let m = slot.memory();
    assert_eq!(m["total_restarts"], 0, "{m}");
    assert!(m["failed"].is_null(), "{m}");
}

#[test]
fn a_stalled_stream_is_hung_and_on_hung_restart_brings_it_back_with_its_conversation() {
    let slot = ClaudeSlot::start(SlotOptions {
        pool_yaml: "agent: claude".to_string(),
        config_yaml: "agent:\n  hung_after: 10s\n  on_hung: restart\n".to_string(),
        ..SlotOptions::default()
    });
    slot.wait_state("idle");
    let id = slot.memory()["agent"]["id"].as_str().unwrap().to_string();
    let asked = Instant::now();
    slot.submit("hang 120");
    let s = slot.wait_check("hung within 15 s", |s| s["state"] == "hung");
    let took = asked.elapsed();
    eprintln!("hung after {took:?}: {}", reason(&s));
    assert!(took < Duration::from_secs(15), "{took:?}");
    let events = slot.wait_events("interrupted, then respawned with its conversation", |ev| {
        ev.iter().any(|(_, t)| t.contains("interrupting it (Esc)"))
            && ev
                .iter()
                .any(|(_, t)| t.ends_with(&format!("resuming conversation {}", &id[..8])))
    });
    eprintln!("{events:?}");
    let m = slot.wait_memory("resumed with the same id", |m| {
        m["agent"]["id"] == id.as_str() && m["agent"]["resumed"] == true
    });
    assert_eq!(m["agent"]["id"], id.as_str());
    slot.wait_screen("the resumed client's prompt", "? for shortcuts");
}

#[test]
fn esc_during_a_turn_ends_idle_interrupted() {
    let slot = ClaudeSlot::start(SlotOptions {
        pool_yaml: "agent: claude".to_string(),
        ..SlotOptions::default()
    });
    slot.wait_state("idle");
    slot.submit("please be slow 30");
    slot.wait_check("working", |s| s["state"] == "working");
    slot.wait_screen("the answer streaming", "esc to interrupt");
    slot.keys(&["Escape"]);
    let esc = Instant::now();
    let s = slot.wait_check("idle, interrupted", |s| {
        s["state"] == "idle" && reason(s) == "interrupted"
    });
    // busy_window (3 s) and one poll (250 ms), with room for a check to run.
    let took = esc.elapsed();
    eprintln!("interrupted {took:?} after Esc: {s}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}
