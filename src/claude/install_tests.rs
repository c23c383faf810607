//! Tests of installing our hooks into a settings file on disk: backups, modes, symlinks, and
//! files that are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::os::unix::fs::symlink;

const USERS: &str = r#"{
  "permissions": { "defaultMode": "default" },
  "hooks": {
    "Stop": [ { "hooks": [ { "type": "command", "command": "notify-send done" } ] } ]
  },
  "theme": "dark"
}
"#;

/// A fake installed executable and a state dir that is not the default.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let s = Setup {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(s.path().join("bin")).unwrap();
        fs::write(s.exe(), "#!/bin/sh\n").unwrap();
        fs::set_permissions(s.exe(), fs::Permissions::from_mode(0o755)).unwrap();
        s
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn exe(&self) -> PathBuf {
        self.path().join("bin/tmux-supervisor")
    }
    fn state(&self) -> PathBuf {
        self.path().join("state")
    }
    fn backups(dir: &Path) -> Vec<PathBuf> {
        let mut b: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".bak-"))
            .collect();
        b.sort();
        b
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn install_backs_up_keeps_the_mode_and_is_idempotent() {
    let s = Setup::new();
    let file = s.path().join("settings.json");
    fs::write(&file, USERS).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
    let said = install_exe(&file, &s.exe(), &s.state()).unwrap();
    assert!(
        said.starts_with("installed the hooks for 9 events"),
        "{said}"
    );
    let backups = Setup::backups(s.path());
    assert_eq!(backups.len(), 1);
    assert_eq!(fs::read_to_string(&backups[0]).unwrap(), USERS);
    assert_eq!(mode(&backups[0]), 0o640);
    assert_eq!(mode(&file), 0o640);
    let doc: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc["theme"], "dark");
    assert_eq!(
        doc["hooks"]["Stop"][0]["hooks"][0]["command"],
        "notify-send done"
    );
    let ours = doc["hooks"]["Stop"][1]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    let words = shlex::split(ours).unwrap();
    assert_eq!(
        words[..4],
        [
            s.exe().to_str().unwrap(),
            "hook",
            "--state-dir",
            s.state().to_str().unwrap()
        ]
    );
    let bytes = fs::read(&file).unwrap();
    let again = install_exe(&file, &s.exe(), &s.state()).unwrap();
    assert!(again.contains("already installed"), "{again}");
    assert_eq!(fs::read(&file).unwrap(), bytes);
    assert_eq!(
        Setup::backups(s.path()).len(),
        1,
        "no backup when nothing changes"
    );
    // Uninstall gives back the user's document.
    let said = uninstall(&file).unwrap();
    assert!(said.starts_with("removed 9 hooks"), "{said}");
    let back: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(USERS).unwrap());
    assert!(uninstall(&file).unwrap().contains("nothing changed"));
}

#[test]
fn a_missing_file_is_created_private_and_status_follows() {
    let s = Setup::new();
    let file = s.path().join("new/.claude/settings.json");
    let (text, all) = status(&file).unwrap();
    assert!(!all);
    assert!(text.contains("there is no such file"), "{text}");
    install_exe(&file, &s.exe(), &s.state()).unwrap();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        Setup::backups(file.parent().unwrap()),
        Vec::<PathBuf>::new()
    );
    let (text, all) = status(&file).unwrap();
    assert!(all, "{text}");
    assert!(text.contains("exists"), "{text}");
    fs::remove_file(s.exe()).unwrap();
    let (text, all) = status(&file).unwrap();
    assert!(!all);
    assert!(text.contains("MISSING"), "{text}");
}

#[test]
fn status_names_each_missing_event() {
    let s = Setup::new();
    let file = s.path().join("settings.json");
    let cmd = format!("{} hook Stop", settings::quote(s.exe().to_str().unwrap()));
    let doc =
        serde_json::json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": cmd}]}]}});
    fs::write(&file, doc.to_string()).unwrap();
    let (text, all) = status(&file).unwrap();
    assert!(!all);
    let line = |e: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(e))
            .unwrap()
            .to_owned()
    };
    assert!(line("Stop ").contains("hook Stop"), "{text}");
    assert!(line("PreToolUse").ends_with("missing"), "{text}");
}

#[test]
fn invalid_files_are_refused_byte_for_byte() {
    let s = Setup::new();
    let file = s.path().join("settings.json");
    for (bad, says) in [
        ("{\n  \"hooks\": {\n    \"Stop\": [,]\n", "line 3 column"),
        ("[1, 2]", "not a JSON object"),
        ("{\"hooks\": {\"Stop\": {}}}", "`hooks.Stop` is not a list"),
        ("// comment\n{}", "not valid JSON"),
    ] {
        fs::write(&file, bad).unwrap();
        for e in [
            install_exe(&file, &s.exe(), &s.state()).unwrap_err(),
            uninstall(&file).unwrap_err(),
            status(&file).unwrap_err(),
        ] {
            assert!(e.contains(&file.display().to_string()), "{e}");
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        assert_eq!(fs::read_to_string(&file).unwrap(), bad);
        assert_eq!(Setup::backups(s.path()), Vec::<PathBuf>::new());
    }
    // A FIFO is not read (nor waited on).
    fs::remove_file(&file).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&file)
            .status()
            .unwrap()
            .success()
    );
    let e = install_exe(&file, &s.exe(), &s.state()).unwrap_err();
    assert!(e.contains("not a regular file"), "{e}");
}

#[test]
fn a_symlinked_file_is_changed_where_it_points() {
    let s = Setup::new();
    let dotfiles = s.path().join("dotfiles");
    fs::create_dir(&dotfiles).unwrap();
    let real = dotfiles.join("claude-settings.json");
    fs::write(&real, USERS).unwrap();
    let link = s.path().join("settings.json");
    symlink(&real, &link).unwrap();
    install_exe(&link, &s.exe(), &s.state()).unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let doc: Value = serde_json::from_slice(&fs::read(&real).unwrap()).unwrap();
    assert_eq!(settings::ours_by_event(&doc).unwrap().len(), 9);
    // The backup is next to the link, a plain file; nothing else lands in the dotfiles.
    let backups = Setup::backups(s.path());
    assert_eq!(backups.len(), 1);
    assert!(fs::symlink_metadata(&backups[0]).unwrap().is_file());
    assert_eq!(fs::read_dir(&dotfiles).unwrap().count(), 1);
    // A dangling link is refused.
    fs::remove_file(&real).unwrap();
    let e = install_exe(&link, &s.exe(), &s.state()).unwrap_err();
    assert!(e.contains("does not exist"), "{e}");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}
