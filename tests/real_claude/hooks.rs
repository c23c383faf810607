//! `agent: claude` on the real client: its own hooks (through the `--settings` file the
//! supervisor passes) decide idle, working, waiting and done, and `check --json` says so.

use serde_json::Value;

use crate::claude_slot::{ClaudeSlot, SlotOptions};

fn reason(s: &Value) -> &str {
    s["reason"].as_str().unwrap_or_default()
}

#[test]
fn the_agents_hooks_decide_its_state() {
    let slot = ClaudeSlot::start(SlotOptions {
        pool_yaml: "agent: claude".to_string(),
        ..SlotOptions::default()
    });
    let s = slot.wait_check("idle, said by the SessionStart hook", |s| {
        s["state"] == "idle" && reason(s).starts_with("hook SessionStart")
    });
    assert_eq!(s["last_hook"]["event"], "SessionStart", "{s}");

    slot.submit("please be slow 8");
    slot.wait_check("working, said by the UserPromptSubmit hook", |s| {
        s["state"] == "working" && reason(s).starts_with("hook UserPromptSubmit")
    });
    let s = slot.wait_check("done, said by the Stop hook", |s| {
        s["state"] == "idle" && reason(s).starts_with("hook Stop")
    });
    eprintln!("done: {}", reason(&s));

    slot.submit("run a tool");
    slot.wait_screen("the Bash permission prompt", "Do you want to proceed?");
    let s = slot.wait_check("waiting, said by the PermissionRequest hook", |s| {
        s["state"] == "waiting" && reason(s).starts_with("hook PermissionRequest")
    });
    assert!(reason(&s).ends_with(": Bash"), "{s}");
}
