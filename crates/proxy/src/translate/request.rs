//! Ollama `/api/chat` and `/api/generate` requests → one OpenAI chat completion request for
//! Open WebUI (`POST /api/chat/completions`).
//!
//! Messages, images and tool calls are moved, not copied. Options go two ways at once:
//! - the OpenAI fields at the top level (`max_tokens`, `temperature`, `top_p`, `seed`, `stop`,
//!   `presence_penalty`, `frequency_penalty`), which OpenAI-type backends read;
//! - `params`, which Open WebUI itself consumes: for a model it owns as `"ollama"` it becomes the
//!   backend's `options` (top-level sampling fields are dropped on that path), for any other model
//!   its keys are lifted to the top level. So `params` mirrors the portable sampling fields
//!   ([`PORTABLE_PARAMS`]) and also carries Ollama-only knobs (`top_k`, `min_p`,
//!   `repeat_penalty`, `num_ctx`, other option keys, `format: "json"`, `think: false`).
//!   Real OpenAI rejects unknown top-level arguments (`Unrecognized request argument supplied:
//!   num_ctx`), so for models that are not Ollama-backed the caller must call
//!   [`retain_portable_params`]. `stop` is not mirrored: the top-level field reaches both kinds
//!   of backend, while Open WebUI re-escapes `params.stop` (`unicode_escape`), mangling non-ASCII.
//!
//! Never produces chat, session or parent ids, so Open WebUI stores nothing in the history.

use serde_json::{Map, Value};

use super::images::image_data;
use super::TranslateError;
use crate::ollama::{ChatRequest, GenerateRequest, Message, Options, Think, ToolCall};
use crate::openai::{
    ChatCompletionRequest, ChatMessage, Content, ImageUrl, OutFunction, OutToolCall, Part,
    StreamOptions,
};

/// `params` keys every backend understands; the rest of `params` is for Ollama backends only.
pub const PORTABLE_PARAMS: [&str; 6] = [
    "temperature",
    "top_p",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "max_tokens",
];

/// Runtime-only Ollama options: they tune the local runner, so they are never forwarded.
#[rustfmt::skip]
const RUNTIME_ONLY: [&str; 12] = [
    "num_batch", "num_gpu", "main_gpu", "use_mmap", "use_mlock", "num_thread", "numa", "low_vram",
    "f16_kv", "logits_all", "vocab_only", "embedding_only",
];

/// Keys Open WebUI (or the request itself) gives a meaning of its own; never taken from
/// `options` so a client cannot override a top-level field or an Open WebUI setting by accident.
#[rustfmt::skip]
const RESERVED: [&str; 17] = [
    "system", "stream_response", "stream_delta_chunk_size", "function_calling", "custom_params",
    "reasoning_tags", "format", "keep_alive", "think", "max_tokens", "max_completion_tokens",
    "response_format", "logit_bias", "reasoning_effort", "stream", "tools", "model",
];

/// Translates a chat request. `upstream_model` is the resolved Open WebUI model id.
pub fn chat_request(
    req: ChatRequest,
    upstream_model: String,
) -> Result<ChatCompletionRequest, TranslateError> {
    if req.messages.is_empty() {
        return Err(TranslateError::BadRequest(
            "messages are required".to_owned(),
        ));
    }
    let mut calls = PendingCalls::default();
    let messages = req
        .messages
        .into_iter()
        .map(|m| message(m, &mut calls))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = base(upstream_model, messages, req.stream, req.format, req.think)?;
    apply_options(&mut out, req.options);
    out.tools = (!req.tools.is_empty()).then_some(req.tools);
    Ok(out)
}

/// Translates a generate request into a chat: an optional system message from `system`, then
/// one user message from `prompt` and `images`. `raw`, `template` and `context` are ignored.
pub fn generate_request(
    req: GenerateRequest,
    upstream_model: String,
) -> Result<ChatCompletionRequest, TranslateError> {
    if req.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        let msg = format!("\"{upstream_model}\" does not support insert");
        return Err(TranslateError::Unsupported(msg));
    }
    if req.prompt.is_empty() && req.images.is_empty() {
        return Err(TranslateError::BadRequest("prompt is required".to_owned()));
    }
    let mut messages = Vec::with_capacity(2);
    if let Some(system) = req.system.filter(|s| !s.is_empty()) {
        messages.push(text_message("system", system));
    }
    let content = user_content(req.prompt, req.images)?;
    messages.push(ChatMessage {
        role: "user".to_owned(),
        content,
        ..ChatMessage::default()
    });
    let mut out = base(upstream_model, messages, req.stream, req.format, req.think)?;
    apply_options(&mut out, req.options);
    Ok(out)
}

/// Removes the Ollama-only keys from `params`, keeping [`PORTABLE_PARAMS`]. Call it for models
/// that Open WebUI does not own as `"ollama"`: it lifts every `params` key to the top level of
/// the backend request, and OpenAI answers 400 to arguments it does not know.
pub fn retain_portable_params(req: &mut ChatCompletionRequest) {
    req.params
        .retain(|k, _| PORTABLE_PARAMS.contains(&k.as_str()));
}

/// The request without options and tools.
fn base(
    model: String,
    messages: Vec<ChatMessage>,
    stream: Option<bool>,
    format: Option<Value>,
    think: Option<Think>,
) -> Result<ChatCompletionRequest, TranslateError> {
    let stream = stream.unwrap_or(true);
    let (response_format, json_mode) = response_format(format)?;
    let (reasoning_effort, think_off) = reasoning(think)?;
    let mut params = Map::new();
    if json_mode {
        params.insert("format".to_owned(), Value::from("json"));
    }
    if think_off {
        params.insert("think".to_owned(), Value::Bool(false));
    }
    Ok(ChatCompletionRequest {
        model,
        messages,
        stream,
        stream_options: stream.then_some(StreamOptions {
            include_usage: true,
        }),
        response_format,
        reasoning_effort,
        params,
        ..ChatCompletionRequest::default()
    })
}

fn text_message(role: &str, text: String) -> ChatMessage {
    ChatMessage {
        role: role.to_owned(),
        content: Content::Text(text),
        ..ChatMessage::default()
    }
}

/// One message. Images are kept on user messages only; `thinking` is dropped.
fn message(m: Message, calls: &mut PendingCalls) -> Result<ChatMessage, TranslateError> {
    let role = if m.role.bytes().any(|b| b.is_ascii_uppercase()) {
        m.role.to_ascii_lowercase()
    } else {
        m.role
    };
    let mut out = ChatMessage::default();
    match role.as_str() {
        "user" => out.content = user_content(m.content, m.images)?,
        "system" => out.content = Content::Text(m.content),
        "assistant" => {
            out.content = Content::Text(m.content);
            out.tool_calls = calls.made(m.tool_calls);
        }
        "tool" => {
            out.content = Content::Text(m.content);
            out.tool_call_id = calls.answer(m.tool_call_id, m.tool_name);
        }
        _ => return Err(TranslateError::BadRequest(format!("invalid role {role:?}"))),
    }
    out.role = role;
    Ok(out)
}

/// Text, or parts when images are attached: a text part only when the text is non-empty (an
/// image-only message is valid), then one image part per image.
fn user_content(text: String, images: Vec<String>) -> Result<Content, TranslateError> {
    if images.is_empty() {
        return Ok(Content::Text(text));
    }
    let mut parts = Vec::with_capacity(images.len() + 1);
    if !text.is_empty() {
        parts.push(Part::Text { text });
    }
    for image in images {
        parts.push(Part::ImageUrl {
            image_url: ImageUrl {
                url: image_data(image)?,
            },
        });
    }
    Ok(Content::Parts(parts))
}

/// Tool calls of the latest assistant turn, to give tool results without an id one.
#[derive(Debug, Default)]
struct PendingCalls {
    /// Calls generated so far, for `call_<n>` ids stable by position in the conversation.
    made: usize,
    /// (id, name, answered) of the latest assistant message that made calls.
    open: Vec<(String, String, bool)>,
}

impl PendingCalls {
    /// Assistant tool calls → upstream calls (arguments as JSON text).
    fn made(&mut self, tool_calls: Vec<ToolCall>) -> Option<Vec<OutToolCall>> {
        if tool_calls.is_empty() {
            return None;
        }
        self.open.clear();
        let out = tool_calls
            .into_iter()
            .map(|tc| {
                let id = tc
                    .id
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| format!("call_{}", self.made));
                self.made += 1;
                let name = tc.function.name;
                self.open.push((id.clone(), name.clone(), false));
                let arguments = arguments_text(tc.function.arguments);
                OutToolCall {
                    id,
                    kind: "function",
                    function: OutFunction { name, arguments },
                }
            })
            .collect();
        Some(out)
    }

    /// The call a tool result answers: its own `tool_call_id`, else the earliest unanswered call
    /// of the latest turn with the same `tool_name`, else the earliest unanswered one.
    fn answer(&mut self, id: Option<String>, name: Option<String>) -> Option<String> {
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            if let Some(call) = self.open.iter_mut().find(|c| c.0 == id) {
                call.2 = true;
            }
            return Some(id);
        }
        let by_name = name.and_then(|n| self.open.iter().position(|c| !c.2 && c.1 == n));
        let pos = by_name.or_else(|| self.open.iter().position(|c| !c.2))?;
        self.open[pos].2 = true;
        Some(self.open[pos].0.clone())
    }
}

/// Arguments as OpenAI wants them: JSON text. A string from the client is passed as is.
fn arguments_text(v: Value) -> String {
    match v {
        Value::String(s) if !s.trim().is_empty() => s,
        Value::String(_) | Value::Null => "{}".to_owned(),
        other => other.to_string(),
    }
}

/// `format` → (`response_format`, JSON mode). Invalid values are 400 with Ollama's text.
fn response_format(format: Option<Value>) -> Result<(Option<Value>, bool), TranslateError> {
    match format {
        None | Some(Value::Null) => Ok((None, false)),
        Some(Value::String(s)) if s.is_empty() => Ok((None, false)),
        Some(Value::String(s)) if s == "json" => {
            Ok((Some(object([("type", Value::from("json_object"))])), true))
        }
        Some(Value::Object(schema)) => {
            let strict = strict_compatible(&schema);
            let json_schema = object([
                ("name", Value::from("response")),
                ("schema", Value::Object(schema)),
                ("strict", Value::Bool(strict)),
            ]);
            let format = object([
                ("type", Value::from("json_schema")),
                ("json_schema", json_schema),
            ]);
            Ok((Some(format), false))
        }
        Some(other) => Err(TranslateError::BadRequest(format!(
            "invalid format: {:?}; expected \"json\" or a valid JSON Schema object",
            other.to_string()
        ))),
    }
}

fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// True when OpenAI's strict mode would accept the schema as is: the root is an object schema
/// and every object schema in it has `additionalProperties: false` and lists every property in
/// `required`. Otherwise `strict: false` is sent rather than rewriting the client's schema.
fn strict_compatible(root: &Map<String, Value>) -> bool {
    fn closed(m: &Map<String, Value>) -> bool {
        let props = m.get("properties").and_then(Value::as_object);
        let required: Vec<&str> = m
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        m.get("additionalProperties") == Some(&Value::Bool(false))
            && props.is_none_or(|p| p.keys().all(|k| required.contains(&k.as_str())))
    }
    fn all_closed(v: &Value) -> bool {
        match v {
            Value::Object(m) => (!is_object_schema(m) || closed(m)) && m.values().all(all_closed),
            Value::Array(items) => items.iter().all(all_closed),
            _ => true,
        }
    }
    is_object_schema(root) && root.values().all(all_closed) && closed(root)
}

fn is_object_schema(m: &Map<String, Value>) -> bool {
    let typed = match m.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        _ => false,
    };
    typed || m.contains_key("properties")
}

/// `think` → (`reasoning_effort`, thinking switched off). `true` and `false` send no effort:
/// the model's default applies, and the reply side drops thinking for `false`.
fn reasoning(think: Option<Think>) -> Result<(Option<String>, bool), TranslateError> {
    match think {
        None | Some(Think::Bool(true)) => Ok((None, false)),
        Some(Think::Bool(false)) => Ok((None, true)),
        Some(Think::Level(level)) => match level.as_str() {
            "low" | "medium" | "high" => Ok((Some(level), false)),
            "max" => Ok((Some("high".to_owned()), false)),
            _ => Err(TranslateError::BadRequest(format!(
                "invalid think value: {level:?} (must be \"high\", \"medium\", \"low\", \"max\", \
                 true, or false)"
            ))),
        },
    }
}

/// Fills the sampling fields and `params` from Ollama options (see the module docs).
fn apply_options(out: &mut ChatCompletionRequest, o: Options) {
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    out.max_tokens = finite(o.num_predict)
        .filter(|n| *n >= 1.0)
        .map(|n| n as u64);
    out.temperature = finite(o.temperature);
    out.top_p = finite(o.top_p);
    out.seed = finite(o.seed).map(|s| s as i64);
    out.stop = o.stop;
    out.presence_penalty = finite(o.presence_penalty);
    out.frequency_penalty = finite(o.frequency_penalty);

    let p = &mut out.params;
    let mut put = |key: &str, v: Option<f64>| {
        if let Some(v) = finite(v) {
            p.insert(key.to_owned(), number(v));
        }
    };
    put("temperature", out.temperature);
    put("top_p", out.top_p);
    put("presence_penalty", out.presence_penalty);
    put("frequency_penalty", out.frequency_penalty);
    put("top_k", o.top_k);
    put("min_p", o.min_p);
    put("repeat_penalty", o.repeat_penalty);
    put("num_ctx", o.num_ctx);
    if let Some(seed) = out.seed {
        p.insert("seed".to_owned(), Value::from(seed));
    }
    if let Some(n) = out.max_tokens {
        p.insert("max_tokens".to_owned(), Value::from(n));
    }
    for (key, value) in o.other {
        let scalar = matches!(value, Value::Number(_) | Value::String(_) | Value::Bool(_));
        let blocked = RUNTIME_ONLY.contains(&key.as_str()) || RESERVED.contains(&key.as_str());
        if scalar && !blocked {
            p.insert(key, value);
        }
    }
}

/// A JSON number, an integer when the value is integral (`2048`, not `2048.0`).
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
