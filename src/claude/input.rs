//! The event JSON a Claude Code hook gets on stdin: read within a size and a time bound, and
//! the few fields the supervisor keeps picked out of it without building the whole document
//! (a `PostToolUse` may carry a file's contents), keeping what came before any cut or error.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

/// The most of stdin kept; the rest is read and dropped (so the client's write never fails).
pub const MAX_INPUT: usize = 1024 * 1024;
/// Stop reading after this long without a byte.
pub const SILENCE: Duration = Duration::from_millis(50);
/// Stop reading after this long in all.
pub const READ_LIMIT: Duration = Duration::from_millis(80);

/// The fields of the event JSON the supervisor keeps; each only when it is a string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub hook_event_name: Option<String>,
    pub session_id: Option<String>,
    pub transcript_path: Option<String>,
    pub cwd: Option<String>,
    pub tool_name: Option<String>,
    pub notification_type: Option<String>,
    pub message: Option<String>,
    pub error: Option<String>,
    pub source: Option<String>,
    pub reason: Option<String>,
    pub last_assistant_message: Option<String>,
}

impl Fields {
    fn slot(&mut self, key: &str) -> Option<&mut Option<String>> {
        Some(match key {
            "hook_event_name" => &mut self.hook_event_name,
            "session_id" => &mut self.session_id,
            "transcript_path" => &mut self.transcript_path,
            "cwd" => &mut self.cwd,
            "tool_name" => &mut self.tool_name,
            "notification_type" => &mut self.notification_type,
            "message" => &mut self.message,
            "error" => &mut self.error,
            "source" => &mut self.source,
            "reason" => &mut self.reason,
            "last_assistant_message" => &mut self.last_assistant_message,
            _ => return None,
        })
    }
}

/// The top-level string fields of `bytes` (a JSON object), as far as it is valid: a document
/// cut short or broken further on still gives the fields before the break; anything that is
/// not an object gives none.
pub fn fields(bytes: &[u8]) -> Fields {
    let mut out = Fields::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let _ = de.deserialize_map(Top(&mut out));
    out
}

/// Visits the top-level object, filling the [`Fields`] as it goes (so an error later keeps them).
struct Top<'a>(&'a mut Fields);

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a hook event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match self.0.slot(&key) {
                Some(field) => {
                    if let Some(s) = map.next_value_seed(StringOrNothing)? {
                        *field = Some(s);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A value kept when it is a string; any other value is skipped.
struct StringOrNothing;

impl<'de> DeserializeSeed<'de> for StringOrNothing {
    type Value = Option<String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StringOrNothing {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// Reads stdin until it ends, or for at most [`READ_LIMIT`], or until it has been silent for
/// [`SILENCE`]; keeps the first [`MAX_INPUT`] bytes. A terminal is not read at all (nobody is
/// going to type the event), nor is a closed stdin.
pub fn read_stdin() -> Vec<u8> {
    let stdin = std::io::stdin();
    if rustix::termios::isatty(&stdin) {
        return Vec::new();
    }
    read_bounded(&mut stdin.lock(), SILENCE, READ_LIMIT)
}

/// The bounded read of [`read_stdin`] on any file descriptor.
pub fn read_bounded<F>(input: &mut F, silence: Duration, limit: Duration) -> Vec<u8>
where
    F: std::io::Read + std::os::fd::AsFd,
{
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let deadline = Instant::now() + limit;
    let mut kept = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let wait = silence.min(deadline.saturating_duration_since(Instant::now()));
        if wait.is_zero() {
            break;
        }
        let timeout = Timespec::try_from(wait).unwrap_or(Timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        });
        let mut fds = [PollFd::new(input, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
        let ready = fds[0].revents();
        if !ready.intersects(PollFlags::IN | PollFlags::HUP) {
            break;
        }
        match input.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_INPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const STOP: &str = r#"{"session_id":"6296b6d1","transcript_path":"/h/.claude/projects/-p/6296b6d1.jsonl","cwd":"/p","hook_event_name":"Stop","stop_hook_active":false,"last_assistant_message":"Done.","background_tasks":[],"effort":{"level":"high"}}"#;

    #[test]
    fn the_kept_fields_are_picked_out() {
        let f = fields(STOP.as_bytes());
        assert_eq!(f.hook_event_name.as_deref(), Some("Stop"));
        assert_eq!(f.session_id.as_deref(), Some("6296b6d1"));
        assert_eq!(f.cwd.as_deref(), Some("/p"));
        assert_eq!(f.last_assistant_message.as_deref(), Some("Done."));
        assert_eq!(f.tool_name, None);
    }

    #[test]
    fn a_cut_or_broken_document_keeps_what_came_before() {
        let cut = &STOP[..STOP.find("last_assistant").unwrap()];
        let f = fields(cut.as_bytes());
        assert_eq!(f.hook_event_name.as_deref(), Some("Stop"));
        assert_eq!(f.last_assistant_message, None);
        let f = fields(br#"{"hook_event_name":"PreToolUse","tool_input":{"a":[1,{"b":"#);
        assert_eq!(f.hook_event_name.as_deref(), Some("PreToolUse"));
        for junk in [&b""[..], b"[1,2]", b"\"Stop\"", b"nope", b"\xff\xfe"] {
            assert_eq!(fields(junk), Fields::default());
        }
    }

    #[test]
    fn values_that_are_not_strings_are_ignored() {
        let f = fields(
            br#"{"tool_name":{"x":1},"message":["a"],"error":null,"source":7,"cwd":"/ok","hook_event_name":"Notification\u001b"}"#,
        );
        assert_eq!(
            (f.tool_name, f.message, f.error, f.source),
            (None, None, None, None)
        );
        assert_eq!(f.cwd.as_deref(), Some("/ok"));
        assert_eq!(f.hook_event_name.as_deref(), Some("Notification\u{1b}"));
    }

    #[test]
    fn a_pipe_that_never_closes_is_given_up_on() {
        let (mut r, mut w) = std::io::pipe().unwrap();
        std::io::Write::write_all(&mut w, STOP.as_bytes()).unwrap();
        let started = Instant::now();
        let got = read_bounded(&mut r, SILENCE, READ_LIMIT);
        assert!(started.elapsed() < Duration::from_millis(500));
        assert_eq!(got, STOP.as_bytes());
        drop(w);
    }

    #[test]
    fn a_big_input_is_kept_in_part_and_read_to_its_end() {
        let (mut r, mut w) = std::io::pipe().unwrap();
        let writer = std::thread::spawn(move || {
            let big = format!(
                r#"{{"hook_event_name":"PostToolUse","tool_response":"{}"}}"#,
                "a".repeat(3 * MAX_INPUT)
            );
            std::io::Write::write_all(&mut w, big.as_bytes())
        });
        let got = read_bounded(&mut r, SILENCE, Duration::from_secs(5));
        assert!(
            writer.join().unwrap().is_ok(),
            "the writer saw its input read"
        );
        assert_eq!(got.len(), MAX_INPUT);
        assert_eq!(fields(&got).hook_event_name.as_deref(), Some("PostToolUse"));
    }
}
