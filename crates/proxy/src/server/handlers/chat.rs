//! `/api/chat` and `/api/generate`: one shared pipeline. Parse leniently, resolve the model,
//! translate to a chat completion, call Open WebUI, and relay the answer as NDJSON or one JSON
//! object. Empty requests get Ollama's load/unload reply without an upstream call.

use super::stream::{relay, split, Kind, Relay};
use super::{required_model, resolve};
use crate::error::Error;
use crate::ollama::{
    ChatRequest, ChatResponse, GenerateRequest, KeepAlive, Message, Metrics, Think,
};
use crate::openai::{ChatCompletion, ChatCompletionRequest};
use crate::server::body::{parse, RawBody};
use crate::server::ndjson::{single, NDJSON};
use crate::server::AppState;
use crate::translate::{self, now_rfc3339, ReplyOptions, Timing};
use crate::upstream::UpstreamError;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::time::Instant;

/// `POST /api/chat`.
pub async fn chat(State(s): State<AppState>, RawBody(body): RawBody) -> Result<Response, Error> {
    let started = Instant::now();
    let mut req: ChatRequest = parse(&body)?;
    let hint = body.len() + 1024;
    drop(body);
    let model = required_model(req.model.take())?;
    let (set, i) = resolve(&s, &model).await?;
    if req.messages.is_empty() {
        return Ok(load_reply(model, req.keep_alive.as_ref(), Kind::Chat));
    }
    let opts = reply_options(model, req.think.as_ref());
    let mut upstream = translate::chat_request(req, set.models[i].id.clone())?;
    fit_params(&mut upstream, &set.models[i]);
    drop(set);
    run(&s, upstream, opts, Kind::Chat, started, hint).await
}

/// `POST /api/generate`.
pub async fn generate(
    State(s): State<AppState>,
    RawBody(body): RawBody,
) -> Result<Response, Error> {
    let started = Instant::now();
    let mut req: GenerateRequest = parse(&body)?;
    let hint = body.len() + 1024;
    drop(body);
    let model = req.model.take().unwrap_or_default();
    if model.trim().is_empty() {
        return Err(Error::ModelNotFound(String::new()));
    }
    let (set, i) = resolve(&s, &model).await?;
    if req.prompt.is_empty() && req.images.is_empty() {
        return Ok(load_reply(model, req.keep_alive.as_ref(), Kind::Generate));
    }
    if req.raw == Some(true) || req.template.is_some() || req.context.is_some() {
        tracing::debug!("generate: raw, template and context are not supported remotely; ignored");
    }
    let opts = reply_options(model, req.think.as_ref());
    let mut upstream = translate::generate_request(req, set.models[i].id.clone())?;
    fit_params(&mut upstream, &set.models[i]);
    drop(set);
    run(&s, upstream, opts, Kind::Generate, started, hint).await
}

/// Ollama-only options reach only Ollama-backed models: Open WebUI lifts `params` to the top
/// level for other backends, and OpenAI-style servers refuse arguments they do not know.
fn fit_params(req: &mut ChatCompletionRequest, model: &crate::openai::Model) {
    if !translate::models::is_ollama_backed(model) {
        let before = req.params.len();
        translate::request::retain_portable_params(req);
        if req.params.len() != before {
            tracing::debug!("options without an OpenAI equivalent dropped for a non-Ollama model");
        }
    }
}

fn reply_options(model: String, think: Option<&Think>) -> ReplyOptions {
    ReplyOptions {
        model,
        drop_thinking: matches!(think, Some(Think::Bool(false))),
    }
}

/// Ollama's answer to a request with nothing to generate: `done_reason` `load` or `unload`.
fn load_reply(model: String, keep_alive: Option<&KeepAlive>, kind: Kind) -> Response {
    let reason = if keep_alive.is_some_and(KeepAlive::is_zero) {
        "unload"
    } else {
        "load"
    };
    let line = ChatResponse {
        model,
        created_at: now_rfc3339(),
        message: Message {
            role: "assistant".into(),
            ..Default::default()
        },
        done: true,
        done_reason: Some(reason.into()),
        metrics: Metrics::default(),
    };
    match kind {
        Kind::Chat => single(&line, false),
        Kind::Generate => single(&crate::ollama::GenerateResponse::from(line), false),
    }
}

async fn run(
    s: &AppState,
    req: ChatCompletionRequest,
    opts: ReplyOptions,
    kind: Kind,
    started: Instant,
    size_hint: usize,
) -> Result<Response, Error> {
    let stream = req.stream;
    let has_tools = req.tools.is_some();
    let mut body = Vec::with_capacity(size_hint);
    serde_json::to_writer(&mut body, &req).map_err(|e| Error::Internal(e.to_string()))?;
    drop(req);
    let resp = match s.upstream.chat(Bytes::from(body), stream).await {
        Ok(r) => r,
        Err(e) => return Err(refusal(e, &opts.model, has_tools)),
    };
    let is_sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("event-stream"));
    if stream && is_sse {
        return Ok(relay(Relay::new(s, resp, opts, started), kind));
    }
    let reply = if is_sse {
        let wait = s.upstream.non_stream_wait();
        let collected = tokio::time::timeout(wait, Relay::new(s, resp, opts, started).collect());
        collected
            .await
            .map_err(|_| Error::Upstream(UpstreamError::Timeout(wait)))??
    } else {
        whole(s, resp, &opts, started).await?
    };
    Ok(if stream {
        lines(kind, reply)
    } else {
        one(kind, reply)
    })
}

/// Names Open WebUI's refusals the way Ollama clients recognise them: a model that vanished
/// is "not found"; a tools request refused as invalid says "does not support tools" (Ollie
/// retries without tools on those words).
fn refusal(e: UpstreamError, model: &str, has_tools: bool) -> Error {
    match e {
        UpstreamError::Status {
            status: 400 | 404,
            message,
        } if message.eq_ignore_ascii_case("model not found") => {
            Error::ModelNotFound(model.to_string())
        }
        UpstreamError::Status {
            status: 400 | 422,
            message,
        } if has_tools => {
            Error::BadRequest(format!("\"{model}\" does not support tools: {message}"))
        }
        other => other.into(),
    }
}

async fn whole(
    s: &AppState,
    resp: reqwest::Response,
    opts: &ReplyOptions,
    started: Instant,
) -> Result<ChatResponse, Error> {
    let first_byte = Instant::now();
    let body = s
        .upstream
        .json_body(resp, s.config.max_upstream_body)
        .await?;
    let completion: ChatCompletion = serde_json::from_slice(&body).map_err(|e| {
        Error::Stream(translate::StreamError::Decode(format!(
            "chat completion: {e}"
        )))
    })?;
    let timing = Timing {
        started,
        first_byte: Some(first_byte),
        ended: Instant::now(),
    };
    Ok(translate::completion_response(completion, opts, timing)?)
}

fn one(kind: Kind, reply: ChatResponse) -> Response {
    match kind {
        Kind::Chat => single(&reply, false),
        Kind::Generate => single(&crate::ollama::GenerateResponse::from(reply), false),
    }
}

/// A whole reply sent to a streaming client (the upstream answered with JSON).
fn lines(kind: Kind, reply: ChatResponse) -> Response {
    let mut buf = Vec::new();
    for line in split(reply) {
        kind.push(&mut buf, line);
    }
    ([(header::CONTENT_TYPE, NDJSON)], buf).into_response()
}
