//! Remember tests: a slot that stops while working is a crash, and its failure mark lasts
//! until a new session appears; a wrapper or a program run at the prompt is not a crash.

use super::*;

#[test]
fn a_wrapper_that_stops_working_did_not_crash_but_an_agent_replaced_by_its_shell_did() {
    let mut cfg = production().0;
    cfg.pools[1].command = vec!["sh".into(), "run-agent.sh".into()];
    let layout = Layout::new(&cfg);
    let mut mem = Memory::default();
    let busy: HashMap<String, String> = [("%1".to_string(), "(esc to interrupt)".to_string())]
        .into_iter()
        .collect();
    // Wrapped: working inside the wrapper's shell, then quiet: idle, no crash.
    let wrapped = vec![quiet(pane("ccl-auto-11", 1))];
    poll(&layout, &cfg, &mut mem, wrapped.clone(), &busy, NOW);
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        wrapped,
        &HashMap::new(),
        NOW + 1000,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-11").state, State::Idle);
    assert!(mem.slot("ccl-auto-11").unwrap().failed.is_none());
    // The login shell of a manual slot, where `claude` ran in the foreground and worked, then
    // the shell came back: crashed while working.
    let agent = vec![quiet(running(pane("ccl-3", 3), "claude"))];
    let busy3: HashMap<String, String> = [("%3".to_string(), "(esc to interrupt)".to_string())]
        .into_iter()
        .collect();
    poll(&layout, &cfg, &mut mem, agent, &busy3, NOW + 2000);
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![quiet(pane("ccl-3", 3))],
        &HashMap::new(),
        NOW + 3000,
    );
    let st = state_of(&obs, &layout, "ccl-3");
    assert_eq!(st.state, State::Failed, "{}", st.reason());
    assert!(
        st.reason().contains("crashed while working"),
        "{}",
        st.reason()
    );
    // A program the operator ran at the prompt (`make`), busy printing, then back to the
    // shell: it finished, nothing crashed, and nothing is restarted.
    let busy = Pane {
        window_activity: (NOW + 4000) / 1000,
        ..running(pane("ccl-auto-12", 12), "make")
    };
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![busy],
        &HashMap::new(),
        NOW + 4000,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-12").state, State::Working);
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![quiet(pane("ccl-auto-12", 12))],
        &HashMap::new(),
        NOW + 5000,
    );
    let st = state_of(&obs, &layout, "ccl-auto-12");
    assert_eq!(st.state, State::Idle, "{}", st.reason());
    assert!(mem.slot("ccl-auto-12").unwrap().failed.is_none());
}
#[test]
fn working_then_shell_is_a_crash_but_idle_then_shell_is_not() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    let mut caps = HashMap::new();
    caps.insert("%1".to_string(), "esc to interrupt".to_string());
    let working = running(pane("ccl-auto-11", 1), "claude");
    let idle = quiet(running(pane("ccl-auto-12", 2), "claude"));
    poll(&layout, &cfg, &mut mem, vec![working, idle], &caps, NOW);
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1), pane("ccl-auto-12", 2)],
        &HashMap::new(),
        NOW + 1000,
    );
    let a = state_of(&obs, &layout, "ccl-auto-11");
    assert_eq!(a.state, State::Failed);
    assert!(
        a.reason().contains("crashed while working"),
        "{}",
        a.reason()
    );
    let b = state_of(&obs, &layout, "ccl-auto-12");
    assert_eq!((b.state, b.reason().as_str()), (State::Idle, "shell"));
    assert!(mem.events.iter().any(|e| e.kind == EventKind::Failed
        && e.name == "ccl-auto-11"
        && e.text.contains("crashed while working")));
    // The mark stays on later polls of the same session.
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-auto-11", 1)],
        &HashMap::new(),
        NOW + 2000,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-auto-11").state, State::Failed);
}
#[test]
fn working_then_vanished_is_failed_until_a_new_session_appears() {
    let (cfg, layout) = production();
    let mut mem = Memory::default();
    let mut caps = HashMap::new();
    caps.insert("%1".to_string(), "esc to interrupt".to_string());
    poll(
        &layout,
        &cfg,
        &mut mem,
        vec![running(pane("ccl-3", 1), "claude")],
        &caps,
        NOW,
    );
    let obs = poll(&layout, &cfg, &mut mem, vec![], &HashMap::new(), NOW + 1000);
    assert_eq!(state_of(&obs, &layout, "ccl-3").state, State::Failed);
    let obs = poll(
        &layout,
        &cfg,
        &mut mem,
        vec![pane("ccl-3", 9)],
        &HashMap::new(),
        NOW + 2000,
    );
    assert_eq!(state_of(&obs, &layout, "ccl-3").state, State::Idle);
}
