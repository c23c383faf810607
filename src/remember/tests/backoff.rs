//! Remember tests: a healthy streak resets the backoff, and a slot given up on stays failed.

use super::*;

#[test]
fn healthy_streak_resets_the_backoff() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    *mem.slot_mut("ccl-auto-11") = SlotMemory {
        restarts: 4,
        last_start: Some(NOW),
        ..SlotMemory::default()
    };
    let reset = cfg.backoff.reset_after.as_millis() as i64;
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1)],
        &HashMap::new(),
        NOW,
    );
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1)],
        &HashMap::new(),
        NOW + reset - 1,
    );
    assert_eq!(mem.slot("ccl-auto-11").unwrap().restarts, 4);
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1)],
        &HashMap::new(),
        NOW + reset,
    );
    assert_eq!(mem.slot("ccl-auto-11").unwrap().restarts, 0);
}
#[test]
fn gave_up_stays_failed() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    mem.slot_mut("ccl-auto-11").gave_up = true;
    mem.slot_mut("ccl-auto-11").restarts = 3;
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![dead(pane("ccl-auto-11", 1), 3)],
        &HashMap::new(),
        NOW,
    );
    let st = state_of(&obs, &layout, "ccl-auto-11");
    assert_eq!(st.state, State::Failed);
    assert!(
        st.reason().starts_with("gave up after 3 restarts"),
        "{}",
        st.reason()
    );
}
