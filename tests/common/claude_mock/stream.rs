//! The mock's streamed answer: Server-Sent Events in a chunked body, `message_start`, `ping`,
//! each block's `content_block_start` / `_delta` / `_stop`, `message_delta`, `message_stop`,
//! paced for `slow` and `hang`, stopping early when the client goes away or the mock drops.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::answer::usage;
use super::http::{end_chunks, write_chunk, write_stream_head};

/// Why a stream ended before its `message_stop`.
#[derive(Debug)]
pub enum Cut {
    /// A write failed: the client closed the connection (an interrupt, most often).
    ClientGone(io::Error),
    /// The mock is being dropped.
    Stopped,
}

/// Sleeps `d` in short steps; `Err` as soon as the mock is stopping.
pub fn pause(d: Duration, stop: &AtomicBool) -> Result<(), Cut> {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(Cut::Stopped);
        }
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

struct Events<'a, W: Write> {
    out: &'a mut W,
    stop: &'a AtomicBool,
}

impl<W: Write> Events<'_, W> {
    fn send(&mut self, data: &Value) -> Result<(), Cut> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(Cut::Stopped);
        }
        let name = data["type"].as_str().unwrap_or("message");
        let payload = format!("event: {name}\ndata: {data}\n\n");
        write_chunk(self.out, payload.as_bytes()).map_err(Cut::ClientGone)
    }
}

/// Words with their trailing whitespace, as the text is streamed.
fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        if !c.is_whitespace() && in_space {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = c.is_whitespace();
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Pieces of at most `n` characters.
fn pieces(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// What one stream sends: the model named, the blocks, the stop reason, the pacing.
pub struct Answer<'a> {
    pub model: &'a str,
    pub blocks: &'a [Value],
    pub stop_reason: &'a str,
    pub slow: Duration,
    pub hang: Duration,
}

/// Streams `answer` over `out` (the head included).
pub fn stream(out: &mut impl Write, stop: &AtomicBool, answer: &Answer) -> Result<(), Cut> {
    write_stream_head(out).map_err(Cut::ClientGone)?;
    let mut ev = Events { out, stop };
    ev.send(&json!({"type": "message_start", "message": {
        "id": super::new_id("msg_mock"), "type": "message", "role": "assistant",
        "model": answer.model, "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": usage(1)}}))?;
    ev.send(&json!({"type": "ping"}))?;
    if !answer.hang.is_zero() {
        pause(answer.hang, stop)?;
    }
    for (i, b) in answer.blocks.iter().enumerate() {
        if b["type"] == "text" {
            let text = b["text"].as_str().unwrap_or_default();
            ev.send(&json!({"type": "content_block_start", "index": i,
                            "content_block": {"type": "text", "text": ""}}))?;
            let words = words(text);
            let delay = if answer.slow.is_zero() {
                Duration::from_millis(10)
            } else {
                answer.slow / words.len().max(1) as u32
            };
            for w in words {
                ev.send(&json!({"type": "content_block_delta", "index": i,
                                "delta": {"type": "text_delta", "text": w}}))?;
                pause(delay, stop)?;
            }
        } else {
            ev.send(&json!({"type": "content_block_start", "index": i,
                            "content_block": {"type": "tool_use", "id": b["id"],
                                              "name": b["name"], "input": {}}}))?;
            for piece in pieces(&b["input"].to_string(), 12) {
                ev.send(&json!({"type": "content_block_delta", "index": i,
                                "delta": {"type": "input_json_delta", "partial_json": piece}}))?;
                pause(Duration::from_millis(10), stop)?;
            }
        }
        ev.send(&json!({"type": "content_block_stop", "index": i}))?;
    }
    ev.send(&json!({"type": "message_delta",
                    "delta": {"stop_reason": answer.stop_reason, "stop_sequence": null},
                    "usage": {"output_tokens": 20}}))?;
    ev.send(&json!({"type": "message_stop"}))?;
    end_chunks(ev.out).map_err(Cut::ClientGone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_trailing_space_and_pieces_split_on_characters() {
        assert_eq!(words("a bc  d"), ["a ", "bc  ", "d"]);
        assert_eq!(words(""), Vec::<&str>::new());
        assert_eq!(pieces("héllo", 2), ["hé", "ll", "o"]);
    }
}
