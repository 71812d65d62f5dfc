//! `/api/tags`, `/api/show`, `/api/ps`, `/api/version`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The six-key `details` object; every key always written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelDetails {
    /// Usually `""`.
    pub parent_model: String,
    /// `gguf` or what the server says.
    pub format: String,
    /// Model family.
    pub family: String,
    /// Families; includes `clip` for image-capable models.
    pub families: Vec<String>,
    /// e.g. `7B`, or `""`.
    pub parameter_size: String,
    /// e.g. `Q4_K_M`, or `""`.
    pub quantization_level: String,
}

/// One `/api/tags` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListModel {
    /// Display name, sent back as `model`.
    pub name: String,
    /// Same as `name`.
    pub model: String,
    /// RFC 3339 with zone.
    pub modified_at: String,
    /// Bytes, integer.
    pub size: u64,
    /// 64 lowercase hex.
    pub digest: String,
    /// Details.
    pub details: ModelDetails,
}

/// `GET /api/tags` reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListResponse {
    /// Never `null`.
    pub models: Vec<ListModel>,
}

/// `POST /api/show` request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ShowRequest {
    /// Model name (wins over `name`).
    #[serde(default)]
    pub model: Option<String>,
    /// Older alias.
    #[serde(default)]
    pub name: Option<String>,
    /// Accepted, ignored.
    #[serde(default)]
    pub verbose: Option<bool>,
}

/// `POST /api/show` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowResponse {
    /// Always a string.
    pub license: String,
    /// Always a string.
    pub modelfile: String,
    /// `key value` lines.
    pub parameters: String,
    /// Always a string.
    pub template: String,
    /// Default system prompt.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub system: String,
    /// Same as in tags.
    pub details: ModelDetails,
    /// Always present.
    pub model_info: Map<String, Value>,
    /// `completion`, `vision`, `tools`, `thinking`, `embedding`.
    pub capabilities: Vec<String>,
    /// RFC 3339.
    pub modified_at: String,
}

/// One `/api/ps` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessModel {
    /// Display name.
    pub name: String,
    /// Same.
    pub model: String,
    /// Bytes (0: nothing is loaded here).
    pub size: u64,
    /// Hex digest.
    pub digest: String,
    /// Details.
    pub details: ModelDetails,
    /// RFC 3339.
    pub expires_at: String,
    /// Always 0.
    pub size_vram: u64,
    /// Context length.
    pub context_length: u64,
}

/// `GET /api/ps` reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessResponse {
    /// Recently used models.
    pub models: Vec<ProcessModel>,
}

/// `GET /api/version` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionResponse {
    /// Dotted numbers.
    pub version: String,
}
