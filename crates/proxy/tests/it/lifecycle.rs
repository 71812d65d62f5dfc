//! Robustness over the connection's life: one pooled upstream client, a client that goes
//! away cancels the upstream at once, and graceful shutdown ends open streams with an error
//! line.

use crate::fake::ChatFault;
use crate::{chat_req, ndjson, password_creds, Harness};
use futures_util::StreamExt;
use proxy::ProxyEvent;
use serde_json::{json, Value};
use std::time::Duration;

/// Reads a streaming body until it holds at least one complete line.
async fn first_line(resp: &mut reqwest::Response) -> Value {
    let mut buf = Vec::new();
    let read = async {
        while !buf.contains(&b'\n') {
            let chunk = resp.chunk().await.unwrap().expect("stream ended early");
            buf.extend_from_slice(&chunk);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("no first line");
    let end = buf.iter().position(|&b| b == b'\n').unwrap();
    serde_json::from_slice(&buf[..end]).unwrap()
}

#[tokio::test]
async fn defect_22_client_disconnect_cancels_the_upstream_stream() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.fake.set(|b| b.chat = ChatFault::Slow);
    let mut resp = h
        .http
        .post(h.url("/api/chat"))
        .json(&chat_req("fake-chat", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(first_line(&mut resp).await["message"]["content"], "partial");
    h.fake
        .wait_for("a few slow chunks", |f| f.count(&f.slow_chunks) >= 2)
        .await;
    drop(resp);
    h.fake
        .wait_for("the upstream stream to be dropped", |f| {
            f.count(&f.streams_abandoned) == 1
        })
        .await;
    let after = h.fake.count(&h.fake.slow_chunks);
    // Nothing more is produced for a reader that is gone.
    h.fake.wait_for_any(Duration::from_millis(100)).await;
    assert!(h.fake.count(&h.fake.slow_chunks) <= after + 1);
    // The proxy is fine afterwards.
    h.fake.set(|b| b.chat = ChatFault::None);
    h.chat_lines(&chat_req("fake-chat", "hi")).await;
}

#[tokio::test]
async fn defect_64_one_pooled_upstream_connection_is_reused() {
    let h = Harness::new(password_creds(), |_| {}).await;
    for i in 0..20 {
        let mut req = chat_req("fake-chat", "hi");
        req["stream"] = (i % 2 == 0).into();
        let r = h.post("/api/chat", &req).await;
        r.assert_status(200);
    }
    h.post("/api/embed", &json!({"model": "fake-embed", "input": "x"}))
        .await
        .assert_status(200);
    assert_eq!(h.fake.count(&h.fake.chats), 20);
    let conns = h.fake.count(&h.fake.connections);
    assert!(
        conns <= 2,
        "{conns} upstream connections for 23 sequential calls"
    );
}

/// After `[DONE]`, the end of the upstream body may come a little later (another packet); the
/// proxy reads it in the background, so the connection goes back to the pool instead of being
/// closed and opened again for the next request.
#[tokio::test]
async fn a_stream_whose_end_comes_late_still_leaves_its_connection_reusable() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.fake.set(|b| b.chat = ChatFault::LateEnd);
    for _ in 0..5 {
        let lines = h.chat_lines(&chat_req("fake-chat", "hi there")).await;
        assert_eq!(lines.last().unwrap()["done"], true);
        // The next request comes after the late end has arrived.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let conns = h.fake.count(&h.fake.connections);
    assert!(
        conns <= 2,
        "{conns} upstream connections for 5 streamed chats"
    );
}

#[tokio::test]
async fn defect_57_shutdown_ends_open_streams_with_an_error_line() {
    let mut h = Harness::new(password_creds(), |c| {
        c.shutdown_timeout = Duration::from_millis(300);
        c.stream_idle_timeout = Some(Duration::from_secs(60));
    })
    .await;
    let mut events = h.proxy.state.events.subscribe();
    h.fake.set(|b| b.chat = ChatFault::StallMidStream);
    let mut resp = h
        .http
        .post(h.url("/api/chat"))
        .json(&chat_req("fake-chat", "hi"))
        .send()
        .await
        .unwrap();
    let first = first_line(&mut resp).await;
    assert_eq!(first["message"]["content"], "partial");
    h.proxy.shutdown();
    let mut rest = Vec::new();
    let read = async {
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => rest.extend_from_slice(&c),
                Err(e) => panic!("the stream broke instead of ending with an error line: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("stream not ended at the deadline");
    let lines = ndjson(&rest);
    let last = lines.last().unwrap();
    assert!(
        last["error"].as_str().unwrap().contains("shutting down"),
        "{last}"
    );
    assert!(lines.iter().all(|l| l["done"] != true), "{lines:?}");
    h.proxy.stopped().await.unwrap();
    let mut stopped = false;
    while let Ok(e) = events.try_recv() {
        stopped |= e == ProxyEvent::Stopped;
    }
    assert!(stopped, "a Stopped event");
    // No longer accepting.
    assert!(h.http.get(h.url("/")).send().await.is_err());
    h.fake
        .wait_for("the upstream stream to be dropped", |f| {
            f.count(&f.streams_abandoned) == 1
        })
        .await;
}

#[tokio::test]
async fn shutdown_lets_finished_requests_through_and_stops_quickly() {
    let mut h = Harness::new(password_creds(), |_| {}).await;
    h.chat_lines(&chat_req("fake-chat", "hi")).await;
    h.proxy.shutdown();
    h.proxy.stopped().await.unwrap();
}

#[tokio::test]
async fn started_event_names_the_address() {
    let events = proxy::events::EventSink::default();
    let mut rx = events.subscribe();
    let fake = crate::fake::start().await;
    let p = crate::Proxy::start(crate::config_for(&fake.url), password_creds(), events).await;
    let e = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    match e {
        ProxyEvent::Started { addr } => assert_eq!(format!("http://{addr}"), p.url),
        other => panic!("first event {other:?}"),
    }
}

#[tokio::test]
async fn upstream_behind_a_path_prefix() {
    let fake = crate::fake::start().await;
    let upstream = format!("{}{}/", fake.url, crate::fake::PREFIX);
    let p = crate::Proxy::start(
        crate::config_for(&upstream),
        password_creds(),
        Default::default(),
    )
    .await;
    let http = crate::client();
    crate::send(http.get(format!("{}/api/tags", p.url)))
        .await
        .assert_status(200);
    let r = crate::send(
        http.post(format!("{}/api/chat", p.url))
            .json(&chat_req("fake-chat", "hi")),
    )
    .await;
    r.assert_status(200);
    assert_eq!(crate::content_of(&r.lines()), "echo: hi");
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.raw_path).collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(
        paths.iter().all(|p| p.starts_with("/owui/api/")),
        "{paths:?}"
    );
}

#[tokio::test]
async fn concurrent_streams_do_not_mix() {
    let h = Harness::new(password_creds(), |_| {}).await;
    let calls = (0..10).map(|i| {
        let req = chat_req("fake-chat", &format!("stream number {i}"));
        crate::send(h.http.post(h.url("/api/chat")).json(&req))
    });
    let replies = futures_util::future::join_all(calls).await;
    for (i, r) in replies.into_iter().enumerate() {
        r.assert_status(200);
        let lines = r.lines();
        assert_eq!(
            crate::content_of(&lines),
            format!("echo: stream number {i}")
        );
        assert_eq!(lines.last().unwrap()["done"], true);
    }
}

#[tokio::test]
async fn request_finished_events_report_path_and_status() {
    let h = Harness::new(password_creds(), |_| {}).await;
    let mut events = h.proxy.state.events.subscribe();
    h.get("/api/version").await.assert_status(200);
    h.post("/api/chat", &chat_req("nope", "x"))
        .await
        .assert_status(404);
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let ProxyEvent::RequestFinished { path, status } = e {
            seen.push((path, status));
        }
    }
    assert_eq!(
        seen,
        [
            ("/api/version".to_string(), 200),
            ("/api/chat".to_string(), 404)
        ]
    );
}
