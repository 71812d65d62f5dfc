//! `/api/embed` and `/api/embeddings` through Open WebUI's OpenAI-shaped `/api/embeddings`.

use crate::harness;
use serde_json::{json, Value};

fn close(a: &Value, want: &[f64]) -> bool {
    let a: Vec<f64> = a
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    a.len() == want.len() && a.iter().zip(want).all(|(x, y)| (x - y).abs() < 1e-9)
}

#[tokio::test]
async fn embed_accepts_a_string() {
    let h = harness().await;
    let r = h
        .post(
            "/api/embed",
            &json!({"model": "fake-embed", "input": "hello"}),
        )
        .await;
    r.assert_status(200);
    assert!(r.header("content-type").starts_with("application/json"));
    let v = r.json();
    assert_eq!(v["model"], "fake-embed");
    let e = v["embeddings"].as_array().unwrap();
    assert_eq!(e.len(), 1);
    assert!(close(&e[0], &[0.6, 0.8]), "unit length: {v}");
    assert_eq!(v["prompt_eval_count"], 1);
    assert!(v["total_duration"].is_u64(), "{v}");
    let sent = h.fake.requests_to("/api/embeddings").pop().unwrap().body;
    assert_eq!(sent, json!({"model": "fake-embed", "input": ["hello"]}));
}

#[tokio::test]
async fn embed_accepts_a_list_in_order() {
    let h = harness().await;
    let req = json!({"model": "fake-chat:latest", "input": ["hello", "world"], "truncate": true,
        "keep_alive": "5m", "options": {"num_ctx": 512}});
    let v = h.post("/api/embed", &req).await.json();
    assert_eq!(v["model"], "fake-chat:latest");
    let e = v["embeddings"].as_array().unwrap();
    assert_eq!(e.len(), 2);
    assert!(
        close(&e[0], &[0.6, 0.8]) && close(&e[1], &[0.0, 1.0]),
        "ordered by index: {v}"
    );
    assert_eq!(v["prompt_eval_count"], 2);
    let sent = h.fake.requests_to("/api/embeddings").pop().unwrap().body;
    assert_eq!(sent["model"], "fake-chat");
    assert_eq!(sent["input"], json!(["hello", "world"]));
}

#[tokio::test]
async fn embed_empty_input_needs_no_upstream() {
    let h = harness().await;
    for input in [json!(""), json!([]), Value::Null] {
        let mut req = json!({"model": "fake-embed"});
        if !input.is_null() {
            req["input"] = input;
        }
        let v = h.post("/api/embed", &req).await.json();
        assert_eq!(v["embeddings"], json!([]), "{v}");
    }
    assert_eq!(h.fake.count(&h.fake.embeddings), 0);
}

#[tokio::test]
async fn embed_errors() {
    let h = harness().await;
    let msg = h
        .post("/api/embed", &json!({"model": "nomic", "input": "x"}))
        .await
        .assert_error(404);
    assert_eq!(msg, "model \"nomic\" not found, try pulling it first");
    let msg = h
        .post(
            "/api/embed",
            &json!({"model": "fake-embed", "input": [1, 2]}),
        )
        .await
        .assert_error(400);
    assert_eq!(msg, "invalid input type");
    let msg = h
        .post(
            "/api/embed",
            &json!({"model": "fake-embed", "input": {"a": 1}}),
        )
        .await
        .assert_error(400);
    assert_eq!(msg, "invalid input type");
}

#[tokio::test]
async fn legacy_embeddings_take_one_prompt() {
    let h = harness().await;
    let r = h
        .post(
            "/api/embeddings",
            &json!({"model": "fake-embed", "prompt": "hello"}),
        )
        .await;
    r.assert_status(200);
    let v = r.json();
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    assert!(close(&v["embedding"], &[3.0, 4.0]), "not normalised: {v}");
    let v = h
        .post(
            "/api/embeddings",
            &json!({"model": "fake-embed", "prompt": ""}),
        )
        .await
        .json();
    assert_eq!(v, json!({"embedding": []}));
    assert_eq!(h.fake.count(&h.fake.embeddings), 1);
    let msg = h
        .post("/api/embeddings", &json!({"prompt": "x"}))
        .await
        .assert_error(400);
    assert_eq!(msg, "model is required");
    let msg = h
        .post("/api/embeddings", &json!({"model": "nomic", "prompt": "x"}))
        .await
        .assert_error(404);
    assert_eq!(msg, "model \"nomic\" not found, try pulling it first");
}
