//! The closed-loop load generator: `c` workers, each on its own keep-alive HTTP/1.1 connection,
//! send the same request back to back and validate every response in full. A warm-up phase
//! comes first; the measured window ends after a time or a request count, whichever is first,
//! and a snapshot (CPU, counters) is taken by the caller's closure at both ends of it.

use crate::check::{self, Field, NdjsonCheck, SseCheck};
use crate::stats::Samples;
use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// How a response must look to count as a success.
#[derive(Debug, Clone)]
pub enum Expect {
    /// An Ollama NDJSON stream ending in `done: true` and carrying this text.
    Ndjson(Field, Arc<str>),
    /// An OpenAI SSE stream ending in `[DONE]` and carrying this text.
    Sse(Arc<str>),
    /// One Ollama JSON reply carrying this text.
    OllamaJson(Field, Arc<str>),
    /// One OpenAI chat completion carrying this text.
    OpenAiJson(Arc<str>),
    /// A model list with this many entries.
    Listing(usize),
}

/// One request, sent over and over.
#[derive(Debug, Clone)]
pub struct Job {
    /// `GET` or `POST`.
    pub method: Method,
    /// The path.
    pub path: &'static str,
    /// The body (empty for `GET`).
    pub body: Bytes,
    /// Send the fake's bearer token (the direct path).
    pub bearer: bool,
    /// What the response must be.
    pub expect: Expect,
}

/// How long to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Concurrent connections.
    pub concurrency: usize,
    /// Warm-up time (results discarded).
    pub warmup: Duration,
    /// Longest measured window.
    pub measure: Duration,
    /// Most measured requests.
    pub max_requests: u64,
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

struct Control {
    phase: AtomicU8,
    measured: AtomicU64,
    limit: u64,
    reached: Notify,
}

/// What one run produced.
#[derive(Debug)]
pub struct Outcome<S> {
    /// Requests completed (validated or not) in the window.
    pub requests: u64,
    /// Of those, failures.
    pub errors: u64,
    /// The first few failure messages.
    pub error_samples: Vec<String>,
    /// Total latency of successes.
    pub latency: Samples,
    /// Time to first content of successful streams.
    pub ttft: Samples,
    /// Length of the window.
    pub elapsed: Duration,
    /// Snapshot at the window's start.
    pub start: S,
    /// Snapshot at the window's end.
    pub end: S,
}

#[derive(Default)]
struct WorkerResult {
    requests: u64,
    errors: u64,
    error_samples: Vec<String>,
    latency: Samples,
    ttft: Samples,
}

/// Runs `job` against `addr` under `plan`, calling `snapshot` when the window opens and closes.
pub async fn run<S>(
    addr: SocketAddr,
    job: Arc<Job>,
    plan: Plan,
    snapshot: impl Fn() -> S,
) -> Outcome<S> {
    let ctl = Arc::new(Control {
        phase: AtomicU8::new(WARMUP),
        measured: AtomicU64::new(0),
        limit: plan.max_requests.max(1),
        reached: Notify::new(),
    });
    let workers: Vec<_> = (0..plan.concurrency)
        .map(|_| tokio::spawn(worker(addr, job.clone(), ctl.clone())))
        .collect();
    if !plan.warmup.is_zero() {
        tokio::time::sleep(plan.warmup).await;
    }
    let start = snapshot();
    let t0 = Instant::now();
    ctl.phase.store(MEASURE, Ordering::SeqCst);
    tokio::select! {
        () = tokio::time::sleep(plan.measure) => {}
        () = ctl.reached.notified() => {}
    }
    ctl.phase.store(STOP, Ordering::SeqCst);
    let end = snapshot();
    let elapsed = t0.elapsed();
    let mut total = WorkerResult::default();
    for w in workers {
        let r = w.await.unwrap_or_else(|e| WorkerResult {
            errors: 1,
            error_samples: vec![format!("worker failed: {e}")],
            ..Default::default()
        });
        total.requests += r.requests;
        total.errors += r.errors;
        total.latency.extend(&r.latency);
        total.ttft.extend(&r.ttft);
        for e in r.error_samples {
            if total.error_samples.len() < 5 {
                total.error_samples.push(e);
            }
        }
    }
    Outcome {
        requests: total.requests,
        errors: total.errors,
        error_samples: total.error_samples,
        latency: total.latency,
        ttft: total.ttft,
        elapsed,
        start,
        end,
    }
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn worker(addr: SocketAddr, job: Arc<Job>, ctl: Arc<Control>) -> WorkerResult {
    let mut r = WorkerResult {
        latency: Samples::with_capacity(4096),
        ..Default::default()
    };
    let mut sender: Option<Sender> = None;
    while ctl.phase.load(Ordering::Relaxed) != STOP {
        let begun = Instant::now();
        let result = match sender.as_mut() {
            Some(s) => one(s, addr, &job, begun).await,
            None => match connect(addr).await {
                Ok(s) => one(sender.insert(s), addr, &job, begun).await,
                Err(e) => Err(e),
            },
        };
        let took = begun.elapsed();
        if sender.as_ref().is_some_and(|s| s.is_closed()) || result.is_err() {
            sender = None;
        }
        if ctl.phase.load(Ordering::Relaxed) != MEASURE {
            if result.is_err() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            continue;
        }
        r.requests += 1;
        match result {
            Ok(ttft) => {
                r.latency.push(took.as_nanos() as u64);
                if let Some(t) = ttft {
                    r.ttft.push(t.as_nanos() as u64);
                }
            }
            Err(e) => {
                r.errors += 1;
                if r.error_samples.len() < 3 {
                    r.error_samples.push(e);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if ctl.measured.fetch_add(1, Ordering::Relaxed) + 1 == ctl.limit {
            ctl.reached.notify_one();
        }
    }
    r
}

/// Sends one request and validates the response; returns the time to first content.
async fn one(
    s: &mut Sender,
    addr: SocketAddr,
    job: &Job,
    begun: Instant,
) -> Result<Option<Duration>, String> {
    s.ready().await.map_err(|e| format!("connection: {e}"))?;
    let mut req = Request::builder()
        .method(job.method.clone())
        .uri(job.path)
        .header(header::HOST, addr.to_string());
    if !job.body.is_empty() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    if job.bearer {
        req = req.header(
            header::AUTHORIZATION,
            format!("Bearer {}", crate::fake::TOKEN),
        );
    }
    let req = req
        .body(Full::new(job.body.clone()))
        .map_err(|e| e.to_string())?;
    let resp = s
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        return Err(format!("status {status}: {text}"));
    }
    let mut ttft = None;
    let mut feed = |seen: Result<bool, String>| -> Result<(), String> {
        if seen? && ttft.is_none() {
            ttft = Some(begun.elapsed());
        }
        Ok(())
    };
    match &job.expect {
        Expect::Ndjson(field, text) => {
            let mut c = NdjsonCheck::new(*field);
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| format!("body: {e}"))?;
                if let Ok(data) = frame.into_data() {
                    feed(c.feed(&data))?;
                }
            }
            c.finish(text)?;
        }
        Expect::Sse(text) => {
            let mut c = SseCheck::default();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| format!("body: {e}"))?;
                if let Ok(data) = frame.into_data() {
                    feed(c.feed(&data))?;
                }
            }
            c.finish(text)?;
        }
        whole => {
            let bytes = body
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            match whole {
                Expect::OllamaJson(field, text) => check::ollama_reply(&bytes, *field, text)?,
                Expect::OpenAiJson(text) => check::openai_reply(&bytes, text)?,
                Expect::Listing(n) => check::listing(&bytes, *n)?,
                Expect::Ndjson(..) | Expect::Sse(_) => {}
            }
        }
    }
    Ok(ttft)
}
