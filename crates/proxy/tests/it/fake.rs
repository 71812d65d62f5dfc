//! A fake Open WebUI on `127.0.0.1:0`: sign-in, `/api/models`, `/api/chat/completions` (JSON
//! and SSE, relayed the way Open WebUI relays an OpenAI-type backend) and `/api/embeddings`.
//!
//! It records every request (method, path, headers, JSON body), counts sign-ins, model-list,
//! chat and embedding calls and new TCP connections, and injects faults chosen through
//! [`Behaviour`]. Tests wait on it with [`FakeState::wait_for`] (a `Notify` plus a deadline),
//! never with sleeps. The only sleeps here pace the fake's own slow streams.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::serve::ListenerExt;
use axum::Router;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{watch, Notify};

mod backend;
mod routes;

pub use routes::default_models;

/// The account the fake accepts.
pub const EMAIL: &str = "admin@example.com";
/// Its password.
pub const PASSWORD: &str = "Admin-pass-123";
/// An API key the fake accepts unless revoked.
pub const API_KEY: &str = "sk-0123456789abcdef0123456789abcdef";
/// Open WebUI's answer to a wrong password.
pub const WRONG_PASSWORD: &str =
    "The email or password provided is incorrect. Please check for typos and try logging in again.";
/// The backend message of an injected 500.
pub const BACKEND_FAILURE: &str = "fake backend failure";
/// The message of an injected mid-stream error event.
pub const MIDSTREAM_FAILURE: &str = "fake mid-stream failure";
/// A path prefix the fake also serves under (Open WebUI behind a reverse proxy at `/owui`).
pub const PREFIX: &str = "/owui";
/// Fields that make Open WebUI store a conversation.
pub const HISTORY_FIELDS: [&str; 5] = ["chat_id", "parent_id", "session_id", "id", "message_id"];

/// How sign-in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signin {
    /// Checks email and password; 400 when wrong.
    Normal,
    /// 200 with a token and `role: "pending"`.
    Pending,
    /// 200 with `next_step` and no token (MFA).
    Mfa,
    /// 429 "API rate limit exceeded".
    RateLimited,
    /// 403: password sign-in disabled.
    Disabled,
}

/// A fault on `POST /api/chat/completions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFault {
    /// Behave.
    None,
    /// 429 from the backend.
    Status429,
    /// 500 with `{"error":{"message":…}}`.
    Status500,
    /// Never send response headers.
    StallBeforeHeaders,
    /// Role chunk and one content chunk, then silence (body kept open).
    StallMidStream,
    /// Role chunk, `partial`, then `data: {"error": …}` and close.
    MidStreamError,
    /// Content chunks, then close: no finish_reason, no usage, no `[DONE]`.
    CutNoFinish,
    /// Everything up to the finish chunk, then close without usage or `[DONE]`.
    CutAfterFinish,
    /// Role chunk and `partial`, then the connection is cut (no last chunk).
    AbortMidStream,
    /// One content chunk every 20 ms, forever.
    Slow,
    /// A whole JSON completion even when `stream: true` was asked.
    JsonForStream,
    /// One event of 8 KiB after the role chunk.
    HugeEvent,
    /// A non-streamed completion of 64 KiB.
    HugeJson,
    /// One event whose JSON is split over two `data:` lines.
    MultiLineEvent,
    /// A normal stream whose end (the last HTTP chunk) comes 50 ms after `[DONE]`, as when it
    /// travels in a later packet.
    LateEnd,
}

/// What the fake does; change it any time through [`FakeState::set`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Sign-in mode.
    pub signin: Signin,
    /// The password sign-in accepts.
    pub password: String,
    /// API keys accepted.
    pub api_keys: Vec<String>,
    /// Any `sk-` key gets 403 "Use of API key is not enabled…".
    pub api_keys_disabled: bool,
    /// Every session token is refused with 401 (a user removed after sign-in).
    pub refuse_all_tokens: bool,
    /// `/api/models` answers a 200 HTML page (the URL points at the web app).
    pub models_html: bool,
    /// `/api/models` answers this status with a JSON detail.
    pub models_status: Option<u16>,
    /// The model list (`data`).
    pub models: Vec<Value>,
    /// Chat fault.
    pub chat: ChatFault,
    /// Chat answers SSE even to `stream: false` (as some pipes do).
    pub force_sse: bool,
    /// Lifetime of issued session tokens in seconds; `None` sends `expires_at: null`.
    pub token_ttl: Option<i64>,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path, no query, with the optional [`PREFIX`] removed.
    pub path: String,
    /// The path as sent.
    pub raw_path: String,
    /// All headers.
    pub headers: HeaderMap,
    /// Body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Recorded {
    /// The bearer token, if any.
    pub fn bearer(&self) -> Option<String> {
        let v = self.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        v.strip_prefix("Bearer ").map(str::to_string)
    }
}

/// Shared state: behaviour, records, counters.
pub struct FakeState {
    behaviour: Mutex<Behaviour>,
    requests: Mutex<Vec<Recorded>>,
    tokens: Mutex<HashSet<String>>,
    signin_gate: watch::Sender<bool>,
    changed: Notify,
    /// Sign-in attempts (counted when they arrive).
    pub signins: AtomicUsize,
    /// `GET /api/models` calls.
    pub model_lists: AtomicUsize,
    /// `POST /api/chat/completions` calls.
    pub chats: AtomicUsize,
    /// `POST /api/embeddings` calls.
    pub embeddings: AtomicUsize,
    /// TCP connections accepted.
    pub connections: AtomicUsize,
    /// Never-ending streams whose body was dropped (the reader went away).
    pub streams_abandoned: AtomicUsize,
    /// Chunks sent by never-ending streams.
    pub slow_chunks: AtomicUsize,
}

/// A running fake.
pub struct Fake {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its state.
    pub state: Arc<FakeState>,
}

impl std::ops::Deref for Fake {
    type Target = FakeState;
    fn deref(&self) -> &FakeState {
        &self.state
    }
}

/// Starts a fake with the default behaviour.
pub async fn start() -> Fake {
    let state = Arc::new(FakeState::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let counter = state.clone();
    let listener = listener.tap_io(move |tcp| {
        let _ = tcp.set_nodelay(true);
        counter.connections.fetch_add(1, SeqCst);
        counter.changed.notify_waiters();
    });
    let app = Router::new().fallback(handle).with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Fake { url, state }
}

impl FakeState {
    fn new() -> Self {
        FakeState {
            behaviour: Mutex::new(Behaviour {
                signin: Signin::Normal,
                password: PASSWORD.into(),
                api_keys: vec![API_KEY.into()],
                api_keys_disabled: false,
                refuse_all_tokens: false,
                models_html: false,
                models_status: None,
                models: default_models(),
                chat: ChatFault::None,
                force_sse: false,
                token_ttl: Some(4 * 7 * 86400),
            }),
            requests: Mutex::new(Vec::new()),
            tokens: Mutex::new(HashSet::new()),
            signin_gate: watch::channel(true).0,
            changed: Notify::new(),
            signins: AtomicUsize::new(0),
            model_lists: AtomicUsize::new(0),
            chats: AtomicUsize::new(0),
            embeddings: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            streams_abandoned: AtomicUsize::new(0),
            slow_chunks: AtomicUsize::new(0),
        }
    }

    fn behaviour(&self) -> MutexGuard<'_, Behaviour> {
        self.behaviour.lock().unwrap()
    }

    /// Changes the behaviour.
    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.behaviour());
    }

    /// Makes every issued session token invalid (401 "401 Unauthorized"), as after expiry.
    pub fn expire_tokens(&self) {
        self.tokens.lock().unwrap().clear();
    }

    /// Holds sign-ins until [`FakeState::open_signin`].
    pub fn hold_signin(&self) {
        self.signin_gate.send_replace(false);
    }

    /// Lets held sign-ins answer.
    pub fn open_signin(&self) {
        self.signin_gate.send_replace(true);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Bodies of every chat completion request so far.
    pub fn chat_bodies(&self) -> Vec<Value> {
        self.requests_to("/api/chat/completions")
            .into_iter()
            .map(|r| r.body)
            .collect()
    }

    /// The body of the latest chat completion request.
    pub fn last_chat(&self) -> Value {
        self.chat_bodies()
            .pop()
            .expect("no chat request reached the fake")
    }

    /// Requests to one path.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Asserts that no chat request carried a field that makes Open WebUI store a chat.
    pub fn assert_no_history_fields(&self) {
        for body in self.chat_bodies() {
            for f in HISTORY_FIELDS {
                assert!(
                    body.get(f).is_none(),
                    "history field {f:?} reached Open WebUI: {body}"
                );
            }
        }
    }

    /// Counter value.
    pub fn count(&self, c: &AtomicUsize) -> usize {
        c.load(SeqCst)
    }

    /// Waits (up to 10 s) until `cond` holds; panics naming `what` otherwise.
    pub async fn wait_for(&self, what: &str, cond: impl Fn(&FakeState) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if cond(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {what}");
            }
        }
    }

    /// Waits for the next request or event, at most `d` (a polling interval).
    pub async fn wait_for_any(&self, d: Duration) {
        let _ = tokio::time::timeout(d, self.changed.notified()).await;
    }

    fn bump(&self, c: &AtomicUsize) {
        c.fetch_add(1, SeqCst);
        self.changed.notify_waiters();
    }
}

async fn handle(State(s): State<Arc<FakeState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let rec = Recorded {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path()
            .strip_prefix(PREFIX)
            .unwrap_or(parts.uri.path())
            .to_string(),
        raw_path: parts.uri.path().to_string(),
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    s.requests.lock().unwrap().push(rec.clone());
    match (rec.method.as_str(), rec.path.as_str()) {
        ("POST", "/api/v1/auths/signin") => routes::signin(&s, &rec).await,
        ("GET", "/api/models") => {
            s.bump(&s.model_lists);
            routes::refusal(&s, &rec).unwrap_or_else(|| routes::models(&s))
        }
        ("POST", "/api/chat/completions") => {
            s.bump(&s.chats);
            match routes::refusal(&s, &rec) {
                Some(r) => r,
                None => backend::chat(s.clone(), &rec.body).await,
            }
        }
        ("POST", "/api/embeddings") => {
            s.bump(&s.embeddings);
            routes::refusal(&s, &rec).unwrap_or_else(|| routes::embeddings(&rec.body))
        }
        // Open WebUI answers unknown GET routes with its web app.
        _ => routes::html(),
    }
}
