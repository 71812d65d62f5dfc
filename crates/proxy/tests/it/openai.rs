//! The OpenAI-compatible routes: `/v1/chat/completions` (SSE pass-through and JSON),
//! `/v1/models`, `/v1/embeddings`, with OpenAI's error envelope.

use crate::fake::{ChatFault, HISTORY_FIELDS};
use crate::{harness, password_creds, short_timeouts, Harness};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

/// The `data:` payloads of an SSE body.
fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .filter_map(|e| {
            let data: Vec<&str> = e
                .lines()
                .filter_map(|l| {
                    l.strip_prefix("data:")
                        .map(|d| d.strip_prefix(' ').unwrap_or(d))
                })
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

fn assert_openai_error(v: &Value, kind: &str) -> String {
    let e = &v["error"];
    assert_eq!(e["type"], kind, "{v}");
    assert!(e.get("param").is_some() && e.get("code").is_some(), "{v}");
    e["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn v1_chat_streams_sse_through() {
    let h = harness().await;
    let mut req = json!({"model": "fake-chat:latest", "stream": true,
        "stream_options": {"include_usage": true}, "temperature": 0.3,
        "messages": [{"role": "user", "content": "hi there"}]});
    for f in HISTORY_FIELDS {
        req[f] = "x".into();
    }
    let r = h.post("/v1/chat/completions", &req).await;
    r.assert_status(200);
    assert!(
        r.header("content-type").starts_with("text/event-stream"),
        "{:?}",
        r.headers
    );
    let events = sse_data(&r.text());
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "echo: hi there");
    assert!(
        chunks
            .iter()
            .any(|c| c["usage"]["completion_tokens"].is_u64()),
        "{chunks:?}"
    );
    let sent = h.fake.last_chat();
    assert_eq!(sent["model"], "fake-chat");
    assert_eq!(sent["temperature"], 0.3);
    assert_eq!(sent["stream"], true);
    h.fake.assert_no_history_fields();
}

#[tokio::test]
async fn v1_chat_json_reply() {
    let h = harness().await;
    let req = json!({"model": "fake-ollama", "messages": [{"role": "user", "content": "hi"}]});
    let r = h.post("/v1/chat/completions", &req).await;
    r.assert_status(200);
    assert!(r.header("content-type").starts_with("application/json"));
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: hi");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let sent = h.fake.last_chat();
    assert_eq!(sent["model"], "fake-ollama:latest");
    assert!(
        sent.get("stream").is_none_or(|s| s == false),
        "stream defaults to false: {sent}"
    );
}

#[tokio::test]
async fn v1_chat_errors_use_openai_envelope() {
    let h = harness().await;
    let r = h
        .post(
            "/v1/chat/completions",
            &json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    r.assert_status(404);
    let msg = assert_openai_error(&r.json(), "not_found_error");
    assert_eq!(msg, "model 'gpt-4o' not found");
    let r = h
        .post(
            "/v1/chat/completions",
            &json!({"model": "fake-chat", "messages": []}),
        )
        .await;
    r.assert_status(400);
    assert_openai_error(&r.json(), "invalid_request_error");
    let r = h.post_raw("/v1/chat/completions", "{nope").await;
    r.assert_status(400);
    assert_openai_error(&r.json(), "invalid_request_error");
    h.fake.set(|b| b.chat = ChatFault::Status500);
    let r = h
        .post(
            "/v1/chat/completions",
            &json!({"model": "fake-chat", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    r.assert_status(502);
    let msg = assert_openai_error(&r.json(), "api_error");
    assert!(msg.contains(crate::fake::BACKEND_FAILURE), "{msg}");
}

#[tokio::test]
async fn v1_models_lists_listed_models() {
    let h = harness().await;
    let r = h.get("/v1/models").await;
    r.assert_status(200);
    let v = r.json();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "fake-chat",
            "fake-ollama:latest",
            "fake-vision",
            "fake-reason",
            "fake-embed"
        ]
    );
    for m in v["data"].as_array().unwrap() {
        assert_eq!(m["object"], "model");
        assert!(m["created"].is_i64() && m["owned_by"].is_string(), "{m}");
    }
    let one = h.get("/v1/models/fake-chat").await.json();
    assert_eq!(one["id"], "fake-chat");
    let r = h.get("/v1/models/nope").await;
    r.assert_status(404);
    assert_openai_error(&r.json(), "not_found_error");
}

#[tokio::test]
async fn v1_embeddings_pass_through() {
    let h = harness().await;
    let r = h
        .post(
            "/v1/embeddings",
            &json!({"model": "fake-embed", "input": ["a", "b"]}),
        )
        .await;
    r.assert_status(200);
    let v = r.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        h.fake.requests_to("/api/embeddings")[0].body["model"],
        "fake-embed"
    );
}

#[tokio::test]
async fn v1_unknown_route_is_a_json_error() {
    let h = harness().await;
    let r = h.post("/v1/responses", &json!({})).await;
    assert!(r.status >= 400);
    assert!(r.json()["error"]["message"].is_string());
}

/// Reads a streamed `/v1` body to its end; panics if the connection breaks instead.
async fn sse_to_end(h: &Harness) -> Vec<String> {
    let req = json!({"model": "fake-chat", "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let resp = h
        .http
        .post(h.url("/v1/chat/completions"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut text = Vec::new();
    let read = async {
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => text.extend_from_slice(&c),
                Err(e) => panic!("the SSE stream broke instead of ending with an error event: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the SSE stream never ended");
    sse_data(&String::from_utf8(text).unwrap())
}

#[tokio::test]
async fn v1_stream_cut_midstream_ends_with_an_error_event() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.fake.set(|b| b.chat = ChatFault::AbortMidStream);
    let events = sse_to_end(&h).await;
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{events:?}");
}

#[tokio::test]
async fn v1_stream_stalled_midstream_ends_at_the_idle_limit() {
    let h = Harness::new(password_creds(), short_timeouts).await;
    h.fake.set(|b| b.chat = ChatFault::StallMidStream);
    let events = sse_to_end(&h).await;
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{events:?}");
}

#[tokio::test]
async fn v1_stream_error_event_is_relayed() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.fake.set(|b| b.chat = ChatFault::MidStreamError);
    let events = sse_to_end(&h).await;
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["message"], crate::fake::MIDSTREAM_FAILURE);
}
