//! What the mock answers to a Messages request: the operator's newest words read out of the
//! conversation, the behaviour their keywords choose, and the content blocks of the answer.

use std::time::Duration;

use serde_json::{Value, json};

use super::MockOptions;

/// The behaviour chosen for one `/v1/messages` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A short streamed text (or, with `slow`, a long one streamed slowly).
    Text,
    /// Text, then a Bash `tool_use` (the client asks for permission).
    Tool,
    /// A Write `tool_use` creating the edit file.
    Edit,
    /// 429 `rate_limit_error` with the unified rate-limit headers, no retry.
    RateLimit,
    /// 529 `overloaded_error`: the client retries with backoff.
    Overloaded,
    /// 500 `api_error`, no retry.
    ServerError,
    /// `message_start`, then silence.
    Hang,
}

/// What the mock makes of a request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub mode: Mode,
    /// The request carries tools: the main agent loop (side requests such as the title get a
    /// short fast answer whatever they say).
    pub main: bool,
    /// The follow-up to our own `tool_use`: tool results and no new words.
    pub tool_result: bool,
    /// The operator's newest words (see [`prompt_of`]).
    pub prompt: String,
    /// Spread the text over this long.
    pub slow: Duration,
    /// Silence after `message_start` for this long.
    pub hang: Duration,
}

/// Removes every `<system-reminder>…</system-reminder>` block and `[Request interrupted by
/// user…]` note the client puts into a user turn.
fn clean(text: &str) -> String {
    let mut out = text.to_string();
    for (open, close) in [
        ("<system-reminder>", "</system-reminder>"),
        ("[Request interrupted by user", "]"),
    ] {
        while let Some(start) = out.find(open) {
            let Some(len) = out[start + open.len()..].find(close) else {
                break;
            };
            out.replace_range(start..start + open.len() + len + close.len(), "");
        }
    }
    out.trim().to_string()
}

/// The text blocks of a message's content (a string or a list of blocks), cleaned.
fn texts(message: &Value) -> Vec<String> {
    match &message["content"] {
        Value::String(s) => vec![clean(s)],
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .map(clean)
            .filter(|t| !t.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// A user turn's newest words: its last non-empty text block, cleaned. Only the last block
/// counts, because the client merges a prompt whose turn failed (429, interrupt) with the
/// next one. Empty for a turn that carries only tool results.
pub fn prompt_of(message: &Value) -> String {
    texts(message).pop().unwrap_or_default()
}

/// Every text of a user turn (all blocks, cleaned), for "did the conversation carry X".
pub fn all_text_of(message: &Value) -> String {
    texts(message).join("\n")
}

fn last_user(body: &Value) -> Option<&Value> {
    body["messages"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
}

fn has_tool_result(message: &Value) -> bool {
    message["content"]
        .as_array()
        .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where `word` starts in `text` after a word boundary (and, with `end`, before one too).
fn find_word(text: &str, word: &str, end: bool) -> Option<usize> {
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back().is_none_or(|c| !word_char(c));
        let after = text[i + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !word_char(c));
        before && (!end || after)
    })
}

/// The number right after `word` and some whitespace ("slow 6", "hang 2.5").
fn number_after(text: &str, at: usize, word: &str) -> Option<f64> {
    let rest = &text[at + word.len()..];
    let trimmed = rest.trim_start();
    if trimmed.len() == rest.len() {
        return None;
    }
    let n: String = trimmed
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    n.trim_end_matches('.').parse().ok()
}

fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

/// The plan for a request body, as the reference mock chooses it.
pub fn plan(body: &Value, opts: &MockOptions) -> Plan {
    let main = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let user = last_user(body);
    let prompt = user.map(prompt_of).unwrap_or_default();
    let tool_result = user.is_some_and(has_tool_result) && prompt.is_empty();
    let low = prompt.to_lowercase();
    let mut mode = Mode::Text;
    if main && !tool_result {
        mode = if low.contains("ratelimit") {
            Mode::RateLimit
        } else if low.contains("overloaded") {
            Mode::Overloaded
        } else if find_word(&low, "hang", true).is_some() {
            Mode::Hang
        } else if low.contains("servererror") {
            Mode::ServerError
        } else if low.contains("edit") {
            Mode::Edit
        } else if low.contains("tool") {
            Mode::Tool
        } else {
            Mode::Text
        };
    }
    let mut slow = Duration::ZERO;
    if main
        && !tool_result
        && let Some(at) = find_word(&low, "slow", false)
    {
        slow = number_after(&low, at, "slow").map_or(opts.slow, seconds);
    }
    if main && tool_result && !opts.slow_after_tool.is_zero() {
        slow = opts.slow_after_tool;
    }
    let hang = if mode == Mode::Hang {
        find_word(&low, "hang", true)
            .and_then(|at| number_after(&low, at, "hang"))
            .map_or(opts.hang, seconds)
    } else {
        Duration::ZERO
    };
    Plan {
        mode,
        main,
        tool_result,
        prompt,
        slow,
        hang,
    }
}

/// The text of a system prompt (a string, or a list of text blocks).
fn system_text(body: &Value) -> String {
    match &body["system"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Short answers to the client's own side requests (no tools): its title and topic checks.
fn side_text(body: &Value) -> String {
    let sys: String = system_text(body)
        .to_lowercase()
        .chars()
        .take(4000)
        .collect();
    if sys.contains("json") && sys.contains("title") {
        r#"{"title": "Mock session"}"#.to_string()
    } else if sys.contains("isnewtopic") || sys.contains("new conversation topic") {
        r#"{"isNewTopic": false, "title": null}"#.to_string()
    } else {
        "ok".to_string()
    }
}

/// Write needs an absolute path: the working directory named in the system prompt, else /tmp.
fn edit_path(body: &Value, file: &str) -> String {
    let sys = system_text(body);
    let dir = ["Primary working directory: ", "Working directory: "]
        .iter()
        .find_map(|marker| {
            let at = sys.find(marker)? + marker.len();
            sys[at..].split_whitespace().next().map(str::to_string)
        })
        .unwrap_or_else(|| "/tmp".to_string());
    format!("{}/{file}", dir.trim_end_matches('/'))
}

/// The content blocks of the answer and its stop reason.
pub fn blocks(plan: &Plan, body: &Value, opts: &MockOptions) -> (Vec<Value>, &'static str) {
    let text = if !plan.main {
        side_text(body)
    } else if plan.tool_result {
        "Tool finished. The mock saw the tool result.".to_string()
    } else if matches!(plan.mode, Mode::Tool | Mode::Edit) {
        "I will run a tool now.".to_string()
    } else if !plan.slow.is_zero() {
        "Working slowly on it. ".repeat(40).trim_end().to_string()
    } else {
        "Hello from the mock Anthropic API. Nothing to do.".to_string()
    };
    let mut out = vec![json!({"type": "text", "text": text})];
    let tool = match plan.mode {
        Mode::Tool if !plan.tool_result => Some((
            "Bash",
            json!({"command": opts.tool_command, "description": "Print a greeting from the mock"}),
        )),
        Mode::Edit if !plan.tool_result => Some((
            "Write",
            json!({"file_path": edit_path(body, &opts.edit_file), "content": "written by the mock\n"}),
        )),
        _ => None,
    };
    match tool {
        Some((name, input)) => {
            out.push(
                json!({"type": "tool_use", "id": super::new_id("toolu_mock"),
                            "name": name, "input": input}),
            );
            (out, "tool_use")
        }
        None => (out, "end_turn"),
    }
}

/// The usage block every answer carries.
pub fn usage(output_tokens: u64) -> Value {
    json!({"input_tokens": 10, "output_tokens": output_tokens,
           "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
}

/// A whole message, for a request without `stream`.
pub fn message(model: &str, blocks: &[Value], stop: &str) -> Value {
    json!({"id": super::new_id("msg_mock"), "type": "message", "role": "assistant",
           "model": model, "content": blocks, "stop_reason": stop, "stop_sequence": null,
           "usage": usage(10)})
}
