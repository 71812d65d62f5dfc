//! Liveness and metadata: `/`, `/api/version`, `/api/tags`, `/api/show` (rendered replies
//! cached in memory), `/api/ps`.

use super::{required_model, resolve};
use crate::error::Error;
use crate::ollama::{ProcessResponse, ShowRequest, VersionResponse};
use crate::server::body::{parse, RawBody};
use crate::server::ndjson::{json, JSON};
use crate::server::AppState;
use crate::translate::models as tm;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

/// `GET`/`HEAD /`.
pub async fn root() -> Response {
    let ct = HeaderValue::from_static("text/plain; charset=utf-8");
    ([(header::CONTENT_TYPE, ct)], "Ollama is running").into_response()
}

/// `GET /api/version`.
pub async fn version(State(s): State<AppState>) -> Response {
    json(&VersionResponse {
        version: s.config.ollama_version.clone(),
    })
}

/// `GET /api/tags`: the cached, pre-rendered list.
pub async fn tags(State(s): State<AppState>) -> Result<Response, Error> {
    let set = s.models.get(&s.upstream).await?;
    Ok(([(header::CONTENT_TYPE, JSON)], set.tags_body.clone()).into_response())
}

/// `GET /api/ps`: nothing runs locally.
pub async fn ps() -> Response {
    json(&ProcessResponse::default())
}

/// `POST /api/show` with `model` or the older `name`.
pub async fn show(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, Error> {
    let req: ShowRequest = parse(&body)?;
    let requested = required_model(req.model.filter(|m| !m.is_empty()).or(req.name))?;
    let (set, i) = resolve(&s, &requested).await?;
    let copilot = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("GitHubCopilotChat/"));
    if !copilot {
        let body = s.shows.get_or_render(&set, i, |m| json_bytes(&tm::show(m)));
        return Ok(([(header::CONTENT_TYPE, JSON)], body).into_response());
    }
    let mut reply = tm::show(&set.models[i]);
    reply
        .model_info
        .insert("general.basename".into(), requested.into());
    Ok(json(&reply))
}

fn json_bytes<T: serde::Serialize>(value: &T) -> bytes::Bytes {
    let mut buf = Vec::with_capacity(1024);
    crate::server::ndjson::push_line(&mut buf, value);
    buf.into()
}
