//! tmux-supervisor: keeps pools of tmux sessions alive and shows their state at a glance.

pub mod app;
pub mod check;
pub mod config;
pub mod controller;
pub mod describe;
pub mod fake;
pub mod fixtures;
pub mod jobs;
pub mod keymap;
pub mod logging;
pub mod memory;
pub mod observe;
pub mod pool;
pub mod reconcile;
pub mod remember;
pub mod runner;
pub mod socket;
pub mod statedir;
pub mod status_file;
pub mod store;
pub mod terminal;
pub mod time;
pub mod tmux;
pub mod tui;
pub mod ui;
pub mod wake;
