//! Chat completion request, response and stream chunk types.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// `POST /api/chat/completions` body sent upstream. Never carries chat or session ids, so Open
/// WebUI stores nothing in the user's history.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChatCompletionRequest {
    /// Open WebUI model id.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Whether to stream SSE.
    pub stream: bool,
    /// `{"include_usage": true}` when streaming.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Token limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// `json_object` or `json_schema`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// Function tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// `none`, `low`, `medium`, `high`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Options Open WebUI maps per backend (into Ollama `options`, or top level for OpenAI).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
}

/// `stream_options`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StreamOptions {
    /// Ask for a final `usage` chunk.
    pub include_usage: bool,
}

/// One upstream message.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, `tool`.
    pub role: String,
    /// A string, or parts when images are attached.
    pub content: Content,
    /// Assistant tool calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<OutToolCall>>,
    /// On `tool` messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// Message content.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text and image parts.
    Parts(Vec<Part>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Text(String::new())
    }
}

/// A content part.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image as a data URL.
    ImageUrl {
        /// `{"url": "data:..."}`
        image_url: ImageUrl,
    },
}

/// `{"url": ...}` of an image part.
#[derive(Debug, Clone, Serialize)]
pub struct ImageUrl {
    /// The data URL.
    pub url: ImageData,
}

/// An image, serialized as a data URL without building the joined string in memory.
#[derive(Debug, Clone)]
pub enum ImageData {
    /// Already a `data:` URL; passed on as is.
    DataUrl(String),
    /// Raw base64 with its sniffed MIME type.
    Base64 {
        /// e.g. `image/png`.
        mime: &'static str,
        /// Base64 text (whitespace removed).
        data: String,
    },
}

impl fmt::Display for ImageData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageData::DataUrl(u) => f.write_str(u),
            ImageData::Base64 { mime, data } => {
                f.write_str("data:")?;
                f.write_str(mime)?;
                f.write_str(";base64,")?;
                f.write_str(data)
            }
        }
    }
}

impl Serialize for ImageData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A tool call sent upstream (arguments as a JSON string).
#[derive(Debug, Clone, Serialize)]
pub struct OutToolCall {
    /// Call id.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Name and arguments.
    pub function: OutFunction,
}

/// Function of an outgoing tool call.
#[derive(Debug, Clone, Serialize)]
pub struct OutFunction {
    /// Name.
    pub name: String,
    /// JSON text.
    pub arguments: String,
}

/// Token usage; OpenAI fields plus the Ollama ones Open WebUI adds for Ollama backends.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
pub struct Usage {
    /// Prompt tokens.
    #[serde(default, deserialize_with = "count")]
    pub prompt_tokens: Option<u64>,
    /// Completion tokens.
    #[serde(default, deserialize_with = "count")]
    pub completion_tokens: Option<u64>,
    /// Ollama: prompt tokens.
    #[serde(default, deserialize_with = "count")]
    pub prompt_eval_count: Option<u64>,
    /// Ollama: generated tokens.
    #[serde(default, deserialize_with = "count")]
    pub eval_count: Option<u64>,
}

/// A token count sent as an integer, a float (`8.0`), or `null`.
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }),
        _ => None,
    })
}

/// Non-streamed chat completion.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatCompletion {
    /// Choices; the first is used.
    #[serde(default, deserialize_with = "crate::ollama::null_default")]
    pub choices: Vec<Choice>,
    /// Usage.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// A non-streamed choice.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Choice {
    /// The answer.
    #[serde(default, deserialize_with = "crate::ollama::null_default")]
    pub message: Delta,
    /// Why it stopped.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// One SSE chunk.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatChunk {
    /// Usually one choice; `[]` on the usage chunk.
    #[serde(default, deserialize_with = "crate::ollama::null_default")]
    pub choices: Vec<ChunkChoice>,
    /// Usage, on the last chunk.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// An in-band error event.
    #[serde(default)]
    pub error: Option<Value>,
}

/// A streamed choice.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChunkChoice {
    /// The increment.
    #[serde(default, deserialize_with = "crate::ollama::null_default")]
    pub delta: Delta,
    /// Set on the last content chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A delta (streamed) or a whole message (non-streamed).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Delta {
    /// Text.
    #[serde(default)]
    pub content: Option<String>,
    /// Reasoning (most backends).
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// Reasoning (some backends).
    #[serde(default)]
    pub reasoning: Option<String>,
    /// Tool call fragments.
    #[serde(default, deserialize_with = "crate::ollama::null_default")]
    pub tool_calls: Vec<DeltaToolCall>,
}

/// A tool call fragment.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeltaToolCall {
    /// Which call this piece belongs to.
    #[serde(default)]
    pub index: Option<usize>,
    /// Id, on the first fragment.
    #[serde(default)]
    pub id: Option<String>,
    /// Name and argument piece.
    #[serde(default)]
    pub function: Option<DeltaFunction>,
}

/// Function part of a fragment.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeltaFunction {
    /// Name, on the first fragment.
    #[serde(default)]
    pub name: Option<String>,
    /// A piece of the JSON arguments (or a whole object from lenient backends).
    #[serde(default)]
    pub arguments: Option<Value>,
}
