//! Tests of the state file and the lock: round trips, broken files, symlinks planted in the
//! state dir, forgetting slots that left the config.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::memory::EventKind;
use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};

/// A file outside the state dir, for symlinks to point at.
struct Target {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Target {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("precious");
        fs::write(&path, "precious\n").unwrap();
        Target { _dir: dir, path }
    }

    fn assert_unchanged(&self) {
        assert_eq!(fs::read_to_string(&self.path).unwrap(), "precious\n");
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

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
    assert_eq!(names(&dir.path().join("state")), ["state-L-test.json"]);
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
    let aside: Vec<_> = names(dir.path())
        .into_iter()
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert_eq!(aside.len(), 1);
}

#[test]
fn an_earlier_corrupt_file_of_the_same_second_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), "default");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Whatever second the load falls in, its move-aside name is taken.
    for t in now..now + 5 {
        fs::write(
            dir.path().join(format!("state-default.json.corrupt-{t}")),
            "earlier",
        )
        .unwrap();
    }
    fs::write(&store.path, b"{\"slots\": ").unwrap();
    let (_, warn) = store.load();
    assert!(warn.unwrap().0.contains("moved aside"));
    let kept: Vec<String> = names(dir.path())
        .into_iter()
        .filter(|n| n.ends_with("-2"))
        .collect();
    assert_eq!(kept.len(), 1, "{:?}", names(dir.path()));
    assert_eq!(
        fs::read_to_string(dir.path().join(&kept[0])).unwrap(),
        "{\"slots\": "
    );
    for t in now..now + 5 {
        let p = dir.path().join(format!("state-default.json.corrupt-{t}"));
        assert_eq!(fs::read_to_string(p).unwrap(), "earlier");
    }
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
    assert_eq!(a.lock_holder(), Some(std::process::id()));
    assert!(Store::new(dir.path(), "L-two").lock().unwrap().is_some());
    drop(first);
    assert!(a.lock().unwrap().is_some());
}

#[test]
fn a_symlinked_lock_file_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::new();
    let store = Store::new(dir.path(), "k");
    symlink(&target.path, &store.lock_path).unwrap();
    let e = store.lock().unwrap_err();
    assert!(statedir::is_not_followed(&e), "{e}");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_eq!(store.lock_holder(), None);
    target.assert_unchanged();
}

#[test]
fn the_temp_file_of_a_save_is_never_a_planted_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::new();
    let store = Store::new(dir.path(), "k");
    // The name the temp file once had, predictable from the pid.
    let planted = dir
        .path()
        .join(format!(".state-k.json.tmp-{}", std::process::id()));
    symlink(&target.path, &planted).unwrap();
    let mut m = Memory::default();
    m.slot_mut("a").restarts = 1;
    store.save(&m).unwrap();
    target.assert_unchanged();
    assert!(fs::symlink_metadata(&store.path).unwrap().is_file());
    assert_eq!(store.load().0.slot("a").unwrap().restarts, 1);
    assert!(fs::symlink_metadata(&planted).unwrap().is_symlink());
    assert_eq!(names(dir.path()).len(), 2, "{:?}", names(dir.path()));
}

#[test]
fn a_symlinked_state_file_is_neither_read_nor_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::new();
    fs::write(&target.path, br#"{"slots": {"a": {"restarts": 4}}}"#).unwrap();
    let store = Store::new(dir.path(), "k");
    symlink(&target.path, &store.path).unwrap();
    let (m, warn) = store.load();
    assert_eq!(m, Memory::default());
    let warn = warn.unwrap().0;
    assert!(
        warn.contains("cannot read the state file") && warn.contains("symbolic link"),
        "{warn}"
    );
    assert_eq!(store.peek(), Memory::default());
    store.save(&Memory::default()).unwrap();
    assert_eq!(
        fs::read_to_string(&target.path).unwrap(),
        r#"{"slots": {"a": {"restarts": 4}}}"#
    );
    assert!(fs::symlink_metadata(&store.path).unwrap().is_file());
}

#[test]
fn a_symlinked_copy_of_a_newer_file_is_not_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::new();
    let store = Store::new(dir.path(), "k");
    let newer = br#"{"version": 7, "slots": {"a": {"restarts": 2}}}"#;
    fs::write(&store.path, newer).unwrap();
    let copy = dir.path().join("state-k.json.v7");
    symlink(&target.path, &copy).unwrap();
    let (m, warn) = store.load();
    assert_eq!(m.slot("a").unwrap().restarts, 2);
    assert!(warn.unwrap().0.contains("a copy is kept"));
    target.assert_unchanged();
    assert!(fs::symlink_metadata(&copy).unwrap().is_file());
    assert_eq!(fs::read(&copy).unwrap(), newer);
}

#[test]
fn slots_that_left_the_config_are_forgotten_at_load_and_their_events_stay() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), "k");
    let mut m = Memory::default();
    for i in 0..3000 {
        m.slot_mut(&format!("s-{i}")).restarts = 1;
    }
    m.push(1, EventKind::Created, "s-2999", "created");
    m.push(2, EventKind::Created, "s-0", "created");
    store.save(&m).unwrap();
    let five: Vec<String> = (0..5).map(|i| format!("s-{i}")).collect();
    let store = store.keeping_slots(five.clone());
    let (m, warn) = store.load();
    assert_eq!(warn, None);
    assert_eq!(m.slots.keys().cloned().collect::<Vec<_>>(), five);
    assert_eq!(m.events.len(), 2);
    store.save(&m).unwrap();
    let saved: serde_json::Value = serde_json::from_slice(&fs::read(&store.path).unwrap()).unwrap();
    assert_eq!(saved["slots"].as_object().unwrap().len(), 5);
    assert_eq!(saved["events"][0]["name"], "s-2999");
}

#[test]
fn the_memory_of_an_earlier_version_is_read_once_where_it_was_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = legacy_key(Some("agents.1"), None, None);
    assert_eq!(key, "L-agents_1");
    assert_eq!(
        legacy_key(None, None, Some("/tmp/tmux-0/default,42,0")),
        "S-_tmp_tmux-0_default"
    );
    assert_eq!(legacy_key(None, None, None), "default");
    let old = r#"{"version": 1, "slots": {"a-0": {"restarts": 2, "started_before": true,
        "last_session": "$3"}, "gone": {}}, "events": []}"#;
    fs::write(dir.path().join(format!("state-{key}.json")), old).unwrap();
    let store = Store::new(dir.path(), "new-key")
        .with_legacy(dir.path(), &key)
        .keeping_slots(["a-0".to_string()]);
    let (m, warning) = store.load();
    assert!(warning.unwrap().0.contains("an earlier tmux-supervisor"));
    assert_eq!(m.loaded_version, 1);
    assert_eq!(m.slot("a-0").unwrap().restarts, 2);
    assert!(m.slot("gone").is_none());
    assert_eq!(store.peek().slot("a-0").unwrap().restarts, 2);
    // Once the new file exists, the old one is no longer read.
    store.save(&Memory::default()).unwrap();
    let (m, warning) = store.load();
    assert!(warning.is_none());
    assert!(m.slot("a-0").is_none());
    // A file of this layout or newer under the old name is not taken.
    let newer = Store::new(dir.path(), "other").with_legacy(dir.path(), "newer");
    fs::write(dir.path().join("state-newer.json"), r#"{"version": 2}"#).unwrap();
    assert_eq!(newer.load(), (Memory::default(), None));
}

#[test]
fn an_earlier_version_holding_its_lock_keeps_this_one_observing() {
    let dir = tempfile::tempdir().unwrap();
    let key = legacy_key(Some("agents"), None, None);
    let old = fs::File::create(dir.path().join(format!("lock-{key}"))).unwrap();
    old.try_lock().unwrap();
    let store = Store::new(dir.path(), "new-key").with_legacy(dir.path(), &key);
    assert!(store.lock().unwrap().is_none(), "both would act");
    drop(old);
    let lock = store.lock().unwrap();
    assert!(lock.is_some());
    // The earlier version's lock is only tried, not kept: it could start again.
    let again = fs::File::open(dir.path().join(format!("lock-{key}"))).unwrap();
    again.try_lock().unwrap();
}
