//! Config files on disk: every fixture under `tests/configs/` loads (good) or fails on its line (bad), through the library and the binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use tmux_supervisor::config::{Config, ConfigError, ConfigSource, EMBEDDED, Restart};
use tmux_supervisor::pool::Layout;

const GOOD: &[&str] = &[
    "dedicated_sessions.yaml",
    "every_key.yaml",
    "minimal.yaml",
    "production.yaml",
    "socket_name.yaml",
];

/// (bad fixture, line of the problem, substrings its message must contain).
/// Lines are read off the fixture files; each file breaks exactly one rule.
const BAD: &[(&str, usize, &[&str])] = &[
    (
        "unknown_top_level_key.yaml",
        2,
        &["unknown key `poll_intervall`", "top level"],
    ),
    (
        "unknown_pool_key.yaml",
        4,
        &["unknown key `prefx`", "pools[0]"],
    ),
    (
        "overlapping_pools.yaml",
        8,
        &[
            "2 slots are defined twice",
            "`ccl-8`, `ccl-9`",
            "pool `manual`",
            "pool `auto`",
        ],
    ),
    (
        "subtle_prefix_collision.yaml",
        8,
        &[
            "slot `ccl-11`",
            "pool `ones` (prefix `ccl-1`, index 1)",
            "pool `plain` (prefix `ccl-`, index 11)",
        ],
    ),
    (
        "dedicated_equals_slot.yaml",
        11,
        &[
            "slot `ccl-auto-12`",
            "pool `auto`",
            "dedicated session `ccl-auto-12`",
        ],
    ),
    (
        "min_greater_than_max.yaml",
        6,
        &["pool `auto`", "`min` (5) is greater than `max` (3)"],
    ),
    (
        "max_zero.yaml",
        5,
        &["pool `auto`", "`max` must be at least 1"],
    ),
    ("name_with_dot.yaml", 4, &["`ccl.auto-`", "contains `.`"]),
    ("name_with_colon.yaml", 3, &["`docs:main`", "contains `:`"]),
    ("name_with_hash.yaml", 4, &["`ccl#`", "contains `#`"]),
    (
        "name_with_semicolon.yaml",
        3,
        &["`docs;rm`", "contains `;`"],
    ),
    (
        "name_with_space.yaml",
        4,
        &["`ccl auto-`", "whitespace is not allowed"],
    ),
    (
        "duration_bad_unit.yaml",
        2,
        &["`poll_interval`", "`5x` is not a duration"],
    ),
    (
        "duration_without_unit.yaml",
        2,
        &["`poll_interval`", "a duration with a unit", "`5`"],
    ),
    (
        "duration_zero.yaml",
        2,
        &["`reconcile_interval`", "longer than zero"],
    ),
    (
        "socket_name_and_path.yaml",
        4,
        &["`tmux.socket_name` and `tmux.socket_path` are both set"],
    ),
    ("yaml_syntax_error.yaml", 5, &["YAML syntax error"]),
    (
        "unclosed_bracket.yaml",
        6,
        &[
            "YAML syntax error",
            "the `[` opened at line 5, column 14 is not closed",
        ],
    ),
    (
        "missing_restart.yaml",
        3,
        &["pool `auto` has no `restart` policy"],
    ),
    (
        "unknown_restart_policy.yaml",
        6,
        &["pool `auto`", "`on_failure` is not a restart policy"],
    ),
    (
        "max_not_a_number.yaml",
        5,
        &["`pools[0].max`", "whole number", "`ten`"],
    ),
    ("several_problems.yaml", 4, &["`my docs`", "whitespace"]),
];

fn fixture(kind: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs")
        .join(kind)
        .join(name)
}

fn load(kind: &str, name: &str) -> Result<Config, ConfigError> {
    ConfigSource::File(fixture(kind, name)).load()
}

/// Parses a fixture with `~` meaning `/home/op`, so paths do not depend on who runs the test.
fn parse_at_home(kind: &str, name: &str) -> Config {
    let path = fixture(kind, name);
    let text = std::fs::read_to_string(&path).unwrap();
    Config::parse_with_home(&text, &path.display().to_string(), Path::new("/home/op"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn slot_names(cfg: &Config) -> Vec<String> {
    Layout::new(cfg).slots.into_iter().map(|s| s.name).collect()
}

fn names(prefix: &str, range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

fn yaml_files(kind: &str) -> BTreeSet<String> {
    std::fs::read_dir(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/configs")
            .join(kind),
    )
    .unwrap()
    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
    .filter(|n| Path::new(n).extension().is_some_and(|x| x == "yaml"))
    .collect()
}

// ---------------------------------------------------------------------------------------------
// The library.

#[test]
fn every_fixture_is_listed_here() {
    let good: BTreeSet<String> = GOOD.iter().map(|s| (*s).to_string()).collect();
    assert_eq!(yaml_files("good"), good);
    let bad: BTreeSet<String> = BAD.iter().map(|(f, ..)| (*f).to_string()).collect();
    assert_eq!(yaml_files("bad"), bad);
}

#[test]
fn every_good_file_loads() {
    for name in GOOD {
        let path = fixture("good", name);
        let cfg = load("good", name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(cfg.source, path.display().to_string());
        assert!(!Layout::new(&cfg).slots.is_empty(), "{name}");
    }
}

#[test]
fn production_gives_exactly_the_production_slots() {
    let cfg = load("good", "production.yaml").unwrap();
    let mut expected = names("ccl-", 0..=9);
    expected.extend(names("ccl-auto-", 11..=20));
    assert_eq!(slot_names(&cfg), expected);

    let layout = Layout::new(&cfg);
    for s in &layout.slots {
        // manual is watched only; every auto slot is kept alive.
        assert_eq!(s.supervised(), s.group == "auto", "{}", s.name);
    }
    let groups: Vec<(&str, &str)> = layout
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.range.as_str()))
        .collect();
    assert_eq!(
        groups,
        [
            ("manual", "ccl-0..ccl-9"),
            ("auto", "ccl-auto-11..ccl-auto-20")
        ]
    );
}

#[test]
fn production_file_is_the_embedded_default() {
    let file = load("good", "production.yaml").unwrap();
    let embedded = ConfigSource::Embedded.load().unwrap();
    assert_eq!(embedded.source, EMBEDDED);
    assert_eq!(
        Config {
            source: EMBEDDED.to_string(),
            ..file
        },
        embedded
    );
}

#[test]
fn minimal_takes_every_default() {
    let cfg = parse_at_home("good", "minimal.yaml");
    assert_eq!(slot_names(&cfg), names("w-", 0..=2));
    let p = &cfg.pools[0];
    assert_eq!((p.start_index, p.min, p.max), (0, 3, 3));
    assert_eq!(p.restart, Restart::Always);
    assert_eq!(p.workdir, PathBuf::from("/home/op"));
    assert!(p.command.is_empty() && p.env.is_empty());
    assert!(cfg.sessions.is_empty());
    assert_eq!(
        (cfg.socket_name.as_deref(), cfg.socket_path.as_deref()),
        (None, None)
    );
    assert_eq!(cfg.poll_interval, Duration::from_secs(1));
    assert_eq!(cfg.reconcile_interval, Duration::from_secs(5));
    assert_eq!(cfg.backoff.initial, Duration::from_secs(2));
    assert_eq!(cfg.backoff.max, Duration::from_secs(300));
    assert_eq!(cfg.backoff.reset_after, Duration::from_secs(600));
    assert_eq!(cfg.backoff.max_restarts, 0);
    assert_eq!(cfg.agent.commands, ["claude", "node"]);
    assert_eq!(cfg.agent.busy_window, Duration::from_secs(3));
    assert_eq!(cfg.status_file, None);
}

#[test]
fn dedicated_sessions_follow_the_pool() {
    let cfg = parse_at_home("good", "dedicated_sessions.yaml");
    // ccl-auto-13 is just past the pool's range (11, 12), so it is free for a dedicated session.
    let mut expected = names("ccl-auto-", 11..=12);
    expected.extend(["ccl-docs", "ccl-auto-13", "notes"].map(String::from));
    assert_eq!(slot_names(&cfg), expected);
    let s = &cfg.sessions;
    assert_eq!(s[0].workdir, PathBuf::from("/home/op/src/docs"));
    assert_eq!(s[1].workdir, PathBuf::from("/home/op"));
    assert_eq!(
        s.iter().map(|s| s.restart).collect::<Vec<_>>(),
        [Restart::Always, Restart::OnFailure, Restart::Never]
    );
    assert_eq!(s[1].command, ["htop"]);
    let layout = Layout::new(&cfg);
    let notes = &layout.slots[layout.slot("notes").unwrap()];
    assert!(!notes.supervised(), "restart: never is never acted on");
}

#[test]
fn socket_name_is_taken() {
    let cfg = load("good", "socket_name.yaml").unwrap();
    assert_eq!(cfg.socket_name.as_deref(), Some("supervised"));
    assert_eq!(cfg.socket_path, None);
    assert_eq!(slot_names(&cfg), names("ccl-auto-", 11..=20));
}

#[test]
fn every_key_is_resolved() {
    let cfg = parse_at_home("good", "every_key.yaml");
    assert_eq!(cfg.socket_name, None);
    assert_eq!(
        cfg.socket_path,
        Some(PathBuf::from("/tmp/tmux-supervisor-test.sock"))
    );
    assert_eq!(cfg.poll_interval, Duration::from_millis(500));
    assert_eq!(cfg.reconcile_interval, Duration::from_secs(10));

    let b = &cfg.pools[0];
    assert_eq!(
        (
            b.name.as_str(),
            b.prefix.as_str(),
            b.start_index,
            b.max,
            b.min
        ),
        ("builders", "build_", 1, 5, 2)
    );
    assert_eq!(b.restart, Restart::OnFailure);
    assert_eq!(b.workdir, PathBuf::from("/home/op/src/project"));
    assert_eq!(b.command, ["bash", "-lc", "make watch"]);
    assert_eq!(
        b.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [("CARGO_TARGET_DIR", "/tmp/target"), ("RUST_LOG", "debug")]
    );
    let spare = &cfg.pools[1];
    assert_eq!((spare.start_index, spare.max, spare.min), (100, 1, 0));
    assert_eq!(spare.workdir, PathBuf::from("/srv/spare"));

    let m = &cfg.sessions[0];
    assert_eq!(m.name, "monitor");
    assert_eq!(m.command, ["tail", "-F", "syslog"]);
    assert_eq!(m.env.get("LANG").map(String::as_str), Some("C.UTF-8"));

    assert_eq!(cfg.backoff.initial, Duration::from_secs(1));
    assert_eq!(cfg.backoff.max, Duration::from_secs(60));
    assert_eq!(cfg.backoff.reset_after, Duration::from_secs(30 * 60));
    assert_eq!(cfg.backoff.max_restarts, 5);
    assert_eq!(cfg.agent.commands, ["codex"]);
    assert_eq!(cfg.agent.shells, ["bash", "zsh"]);
    assert_eq!(cfg.agent.working_patterns, ["thinking"]);
    assert_eq!(cfg.agent.waiting_patterns, ["Approve?"]);
    assert_eq!(cfg.agent.busy_window, Duration::from_secs(5));
    assert_eq!(
        cfg.status_file,
        Some(PathBuf::from("/home/op/.cache/dispatcher/status.json"))
    );
    assert_eq!(cfg.state_dir, PathBuf::from("/var/tmp/tmux-supervisor"));

    // min < max: the first two builders are kept, the other three only watched.
    let layout = Layout::new(&cfg);
    let kept: Vec<&str> = layout
        .slots
        .iter()
        .filter(|s| s.supervised())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(kept, ["build_1", "build_2", "monitor"]);
}

#[test]
fn every_bad_file_fails_on_its_line() {
    for (name, line, needles) in BAD {
        let path = fixture("bad", name);
        let shown = path.display().to_string();
        let err = load("bad", name).expect_err(name);
        assert_eq!(err.file, shown, "{name}");
        let problem = err
            .problems
            .iter()
            .find(|p| p.line == Some(*line))
            .unwrap_or_else(|| panic!("{name}: no problem on line {line}:\n{err}"));
        for needle in *needles {
            assert!(
                problem.message.contains(needle),
                "{name}:{line}: `{}` does not contain `{needle}`",
                problem.message
            );
        }
        assert!(problem.hint.is_some(), "{name}:{line}: no hint");
        let text = err.to_string();
        assert!(
            text.contains(&format!("{shown}:{line}:")),
            "{name}:\n{text}"
        );
    }
}

#[test]
fn single_rule_files_have_a_single_problem() {
    for (name, ..) in BAD {
        if ["several_problems.yaml"].contains(name) {
            continue;
        }
        let err = load("bad", name).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{name}:\n{err}");
    }
}

#[test]
fn unknown_keys_suggest_the_known_one() {
    let hint = |name| load("bad", name).unwrap_err().problems[0].hint.clone();
    assert_eq!(
        hint("unknown_top_level_key.yaml").as_deref(),
        Some("did you mean `poll_interval`?")
    );
    assert_eq!(
        hint("unknown_pool_key.yaml").as_deref(),
        Some("did you mean `prefix`?")
    );
}

#[test]
fn a_pool_problem_points_at_the_pool_item_first_key() {
    // `  - name: auto` on line 3: column 5 is `name`, not the `:` after it.
    let err = load("bad", "missing_restart.yaml").unwrap_err();
    let p = &err.problems[0];
    assert_eq!((p.line, p.column), (Some(3), Some(5)), "{err}");
    let shown = fixture("bad", "missing_restart.yaml").display().to_string();
    assert!(err.to_string().contains(&format!("{shown}:3:5:")), "{err}");
}

#[test]
fn collision_hints_say_what_to_change() {
    let hint = |name| {
        load("bad", name).unwrap_err().problems[0]
            .hint
            .clone()
            .unwrap()
    };
    assert!(hint("subtle_prefix_collision.yaml").contains("prefix, start_index or max"));
    assert!(
        hint("dedicated_equals_slot.yaml").contains("rename the dedicated session"),
        "{}",
        hint("dedicated_equals_slot.yaml")
    );
}

#[test]
fn overlapping_pools_report_the_shared_slots_once() {
    let err = load("bad", "overlapping_pools.yaml").unwrap_err();
    // manual owns ccl-0..ccl-9, auto ccl-8..ccl-11: only ccl-8 and ccl-9 are shared.
    assert_eq!(err.problems.len(), 1, "{err}");
    let m = &err.problems[0].message;
    assert!(m.starts_with("2 slots are defined twice"), "{err}");
    assert!(
        m.contains("`ccl-8`, `ccl-9`") && !m.contains("ccl-10"),
        "{err}"
    );
    assert_eq!(err.problems[0].line, Some(8), "{err}");
}

#[test]
fn a_large_overlap_is_one_short_problem() {
    let err = tmux_supervisor::config::Config::parse(
        "pools:\n  - {name: a, prefix: \"w-\", max: 1000, restart: never}\n  - {name: b, prefix: \"w-\", max: 1000, restart: never}\n",
        "t.yaml",
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(
        err.problems[0]
            .message
            .contains("1000 slots are defined twice"),
        "{err}"
    );
    assert!(err.problems[0].message.contains("and 995 more"), "{err}");
}

#[test]
fn several_problems_are_all_reported_in_line_order() {
    let err = load("bad", "several_problems.yaml").unwrap_err();
    let expected: &[(usize, &str)] = &[
        (4, "`my docs` contains ` `"),
        (8, "`ccl.auto-` contains `.`"),
        (10, "`min` (4) is greater than `max` (3)"),
        (11, "`sometimes` is not a restart policy"),
        (14, "pool `more`: `max` must be at least 1"),
        (16, "`poll_interval` must be longer than zero"),
        (19, "are both set"),
        (21, "`backoff.max_restarts` must be a whole number"),
    ];
    let got: Vec<(Option<usize>, &str)> = err
        .problems
        .iter()
        .map(|p| (p.line, p.message.as_str()))
        .collect();
    assert_eq!(got.len(), expected.len(), "{err}");
    for ((line, msg), (want_line, needle)) in got.iter().zip(expected) {
        assert_eq!(*line, Some(*want_line), "{err}");
        assert!(
            msg.contains(needle),
            "line {want_line}: `{msg}` lacks `{needle}`"
        );
    }
    let text = err.to_string();
    assert!(text.contains("8 problems"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// The binary.

/// Runs the binary with a clean environment: no `TMUX_SUPERVISOR_CONFIG` unless `env` sets
/// it, and `HOME`/`XDG_*` in a fresh temporary directory so no real config leaks in.
fn run_in(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tmux-supervisor"));
    cmd.args(args)
        .env_remove("TMUX_SUPERVISOR_CONFIG")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    run_in(home.path(), args, env)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_rejects_every_bad_file_with_status_2() {
    for (name, line, _) in BAD {
        let path = fixture("bad", name);
        let shown = path.display().to_string();
        let out = run(&["config", "--check", "-c", &shown], &[]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("{shown}:{line}:")),
            "{name}:\n{}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "", "{name}");
    }
}

#[test]
fn check_accepts_every_good_file_silently() {
    for name in GOOD {
        let shown = fixture("good", name).display().to_string();
        let out = run(&["config", "--check", "-c", &shown], &[]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{name}");
    }
}

#[test]
fn config_prints_the_production_pools_and_slots() {
    let shown = fixture("good", "production.yaml").display().to_string();
    let out = run(&["config", "-c", &shown], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("config: {shown}")), "{text}");
    assert!(text.contains("pool manual"), "{text}");
    assert!(text.contains("pool auto"), "{text}");
    for name in ["ccl-0", "ccl-9", "ccl-auto-11", "ccl-auto-20"] {
        assert!(
            text.split_whitespace().any(|w| w == name),
            "{name}:\n{text}"
        );
    }
    for name in ["ccl-auto-0", "ccl-auto-10", "ccl-auto-21", "ccl-10"] {
        assert!(!text.contains(name), "{name}:\n{text}");
    }
}

#[test]
fn options_may_stand_before_or_after_the_subcommand() {
    let shown = fixture("good", "minimal.yaml").display().to_string();
    let home = tempfile::tempdir().unwrap();
    let after = run_in(home.path(), &["config", "-c", &shown], &[]);
    let before = run_in(home.path(), &["-c", &shown, "config"], &[]);
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    assert_eq!(before.status.code(), Some(0), "{}", stderr(&before));
    assert!(stdout(&after).contains("pool work"), "{}", stdout(&after));
    assert_eq!(stdout(&before), stdout(&after));

    let bad = fixture("bad", "max_zero.yaml").display().to_string();
    let out = run(&["-c", &bad, "config", "--check"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("{bad}:5:")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn without_c_the_environment_variable_is_used() {
    let shown = fixture("good", "minimal.yaml").display().to_string();
    let out = run(&["config"], &[("TMUX_SUPERVISOR_CONFIG", &shown)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("config: {shown}")),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("pool work"));

    // -c wins over the variable.
    let prod = fixture("good", "production.yaml").display().to_string();
    let out = run(
        &["config", "-c", &prod],
        &[("TMUX_SUPERVISOR_CONFIG", &shown)],
    );
    assert!(
        stdout(&out).contains(&format!("config: {prod}")),
        "{}",
        stdout(&out)
    );

    // A bad file named by the variable is reported like one given with -c.
    let bad = fixture("bad", "duration_zero.yaml").display().to_string();
    let out = run(&["config", "--check"], &[("TMUX_SUPERVISOR_CONFIG", &bad)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("{bad}:2:")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_xdg_config_file_is_used_when_present() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/tmux-supervisor");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("good", "socket_name.yaml"), dir.join("config.yaml")).unwrap();
    let out = run_in(home.path(), &["config"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("config: {}", dir.join("config.yaml").display())),
        "{text}"
    );
    assert!(text.contains("tmux -L supervised"), "{text}");
}

#[test]
fn with_nothing_set_the_embedded_default_is_used() {
    let out = run(&["config"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("config: {EMBEDDED}")), "{text}");
    assert!(text.contains("<embedded default config>"), "{text}");
    assert!(
        text.contains("pool manual") && text.contains("pool auto"),
        "{text}"
    );
    assert!(text.contains("ccl-auto-20"), "{text}");
}

#[test]
fn a_missing_file_is_reported() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("nope.yaml").display().to_string();
    let out = run_in(home.path(), &["config", "--check", "-c", &missing], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&missing), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}
