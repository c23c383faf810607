//! The mock's request log: every request the client made, with its path, its headers (secrets
//! cut short), its parsed body and what the mock did with it, for a test to ask about.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::answer::{Plan, all_text_of, prompt_of};

/// How an answer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Being answered (a stream still open).
    Open,
    /// Answered in full.
    Done,
    /// The client closed the connection before the end (an interrupt).
    ClientGone,
    /// The mock was dropped before the end.
    Stopped,
}

/// One request, as logged.
#[derive(Debug, Clone)]
pub struct Request {
    pub at: SystemTime,
    pub method: String,
    /// With the query, as sent (`/v1/messages?beta=true`).
    pub target: String,
    /// Lower-case names; `x-api-key`, `authorization` and `cookie` cut to 12 characters.
    pub headers: BTreeMap<String, String>,
    /// The parsed JSON body (`Null` when there was none or it was not JSON).
    pub body: Arc<Value>,
    /// For `/v1/messages`: what the mock chose to do.
    pub plan: Option<Plan>,
    /// The HTTP status answered.
    pub status: u16,
    pub outcome: Outcome,
}

/// Headers whose values are secrets: only their first characters are kept.
const SECRET_HEADERS: [&str; 3] = ["x-api-key", "authorization", "cookie"];

/// The headers as logged: secrets cut to their first 12 characters.
pub fn redact(headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| {
            let v = if SECRET_HEADERS.contains(&k.as_str()) {
                format!("{}...", v.chars().take(12).collect::<String>())
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

impl Request {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// A `/v1/messages` request of the main agent loop (it carries tools).
    pub fn is_main(&self) -> bool {
        self.plan.as_ref().is_some_and(|p| p.main)
    }

    /// The conversation the request carries.
    pub fn messages(&self) -> &[Value] {
        self.body["messages"].as_array().map_or(&[], Vec::as_slice)
    }

    /// The operator's words of each user turn in the conversation, oldest first (empty turns,
    /// those with only tool results, left out).
    pub fn user_prompts(&self) -> Vec<String> {
        self.messages()
            .iter()
            .filter(|m| m["role"] == "user")
            .map(prompt_of)
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// Some user turn of the conversation has `text` in its words: the earlier prompt came
    /// with this request.
    pub fn carries(&self, text: &str) -> bool {
        self.messages()
            .iter()
            .filter(|m| m["role"] == "user")
            .any(|m| all_text_of(m).contains(text))
    }

    /// The newest words the mock answered to (empty for side requests and tool results).
    pub fn prompt(&self) -> &str {
        self.plan.as_ref().map_or("", |p| p.prompt.as_str())
    }

    /// A header's value as logged.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}
