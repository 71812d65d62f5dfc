//! Route table and the small helpers handlers share. Handlers stay short: extract → translate
//! → call upstream → translate → respond.

mod chat;
mod embed;
mod manage;
mod meta;
mod openai;
mod stream;

use super::AppState;
use crate::cache::ModelSet;
use crate::error::Error;
use axum::routing::{any, get, head, post};
use axum::Router;
use std::sync::Arc;
use std::time::Duration;

/// Every route the proxy serves.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(meta::root))
        .route("/api/version", get(meta::version))
        .route("/api/tags", get(meta::tags))
        .route("/api/ps", get(meta::ps))
        .route("/api/show", post(meta::show))
        .route("/api/chat", post(chat::chat))
        .route("/api/generate", post(chat::generate))
        .route("/api/embed", post(embed::embed))
        .route("/api/embeddings", post(embed::embeddings))
        .route("/api/pull", post(manage::pull))
        .route("/api/push", post(manage::refuse))
        .route("/api/create", post(manage::refuse))
        .route("/api/copy", post(manage::refuse))
        .route(
            "/api/delete",
            axum::routing::delete(manage::refuse).post(manage::refuse),
        )
        .route(
            "/api/blobs/{digest}",
            head(manage::refuse).post(manage::refuse),
        )
        .route("/v1/models", get(openai::models))
        .route("/v1/models/{*model}", get(openai::model))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/{*rest}", any(openai::not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

async fn not_found() -> axum::response::Response {
    let mut r = axum::response::IntoResponse::into_response((
        axum::http::StatusCode::NOT_FOUND,
        [(axum::http::header::CONTENT_TYPE, super::ndjson::JSON)],
        crate::error::error_body("not found"),
    ));
    r.headers_mut().remove(axum::http::header::ALLOW);
    r
}

/// How old a model list may be before an unknown name triggers a re-fetch.
const REFETCH_AFTER: Duration = Duration::from_secs(5);

/// Finds the model a client named: from the cached list, re-fetched once if the name is
/// unknown and the list is not brand new. Returns the list and the model's position in it.
pub async fn resolve(state: &AppState, requested: &str) -> Result<(Arc<ModelSet>, usize), Error> {
    let set = state.models.get(&state.upstream).await?;
    if let Some(i) = set.resolve(requested) {
        return Ok((set, i));
    }
    if set.fetched_at.elapsed() < REFETCH_AFTER {
        return Err(Error::ModelNotFound(requested.to_string()));
    }
    let set = state
        .models
        .fetch(&state.upstream, Some(set.fetched_at))
        .await?;
    match set.resolve(requested) {
        Some(i) => Ok((set, i)),
        None => Err(Error::ModelNotFound(requested.to_string())),
    }
}

/// The model name from a request, or Ollama's "model is required".
pub fn required_model(model: Option<String>) -> Result<String, Error> {
    model
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| Error::BadRequest("model is required".into()))
}
