//! Tests of the hook records: bounds, file names, and the events dir under hostile files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::time::{Duration, Instant};

const KEY: &str = "_tmp_tmux-1000_default";

fn rec(slot: Option<&str>, pane: Option<&str>, at_ms: u64) -> HookRecord {
    HookRecord {
        event: "Stop".into(),
        at_ms,
        session_id: Some("6296b6d1-ffde-4168-ae9a-2e6ad7dd4e15".into()),
        slot: slot.map(Into::into),
        pane: pane.map(Into::into),
        ..HookRecord::default()
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn mkfifo(p: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        p,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        0,
    )
    .unwrap();
}

#[test]
fn text_is_stripped_and_cut_and_bad_paths_dropped() {
    let long = "x".repeat(TEXT_MAX + 50);
    let r = HookRecord {
        event: "Stop\u{1b}[2J".into(),
        message: Some(format!("line1\nline2\u{7}\u{202E}evil\u{200B} {long}")),
        tool_name: Some("\u{1b}\u{7}".into()),
        transcript_path: Some(format!("/{}", "p".repeat(PATH_MAX))),
        cwd: Some("/tmp/a\nb".into()),
        ..rec(Some("ccl-auto-11"), Some("%3"), 1)
    }
    .bounded();
    assert_eq!(r.event, "Stop[2J");
    let m = r.message.unwrap();
    assert!(m.starts_with("line1 line2evil xxx"), "{m}");
    assert_eq!(m.chars().count(), TEXT_MAX);
    assert!(m.ends_with('…'));
    assert_eq!(r.tool_name, None, "nothing left");
    assert_eq!(r.transcript_path, None, "too long: dropped, never cut");
    assert_eq!(r.cwd, None, "a control character in a path");
    assert_eq!(r.slot.as_deref(), Some("ccl-auto-11"));
}

#[test]
fn files_are_named_after_a_valid_slot_else_the_pane() {
    assert_eq!(
        rec(Some("ccl-auto-11"), Some("%3"), 1)
            .file_name()
            .as_deref(),
        Some("slot-ccl-auto-11.json")
    );
    for bad in [
        "../x",
        "a/b",
        "a.b",
        "",
        "a b",
        "a:b",
        &"s".repeat(SLOT_MAX + 1),
    ] {
        let r = rec(Some(bad), Some("%12"), 1);
        assert_eq!(r.file_name().as_deref(), Some("pane-12.json"), "{bad:?}");
        assert_eq!(r.clone().bounded().slot, None, "{bad:?}");
    }
    for bad in ["3", "%", "%3a", "%-1", "%../1", "%12345678901"] {
        assert_eq!(rec(None, Some(bad), 1).file_name(), None, "{bad:?}");
    }
}

#[test]
fn a_record_is_kept_private_and_read_back() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("new/state");
    let r = HookRecord {
        tool_name: Some("Bash".into()),
        ..rec(Some("ccl-auto-11"), Some("%3"), 10)
    };
    record(&state_dir, KEY, &r).unwrap();
    let dir = events_dir(&state_dir, KEY);
    assert_eq!(mode(&state_dir), 0o700);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("slot-ccl-auto-11.json")), 0o600);
    record(&state_dir, KEY, &rec(None, Some("%4"), 11)).unwrap();
    let loaded = scan(&state_dir, KEY);
    assert_eq!(loaded.skipped, vec![]);
    assert_eq!(loaded.records, vec![rec(None, Some("%4"), 11), r]);
    // Another server's records are apart.
    assert_eq!(load(&state_dir, "_tmp_other"), vec![]);
}

#[test]
fn an_older_event_never_replaces_a_newer_one() {
    let state = tempfile::tempdir().unwrap();
    let newer = HookRecord {
        event: "PreToolUse".into(),
        ..rec(Some("s"), None, 20)
    };
    record(state.path(), KEY, &newer).unwrap();
    record(state.path(), KEY, &rec(Some("s"), None, 19)).unwrap();
    assert_eq!(load(state.path(), KEY), vec![newer]);
    record(state.path(), KEY, &rec(Some("s"), None, 21)).unwrap();
    assert_eq!(load(state.path(), KEY)[0].event, "Stop");
}

#[test]
fn nothing_is_recorded_without_a_place_or_with_a_bad_key() {
    let state = tempfile::tempdir().unwrap();
    let e = record(state.path(), KEY, &rec(None, None, 1)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    for key in ["", "../x", "a/b", "a b"] {
        assert!(record(state.path(), key, &rec(Some("s"), None, 1)).is_err());
    }
    assert_eq!(fs::read_dir(state.path()).unwrap().count(), 0);
}

#[test]
fn a_symlinked_events_dir_is_neither_written_nor_read() {
    let state = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::write(elsewhere.path().join("slot-s.json"), "{}").unwrap();
    symlink(elsewhere.path(), events_dir(state.path(), KEY)).unwrap();
    assert!(record(state.path(), KEY, &rec(Some("s"), None, 1)).is_err());
    assert_eq!(
        fs::read_to_string(elsewhere.path().join("slot-s.json")).unwrap(),
        "{}"
    );
    let loaded = scan(state.path(), KEY);
    assert_eq!(loaded.records, vec![]);
    assert!(
        loaded.skipped[0].why.contains("not a directory"),
        "{loaded:?}"
    );
    // A dir others may write to is refused too.
    fs::remove_file(events_dir(state.path(), KEY)).unwrap();
    record(state.path(), KEY, &rec(Some("s"), None, 1)).unwrap();
    let dir = events_dir(state.path(), KEY);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    assert!(record(state.path(), KEY, &rec(Some("s"), None, 2)).is_err());
    assert!(scan(state.path(), KEY).skipped[0].why.contains("writable"));
}

#[test]
fn planted_files_are_skipped_without_hanging_or_writing_through() {
    let state = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    record(state.path(), KEY, &rec(Some("good"), None, 1)).unwrap();
    let dir = events_dir(state.path(), KEY);
    mkfifo(&dir.join("slot-fifo.json"));
    let precious = outside.path().join("precious");
    fs::write(&precious, "precious").unwrap();
    symlink(&precious, dir.join("slot-link.json")).unwrap();
    fs::write(dir.join("slot-corrupt.json"), "{nope").unwrap();
    let spoof = serde_json::to_vec(&rec(Some("other"), None, 1)).unwrap();
    fs::write(dir.join("slot-spoof.json"), spoof).unwrap();
    fs::File::create(dir.join("pane-1.json"))
        .unwrap()
        .set_len(MAX_FILE_BYTES + 1)
        .unwrap();
    fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let started = Instant::now();
    let loaded = scan(state.path(), KEY);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(loaded.records, vec![rec(Some("good"), None, 1)]);
    let why = |f: &str| {
        loaded
            .skipped
            .iter()
            .find(|s| s.file.ends_with(f))
            .map_or_else(|| panic!("{f} not reported: {loaded:?}"), |s| s.why.clone())
    };
    assert!(why("slot-fifo.json").contains("not a regular file"));
    assert!(why("slot-link.json").contains("symbolic link"));
    assert!(why("slot-corrupt.json").contains("not a hook record"));
    assert!(why("slot-spoof.json").contains("slot-other.json"));
    assert!(why("pane-1.json").contains("bigger than"));
    assert_eq!(loaded.skipped.len(), 5);
    // Recording over the FIFO and the symlink replaces them; the target is untouched.
    for slot in ["fifo", "link"] {
        record(state.path(), KEY, &rec(Some(slot), None, 5)).unwrap();
    }
    assert_eq!(fs::read_to_string(&precious).unwrap(), "precious");
    assert_eq!(scan(state.path(), KEY).records.len(), 3);
}

#[test]
fn a_permission_notification_keeps_the_tool_its_request_named() {
    let dir = tempfile::tempdir().unwrap();
    let asked = HookRecord {
        event: "PermissionRequest".into(),
        tool_name: Some("Bash".into()),
        ..rec(Some("cc-1"), None, 1000)
    };
    record(dir.path(), KEY, &asked).unwrap();
    let told = HookRecord {
        event: "Notification".into(),
        notification_type: Some("permission_prompt".into()),
        message: Some("Claude needs your permission".into()),
        ..rec(Some("cc-1"), None, 7000)
    };
    record(dir.path(), KEY, &told).unwrap();
    let got = load(dir.path(), KEY);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event, "Notification");
    assert_eq!(got[0].tool_name.as_deref(), Some("Bash"));
    // Another conversation's request lends it nothing.
    let other = HookRecord {
        session_id: Some("9f8e7d6c-0000-4000-8000-000000000002".into()),
        ..told.clone()
    };
    let d2 = tempfile::tempdir().unwrap();
    record(d2.path(), KEY, &asked).unwrap();
    record(
        d2.path(),
        KEY,
        &HookRecord {
            at_ms: 8000,
            ..other
        },
    )
    .unwrap();
    assert_eq!(load(d2.path(), KEY)[0].tool_name, None);
}
