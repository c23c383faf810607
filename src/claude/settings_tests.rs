//! Tests of the hooks settings document and of merging it into a user's settings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn exe() -> &'static Path {
    Path::new("/opt/it's here/tmux-supervisor")
}

/// A user's settings with hooks of their own, one on an event we use too.
fn users() -> Value {
    serde_json::from_str(
        r#"{
          "permissions": {"defaultMode": "default", "allow": ["Bash(ls:*)"]},
          "hooks": {
            "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
            "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/audit.sh", "timeout": 10}]}]
          },
          "env": {"FOO": "1"}
        }"#,
    )
    .unwrap()
}

#[test]
fn the_document_has_one_quoted_command_per_event() {
    let doc = document(exe(), None);
    let hooks = doc["hooks"].as_object().unwrap();
    assert_eq!(hooks.keys().collect::<Vec<_>>(), EVENTS);
    let stop = &doc["hooks"]["Stop"][0]["hooks"][0];
    assert_eq!(stop["type"], "command");
    assert_eq!(stop["timeout"], TIMEOUT_SECS);
    assert_eq!(
        stop["command"],
        r"'/opt/it'\''s here/tmux-supervisor' hook Stop"
    );
    assert!(
        doc["hooks"]["Stop"][0].get("matcher").is_none(),
        "every matcher"
    );
    // The shell gives the path back whole.
    let words = shlex::split(stop["command"].as_str().unwrap()).unwrap();
    assert_eq!(words, ["/opt/it's here/tmux-supervisor", "hook", "Stop"]);
    let with_dir = document(exe(), Some(Path::new("/s d")));
    let words = shlex::split(
        with_dir["hooks"]["Stop"][0]["hooks"][0]["command"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        words.unwrap(),
        [
            "/opt/it's here/tmux-supervisor",
            "hook",
            "--state-dir",
            "/s d",
            "Stop"
        ]
    );
}

#[test]
fn ours_is_any_tmux_supervisor_running_hook() {
    for c in [
        "tmux-supervisor hook Stop",
        "/usr/local/bin/tmux-supervisor hook Stop",
        "'/a b/tmux-supervisor' hook --state-dir /x Stop",
        "\"$HOME/bin/tmux-supervisor\" hook",
    ] {
        assert!(is_ours(c), "{c}");
    }
    for c in [
        "tmux-supervisor check",
        "tmux-supervisor",
        "tmux-supervisor-old hook Stop",
        "env X=1 tmux-supervisor hook Stop",
        "notify-send tmux-supervisor hook",
        "'unterminated",
    ] {
        assert!(!is_ours(c), "{c}");
    }
}

#[test]
fn merging_keeps_everything_else_and_is_idempotent() {
    let mut doc = users();
    assert!(merge(&mut doc, &document(exe(), None)).unwrap());
    // The user's keys and hooks are where they were, ours last in each event.
    assert_eq!(
        doc.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["permissions", "hooks", "env"]
    );
    assert_eq!(doc["permissions"], users()["permissions"]);
    assert_eq!(doc["hooks"]["Stop"][0], users()["hooks"]["Stop"][0]);
    assert_eq!(
        doc["hooks"]["PreToolUse"][0],
        users()["hooks"]["PreToolUse"][0]
    );
    assert_eq!(doc["hooks"]["Stop"].as_array().unwrap().len(), 2);
    let ours = ours_by_event(&doc).unwrap();
    assert_eq!(ours.len(), EVENTS.len());
    let once = doc.clone();
    assert!(!merge(&mut doc, &document(exe(), None)).unwrap(), "twice");
    assert_eq!(doc, once);
    assert_eq!(
        serde_json::to_string(&doc).unwrap(),
        serde_json::to_string(&once).unwrap(),
        "even the order"
    );
}

#[test]
fn an_install_from_another_path_replaces_ours() {
    let mut doc = users();
    merge(&mut doc, &document(Path::new("/old/tmux-supervisor"), None)).unwrap();
    assert!(merge(&mut doc, &document(exe(), None)).unwrap());
    let ours = ours_by_event(&doc).unwrap();
    assert!(ours.iter().all(|(_, c)| c.len() == 1), "{ours:?}");
    assert!(ours.iter().all(|(_, c)| c[0].starts_with("'/opt/")));
}

#[test]
fn unmerging_removes_exactly_ours() {
    let mut doc = users();
    merge(&mut doc, &document(exe(), None)).unwrap();
    // One of ours stands in a group of the user's, by hand.
    doc["hooks"]["PreToolUse"][0]["hooks"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "command", "command": "tmux-supervisor hook PreToolUse"}));
    assert_eq!(unmerge(&mut doc).unwrap(), EVENTS.len() + 1);
    assert_eq!(
        doc,
        users(),
        "the user's group stays; the events we added go"
    );
    assert_eq!(unmerge(&mut doc).unwrap(), 0);
    // A file that had no hooks gets none back, but an empty list of the user's stays.
    let mut bare = json!({"model": "x", "hooks": {"Stop": [{"hooks": []}]}});
    merge(&mut bare, &document(exe(), None)).unwrap();
    unmerge(&mut bare).unwrap();
    assert_eq!(
        bare,
        json!({"model": "x", "hooks": {"Stop": [{"hooks": []}]}})
    );
    let mut none = json!({"model": "x"});
    merge(&mut none, &document(exe(), None)).unwrap();
    unmerge(&mut none).unwrap();
    assert_eq!(none, json!({"model": "x"}));
}

#[test]
fn a_document_of_the_wrong_shape_is_refused_unchanged() {
    let ours = document(exe(), None);
    for (bad, why) in [
        (json!([1]), Shape::NotObject),
        (json!({"hooks": []}), Shape::HooksNotObject),
        (
            json!({"hooks": {"Foo": {}}}),
            Shape::EventNotList("Foo".into()),
        ),
        (
            json!({"hooks": {"Stop": [3]}}),
            Shape::GroupNotObject("Stop".into(), 0),
        ),
        (
            json!({"hooks": {"Stop": [{"hooks": {}}]}}),
            Shape::EntriesNotList("Stop".into(), 0),
        ),
    ] {
        let mut doc = bad.clone();
        assert_eq!(merge(&mut doc, &ours), Err(why.clone()));
        assert_eq!(unmerge(&mut doc), Err(why.clone()));
        assert_eq!(check(&doc), Err(why));
        assert_eq!(doc, bad);
    }
    assert!(
        Shape::EntriesNotList("Stop".into(), 2)
            .to_string()
            .contains("`hooks.Stop[2].hooks`")
    );
}
