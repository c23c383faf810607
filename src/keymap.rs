//! The key table: one list of (keys, action, description); key lookup, the footer hints and
//! the `?` help are all generated from it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Something the operator can ask for with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    Attach,
    Recreate,
    RecreatePool,
    Kill,
    Pause,
    ToggleView,
    TogglePanel,
    ToggleOthers,
    Filter,
    Help,
    Quit,
}

/// One line of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys that trigger it (a `Char` matches with or without Shift).
    pub keys: &'static [(KeyCode, KeyModifiers)],
    /// How the keys are written in the help.
    pub label: &'static str,
    pub action: Action,
    pub description: &'static str,
    /// Short form for the footer; `None` keeps it out of the footer.
    pub hint: Option<&'static str>,
}

const NONE: KeyModifiers = KeyModifiers::NONE;

/// Every key binding, in the order the help shows them.
pub const KEYS: &[Binding] = &[
    Binding {
        keys: &[(KeyCode::Up, NONE), (KeyCode::Char('k'), NONE)],
        label: "↑ / k",
        action: Action::Up,
        description: "move up",
        hint: None,
    },
    Binding {
        keys: &[(KeyCode::Down, NONE), (KeyCode::Char('j'), NONE)],
        label: "↓ / j",
        action: Action::Down,
        description: "move down",
        hint: Some("↑↓ move"),
    },
    Binding {
        keys: &[(KeyCode::Char('g'), NONE), (KeyCode::Home, NONE)],
        label: "g / Home",
        action: Action::Top,
        description: "first session",
        hint: None,
    },
    Binding {
        keys: &[(KeyCode::Char('G'), NONE), (KeyCode::End, NONE)],
        label: "G / End",
        action: Action::Bottom,
        description: "last session",
        hint: None,
    },
    Binding {
        keys: &[(KeyCode::PageUp, NONE)],
        label: "PgUp",
        action: Action::PageUp,
        description: "move up a page",
        hint: None,
    },
    Binding {
        keys: &[(KeyCode::PageDown, NONE)],
        label: "PgDn",
        action: Action::PageDown,
        description: "move down a page",
        hint: None,
    },
    Binding {
        keys: &[(KeyCode::Enter, NONE), (KeyCode::Char('a'), NONE)],
        label: "Enter / a",
        action: Action::Attach,
        description: "attach to the session (inside tmux: switch, prefix L comes back)",
        hint: Some("⏎ attach"),
    },
    Binding {
        keys: &[(KeyCode::Char('r'), NONE)],
        label: "r",
        action: Action::Recreate,
        description: "recreate the selected session (asks if busy or operator-owned)",
        hint: Some("r recreate"),
    },
    Binding {
        keys: &[(KeyCode::Char('R'), NONE)],
        label: "R",
        action: Action::RecreatePool,
        description: "recreate every slot of the selected pool (asks)",
        hint: Some("R pool"),
    },
    Binding {
        keys: &[(KeyCode::Char('x'), NONE)],
        label: "x",
        action: Action::Kill,
        description: "kill the selected session, e.g. a stray (asks)",
        hint: Some("x kill"),
    },
    Binding {
        keys: &[(KeyCode::Char('p'), NONE)],
        label: "p",
        action: Action::Pause,
        description: "pause / resume reconciling",
        hint: Some("p pause"),
    },
    Binding {
        keys: &[(KeyCode::Tab, NONE), (KeyCode::Char('v'), NONE)],
        label: "Tab / v",
        action: Action::ToggleView,
        description: "table ↔ audit view",
        hint: Some("Tab view"),
    },
    Binding {
        keys: &[(KeyCode::Char('l'), NONE)],
        label: "l",
        action: Action::TogglePanel,
        description: "preview ↔ event log",
        hint: Some("l log"),
    },
    Binding {
        keys: &[(KeyCode::Char('o'), NONE)],
        label: "o",
        action: Action::ToggleOthers,
        description: "show / hide other sessions",
        hint: Some("o others"),
    },
    Binding {
        keys: &[(KeyCode::Char('/'), NONE)],
        label: "/",
        action: Action::Filter,
        description: "filter by name (Enter keeps, Esc clears)",
        hint: Some("/ filter"),
    },
    Binding {
        keys: &[(KeyCode::Char('?'), NONE)],
        label: "?",
        action: Action::Help,
        description: "this help",
        hint: Some("? help"),
    },
    Binding {
        keys: &[
            (KeyCode::Char('q'), NONE),
            (KeyCode::Char('c'), KeyModifiers::CONTROL),
        ],
        label: "q / Ctrl-C",
        action: Action::Quit,
        description: "quit (sessions keep running)",
        hint: Some("q quit"),
    },
];

/// True when `ev` is the key `(code, mods)`; Shift is ignored for characters (terminals
/// report `R` as Shift+R or as plain R).
fn matches(ev: &KeyEvent, code: KeyCode, mods: KeyModifiers) -> bool {
    if ev.code != code {
        return false;
    }
    let have = if matches!(code, KeyCode::Char(_)) {
        ev.modifiers - KeyModifiers::SHIFT
    } else {
        ev.modifiers
    };
    have == mods
}

/// The action bound to a key, if any.
pub fn action_for(ev: &KeyEvent) -> Option<Action> {
    KEYS.iter()
        .find(|b| b.keys.iter().any(|&(c, m)| matches(ev, c, m)))
        .map(|b| b.action)
}

/// True for Ctrl-C, which quits from anywhere (even while typing a filter).
pub fn is_ctrl_c(ev: &KeyEvent) -> bool {
    matches(ev, KeyCode::Char('c'), KeyModifiers::CONTROL)
}

/// The footer hints, generated from the table.
pub fn hints() -> Vec<&'static str> {
    KEYS.iter().filter_map(|b| b.hint).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn every_documented_key_maps_to_its_action() {
        for b in KEYS {
            for &(c, m) in b.keys {
                assert_eq!(action_for(&key(c, m)), Some(b.action), "{}", b.label);
            }
        }
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for b in KEYS {
            for k in b.keys {
                assert!(!seen.contains(k), "{k:?} bound twice");
                seen.push(*k);
            }
        }
    }

    #[test]
    fn shift_is_ignored_for_characters_but_ctrl_is_not() {
        assert_eq!(
            action_for(&key(KeyCode::Char('R'), KeyModifiers::SHIFT)),
            Some(Action::RecreatePool)
        );
        assert_eq!(
            action_for(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action_for(&key(KeyCode::Char('c'), NONE)), None);
        assert_eq!(
            action_for(&key(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            None
        );
        assert!(is_ctrl_c(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)));
    }

    #[test]
    fn hints_come_from_the_table() {
        let h = hints();
        assert!(h.contains(&"q quit"));
        assert!(h.contains(&"r recreate"));
        assert!(!h.iter().any(|s| s.contains("PgUp")));
    }
}
