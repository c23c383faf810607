//! Which conversation a Claude Code slot starts with: a fresh one under a new pinned id
//! (`--session-id`), or the one it had (`--resume`) when its transcript is there. Pure, but for
//! [`new_id`] and [`find_transcript`].

use std::path::{Path, PathBuf};

use crate::memory::AgentSession;
use crate::time::{Millis, short_age};

/// A resumed conversation whose agent ends again sooner than this is not resumed a second
/// time: the next start is fresh, so a transcript that cannot be resumed is no crash loop.
pub const RESUME_PROVEN: Millis = 60_000;

/// How an agent slot is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// A new conversation with this id; `why` says why not the old one.
    Fresh { id: String, why: String },
    /// The conversation with this id, brought back.
    Resume { id: String },
}

impl Start {
    pub fn id(&self) -> &str {
        match self {
            Start::Fresh { id, .. } | Start::Resume { id } => id,
        }
    }

    pub fn resumed(&self) -> bool {
        matches!(self, Start::Resume { .. })
    }

    /// The flags that say it on Claude Code's command line (never both).
    pub fn flags(&self) -> [String; 2] {
        match self {
            Start::Fresh { id, .. } => ["--session-id".into(), id.clone()],
            Start::Resume { id } => ["--resume".into(), id.clone()],
        }
    }

    /// For the event log: "resuming conversation 1a2b3c4d", "fresh conversation 9f8e7d6c: …".
    pub fn describe(&self) -> String {
        match self {
            Start::Resume { id } => format!("resuming conversation {}", short(id)),
            Start::Fresh { id, why } => format!("fresh conversation {}: {why}", short(id)),
        }
    }
}

/// A new conversation id (a random UUID, as Claude Code makes them).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// True for a conversation id as Claude Code writes it (a hyphenated UUID): only such a word
/// is ever put on a command line after `--resume`.
pub fn is_id(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}

/// The first 8 characters of an id, as the UI shows it.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// What Claude Code knows about the transcript of the slot's conversation at the last poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transcript {
    /// Found there, this many bytes long.
    Found(PathBuf, u64),
    /// Not at any of these places.
    Missing(Vec<PathBuf>),
    /// There, but without a message of the user's yet (the agent died before it wrote
    /// the prompt): nothing to resume, and Claude Code's `--resume` would refuse it.
    Empty(PathBuf),
}

/// The next start of an agent slot whose conversation was `last`. `transcript` is what the
/// last poll found for that conversation (`None`: not looked for yet; then it is resumed, and
/// a resume that fails ends soon and is followed by a fresh start). `fresh` is the operator
/// asking for a new conversation.
pub fn next_start(
    last: Option<&AgentSession>,
    transcript: Option<&Transcript>,
    fresh: bool,
    now: Millis,
) -> Start {
    let why = |why: String| Start::Fresh { id: new_id(), why };
    let Some(last) = last.filter(|l| is_id(&l.id)) else {
        return why("first start".into());
    };
    if fresh {
        return why(format!(
            "asked by the operator (conversation {} left as it is)",
            short(&last.id)
        ));
    }
    if last.resumed
        && let Some(at) = last.started_at
        && now.saturating_sub(at) < RESUME_PROVEN
    {
        return why(format!(
            "conversation {} was resumed {} ago and ended again",
            short(&last.id),
            short_age(now.saturating_sub(at))
        ));
    }
    match transcript {
        Some(Transcript::Missing(places)) => why(format!(
            "no transcript for {} at {}",
            short(&last.id),
            places
                .first()
                .map_or_else(|| "its project dir".into(), |p| p.display().to_string())
        )),
        Some(Transcript::Empty(path)) => why(format!(
            "the transcript of {} has no message yet ({})",
            short(&last.id),
            path.display()
        )),
        Some(Transcript::Found(..)) | None => Start::Resume {
            id: last.id.clone(),
        },
    }
}

/// Claude Code's name for a project dir: the cwd with every character that is not an ASCII
/// letter or digit replaced by `-` (`/home/a/src.x` → `-home-a-src-x`).
pub fn project_dir_name(cwd: &Path) -> String {
    cwd.to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Where a conversation's transcript may be: where the agent's hooks said it is, then
/// `<config dir>/projects/<cwd>/<id>.jsonl` for the workdir as resolved and as written.
/// The config dir is `CLAUDE_CONFIG_DIR` of the slot's environment, else of the
/// supervisor's, else `~/.claude`.
pub fn transcript_places(
    id: &str,
    workdir: &Path,
    config_dir: &Path,
    from_hook: Option<&str>,
) -> Vec<PathBuf> {
    let file = format!("{id}.jsonl");
    let mut places = Vec::new();
    if let Some(p) = from_hook.map(PathBuf::from)
        && p.file_name().is_some_and(|f| f == file.as_str())
    {
        places.push(p);
    }
    let resolved = std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_path_buf());
    for cwd in [resolved.as_path(), workdir] {
        let p = config_dir
            .join("projects")
            .join(project_dir_name(cwd))
            .join(&file);
        if !places.contains(&p) {
            places.push(p);
        }
    }
    places
}

/// The first of `places` that is a regular file (following symlinks: it is the user's own
/// config dir, read only to see that the file is there).
pub fn find_transcript(places: Vec<PathBuf>) -> Transcript {
    for p in &places {
        if let Ok(m) = std::fs::metadata(p)
            && m.is_file()
        {
            if m.len() < SMALL && !has_a_message(p) {
                return Transcript::Empty(p.clone());
            }
            return Transcript::Found(p.clone(), m.len());
        }
    }
    Transcript::Missing(places)
}

/// A transcript this small is read to see that it holds a message; a bigger one surely does.
const SMALL: u64 = 64 * 1024;

/// The transcript has a line of the user's (`"type":"user"`): there is a conversation.
fn has_a_message(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| {
        b.split(|&c| c == b'\n')
            .any(|line| line.windows(13).any(|w| w == b"\"type\":\"user\""))
    })
}

/// The config dir Claude Code uses for a slot whose own environment sets `CLAUDE_CONFIG_DIR`
/// to `slot_dir` and `HOME` to `slot_home` (when it does): the slot's config dir, else the
/// supervisor's (`own`: the tmux server it starts has it), else `.claude` in the slot's `HOME`,
/// else in the supervisor's `home`.
pub fn config_dir(
    slot_dir: Option<&str>,
    slot_home: Option<&str>,
    own: Option<std::ffi::OsString>,
    home: &Path,
) -> PathBuf {
    slot_dir
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| own.filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(|| {
            slot_home
                .filter(|v| !v.is_empty())
                .map(|h| Path::new(h).join(".claude"))
        })
        .unwrap_or_else(|| home.join(".claude"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn session(id: &str, resumed: bool, at: Millis) -> AgentSession {
        AgentSession {
            id: id.into(),
            resumed,
            started_at: Some(at),
            transcript: None,
        }
    }

    const ID: &str = "1a2b3c4d-0000-4000-8000-000000000001";

    #[test]
    fn a_fresh_start_mints_an_id_and_a_resume_keeps_it() {
        let first = next_start(None, None, false, 0);
        assert!(is_id(first.id()) && !first.resumed());
        assert_eq!(first.flags()[0], "--session-id");
        let found = Transcript::Found("/x".into(), 1);
        let again = next_start(Some(&session(ID, false, 0)), Some(&found), false, 10);
        assert_eq!(again, Start::Resume { id: ID.into() });
        assert_eq!(again.flags(), ["--resume".to_string(), ID.to_string()]);
    }

    #[test]
    fn no_transcript_means_fresh_with_the_place_looked_at() {
        let missing = Transcript::Missing(vec!["/h/.claude/projects/-w/x.jsonl".into()]);
        let s = next_start(Some(&session(ID, false, 0)), Some(&missing), false, 10);
        assert!(!s.resumed() && s.id() != ID);
        assert!(
            s.describe()
                .ends_with("no transcript for 1a2b3c4d at /h/.claude/projects/-w/x.jsonl"),
            "{}",
            s.describe()
        );
    }

    #[test]
    fn a_resume_that_ends_soon_is_followed_by_a_fresh_start() {
        let found = Transcript::Found("/x".into(), 1);
        let soon = next_start(Some(&session(ID, true, 1_000)), Some(&found), false, 30_000);
        assert!(!soon.resumed(), "{soon:?}");
        assert!(
            soon.describe()
                .contains("was resumed 29s ago and ended again")
        );
        let later = next_start(
            Some(&session(ID, true, 1_000)),
            Some(&found),
            false,
            1_000 + RESUME_PROVEN,
        );
        assert!(later.resumed());
        // A fresh start that ended soon is resumed: only a resume is suspected.
        assert!(next_start(Some(&session(ID, false, 1_000)), Some(&found), false, 2_000).resumed());
    }

    #[test]
    fn the_operator_may_ask_for_fresh_and_a_bad_id_is_never_resumed() {
        let found = Transcript::Found("/x".into(), 1);
        assert!(!next_start(Some(&session(ID, false, 0)), Some(&found), true, 1).resumed());
        let forged = session("x; rm -rf ~", false, 0);
        let s = next_start(Some(&forged), Some(&found), false, 1);
        assert!(!s.resumed() && is_id(s.id()));
    }

    #[test]
    fn transcripts_are_where_claude_code_keeps_them() {
        assert_eq!(
            project_dir_name(Path::new("/home/a/src.x_y")),
            "-home-a-src-x-y"
        );
        let places = transcript_places(
            ID,
            Path::new("/nonexistent/w.d"),
            Path::new("/h/.claude"),
            Some("/elsewhere/1a2b3c4d-0000-4000-8000-000000000001.jsonl"),
        );
        assert_eq!(
            places,
            vec![
                PathBuf::from("/elsewhere/1a2b3c4d-0000-4000-8000-000000000001.jsonl"),
                PathBuf::from(
                    "/h/.claude/projects/-nonexistent-w-d/1a2b3c4d-0000-4000-8000-000000000001.jsonl"
                ),
            ]
        );
        // A hook's path to some other file is not taken.
        let other = transcript_places(ID, Path::new("/w"), Path::new("/c"), Some("/etc/passwd"));
        assert_eq!(other.len(), 1);
    }

    #[test]
    fn a_transcript_without_a_message_is_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("{ID}.jsonl"));
        std::fs::write(&p, "{\"type\":\"ai-title\"}\n{\"type\":\"mode\"}\n").unwrap();
        let t = find_transcript(vec![p.clone()]);
        assert_eq!(t, Transcript::Empty(p.clone()));
        let s = next_start(Some(&session(ID, false, 0)), Some(&t), false, 10);
        assert!(!s.resumed());
        assert!(
            s.describe()
                .contains("the transcript of 1a2b3c4d has no message yet"),
            "{}",
            s.describe()
        );
        std::fs::write(
            &p,
            "{\"type\":\"mode\"}\n{\"type\":\"user\",\"message\":{}}\n",
        )
        .unwrap();
        assert!(matches!(find_transcript(vec![p]), Transcript::Found(..)));
    }

    #[test]
    fn the_config_dir_is_the_slots_then_the_supervisors_then_home() {
        let home = Path::new("/h");
        assert_eq!(
            config_dir(None, None, None, home),
            PathBuf::from("/h/.claude")
        );
        assert_eq!(
            config_dir(None, None, Some("/own".into()), home),
            PathBuf::from("/own")
        );
        assert_eq!(
            config_dir(None, Some("/slot-home"), None, home),
            PathBuf::from("/slot-home/.claude")
        );
        assert_eq!(
            config_dir(Some("/slot"), Some("/slot-home"), Some("/own".into()), home),
            PathBuf::from("/slot")
        );
    }
}
