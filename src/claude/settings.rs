//! The Claude Code settings that install the supervisor's hooks: the document passed with
//! `--settings`, which hook commands are ours, and merging ours into (or out of) a user's
//! settings while keeping everything else as it was.

use std::path::Path;

use serde_json::{Map, Value, json};

/// The hook events the supervisor listens to. All nine fire in Claude Code 2.1.197 (seen with
/// the real client against the mock API; see the README).
pub const EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
    "StopFailure",
    "SessionEnd",
];

/// Seconds Claude Code gives each of our hooks before it cancels it. The hook returns in well
/// under 100 ms; this only bounds a state dir that hangs (a stuck network mount).
pub const TIMEOUT_SECS: u64 = 5;

/// `s` quoted for `/bin/sh` (Claude Code runs a hook's command with `sh -c`): in single
/// quotes, each `'` written as `'\''`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The command of our hook for `event`: `'<exe>' hook <event>`, with `--state-dir '<dir>'`
/// when one is given. Paths that are not UTF-8 are taken lossily (the caller checks, see
/// [`utf8`]).
pub fn command(exe: &Path, state_dir: Option<&Path>, event: &str) -> String {
    let exe = quote(&exe.to_string_lossy());
    match state_dir {
        Some(dir) => format!(
            "{exe} hook --state-dir {} {event}",
            quote(&dir.to_string_lossy())
        ),
        None => format!("{exe} hook {event}"),
    }
}

/// `Ok` when `path` can be written into a hook command as it is.
pub fn utf8(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", path.display()))
}

/// The `--state-dir` a hook command needs for the state dir `dir`: none when it is the default
/// one, so that the command the supervisor passes with `--settings` and the one `hooks install`
/// writes are the same text (Claude Code then runs it once, not twice).
pub fn state_dir_arg(dir: &Path) -> Option<&Path> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| std::path::PathBuf::from("/"), std::path::PathBuf::from);
    (dir != crate::config::default_state_dir(&home)).then_some(dir)
}

/// The whole settings file the supervisor writes and passes with `--settings`: one command hook
/// per event of [`EVENTS`], for every matcher, each with the [`TIMEOUT_SECS`] timeout.
pub fn document(exe: &Path, state_dir: Option<&Path>) -> Value {
    let hooks: Map<String, Value> = EVENTS
        .iter()
        .map(|&event| {
            let group = json!([{ "hooks": [{
                "type": "command",
                "command": command(exe, state_dir, event),
                "timeout": TIMEOUT_SECS,
            }]}]);
            (event.to_owned(), group)
        })
        .collect();
    json!({ "hooks": hooks })
}

/// Writes the file agent slots are started with (`--settings`): `claude-settings.json` in the
/// state dir, this very executable in each hook's command. Returns its path.
pub fn write_for_slots(state_dir: &Path) -> Result<std::path::PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let doc = document(&exe, state_dir_arg(state_dir));
    let path = state_dir.join("claude-settings.json");
    let mut text = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
    text.push(b'\n');
    crate::statedir::write_atomic(&path, &text)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Whether a hook command is ours: it runs an executable named `tmux-supervisor` (any path)
/// with `hook` as its first argument. So an install from another path replaces ours.
pub fn is_ours(command: &str) -> bool {
    let Some(words) = shlex::split(command) else {
        return false;
    };
    matches!(
        words.as_slice(),
        [exe, sub, ..] if sub == "hook" && Path::new(exe).file_name().is_some_and(|n| n == "tmux-supervisor")
    )
}

/// The command of a hook entry when it is one of ours.
fn our_command(entry: &Value) -> Option<&str> {
    let command = entry.get("command")?.as_str()?;
    (entry.get("type").and_then(Value::as_str) == Some("command") && is_ours(command))
        .then_some(command)
}

/// Why a settings document cannot be changed safely: its shape is not the one Claude Code reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Shape {
    #[error("it is not a JSON object")]
    NotObject,
    #[error("its `hooks` is not an object")]
    HooksNotObject,
    #[error("its `hooks.{0}` is not a list")]
    EventNotList(String),
    #[error("its `hooks.{0}[{1}]` is not an object")]
    GroupNotObject(String, usize),
    #[error("its `hooks.{0}[{1}].hooks` is not a list")]
    EntriesNotList(String, usize),
}

/// The `hooks` object of a settings document (`None` when there is none), after checking the
/// shape of all of it: every event a list of matcher groups, each group an object whose
/// `hooks` (when present) is a list.
fn hooks_of(doc: &mut Value) -> Result<Option<&mut Map<String, Value>>, Shape> {
    let obj = doc.as_object_mut().ok_or(Shape::NotObject)?;
    let Some(hooks) = obj.get_mut("hooks") else {
        return Ok(None);
    };
    let hooks = hooks.as_object_mut().ok_or(Shape::HooksNotObject)?;
    for (event, groups) in hooks.iter() {
        let groups = groups
            .as_array()
            .ok_or_else(|| Shape::EventNotList(event.clone()))?;
        for (i, group) in groups.iter().enumerate() {
            let group = group
                .as_object()
                .ok_or_else(|| Shape::GroupNotObject(event.clone(), i))?;
            if group.get("hooks").is_some_and(|h| !h.is_array()) {
                return Err(Shape::EntriesNotList(event.clone(), i));
            }
        }
    }
    Ok(Some(hooks))
}

/// Checks that `doc` has the shape [`merge`] and [`unmerge`] need.
pub fn check(doc: &Value) -> Result<(), Shape> {
    hooks_of(&mut doc.clone()).map(|_| ())
}

/// Removes every hook of ours from `doc`, and a matcher group, an event or the `hooks` object
/// only when removing ours emptied it. Everything else stays in place. Returns how many were
/// removed.
pub fn unmerge(doc: &mut Value) -> Result<usize, Shape> {
    let Some(hooks) = hooks_of(doc)? else {
        return Ok(0);
    };
    let mut removed = 0;
    let mut emptied_events = Vec::new();
    for (event, groups) in hooks.iter_mut() {
        let Some(groups) = groups.as_array_mut() else {
            continue;
        };
        let before = groups.len();
        groups.retain_mut(|group| {
            let Some(entries) = group.get_mut("hooks").and_then(Value::as_array_mut) else {
                return true;
            };
            let had = entries.len();
            entries.retain(|e| our_command(e).is_none());
            removed += had - entries.len();
            !(entries.is_empty() && had > 0)
        });
        if groups.is_empty() && before > 0 {
            emptied_events.push(event.clone());
        }
    }
    for event in &emptied_events {
        hooks.shift_remove(event);
    }
    if hooks.is_empty()
        && !emptied_events.is_empty()
        && let Some(obj) = doc.as_object_mut()
    {
        obj.shift_remove("hooks");
    }
    Ok(removed)
}

/// Puts the hooks of `ours` (a [`document`]) into `doc` after removing any of ours already
/// there (from any path, on any event): each event gets our matcher group last. Returns
/// whether `doc` changed: merging the same hooks twice changes nothing the second time.
pub fn merge(doc: &mut Value, ours: &Value) -> Result<bool, Shape> {
    let before = doc.clone();
    unmerge(doc)?;
    let obj = doc.as_object_mut().ok_or(Shape::NotObject)?;
    let hooks = obj
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or(Shape::HooksNotObject)?;
    for (event, groups) in ours
        .get("hooks")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let list = hooks
            .entry(event.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .ok_or_else(|| Shape::EventNotList(event.clone()))?;
        list.extend(groups.as_array().into_iter().flatten().cloned());
    }
    Ok(*doc != before)
}

/// Our hook commands in `doc`, by event, in the order they appear.
pub fn ours_by_event(doc: &Value) -> Result<Vec<(String, Vec<String>)>, Shape> {
    let mut doc = doc.clone();
    let Some(hooks) = hooks_of(&mut doc)? else {
        return Ok(Vec::new());
    };
    Ok(hooks
        .iter()
        .map(|(event, groups)| {
            let commands = groups
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g.get("hooks").and_then(Value::as_array))
                .flatten()
                .filter_map(our_command)
                .map(str::to_owned)
                .collect();
            (event.clone(), commands)
        })
        .filter(|(_, c): &(String, Vec<String>)| !c.is_empty())
        .collect())
}

/// The executable a hook command of ours runs (its first word, unquoted).
pub fn exe_of(command: &str) -> Option<String> {
    shlex::split(command)?.into_iter().next()
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
