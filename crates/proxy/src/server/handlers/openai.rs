//! The OpenAI-compatible routes real Ollama also serves (`/v1/chat/completions`,
//! `/v1/embeddings`, `/v1/models`), passed through to Open WebUI with the model name mapped,
//! auth added and history-creating fields removed. Errors use OpenAI's envelope.

use super::resolve;
use crate::error::Error;
use crate::server::body::{parse, RawBody};
use crate::server::ndjson::{json, JSON};
use crate::server::AppState;
use crate::translate::models as tm;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// An [`Error`] rendered in OpenAI's envelope.
pub struct OpenAiError(Error);

impl<E: Into<Error>> From<E> for OpenAiError {
    fn from(e: E) -> Self {
        OpenAiError(e.into())
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let status = e.status();
        let kind = match status {
            StatusCode::BAD_REQUEST => "invalid_request_error",
            StatusCode::NOT_FOUND => "not_found_error",
            _ => "api_error",
        };
        let body =
            json!({"error": {"message": e.message(), "type": kind, "param": null, "code": null}});
        (status, [(header::CONTENT_TYPE, JSON)], body.to_string()).into_response()
    }
}

/// Fields that would make Open WebUI store the conversation in the user's history.
const HISTORY_FIELDS: [&str; 5] = ["chat_id", "parent_id", "session_id", "id", "message_id"];

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(s): State<AppState>,
    RawBody(body): RawBody,
) -> Result<Response, OpenAiError> {
    let mut req: Map<String, Value> = parse(&body)?;
    drop(body);
    map_model(&s, &mut req).await?;
    if req
        .get("messages")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        return Err(Error::BadRequest("[] is too short - 'messages'".into()).into());
    }
    for f in HISTORY_FIELDS {
        req.remove(f);
    }
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let body = Bytes::from(serde_json::to_vec(&req).map_err(|e| Error::Internal(e.to_string()))?);
    let resp = s
        .upstream
        .passthrough(Method::POST, "/api/chat/completions", body, stream)
        .await?;
    Ok(forward(&s, resp, stream).await?)
}

/// `POST /v1/embeddings`.
pub async fn embeddings(
    State(s): State<AppState>,
    RawBody(body): RawBody,
) -> Result<Response, OpenAiError> {
    let mut req: Map<String, Value> = parse(&body)?;
    map_model(&s, &mut req).await?;
    let body = Bytes::from(serde_json::to_vec(&req).map_err(|e| Error::Internal(e.to_string()))?);
    let resp = s
        .upstream
        .passthrough(Method::POST, "/api/embeddings", body, false)
        .await?;
    Ok(forward(&s, resp, false).await?)
}

/// `GET /v1/models`.
pub async fn models(State(s): State<AppState>) -> Result<Response, OpenAiError> {
    let set = s.models.get(&s.upstream).await?;
    let data: Vec<Value> = set
        .models
        .iter()
        .filter(|m| tm::is_listed(m))
        .map(entry)
        .collect();
    Ok(json(&json!({"object": "list", "data": data})))
}

/// `GET /v1/models/{model}`.
pub async fn model(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, OpenAiError> {
    let (set, i) = resolve(&s, &name).await?;
    Ok(json(&entry(&set.models[i])))
}

/// Any other `/v1/...` path.
pub async fn not_found() -> OpenAiError {
    OpenAiError(Error::Unsupported(
        "this OpenAI-compatible route is not available".into(),
    ))
}

fn entry(m: &crate::openai::Model) -> Value {
    json!({
        "id": m.id,
        "object": "model",
        "created": m.created.unwrap_or(0),
        "owned_by": m.owned_by.as_deref().unwrap_or("openwebui"),
    })
}

async fn map_model(s: &AppState, req: &mut Map<String, Value>) -> Result<(), Error> {
    let name = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let name = super::required_model(Some(name))?;
    let (set, i) = resolve(s, &name).await?;
    req.insert("model".into(), Value::String(set.models[i].id.clone()));
    Ok(())
}

async fn forward(s: &AppState, resp: reqwest::Response, stream: bool) -> Result<Response, Error> {
    let ct = resp.headers().get(header::CONTENT_TYPE).cloned();
    if stream {
        let body = Body::from_stream(sse_passthrough(s, resp));
        let ct = ct.unwrap_or(header::HeaderValue::from_static("text/event-stream"));
        return Ok(([(header::CONTENT_TYPE, ct)], body).into_response());
    }
    let bytes = s
        .upstream
        .json_body(resp, s.config.max_upstream_body)
        .await?;
    Ok(([(header::CONTENT_TYPE, JSON)], bytes).into_response())
}

/// Relays SSE bytes as they come, with the stream idle limit and shutdown; a failure ends the
/// stream with an OpenAI-style `data: {"error": …}` event, which OpenAI SDKs recognise.
fn sse_passthrough(
    s: &AppState,
    resp: reqwest::Response,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    use futures_util::StreamExt;
    let idle = s.config.stream_idle_timeout;
    let closing = s.closing.clone();
    let body = resp.bytes_stream().boxed();
    futures_util::stream::unfold(Some(body), move |body| {
        let closing = closing.clone();
        async move {
            let mut body = body?;
            let next = async {
                match idle {
                    Some(d) => tokio::time::timeout(d, body.next()).await.map_err(|_| d),
                    None => Ok(body.next().await),
                }
            };
            let failure = tokio::select! {
                biased;
                () = closing.cancelled() => "the proxy is shutting down".to_string(),
                r = next => match r {
                    Ok(None) => return None,
                    Ok(Some(Ok(bytes))) => return Some((Ok(bytes), Some(body))),
                    Ok(Some(Err(e))) => format!(
                        "the connection to Open WebUI failed: {}",
                        crate::upstream::client::describe(&e)
                    ),
                    Err(d) => format!("Open WebUI sent nothing for {d:?}"),
                },
            };
            tracing::warn!(error = %failure, "upstream stream failed");
            let event = json!({"error": {"message": failure, "type": "api_error", "param": null, "code": null}});
            Some((Ok(Bytes::from(format!("data: {event}\n\n"))), None))
        }
    })
}
