//! What client libraries and server-side clients insist on (`clients.md` §4–§8, §10, §14):
//! Continue, ollama-js, ollama-python, Open WebUI as an Ollama client, the Vercel AI SDK and
//! LiteLLM.

use crate::{chat_req, harness, send};
use serde_json::{json, Value};

#[tokio::test]
async fn continue_calls() {
    let h = harness().await;
    // The model list body is JSON-parsed before the status is checked.
    let tags = h.get("/api/tags").await.json();
    assert!(tags["models"][0]["name"].is_string());
    // show {"name"}: `parameters` lines are `key value`, value quoted or one token.
    let show = h
        .post("/api/show", &json!({"name": "fake-chat"}))
        .await
        .json();
    let params = show["parameters"].as_str().unwrap();
    let mut num_ctx = None;
    for line in params.lines() {
        let (key, value) = line.split_once(char::is_whitespace).unwrap();
        let value = value.trim();
        let quoted = value.starts_with('"') && value.ends_with('"') && value.len() >= 2;
        assert!(
            quoted || !value.contains(char::is_whitespace),
            "parameters line {line:?}"
        );
        if key == "num_ctx" {
            num_ctx = value.parse::<u64>().ok();
        }
    }
    assert_eq!(num_ctx, Some(8192));
    assert!(
        !show["template"].as_str().unwrap().contains(".Suffix"),
        "no FIM offered"
    );
    // Chat: keep_alive 1800, its option set; lines parse, never role "tool".
    let req = json!({"model": "fake-chat", "keep_alive": 1800, "stream": true,
        "options": {"temperature": 0.5, "top_p": 0.9, "top_k": 40, "num_predict": 600,
            "stop": ["```"], "num_ctx": 8192, "mirostat": 0, "num_thread": 4, "use_mmap": true,
            "min_p": 0.05},
        "messages": [{"role": "user", "content": "hi"}]});
    for line in h.chat_lines(&req).await {
        assert!(line.get("error").is_none());
        assert_ne!(line["message"]["role"], "tool");
    }
    // With tools: stream false, arguments must be an object.
    let mut req = chat_req("fake-chat", "weather?");
    req["stream"] = false.into();
    req["tools"] =
        json!([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]);
    let v = h.post("/api/chat", &req).await.json();
    assert!(
        v["message"]["tool_calls"][0]["function"]["arguments"].is_object(),
        "{v}"
    );
    assert_ne!(v["message"]["role"], "tool");
    // Embeddings: a non-empty `embeddings`.
    let e = h
        .post(
            "/api/embed",
            &json!({"model": "fake-embed", "input": ["a"]}),
        )
        .await
        .json();
    assert!(!e["embeddings"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn ollama_js_contract() {
    let h = harness().await;
    // Streams end with done:true and no good line has an `error` key (even null).
    let r = h
        .post(
            "/api/chat",
            &json!({"model": "fake-chat", "stream": true,
        "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    let lines = r.lines();
    assert!(lines.iter().all(|l| l.get("error").is_none()));
    assert_eq!(lines.last().unwrap()["done"], true);
    let r = h
        .post(
            "/api/generate",
            &json!({"model": "fake-chat", "prompt": "hi", "stream": true}),
        )
        .await;
    assert_eq!(r.lines().last().unwrap()["done"], true);
    // stream:false (the library default): one JSON object.
    let v = h
        .post(
            "/api/chat",
            &json!({"model": "fake-chat", "stream": false,
        "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await
        .json();
    assert_eq!(v["done"], true);
    // Errors are application/json with `error`.
    let r = h.post("/api/chat", &chat_req("nope", "x")).await;
    r.assert_error(404);
    // GET routes carry Content-Type: application/json too.
    let r = send(
        h.http
            .get(h.url("/api/tags"))
            .header("content-type", "application/json"),
    )
    .await;
    r.assert_status(200);
}

#[tokio::test]
async fn ollama_python_contract() {
    let h = harness().await;
    // ShowResponse requires the `model_info` key.
    let show = h
        .post("/api/show", &json!({"model": "fake-chat"}))
        .await
        .json();
    assert!(show["model_info"].is_object());
    // ListResponse: `models` a list; entries read by `model`.
    let tags = h.get("/api/tags").await.json();
    assert!(tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["model"].is_string()));
    // ChatResponse: message.role on every line; created_at a string; tool args a mapping.
    let mut req = chat_req("fake-chat", "weather?");
    req["tools"] =
        json!([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]);
    req["options"] = json!({"temperature": 0});
    for line in h.chat_lines(&req).await {
        assert!(line["message"]["role"].is_string() && line["created_at"].is_string());
        for call in line["message"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert!(call["function"]["arguments"].is_object());
        }
    }
    // Embed: a list of lists of floats.
    let e = h
        .post(
            "/api/embed",
            &json!({"model": "fake-embed", "input": ["a", "b"]}),
        )
        .await
        .json();
    for v in e["embeddings"].as_array().unwrap() {
        assert!(v.as_array().unwrap().iter().all(Value::is_f64));
    }
    // delete/copy: only the status counts, and it is not 200.
    let r = send(
        h.http
            .delete(h.url("/api/delete"))
            .json(&json!({"model": "fake-chat"})),
    )
    .await;
    assert_ne!(r.status, 200);
}

#[tokio::test]
async fn open_webui_as_an_ollama_client() {
    let h = harness().await;
    let v = h.get("/api/version").await.json();
    let version = v["version"].as_str().unwrap().trim_start_matches('v');
    let numeric = version.split('-').next().unwrap();
    assert!(
        numeric.split('.').all(|p| p.parse::<u32>().is_ok()),
        "{version}"
    );
    let tags = h.get("/api/tags").await.json();
    assert!(tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["model"].is_string()));
    // Unload: {"model", "keep_alive": 0, "prompt": ""} must be 2xx without an upstream call.
    let r = h
        .post(
            "/api/generate",
            &json!({"model": "fake-chat", "keep_alive": 0, "prompt": ""}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.json()["done_reason"], "unload");
    assert_eq!(h.fake.count(&h.fake.chats), 0);
    // Done-line counts are numbers, never null.
    let lines = h.chat_lines(&chat_req("fake-chat", "hi")).await;
    let last = lines.last().unwrap();
    for (k, v) in last.as_object().unwrap() {
        assert!(!v.is_null(), "{k} is null: {last}");
    }
}

#[tokio::test]
async fn strict_typed_clients_vercel_ai_and_litellm() {
    let h = harness().await;
    // Vercel ai: think:false explicit; every line model, created_at, done, message.role,
    // message.content typed.
    let mut req = chat_req("fake-reason", "hi");
    req["think"] = false.into();
    for line in h.chat_lines(&req).await {
        crate::assert_chat_line(&line, "fake-reason");
    }
    // LiteLLM: no Content-Type, images [] and content "" on messages, show with `name`.
    let body = json!({"model": "fake-chat", "messages": [
        {"role": "system", "content": "", "images": []},
        {"role": "user", "content": "hi", "images": []}]});
    let r = h.post_raw("/api/chat", body.to_string()).await;
    r.assert_status(200);
    h.post_raw("/api/show", r#"{"name": "fake-chat"}"#)
        .await
        .assert_status(200);
}
