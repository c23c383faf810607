//! The confirm dialog: a question, why it is asked, and `y` / `n`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::app::Confirm;
use crate::ui::{centered, theme};

/// Draws the dialog over `area`.
pub fn draw(frame: &mut Frame, c: &Confirm, area: Rect) {
    let mut lines = vec![Line::styled(
        format!(" {}", c.question),
        theme::text().add_modifier(Modifier::BOLD),
    )];
    for d in &c.detail {
        lines.push(Line::styled(format!("   · {d}"), theme::status()));
    }
    lines.push(Line::raw(""));
    let mut keys = vec![Span::styled(" y", theme::key()), Span::raw(" yes    ")];
    if let Some((key, what, _)) = &c.instead {
        keys.push(Span::styled(key.to_string(), theme::key()));
        keys.push(Span::raw(format!(" {what}    ")));
    }
    keys.push(Span::styled("n / Esc", theme::key()));
    keys.push(Span::raw(" no"));
    lines.push(Line::from(keys));
    let popup = centered(area, 64, lines.len() as u16 + 2);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::confirm_border())
        .title(Span::styled(" confirm ", theme::status()));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}
