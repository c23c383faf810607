//! The table view: per pool a header line, then one row per slot; strays and others below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph};

use crate::app::App;
use crate::ui::rows::{Row, SessionRow};
use crate::ui::theme;

const STATE_W: usize = 9;
const CMD_W: usize = 10;
const AGE_W: usize = 7;
const RESTARTS_W: usize = 4;

/// Draws the column titles and the rows, keeping the selected one in view.
pub fn draw(frame: &mut Frame, app: &App, rows: &[Row], area: Rect) {
    let name_w = rows
        .iter()
        .filter_map(Row::session)
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    let [titles, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let head = format!(
        "   {:<name_w$} {:<STATE_W$} {:<CMD_W$} {:>AGE_W$} {:>AGE_W$} {:>RESTARTS_W$}  {}",
        "NAME", "STATE", "COMMAND", "OUTPUT", "UPTIME", "RST", "NOTE"
    );
    frame.render_widget(Paragraph::new(Line::styled(head, theme::dim())), titles);
    let mut selected = None;
    let items: Vec<ListItem> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            Row::Host(h) => ListItem::new(Line::styled(
                format!(" ▌{}", h.title),
                if h.up { theme::title() } else { theme::stale() },
            )),
            Row::Group(g) => ListItem::new(Line::styled(format!(" {}", g.title()), theme::group())),
            Row::Section(t) => ListItem::new(Line::styled(format!(" {t}"), theme::group())),
            Row::Session(s) => {
                if app.selected.as_deref() == Some(s.key.as_str()) {
                    selected = Some(i);
                }
                ListItem::new(session_line(s, name_w))
            }
        })
        .collect();
    let mut state = ListState::default().with_selected(selected);
    frame.render_stateful_widget(
        List::new(items).highlight_style(theme::selected()),
        list,
        &mut state,
    );
}

fn clip(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn session_line(s: &SessionRow, name_w: usize) -> Line<'static> {
    let mark = theme::mark(s.mark);
    Line::from(vec![
        Span::raw("  "),
        Span::styled(s.mark.glyph(), mark),
        Span::raw(" "),
        Span::styled(format!("{:<name_w$} ", s.name), theme::text()),
        Span::styled(format!("{:<STATE_W$} ", s.state), mark),
        Span::styled(
            format!("{:<CMD_W$} ", clip(&s.command, CMD_W)),
            theme::text(),
        ),
        Span::styled(
            format!(
                "{:>AGE_W$} {:>AGE_W$} {:>RESTARTS_W$}  ",
                s.output, s.uptime, s.restarts
            ),
            theme::dim(),
        ),
        Span::styled(s.note.clone(), theme::text()),
    ])
}
