//! Streams that break after they started: an in-band error event, a lost connection, an
//! early end, silence past the idle limit, an oversized event. Each ends with one final
//! `{"error": "…"}` line and never a fake `done: true`; replies in the other mode than asked
//! (JSON to a stream, SSE to a non-stream) are translated.

use crate::fake::{ChatFault, MIDSTREAM_FAILURE};
use crate::faults::faulty;
use crate::{
    assert_chat_line, assert_final, chat_req, content_of, password_creds, short_timeouts, Harness,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A streamed chat that started (200, NDJSON) and must end with exactly one error line.
async fn broken_stream(h: &Harness, req: &Value) -> (Vec<Value>, String) {
    let r = h.post("/api/chat", req).await;
    r.assert_status(200);
    r.assert_ndjson();
    let lines = r.lines();
    let (last, body) = lines.split_last().unwrap();
    for l in body {
        assert_chat_line(l, req["model"].as_str().unwrap());
        assert_eq!(l["done"], false, "no done line before the error: {l}");
    }
    let obj = last.as_object().unwrap();
    assert_eq!(obj.len(), 1, "the error line has only `error`: {last}");
    let msg = obj["error"].as_str().unwrap().to_string();
    assert!(
        lines.iter().all(|l| l["done"] != true),
        "a fake done:true: {lines:?}"
    );
    (body.to_vec(), msg)
}

#[tokio::test]
async fn defect_20_midstream_error_event_ends_with_error_line() {
    let h = faulty(ChatFault::MidStreamError, |_| {}).await;
    let (body, msg) = broken_stream(&h, &chat_req("fake-chat", "hi")).await;
    assert_eq!(content_of(&body), "partial");
    assert_eq!(msg, MIDSTREAM_FAILURE);
}

#[tokio::test]
async fn defect_19_stream_cut_without_finish_ends_with_error_line() {
    let h = faulty(ChatFault::CutNoFinish, |_| {}).await;
    let (body, msg) = broken_stream(&h, &chat_req("fake-chat", "a b")).await;
    assert_eq!(content_of(&body), "echo: a b");
    assert!(
        msg.contains("ended before the answer was complete"),
        "{msg}"
    );
}

#[tokio::test]
async fn defect_19_midstream_failure_ends_with_error_line_after_idle_timeout() {
    let h = faulty(ChatFault::StallMidStream, short_timeouts).await;
    let started = Instant::now();
    let (body, msg) = broken_stream(&h, &chat_req("fake-chat", "hi")).await;
    assert_eq!(content_of(&body), "partial");
    assert!(msg.contains("sent nothing"), "{msg}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "idle limit not applied"
    );
    h.fake
        .wait_for("the upstream stream to be dropped", |f| {
            f.count(&f.streams_abandoned) == 1
        })
        .await;
}

#[tokio::test]
async fn defect_19_connection_lost_midstream_ends_with_error_line() {
    let h = faulty(ChatFault::AbortMidStream, |_| {}).await;
    let (body, msg) = broken_stream(&h, &chat_req("fake-chat", "hi")).await;
    assert_eq!(content_of(&body), "partial");
    assert!(msg.contains("connection to Open WebUI failed"), "{msg}");
    // Generate ends the same way.
    let r = h
        .post(
            "/api/generate",
            &json!({"model": "fake-chat", "prompt": "hi"}),
        )
        .await;
    let lines = r.lines();
    let last = lines.last().unwrap();
    assert!(
        last["error"].is_string() && last.as_object().unwrap().len() == 1,
        "{last}"
    );
    assert!(lines.iter().all(|l| l["done"] != true), "{lines:?}");
}

#[tokio::test]
async fn sse_reply_to_a_non_stream_request_is_merged() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.fake.set(|b| b.force_sse = true);
    let mut req = chat_req("fake-reason", "a b");
    req["stream"] = false.into();
    let r = h.post("/api/chat", &req).await;
    r.assert_status(200);
    let v = r.json();
    assert_chat_line(&v, "fake-reason");
    assert_eq!(v["message"]["content"], "echo: a b");
    assert_eq!(v["message"]["thinking"], "thinking about it");
    assert_eq!(v["done"], true);
    assert_eq!(v["done_reason"], "stop");
}

#[tokio::test]
async fn defect_20_sse_reply_to_a_non_stream_request_with_an_error_event_is_502() {
    let h = faulty(ChatFault::MidStreamError, |_| {}).await;
    h.fake.set(|b| b.force_sse = true);
    let mut req = chat_req("fake-chat", "x");
    req["stream"] = false.into();
    let msg = h.post("/api/chat", &req).await.assert_error(502);
    assert!(msg.contains(MIDSTREAM_FAILURE), "{msg}");
}

#[tokio::test]
async fn defect_19_sse_reply_to_a_non_stream_request_cut_early_is_an_error() {
    let h = faulty(ChatFault::CutNoFinish, |_| {}).await;
    h.fake.set(|b| b.force_sse = true);
    let mut req = chat_req("fake-chat", "a b");
    req["stream"] = false.into();
    let r = h.post("/api/chat", &req).await;
    assert_ne!(
        r.status,
        200,
        "a cut answer passed off as complete: {}",
        r.text()
    );
    r.assert_error(502);
}

#[tokio::test]
async fn defect_53_sse_reply_to_a_non_stream_request_that_stalls_is_504() {
    let h = faulty(ChatFault::StallMidStream, short_timeouts).await;
    h.fake.set(|b| b.force_sse = true);
    let mut req = chat_req("fake-chat", "x");
    req["stream"] = false.into();
    let call = h.post("/api/chat", &req);
    let r = tokio::time::timeout(Duration::from_secs(8), call)
        .await
        .expect("no answer in 8 s");
    r.assert_error(504);
}

#[tokio::test]
async fn stream_ending_after_finish_without_done_is_complete() {
    let h = faulty(ChatFault::CutAfterFinish, |_| {}).await;
    let lines = h.chat_lines(&chat_req("fake-chat", "a b")).await;
    assert_eq!(content_of(&lines), "echo: a b");
    let last = lines.last().unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert!(lines.iter().all(|l| l.get("error").is_none()));
}

#[tokio::test]
async fn defect_21_json_reply_to_a_stream_request_is_translated() {
    let h = faulty(ChatFault::JsonForStream, |_| {}).await;
    let lines = h.chat_lines(&chat_req("fake-reason", "a b")).await;
    for l in &lines {
        assert_chat_line(l, "fake-reason");
    }
    assert_eq!(content_of(&lines), "echo: a b");
    let thinking: String = lines
        .iter()
        .filter_map(|l| l["message"]["thinking"].as_str())
        .collect();
    assert_eq!(thinking, "thinking about it");
    assert_final(lines.last().unwrap(), "stop", 6);
    // Generate too.
    let r = h
        .post(
            "/api/generate",
            &json!({"model": "fake-chat", "prompt": "x"}),
        )
        .await;
    r.assert_ndjson();
    let lines = r.lines();
    assert_eq!(lines.last().unwrap()["done"], true);
    let text: String = lines
        .iter()
        .filter_map(|l| l["response"].as_str())
        .collect();
    assert_eq!(text, "echo: x");
}

#[tokio::test]
async fn defect_23_multi_line_sse_events_are_joined() {
    let h = faulty(ChatFault::MultiLineEvent, |_| {}).await;
    let lines = h.chat_lines(&chat_req("fake-chat", "x")).await;
    assert_eq!(content_of(&lines), "joined");
    assert_eq!(lines.last().unwrap()["done"], true);
}

#[tokio::test]
async fn defect_24_oversized_sse_event_ends_with_error_line() {
    let h = faulty(ChatFault::HugeEvent, |c| c.max_sse_event = 4096).await;
    let (_, msg) = broken_stream(&h, &chat_req("fake-chat", "x")).await;
    assert!(msg.contains("larger than"), "{msg}");
}
