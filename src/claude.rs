//! Claude Code slots (DESIGN §11): the conversation each one runs and how it comes back, and
//! the agent's hooks as its own word on what it does.

pub mod conditions;
pub mod events;
pub mod limits;
pub mod session;
