//! A fake `tmux` on PATH (`tests/fake-tmux/tmux`): records every argv, and either answers
//! by itself or passes the call on to the real tmux (see the script for its modes).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::TestServer;
use super::process::Home;

/// The real tmux binary, found on PATH.
pub fn real_tmux() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("tmux"))
                .find(|f| f.is_file())
        })
        .expect("tmux on PATH")
}

/// `tests/fake-tmux/tmux`, wrapped in a per-test `tmux` script that fixes its mode, version
/// and argv log (no environment variables to pass around).
pub struct FakeTmux {
    dir: tempfile::TempDir,
}

impl FakeTmux {
    pub fn new(mode: &str) -> Self {
        Self::with_version(mode, "tmux 3.3a")
    }

    pub fn with_version(mode: &str, version: &str) -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake-tmux/tmux");
        let log = dir.path().join("calls.log");
        let script = format!(
            "#!/bin/sh\n\
             FAKE_TMUX_MODE='{mode}'\n\
             FAKE_TMUX_VERSION='{version}'\n\
             FAKE_TMUX_LOG='{}'\n\
             FAKE_TMUX_REAL='{}'\n\
             export FAKE_TMUX_MODE FAKE_TMUX_VERSION FAKE_TMUX_LOG FAKE_TMUX_REAL\n\
             exec '{}' \"$@\"\n",
            log.display(),
            real_tmux().display(),
            fake.display()
        );
        let program = dir.path().join("tmux");
        std::fs::write(&program, script).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeTmux { dir }
    }

    /// Where the argv of every call is recorded (mode `freeze` puts the frozen server's pid
    /// beside it, in `calls.log.frozen`).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    pub fn program(&self) -> PathBuf {
        self.dir.path().join("tmux")
    }

    /// PATH with this fake first.
    pub fn path_env(&self) -> OsString {
        let rest = std::env::var_os("PATH").unwrap_or_default();
        std::env::join_paths(
            std::iter::once(self.dir.path().to_path_buf()).chain(std::env::split_paths(&rest)),
        )
        .unwrap()
    }

    /// The binary pointed at `server` with this fake as its `tmux`.
    pub fn command(&self, home: &Home, server: &TestServer, config: &Path) -> Command {
        let mut c = home.command(server, config);
        c.env("PATH", self.path_env());
        c
    }

    /// Every argv the fake received, in order.
    pub fn calls(&self) -> Vec<Vec<String>> {
        let bytes = std::fs::read(self.dir.path().join("calls.log")).unwrap_or_default();
        bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut args: Vec<String> = l
                    .split(|&b| b == 0x1f)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                args.pop(); // after the last separator
                args
            })
            .collect()
    }

    /// Calls whose argv contains `word`.
    pub fn calls_with(&self, word: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.iter().any(|a| a == word))
            .count()
    }
}
