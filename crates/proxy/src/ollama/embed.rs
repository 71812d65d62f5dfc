//! `/api/embed` and the older `/api/embeddings`.

use super::{null_default, KeepAlive, Options};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/embed` request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EmbedRequest {
    /// Model name.
    #[serde(default)]
    pub model: Option<String>,
    /// A string or a list of strings.
    #[serde(default)]
    pub input: Option<Value>,
    /// Cut vectors to this many values.
    #[serde(default)]
    pub dimensions: Option<u32>,
    /// Accepted, ignored.
    #[serde(default)]
    pub truncate: Option<bool>,
    /// Accepted, ignored.
    #[serde(default, deserialize_with = "null_default")]
    pub options: Options,
    /// Accepted, ignored.
    #[serde(default)]
    pub keep_alive: Option<KeepAlive>,
}

/// `POST /api/embed` reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmbedResponse {
    /// The model as sent.
    pub model: String,
    /// One vector per input.
    pub embeddings: Vec<Vec<f64>>,
    /// Wall time, nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_duration: Option<u64>,
    /// Always 0 here; kept for shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_duration: Option<u64>,
    /// Input tokens when the server reports them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_eval_count: Option<u64>,
}

/// `POST /api/embeddings` (legacy) request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EmbeddingsRequest {
    /// Model name.
    #[serde(default)]
    pub model: Option<String>,
    /// The text.
    #[serde(default, deserialize_with = "null_default")]
    pub prompt: String,
    /// Accepted, ignored.
    #[serde(default, deserialize_with = "null_default")]
    pub options: Options,
    /// Accepted, ignored.
    #[serde(default)]
    pub keep_alive: Option<KeepAlive>,
}

/// `POST /api/embeddings` reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmbeddingsResponse {
    /// One vector.
    pub embedding: Vec<f64>,
}
