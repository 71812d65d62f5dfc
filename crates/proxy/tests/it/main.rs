//! The proxy's one integration test binary: a fake Open WebUI ([`fake`]) and the real proxy,
//! both on `127.0.0.1:0`, talking over real TCP. Each module covers one area; this file holds
//! only the module list and the helpers they share (starting both servers, sending requests,
//! reading NDJSON, checking Ollama's line shapes).
//!
//! Regression tests are named after the predecessor defect they pin (`defect_<n>_…`, see
//! `predecessor.md` §7). No fixed ports, no sleeps as synchronisation.

// A test binary: an unwrap that fails is a failing test (clippy.toml allows it only inside
// `#[test]` functions, not in the shared helpers).
#![allow(clippy::unwrap_used)]

mod auth;
mod chat;
mod cli;
mod clients;
mod embed;
mod fake;
mod faults;
mod generate;
mod libraries;
mod lifecycle;
mod midstream;
mod models;
mod openai;
mod props;
mod security;
mod translate;

use fake::Fake;
use proxy::config::parse_upstream_url;
use proxy::events::EventSink;
use proxy::{AppState, Config, Credentials};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Every request from the test client gives up after this long.
const CLIENT_DEADLINE: Duration = Duration::from_secs(15);

/// Email and password of the fake's account.
pub fn password_creds() -> Credentials {
    Credentials::Password {
        email: fake::EMAIL.into(),
        password: fake::PASSWORD.into(),
    }
}

/// An email with another password.
pub fn wrong_password_creds() -> Credentials {
    Credentials::Password {
        email: fake::EMAIL.into(),
        password: "not-the-password".into(),
    }
}

/// An API key.
pub fn key_creds(key: &str) -> Credentials {
    Credentials::ApiKey(key.to_string().into())
}

/// A configuration for `upstream` with generous timeouts (fault tests shorten them).
pub fn config_for(upstream: &str) -> Config {
    let mut c = Config::new(parse_upstream_url(upstream).unwrap());
    c.timeout = Duration::from_secs(5);
    c.connect_timeout = Duration::from_secs(2);
    c.stream_idle_timeout = Some(Duration::from_secs(5));
    c.shutdown_timeout = Duration::from_secs(1);
    c
}

/// Short limits for tests that wait for a timeout to fire.
pub fn short_timeouts(c: &mut Config) {
    c.timeout = Duration::from_millis(800);
    c.stream_idle_timeout = Some(Duration::from_millis(800));
}

/// A running proxy.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its state (events, config).
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Proxy {
    /// Starts `proxy::serve` on `127.0.0.1:0`.
    pub async fn start(config: Config, creds: Credentials, events: EventSink) -> Proxy {
        Proxy::serve(AppState::new(config, creds, events).unwrap()).await
    }

    /// Serves a prepared state on `127.0.0.1:0`.
    pub async fn serve(state: AppState) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(proxy::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Proxy {
            url,
            state,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Triggers graceful shutdown.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits for `serve` to return.
    pub async fn stopped(&mut self) -> std::io::Result<()> {
        let task = self.task.take().expect("already stopped");
        tokio::time::timeout(CLIENT_DEADLINE, task)
            .await
            .expect("serve did not stop")
            .unwrap()
    }
}

/// A fake Open WebUI, a proxy in front of it, and an HTTP client.
pub struct Harness {
    /// The fake upstream.
    pub fake: Fake,
    /// The proxy.
    pub proxy: Proxy,
    /// A plain client (no system proxy).
    pub http: reqwest::Client,
}

/// A harness with password credentials and default configuration.
pub async fn harness() -> Harness {
    Harness::new(password_creds(), |_| {}).await
}

impl Harness {
    /// A harness with these credentials and a tuned configuration.
    pub async fn new(creds: Credentials, tune: impl FnOnce(&mut Config)) -> Harness {
        let fake = fake::start().await;
        let mut config = config_for(&fake.url);
        tune(&mut config);
        let proxy = Proxy::start(config, creds, EventSink::default()).await;
        Harness {
            fake,
            proxy,
            http: client(),
        }
    }

    /// The proxy URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.proxy.url)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        send(self.http.get(self.url(path))).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        send(self.http.post(self.url(path)).json(body)).await
    }

    /// `POST path` with raw bytes and no `Content-Type`.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        send(self.http.post(self.url(path)).body(body)).await
    }

    /// `POST /api/chat` and the NDJSON lines of a successful stream.
    pub async fn chat_lines(&self, body: &Value) -> Vec<Value> {
        let r = self.post("/api/chat", body).await;
        r.assert_status(200);
        r.assert_ndjson();
        r.lines()
    }
}

/// A client that ignores proxy environment variables.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Sends a request and reads the whole reply (bounded by [`CLIENT_DEADLINE`]).
pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let fut = async {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap();
        Reply {
            status,
            headers,
            body,
        }
    };
    tokio::time::timeout(CLIENT_DEADLINE, fut)
        .await
        .expect("the proxy did not answer in time")
}

/// A whole HTTP reply.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body bytes.
    pub body: bytes::Bytes,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    /// The body as one JSON value.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    /// Asserts the status, showing the body when it differs.
    pub fn assert_status(&self, want: u16) {
        assert_eq!(self.status, want, "status; body: {}", self.text());
    }

    /// Asserts `Content-Type: application/x-ndjson`.
    pub fn assert_ndjson(&self) {
        assert_eq!(
            self.header("content-type"),
            "application/x-ndjson",
            "{}",
            self.text()
        );
    }

    /// Asserts an Ollama error reply: the status, a JSON content type and exactly
    /// `{"error": "<string>"}`. Returns the message.
    pub fn assert_error(&self, status: u16) -> String {
        self.assert_status(status);
        assert!(
            self.header("content-type").starts_with("application/json"),
            "error content type {:?}",
            self.header("content-type")
        );
        let v = self.json();
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("error body not an object: {v}"));
        assert_eq!(obj.len(), 1, "error body has other keys: {v}");
        obj["error"]
            .as_str()
            .unwrap_or_else(|| panic!("error is not a string: {v}"))
            .to_string()
    }

    /// NDJSON lines: every line `\n`-terminated, none blank, each one JSON object.
    pub fn lines(&self) -> Vec<Value> {
        ndjson(&self.body)
    }
}

/// Parses NDJSON strictly.
pub fn ndjson(body: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(body).unwrap();
    assert!(
        text.ends_with('\n'),
        "the stream does not end with a newline: {text:?}"
    );
    text.split_terminator('\n')
        .map(|line| {
            assert!(!line.trim().is_empty(), "blank line in {text:?}");
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line is not JSON ({e}): {line:?}"));
            assert!(v.is_object(), "line is not an object: {line}");
            v
        })
        .collect()
}

/// Asserts a zoned RFC 3339 timestamp (`Z` or `±hh:mm`, `T` separator).
pub fn assert_rfc3339(v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {v}"));
    let t = chrono::DateTime::parse_from_rfc3339(s);
    assert!(
        t.is_ok() && s.contains('T'),
        "not RFC 3339 with a zone: {s:?}"
    );
}

/// Asserts `created_at` is UTC with nanoseconds, as Ollama writes it.
pub fn assert_created_at(v: &Value) {
    assert_rfc3339(v);
    let s = v.as_str().unwrap();
    let frac = s
        .split('.')
        .nth(1)
        .unwrap_or_else(|| panic!("no fraction: {s}"));
    assert!(
        s.ends_with('Z') && frac.len() == 10,
        "not UTC nanoseconds: {s}"
    );
}

/// Asserts the shape every `/api/chat` line shares; returns the message.
pub fn assert_chat_line(line: &Value, model: &str) -> Value {
    assert_eq!(line["model"], model, "model echoed: {line}");
    assert_created_at(&line["created_at"]);
    assert!(line["done"].is_boolean(), "done: {line}");
    assert!(
        line.get("error").is_none(),
        "error key on a good line: {line}"
    );
    let m = &line["message"];
    assert_eq!(m["role"], "assistant", "{line}");
    assert!(m["content"].is_string(), "content must be a string: {line}");
    m.clone()
}

/// Asserts the shape every `/api/generate` line shares.
pub fn assert_generate_line(line: &Value, model: &str) {
    assert_eq!(line["model"], model, "model echoed: {line}");
    assert_created_at(&line["created_at"]);
    assert!(line["done"].is_boolean(), "done: {line}");
    assert!(line["response"].is_string(), "response: {line}");
    assert!(
        line.get("error").is_none(),
        "error key on a good line: {line}"
    );
    assert!(
        line.get("message").is_none(),
        "generate line with message: {line}"
    );
}

/// Asserts a final line: `done: true`, the reason, integer metrics; counts from the fake's
/// usage (`prompt_tokens` 8, `completion_tokens` = `eval_count`).
pub fn assert_final(line: &Value, reason: &str, eval_count: u64) {
    assert_eq!(line["done"], true, "{line}");
    assert_eq!(line["done_reason"], reason, "{line}");
    for k in [
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        assert!(line[k].is_u64(), "{k} must be an integer: {line}");
    }
    assert!(line["eval_duration"].as_u64().unwrap() > 0, "{line}");
    assert_eq!(line["prompt_eval_count"], 8, "{line}");
    assert_eq!(line["eval_count"], eval_count, "{line}");
}

/// Concatenated `message.content` of chat lines.
pub fn content_of(lines: &[Value]) -> String {
    lines
        .iter()
        .filter_map(|l| l["message"]["content"].as_str())
        .collect()
}

/// A minimal chat request.
pub fn chat_req(model: &str, text: &str) -> Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
}
