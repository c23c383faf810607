//! The terminal, borrowed from the operator and always given back: init (with ratatui's panic
//! hook that restores it), restore, and suspend / resume around a foreground `tmux attach`.

use std::io::{self, stdout};

use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal the UI draws on.
pub type Term = ratatui::DefaultTerminal;

/// Raw mode, alternate screen, and a panic hook that restores the terminal before the panic
/// message is printed. On failure whatever was switched on is switched off again.
pub fn init() -> io::Result<Term> {
    ratatui::try_init().inspect_err(|_| restore())
}

/// Leaves raw mode and the alternate screen. Never panics and prints nothing.
pub fn restore() {
    let _ = ratatui::try_restore();
}

/// Restores the terminal when dropped: held for the whole life of the UI so every exit path
/// (return, `?`, unwinding) gives the terminal back.
#[derive(Debug)]
pub struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        restore();
    }
}

/// The terminal handed to a child process. Call [`Suspended::resume`]; if it is dropped
/// instead (an error or a panic on the way), the UI's terminal mode is brought back anyway.
#[derive(Debug)]
#[must_use = "resume() brings the UI back"]
pub struct Suspended {
    resumed: bool,
}

/// Gives the terminal to a child: raw mode off, main screen back.
pub fn suspend() -> Suspended {
    restore();
    Suspended { resumed: false }
}

fn enter() -> io::Result<Term> {
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen)?;
    let mut t = Terminal::new(CrosstermBackend::new(stdout()))?;
    t.clear()?;
    Ok(t)
}

impl Suspended {
    /// Raw mode and the alternate screen again, cleared (the panic hook is still installed).
    pub fn resume(mut self) -> io::Result<Term> {
        self.resumed = true;
        enter()
    }
}

impl Drop for Suspended {
    fn drop(&mut self) {
        if !self.resumed {
            let _ = enter();
        }
    }
}
