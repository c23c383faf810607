//! Remember tests: memory from a state file older than panes adopts, once, the single pane
//! of the session it saw last.

use super::*;

#[test]
fn memory_from_before_panes_were_recorded_adopts_the_single_pane_it_saw_last() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    for (name, session) in [
        ("ccl-auto-11", "$1"),
        ("ccl-auto-12", "$2"),
        ("ccl-auto-13", "$3"),
    ] {
        let m = mem.slot_mut(name);
        m.started_before = true;
        m.last_session = Some(session.into());
    }
    mem.loaded_version = 1;
    adopt_panes_of_old_memory(&mut mem);
    let split = Pane {
        pane_id: "%20".into(),
        ..pane("ccl-auto-13", 3)
    };
    let panes = vec![
        dead(pane("ccl-auto-11", 1), 1),
        // Not the session it saw last: someone else's.
        dead(pane("ccl-auto-12", 7), 1),
        // Two panes: which one it started is not known.
        dead(pane("ccl-auto-13", 3), 1),
        split,
    ];
    let obs = poll(&layout, &cfg, &mut mem, panes, &HashMap::new(), NOW);
    let owned = |n: &str| state_of(&obs, &layout, n).owned;
    assert!(owned("ccl-auto-11"));
    assert!(!owned("ccl-auto-12"));
    assert!(!owned("ccl-auto-13"));
    assert_eq!(
        mem.slot("ccl-auto-11")
            .unwrap()
            .pane
            .as_ref()
            .unwrap()
            .pane_id,
        "%1"
    );
    // Only once, at the first poll.
    assert!(mem.slots.values().all(|m| !m.adopt_last_session));
}
