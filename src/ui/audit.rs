//! The audit view: every pool side by side as a column of slot cells (index + colored mark),
//! strays listed under them — `ccl-0..9` against `ccl-auto-11..20` at a glance.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::app::App;
use crate::app::selection::Kind;
use crate::ui::rows::{GroupRow, Row, SessionRow};
use crate::ui::theme;

/// Draws the pool columns and the strays line.
pub fn draw(frame: &mut Frame, app: &App, rows: &[Row], area: Rect) {
    // Columns in the rows' order: by host, then pool; another host's carry its name.
    let mut groups: Vec<(&GroupRow, Option<&str>, Vec<&SessionRow>)> = Vec::new();
    let mut strays: Vec<&SessionRow> = Vec::new();
    let mut host: Option<&str> = None;
    for r in rows {
        match r {
            Row::Host(h) => host = h.name.as_deref(),
            Row::Group(g) => groups.push((g, host, Vec::new())),
            Row::Session(s) => match s.kind {
                Kind::Slot(_) => {
                    if let Some((_, _, members)) = groups.last_mut() {
                        members.push(s);
                    }
                }
                Kind::Stray { .. } => strays.push(s),
                Kind::Other => {}
            },
            Row::Section(_) => {}
        }
    }
    let strays_h = if strays.is_empty() { 1 } else { 3 };
    // Boxes as tall as the longest pool (plus borders), not the whole screen.
    let tallest = groups.iter().map(|(_, _, m)| m.len()).max().unwrap_or(0);
    let cols_h = u16::try_from(tallest + 2).unwrap_or(u16::MAX);
    let [cols_area, strays_area, _] = Layout::vertical([
        Constraint::Max(cols_h),
        Constraint::Length(strays_h),
        Constraint::Fill(1),
    ])
    .areas(area);
    if !groups.is_empty() {
        let cols = Layout::horizontal(vec![Constraint::Fill(1); groups.len()]).split(cols_area);
        for ((g, host, members), col) in groups.iter().zip(cols.iter()) {
            let on = host.map_or_else(String::new, |h| format!("{h}: "));
            let lines: Vec<Line> = members.iter().map(|s| cell(app, s)).collect();
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(theme::border())
                .title(Span::styled(
                    format!(" {on}{} {} ", g.name, g.range),
                    theme::group(),
                ))
                .title_bottom(Span::styled(
                    format!(" restart: {}  {}/{} up ", g.restart, g.up, g.total),
                    theme::dim(),
                ));
            frame.render_widget(Paragraph::new(lines).block(block), *col);
        }
    }
    let mut line = vec![Span::styled(" strays ", theme::group())];
    if strays.is_empty() {
        line.push(Span::styled("none", theme::dim()));
    }
    for s in &strays {
        let style = if app.selected.as_deref() == Some(s.key.as_str()) {
            theme::selected()
        } else {
            theme::text()
        };
        line.push(Span::styled(s.mark.glyph(), theme::mark(s.mark)));
        let on = s
            .host
            .as_ref()
            .map_or_else(String::new, |h| format!("@{h}"));
        line.push(Span::styled(format!(" {}{on}", s.name), style));
        if let Kind::Stray { pool } = &s.kind {
            line.push(Span::styled(format!(" ({pool})   "), theme::dim()));
        }
    }
    frame.render_widget(
        Paragraph::new(Line::from(line)).wrap(Wrap { trim: false }),
        strays_area,
    );
}

fn cell(app: &App, s: &SessionRow) -> Line<'static> {
    let selected = app.selected.as_deref() == Some(s.key.as_str());
    let line = Line::from(vec![
        Span::raw(" "),
        Span::styled(s.mark.glyph(), theme::mark(s.mark)),
        Span::raw(format!(" {:>4}  ", s.cell)),
        Span::styled(s.state.clone(), theme::mark(s.mark)),
    ]);
    if selected {
        line.style(theme::selected())
    } else {
        line
    }
}
