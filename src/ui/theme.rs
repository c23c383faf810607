//! Every color and text style of the UI, keyed by what is shown (DESIGN §5 marks).

use ratatui::style::{Color, Modifier, Style};

use crate::observe::State;

/// What a row's health mark stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mark {
    Slot(State),
    Stray,
    Other,
}

impl Mark {
    /// The glyph drawn in the mark column.
    pub fn glyph(self) -> &'static str {
        match self {
            Mark::Slot(
                State::Idle
                | State::Working
                | State::Waiting
                | State::Failed
                | State::Limited
                | State::Hung,
            ) => "●",
            Mark::Slot(State::Missing | State::Absent) => "○",
            Mark::Slot(State::Starting) => "◌",
            Mark::Stray => "◆",
            Mark::Other => "·",
        }
    }
}

/// The color of a mark (and of its state word).
pub fn mark(m: Mark) -> Style {
    match m {
        Mark::Slot(State::Idle | State::Working) => Style::new().fg(Color::Green),
        Mark::Slot(State::Waiting | State::Starting) => Style::new().fg(Color::Yellow),
        Mark::Slot(State::Failed | State::Missing) => Style::new().fg(Color::Red),
        Mark::Slot(State::Limited) => Style::new().fg(Color::Blue),
        // Orange where the terminal has 256 colors.
        Mark::Slot(State::Hung) => Style::new().fg(Color::Indexed(208)),
        Mark::Slot(State::Absent) | Mark::Other => Style::new().fg(Color::DarkGray),
        Mark::Stray => Style::new().fg(Color::Magenta),
    }
}

/// The app title in the header.
pub fn title() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

/// A pool's header line.
pub fn group() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

/// Column titles and other quiet text.
pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// Plain text.
pub fn text() -> Style {
    Style::new()
}

/// The selected row or cell.
pub fn selected() -> Style {
    Style::new()
        .bg(Color::Rgb(50, 50, 70))
        .add_modifier(Modifier::BOLD)
}

/// `PAUSED`, `DRY-RUN`, `OBSERVE-ONLY`.
pub fn flag() -> Style {
    Style::new()
        .fg(Color::Black)
        .bg(Color::Yellow)
        .add_modifier(Modifier::BOLD)
}

/// Errors (poll failed, op failed).
pub fn error() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}

/// The poll age when nothing has been read from tmux for too long.
pub fn stale() -> Style {
    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
}

/// The transient status message.
pub fn status() -> Style {
    Style::new().fg(Color::Yellow)
}

/// Keys in the footer and the help.
pub fn key() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

/// Borders of panels and popups.
pub fn border() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// The border of a popup that asks something.
pub fn confirm_border() -> Style {
    Style::new().fg(Color::Yellow)
}

/// The color of an event log line by its kind.
pub fn event(kind: crate::memory::EventKind) -> Style {
    use crate::memory::EventKind as K;
    match kind {
        K::Created | K::Restarted | K::Recovered => Style::new().fg(Color::Green),
        K::Failed | K::GaveUp | K::Error => Style::new().fg(Color::Red),
        K::Killed => Style::new().fg(Color::Yellow),
        K::Stray => Style::new().fg(Color::Magenta),
        K::Info => Style::new(),
    }
}
