//! `POST /api/generate`: a chat with one user message (plus `system`), answered in generate's
//! shape; load and unload replies without an upstream call; `suffix` refused.

use crate::{assert_created_at, assert_final, assert_generate_line, harness};
use serde_json::{json, Value};

fn response_of(lines: &[Value]) -> String {
    lines
        .iter()
        .filter_map(|l| l["response"].as_str())
        .collect()
}

#[tokio::test]
async fn generate_streams_response_lines() {
    let h = harness().await;
    let r = h
        .post(
            "/api/generate",
            &json!({"model": "fake-chat", "prompt": "Why blue?",
            "system": "be brief", "options": {"temperature": 0.1}}),
        )
        .await;
    r.assert_status(200);
    r.assert_ndjson();
    let lines = r.lines();
    for line in &lines {
        assert_generate_line(line, "fake-chat");
    }
    let (last, body) = lines.split_last().unwrap();
    assert!(
        body.iter()
            .all(|l| l["done"] == false && l["response"] != ""),
        "{lines:?}"
    );
    assert_final(last, "stop", 3);
    assert_eq!(last["response"], "");
    assert_eq!(response_of(&lines), "echo: Why blue?");
    let sent = h.fake.last_chat();
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "Why blue?"}])
    );
    assert_eq!(sent["temperature"], 0.1);
    assert_eq!(sent["stream_options"]["include_usage"], true);
    h.fake.assert_no_history_fields();
}

#[tokio::test]
async fn generate_stream_false_is_one_object() {
    let h = harness().await;
    let r = h
        .post(
            "/api/generate",
            &json!({"model": "fake-chat", "prompt": "hi", "stream": false}),
        )
        .await;
    r.assert_status(200);
    assert!(r.header("content-type").starts_with("application/json"));
    let v = r.json();
    assert_generate_line(&v, "fake-chat");
    assert_eq!(v["response"], "echo: hi");
    assert_final(&v, "stop", 2);
}

#[tokio::test]
async fn defect_36_empty_prompt_is_a_load_reply() {
    let h = harness().await;
    let cases = [
        (json!({"model": "fake-chat"}), "load"),
        (json!({"model": "fake-chat", "prompt": ""}), "load"),
        (
            json!({"model": "fake-chat", "prompt": "", "stream": true}),
            "load",
        ),
        (json!({"model": "fake-chat", "keep_alive": 0}), "unload"),
        (
            json!({"model": "fake-chat", "prompt": "", "keep_alive": 0}),
            "unload",
        ),
        (json!({"model": "fake-chat", "keep_alive": "0"}), "unload"),
        (json!({"model": "fake-chat", "keep_alive": "10m"}), "load"),
    ];
    for (req, reason) in cases {
        let r = h.post("/api/generate", &req).await;
        r.assert_status(200);
        let v = r.json();
        assert_eq!(v["model"], "fake-chat");
        assert_created_at(&v["created_at"]);
        assert_eq!(v["response"], "", "{v}");
        assert_eq!(v["done"], true, "{v}");
        assert_eq!(v["done_reason"], reason, "{req}: {v}");
        assert!(v.get("error").is_none());
    }
    assert_eq!(h.fake.count(&h.fake.chats), 0);
}

#[tokio::test]
async fn defect_37_suffix_is_refused() {
    let h = harness().await;
    let req = json!({"model": "fake-chat", "prompt": "def f(", "suffix": "return x"});
    let msg = h.post("/api/generate", &req).await.assert_error(400);
    assert!(msg.contains("does not support insert"), "{msg}");
    // raw and template are ignored, not refused; an empty suffix is no suffix.
    let req = json!({"model": "fake-chat", "prompt": "hi", "suffix": "", "raw": true,
        "template": "{{ .Prompt }}", "context": [1, 2, 3], "stream": false});
    let v = h.post("/api/generate", &req).await.json();
    assert_eq!(v["response"], "echo: hi");
    assert_eq!(h.fake.count(&h.fake.chats), 1);
}

#[tokio::test]
async fn generate_model_errors() {
    let h = harness().await;
    let msg = h
        .post("/api/generate", &json!({"prompt": "hi"}))
        .await
        .assert_error(404);
    assert_eq!(msg, "model '' not found");
    let msg = h
        .post("/api/generate", &json!({"model": "llama9", "prompt": "hi"}))
        .await
        .assert_error(404);
    assert_eq!(msg, "model 'llama9' not found");
}

#[tokio::test]
async fn generate_thinking_and_think_false() {
    let h = harness().await;
    let r = h
        .post(
            "/api/generate",
            &json!({"model": "fake-reason", "prompt": "hi"}),
        )
        .await;
    let lines = r.lines();
    let thinking: String = lines
        .iter()
        .filter_map(|l| l["thinking"].as_str())
        .collect();
    assert_eq!(thinking, "thinking about it");
    assert_eq!(response_of(&lines), "echo: hi");
    for l in &lines {
        assert_generate_line(l, "fake-reason");
    }
    let req = json!({"model": "fake-reason", "prompt": "hi", "think": false, "stream": false});
    let v = h.post("/api/generate", &req).await.json();
    assert!(v.get("thinking").is_none(), "{v}");
    let req = json!({"model": "fake-reason", "prompt": "hi", "think": "low", "stream": false});
    h.post("/api/generate", &req).await.assert_status(200);
    assert_eq!(h.fake.last_chat()["reasoning_effort"], "low");
}

#[tokio::test]
async fn generate_images_and_format() {
    let h = harness().await;
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let req = json!({"model": "fake-vision", "prompt": "describe", "images": [png],
        "format": "json", "stream": false, "options": {"stop": "\n\n", "num_predict": -1}});
    h.post("/api/generate", &req).await.assert_status(200);
    let sent = h.fake.last_chat();
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "describe"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}}]}])
    );
    assert_eq!(sent["response_format"], json!({"type": "json_object"}));
    assert_eq!(sent["stop"], json!(["\n\n"]));
    assert!(sent.get("max_tokens").is_none());
}
