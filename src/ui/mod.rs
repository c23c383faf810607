//! Drawing: the whole screen as a function of [`App`] — header, sessions (table or audit),
//! bottom panel (preview or log), footer, and the help / confirm popups on top. The rows are
//! built once per frame; the preview is handed the selected one.

pub mod audit;
pub mod confirm;
pub mod help;
pub mod panel;
pub mod rows;
pub mod table;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, View};
use crate::keymap::hints;
use crate::observe::State;
use crate::time::{Millis, short_age};
use rows::Row;
use theme::Mark;

/// Below this size only a "too small" message is drawn.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

/// Draws one frame.
pub fn draw(frame: &mut Frame, app: &App, now: Millis) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = Paragraph::new(vec![
            Line::styled("terminal too small", theme::error()),
            Line::styled(
                format!(
                    "need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{}",
                    area.width, area.height
                ),
                theme::dim(),
            ),
        ])
        .centered();
        let [mid] = Layout::vertical([Constraint::Length(2)])
            .flex(ratatui::layout::Flex::Center)
            .areas(area);
        frame.render_widget(msg, mid);
        return;
    }
    let rows = rows::rows(app, now);
    // The panel gets a quarter of the screen, or what the table leaves free (its rows, its
    // column titles and a spare line), up to two thirds: a short pool shows more of the pane.
    let table_needs = u16::try_from(rows.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let free = area.height.saturating_sub(3).saturating_sub(table_needs);
    let panel_height = (area.height / 4).max(6).max(free.min(area.height * 2 / 3));
    let [head, body, bottom, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(panel_height),
        Constraint::Length(1),
    ])
    .areas(area);
    header(frame, app, now, head);
    match app.view {
        View::Table => table::draw(frame, app, &rows, body),
        View::Audit => audit::draw(frame, app, &rows, body),
    }
    let selected = rows
        .iter()
        .filter_map(Row::session)
        .find(|s| app.selected.as_deref() == Some(s.key.as_str()));
    panel::draw(frame, app, selected, now, bottom);
    footer(frame, app, now, foot);
    if app.help {
        help::draw(frame, area);
    }
    if let Some(c) = &app.confirm {
        confirm::draw(frame, c, area);
    }
}

fn header(frame: &mut Frame, app: &App, now: Millis, area: Rect) {
    let sup = &app.sup;
    let mut top = vec![
        Span::styled(" tmux-supervisor", theme::title()),
        Span::styled("  server ", theme::dim()),
        Span::raw(app.server.clone()),
        Span::styled("  polled ", theme::dim()),
    ];
    let age = sup.last_poll_at.map_or_else(
        || "never".to_string(),
        |at| format!("{} ago", short_age(now - at)),
    );
    if app.polls_are_stale(now) {
        top.push(Span::styled(format!("{age} (stale)"), theme::stale()));
    } else {
        top.push(Span::raw(age));
    }
    for (on, name) in [
        (sup.mode.paused, "PAUSED"),
        (sup.mode.dry_run, "DRY-RUN"),
        (sup.mode.observe_only, "OBSERVE-ONLY"),
        // Push is on but tmux's latch cannot be used: what tmux reports waits for a poll.
        (sup.push_unavailable.is_some(), "PUSH LIMITED"),
    ] {
        if on {
            top.push(Span::raw("  "));
            top.push(Span::styled(format!(" {name} "), theme::flag()));
        }
    }
    if !sup.layout.hosts.is_empty() {
        let (up, total) = sup.hosts_up();
        top.push(Span::styled("  hosts ", theme::dim()));
        let text = format!("{up}/{total} up");
        top.push(if up < total {
            Span::styled(text, theme::stale())
        } else {
            Span::raw(text)
        });
    }
    let mut counts = vec![Span::raw(" ")];
    if let Some(e) = &sup.last_poll_error {
        counts.push(Span::styled(format!("poll failed: {e}  "), theme::error()));
    }
    if let Some(obs) = &sup.last {
        // Agent conditions are counted where agents run (Claude Code slots).
        let agents = sup.layout.slots.iter().any(|s| s.agent.is_some());
        let conditions: &[State] = if agents {
            &[State::Limited, State::Hung]
        } else {
            &[]
        };
        for &st in [
            State::Idle,
            State::Working,
            State::Waiting,
            State::Failed,
            State::Missing,
            State::Starting,
        ]
        .iter()
        .chain(conditions)
        {
            let m = Mark::Slot(st);
            counts.push(Span::styled(m.glyph(), theme::mark(m)));
            counts.push(Span::raw(format!(" {} {}  ", st.as_str(), obs.count(st))));
        }
        counts.push(Span::styled(Mark::Stray.glyph(), theme::mark(Mark::Stray)));
        counts.push(Span::raw(format!(" strays {}  ", obs.strays.len())));
        counts.push(Span::styled(
            format!(
                "others {}{}",
                obs.others.len(),
                if app.show_others { "" } else { " (o shows)" }
            ),
            theme::dim(),
        ));
    } else {
        counts.push(Span::styled("waiting for the first poll…", theme::dim()));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(top), Line::from(counts)]),
        area,
    );
}

fn footer(frame: &mut Frame, app: &App, now: Millis, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    if app.filtering {
        spans.push(Span::styled("/", theme::key()));
        spans.push(Span::raw(format!("{}▏", app.filter)));
        spans.push(Span::styled("  Enter keeps  Esc clears", theme::dim()));
    } else {
        if !app.filter.is_empty() {
            spans.push(Span::styled("filter ", theme::dim()));
            spans.push(Span::styled(app.filter.clone(), theme::key()));
            spans.push(Span::styled(" (Esc clears)  ", theme::dim()));
        }
        match &app.status {
            Some(s) if s.until > now => {
                let style = if s.error {
                    theme::error()
                } else {
                    theme::status()
                };
                spans.push(Span::styled(s.text.clone(), style));
            }
            _ => {
                for h in hints() {
                    let (k, rest) = h.split_once(' ').unwrap_or((h, ""));
                    spans.push(Span::styled(k, theme::key()));
                    spans.push(Span::styled(format!(" {rest}  "), theme::dim()));
                }
            }
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A rectangle of `width`×`height` centered in `area` (clipped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod tests;
