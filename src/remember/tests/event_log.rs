//! Remember tests: what reaches the event log, once: strays, and live sessions that die,
//! vanish or end.

use super::*;

#[test]
fn strays_are_logged_once_while_they_stay() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    for t in 0..3 {
        poll(
            &layout,
            &cfg,
            &mut mem,
            vec![pane("ccl-auto0", 1)],
            &HashMap::new(),
            NOW + t,
        );
    }
    poll(&layout, &cfg, &mut mem, vec![], &HashMap::new(), NOW + 10);
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto0", 1)],
        &HashMap::new(),
        NOW + 20,
    );
    let n = mem
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Stray)
        .count();
    assert_eq!(n, 2);
}
#[test]
fn a_live_session_that_dies_or_vanishes_is_logged() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    let live = vec![
        pane("ccl-auto-11", 1),
        pane("ccl-auto-12", 2),
        pane("ccl-3", 3),
    ];
    poll(&layout, &cfg, &mut mem, live, &HashMap::new(), NOW);
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![dead(pane("ccl-auto-11", 1), 3)],
        &HashMap::new(),
        NOW + 1000,
    );
    let texts: Vec<(EventKind, String)> = mem
        .events
        .iter()
        .map(|e| (e.kind, e.text.clone()))
        .collect();
    let texts: Vec<(EventKind, &str)> = texts.iter().map(|(k, t)| (*k, t.as_str())).collect();
    assert!(
        texts.contains(&(EventKind::Failed, "ccl-auto-11: died, exit 3")),
        "{texts:?}"
    );
    assert!(
        texts.contains(&(EventKind::Failed, "ccl-auto-12: session vanished")),
        "{texts:?}"
    );
    assert!(
        texts.contains(&(EventKind::Info, "ccl-3: session ended")),
        "{texts:?}"
    );
    // Logged once, not on every poll.
    let n = texts.len();
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![dead(pane("ccl-auto-11", 1), 3)],
        &HashMap::new(),
        NOW + 2000,
    );
    assert_eq!(mem.events.len(), n);
}
