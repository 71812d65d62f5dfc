//! Writing Ollama replies: single JSON objects and NDJSON lines, serialized straight into
//! byte buffers (no intermediate `Value`s), each line whole and `\n`-terminated.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `application/json; charset=utf-8`.
pub const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");
/// `application/x-ndjson`.
pub const NDJSON: HeaderValue = HeaderValue::from_static("application/x-ndjson");

/// Appends `value` as one JSON line.
pub fn push_line<T: Serialize>(buf: &mut Vec<u8>, value: &T) {
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.extend_from_slice(b"{\"error\":\"internal error: reply could not be encoded\"}");
    }
    buf.push(b'\n');
}

/// Appends an `{"error": msg}` line.
pub fn push_error(buf: &mut Vec<u8>, msg: &str) {
    push_line(
        buf,
        &crate::ollama::ErrorBody {
            error: msg.to_string(),
        },
    );
}

/// A 200 JSON reply.
pub fn json<T: Serialize>(value: &T) -> Response {
    let mut buf = Vec::with_capacity(256);
    push_line(&mut buf, value);
    (StatusCode::OK, [(header::CONTENT_TYPE, JSON)], buf).into_response()
}

/// A 200 reply that is JSON or a one-line NDJSON stream, as the client asked.
pub fn single<T: Serialize>(value: &T, stream: bool) -> Response {
    if !stream {
        return json(value);
    }
    let mut buf = Vec::with_capacity(256);
    push_line(&mut buf, value);
    (StatusCode::OK, [(header::CONTENT_TYPE, NDJSON)], buf).into_response()
}
