//! Relaying an upstream SSE stream: bytes are decoded into events and translated into Ollama
//! lines, written once per upstream read (complete lines only), or collected into one reply
//! when the client asked for no stream. Both ways share the same limits: the stream ends with a
//! `done` line, or with one `{"error": …}` line when the upstream fails, goes silent past the
//! idle limit, ends early, or the proxy shuts down. A client that disconnects drops this
//! stream, which drops the upstream request at once.

use crate::error::Error;
use crate::ollama::{ChatResponse, GenerateResponse};
use crate::server::ndjson::{push_error, push_line, NDJSON};
use crate::server::AppState;
use crate::translate::{ReplyOptions, StreamError, StreamTranslator, Timing};
use crate::upstream::sse::SseDecoder;
use crate::upstream::UpstreamError;
use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::FutureExt;
use futures_util::StreamExt;
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::time::Sleep;
use tokio_util::sync::WaitForCancellationFutureOwned;

/// Which native reply shape to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/api/chat` lines.
    Chat,
    /// `/api/generate` lines.
    Generate,
}

impl Kind {
    /// Appends one reply line in this shape.
    pub fn push(self, buf: &mut Vec<u8>, line: ChatResponse) {
        match self {
            Kind::Chat => push_line(buf, &line),
            Kind::Generate => push_line(buf, &GenerateResponse::from(line)),
        }
    }
}

/// Why a relayed stream stopped early.
#[derive(Debug)]
enum Failure {
    /// The upstream said so, sent garbage, or the connection broke.
    Stream(StreamError),
    /// Nothing arrived for this long.
    Idle(Duration),
}

impl Failure {
    fn message(&self) -> String {
        match self {
            Failure::Stream(e) => e.to_string(),
            Failure::Idle(d) => format!("Open WebUI sent nothing for {d:?}"),
        }
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Stream(e) => Error::Stream(e),
            Failure::Idle(d) => Error::Upstream(UpstreamError::Timeout(d)),
        }
    }
}

impl From<StreamError> for Failure {
    fn from(e: StreamError) -> Self {
        Failure::Stream(e)
    }
}

/// The decoding state of one upstream stream.
pub struct Relay {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    sse: SseDecoder,
    translator: Option<StreamTranslator>,
    events: Vec<String>,
    /// The lines of one event, reused.
    lines: Vec<ChatResponse>,
    /// Whether a batch has been handed out yet.
    sent_first: bool,
    idle: Option<Duration>,
    /// Fires after `idle` without a read; moved forward lazily (see `next_step`), so a read
    /// costs no timer-wheel update.
    idle_timer: Option<Pin<Box<Sleep>>>,
    last_read: Instant,
    /// Registered once per stream, not once per read.
    closing: Pin<Box<WaitForCancellationFutureOwned>>,
    started: Instant,
    first_byte: Instant,
}

enum Step {
    /// Events kept back from the last batch.
    Buffered,
    Chunk(Bytes),
    Eof,
    Fail(Failure),
}

impl Relay {
    /// Starts decoding an upstream SSE response.
    pub fn new(
        state: &AppState,
        resp: reqwest::Response,
        opts: ReplyOptions,
        started: Instant,
    ) -> Self {
        Relay {
            body: resp.bytes_stream().boxed(),
            sse: SseDecoder::new(state.config.max_sse_event),
            translator: Some(StreamTranslator::new(opts)),
            events: Vec::new(),
            lines: Vec::new(),
            sent_first: false,
            idle: state.config.stream_idle_timeout,
            idle_timer: state
                .config
                .stream_idle_timeout
                .map(|d| Box::pin(tokio::time::sleep(d))),
            last_read: Instant::now(),
            closing: Box::pin(state.closing.clone().cancelled_owned()),
            started,
            first_byte: Instant::now(),
        }
    }

    async fn next_step(&mut self) -> Step {
        loop {
            tokio::select! {
                biased;
                () = self.closing.as_mut() => {
                    return Step::Fail(Failure::Stream(StreamError::Upstream(
                        "the proxy is shutting down".into(),
                    )))
                }
                r = self.body.next() => return self.step(r),
                () = idle_wait(&mut self.idle_timer) => {
                    if let (Some(d), Some(t)) = (self.idle, self.idle_timer.as_mut()) {
                        let due = self.last_read + d;
                        if Instant::now() >= due {
                            return Step::Fail(Failure::Idle(d));
                        }
                        t.as_mut().reset(due.into());
                    }
                }
            }
        }
    }

    fn step(&mut self, read: Option<reqwest::Result<Bytes>>) -> Step {
        self.last_read = Instant::now();
        match read {
            None => Step::Eof,
            Some(Ok(b)) => Step::Chunk(b),
            Some(Err(e)) => Step::Fail(Failure::Stream(StreamError::Upstream(format!(
                "the connection to Open WebUI failed: {}",
                crate::upstream::client::describe(&e)
            )))),
        }
    }

    /// Translates buffered events into `out`. Returns true when the stream is complete. Before
    /// the first batch has gone out, it stops at the first line and keeps the other events for
    /// the next batch, so the first token never waits for the lines behind it.
    fn drain(&mut self, out: &mut Sink<'_>) -> Result<bool, StreamError> {
        let mut events = std::mem::take(&mut self.events);
        let mut used = 0;
        let mut result = Ok(false);
        for data in &events {
            used += 1;
            if data.trim() == "[DONE]" {
                result = self.finish(out).map(|()| true);
                self.release_upstream();
                break;
            }
            let Some(tr) = self.translator.as_mut() else {
                break;
            };
            let pushed = tr.push_into(data, &mut self.lines);
            out.take(&mut self.lines);
            if let Err(e) = pushed {
                result = Err(e);
                break;
            }
            if !self.sent_first && !out.is_empty() {
                break;
            }
        }
        events.drain(..used);
        self.events = events;
        result.map(|complete| complete || self.translator.is_none())
    }

    /// After `[DONE]` only the end of the body can come. A body dropped before its end closes
    /// the connection, so the end is read here when it is already there, or else in the
    /// background (briefly, and only a little of it): the connection goes back to the pool.
    fn release_upstream(&mut self) {
        let mut body = std::mem::replace(&mut self.body, futures_util::stream::empty().boxed());
        let mut left = RELEASE_BYTES;
        let mut read_end = async move {
            while let Some(Ok(b)) = body.next().await {
                left = left.checked_sub(b.len())?;
            }
            Some(())
        }
        .boxed();
        if (&mut read_end).now_or_never().is_none() {
            tokio::spawn(tokio::time::timeout(RELEASE_WAIT, read_end));
        }
    }

    fn finish(&mut self, out: &mut Sink<'_>) -> Result<(), StreamError> {
        let Some(tr) = self.translator.take() else {
            return Ok(());
        };
        let ended = Instant::now();
        let timing = Timing {
            started: self.started,
            first_byte: Some(self.first_byte),
            ended,
        };
        let mut lines = tr.finish(timing)?;
        out.take(&mut lines);
        Ok(())
    }

    fn at_eof(&mut self, out: &mut Sink<'_>) -> Result<(), StreamError> {
        if let Some(last) = self.sse.finish() {
            self.events.push(last);
        }
        // Nothing more will come: what is left goes out together.
        self.sent_first = true;
        if self.drain(out)? {
            return Ok(());
        }
        if !self
            .translator
            .as_ref()
            .is_some_and(StreamTranslator::saw_finish)
        {
            return Err(StreamError::Upstream(
                "the stream from Open WebUI ended before the answer was complete".into(),
            ));
        }
        self.finish(out)
    }

    /// Puts the next lines into `out`: `None` once the stream is over. On failure, the lines
    /// decoded before it are in `out` too.
    async fn fill(&mut self, out: &mut Sink<'_>) -> Option<Result<(), Failure>> {
        self.translator.as_ref()?;
        let batch = self.batch(out).await;
        self.sent_first = true;
        Some(batch)
    }

    /// One batch for [`fill`](Self::fill): events kept back last time first, then the network.
    async fn batch(&mut self, out: &mut Sink<'_>) -> Result<(), Failure> {
        let mut buffered = !self.events.is_empty();
        let mut idle_yields = 0;
        loop {
            // The first line of a stream leaves alone, at once. After it, once there is
            // something to send, take only what is ready now: chunks that arrived together
            // leave in one write. The upstream connection decodes its chunks in its own task
            // and hands them over one at a time, so when none is ready, let the other ready
            // tasks run (twice: the hand-over takes two turns) before writing; what that
            // connection already read from the socket joins this batch. Nothing waits for the
            // network here.
            let step = if std::mem::take(&mut buffered) {
                Step::Buffered
            } else if out.is_empty() {
                self.next_step().await
            } else if !self.sent_first {
                return Ok(());
            } else {
                match self.body.next().now_or_never() {
                    Some(r) => {
                        idle_yields = 0;
                        self.step(r)
                    }
                    None if idle_yields == HANDOVER_TURNS || out.is_full() => return Ok(()),
                    None => {
                        idle_yields += 1;
                        yield_once().await;
                        continue;
                    }
                }
            };
            let result = match step {
                Step::Buffered => self.drain(out).map_err(Failure::from),
                Step::Chunk(b) => match self.sse.feed(&b, &mut self.events) {
                    Ok(()) => self.drain(out).map_err(Failure::from),
                    Err(e) => Err(Failure::Stream(StreamError::Decode(e.to_string()))),
                },
                Step::Eof => self.at_eof(out).map(|()| true).map_err(Failure::from),
                Step::Fail(f) => Err(f),
            };
            match result {
                Ok(false) => continue,
                Ok(true) => return Ok(()),
                Err(f) => {
                    self.translator = None;
                    return Err(f);
                }
            }
        }
    }

    /// Bytes for a streaming client; the stream's last batch ends with an error line on failure.
    async fn next_batch(&mut self, kind: Kind) -> Option<Bytes> {
        let mut buf = Vec::new();
        let result = self.fill(&mut Sink::Bytes(&mut buf, kind)).await?;
        if let Err(f) = result {
            tracing::warn!(error = %f.message(), "upstream stream failed");
            push_error(&mut buf, &f.message());
        }
        Some(Bytes::from(buf))
    }

    /// The whole answer as one reply (the client asked for no stream).
    pub async fn collect(mut self) -> Result<ChatResponse, Error> {
        let mut all = Vec::new();
        while let Some(result) = self.fill(&mut Sink::Lines(&mut all)).await {
            result?;
        }
        merge(all).ok_or_else(|| Error::Stream(StreamError::Decode("empty stream".into())))
    }
}

/// Where translated lines go.
enum Sink<'a> {
    /// Serialized at once as NDJSON in this shape, for a streaming client.
    Bytes(&'a mut Vec<u8>, Kind),
    /// Kept, to be merged into one reply.
    Lines(&'a mut Vec<ChatResponse>),
}

impl Sink<'_> {
    /// Moves `lines` in, leaving it empty.
    fn take(&mut self, lines: &mut Vec<ChatResponse>) {
        match self {
            Sink::Bytes(buf, kind) => {
                for line in lines.drain(..) {
                    kind.push(buf, line);
                }
            }
            Sink::Lines(all) => all.append(lines),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Sink::Bytes(buf, _) => buf.is_empty(),
            Sink::Lines(all) => all.is_empty(),
        }
    }

    /// True when a batch for a streaming client should leave without waiting for more.
    fn is_full(&self) -> bool {
        match self {
            Sink::Bytes(buf, _) => buf.len() >= MAX_BATCH_BYTES,
            Sink::Lines(_) => false,
        }
    }
}

/// How long, and for how many bytes, the end of a finished upstream body is awaited.
const RELEASE_WAIT: Duration = Duration::from_secs(5);
const RELEASE_BYTES: usize = 64 * 1024;

/// A batch stops growing at this size, however fast the upstream is.
const MAX_BATCH_BYTES: usize = 16 * 1024;

/// How many turns of the scheduler a ready upstream chunk may take to reach this task.
const HANDOVER_TURNS: u8 = 2;

/// Lets every other ready task run once, then continues. Unlike `tokio::task::yield_now`, it
/// does not wait for an I/O driver poll first: only tasks already woken run in between.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// Waits for the idle timer, or forever when there is none.
async fn idle_wait(timer: &mut Option<Pin<Box<Sleep>>>) {
    match timer {
        Some(t) => t.as_mut().await,
        None => std::future::pending().await,
    }
}

/// The NDJSON reply for an upstream SSE response.
pub fn relay(relay: Relay, kind: Kind) -> Response {
    let body = futures_util::stream::unfold(relay, move |mut r| async move {
        r.next_batch(kind)
            .await
            .map(|b| (Ok::<_, std::io::Error>(b), r))
    });
    ([(header::CONTENT_TYPE, NDJSON)], Body::from_stream(body)).into_response()
}

/// Folds streamed lines into the single non-streamed reply.
pub fn merge(lines: Vec<ChatResponse>) -> Option<ChatResponse> {
    let mut content = String::new();
    let mut thinking = String::new();
    let mut calls = Vec::new();
    let mut last = None;
    for line in lines {
        content.push_str(&line.message.content);
        if let Some(t) = &line.message.thinking {
            thinking.push_str(t);
        }
        calls.extend(line.message.tool_calls.iter().cloned());
        last = Some(line);
    }
    let mut reply = last?;
    reply.message.content = content;
    reply.message.thinking = (!thinking.is_empty()).then_some(thinking);
    reply.message.tool_calls = calls;
    Some(reply)
}

/// Splits a whole reply into the two lines a streaming client expects: the message, then the
/// final `done` line with the metrics.
pub fn split(mut reply: ChatResponse) -> [ChatResponse; 2] {
    let mut first = reply.clone();
    first.done = false;
    first.done_reason = None;
    first.metrics = Default::default();
    reply.message.content = String::new();
    reply.message.thinking = None;
    reply.message.tool_calls = Vec::new();
    [first, reply]
}
