//! A fast fake Open WebUI on loopback: sign-in, `/api/models` and `/api/chat/completions`
//! (SSE or JSON) answered from bytes rendered once at start. The model id says how many
//! pieces a reply has (`bench-64:latest` → 64). Counts requests, new TCP connections (its own
//! accept loop) and the largest request body. `TCP_NODELAY` on every connection.
//!
//! SSE replies go out one event per write (the body yields between events, so hyper flushes
//! each) as fast as it can, or a set time apart as a model's tokens would, or the whole reply in
//! one write: see [`Pacing`].

use crate::check::{answer, piece};
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpListener;

/// The bearer token the fake hands out and the direct load sends.
pub const TOKEN: &str = "bench-token";
/// Models listed besides the `bench-N` ones, so `/api/tags` has a realistic size.
const FILLERS: usize = 24;

/// What the fake has seen.
#[derive(Debug, Default)]
pub struct Counters {
    /// HTTP requests.
    pub requests: AtomicU64,
    /// Accepted TCP connections.
    pub connections: AtomicU64,
    /// Sign-ins.
    pub signins: AtomicU64,
    /// The largest request body, in bytes.
    pub max_body: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Seen {
    /// HTTP requests.
    pub requests: u64,
    /// Accepted TCP connections.
    pub connections: u64,
    /// The largest request body, in bytes.
    pub max_body: u64,
}

impl Counters {
    /// The counts now.
    pub fn seen(&self) -> Seen {
        Seen {
            requests: self.requests.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            max_body: self.max_body.load(Ordering::Relaxed),
        }
    }
}

struct Reply {
    frames: Arc<[Bytes]>,
    burst: Arc<[Bytes]>,
    completion: Bytes,
}

struct Rendered {
    replies: HashMap<String, Reply>,
    models: Bytes,
    signin: Bytes,
    pacing: Pacing,
}

/// How the fake sends a streamed reply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// One write per SSE event, as fast as it can.
    Event,
    /// The whole reply in one write.
    Burst,
    /// One write per SSE event, this long apart (the first at once).
    Every(std::time::Duration),
}

impl Pacing {
    /// The `proxy-bench fake` arguments for it.
    pub fn args(self) -> Vec<String> {
        match self {
            Pacing::Event => Vec::new(),
            Pacing::Burst => vec!["--burst".into()],
            Pacing::Every(d) => vec!["--interval-us".into(), d.as_micros().to_string()],
        }
    }

    /// For the report.
    pub fn describe(self) -> String {
        match self {
            Pacing::Event => "one write per SSE event".into(),
            Pacing::Burst => "each SSE reply in one write".into(),
            Pacing::Every(d) => format!(
                "one write per SSE event, at least {} ms apart",
                d.as_secs_f64() * 1000.0
            ),
        }
    }
}

/// The running fake.
pub struct Fake {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it has seen.
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The model id for replies of `n` pieces.
pub fn model_id(n: usize) -> String {
    format!("bench-{n}:latest")
}

/// How many models the fake lists for these piece counts.
pub fn model_count(piece_counts: &[usize]) -> usize {
    piece_counts.len() + FILLERS
}

/// Runs the fake as its own process (`proxy-bench fake`): prints `listening on http://ADDR`,
/// then answers each line on stdin with its counters as one JSON line; ends at stdin's EOF.
pub fn serve(piece_counts: &[usize], pacing: Pacing) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let fake = rt.block_on(start(piece_counts, pacing))?;
    let counters = fake.counters.clone();
    println!("listening on http://{}", fake.addr);
    std::io::stdout().flush()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut out = std::io::stdout();
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
            let seen = serde_json::to_string(&counters.seen()).unwrap_or_default();
            if writeln!(out, "{seen}").and_then(|()| out.flush()).is_err() {
                break;
            }
        }
        let _ = tx.send(());
    });
    rt.block_on(async move {
        let _ = rx.await;
    });
    drop(fake);
    Ok(())
}

/// Starts the fake on `127.0.0.1:0` with one model per piece count.
pub async fn start(piece_counts: &[usize], pacing: Pacing) -> std::io::Result<Fake> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let rendered = Arc::new(render(piece_counts, pacing));
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    let task = tokio::spawn(accept_loop(listener, rendered, c));
    Ok(Fake {
        addr,
        counters,
        task,
    })
}

async fn accept_loop(listener: TcpListener, rendered: Arc<Rendered>, counters: Arc<Counters>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let (r, c) = (rendered.clone(), counters.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(r.clone(), c.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn json_bytes(v: &serde_json::Value) -> Bytes {
    Bytes::from(v.to_string())
}

fn render(piece_counts: &[usize], pacing: Pacing) -> Rendered {
    let mut replies = HashMap::new();
    let mut models = Vec::new();
    for &n in piece_counts {
        let id = model_id(n);
        let frames = sse_frames(&id, n);
        let all: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
        let burst = Arc::from(vec![Bytes::from(all)]);
        let completion = completion(&id, n);
        let reply = Reply {
            frames: frames.into(),
            burst,
            completion,
        };
        replies.insert(id.clone(), reply);
        models.push(model_entry(&id));
    }
    models.extend((0..FILLERS).map(|i| model_entry(&format!("filler-{i}:latest"))));
    let list = serde_json::json!({"data": models, "object": "list"});
    let signin = serde_json::json!({"id": "u1", "email": "bench@example.com", "name": "bench",
        "role": "user", "token": TOKEN, "token_type": "Bearer", "expires_at": null});
    Rendered {
        replies,
        models: json_bytes(&list),
        signin: json_bytes(&signin),
        pacing,
    }
}

fn model_entry(id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "name": id, "object": "model", "created": 1_700_000_000, "owned_by": "ollama",
        "ollama": {"name": id, "model": id, "modified_at": "2024-01-01T00:00:00Z",
            "size": 4_683_087_332_u64, "digest": "a".repeat(64),
            "details": {"parent_model": "", "format": "gguf", "family": "llama",
                "families": ["llama"], "parameter_size": "8.0B", "quantization_level": "Q4_0"}},
        "info": {"meta": {"description": "a fake model", "capabilities": {"vision": true}}},
    })
}

fn sse_frames(id: &str, n: usize) -> Vec<Bytes> {
    let head = |v: serde_json::Value| Bytes::from(format!("data: {v}\n\n"));
    let mut frames = Vec::with_capacity(n + 2);
    for i in 0..n {
        let delta = if i == 0 {
            serde_json::json!({"role": "assistant", "content": piece(i)})
        } else {
            serde_json::json!({"content": piece(i)})
        };
        frames.push(head(
            serde_json::json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
            "created": 1_700_000_000, "model": id,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]}),
        ));
    }
    frames.push(head(
        serde_json::json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
        "created": 1_700_000_000, "model": id,
        "choices": [{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n}}),
    ));
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    frames
}

fn completion(id: &str, n: usize) -> Bytes {
    json_bytes(
        &serde_json::json!({"id": "chatcmpl-bench", "object": "chat.completion",
        "created": 1_700_000_000, "model": id,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer(n)},
            "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n}}),
    )
}

/// A response body: whole (with a length), or chunked SSE events, one per write.
pub enum FakeBody {
    /// One piece.
    Full(Option<Bytes>),
    /// Events, yielding between them, or waiting `interval` when there is one.
    Frames {
        /// All events.
        frames: Arc<[Bytes]>,
        /// The next to send.
        next: usize,
        /// True right after a yield.
        yielded: bool,
        /// The time between events, if they are paced.
        interval: Option<std::time::Duration>,
        /// The running wait for the next event.
        wait: Option<Pin<Box<tokio::time::Sleep>>>,
    },
}

impl Body for FakeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            FakeBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            FakeBody::Frames {
                frames,
                next,
                yielded,
                interval,
                wait,
            } => {
                let Some(f) = frames.get(*next) else {
                    return Poll::Ready(None);
                };
                if let (Some(d), true) = (interval, *next > 0) {
                    let sleep = wait.get_or_insert_with(|| Box::pin(tokio::time::sleep(*d)));
                    if std::future::Future::poll(sleep.as_mut(), cx).is_pending() {
                        return Poll::Pending;
                    }
                    *wait = None;
                } else if *next > 0 && !*yielded {
                    *yielded = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                *yielded = false;
                *next += 1;
                Poll::Ready(Some(Ok(Frame::data(f.clone()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            FakeBody::Full(b) => b.is_none(),
            FakeBody::Frames { frames, next, .. } => *next >= frames.len(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            FakeBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            // Unknown: hyper sends it chunked, as Open WebUI's streams are.
            FakeBody::Frames { .. } => SizeHint::default(),
        }
    }
}

fn respond(status: StatusCode, ctype: &'static str, body: FakeBody) -> Response<FakeBody> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, http::HeaderValue::from_static(ctype));
    r
}

fn json(status: StatusCode, body: Bytes) -> Response<FakeBody> {
    respond(status, "application/json", FakeBody::Full(Some(body)))
}

fn error(status: StatusCode, msg: &'static str) -> Response<FakeBody> {
    let body = Bytes::from(format!("{{\"detail\":\"{msg}\"}}"));
    json(status, body)
}

#[derive(Deserialize)]
struct ChatReq {
    model: String,
    #[serde(default)]
    stream: bool,
}

async fn handle(
    r: Arc<Rendered>,
    counters: Arc<Counters>,
    req: Request<Incoming>,
) -> Result<Response<FakeBody>, Infallible> {
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let authorized = req.headers().get(header::AUTHORIZATION).is_some();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(error(StatusCode::BAD_REQUEST, "body read failed")),
    };
    counters
        .max_body
        .fetch_max(body.len() as u64, Ordering::Relaxed);
    Ok(match (method, path.as_str()) {
        (Method::POST, "/api/v1/auths/signin") => {
            counters.signins.fetch_add(1, Ordering::Relaxed);
            json(StatusCode::OK, r.signin.clone())
        }
        _ if !authorized => error(StatusCode::UNAUTHORIZED, "Not authenticated"),
        (Method::GET, "/api/models") => json(StatusCode::OK, r.models.clone()),
        (Method::POST, "/api/chat/completions") => chat(&r, &body),
        _ => error(StatusCode::NOT_FOUND, "Not Found"),
    })
}

fn chat(r: &Rendered, body: &[u8]) -> Response<FakeBody> {
    let Ok(req) = serde_json::from_slice::<ChatReq>(body) else {
        return error(StatusCode::BAD_REQUEST, "bad chat request");
    };
    let Some(reply) = r.replies.get(&req.model) else {
        return error(StatusCode::NOT_FOUND, "Model not found");
    };
    if !req.stream {
        return json(StatusCode::OK, reply.completion.clone());
    }
    let (frames, interval) = match r.pacing {
        Pacing::Burst => (&reply.burst, None),
        Pacing::Event => (&reply.frames, None),
        Pacing::Every(d) => (&reply.frames, Some(d)),
    };
    let body = FakeBody::Frames {
        frames: frames.clone(),
        next: 0,
        yielded: false,
        interval,
        wait: None,
    };
    respond(StatusCode::OK, "text/event-stream; charset=utf-8", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::SseCheck;

    #[test]
    fn rendered_sse_passes_the_direct_check_with_usage_last() {
        let frames = sse_frames(&model_id(5), 5);
        assert_eq!(frames.len(), 7);
        let mut c = SseCheck::default();
        for f in &frames {
            c.feed(f).unwrap();
        }
        assert_eq!(c.finish(&answer(5)).unwrap(), 7);
        let last: serde_json::Value = serde_json::from_slice(&frames[5]["data: ".len()..]).unwrap();
        assert_eq!(last["usage"]["completion_tokens"], 5);
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
    }

    #[tokio::test]
    async fn paced_events_go_out_one_interval_apart_and_the_first_at_once() {
        let interval = std::time::Duration::from_millis(30);
        let frames: Arc<[Bytes]> = sse_frames(&model_id(2), 2).into();
        let mut body = FakeBody::Frames {
            frames: frames.clone(),
            next: 0,
            yielded: false,
            interval: Some(interval),
            wait: None,
        };
        let start = tokio::time::Instant::now();
        let mut at = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            at.push((start.elapsed(), data));
        }
        assert_eq!(at.len(), frames.len());
        assert!(at[0].0 < interval, "the first event waits for nothing");
        for (i, w) in at.windows(2).enumerate() {
            assert!(w[1].0 - w[0].0 >= interval, "event {} came early", i + 1);
        }
        let sent: Vec<Bytes> = at.into_iter().map(|(_, b)| b).collect();
        assert_eq!(sent, frames.to_vec());
    }

    #[test]
    fn pacing_arguments_round_trip_through_the_fake_process_flags() {
        assert!(Pacing::Event.args().is_empty());
        assert_eq!(Pacing::Burst.args(), ["--burst"]);
        let d = std::time::Duration::from_micros(2500);
        assert_eq!(Pacing::Every(d).args(), ["--interval-us", "2500"]);
        assert_eq!(
            Pacing::Every(d).describe(),
            "one write per SSE event, at least 2.5 ms apart"
        );
    }

    #[test]
    fn rendered_completion_and_models() {
        let r = render(&[3, 7], Pacing::Event);
        let c = &r.replies[&model_id(3)].completion;
        crate::check::openai_reply(c, &answer(3)).unwrap();
        crate::check::listing(&r.models, 2 + FILLERS).unwrap();
        assert_eq!(r.replies[&model_id(7)].frames.len(), 9);
    }
}
