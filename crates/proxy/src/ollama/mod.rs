//! Downstream wire types: the Ollama HTTP API as clients speak it.
//!
//! Lenient on input (every field optional, unknown fields ignored, numbers or strings where
//! clients send both), tidy on output (`skip_serializing_if`). Depends on serde alone; no I/O.

mod chat;
mod embed;
mod models;

pub use chat::*;
pub use embed::*;
pub use models::*;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `{"error": "..."}`, the body of every Ollama error.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// Human readable message.
    pub error: String,
}

/// Deserializes a field that may be JSON `null` as its default.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `think`: a bool or a level string (`"low"`, `"medium"`, `"high"`, `"max"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Think {
    /// `true` / `false`.
    Bool(bool),
    /// A reasoning level.
    Level(String),
}

/// `keep_alive`: a number of seconds or a Go duration string. Accepted and ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeepAlive {
    /// Seconds (fractions allowed, negative = forever).
    Seconds(f64),
    /// Duration text such as `"5m"`.
    Text(String),
}

impl KeepAlive {
    /// True when the value means "unload now" (`0`, `"0"`, `"0s"`).
    pub fn is_zero(&self) -> bool {
        match self {
            KeepAlive::Seconds(s) => *s == 0.0,
            KeepAlive::Text(t) => {
                let t = t.trim();
                !t.is_empty() && t.trim_end_matches(|c: char| c.is_ascii_alphabetic()) == "0"
            }
        }
    }
}

/// Sampling and runtime options. Known keys are typed leniently; the rest is kept raw.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Options {
    /// Max tokens to generate; `<= 0` means no limit.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub num_predict: Option<f64>,
    /// Sampling temperature.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub top_p: Option<f64>,
    /// Top-k sampling.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub top_k: Option<f64>,
    /// Min-p sampling.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub min_p: Option<f64>,
    /// Random seed.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub seed: Option<f64>,
    /// Stop sequences, a string or a list.
    #[serde(default, deserialize_with = "lenient_stop")]
    pub stop: Option<Vec<String>>,
    /// Presence penalty.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub frequency_penalty: Option<f64>,
    /// Repeat penalty (Ollama backends only).
    #[serde(default, deserialize_with = "lenient_f64")]
    pub repeat_penalty: Option<f64>,
    /// Context window (Ollama backends only).
    #[serde(default, deserialize_with = "lenient_f64")]
    pub num_ctx: Option<f64>,
    /// Every other option, passed on where Open WebUI accepts it.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// A number given as a JSON number, a numeric string, or `null`.
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    })
}

/// `stop` as a string, a list of strings (other items dropped), or `null`.
fn lenient_stop<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(vec![s]),
        Some(Value::Array(items)) => {
            let v: Vec<String> = items
                .into_iter()
                .filter_map(|i| match i {
                    Value::String(s) if !s.is_empty() => Some(s),
                    _ => None,
                })
                .collect();
            (!v.is_empty()).then_some(v)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_accept_strings_nulls_and_unknown_keys() {
        let o: Options = serde_json::from_str(
            r#"{"temperature":"0.5","top_p":null,"stop":"END","mirostat":1,"num_predict":-1}"#,
        )
        .unwrap();
        assert_eq!(o.temperature, Some(0.5));
        assert_eq!(o.top_p, None);
        assert_eq!(o.stop, Some(vec!["END".to_string()]));
        assert_eq!(o.num_predict, Some(-1.0));
        assert_eq!(o.other.get("mirostat"), Some(&Value::from(1)));
    }

    #[test]
    fn stop_list_drops_non_strings() {
        let o: Options = serde_json::from_str(r#"{"stop":["x",1,"y",""]}"#).unwrap();
        assert_eq!(o.stop, Some(vec!["x".into(), "y".into()]));
    }

    #[test]
    fn keep_alive_zero_forms() {
        for (json, zero) in [
            ("0", true),
            ("\"0\"", true),
            ("\"0s\"", true),
            ("300", false),
            ("\"5m\"", false),
            ("-1", false),
        ] {
            let k: KeepAlive = serde_json::from_str(json).unwrap();
            assert_eq!(k.is_zero(), zero, "{json}");
        }
    }
}
