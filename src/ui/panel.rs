//! The bottom panel: the selected session's pane preview with why its state was decided, or
//! the event log (newest last).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::selection::Kind;
use crate::app::{App, Panel};
use crate::observe::Cause;
use crate::time::{Millis, short_age};
use crate::tmux::Pane;
use crate::ui::rows::SessionRow;
use crate::ui::theme;

/// Draws the preview of the `selected` row or the log into `area`.
pub fn draw(
    frame: &mut Frame,
    app: &App,
    selected: Option<&SessionRow<'_>>,
    now: Millis,
    area: Rect,
) {
    let inner_h = area.height.saturating_sub(2) as usize;
    let (title, lines) = match app.panel {
        Panel::Preview => preview(app, selected, inner_h),
        Panel::Log => (" events ".to_string(), log(app, now, inner_h)),
    };
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme::border())
        .title(Span::styled(title, theme::group()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The selected session's pane: how its state was decided, then its last lines.
fn preview(
    app: &App,
    selected: Option<&SessionRow<'_>>,
    height: usize,
) -> (String, Vec<Line<'static>>) {
    let Some(row) = selected else {
        return (
            " preview ".to_string(),
            vec![Line::styled(" nothing selected", theme::dim())],
        );
    };
    let sup = &app.sup;
    let obs = sup.last.as_ref();
    let (reason, pane): (String, Option<&Pane>) = match &row.kind {
        Kind::Slot(i) => {
            let st = obs.and_then(|o| o.slot(*i));
            let s = &sup.layout.slots[*i];
            let policy = if s.supervised() {
                format!("kept alive (restart: {})", s.restart)
            } else {
                format!("watched only (restart: {})", s.restart)
            };
            let why = match st {
                None => format!("not polled yet; {policy}"),
                // "no session (restart: never)" already says the policy.
                Some(s) if s.cause.says_policy() => s.reason(),
                Some(s) => format!("{}; {policy}", s.cause),
            };
            // The agent's last word, when it did not decide the state itself.
            let why = match st.and_then(|s| s.hook.as_ref().map(|h| (s, h))) {
                Some((s, h)) if !matches!(s.cause, Cause::Hook { .. }) => format!(
                    "{why}; last hook {} {} ago",
                    h.event,
                    short_age(obs.map_or(0, |o| o.at).saturating_sub(h.at_ms as i64))
                ),
                _ => why,
            };
            // Its host does not answer: the state is what was last known.
            let known = st.is_some_and(|s| !matches!(s.cause, Cause::Unreachable { .. }));
            let why = match obs.and_then(|o| o.host_down(s.host.as_deref())) {
                Some(h) if known => format!(
                    "host {} unreachable ({}): last known, {why}",
                    h.name,
                    h.reason.as_deref().unwrap_or("no answer")
                ),
                _ => why,
            };
            (why, st.and_then(|s| s.pane.as_ref()))
        }
        Kind::Stray { pool } => (
            format!(
                "looks like pool {pool} but is not a slot: never touched automatically (x kills it)"
            ),
            obs.and_then(|o| o.pane_named(row.host.as_deref(), &row.name)),
        ),
        Kind::Other => (
            "not a pool member: never touched automatically".to_string(),
            obs.and_then(|o| o.pane_named(row.host.as_deref(), &row.name)),
        ),
    };
    let mark = theme::mark(row.mark);
    let mut lines = vec![Line::from(vec![
        Span::styled(format!(" {} {}", row.mark.glyph(), row.state), mark),
        Span::styled("  why: ", theme::dim()),
        Span::raw(reason),
    ])];
    match pane {
        Some(p) => {
            lines.push(Line::styled(
                format!(
                    " pane {}  pid {}  command {}  path {}",
                    p.pane_id, p.pane_pid, p.current_command, p.current_path
                ),
                theme::dim(),
            ));
            let budget = height.saturating_sub(lines.len());
            match sup.capture_of(&p.pane_id) {
                Some(text) => {
                    let all: Vec<&str> = text.lines().collect();
                    let skip = all.len().saturating_sub(budget);
                    lines.extend(all[skip..].iter().map(|l| Line::raw(format!(" {l}"))));
                }
                None => lines.push(Line::styled(
                    " (no capture yet: a pane is captured when it shows new output and is not a shell)",
                    theme::dim(),
                )),
            }
        }
        None => lines.push(Line::styled(" no session on the server", theme::dim())),
    }
    (format!(" preview {} ", row.name), lines)
}

/// The last events that fit, newest last.
fn log(app: &App, now: Millis, height: usize) -> Vec<Line<'static>> {
    let events = &app.sup.memory.events;
    if events.is_empty() {
        return vec![Line::styled(" no events yet", theme::dim())];
    }
    let skip = events.len().saturating_sub(height);
    events
        .iter()
        .skip(skip)
        .map(|e| {
            Line::from(vec![
                Span::styled(format!(" {:>4} ago  ", short_age(now - e.at)), theme::dim()),
                Span::styled(format!("{:<10}", e.kind.label()), theme::event(e.kind)),
                // The kind column already says "created": do not say it twice.
                Span::raw(
                    e.text
                        .strip_prefix(e.kind.label())
                        .map_or(e.text.as_str(), str::trim_start)
                        .to_string(),
                ),
            ])
        })
        .collect()
}
