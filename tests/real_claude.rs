//! End to end against the real Claude Code client, offline: a supervised slot on a private
//! tmux server runs it against the project's mock of the Messages API, driven by `send-keys`,
//! and `check --json` is asked what the slot is doing. Built only with `--features
//! real-claude` (see the README); the mock's own tests run here too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/claude_mock/mod.rs"]
mod claude_mock;
