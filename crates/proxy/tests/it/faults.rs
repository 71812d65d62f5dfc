//! Failures before a reply starts: bad requests (400/404/405/413) and an unreachable, slow
//! or failing Open WebUI (502/504/429), each an Ollama `{"error": "…"}` with the right status.

use crate::fake::{ChatFault, BACKEND_FAILURE};
use crate::{chat_req, config_for, harness, password_creds, send, short_timeouts, Harness, Proxy};
use proxy::events::EventSink;
use serde_json::json;
use std::time::{Duration, Instant};

/// A harness whose fake injects `fault` into chat completions.
pub async fn faulty(fault: ChatFault, tune: impl FnOnce(&mut proxy::Config)) -> Harness {
    let h = Harness::new(password_creds(), tune).await;
    h.fake.set(|b| b.chat = fault);
    h
}

#[tokio::test]
async fn defect_15_oversized_upstream_reply_is_502() {
    let h = faulty(ChatFault::HugeJson, |c| c.max_upstream_body = 16 * 1024).await;
    let mut req = chat_req("fake-chat", "x");
    req["stream"] = false.into();
    let msg = h.post("/api/chat", &req).await.assert_error(502);
    assert!(msg.contains("larger than"), "{msg}");
}

#[tokio::test]
async fn upstream_429_is_429_explained() {
    let h = faulty(ChatFault::Status429, |_| {}).await;
    for stream in [true, false] {
        let mut req = chat_req("fake-chat", "x");
        req["stream"] = stream.into();
        let msg = h.post("/api/chat", &req).await.assert_error(429);
        assert!(
            msg.contains("rate limit") && msg.contains("Rate limit reached"),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn upstream_500_is_502_with_the_backend_message() {
    let h = faulty(ChatFault::Status500, |_| {}).await;
    for stream in [true, false] {
        let mut req = chat_req("fake-chat", "x");
        req["stream"] = stream.into();
        let msg = h.post("/api/chat", &req).await.assert_error(502);
        assert!(msg.contains(BACKEND_FAILURE), "{msg}");
        // defect 17: a short message, not the body.
        assert!(!msg.contains('{') && !msg.contains("server_error"), "{msg}");
    }
}

#[tokio::test]
async fn defect_54_stall_before_headers_is_504() {
    let h = faulty(ChatFault::StallBeforeHeaders, short_timeouts).await;
    h.get("/api/tags").await.assert_status(200);
    let started = Instant::now();
    let msg = h
        .post("/api/chat", &chat_req("fake-chat", "x"))
        .await
        .assert_error(504);
    assert!(msg.contains("did not answer"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn defect_53_non_streamed_stall_is_504() {
    let h = faulty(ChatFault::StallBeforeHeaders, short_timeouts).await;
    let mut req = chat_req("fake-chat", "x");
    req["stream"] = false.into();
    h.post("/api/chat", &req).await.assert_error(504);
    h.post(
        "/api/generate",
        &json!({"model": "fake-chat", "prompt": "x", "stream": false}),
    )
    .await
    .assert_error(504);
}

#[tokio::test]
async fn upstream_down_is_502_fast() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let proxy = Proxy::start(config_for(&url), password_creds(), EventSink::default()).await;
    let http = crate::client();
    for (path, body) in [
        ("/api/tags", None),
        ("/api/chat", Some(chat_req("fake-chat", "x"))),
    ] {
        let started = Instant::now();
        let req = match body {
            None => http.get(format!("{}{path}", proxy.url)),
            Some(b) => http.post(format!("{}{path}", proxy.url)).json(&b),
        };
        let msg = send(req).await.assert_error(502);
        assert!(msg.contains("reach Open WebUI"), "{msg}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    // Liveness does not depend on the upstream.
    let r = send(http.get(format!("{}/", proxy.url))).await;
    r.assert_status(200);
}

#[tokio::test]
async fn bad_json_is_400_naming_the_problem() {
    let h = harness().await;
    let r = h
        .post_raw("/api/chat", "{\"model\": \"fake-chat\", \"messages\": [")
        .await;
    let msg = r.assert_error(400);
    assert!(
        msg.contains("invalid request body") || msg.contains("EOF"),
        "{msg}"
    );
    let r = h
        .post_raw("/api/chat", r#"{"model": "fake-chat", "messages": "hi"}"#)
        .await;
    let msg = r.assert_error(400);
    assert!(
        msg.contains("messages") || msg.contains("sequence"),
        "{msg}"
    );
    let r = h.post_raw("/api/generate", "not json").await;
    r.assert_error(400);
    assert_eq!(h.fake.count(&h.fake.chats), 0);
}

#[tokio::test]
async fn empty_body_is_missing_request_body() {
    let h = harness().await;
    for path in [
        "/api/chat",
        "/api/generate",
        "/api/show",
        "/api/embed",
        "/api/embeddings",
        "/api/pull",
    ] {
        for body in ["", "  \n"] {
            let msg = h.post_raw(path, body).await.assert_error(400);
            assert_eq!(msg, "missing request body", "{path}");
        }
    }
}

#[tokio::test]
async fn defect_39_oversized_body_is_413() {
    let h = Harness::new(password_creds(), |c| c.max_body = 64 * 1024).await;
    let big = json!({"model": "fake-chat", "messages": [{"role": "user", "content": "x".repeat(100_000)}]});
    let msg = h.post("/api/chat", &big).await.assert_error(413);
    assert!(msg.contains("too large"), "{msg}");
    // Without a Content-Length (chunked), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .to_string()
        .into_bytes()
        .chunks(8192)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    h.post_raw("/api/chat", body).await.assert_error(413);
    // Just under the limit is fine.
    h.chat_lines(&json!({"model": "fake-chat", "messages": [{"role": "user", "content": "x".repeat(60_000)}]}))
        .await;
    assert_eq!(h.fake.count(&h.fake.chats), 1);
}

#[tokio::test]
async fn defect_42_wrong_method_is_405_json_with_allow() {
    let h = harness().await;
    for (path, allowed) in [
        ("/api/chat", "POST"),
        ("/api/tags", "GET"),
        ("/api/show", "POST"),
    ] {
        let r = send(h.http.put(h.url(path)).body("{}")).await;
        let msg = r.assert_error(405);
        assert_eq!(msg, "method not allowed");
        assert!(
            r.header("allow").contains(allowed),
            "{path}: allow {:?}",
            r.header("allow")
        );
    }
    let r = h.get("/api/chat").await;
    r.assert_error(405);
    let r = send(h.http.post(h.url("/")).body("x")).await;
    r.assert_error(405);
}

#[tokio::test]
async fn unknown_path_is_404_json() {
    let h = harness().await;
    for path in ["/api/nope", "/nope", "/api/tags/extra"] {
        let r = h.get(path).await;
        r.assert_error(404);
    }
}

#[tokio::test]
async fn no_content_type_is_fine() {
    let h = harness().await;
    let r = h
        .post_raw("/api/chat", chat_req("fake-chat", "hi").to_string())
        .await;
    r.assert_status(200);
    let r = h.post_raw("/api/show", r#"{"model":"fake-chat"}"#).await;
    r.assert_status(200);
    let r = send(
        h.http
            .post(h.url("/api/generate"))
            .header("content-type", "text/plain")
            .body(r#"{"model":"fake-chat","prompt":"hi","stream":false}"#),
    )
    .await;
    assert_eq!(r.json()["response"], "echo: hi");
}
