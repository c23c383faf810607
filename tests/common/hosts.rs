//! The "hosts" of the tests of pools on other hosts: a private sshd (`sshd.rs`) and a tmux
//! server each, and the config that names them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::TestServer;
use super::sshd::TestHost;

/// One "host": its sshd and the tmux server the supervisor reaches there.
pub struct Host {
    pub sshd: TestHost,
    pub tmux: TestServer,
}

impl Host {
    pub fn start(name: &str) -> Self {
        let tmux = TestServer::new();
        // The server exists before the supervisor's first call, started without a config
        // file (the tests never read the user's ~/.tmux.conf, here or "there").
        tmux.new_session("keep");
        Host {
            sshd: TestHost::start(name),
            tmux,
        }
    }

    /// The `hosts:` entry for this host, as JSON (which YAML reads as it is).
    pub fn entry(&self) -> serde_json::Value {
        serde_json::json!({
            "ssh": self.sshd.destination(),
            "port": self.sshd.port(),
            "identity_file": self.sshd.identity_file(),
            "ssh_options": self.sshd.ssh_options(),
            "tmux": {"socket_name": self.tmux.socket},
        })
    }
}

/// A pool of `max` slots `PREFIX0…` kept alive running `sleep`, on `host` (`None`: here).
pub fn pool(name: &str, prefix: &str, max: u32, host: Option<&str>) -> String {
    let mut p = serde_json::json!({
        "name": name, "prefix": prefix, "max": max, "restart": "always",
        "command": ["sleep", "3600"],
    });
    if let Some(h) = host {
        p["host"] = h.into();
    }
    p.to_string()
}

/// A config with `a` and `b` as hosts, polled fast, and `pools` (YAML flow mappings).
pub fn config(a: &Host, b: &Host, pools: &[&str]) -> String {
    let hosts = serde_json::json!({"a": a.entry(), "b": b.entry()});
    let mut yaml = format!(
        "poll_interval: 300ms\nreconcile_interval: 500ms\nbackoff: {{initial: 200ms, max: 1s}}\nhosts: {hosts}\npools:\n"
    );
    for p in pools {
        yaml.push_str("  - ");
        yaml.push_str(p);
        yaml.push('\n');
    }
    yaml
}

pub fn has(server: &TestServer, name: &str) -> bool {
    server.session_names().iter().any(|n| n == name)
}

pub fn all(server: &TestServer, names: &[&str]) -> bool {
    let there = server.session_names();
    names.iter().all(|n| there.iter().any(|t| t == n))
}
