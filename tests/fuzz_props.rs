//! Property tests on untrusted input: `tmux::parse_snapshot` and `Config::parse` on random
//! bytes, random tab-separated fields, random YAML-ish token soup and random mutations of the
//! example config never panic (and never hang on deep nesting).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use proptest::prelude::*;
use tmux_supervisor::config::Config;
use tmux_supervisor::tmux::parse_snapshot;

const EXAMPLE: &str = include_str!("../config.example.yaml");

fn parse_config(text: &str) {
    // Ok or a located error, never a panic; an error always says something.
    if let Err(e) = Config::parse_with_home(text, "fuzz.yaml", Path::new("/home/fuzz")) {
        assert!(!e.to_string().is_empty());
    }
}

/// One edit of a text, applied at a position scaled to its length.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: f64, len: usize },
    Insert { at: f64, text: String },
    Replace { at: f64, with: char },
    DuplicateLine { at: f64 },
    SwapLines { a: f64, b: f64 },
    Indent { at: f64, by: i8 },
}

fn edit() -> impl Strategy<Value = Edit> {
    let pos = 0.0..1.0f64;
    prop_oneof![
        (pos.clone(), 0..40usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (pos.clone(), token_or_text()).prop_map(|(at, text)| Edit::Insert { at, text }),
        (pos.clone(), any::<char>()).prop_map(|(at, with)| Edit::Replace { at, with }),
        pos.clone().prop_map(|at| Edit::DuplicateLine { at }),
        (pos.clone(), pos.clone()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
        (pos, -4..4i8).prop_map(|(at, by)| Edit::Indent { at, by }),
    ]
}

/// YAML-significant tokens, key names of the config, odd numbers and durations.
fn token() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "pools:",
        "- ",
        "name: ",
        "prefix: ",
        "max: ",
        "min: ",
        "start_index: ",
        "restart: ",
        "always",
        "never",
        "on-failure",
        "workdir: ",
        "command: ",
        "env: ",
        "sessions:",
        "backoff:",
        "initial: ",
        "reset_after: ",
        "max_restarts: ",
        "agent:",
        "tmux:",
        "socket_name: ",
        "socket_path: ",
        "state_dir: ",
        "status_file: ",
        "poll_interval: ",
        "\n",
        "  ",
        "    ",
        "\t",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "? ",
        "&a ",
        "*a",
        "<<: ",
        "!!str ",
        "!!binary ",
        "~",
        "null",
        "---\n",
        "...\n",
        "|\n",
        ">-\n",
        "'",
        "\"",
        "#",
        "0",
        "-1",
        "10000",
        "10001",
        "4294967295",
        "4294967296",
        "99999999999999999999",
        "1.5",
        "1s",
        "0s",
        "1ns",
        "5m",
        "9999999999999d",
        "1e400",
        ".inf",
        "ccl-",
        "ccl-auto-",
        "a.b",
        "a:b",
        "x#y",
        "x;",
        "\u{0}",
        "\u{7f}",
        "é",
        "\u{feff}",
    ])
    .prop_map(str::to_string)
}

fn token_or_text() -> impl Strategy<Value = String> {
    prop_oneof![token(), ".{0,12}"]
}

/// Where a fraction of a length falls.
fn scaled(f: f64, len: usize) -> usize {
    ((f * len as f64) as usize).min(len)
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let last_line = lines.len().saturating_sub(1);
    match edit {
        Edit::Delete { at, len } => {
            let start = scaled(*at, chars.len());
            let end = (start + len).min(chars.len());
            chars.drain(start..end);
        }
        Edit::Insert { at, text } => {
            let i = scaled(*at, chars.len());
            chars.splice(i..i, text.chars());
        }
        Edit::Replace { at, with } => {
            if !chars.is_empty() {
                let i = scaled(*at, chars.len() - 1);
                chars[i] = *with;
            }
        }
        Edit::DuplicateLine { at } if !lines.is_empty() => {
            let i = scaled(*at, last_line);
            let copy = lines[i].clone();
            lines.insert(i, copy);
            return lines.join("\n");
        }
        Edit::SwapLines { a, b } if !lines.is_empty() => {
            lines.swap(scaled(*a, last_line), scaled(*b, last_line));
            return lines.join("\n");
        }
        Edit::Indent { at, by } if !lines.is_empty() => {
            let line = &mut lines[scaled(*at, last_line)];
            if *by >= 0 {
                line.insert_str(0, &" ".repeat(by.unsigned_abs() as usize));
            } else {
                let cut = line
                    .chars()
                    .take(by.unsigned_abs() as usize)
                    .take_while(|c| *c == ' ')
                    .count();
                line.drain(..cut);
            }
            return lines.join("\n");
        }
        Edit::DuplicateLine { .. } | Edit::SwapLines { .. } | Edit::Indent { .. } => {}
    }
    chars.into_iter().collect()
}

/// A plausible field of a `list-panes` line, or junk.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,12}",
        "-?[0-9]{1,25}",
        "[$%@][0-9]{0,6}",
        "[01]",
        "[^\t\n]{0,10}",
        Just(String::new()),
    ]
}

fn snapshot_line() -> impl Strategy<Value = String> {
    prop::collection::vec(field(), 0..20).prop_map(|f| f.join("\t"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_snapshot_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let text = String::from_utf8_lossy(&bytes);
        let snap = parse_snapshot(&text);
        prop_assert!(snap.panes.len() + snap.rejected.len() <= text.split('\n').count());
    }

    #[test]
    fn parse_snapshot_never_panics_on_random_fields(
        lines in prop::collection::vec(snapshot_line(), 0..20),
        crlf in any::<bool>(),
    ) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        let snap = parse_snapshot(&text);
        for p in &snap.panes {
            prop_assert!(p.session_id.starts_with('$') && p.pane_id.starts_with('%'));
        }
        let non_blank = lines.iter().filter(|l| !l.trim().is_empty()).count();
        prop_assert_eq!(snap.panes.len() + snap.rejected.len(), non_blank);
    }

    #[test]
    fn config_parse_never_panics_on_random_text(text in ".{0,400}") {
        parse_config(&text);
    }

    #[test]
    fn config_parse_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        parse_config(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn config_parse_never_panics_on_token_soup(tokens in prop::collection::vec(token(), 0..80)) {
        parse_config(&tokens.concat());
    }

    #[test]
    fn config_parse_never_panics_on_mutations_of_the_example(edits in prop::collection::vec(edit(), 1..8)) {
        let mut text = EXAMPLE.to_string();
        for e in &edits {
            text = apply(&text, e);
        }
        parse_config(&text);
    }
}

#[test]
fn the_example_config_parses() {
    Config::parse_with_home(EXAMPLE, "config.example.yaml", Path::new("/home/fuzz")).unwrap();
}

#[test]
fn deep_nesting_and_huge_documents_are_errors_not_crashes() {
    let n = 20_000;
    let cases = [
        "[".repeat(n),
        "{".repeat(n),
        format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        "a:\n".to_string() + &" b:\n".repeat(n),
        format!("pools: {}", "&a [*a, ".repeat(1000)),
        "x: ".repeat(n),
        format!(
            "pools:\n{}",
            "  - name: a\n    prefix: \"a-\"\n".repeat(5_000)
        ),
    ];
    for text in &cases {
        parse_config(text);
    }
}

/// `yaml_rust2`'s `Parser::load` recurses once per nesting level: a 10 KB file of `- - - …`
/// used to overflow the stack and abort the process. The loader pulls events one by one and
/// caps the nesting, so it is a config error like any other.
#[test]
fn deeply_nested_block_sequences_are_errors_not_crashes() {
    for text in [
        "- ".repeat(20_000),
        "[".repeat(20_000),
        "{a: ".repeat(20_000),
    ] {
        parse_config(&text);
    }
    let err = Config::parse(&"- ".repeat(20_000), "deep.yaml").unwrap_err();
    assert!(
        err.problems[0].message.contains("nested more than"),
        "{err}"
    );
}
