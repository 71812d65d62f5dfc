//! Model management routes. Models live on the Open WebUI server, so pull/push/create/copy/
//! delete/blobs are refused with a clear `403 {"error"}` — except a pull of a model the
//! server already offers, which succeeds (some clients pull before first use).

use crate::error::Error;
use crate::server::body::RawBody;
use crate::server::ndjson::single;
use crate::server::AppState;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;

const MANAGED: &str = "models are managed on the Open WebUI server";

#[derive(Deserialize, Default)]
struct PullRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    stream: Option<bool>,
}

/// `POST /api/pull`.
pub async fn pull(State(s): State<AppState>, RawBody(body): RawBody) -> Result<Response, Error> {
    let req: PullRequest = crate::server::body::parse(&body)?;
    let model = super::required_model(req.model.filter(|m| !m.is_empty()).or(req.name))?;
    match super::resolve(&s, &model).await {
        Ok(_) => Ok(single(
            &serde_json::json!({"status": "success"}),
            req.stream.unwrap_or(true),
        )),
        Err(Error::ModelNotFound(_)) => Err(Error::Unsupported(format!(
            "pull is not available: {MANAGED}, and it offers no model '{model}'"
        ))),
        Err(e) => Err(e),
    }
}

/// push, create, copy, delete, blobs.
pub async fn refuse(uri: Uri) -> Error {
    let route = uri
        .path()
        .trim_start_matches("/api/")
        .split('/')
        .next()
        .unwrap_or("this");
    Error::Unsupported(format!("{route} is not available: {MANAGED}"))
}
