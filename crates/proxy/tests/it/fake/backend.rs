//! The fake backend behind the fake Open WebUI: `POST /api/chat/completions` answered from a
//! [`Script`] derived from the request (echo text, reasoning for `*reason*` models, a tool
//! call split into argument fragments, `finish_reason: "length"` under `max_tokens`, usage when
//! asked), relayed as JSON or as SSE the way Open WebUI relays an OpenAI-type backend, with
//! the [`ChatFault`]s injected.

use super::routes::json_reply;
use super::{ChatFault, FakeState, BACKEND_FAILURE, MIDSTREAM_FAILURE};
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// What a fake backend answers to one request.
struct Script {
    model: String,
    reasoning: Vec<String>,
    content: Vec<String>,
    tool: Option<String>,
    finish: &'static str,
    include_usage: bool,
}

/// Argument fragments of the fake tool call; together `{"city": "Tokyo"}`.
const TOOL_ARGS: [&str; 3] = ["{\"ci", "ty\": \"Tok", "yo\"}"];

impl Script {
    fn new(body: &Value) -> Script {
        let model = body["model"].as_str().unwrap_or_default().to_string();
        let reasoning = if model.contains("reason") {
            vec!["thinking".into(), " about".into(), " it".into()]
        } else {
            Vec::new()
        };
        let tool = body["tools"]
            .as_array()
            .and_then(|t| t.first())
            .and_then(|t| t["function"]["name"].as_str())
            .map(String::from);
        let mut content = vec!["echo:".to_string()];
        content.extend(
            last_user_text(body)
                .split_whitespace()
                .map(|w| format!(" {w}")),
        );
        let mut finish = "stop";
        if let Some(max) = body["max_tokens"].as_u64() {
            if (max as usize) < content.len() {
                content.truncate(max as usize);
                finish = "length";
            }
        }
        if tool.is_some() {
            content.clear();
            finish = "tool_calls";
        }
        let include_usage = body["stream_options"]["include_usage"] == json!(true);
        Script {
            model,
            reasoning,
            content,
            tool,
            finish,
            include_usage,
        }
    }

    fn usage(&self) -> Value {
        let n = self.content.len() + self.reasoning.len() + usize::from(self.tool.is_some());
        json!({"prompt_tokens": 8, "completion_tokens": n, "total_tokens": 8 + n})
    }

    fn chunk(&self, choices: Value) -> Value {
        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000,
            "model": self.model, "choices": choices})
    }

    fn delta(&self, delta: Value, finish: Option<&str>) -> Value {
        self.chunk(json!([{"index": 0, "delta": delta, "finish_reason": finish}]))
    }

    /// The chunks up to and including the finish chunk.
    fn chunks(&self) -> Vec<Value> {
        let mut out = vec![self.delta(json!({"role": "assistant", "content": ""}), None)];
        for r in &self.reasoning {
            out.push(self.delta(json!({"reasoning_content": r}), None));
        }
        for c in &self.content {
            out.push(self.delta(json!({"content": c}), None));
        }
        if let Some(name) = &self.tool {
            out.push(self.delta(
                json!({"tool_calls": [{"index": 0, "id": "call_fake1", "type": "function",
                    "function": {"name": name, "arguments": ""}}]}),
                None,
            ));
            for frag in TOOL_ARGS {
                out.push(self.delta(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": frag}}]}),
                    None,
                ));
            }
        }
        out.push(self.delta(json!({}), Some(self.finish)));
        out
    }

    fn completion(&self) -> Value {
        let mut message = json!({"role": "assistant", "content": self.content.concat()});
        if !self.reasoning.is_empty() {
            message["reasoning_content"] = self.reasoning.concat().into();
        }
        if let Some(name) = &self.tool {
            message["content"] = Value::Null;
            message["tool_calls"] = json!([{"id": "call_fake1", "type": "function",
                "function": {"name": name, "arguments": TOOL_ARGS.concat()}}]);
        }
        json!({"id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish}],
            "usage": self.usage()})
    }
}

fn last_user_text(body: &Value) -> String {
    let Some(messages) = body["messages"].as_array() else {
        return String::new();
    };
    let Some(m) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &m["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn event(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn sse(body: Body) -> Response {
    (
        [(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Answers one chat completion request.
pub async fn chat(s: Arc<FakeState>, body: &Value) -> Response {
    let (fault, force_sse) = {
        let b = s.behaviour();
        (b.chat, b.force_sse)
    };
    match fault {
        ChatFault::Status429 => {
            let e = json!({"error": {"message": "Rate limit reached for requests",
                "type": "rate_limit_error"}});
            return json_reply(429, &e);
        }
        ChatFault::Status500 => {
            let e = json!({"error": {"message": BACKEND_FAILURE, "type": "server_error"}});
            return json_reply(500, &e);
        }
        ChatFault::StallBeforeHeaders => std::future::pending::<()>().await,
        _ => {}
    }
    let script = Script::new(body);
    if fault == ChatFault::HugeJson {
        let mut c = script.completion();
        c["choices"][0]["message"]["content"] = "x".repeat(64 * 1024).into();
        return json_reply(200, &c);
    }
    let stream = body["stream"].as_bool().unwrap_or(false) || force_sse;
    if !stream || fault == ChatFault::JsonForStream {
        return json_reply(200, &script.completion());
    }
    let chunks = script.chunks();
    let role = event(&chunks[0]);
    let first_content = || event(&script.delta(json!({"content": "partial"}), None));
    let frames: Vec<Bytes> = match fault {
        ChatFault::MidStreamError => vec![
            role,
            first_content(),
            event(&json!({"error": {"message": MIDSTREAM_FAILURE, "type": "server_error"}})),
        ],
        ChatFault::CutNoFinish => chunks[..chunks.len() - 1].iter().map(event).collect(),
        ChatFault::CutAfterFinish => chunks.iter().map(event).collect(),
        ChatFault::HugeEvent => {
            let big = script.delta(json!({"content": "y".repeat(8 * 1024)}), None);
            vec![role, event(&big), Bytes::from_static(b"data: [DONE]\n\n")]
        }
        ChatFault::MultiLineEvent => {
            let text = script.delta(json!({"content": "joined"}), None).to_string();
            let (a, b) = text.split_at(text.find("\"choices\"").unwrap());
            vec![
                role,
                Bytes::from(format!("data: {a}\ndata: {b}\n\n")),
                event(&chunks[chunks.len() - 1]),
                Bytes::from_static(b"data: [DONE]\n\n"),
            ]
        }
        ChatFault::AbortMidStream => {
            let head = stream::iter([Ok(role), Ok(first_content())]);
            // One `Pending` first, so hyper flushes the head and the chunks before the cut.
            let cut = stream::once(async {
                tokio::task::yield_now().await;
                Err(std::io::Error::other("connection cut"))
            });
            return sse(Body::from_stream(head.chain(cut)));
        }
        ChatFault::StallMidStream | ChatFault::Slow => {
            return sse(endless(
                s,
                vec![role, first_content()],
                fault == ChatFault::Slow,
            ));
        }
        _ => {
            let mut frames = vec![role, Bytes::from_static(b": keep-alive\n\n")];
            frames.extend(chunks[1..].iter().map(event));
            if script.include_usage {
                frames.push(event(&script.chunk(json!([])).as_object().map_or(
                    Value::Null,
                    |o| {
                        let mut o = o.clone();
                        o.insert("usage".into(), script.usage());
                        Value::Object(o)
                    },
                )));
            }
            frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
            frames
        }
    };
    let frames = stream::iter(frames.into_iter().map(Ok::<_, Infallible>));
    if fault == ChatFault::LateEnd {
        let late_end = stream::once(tokio::time::sleep(Duration::from_millis(50)))
            .filter_map(|()| async { None::<Result<Bytes, Infallible>> });
        return sse(Body::from_stream(frames.chain(late_end)));
    }
    sse(Body::from_stream(frames))
}

/// Counts a never-ending stream's body being dropped.
struct AbandonGuard(Arc<FakeState>);

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        self.0.bump(&self.0.streams_abandoned);
    }
}

/// `head`, then either a content chunk every 20 ms (`ticking`) or silence, never ending.
fn endless(s: Arc<FakeState>, head: Vec<Bytes>, ticking: bool) -> Body {
    let guard = AbandonGuard(s);
    let head = stream::iter(head.into_iter().map(Ok::<_, Infallible>));
    let tail = stream::unfold(guard, move |guard| async move {
        if !ticking {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        guard.0.bump(&guard.0.slow_chunks);
        let chunk = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": " tick"}, "finish_reason": null}]});
        Some((Ok(event(&chunk)), guard))
    });
    Body::from_stream(head.chain(tail))
}
