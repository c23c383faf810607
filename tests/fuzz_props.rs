//! Property tests on untrusted input: `tmux::parse_snapshot` and `Config::parse` on random
//! bytes, random records, random YAML-ish token soup and random mutations of the example config
//! never panic (and never hang on deep nesting); and no byte a pane puts in its command, title
//! or path makes the snapshot hold a session or pane that tmux did not report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use proptest::prelude::*;
use tmux_supervisor::config::Config;
use tmux_supervisor::tmux::{Nonce, Pane, format_record, parse_snapshot};

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

/// A plausible fixed field of a `list-panes` record, or junk.
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

/// What a hostile pane may put in its command, title or path: any bytes, plus lines and
/// records that look like tmux's (the old line format, and records of another poll's nonce).
fn free_text() -> impl Strategy<Value = String> {
    let forged_line = "4242\t$0\tccl-auto-11\t1\t1\t0\t1\t%0\t1\t1\t\t\tclaude\tt\t/";
    let forged_record = format_record(
        &real_pane(
            0,
            "ccl-auto-11".into(),
            String::new(),
            String::new(),
            String::new(),
        ),
        &Nonce::fixed("TSUPforged"),
    );
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..60)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "[\t\n<|>a-z$%0-9-]{0,40}",
        Just(format!("/tmp/x\n{forged_line}\n")),
        Just(format!("\n{forged_record}")),
        Just("TSUPforged<".to_string()),
    ]
}

/// A pane as tmux reports it: its fixed fields always well formed.
fn real_pane(n: u32, name: String, command: String, title: String, path: String) -> Pane {
    Pane {
        server_pid: 4242,
        session_id: format!("${n}"),
        session_name: name,
        session_created: 1_700_000_000,
        session_activity: 1_700_000_000,
        session_attached: 0,
        window_activity: 1_700_000_000 + i64::from(n),
        pane_id: format!("%{n}"),
        pane_pid: 1000 + n,
        pane_dead: n.is_multiple_of(3),
        dead_status: n.is_multiple_of(3).then_some(1),
        dead_signal: None,
        server_version: "3.3a".into(),
        current_command: command,
        title,
        current_path: path,
        died_hook: String::new(),
    }
}

fn real_panes() -> impl Strategy<Value = Vec<Pane>> {
    let name = prop_oneof![
        Just("main".to_string()),
        Just("ccl-3".to_string()),
        Just("ccl-auto-12".to_string()),
        "[a-z][a-z0-9_-]{0,12}",
    ];
    prop::collection::vec((name, free_text(), free_text(), free_text()), 0..8).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (name, c, t, p))| real_pane(i as u32, name, c, t, p))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_snapshot_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let text = String::from_utf8_lossy(&bytes);
        let snap = parse_snapshot(&text, &Nonce::fixed("TSUPfuzz"));
        // Without the poll's nonce nothing is a record.
        prop_assert!(snap.panes.is_empty());
    }

    #[test]
    fn parse_snapshot_never_panics_on_random_records(
        records in prop::collection::vec(prop::collection::vec(field(), 0..16), 0..20),
        markers in prop::collection::vec(0_usize..4, 0..80),
    ) {
        let n = "TSUPfuzz";
        let mut text = String::new();
        let mut marks = markers.iter().cycle();
        for r in &records {
            for (i, f) in r.iter().enumerate() {
                text.push_str(f);
                let sep = if i + 1 == r.len() { "\n" } else { "\t" };
                match marks.next() {
                    Some(0) => text.extend([n, "<"]),
                    Some(1) => text.extend([n, "|"]),
                    Some(2) => text.extend([n, ">"]),
                    _ => text.push_str(sep),
                }
            }
        }
        let snap = parse_snapshot(&text, &Nonce::fixed(n));
        for p in &snap.panes {
            prop_assert!(p.session_id.starts_with('$') && p.pane_id.starts_with('%'));
        }
    }

    /// The property: whatever bytes panes put in their command, title and path, the
    /// snapshot holds exactly the sessions and panes tmux reported, each with its own text.
    #[test]
    fn pane_text_never_creates_hides_or_redirects_a_session(panes in real_panes()) {
        let nonce = Nonce::random();
        let text: String = panes.iter().map(|p| format_record(p, &nonce)).collect();
        let snap = parse_snapshot(&text, &nonce);
        prop_assert!(snap.rejected.is_empty(), "{:?}", snap.rejected);
        prop_assert_eq!(snap.panes, panes);
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
