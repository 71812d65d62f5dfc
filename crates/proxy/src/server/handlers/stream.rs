//! Relaying an upstream SSE stream as Ollama NDJSON: bytes are decoded into events, translated
//! into lines, and written once per upstream read (complete lines only). The stream ends with a
//! `done` line, or with one `{"error": …}` line when the upstream fails, goes silent past the
//! idle limit, ends early, or the proxy shuts down. A client that disconnects drops this
//! stream, which drops the upstream request at once.

use crate::ollama::{ChatResponse, GenerateResponse};
use crate::server::ndjson::{push_error, push_line, NDJSON};
use crate::server::AppState;
use crate::translate::{ReplyOptions, StreamError, StreamTranslator, Timing};
use crate::upstream::sse::SseDecoder;
use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

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

struct Relay {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    sse: SseDecoder,
    translator: Option<StreamTranslator>,
    events: Vec<String>,
    kind: Kind,
    idle: Option<Duration>,
    closing: CancellationToken,
    started: Instant,
    first_byte: Instant,
}

enum Step {
    Chunk(Bytes),
    Eof,
    Fail(String),
}

impl Relay {
    async fn next_step(&mut self) -> Step {
        let read = async {
            match self.idle {
                Some(d) => tokio::time::timeout(d, self.body.next())
                    .await
                    .map_err(|_| d),
                None => Ok(self.body.next().await),
            }
        };
        tokio::select! {
            biased;
            () = self.closing.cancelled() => Step::Fail("the proxy is shutting down".into()),
            r = read => match r {
                Err(d) => Step::Fail(format!("Open WebUI sent nothing for {} s", d.as_secs())),
                Ok(None) => Step::Eof,
                Ok(Some(Ok(b))) => Step::Chunk(b),
                Ok(Some(Err(e))) => Step::Fail(format!(
                    "the connection to Open WebUI failed: {}",
                    crate::upstream::client::describe(&e)
                )),
            }
        }
    }

    /// Translates buffered events into `out`. Returns true when the stream is complete.
    fn drain(&mut self, out: &mut Vec<u8>) -> Result<bool, StreamError> {
        let events = std::mem::take(&mut self.events);
        for data in &events {
            if data.trim() == "[DONE]" {
                return self.finish(out).map(|()| true);
            }
            let Some(tr) = self.translator.as_mut() else {
                return Ok(true);
            };
            for line in tr.push(data)? {
                self.kind.push(out, line);
            }
        }
        self.events = events;
        self.events.clear();
        Ok(false)
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        let Some(tr) = self.translator.take() else {
            return Ok(());
        };
        let timing = Timing {
            started: self.started,
            first_byte: Some(self.first_byte),
            ended: Instant::now(),
        };
        for line in tr.finish(timing)? {
            self.kind.push(out, line);
        }
        Ok(())
    }

    /// Produces the next batch of bytes for the client, or `None` when done.
    async fn next_batch(&mut self) -> Option<Bytes> {
        self.translator.as_ref()?;
        let mut out = Vec::new();
        loop {
            let step = self.next_step().await;
            let result = match step {
                Step::Chunk(b) => self
                    .sse
                    .feed(&b, &mut self.events)
                    .map_err(|e| StreamError::Decode(e.to_string()))
                    .and_then(|()| self.drain(&mut out)),
                Step::Eof => self.at_eof(&mut out),
                Step::Fail(msg) => Err(StreamError::Upstream(msg)),
            };
            match result {
                Ok(false) if out.is_empty() => continue,
                Ok(_) => return Some(Bytes::from(out)),
                Err(e) => {
                    tracing::warn!(error = %e, "upstream stream failed");
                    self.translator = None;
                    push_error(&mut out, &e.to_string());
                    return Some(Bytes::from(out));
                }
            }
        }
    }

    fn at_eof(&mut self, out: &mut Vec<u8>) -> Result<bool, StreamError> {
        if let Some(last) = self.sse.finish() {
            self.events.push(last);
        }
        if self.drain(out)? {
            return Ok(true);
        }
        let complete = self
            .translator
            .as_ref()
            .is_some_and(StreamTranslator::saw_finish);
        if !complete {
            return Err(StreamError::Upstream(
                "the stream from Open WebUI ended before the answer was complete".into(),
            ));
        }
        self.finish(out).map(|()| true)
    }
}

/// The NDJSON reply for an upstream SSE response.
pub fn relay(
    state: &AppState,
    resp: reqwest::Response,
    opts: ReplyOptions,
    kind: Kind,
    started: Instant,
) -> Response {
    let relay = Relay {
        body: resp.bytes_stream().boxed(),
        sse: SseDecoder::new(state.config.max_sse_event),
        translator: Some(StreamTranslator::new(opts)),
        events: Vec::new(),
        kind,
        idle: state.config.stream_idle_timeout,
        closing: state.closing.clone(),
        started,
        first_byte: Instant::now(),
    };
    let body = futures_util::stream::unfold(relay, |mut r| async move {
        r.next_batch()
            .await
            .map(|b| (Ok::<_, std::io::Error>(b), r))
    });
    ([(header::CONTENT_TYPE, NDJSON)], Body::from_stream(body)).into_response()
}

/// Reads a whole SSE response (the client asked for no stream but the upstream streamed) and
/// merges it into one reply.
pub async fn collect(
    state: &AppState,
    resp: reqwest::Response,
    opts: ReplyOptions,
    started: Instant,
) -> Result<ChatResponse, StreamError> {
    let mut sse = SseDecoder::new(state.config.max_sse_event);
    let mut tr = StreamTranslator::new(opts);
    let mut lines = Vec::new();
    let mut events = Vec::new();
    let first_byte = Instant::now();
    let mut body = resp.bytes_stream();
    'read: while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| StreamError::Upstream(crate::upstream::client::describe(&e)))?;
        sse.feed(&chunk, &mut events)
            .map_err(|e| StreamError::Decode(e.to_string()))?;
        for data in events.drain(..) {
            if data.trim() == "[DONE]" {
                break 'read;
            }
            lines.extend(tr.push(&data)?);
        }
    }
    if let Some(last) = sse.finish().filter(|d| d.trim() != "[DONE]") {
        lines.extend(tr.push(&last)?);
    }
    lines.extend(tr.finish(Timing {
        started,
        first_byte: Some(first_byte),
        ended: Instant::now(),
    })?);
    merge(lines).ok_or_else(|| StreamError::Decode("empty stream".into()))
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
