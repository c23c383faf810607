//! tmux-supervisor: keeps pools of tmux sessions alive and shows their state at a glance.

pub mod config;
pub mod pool;
pub mod tmux;
