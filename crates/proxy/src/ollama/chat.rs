//! `/api/chat` and `/api/generate` request and response types.

use super::{null_default, KeepAlive, Options, Think};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/chat` request body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatRequest {
    /// Model name as the client knows it.
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation.
    #[serde(default, deserialize_with = "null_default")]
    pub messages: Vec<Message>,
    /// Function tools (OpenAI shape); an empty list means none.
    #[serde(default, deserialize_with = "null_default")]
    pub tools: Vec<Value>,
    /// `"json"` or a JSON schema.
    #[serde(default)]
    pub format: Option<Value>,
    /// Sampling options.
    #[serde(default, deserialize_with = "null_default")]
    pub options: Options,
    /// Absent means `true`.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Accepted, never forwarded.
    #[serde(default)]
    pub keep_alive: Option<KeepAlive>,
    /// Reasoning switch or level.
    #[serde(default)]
    pub think: Option<Think>,
}

/// A chat message, in requests and responses.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    #[serde(default)]
    pub role: String,
    /// Text; always written, `""` when empty.
    #[serde(default, deserialize_with = "null_default")]
    pub content: String,
    /// Reasoning text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// Base64 images (or data URLs).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub images: Vec<String>,
    /// Tool calls made by the assistant.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tool_calls: Vec<ToolCall>,
    /// On `tool` messages: which tool produced the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// On `tool` messages: the id of the call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool call. Replies on native routes carry no `id` (some clients reject any second key).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ToolCall {
    /// Call id (accepted in requests, never written in native replies).
    #[serde(default, skip_serializing)]
    pub id: Option<String>,
    /// The function called.
    #[serde(default)]
    pub function: ToolCallFunction,
}

/// The function part of a tool call.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ToolCallFunction {
    /// Position of the call in its turn.
    #[serde(default)]
    pub index: usize,
    /// Function name.
    #[serde(default)]
    pub name: String,
    /// Arguments: a JSON object in replies; clients may send a string.
    #[serde(default)]
    pub arguments: Value,
}

/// `POST /api/generate` request body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GenerateRequest {
    /// Model name.
    #[serde(default)]
    pub model: Option<String>,
    /// The prompt; empty with no images is a load/unload request.
    #[serde(default, deserialize_with = "null_default")]
    pub prompt: String,
    /// Fill-in-the-middle suffix.
    #[serde(default)]
    pub suffix: Option<String>,
    /// System prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// Prompt template (cannot be honoured remotely; ignored).
    #[serde(default)]
    pub template: Option<String>,
    /// Token context from an earlier reply (ignored).
    #[serde(default)]
    pub context: Option<Value>,
    /// Raw mode (ignored: the server applies its own template).
    #[serde(default)]
    pub raw: Option<bool>,
    /// Base64 images.
    #[serde(default, deserialize_with = "null_default")]
    pub images: Vec<String>,
    /// `"json"` or a schema.
    #[serde(default)]
    pub format: Option<Value>,
    /// Sampling options.
    #[serde(default, deserialize_with = "null_default")]
    pub options: Options,
    /// Absent means `true`.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Accepted, never forwarded.
    #[serde(default)]
    pub keep_alive: Option<KeepAlive>,
    /// Reasoning switch or level.
    #[serde(default)]
    pub think: Option<Think>,
}

/// Timing and token counts written on a final line. Unknown values are left out, never `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Whole request, nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_duration: Option<u64>,
    /// Request receipt to first upstream byte, nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_duration: Option<u64>,
    /// Prompt tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_eval_count: Option<u64>,
    /// First upstream byte to first token, nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_eval_duration: Option<u64>,
    /// Generated tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_count: Option<u64>,
    /// First token to end, nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_duration: Option<u64>,
}

/// One `/api/chat` reply line (or the whole non-streamed reply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The model as the client sent it.
    pub model: String,
    /// RFC 3339, UTC, nanoseconds.
    pub created_at: String,
    /// Always present, role `assistant`.
    pub message: Message,
    /// True on the last line.
    pub done: bool,
    /// `stop`, `length`, `load`, `unload`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_reason: Option<String>,
    /// Counts and durations on the final line.
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// One `/api/generate` reply line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateResponse {
    /// The model as the client sent it.
    pub model: String,
    /// RFC 3339, UTC, nanoseconds.
    pub created_at: String,
    /// Text; always written.
    pub response: String,
    /// Reasoning text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// True on the last line.
    pub done: bool,
    /// `stop`, `length`, `load`, `unload`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_reason: Option<String>,
    /// Token context; the proxy has no token ids, so an empty list on final lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<u32>>,
    /// Counts and durations on the final line.
    #[serde(flatten)]
    pub metrics: Metrics,
}

impl From<ChatResponse> for GenerateResponse {
    fn from(c: ChatResponse) -> Self {
        GenerateResponse {
            model: c.model,
            created_at: c.created_at,
            response: c.message.content,
            thinking: c.message.thinking,
            done: c.done,
            context: c
                .done
                .then(Vec::new)
                .filter(|_| c.done_reason.as_deref() != Some("load")),
            done_reason: c.done_reason,
            metrics: c.metrics,
        }
    }
}
