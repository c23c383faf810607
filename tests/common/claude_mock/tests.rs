//! The mock on its own, over raw HTTP: SSE framing in chunks, each keyword's answer and
//! headers, side requests, the log, keep-alive, an interrupted stream, shutdown on drop.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Mock, MockOptions, Mode, Outcome, Reset, unix_now};

struct Response {
    status: u16,
    headers: BTreeMap<String, String>,
    /// The body's chunks as sent (one for a Content-Length body).
    chunks: Vec<String>,
}

impl Response {
    fn body(&self) -> String {
        self.chunks.concat()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body()).unwrap()
    }

    /// The `data:` of each SSE event, in order.
    fn events(&self) -> Vec<Value> {
        self.body()
            .split("\n\n")
            .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    /// The streamed text, all deltas joined.
    fn text(&self) -> String {
        self.events()
            .iter()
            .filter_map(|e| e["delta"]["text"].as_str().map(str::to_string))
            .collect()
    }

    fn types(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    }
}

fn line(r: &mut impl BufRead) -> String {
    let mut s = String::new();
    r.read_line(&mut s).unwrap();
    s.trim_end_matches(['\r', '\n']).to_string()
}

fn read_response(r: &mut impl BufRead, head_only: bool) -> Response {
    let status_line = line(r);
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = BTreeMap::new();
    loop {
        let h = line(r);
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let mut chunks = Vec::new();
    if head_only {
    } else if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        loop {
            let size = usize::from_str_radix(&line(r), 16).unwrap();
            if size == 0 {
                line(r);
                break;
            }
            let mut buf = vec![0; size];
            r.read_exact(&mut buf).unwrap();
            chunks.push(String::from_utf8(buf).unwrap());
            line(r);
        }
    } else {
        let n: usize = headers["content-length"].parse().unwrap();
        let mut buf = vec![0; n];
        r.read_exact(&mut buf).unwrap();
        chunks.push(String::from_utf8(buf).unwrap());
    }
    Response {
        status,
        headers,
        chunks,
    }
}

fn send(conn: &mut TcpStream, method: &str, path: &str, body: &Value) {
    let data = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nhost: x\r\nx-api-key: sk-ant-api03-secretsecretsecret\r\n\
         content-length: {}\r\n\r\n{data}",
        data.len()
    )
    .unwrap();
}

fn call(mock: &Mock, method: &str, path: &str, body: &Value) -> Response {
    let mut conn = TcpStream::connect(("127.0.0.1", mock.port())).unwrap();
    send(&mut conn, method, path, body);
    read_response(&mut BufReader::new(conn), method == "HEAD")
}

/// A main-loop request (it carries a tool) whose last user turn says `prompt`.
fn main_body(prompt: &str) -> Value {
    json!({"model": "claude-opus-4-8", "stream": true, "tools": [{"name": "Bash"}],
           "system": [{"type": "text", "text": "Primary working directory: /w/proj\nmore"}],
           "messages": [{"role": "user", "content": [
               {"type": "text", "text": "<system-reminder>tool use is fine</system-reminder>"},
               {"type": "text", "text": prompt}]}]})
}

#[test]
fn a_plain_prompt_is_streamed_as_sse_events_one_chunk_each() {
    let mock = Mock::start();
    let r = call(&mock, "POST", "/v1/messages?beta=true", &main_body("hello"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let types = r.types();
    assert_eq!(r.chunks.len(), types.len(), "one event per chunk");
    assert_eq!(types[..3], ["message_start", "ping", "content_block_start"]);
    assert_eq!(
        types[types.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    assert_eq!(
        r.text(),
        "Hello from the mock Anthropic API. Nothing to do."
    );
    assert_eq!(
        r.events()[types.len() - 2]["delta"]["stop_reason"],
        "end_turn"
    );
    // The mock marks the answer done once its last chunk is written: soon after we read it.
    let log = mock.wait_for("the answer done", Duration::from_secs(5), |log| {
        log.first().is_some_and(|r| r.outcome == Outcome::Done)
    });
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].path(), "/v1/messages");
    assert_eq!(log[0].header("x-api-key"), Some("sk-ant-api03..."));
    assert_eq!(log[0].prompt(), "hello");
    assert!(log[0].is_main());
}

#[test]
fn tool_answers_a_bash_tool_use_then_tool_finished_after_its_result() {
    let mock = Mock::start();
    let r = call(&mock, "POST", "/v1/messages", &main_body("run a tool"));
    let ev = r.events();
    let json: String = ev
        .iter()
        .filter_map(|e| e["delta"]["partial_json"].as_str())
        .collect();
    let input: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        input["command"],
        "sleep 3 && touch mock_tool_ran.txt && echo hello-from-mock"
    );
    let start = ev.iter().find(|e| e["content_block"]["type"] == "tool_use");
    assert_eq!(start.unwrap()["content_block"]["name"], "Bash");
    assert!(ev.iter().any(|e| e["delta"]["stop_reason"] == "tool_use"));

    let mut body = main_body("run a tool");
    body["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]}),
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}),
    ]);
    let text = call(&mock, "POST", "/v1/messages", &body).text();
    assert_eq!(text, "Tool finished. The mock saw the tool result.");
    let last = mock.last_main().unwrap();
    assert!(last.plan.as_ref().unwrap().tool_result);
    assert_eq!(last.user_prompts(), ["run a tool"]);
    assert!(last.carries("run a tool") && !last.carries("tool use is fine"));
}

#[test]
fn edit_writes_into_the_working_directory_of_the_system_prompt() {
    let mock = Mock::start();
    let mut body = main_body("edit a file");
    body["stream"] = json!(false);
    let r = call(&mock, "POST", "/v1/messages", &body).json();
    assert_eq!(r["content"][1]["name"], "Write");
    assert_eq!(
        r["content"][1]["input"]["file_path"],
        "/w/proj/mock_edit.txt"
    );
    assert_eq!(r["stop_reason"], "tool_use");
}

#[test]
fn ratelimit_is_a_429_with_the_unified_headers_and_no_retry() {
    let reset = unix_now() / 60 * 60 + 7200;
    let mock = Mock::with(MockOptions {
        ratelimit_reset: Reset::At(reset),
        ..MockOptions::default()
    });
    let r = call(&mock, "POST", "/v1/messages", &main_body("ratelimit"));
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    let h = |k: &str| r.headers[&format!("anthropic-ratelimit-unified-{k}")].clone();
    assert_eq!(h("status"), "rejected");
    assert_eq!(h("reset"), reset.to_string());
    assert_eq!(h("5h-reset"), reset.to_string());
    assert_eq!(h("representative-claim"), "five_hour");
    assert_eq!(r.headers["x-should-retry"], "false");

    let mock = Mock::start();
    let r = call(&mock, "POST", "/v1/messages", &main_body("ratelimit"));
    let reset: u64 = r.headers["anthropic-ratelimit-unified-reset"]
        .parse()
        .unwrap();
    assert!(reset.abs_diff(unix_now() + 3600) <= 2, "{reset}");
}

#[test]
fn overloaded_and_servererror_answer_529_and_500() {
    let mock = Mock::start();
    let r = call(&mock, "POST", "/v1/messages", &main_body("overloaded"));
    assert_eq!(
        (r.status, r.json()["error"]["type"].clone()),
        (529, json!("overloaded_error"))
    );
    assert!(!r.headers.contains_key("x-should-retry"));
    let r = call(&mock, "POST", "/v1/messages", &main_body("servererror"));
    assert_eq!(
        (r.status, r.json()["error"]["type"].clone()),
        (500, json!("api_error"))
    );
    assert_eq!(r.headers["x-should-retry"], "false");
}

#[test]
fn side_requests_get_a_short_fast_answer_whatever_they_say() {
    let mock = Mock::start();
    let body = json!({"model": "claude-haiku-4-5", "stream": true,
        "system": "Write a title as JSON with a title field",
        "messages": [{"role": "user", "content": "ratelimit slow 20 hang 20"}]});
    let started = Instant::now();
    let r = call(&mock, "POST", "/v1/messages", &body);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), r#"{"title": "Mock session"}"#);
    assert!(!mock.requests()[0].is_main());
    assert!(mock.main_requests().is_empty());
}

#[test]
fn slow_streams_for_its_seconds_and_hang_stays_silent_after_message_start() {
    let mock = Mock::start();
    let started = Instant::now();
    let r = call(
        &mock,
        "POST",
        "/v1/messages",
        &main_body("please be slow 1.5"),
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    assert!(r.text().starts_with("Working slowly on it. Working"));
    assert_eq!(
        mock.requests()[0].plan.as_ref().unwrap().slow,
        Duration::from_millis(1500)
    );

    let mut conn = TcpStream::connect(("127.0.0.1", mock.port())).unwrap();
    send(&mut conn, "POST", "/v1/messages", &main_body("hang 1"));
    let mut r = BufReader::new(conn);
    let mut seen = String::new();
    while !seen.contains("event: ping") {
        seen.push_str(&line(&mut r));
    }
    let after_ping = Instant::now();
    let _ = line(&mut r); // the rest of the ping chunk
    while !line(&mut r).contains("content_block_start") {}
    assert!(after_ping.elapsed() >= Duration::from_millis(900));
    assert_eq!(mock.requests()[1].plan.as_ref().unwrap().mode, Mode::Hang);
}

#[test]
fn an_interrupted_stream_is_logged_and_a_drop_ends_a_hanging_one() {
    let mock = Mock::start();
    let mut conn = TcpStream::connect(("127.0.0.1", mock.port())).unwrap();
    send(&mut conn, "POST", "/v1/messages", &main_body("slow 20"));
    mock.wait_for("the stream open", Duration::from_secs(5), |_| {
        mock.open_streams() == 1
    });
    drop(conn);
    mock.wait_for("the client gone", Duration::from_secs(5), |log| {
        log[0].outcome == Outcome::ClientGone
    });

    let mut conn = TcpStream::connect(("127.0.0.1", mock.port())).unwrap();
    send(&mut conn, "POST", "/v1/messages", &main_body("hang 300"));
    mock.wait_for("the hang", Duration::from_secs(5), |log| log.len() == 2);
    let started = Instant::now();
    drop(mock);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
}

#[test]
fn other_calls_count_tokens_head_and_keep_alive() {
    let mock = Mock::start();
    let r = call(
        &mock,
        "POST",
        "/v1/messages/count_tokens",
        &json!({"messages": []}),
    );
    assert!(r.json()["input_tokens"].as_u64().unwrap() >= 1);
    let r = call(&mock, "HEAD", "/", &Value::Null);
    assert_eq!((r.status, r.chunks.len()), (200, 0));
    assert_eq!(
        call(&mock, "GET", "/api/anything", &Value::Null).json(),
        json!({})
    );
    assert_eq!(
        call(&mock, "GET", "/v1/models", &Value::Null).json()["has_more"],
        false
    );

    // Two requests on one connection, the second with a chunked body.
    let mut conn = TcpStream::connect(("127.0.0.1", mock.port())).unwrap();
    let mut r = BufReader::new(conn.try_clone().unwrap());
    send(&mut conn, "POST", "/v1/messages", &main_body("one"));
    assert_eq!(read_response(&mut r, false).status, 200);
    let body = main_body("two").to_string();
    let (a, b) = body.split_at(10);
    write!(
        conn,
        "POST /v1/messages HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    )
    .unwrap();
    assert_eq!(read_response(&mut r, false).status, 200);
    let prompts: Vec<String> = mock
        .main_requests()
        .iter()
        .map(|r| r.prompt().to_string())
        .collect();
    assert_eq!(prompts, ["one", "two"]);
}

#[test]
fn only_the_newest_words_choose_the_behaviour() {
    let mock = Mock::start();
    // A failed turn's prompt merged with the next one: the newest block counts.
    let body = json!({"stream": false, "tools": [{"name": "Bash"}], "messages": [
        {"role": "user", "content": "first words"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "ratelimit"},
            {"type": "text", "text": "[Request interrupted by user] hello again"}]}]});
    let r = call(&mock, "POST", "/v1/messages", &body);
    assert_eq!(r.status, 200);
    let req = mock.last_main().unwrap();
    assert_eq!(req.prompt(), "hello again");
    assert_eq!(req.user_prompts(), ["first words", "hello again"]);
    assert!(req.carries("first words") && req.carries("ratelimit"));
    assert!(!req.carries("Request interrupted"));
}
