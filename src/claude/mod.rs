//! Claude Code agents (DESIGN.md §11): the conversation each slot runs and how it comes back,
//! hook events as recorded and as the agent's own word on what it does, the `hook` command,
//! the hooks settings document, installing the hooks for sessions the supervisor did not
//! start, and the conditions that are not crashes (limits, hangs).

pub mod conditions;
pub mod events;
pub mod hook;
pub mod input;
pub mod install;
pub mod limits;
pub mod session;
pub mod settings;
