//! The real binary's `hooks install|uninstall|status` on a settings file in a temp home, and
//! (in `record`) its `hook` as Claude Code runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "hooks_cli/record.rs"]
mod record;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tmux-supervisor");

const USERS: &str = r#"{
  "model": "opus",
  "hooks": {
    "Stop": [{"hooks": [{"type": "command", "command": "notify-send 'Claude is done'"}]}],
    "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/audit.sh"}]}]
  },
  "permissions": {"allow": ["Bash(ls:*)"]}
}
"#;

/// The binary with a private home (and no config, tmux or Claude Code settings of the caller).
pub(crate) fn bin(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env_remove("TMUX_SUPERVISOR_CONFIG")
        .env_remove("TMUX_SUPERVISOR_SLOT")
        .env_remove("TMUX_SUPERVISOR_STATE_DIR")
        .env_remove("CLAUDE_CONFIG_DIR")
        .stdin(Stdio::null());
    c
}

fn hooks(home: &Path, args: &[&str]) -> Output {
    bin(home).arg("hooks").args(args).output().unwrap()
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

#[test]
fn install_merges_is_idempotent_and_uninstall_removes_exactly_ours() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".claude/settings.json");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, USERS).unwrap();
    assert_eq!(hooks(home.path(), &["status"]).status.code(), Some(1));
    let out = hooks(home.path(), &["install"]);
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains("installed the hooks for 9 events"));
    let doc = json(&file);
    assert_eq!(doc["model"], "opus");
    assert_eq!(doc["permissions"]["allow"][0], "Bash(ls:*)");
    assert_eq!(
        doc["hooks"]["Stop"][0]["hooks"][0]["command"],
        "notify-send 'Claude is done'"
    );
    let ours = doc["hooks"]["Stop"][1]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    assert_eq!(
        ours,
        format!("'{BIN}' hook Stop"),
        "the default state dir is not named"
    );
    let merged = fs::read(&file).unwrap();
    // Twice: nothing changes, and it says so.
    let out = hooks(home.path(), &["install"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("already installed"), "{out:?}");
    assert_eq!(fs::read(&file).unwrap(), merged);
    let out = hooks(home.path(), &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(&format!("executable {BIN}: exists")));
    let out = hooks(home.path(), &["uninstall"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("removed 9 hooks"), "{out:?}");
    assert_eq!(json(&file), serde_json::from_str::<Value>(USERS).unwrap());
    // The first backup holds the file as it was.
    let backups: Vec<PathBuf> = fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("settings.json.bak-"))
        .collect();
    assert_eq!(backups.len(), 2, "one before install, one before uninstall");
    assert!(
        backups
            .iter()
            .any(|b| fs::read_to_string(b).unwrap() == USERS)
    );
}

#[test]
fn install_follows_claude_config_dir_and_names_a_state_dir_that_is_not_the_default() {
    let home = tempfile::tempdir().unwrap();
    let claude = home.path().join("claude-config");
    let state = home.path().join("my state");
    let config = home.path().join("config.yaml");
    fs::write(&config, format!("state_dir: {}\n", state.display())).unwrap();
    let out = bin(home.path())
        .env("CLAUDE_CONFIG_DIR", &claude)
        .args(["-c", config.to_str().unwrap(), "hooks", "install"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc = json(&claude.join("settings.json"));
    let command = doc["hooks"]["SessionEnd"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    let words = shlex::split(command).unwrap();
    assert_eq!(
        words,
        [
            BIN,
            "hook",
            "--state-dir",
            state.to_str().unwrap(),
            "SessionEnd"
        ]
    );
    // --settings-file wins over CLAUDE_CONFIG_DIR.
    let other = home.path().join("other.json");
    let out = bin(home.path())
        .env("CLAUDE_CONFIG_DIR", &claude)
        .args([
            "hooks",
            "status",
            "--settings-file",
            other.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("other.json"), "{out:?}");
}

#[test]
fn an_invalid_settings_file_is_refused_and_left_byte_for_byte() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".claude/settings.json");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    let bad = "{\n  \"hooks\": {\n    \"Stop\": [\n  }\n";
    fs::write(&file, bad).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o604)).unwrap();
    for action in ["install", "uninstall", "status"] {
        let out = hooks(home.path(), &[action]);
        assert_eq!(out.status.code(), Some(2), "{action}: {out:?}");
        let err = text(&out.stderr);
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert!(
            err.contains("not valid JSON") && err.contains("line 4 column"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(fs::read_to_string(&file).unwrap(), bad);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o604
    );
    assert_eq!(
        fs::read_dir(file.parent().unwrap()).unwrap().count(),
        1,
        "no backup, no temp"
    );
}

#[test]
fn the_man_page_and_help_list_the_hook_commands() {
    let home = tempfile::tempdir().unwrap();
    let man = bin(home.path()).arg("man").output().unwrap();
    assert!(man.status.success());
    let page = text(&man.stdout);
    for sub in [r"tmux\-supervisor\-hook(1)", r"tmux\-supervisor\-hooks(1)"] {
        assert!(page.contains(sub), "{sub} not in {page}");
    }
    let help = bin(home.path()).args(["hooks", "--help"]).output().unwrap();
    for action in ["install", "uninstall", "status", "--settings-file"] {
        assert!(text(&help.stdout).contains(action), "{action}");
    }
}
