//! Who may talk to the proxy: the Host and Origin checks (403 before any upstream call),
//! CORS and preflights, the client token, the per-client rate limit, slow clients and
//! oversized request heads. What it keeps on disk is tested in [`cache`].

mod cache;

use crate::{password_creds, send, Harness};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn defect_3_forbidden_host_is_403_and_upstream_sees_nothing() {
    let h = Harness::new(password_creds(), |_| {}).await;
    for host in ["evil.example", "attacker.com:11434", "8.8.8.8"] {
        let r = send(h.http.get(h.url("/api/tags")).header("host", host)).await;
        assert!(r.assert_error(403).contains("host"));
        let chat = crate::chat_req("fake-chat", "hi");
        let r = send(
            h.http
                .post(h.url("/api/chat"))
                .header("host", host)
                .json(&chat),
        )
        .await;
        r.assert_error(403);
    }
    assert!(
        h.fake.requests().is_empty(),
        "no upstream call: {:?}",
        h.fake.requests()
    );
    send(
        h.http
            .get(h.url("/api/tags"))
            .header("host", "localhost:11434"),
    )
    .await
    .assert_status(200);
}

#[tokio::test]
async fn defect_2_forbidden_origin_is_403_and_upstream_sees_nothing() {
    let h = Harness::new(password_creds(), |_| {}).await;
    let body = r#"{"model":"fake-chat","messages":[{"role":"user","content":"hi"}]}"#;
    for origin in ["https://evil.example", "chrome-extension://abc", "null"] {
        let req = h.http.post(h.url("/api/chat")).header("origin", origin);
        let r = send(req.header("content-type", "text/plain").body(body)).await;
        assert!(r.assert_error(403).contains("origin"));
        assert!(r.headers.get("access-control-allow-origin").is_none());
        let r = send(h.http.get(h.url("/api/tags")).header("origin", origin)).await;
        r.assert_error(403);
    }
    assert!(h.fake.requests().is_empty(), "no upstream call");
}

#[tokio::test]
async fn allowed_origins_are_echoed_never_star() {
    let h = Harness::new(password_creds(), |c| {
        c.cors_origins = vec!["moz-extension://*".into()]
    })
    .await;
    for origin in [
        "http://localhost:3000",
        "app://obsidian.md",
        "moz-extension://1234",
    ] {
        let r = send(h.http.get(h.url("/api/tags")).header("origin", origin)).await;
        r.assert_status(200);
        assert_eq!(r.header("access-control-allow-origin"), origin);
        assert!(r.headers.get_all("vary").iter().any(|v| v == "Origin"));
    }
    let port = h.proxy.url.rsplit(':').next().unwrap().to_string();
    let same = h
        .http
        .get(h.url("/api/tags"))
        .header("host", format!("box.local:{port}"));
    let r = send(same.header("origin", format!("http://box.local:{port}"))).await;
    r.assert_status(200);
    assert!(
        r.headers.get("access-control-allow-origin").is_none(),
        "same-origin"
    );
}

#[tokio::test]
async fn defect_4_preflight_answers_allowed_origins_and_counts() {
    let h = Harness::new(password_creds(), |c| {
        c.rate_limit = Some(1);
        c.rate_burst = Some(1);
    })
    .await;
    let preflight = |origin: &str| {
        h.http
            .request(reqwest::Method::OPTIONS, h.url("/api/chat"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
    };
    let r = send(preflight("http://localhost:5173")).await;
    r.assert_status(204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        "http://localhost:5173"
    );
    assert_eq!(r.header("access-control-max-age"), "43200");
    assert!(r
        .header("access-control-allow-headers")
        .contains("Content-Type"));
    let r = send(preflight("http://localhost:5173")).await;
    r.assert_error(429);
    assert_eq!(
        r.header("access-control-allow-origin"),
        "http://localhost:5173"
    );
    assert!(h.fake.requests().is_empty());
}

#[tokio::test]
async fn defect_1_client_token_guards_everything_but_liveness() {
    let token = "lan-token-0123456789abcdef";
    let h = Harness::new(password_creds(), |c| c.client_token = Some(token.into())).await;
    let r = h.get("/api/tags").await;
    assert!(r.assert_error(401).contains("client token"));
    assert_eq!(r.header("www-authenticate"), "Bearer");
    let r = send(
        h.http
            .get(h.url("/api/tags"))
            .bearer_auth("wrong-token-0123456789abcdef"),
    )
    .await;
    r.assert_error(401);
    assert!(
        h.fake.requests().is_empty(),
        "no upstream call without the token"
    );
    h.get("/").await.assert_status(200);
    send(h.http.head(h.url("/"))).await.assert_status(200);
    send(h.http.get(h.url("/api/tags")).bearer_auth(token))
        .await
        .assert_status(200);
    let upstream = h.fake.requests_to("/api/models");
    assert!(
        upstream
            .iter()
            .all(|r| r.bearer().as_deref() != Some(token)),
        "never forwarded"
    );
}

#[tokio::test]
async fn defect_13_rate_limit_is_per_client_with_retry_after() {
    let h = Harness::new(password_creds(), |c| {
        c.rate_limit = Some(1);
        c.rate_burst = Some(2);
    })
    .await;
    h.get("/api/version").await.assert_status(200);
    h.get("/api/version").await.assert_status(200);
    let r = h.get("/api/version").await;
    assert!(r.assert_error(429).contains("too many requests"));
    let secs: u64 = r.header("retry-after").parse().unwrap();
    assert!((1..=2).contains(&secs), "Retry-After {secs}");
    if cfg!(target_os = "linux") {
        let other = reqwest::Client::builder()
            .no_proxy()
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()
            .unwrap();
        send(other.get(h.url("/api/version")))
            .await
            .assert_status(200);
    }
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_until_closed(tcp: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the proxy kept a slow client's connection open"
    );
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn defect_12_slow_client_is_cut_off() {
    let h = Harness::new(password_creds(), |c| {
        c.header_read_timeout = Duration::from_millis(300);
        c.body_read_timeout = Duration::from_millis(300);
    })
    .await;
    let addr = h.proxy.url.trim_start_matches("http://").to_string();
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    read_until_closed(&mut idle).await;
    let mut partial = tokio::net::TcpStream::connect(&addr).await.unwrap();
    partial
        .write_all(b"GET /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    read_until_closed(&mut partial).await;
    let mut slow_body = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head =
        "POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"model\":";
    slow_body.write_all(head.as_bytes()).await.unwrap();
    let reply = read_until_closed(&mut slow_body).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("{\"error\":"), "{reply}");
    assert!(h.fake.requests().is_empty());
}

#[tokio::test]
async fn oversized_request_heads_are_431() {
    let h = Harness::new(password_creds(), |c| {
        c.max_header_bytes = 16 * 1024;
        c.max_headers = 20;
    })
    .await;
    let r = send(
        h.http
            .get(h.url("/api/version"))
            .header("x-big", "a".repeat(20 * 1024)),
    )
    .await;
    r.assert_status(431);
    let mut req = h.http.get(h.url("/api/version"));
    for i in 0..30 {
        req = req.header(format!("x-h{i}"), "v");
    }
    send(req).await.assert_status(431);
    h.get("/api/version").await.assert_status(200);
}
