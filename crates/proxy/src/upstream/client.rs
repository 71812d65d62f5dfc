//! The one pooled HTTP client to Open WebUI, with its timeouts, capped reads, bearer tokens
//! (retrying once after a 401 with a fresh sign-in) and the classification of upstream
//! failures. Returns upstream types only; translation happens elsewhere.

use super::auth::{Auth, AuthError};
use crate::config::Config;
use crate::credentials::Credentials;
use crate::events::EventSink;
use crate::openai::{error_message, EmbeddingRequest, EmbeddingResponse, Model, ModelList};
use bytes::Bytes;
use http::HeaderMap;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

/// What went wrong talking to Open WebUI.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Connection refused, DNS, TLS.
    #[error("cannot reach Open WebUI: {0}")]
    Unreachable(String),
    /// No answer in time.
    #[error("Open WebUI did not answer within {0:?}")]
    Timeout(Duration),
    /// A non-success status with the server's short message.
    #[error("Open WebUI answered {status}: {message}")]
    Status {
        /// Upstream status.
        status: u16,
        /// Extracted message.
        message: String,
    },
    /// Sign-in or credential failure.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Not the JSON we expected.
    #[error("Open WebUI sent an unexpected response: {0}")]
    Invalid(String),
    /// A reply over the configured cap.
    #[error("Open WebUI's response is larger than {0} bytes")]
    TooLarge(usize),
}

/// Describes a reqwest error without its URL noise, keeping the root cause.
pub fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// True when the `Content-Type` is JSON.
pub fn is_json(h: &HeaderMap) -> bool {
    content_type(h).contains("json")
}

fn content_type(h: &HeaderMap) -> &str {
    h.get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The pooled client plus sign-in state. Cheap to share behind an `Arc`.
pub struct Upstream {
    http: reqwest::Client,
    auth: Arc<Auth>,
    config: Arc<Config>,
}

impl Upstream {
    /// Builds the pooled client; sends nothing.
    pub fn new(
        config: Arc<Config>,
        creds: Credentials,
        events: EventSink,
    ) -> Result<Self, UpstreamError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(512)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(60))
            .user_agent(concat!(
                "openwebui-ollama-proxy/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| UpstreamError::Unreachable(describe(&e)))?;
        let signin = config.upstream_url("/api/v1/auths/signin");
        let auth = Arc::new(Auth::new(
            creds,
            signin,
            http.clone(),
            config.timeout,
            events,
        ));
        Ok(Upstream { http, auth, config })
    }

    /// Sign-in state.
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }

    /// Sends a request with the bearer token; after a 401 on a session token, signs in again
    /// once and retries. Returns the response only if it succeeded (2xx).
    pub async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        wait: Duration,
    ) -> Result<Response, UpstreamError> {
        let token = self.auth.token().await?;
        let resp = self
            .attempt(&build, token.bearer.expose_secret(), wait)
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED || self.auth.is_api_key() {
            return self.check(resp).await;
        }
        tracing::info!("Open WebUI refused the session token; signing in again");
        self.auth.invalidate(&token);
        let token = self.auth.token().await?;
        let resp = self
            .attempt(&build, token.bearer.expose_secret(), wait)
            .await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let msg = self.error_text(resp).await;
            self.auth.invalidate(&token);
            let err = AuthError::SessionRejected(msg);
            self.auth.report(&err);
            return Err(err.into());
        }
        self.check(resp).await
    }

    async fn attempt(
        &self,
        build: &impl Fn(&reqwest::Client) -> RequestBuilder,
        bearer: &str,
        wait: Duration,
    ) -> Result<Response, UpstreamError> {
        let fut = build(&self.http).bearer_auth(bearer).send();
        match tokio::time::timeout(wait, fut).await {
            Err(_) => Err(UpstreamError::Timeout(wait)),
            Ok(Err(e)) if e.is_timeout() => Err(UpstreamError::Timeout(wait)),
            Ok(Err(e)) => Err(UpstreamError::Unreachable(describe(&e))),
            Ok(Ok(r)) => Ok(r),
        }
    }

    async fn check(&self, resp: Response) -> Result<Response, UpstreamError> {
        let status = resp.status();
        if status.is_success() {
            if content_type(resp.headers()).starts_with("text/html") {
                return Err(UpstreamError::Invalid(
                    "a web page instead of Open WebUI's API: check the URL".into(),
                ));
            }
            return Ok(resp);
        }
        let code = status.as_u16();
        let message = self.error_text(resp).await;
        if self.auth.is_api_key() && matches!(code, 401 | 403) {
            let err = if code == 401 {
                AuthError::ApiKeyRejected(message)
            } else {
                AuthError::ApiKeyNotAllowed(message)
            };
            self.auth.report(&err);
            return Err(err.into());
        }
        Err(UpstreamError::Status {
            status: code,
            message,
        })
    }

    async fn error_text(&self, resp: Response) -> String {
        let status = resp.status();
        let body = read_capped(resp, self.config.max_error_body, self.config.timeout)
            .await
            .unwrap_or_default();
        tracing::debug!(%status, body = %String::from_utf8_lossy(&body), "upstream error body");
        error_message(&body).unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("unexpected status")
                .to_lowercase()
        })
    }

    /// `GET /api/models`.
    pub async fn models(&self) -> Result<Vec<Model>, UpstreamError> {
        let url = self.config.upstream_url("/api/models");
        let resp = self.send(|c| c.get(&url), self.config.timeout).await?;
        let body = self.json_body(resp, self.config.max_upstream_body).await?;
        let list: ModelList = serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::Invalid(format!("model list: {e}")))?;
        Ok(list.data)
    }

    /// `POST /api/chat/completions` with a serialized body; the response is 2xx.
    pub async fn chat(&self, body: Bytes, stream: bool) -> Result<Response, UpstreamError> {
        let url = self.config.upstream_url("/api/chat/completions");
        let wait = if stream {
            self.config.timeout
        } else {
            self.non_stream_wait()
        };
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        self.send(
            |c| {
                c.post(&url)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header(http::header::ACCEPT, accept)
                    .body(body.clone())
            },
            wait,
        )
        .await
    }

    /// `POST /api/embeddings`.
    pub async fn embeddings(
        &self,
        req: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, UpstreamError> {
        let url = self.config.upstream_url("/api/embeddings");
        let resp = self
            .send(|c| c.post(&url).json(req), self.non_stream_wait())
            .await?;
        let body = self.json_body(resp, self.config.max_upstream_body).await?;
        serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::Invalid(format!("embeddings: {e}")))
    }

    /// Any other call, passed through with auth added (the OpenAI-compatible routes).
    pub async fn passthrough(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        stream: bool,
    ) -> Result<Response, UpstreamError> {
        let url = self.config.upstream_url(path);
        let wait = if stream {
            self.config.timeout
        } else {
            self.non_stream_wait()
        };
        self.send(
            |c| {
                let b = c.request(method.clone(), &url);
                if body.is_empty() {
                    b
                } else {
                    b.header(http::header::CONTENT_TYPE, "application/json")
                        .body(body.clone())
                }
            },
            wait,
        )
        .await
    }

    /// A whole non-streamed answer may take as long as a model needs to write it; it is
    /// bounded by the stream idle limit (or `--timeout` when that is longer).
    pub fn non_stream_wait(&self) -> Duration {
        self.config
            .stream_idle_timeout
            .unwrap_or(Duration::from_secs(3600))
            .max(self.config.timeout)
    }

    /// Reads a JSON body, capped and timed.
    pub async fn json_body(&self, resp: Response, cap: usize) -> Result<Bytes, UpstreamError> {
        if !is_json(resp.headers()) {
            return Err(UpstreamError::Invalid(format!(
                "expected JSON, got {:?}: check the URL",
                content_type(resp.headers())
            )));
        }
        read_capped(resp, cap, self.non_stream_wait()).await
    }
}

/// Reads a whole body up to `cap` bytes within `wait`.
pub async fn read_capped(
    mut resp: Response,
    cap: usize,
    wait: Duration,
) -> Result<Bytes, UpstreamError> {
    let expected = resp.content_length().unwrap_or(0);
    if expected > cap as u64 {
        return Err(UpstreamError::TooLarge(cap));
    }
    let read = async {
        let mut buf = bytes::BytesMut::with_capacity(expected as usize);
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| UpstreamError::Unreachable(describe(&e)))?
        {
            if buf.len() + chunk.len() > cap {
                return Err(UpstreamError::TooLarge(cap));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    };
    tokio::time::timeout(wait, read)
        .await
        .map_err(|_| UpstreamError::Timeout(wait))?
}
