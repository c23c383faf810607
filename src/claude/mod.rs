//! Claude Code agents (DESIGN.md §11): hook events as recorded, the `hook` command, the
//! hooks settings document, and installing the hooks for sessions the supervisor did not start.

pub mod events;
pub mod hook;
pub mod input;
pub mod install;
pub mod settings;
