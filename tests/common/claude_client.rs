//! The real Claude Code client for tests: where it is installed, a HOME seeded so that it
//! starts with no dialog at all (onboarding done, the mock's API key approved, the working
//! directory trusted), and the environment that points it at the mock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The version `.ci/run` installs, and the one the captures in `shared/claude-mock` show.
pub const CLIENT_VERSION: &str = "2.1.197";
/// Names the client binary; else the npm install in [`default_bin`] is used.
pub const BIN_ENV: &str = "TMUX_SUPERVISOR_CLAUDE_BIN";
/// Fake credentials: the mock accepts anything, the client only needs their shape.
pub const API_KEY: &str = "sk-ant-api03-mock0000000000000000000000000000000000000000-mockAA";
pub const OAUTH_TOKEN: &str = "sk-ant-oat01-mock0000000000000000000000000000000000000000-mockAA";

/// How the client authenticates, which changes what it shows (the header says "API Usage
/// Billing" or "Claude Max"; a 429 is an API error or the subscriber's usage-limit message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `ANTHROPIC_API_KEY`.
    ApiKey,
    /// `CLAUDE_CODE_OAUTH_TOKEN` with a `max` subscription: a claude.ai subscriber.
    OAuth,
}

/// `~/.cache/tmux-supervisor-claude/node_modules/.bin/claude`, where `.ci/run` installs it.
pub fn default_bin() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".cache/tmux-supervisor-claude/node_modules/.bin/claude")
}

/// The client to run: `$TMUX_SUPERVISOR_CLAUDE_BIN`, else [`default_bin`]. Not resolved
/// through its symlink: tmux names the pane's command after the path it was started as
/// (`claude` for the npm link, `claude.exe` for the file it points to).
pub fn client_bin() -> PathBuf {
    let bin = std::env::var_os(BIN_ENV)
        .filter(|b| !b.is_empty())
        .map_or_else(default_bin, PathBuf::from);
    assert!(
        bin.is_file(),
        "the real Claude Code client is not at {}: install it with \
         `npm install --prefix ~/.cache/tmux-supervisor-claude --ignore-scripts \
         @anthropic-ai/claude-code@{CLIENT_VERSION}` and then `node \
         ~/.cache/tmux-supervisor-claude/node_modules/@anthropic-ai/claude-code/install.cjs` \
         (what .ci/run does), or set {BIN_ENV}",
        bin.display()
    );
    std::path::absolute(&bin).unwrap()
}

/// Variables taken out of the client's environment: they would send it to another endpoint
/// or config dir, or make it believe it runs inside another Claude Code.
pub fn unset(auth: Auth) -> Vec<&'static str> {
    let mut v = vec![
        "ANTHROPIC_AUTH_TOKEN",
        "CLAUDE_CODE_USE_BEDROCK",
        "CLAUDE_CODE_USE_VERTEX",
        "CLAUDECODE",
        "CLAUDE_CODE_ENTRYPOINT",
        "CLAUDE_CONFIG_DIR",
    ];
    v.push(match auth {
        Auth::ApiKey => "CLAUDE_CODE_OAUTH_TOKEN",
        Auth::OAuth => "ANTHROPIC_API_KEY",
    });
    v
}

/// `env -u VAR … CLIENT ARGS…`: the client with [`unset`] removed from its environment.
/// `env` execs it, so tmux still sees `claude` in the foreground.
pub fn argv(auth: Auth, args: &[&str]) -> Vec<String> {
    let mut v = vec!["env".to_string()];
    for var in unset(auth) {
        v.push("-u".into());
        v.push(var.into());
    }
    v.push(client_bin().display().to_string());
    v.extend(args.iter().map(|a| (*a).to_string()));
    v
}

/// A temporary HOME for the client, removed on drop.
pub struct ClaudeHome {
    pub dir: tempfile::TempDir,
}

impl ClaudeHome {
    pub fn new() -> Self {
        ClaudeHome {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `~/.claude`, where the client keeps its settings and transcripts.
    pub fn config_dir(&self) -> PathBuf {
        self.path().join(".claude")
    }

    /// Seeds the HOME as `shared/claude-mock/run_claude.sh` does, merging into what is there:
    /// `.claude.json` with onboarding done (which skips the preflight check that would go to
    /// the internet), the key approved (`customApiKeyResponses.approved` holds its last 20
    /// characters), `cwd` trusted; `.claude/settings.json` keeping permission prompts on.
    pub fn seed(&self, cwd: &Path) {
        let cwd = std::fs::canonicalize(cwd).unwrap().display().to_string();
        let path = self.path().join(".claude.json");
        let mut cfg: Value = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let obj = cfg.as_object_mut().unwrap();
        obj.entry("numStartups").or_insert(json!(1));
        obj.insert("hasCompletedOnboarding".into(), json!(true));
        obj.entry("lastOnboardingVersion")
            .or_insert(json!(CLIENT_VERSION));
        obj.entry("theme").or_insert(json!("dark"));
        let responses = obj
            .entry("customApiKeyResponses")
            .or_insert(json!({"approved": [], "rejected": []}));
        let tail: String = API_KEY.chars().skip(API_KEY.chars().count() - 20).collect();
        let approved = responses["approved"].as_array_mut().unwrap();
        if !approved.iter().any(|k| k == &json!(tail)) {
            approved.push(json!(tail));
        }
        let projects = obj.entry("projects").or_insert(json!({}));
        let project = projects
            .as_object_mut()
            .unwrap()
            .entry(cwd)
            .or_insert(json!({}));
        let project = project.as_object_mut().unwrap();
        project.entry("allowedTools").or_insert(json!([]));
        project.insert("hasTrustDialogAccepted".into(), json!(true));
        project.insert("hasCompletedProjectOnboarding".into(), json!(true));
        let tmp = self.path().join(".claude.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        std::fs::rename(&tmp, &path).unwrap();

        std::fs::create_dir_all(self.config_dir()).unwrap();
        let settings = self.config_dir().join("settings.json");
        if !settings.exists() {
            std::fs::write(
                settings,
                "{\n  \"permissions\": { \"defaultMode\": \"default\" }\n}\n",
            )
            .unwrap();
        }
    }

    /// The environment the client runs with, against the mock at `base_url`.
    pub fn env(&self, base_url: &str, auth: Auth) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            env.insert(k.to_string(), v.to_string());
        };
        set("HOME", &self.path().display().to_string());
        set("ANTHROPIC_BASE_URL", base_url);
        for quiet in [
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
            "DISABLE_TELEMETRY",
            "DISABLE_AUTOUPDATER",
            "DISABLE_ERROR_REPORTING",
        ] {
            set(quiet, "1");
        }
        match auth {
            Auth::ApiKey => set("ANTHROPIC_API_KEY", API_KEY),
            Auth::OAuth => {
                set("CLAUDE_CODE_OAUTH_TOKEN", OAUTH_TOKEN);
                set("CLAUDE_CODE_SUBSCRIPTION_TYPE", "max");
            }
        }
        env
    }
}

impl Default for ClaudeHome {
    fn default() -> Self {
        Self::new()
    }
}
