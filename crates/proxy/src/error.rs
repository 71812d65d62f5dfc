//! The proxy's top-level [`Error`]: every failure a client can see, classified by who is at
//! fault ([`Side`]), which picks the HTTP status, the log level and the wording. Rendered as
//! Ollama's `{"error": "..."}` body.

use crate::translate::{StreamError, TranslateError};
use crate::upstream::{AuthError, UpstreamError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Who caused a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client sent something wrong.
    Client,
    /// Open WebUI failed or refused.
    Upstream,
    /// A bug here.
    Internal,
}

/// Any failure answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed or invalid request.
    #[error("{0}")]
    BadRequest(String),
    /// No such model (Ollama's wording, single quotes).
    #[error("model '{0}' not found")]
    ModelNotFound(String),
    /// No such model on the embeddings routes (Ollama's wording there).
    #[error("model \"{0}\" not found, try pulling it first")]
    EmbedModelNotFound(String),
    /// A route the proxy does not offer.
    #[error("{0}")]
    Unsupported(String),
    /// Refused by policy (origin, host, client token).
    #[error("{0}")]
    Forbidden(String),
    /// Client token missing or wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// Body over the limit.
    #[error("request body too large (limit {0})")]
    PayloadTooLarge(String),
    /// Wrong method on a known route.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Too many requests from this client.
    #[error("too many requests: retry in {0} s")]
    RateLimited(u64),
    /// The client did not send its request body in time.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// Request translation refused the request.
    #[error(transparent)]
    Translate(#[from] TranslateError),
    /// Open WebUI failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The upstream reply could not be translated.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// A bug.
    #[error("internal error")]
    Internal(String),
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        Error::Upstream(UpstreamError::Auth(e))
    }
}

impl Error {
    /// Who is at fault.
    pub fn side(&self) -> Side {
        match self {
            Error::Upstream(_) | Error::Stream(_) => Side::Upstream,
            Error::Internal(_) => Side::Internal,
            _ => Side::Client,
        }
    }

    /// The HTTP status clients see.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) | Error::Translate(_) => StatusCode::BAD_REQUEST,
            Error::ModelNotFound(_) | Error::EmbedModelNotFound(_) => StatusCode::NOT_FOUND,
            Error::Unsupported(_) | Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Error::Upstream(u) => upstream_status(u),
            Error::Stream(_) => StatusCode::BAD_GATEWAY,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The text clients see: for upstream failures a short explanation, never a body dump.
    pub fn message(&self) -> String {
        match self {
            Error::Upstream(UpstreamError::Auth(a)) => {
                format!("signing in to Open WebUI failed: {a}")
            }
            Error::Upstream(UpstreamError::Status {
                status: 429,
                message,
            }) => {
                format!("Open WebUI is rate limiting requests (429): {message}")
            }
            Error::Upstream(UpstreamError::Status { status, message }) if *status >= 500 => {
                format!("Open WebUI failed ({status}): {message}")
            }
            other => other.to_string(),
        }
    }

    /// A snake_case code for UIs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Upstream(UpstreamError::Auth(a)) => a.kind(),
            Error::Upstream(UpstreamError::Unreachable(_)) => "upstream_unreachable",
            Error::Upstream(UpstreamError::Timeout(_)) => "upstream_timeout",
            Error::Upstream(_) | Error::Stream(_) => "upstream_error",
            Error::ModelNotFound(_) | Error::EmbedModelNotFound(_) => "model_not_found",
            Error::Forbidden(_) => "forbidden",
            Error::Unauthorized(_) => "unauthorized",
            Error::RateLimited(_) => "rate_limited",
            Error::RequestTimeout => "request_timeout",
            Error::Internal(_) => "internal",
            _ => "bad_request",
        }
    }

    /// Logs the failure at the level its side calls for.
    pub fn log(&self) {
        let status = self.status().as_u16();
        match self.side() {
            Side::Client if status == 403 => {
                tracing::warn!(status, error = %self, "request refused")
            }
            Side::Client => tracing::debug!(status, error = %self, "bad request"),
            Side::Upstream => tracing::warn!(status, error = %self.message(), "upstream failure"),
            Side::Internal => tracing::error!(status, error = ?self, "internal error"),
        }
    }
}

fn upstream_status(u: &UpstreamError) -> StatusCode {
    match u {
        UpstreamError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        UpstreamError::Status { status, .. } => match *status {
            400 | 422 => StatusCode::BAD_REQUEST,
            413 => StatusCode::PAYLOAD_TOO_LARGE,
            429 => StatusCode::TOO_MANY_REQUESTS,
            504 => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        },
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// The JSON body `{"error": msg}` with a trailing newline.
pub fn error_body(msg: &str) -> Vec<u8> {
    let mut v = serde_json::to_vec(&crate::ollama::ErrorBody {
        error: msg.to_string(),
    })
    .unwrap_or_else(|_| b"{\"error\":\"internal error\"}".to_vec());
    v.push(b'\n');
    v
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log();
        let mut resp = (
            self.status(),
            [(
                axum::http::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )],
            error_body(&self.message()),
        )
            .into_response();
        if let Error::RateLimited(secs) = self {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.max(1).into());
        }
        if let Error::RequestTimeout = self {
            let close = axum::http::HeaderValue::from_static("close");
            resp.headers_mut()
                .insert(axum::http::header::CONNECTION, close);
        }
        if let Error::MethodNotAllowed = self {
            resp.headers_mut().remove(axum::http::header::ALLOW);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_who_is_at_fault() {
        let cases: Vec<(Error, u16)> = vec![
            (Error::BadRequest("x".into()), 400),
            (Error::ModelNotFound("m".into()), 404),
            (Error::PayloadTooLarge("1 MiB".into()), 413),
            (Error::MethodNotAllowed, 405),
            (UpstreamError::Unreachable("refused".into()).into(), 502),
            (
                UpstreamError::Timeout(std::time::Duration::from_secs(1)).into(),
                504,
            ),
            (
                UpstreamError::Status {
                    status: 429,
                    message: "slow".into(),
                }
                .into(),
                429,
            ),
            (
                UpstreamError::Status {
                    status: 500,
                    message: "boom".into(),
                }
                .into(),
                502,
            ),
            (AuthError::WrongCredentials.into(), 502),
            (Error::RateLimited(2), 429),
        ];
        for (e, want) in cases {
            assert_eq!(e.status().as_u16(), want, "{e:?}");
        }
    }

    #[test]
    fn model_not_found_uses_ollama_wording() {
        assert_eq!(
            Error::ModelNotFound("llama9".into()).message(),
            "model 'llama9' not found"
        );
        assert_eq!(
            Error::EmbedModelNotFound("e".into()).message(),
            "model \"e\" not found, try pulling it first"
        );
    }

    #[test]
    fn auth_failures_say_sign_in() {
        let e: Error = AuthError::WrongCredentials.into();
        assert!(
            e.message().starts_with("signing in to Open WebUI failed"),
            "{}",
            e.message()
        );
        assert_eq!(e.kind(), "wrong_credentials");
    }

    #[test]
    fn error_body_is_ollama_shaped() {
        let v: serde_json::Value = serde_json::from_slice(&error_body("a \"b\"")).unwrap();
        assert_eq!(v, serde_json::json!({"error": "a \"b\""}));
    }
}
