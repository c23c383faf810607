//! How the mock answers one request: `/v1/messages` by the plan its words choose (an error
//! with its headers, a whole message, or a stream), `count_tokens`, and 200 `{}` for the rest;
//! each request logged before it is answered.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::{Mode, Outcome, Request, Reset, Shared, answer, http, log, stream, unix_now};

/// Answers `req` on `out` and logs it.
pub(super) fn respond(
    req: &http::Incoming,
    out: &mut TcpStream,
    shared: &Shared,
) -> io::Result<()> {
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&req.body).unwrap_or_else(|_| {
            let head: Vec<u8> = req.body.iter().copied().take(2000).collect();
            json!({"_raw": String::from_utf8_lossy(&head)})
        })
    };
    let mut entry = Request {
        at: SystemTime::now(),
        method: req.method.clone(),
        target: req.target.clone(),
        headers: log::redact(&req.headers),
        body: Arc::new(body),
        plan: None,
        status: 200,
        outcome: Outcome::Done,
    };
    let head_only = req.method == "HEAD";
    match (req.method.as_str(), req.path()) {
        ("POST", "/v1/messages") => messages(entry, out, shared),
        ("POST", "/v1/messages/count_tokens") => {
            shared.push(entry);
            let n = (req.body.len() / 4).max(1);
            http::write_json(out, 200, &json!({"input_tokens": n}), &[], false)
        }
        ("GET", "/v1/models") => {
            shared.push(entry);
            let models = json!({"data": [], "has_more": false, "first_id": null, "last_id": null});
            http::write_json(out, 200, &models, &[], false)
        }
        _ => {
            entry.status = 200;
            shared.push(entry);
            http::write_json(out, 200, &json!({}), &[], head_only)
        }
    }
}

/// The unified rate-limit headers of a subscriber's rejected request, and `x-should-retry`.
fn ratelimit_headers(reset: Reset) -> Vec<(String, String)> {
    let now = unix_now();
    let at = match reset {
        Reset::In(d) => now + d.as_secs(),
        Reset::At(t) => t,
    };
    let unified = [
        ("status", "rejected".to_string()),
        ("reset", at.to_string()),
        ("5h-status", "rejected".into()),
        ("5h-reset", at.to_string()),
        ("5h-utilization", "1.0".into()),
        ("representative-claim", "five_hour".into()),
        ("fallback-percentage", "0.5".into()),
        ("overage-status", "rejected".into()),
        ("overage-disabled-reason", "org_level_disabled".into()),
    ];
    let mut out: Vec<(String, String)> = unified
        .into_iter()
        .map(|(k, v)| (format!("anthropic-ratelimit-unified-{k}"), v))
        .collect();
    out.push(("retry-after".into(), at.saturating_sub(now).to_string()));
    out.push(("x-should-retry".into(), "false".into()));
    out
}

fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

fn messages(mut entry: Request, out: &mut TcpStream, shared: &Shared) -> io::Result<()> {
    let body = Arc::clone(&entry.body);
    let plan = answer::plan(&body, &shared.opts);
    let (status, error, headers) = match plan.mode {
        Mode::RateLimit => (
            429,
            Some(error_body(
                "rate_limit_error",
                "This request would exceed your account's rate limit. Please try again later.",
            )),
            ratelimit_headers(shared.opts.ratelimit_reset),
        ),
        // No x-should-retry: the client retries with backoff ("Retrying in Ns").
        Mode::Overloaded => (
            529,
            Some(error_body("overloaded_error", "Overloaded")),
            vec![],
        ),
        Mode::ServerError => (
            500,
            Some(error_body("api_error", "Internal server error (mock)")),
            vec![("x-should-retry".to_string(), "false".to_string())],
        ),
        _ => (200, None, vec![]),
    };
    entry.status = status;
    entry.plan = Some(plan.clone());
    if let Some(error) = error {
        shared.push(entry);
        return http::write_json(out, status, &error, &headers, false);
    }
    let model = body["model"].as_str().unwrap_or("claude-mock").to_string();
    let (blocks, stop_reason) = answer::blocks(&plan, &body, &shared.opts);
    if body["stream"] != true {
        shared.push(entry);
        let msg = answer::message(&model, &blocks, stop_reason);
        return http::write_json(out, 200, &msg, &[], false);
    }
    entry.outcome = Outcome::Open;
    let i = shared.push(entry);
    let answer = stream::Answer {
        model: &model,
        blocks: &blocks,
        stop_reason,
        slow: plan.slow,
        hang: plan.hang,
    };
    match stream::stream(out, &shared.stop, &answer) {
        Ok(()) => {
            shared.finish(i, Outcome::Done);
            Ok(())
        }
        Err(stream::Cut::ClientGone(e)) => {
            shared.finish(i, Outcome::ClientGone);
            Err(e)
        }
        Err(stream::Cut::Stopped) => {
            shared.finish(i, Outcome::Stopped);
            Err(io::Error::other("the mock is stopping"))
        }
    }
}
