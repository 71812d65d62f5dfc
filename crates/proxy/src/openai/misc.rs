//! Models, embeddings, sign-in and error bodies.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `GET /api/models` reply: `{"data": [...]}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelList {
    /// Models.
    #[serde(default, deserialize_with = "crate::ollama::null_default")]
    pub data: Vec<Model>,
}

/// One model as Open WebUI lists it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Model {
    /// The id to call it by.
    #[serde(default)]
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// `openai`, `ollama`, ...
    #[serde(default)]
    pub owned_by: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    /// The raw `/api/tags` entry for Ollama-backed models.
    #[serde(default)]
    pub ollama: Option<OllamaMeta>,
    /// Admin-edited metadata.
    #[serde(default)]
    pub info: Option<Info>,
    /// A preset on top of another model.
    #[serde(default)]
    pub preset: Option<bool>,
    /// A pipe function.
    #[serde(default)]
    pub pipe: Option<Value>,
}

/// Ollama sub-object.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct OllamaMeta {
    /// RFC 3339.
    #[serde(default)]
    pub modified_at: Option<String>,
    /// Bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Hex digest.
    #[serde(default)]
    pub digest: Option<String>,
    /// Details.
    #[serde(default)]
    pub details: Option<OllamaDetails>,
}

/// Ollama details (all optional here).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct OllamaDetails {
    /// Parent.
    #[serde(default)]
    pub parent_model: Option<String>,
    /// Format.
    #[serde(default)]
    pub format: Option<String>,
    /// Family.
    #[serde(default)]
    pub family: Option<String>,
    /// Families.
    #[serde(default)]
    pub families: Option<Vec<String>>,
    /// Size.
    #[serde(default)]
    pub parameter_size: Option<String>,
    /// Quantization.
    #[serde(default)]
    pub quantization_level: Option<String>,
}

/// `info` of an admin-edited model.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Info {
    /// Base model of a preset.
    #[serde(default)]
    pub base_model_id: Option<String>,
    /// Metadata.
    #[serde(default)]
    pub meta: Option<Meta>,
    /// Model defaults (may hold `num_ctx`).
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
}

/// `info.meta`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Meta {
    /// `{"vision": true, ...}`.
    #[serde(default)]
    pub capabilities: Option<Map<String, Value>>,
    /// Hidden from the list.
    #[serde(default)]
    pub hidden: Option<bool>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/embeddings` body.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddingRequest {
    /// Model id.
    pub model: String,
    /// Inputs.
    pub input: Vec<String>,
    /// Output size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
}

/// Embeddings reply.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EmbeddingResponse {
    /// Vectors.
    #[serde(default)]
    pub data: Vec<EmbeddingData>,
    /// Usage.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One vector.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EmbeddingData {
    /// Position.
    #[serde(default)]
    pub index: Option<usize>,
    /// Values.
    #[serde(default)]
    pub embedding: Vec<f64>,
}

use super::Usage;

/// `POST /api/v1/auths/signin` reply (and `GET /api/v1/auths/`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SigninResponse {
    /// Session JWT; absent when a second factor is required.
    #[serde(default)]
    pub token: Option<String>,
    /// Unix seconds, or null when it never expires.
    #[serde(default)]
    pub expires_at: Option<f64>,
    /// `admin`, `user`, `pending`.
    #[serde(default)]
    pub role: Option<String>,
    /// Account email.
    #[serde(default)]
    pub email: Option<String>,
    /// Account id.
    #[serde(default)]
    pub id: Option<String>,
    /// Set when MFA is required.
    #[serde(default)]
    pub next_step: Option<Value>,
}

/// `GET /api/config` (no auth): what the server offers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ServerConfig {
    /// Open WebUI version.
    #[serde(default)]
    pub version: Option<String>,
    /// Server name.
    #[serde(default)]
    pub name: Option<String>,
    /// Features.
    #[serde(default)]
    pub features: Option<Map<String, Value>>,
}

/// Pulls a short message out of any upstream error body: `{"detail": "..."}`,
/// `{"detail": [{"msg": ...}]}`, `{"detail": {"message": ...}}`, `{"error": {"message": ...}}`,
/// `{"error": "..."}`, or short plain text.
pub fn error_message(body: &[u8]) -> Option<String> {
    fn from_value(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Array(items) => {
                let msgs: Vec<String> = items.iter().filter_map(from_value).collect();
                (!msgs.is_empty()).then(|| msgs.join("; "))
            }
            Value::Object(o) => ["message", "msg", "detail", "error"]
                .iter()
                .find_map(|k| o.get(*k).and_then(from_value)),
            _ => None,
        }
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => ["detail", "error", "message"]
            .iter()
            .find_map(|k| o.get(*k).and_then(from_value)),
        Ok(_) => None,
        Err(_) => {
            let text = std::str::from_utf8(body).ok()?.trim();
            let looks_html = text.starts_with('<');
            (!text.is_empty() && !looks_html).then(|| text.chars().take(200).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_shapes() {
        let cases: [(&str, Option<&str>); 7] = [
            (r#"{"detail":"Model not found"}"#, Some("Model not found")),
            (
                r#"{"detail":[{"type":"json_invalid","msg":"bad json"}]}"#,
                Some("bad json"),
            ),
            (r#"{"detail":{"message":"wrapped"}}"#, Some("wrapped")),
            (
                r#"{"error":{"message":"boom","type":"server_error"}}"#,
                Some("boom"),
            ),
            (r#"{"error":"plain"}"#, Some("plain")),
            ("Internal Server Error", Some("Internal Server Error")),
            ("<!doctype html><html>", None),
        ];
        for (body, want) in cases {
            assert_eq!(error_message(body.as_bytes()).as_deref(), want, "{body}");
        }
    }
}
