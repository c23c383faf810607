//! Where every key of a config file stands (line and column, from the YAML event stream),
//! which keys each mapping may hold, so unknown keys are all reported at once, and which
//! `[` or `{` is still open when the YAML breaks.

use std::collections::HashMap;

use yaml_rust2::Event;
use yaml_rust2::parser::MarkedEventReceiver;
use yaml_rust2::scanner::Marker;

/// Line and column (both 1-based) of every key and sequence item, by path
/// (`pools[1].prefix`, `sessions[0]`).
#[derive(Debug, Default)]
pub(super) struct Positions {
    pub(super) at: HashMap<String, (usize, usize)>,
    /// (parent path, key, position) of every mapping key, in document order.
    pub(super) keys: Vec<(String, String, (usize, usize))>,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
pub(super) struct PositionReceiver {
    pub(super) pos: Positions,
    stack: Vec<Frame>,
}

impl PositionReceiver {
    /// How many mappings and sequences are open.
    pub(super) fn depth(&self) -> usize {
        self.stack.len()
    }

    /// The path of the node that starts now, or `None` when it is a mapping key (then recorded).
    fn place(&mut self, ev: &Event, mark: Marker) -> Option<String> {
        let here = (mark.line(), mark.col() + 1);
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { path, key }) => {
                if let Some(k) = key.take() {
                    Some(join(path, &k))
                } else {
                    let name = match ev {
                        Event::Scalar(s, ..) => s.clone(),
                        _ => "?".to_string(),
                    };
                    // yaml-rust2 marks a block mapping that is a sequence item at the `:` after
                    // its first key; point at the key itself.
                    if let Some(start) = self.pos.at.get_mut(path.as_str())
                        && start.0 == here.0
                        && start.1 > here.1
                    {
                        *start = here;
                    }
                    let full = join(path, &name);
                    self.pos.at.insert(full, here);
                    self.pos.keys.push((path.clone(), name.clone(), here));
                    *key = Some(name);
                    None
                }
            }
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                self.pos.at.entry(p.clone()).or_insert(here);
                Some(p)
            }
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl MarkedEventReceiver for PositionReceiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match &ev {
            Event::Scalar(..) | Event::Alias(..) => {
                self.place(&ev, mark);
            }
            Event::MappingStart(..) => {
                if let Some(path) = self.place(&ev, mark) {
                    self.stack.push(Frame::Map { path, key: None });
                } else {
                    // A complex key: track it as an anonymous mapping so the stack stays balanced.
                    self.stack.push(Frame::Map {
                        path: "?".into(),
                        key: None,
                    });
                }
            }
            Event::SequenceStart(..) => {
                let path = self.place(&ev, mark).unwrap_or_else(|| "?".into());
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

/// The keys each mapping may hold, by path with indices removed; `None` = free-form (env).
pub(super) fn known_keys(parent: &str) -> Option<&'static [&'static str]> {
    let generic: String = {
        let mut out = String::new();
        let mut skip = false;
        for c in parent.chars() {
            match c {
                '[' => skip = true,
                ']' => {
                    skip = false;
                    out.push_str("[]");
                }
                _ if !skip => out.push(c),
                _ => {}
            }
        }
        out
    };
    Some(match generic.as_str() {
        "" => &[
            "tmux",
            "poll_interval",
            "reconcile_interval",
            "pools",
            "sessions",
            "backoff",
            "agent",
            "notify",
            "status_file",
            "state_dir",
            "metrics",
            "push",
            "hosts",
        ],
        "tmux" => &["socket_name", "socket_path"],
        "pools[]" => &[
            "name",
            "prefix",
            "start_index",
            "max",
            "min",
            "restart",
            "workdir",
            "command",
            "env",
            "agent",
            "host",
        ],
        "sessions[]" => &[
            "name", "restart", "workdir", "command", "env", "agent", "host",
        ],
        "backoff" => &["initial", "max", "reset_after", "max_restarts"],
        "agent" => &[
            "commands",
            "shells",
            "working_patterns",
            "waiting_patterns",
            "busy_window",
            "hung_after",
            "on_hung",
        ],
        "notify" => &["bell", "command", "done", "min_interval", "timeout"],
        // `hosts.NAME` and `hosts.NAME.tmux`; `hosts` itself holds names of the operator's.
        g if g.starts_with("hosts.") => match g.matches('.').count() {
            1 => &["ssh", "port", "identity_file", "ssh_options", "tmux"],
            2 if g.rsplit('.').next() == Some("tmux") => &["socket_name", "socket_path"],
            _ => return None,
        },
        _ => return None,
    })
}

/// The known key nearest to a misspelt one (at most two edits away).
pub(super) fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The collections open at this point of the YAML, and which of them a `[` or `{` opened (a
/// flow collection), for error messages.
pub(super) struct OpenBrackets {
    chars: Vec<char>,
    /// One entry per open collection: the bracket, line and column of a flow one.
    open: Vec<Option<(char, usize, usize)>>,
}

impl OpenBrackets {
    pub(super) fn new(text: &str) -> Self {
        OpenBrackets {
            chars: text.chars().collect(),
            open: Vec::new(),
        }
    }

    pub(super) fn on_event(
        &mut self,
        event: &yaml_rust2::Event,
        mark: yaml_rust2::scanner::Marker,
    ) {
        use yaml_rust2::Event;
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                let c = self.chars.get(mark.index()).copied();
                let flow = matches!(c, Some('[' | '{'));
                self.open
                    .push(flow.then(|| (c.unwrap_or('['), mark.line(), mark.col() + 1)));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.open.pop();
            }
            _ => {}
        }
    }

    /// The innermost open `[` or `{`: (bracket, line, column).
    pub(super) fn innermost(&self) -> Option<(char, usize, usize)> {
        self.open.iter().rev().find_map(|o| *o)
    }
}

pub(super) fn closing(open: char) -> char {
    if open == '{' { '}' } else { ']' }
}
