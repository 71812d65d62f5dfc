//! The guard's rules (tables) and its middleware driven with `oneshot` (no network: the routes
//! used answer locally).

use super::rules::{host_name, is_local_ip, same_origin, Hosts};
use super::*;
use crate::config::parse_upstream_url;
use crate::credentials::Credentials;
use crate::events::EventSink;
use axum::body::Body;
use axum::http::Request as HttpRequest;
use tower::ServiceExt;

fn hosts(bound: &str, extra: &[&str]) -> Hosts {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    Hosts::new(bound.parse().unwrap(), &extra)
}

#[test]
fn loopback_binding_accepts_ollamas_local_hosts_only() {
    let h = hosts("127.0.0.1", &[]);
    let ok = [
        "",
        "localhost",
        "LOCALHOST:11434",
        "127.0.0.1:11434",
        "127.8.9.1",
        "[::1]:11434",
        "[::1]",
        "app.localhost",
        "box.local",
        "svc.internal",
        "10.1.2.3",
        "192.168.1.5:80",
        "172.16.0.1",
        "0.0.0.0",
        "[fd00::1]:1",
        "localhost.",
    ];
    for a in ok {
        assert!(h.allows(&a.to_ascii_lowercase()), "{a} should pass");
    }
    for a in [
        "evil.example",
        "attacker.com:11434",
        "8.8.8.8",
        "localhost.evil.com",
        "[2001:db8::1]",
    ] {
        assert!(!h.allows(a), "{a} should be refused");
    }
    let own = gethostname::gethostname()
        .into_string()
        .unwrap()
        .to_ascii_lowercase();
    assert!(h.allows(&own), "this machine's name passes");
}

#[test]
fn wide_binding_accepts_ip_literals_and_configured_names() {
    let h = hosts("0.0.0.0", &["ai.example.com"]);
    assert!(h.allows("8.8.8.8:11434") && h.allows("[2001:db8::1]:11434"));
    assert!(h.allows("ai.example.com:11434") && h.allows("localhost"));
    assert!(!h.allows("evil.example"), "names still need to be listed");
    let specific = hosts("192.0.2.7", &[]);
    assert!(specific.allows("192.0.2.7:11434"));
}

#[test]
fn host_names_lose_ports_brackets_and_dots() {
    assert_eq!(host_name("[::1]:80"), "::1");
    assert_eq!(host_name("a.b:1"), "a.b");
    assert_eq!(host_name("a.b."), "a.b");
    assert_eq!(host_name("::1"), "::1");
    assert!(is_local_ip("fe80::1".parse().unwrap()) && !is_local_ip("1.1.1.1".parse().unwrap()));
}

#[test]
fn default_origins_match_ollama() {
    let o = Origins::new(&[]);
    let ok = [
        "http://localhost",
        "https://localhost:3000",
        "http://127.0.0.1:8080",
        "https://0.0.0.0",
        "app://obsidian.md",
        "file://",
        "tauri://localhost",
        "vscode-webview://abc",
        "vscode-file://vscode-app",
        "http://[::1]:5173",
        "HTTP://LOCALHOST:1",
    ];
    for origin in ok {
        assert!(o.allows(origin), "{origin} should pass");
    }
    let bad = [
        "https://evil.example",
        "chrome-extension://abc",
        "moz-extension://x",
        "null",
        "http://localhost.evil.com",
        "http://127.0.0.1.evil.com",
        "https://localhostx",
    ];
    for origin in bad {
        assert!(!o.allows(origin), "{origin} should be refused");
    }
}

#[test]
fn configured_origins_add_exact_entries_patterns_or_everything() {
    let extra = [
        "chrome-extension://*".to_string(),
        "https://*.example.com".into(),
        "https://a.test".into(),
    ];
    let o = Origins::new(&extra);
    assert!(o.allows("chrome-extension://abcdef") && o.allows("https://x.example.com"));
    assert!(o.allows("https://a.test") && !o.allows("https://a.test:1"));
    assert!(!o.allows("https://example.com.evil") && !o.allows("moz-extension://x"));
    assert!(Origins::new(&["*".to_string()]).allows("https://anything.example"));
}

#[test]
fn same_origin_compares_scheme_and_authority() {
    assert!(same_origin("http://box.local:11434", "box.local:11434"));
    assert!(same_origin("https://box.local:11434", "box.local:11434"));
    assert!(!same_origin("http://box.local", "box.local:11434"));
    assert!(!same_origin("http://", ""));
}

#[test]
fn ipv6_clients_share_a_bucket_per_64() {
    let a = bucket("2001:db8:1:2:aaaa::1".parse().unwrap());
    let b = bucket("2001:db8:1:2:bbbb::9".parse().unwrap());
    assert_eq!(a, b);
    assert_ne!(a, bucket("2001:db8:1:3::1".parse().unwrap()));
    assert_eq!(
        bucket("::ffff:10.0.0.1".parse().unwrap()),
        "10.0.0.1".parse::<IpAddr>().unwrap()
    );
}

fn app(tune: impl FnOnce(&mut Config)) -> axum::Router {
    let mut c = Config::new(parse_upstream_url("http://127.0.0.1:9").unwrap());
    tune(&mut c);
    let creds = Credentials::ApiKey("sk-test".into());
    crate::server::router(AppState::new(c, creds, EventSink::default()).unwrap())
}

async fn call(app: &axum::Router, req: HttpRequest<Body>) -> (u16, HeaderMap, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (
        parts.status.as_u16(),
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn req(method: &str, path: &str, headers: &[(&str, &str)]) -> HttpRequest<Body> {
    let mut b = HttpRequest::builder().method(method).uri(path);
    if !headers.iter().any(|(k, _)| *k == "host") {
        b = b.header("host", "127.0.0.1:11434");
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).unwrap()
}

fn error_of(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1, "{body}");
    v["error"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn forbidden_host_and_origin_get_403_json_without_cors() {
    let a = app(|_| {});
    let (status, h, body) = call(
        &a,
        req("GET", "/api/version", &[("host", "evil.example:11434")]),
    )
    .await;
    assert_eq!(status, 403);
    assert!(error_of(&body).contains("evil.example"), "{body}");
    assert!(h.get("access-control-allow-origin").is_none());
    let (status, h, body) = call(
        &a,
        req("POST", "/api/chat", &[("origin", "https://evil.example")]),
    )
    .await;
    assert_eq!(status, 403);
    assert!(error_of(&body).contains("origin"), "{body}");
    assert!(h.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn allowed_origins_are_echoed_with_vary() {
    let a = app(|c| c.cors_origins = vec!["chrome-extension://*".into()]);
    for origin in ["http://localhost:3000", "chrome-extension://abc"] {
        let (status, h, _) = call(&a, req("GET", "/api/version", &[("origin", origin)])).await;
        assert_eq!(status, 200);
        assert_eq!(h["access-control-allow-origin"], origin);
        assert!(h.get_all("vary").iter().any(|v| v == "Origin"));
    }
    let (status, h, _) = call(
        &a,
        req("GET", "/nope", &[("origin", "http://localhost:3000")]),
    )
    .await;
    assert_eq!(status, 404, "errors carry CORS headers too");
    assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
    let (_, h, _) = call(&a, req("GET", "/api/version", &[])).await;
    assert!(
        h.get("access-control-allow-origin").is_none(),
        "no Origin, no CORS headers"
    );
}

#[tokio::test]
async fn preflights_are_answered_on_every_path_for_allowed_origins() {
    let a = app(|_| {});
    for path in [
        "/api/chat",
        "/api/tags",
        "/v1/chat/completions",
        "/anything",
    ] {
        let headers = [
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "POST"),
        ];
        let (status, h, _) = call(&a, req("OPTIONS", path, &headers)).await;
        assert_eq!(status, 204, "{path}");
        assert_eq!(h["access-control-allow-origin"], "http://localhost:5173");
        assert_eq!(h["access-control-allow-methods"], ALLOW_METHODS);
        assert_eq!(h["access-control-allow-headers"], ALLOW_HEADERS);
        assert_eq!(h["access-control-max-age"], "43200");
        let vary: Vec<_> = h
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            vary,
            [
                "Origin",
                "Access-Control-Request-Method",
                "Access-Control-Request-Headers"
            ]
        );
        assert!(h.get("access-control-allow-credentials").is_none());
    }
    let headers = [
        ("origin", "https://evil.example"),
        ("access-control-request-method", "POST"),
    ];
    let (status, _, body) = call(&a, req("OPTIONS", "/api/chat", &headers)).await;
    assert_eq!(status, 403);
    error_of(&body);
}

#[tokio::test]
async fn client_token_is_required_except_for_liveness() {
    let a = app(|c| c.client_token = Some("s3cret-token-0123456789".into()));
    let (status, h, body) = call(&a, req("GET", "/api/version", &[])).await;
    assert_eq!(status, 401);
    assert_eq!(h["www-authenticate"], "Bearer");
    assert!(!body.contains("s3cret"), "{body}");
    error_of(&body);
    let wrong = [("authorization", "Bearer s3cret-token-012345678")];
    assert_eq!(call(&a, req("GET", "/api/version", &wrong)).await.0, 401);
    let right = [("authorization", "bearer s3cret-token-0123456789")];
    assert_eq!(call(&a, req("GET", "/api/version", &right)).await.0, 200);
    assert_eq!(call(&a, req("GET", "/", &[])).await.0, 200);
    assert_eq!(call(&a, req("HEAD", "/", &[])).await.0, 200);
    let pre = [
        ("origin", "http://localhost"),
        ("access-control-request-method", "GET"),
    ];
    assert_eq!(
        call(&a, req("OPTIONS", "/api/tags", &pre)).await.0,
        204,
        "preflights carry no token"
    );
    let (status, h, _) = call(
        &a,
        req("GET", "/api/version", &[("origin", "http://localhost")]),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        h["access-control-allow-origin"], "http://localhost",
        "the page can read the 401"
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let a = app(|c| {
        c.rate_limit = Some(1);
        c.rate_burst = Some(2);
    });
    assert_eq!(call(&a, req("GET", "/api/version", &[])).await.0, 200);
    let pre = [
        ("origin", "http://localhost"),
        ("access-control-request-method", "GET"),
    ];
    assert_eq!(call(&a, req("OPTIONS", "/api/version", &pre)).await.0, 204);
    let (status, h, body) = call(&a, req("GET", "/api/version", &[])).await;
    assert_eq!(status, 429, "the preflight counted");
    assert_eq!(h["retry-after"], "1");
    assert!(error_of(&body).contains("too many requests"));
}
