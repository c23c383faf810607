//! The `?` help overlay, generated from the key table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::keymap::KEYS;
use crate::ui::{centered, theme};

/// Draws the help popup over `area`.
pub fn draw(frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!(" {:<12}", b.label), theme::key()),
                Span::raw(b.description),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        " marks: ● ok  ● waiting  ● failed  ○ missing  ○ absent  ◌ starting  ◆ stray",
        theme::dim(),
    ));
    lines.push(Line::styled(" any key closes this help", theme::dim()));
    let popup = centered(area, 80, lines.len() as u16 + 2);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::border())
        .title(Span::styled(" keys ", theme::title()));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
