//! The first step of loading: the YAML walked as events for where every key stands, with the
//! nesting capped, a syntax error told with the bracket left open, and every unknown key found.

use std::collections::HashSet;

use yaml_rust2::parser::{MarkedEventReceiver as _, Parser};
use yaml_rust2::scanner::{Marker, ScanError};

use super::positions::{OpenBrackets, PositionReceiver, Positions, closest, closing, known_keys};
use super::{MAX_NESTING, Problem};

/// What the walk learnt about a file that is well-formed YAML.
pub(super) struct Scan {
    pub(super) positions: Positions,
    /// Every key that no mapping there may hold, as a problem.
    pub(super) unknown: Vec<Problem>,
    /// Paths of known keys that an unknown key most likely meant: reported as misspelt, not
    /// also as missing.
    pub(super) misspelt: HashSet<String>,
}

/// Walks `text`; the one problem that stops the walk is returned as the error.
pub(super) fn scan(text: &str) -> Result<Scan, Problem> {
    let positions = walk(text)?;
    Ok(Scan {
        unknown: unknown_keys(&positions),
        misspelt: misspelt(&positions),
        positions,
    })
}

/// Events are pulled one by one (`Parser::load` recurses per nesting level and a hostile file
/// could overflow the stack), and nesting is capped.
fn walk(text: &str) -> Result<Positions, Problem> {
    let mut recv = PositionReceiver::default();
    let mut parser = Parser::new_from_str(text);
    let mut brackets = OpenBrackets::new(text);
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| syntax_error(&e, &brackets))?;
        if matches!(event, yaml_rust2::Event::StreamEnd) {
            return Ok(recv.pos);
        }
        brackets.on_event(&event, mark);
        recv.on_event(event, mark);
        if recv.depth() > MAX_NESTING {
            return Err(too_deep(mark));
        }
    }
}

fn syntax_error(e: &ScanError, brackets: &OpenBrackets) -> Problem {
    let m = e.marker();
    let (message, hint) = match brackets.innermost() {
        // The parser gives up where the damage shows, often lines below an unclosed `[` or
        // `{`: say where that one was opened too.
        Some((c, line, col)) => (
            format!(
                "YAML syntax error: {}; the `{c}` opened at line {line}, column {col} is not closed",
                e.info()
            ),
            format!("close the `{c}` of line {line} with `{}`", closing(c)),
        ),
        None => (
            format!("YAML syntax error: {}", e.info()),
            "check the indentation and quoting around this line".to_string(),
        ),
    };
    Problem {
        line: Some(m.line()),
        column: Some(m.col() + 1),
        message,
        hint: Some(hint),
    }
}

fn too_deep(mark: Marker) -> Problem {
    Problem {
        line: Some(mark.line()),
        column: Some(mark.col() + 1),
        message: format!("the YAML is nested more than {MAX_NESTING} levels deep"),
        hint: Some("a tmux-supervisor config is at most a few levels deep".into()),
    }
}

fn unknown_keys(pos: &Positions) -> Vec<Problem> {
    let mut unknown = Vec::new();
    for (parent, key, (line, col)) in &pos.keys {
        if let Some(known) = known_keys(parent)
            && !known.contains(&key.as_str())
        {
            let place = if parent.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in `{parent}`")
            };
            unknown.push(Problem {
                line: Some(*line),
                column: Some(*col),
                message: format!("unknown key `{key}` {place}"),
                hint: Some(match closest(key, known) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("known keys here: {}", known.join(", ")),
                }),
            });
        }
    }
    unknown
}

/// The keys unknown keys most likely meant, by path.
fn misspelt(pos: &Positions) -> HashSet<String> {
    pos.keys
        .iter()
        .filter_map(|(parent, key, _)| {
            let known = known_keys(parent)?;
            if known.contains(&key.as_str()) {
                return None;
            }
            closest(key, known).map(|k| format!("{parent}.{k}"))
        })
        .collect()
}
