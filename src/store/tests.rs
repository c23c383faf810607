//! Tests of the state file and the lock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::memory::EventKind;
use std::os::unix::fs::PermissionsExt as _;

#[test]
fn save_then_load_round_trips_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(&dir.path().join("state"), "L-test");
    let mut m = Memory::default();
    m.slot_mut("ccl-auto-11").restarts = 3;
    m.push(5, EventKind::Created, "ccl-auto-11", "created");
    store.save(&m).unwrap();
    let mode = fs::metadata(&store.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (back, warn) = store.load();
    assert_eq!(warn, None);
    assert_eq!(back.slot("ccl-auto-11").unwrap().restarts, 3);
    assert_eq!(back.events.len(), 1);
}

#[test]
fn corrupt_file_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), "default");
    fs::write(&store.path, b"{\"slots\": {\"x\": ").unwrap();
    let (m, warn) = store.load();
    assert_eq!(m, Memory::default());
    assert!(warn.unwrap().0.contains("corrupt"));
    assert!(!store.path.exists());
    let aside: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert_eq!(aside.len(), 1);
}

#[test]
fn newer_file_with_unknown_fields_loads_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), "default");
    fs::write(
        &store.path,
        br#"{"version": 9, "future": true, "slots": {"a": {"restarts": 2, "shiny": 1}}}"#,
    )
    .unwrap();
    let (m, warn) = store.load();
    assert_eq!(m.slot("a").unwrap().restarts, 2);
    assert!(warn.unwrap().0.contains("newer"));
    let copy = fs::read_to_string(dir.path().join("state-default.json.v9")).unwrap();
    assert!(copy.contains("shiny"), "{copy}");
}

#[test]
fn second_lock_on_the_same_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::new(dir.path(), "L-one");
    let first = a.lock().unwrap();
    assert!(first.is_some());
    assert!(a.lock().unwrap().is_none());
    assert!(Store::new(dir.path(), "L-two").lock().unwrap().is_some());
    drop(first);
    assert!(a.lock().unwrap().is_some());
}

#[test]
fn server_keys_are_file_safe() {
    assert_eq!(server_key(Some("a b/c"), None), "L-a_b_c");
    assert_eq!(
        server_key(None, Some(Path::new("/tmp/x.sock"))),
        "S-_tmp_x_sock"
    );
}
