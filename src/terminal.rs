//! The terminal, borrowed from the operator and always given back: init (with a panic hook
//! that restores it first), restore, and suspend / resume around a foreground `tmux attach`.
//!
//! Restoring is idempotent: leaving the alternate screen twice makes tmux (and xterm) jump
//! the cursor back to where it was saved, over whatever was printed since (a panic message).

use std::io::{self, stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal the UI draws on.
pub type Term = ratatui::DefaultTerminal;

/// The terminal is in UI mode (raw, alternate screen).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// Raw mode and the alternate screen, with a panic hook (installed once) that restores the
/// terminal before the panic message is printed. On failure whatever was switched on is
/// switched off again.
pub fn init() -> io::Result<Term> {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
    enter().inspect_err(|_| restore())
}

fn enter() -> io::Result<Term> {
    ACTIVE.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen)?;
    let mut t = Terminal::new(CrosstermBackend::new(stdout()))?;
    t.clear()?;
    Ok(t)
}

/// Leaves raw mode and the alternate screen and shows the cursor, once. Never panics and
/// prints nothing else.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), LeaveAlternateScreen, Show);
    }
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

impl Suspended {
    /// Raw mode and the alternate screen again, cleared.
    pub fn resume(mut self) -> io::Result<Term> {
        self.resumed = true;
        enter()
    }

    /// The UI is stopping: the terminal stays as it is now, the operator's shell's.
    pub fn stay_restored(mut self) {
        self.resumed = true;
    }
}

impl Drop for Suspended {
    fn drop(&mut self) {
        if !self.resumed && !std::thread::panicking() {
            let _ = enter();
        }
    }
}
