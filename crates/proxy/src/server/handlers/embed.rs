//! `/api/embed` and the older `/api/embeddings`, through Open WebUI's OpenAI-shaped
//! embeddings endpoint, each answered in its own Ollama shape.

use super::resolve;
use crate::error::Error;
use crate::ollama::{EmbedRequest, EmbedResponse, EmbeddingsRequest, EmbeddingsResponse};
use crate::openai::{EmbeddingRequest, EmbeddingResponse};
use crate::server::body::{parse, RawBody};
use crate::server::ndjson::json;
use crate::server::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;
use std::time::Instant;

/// `POST /api/embed`: a string or a list in, unit-length vectors out.
pub async fn embed(State(s): State<AppState>, RawBody(body): RawBody) -> Result<Response, Error> {
    let started = Instant::now();
    let req: EmbedRequest = parse(&body)?;
    let model = req.model.unwrap_or_default();
    let id = upstream_id(&s, &model).await?;
    let input = inputs(req.input)?;
    let (embeddings, tokens) = if input.is_empty() {
        (Vec::new(), None)
    } else {
        let reply = call(&s, id, input, req.dimensions).await?;
        let tokens = reply.usage.and_then(|u| u.prompt_tokens);
        (vectors(reply).into_iter().map(normalized).collect(), tokens)
    };
    Ok(json(&EmbedResponse {
        model,
        embeddings,
        total_duration: Some(started.elapsed().as_nanos() as u64),
        load_duration: Some(0),
        prompt_eval_count: tokens,
    }))
}

/// `POST /api/embeddings`: one prompt, one vector.
pub async fn embeddings(
    State(s): State<AppState>,
    RawBody(body): RawBody,
) -> Result<Response, Error> {
    let req: EmbeddingsRequest = parse(&body)?;
    let model = super::required_model(req.model)?;
    let id = upstream_id(&s, &model).await?;
    if req.prompt.is_empty() {
        return Ok(json(&EmbeddingsResponse {
            embedding: Vec::new(),
        }));
    }
    let reply = call(&s, id, vec![req.prompt], None).await?;
    let embedding = vectors(reply).into_iter().next().unwrap_or_default();
    Ok(json(&EmbeddingsResponse { embedding }))
}

async fn upstream_id(s: &AppState, model: &str) -> Result<String, Error> {
    if model.trim().is_empty() {
        return Err(Error::EmbedModelNotFound(String::new()));
    }
    match resolve(s, model).await {
        Ok((set, i)) => Ok(set.models[i].id.clone()),
        Err(Error::ModelNotFound(m)) => Err(Error::EmbedModelNotFound(m)),
        Err(e) => Err(e),
    }
}

fn inputs(input: Option<Value>) -> Result<Vec<String>, Error> {
    match input {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(Error::BadRequest("invalid input type".into())),
            })
            .collect(),
        Some(_) => Err(Error::BadRequest("invalid input type".into())),
    }
}

async fn call(
    s: &AppState,
    model: String,
    input: Vec<String>,
    dimensions: Option<u32>,
) -> Result<EmbeddingResponse, Error> {
    let req = EmbeddingRequest {
        model,
        input,
        dimensions,
    };
    Ok(s.upstream.embeddings(&req).await?)
}

/// Vectors in input order.
fn vectors(mut reply: EmbeddingResponse) -> Vec<Vec<f64>> {
    reply.data.sort_by_key(|d| d.index.unwrap_or(usize::MAX));
    reply.data.into_iter().map(|d| d.embedding).collect()
}

/// Scales a vector to unit length, as Ollama's `/api/embed` returns them.
fn normalized(mut v: Vec<f64>) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_accept_string_list_and_empty() {
        assert_eq!(inputs(Some(Value::from("a"))).unwrap(), vec!["a"]);
        assert_eq!(
            inputs(Some(serde_json::json!(["a", "b"]))).unwrap(),
            vec!["a", "b"]
        );
        assert!(inputs(Some(Value::from(""))).unwrap().is_empty());
        assert!(inputs(None).unwrap().is_empty());
        assert!(inputs(Some(serde_json::json!([1]))).is_err());
        assert!(inputs(Some(serde_json::json!({"a": 1}))).is_err());
    }

    #[test]
    fn vectors_are_unit_length() {
        let v = normalized(vec![3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-12 && (v[1] - 0.8).abs() < 1e-12);
        assert_eq!(normalized(vec![0.0, 0.0]), vec![0.0, 0.0]);
    }
}
