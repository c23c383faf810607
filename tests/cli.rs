//! The command line that needs no config or tmux server: `--version` (with the tmux it
//! found), `completions bash|zsh|fish` and `man`, each checked by the tool that reads it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], path: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tmux-supervisor"));
    c.args(args)
        .env_remove("TMUX")
        .env("TMUX_SUPERVISOR_CONFIG", "/nonexistent/config.yaml");
    if let Some(p) = path {
        c.env("PATH", p);
    }
    c.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn version_says_its_own_and_the_tmux_it_found() {
    // No config is read for it (the one named does not exist).
    let out = run(&["--version"], None);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(format!("tmux-supervisor {}", env!("CARGO_PKG_VERSION")).as_str())
    );
    let tmux = lines.next().unwrap();
    assert!(
        tmux.starts_with("tmux 3.") && tmux.ends_with("(on PATH)"),
        "{tmux}"
    );
    // Without tmux it says so, and still answers.
    let out = run(&["-V"], Some("/nonexistent"));
    assert!(out.status.success());
    assert!(stdout(&out).contains("tmux not found"), "{}", stdout(&out));
}

#[test]
fn bash_completions_parse_and_register() {
    let out = run(&["completions", "bash"], None);
    assert!(out.status.success());
    let script = tempfile::NamedTempFile::new().unwrap();
    script.as_file().write_all(&out.stdout).unwrap();
    let path = script.path().display().to_string();
    let check = Command::new("bash").args(["-n", &path]).output().unwrap();
    assert!(check.status.success(), "{check:?}");
    let registered = Command::new("bash")
        .args([
            "-c",
            &format!("source {path} && complete -p tmux-supervisor"),
        ])
        .output()
        .unwrap();
    assert!(registered.status.success(), "{registered:?}");
    assert!(stdout(&registered).contains("-F _tmux__supervisor tmux-supervisor"));
    // The subcommands are offered.
    let text = stdout(&out);
    for word in ["check", "daemon", "config", "completions", "man"] {
        assert!(text.contains(word), "{word}");
    }
}

#[test]
fn zsh_and_fish_completions_name_the_program() {
    for (shell, checker) in [("zsh", "zsh"), ("fish", "fish")] {
        let out = run(&["completions", shell], None);
        assert!(out.status.success(), "{shell}");
        let text = stdout(&out);
        assert!(
            text.contains("tmux-supervisor") && text.contains("daemon"),
            "{shell}"
        );
        if have(checker) {
            let script = tempfile::NamedTempFile::new().unwrap();
            script.as_file().write_all(&out.stdout).unwrap();
            let check = Command::new(checker)
                .args(["-n", &script.path().display().to_string()])
                .output()
                .unwrap();
            assert!(check.status.success(), "{shell}: {check:?}");
        }
    }
}

#[test]
fn the_man_page_renders() {
    let out = run(&["man"], None);
    assert!(out.status.success());
    let roff = stdout(&out);
    assert!(roff.contains(".TH tmux-supervisor 1"), "{roff}");
    assert!(roff.contains(&format!("tmux-supervisor {}", env!("CARGO_PKG_VERSION"))));
    if have("man") {
        let mut man = Command::new("man")
            .args(["-l", "-"])
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        man.stdin.take().unwrap().write_all(&out.stdout).unwrap();
        let shown = man.wait_with_output().unwrap();
        assert!(shown.status.success(), "{shown:?}");
        let text = stdout(&shown);
        assert!(
            text.contains("NAME") && text.contains("SUBCOMMANDS"),
            "{text}"
        );
    }
}
