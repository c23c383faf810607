//! Remember tests: an op of ours in flight shows the slot starting until the poll shows it
//! done, and is dropped after its timeout.

use super::*;

#[test]
fn in_flight_create_shows_starting_until_seen() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    mem.slot_mut("ccl-auto-11").in_flight = Some(InFlight {
        op: crate::memory::Action::Create,
        since: NOW,
        old_pane_pid: None,
    });
    let obs = poll(&layout, &cfg, &mut mem, vec![], &HashMap::new(), NOW + 500);
    assert_eq!(
        state_of(&obs, &layout, "ccl-auto-11").state,
        State::Starting
    );
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1)],
        &HashMap::new(),
        NOW + 1000,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-11").state, State::Idle);
    assert_eq!(mem.slot("ccl-auto-11").unwrap().in_flight, None);
}
#[test]
fn in_flight_times_out() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    mem.slot_mut("ccl-auto-11").in_flight = Some(InFlight {
        op: crate::memory::Action::Create,
        since: NOW,
        old_pane_pid: None,
    });
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![],
        &HashMap::new(),
        NOW + IN_FLIGHT_TIMEOUT_MS + 1,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-11").state, State::Missing);
    assert_eq!(mem.slot("ccl-auto-11").unwrap().in_flight, None);
}
