//! Reading request bodies the way real Ollama does: any `Content-Type` (or none), JSON decoded
//! leniently, an empty body refused, a size cap answered with 413, and a client too slow to
//! send its body cut off with 408.

use super::AppState;
use crate::config::human_bytes;
use crate::error::Error;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A capped request body.
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.max_body;
        let too_large = || Error::PayloadTooLarge(human_bytes(limit));
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let capacity = declared.unwrap_or(0) as usize;
        let read = read_capped(req.into_body(), limit, capacity);
        let Ok(read) = tokio::time::timeout(state.config.body_read_timeout, read).await else {
            return Err(Error::RequestTimeout);
        };
        read.map(RawBody)
    }
}

/// Reads a body into one buffer sized from its `Content-Length`, so a large body is held
/// once (collecting frames and then joining them would hold it twice).
async fn read_capped(mut body: Body, limit: usize, capacity: usize) -> Result<Bytes, Error> {
    use http_body_util::BodyExt;
    let mut buf = bytes::BytesMut::with_capacity(capacity);
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| Error::BadRequest(format!("reading the request body failed: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(Error::PayloadTooLarge(human_bytes(limit)));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Decodes a JSON request body; empty → "missing request body".
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::BadRequest("missing request body".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            Error::BadRequest(format!("invalid request body: {inner}"))
        } else {
            Error::BadRequest(format!("invalid request body: field {path}: {inner}"))
        }
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_name_the_field() {
        let err = parse::<crate::ollama::ChatRequest>(br#"{"model":"m","messages":"hi"}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("field messages"), "{err}");
        let err = parse::<crate::ollama::ChatRequest>(b"{nope")
            .err()
            .map(|e| e.to_string());
        assert!(err
            .unwrap_or_default()
            .starts_with("invalid request body: "));
        let err = parse::<crate::ollama::ChatRequest>(b"  ")
            .err()
            .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("missing request body"));
    }
}
