//! Cross-cutting request handling: one tracing span per request (method, path, id), a debug
//! access line, and a `RequestFinished` event when someone listens. Nothing here logs at info
//! per request: the hot path stays free of synchronous logging.

use super::AppState;
use crate::events::ProxyEvent;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing::Instrument;

static REQUEST_ID: AtomicU64 = AtomicU64::new(1);

/// Wraps every request in a span and reports its status. When neither debug logging nor an
/// event listener is on, this costs a counter increment and a refcount.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = REQUEST_ID.fetch_add(1, Ordering::Relaxed);
    let method = req.method().clone();
    let uri = req.uri().clone();
    let span = tracing::debug_span!("request", id, %method, path = uri.path());
    let debug = tracing::enabled!(tracing::Level::DEBUG);
    let started = debug.then(Instant::now);
    let resp = next.run(req).instrument(span).await;
    let status = resp.status().as_u16();
    if let Some(started) = started {
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::debug!(id, %method, path = uri.path(), status, elapsed_ms, "request");
    }
    if state.events.has_listeners() {
        let path = uri.path().to_string();
        state
            .events
            .send(ProxyEvent::RequestFinished { path, status });
    }
    resp
}
