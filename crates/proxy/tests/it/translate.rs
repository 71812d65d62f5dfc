//! What an Ollama chat request becomes at Open WebUI: sampling options at the top level and
//! in `params`, `format` as `response_format`, images as data URLs, tool calls and results
//! both ways, `think` as `reasoning_effort`.

use crate::{assert_chat_line, assert_final, chat_req, harness};
use base64::Engine as _;
use serde_json::{json, Value};

#[tokio::test]
async fn defect_32_options_map_to_openai_fields() {
    let h = harness().await;
    let mut req = chat_req("fake-chat", "hi");
    req["stream"] = false.into();
    req["options"] = json!({"temperature": 0.2, "top_p": "0.9", "seed": 42, "stop": "END",
        "num_predict": 50, "presence_penalty": 0.5, "frequency_penalty": 0.25,
        "top_k": 40, "num_ctx": 4096, "num_thread": 8});
    h.post("/api/chat", &req).await.assert_status(200);
    let sent = h.fake.last_chat();
    assert_eq!(sent["temperature"], 0.2);
    assert_eq!(sent["top_p"], 0.9);
    assert_eq!(sent["seed"], 42);
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(sent["presence_penalty"], 0.5);
    assert_eq!(sent["frequency_penalty"], 0.25);
    // An OpenAI-type model gets only the portable params (OpenAI refuses unknown arguments).
    let params = sent["params"].as_object().cloned().unwrap_or_default();
    for k in ["top_k", "num_ctx", "num_thread", "stop"] {
        assert!(
            !params.contains_key(k),
            "{k} in params of an OpenAI model: {sent}"
        );
        assert!(
            sent.get(k).is_none() || k == "stop",
            "{k} at top level: {sent}"
        );
    }
    h.fake.assert_no_history_fields();
}

#[tokio::test]
async fn ollama_backed_models_get_ollama_options_in_params() {
    let h = harness().await;
    let mut req = chat_req("fake-ollama", "hi");
    req["options"] = json!({"temperature": 0.4, "top_k": 40, "num_ctx": 4096, "min_p": 0.05,
        "repeat_penalty": 1.1, "num_predict": 128, "seed": 7, "stop": ["a", "b"],
        "num_thread": 8, "use_mmap": true, "num_gpu": 1});
    h.chat_lines(&req).await;
    let sent = h.fake.last_chat();
    assert_eq!(sent["model"], "fake-ollama:latest");
    assert_eq!(sent["stop"], json!(["a", "b"]));
    let p = &sent["params"];
    assert_eq!(p["top_k"], 40, "{sent}");
    assert_eq!(p["num_ctx"], 4096, "{sent}");
    assert_eq!(p["min_p"], 0.05, "{sent}");
    assert_eq!(p["repeat_penalty"], 1.1, "{sent}");
    assert_eq!(p["temperature"], 0.4, "{sent}");
    assert_eq!(p["seed"], 7, "{sent}");
    assert_eq!(p["max_tokens"], 128, "{sent}");
    for k in ["num_thread", "use_mmap", "num_gpu"] {
        assert!(
            p.get(k).is_none(),
            "runtime-only option {k} forwarded: {sent}"
        );
    }
}

#[tokio::test]
async fn defect_31_non_positive_num_predict_sends_no_max_tokens() {
    let h = harness().await;
    for n in [json!(-1), json!(-2), json!(0), json!("-1")] {
        let mut req = chat_req("fake-ollama", "hi");
        req["options"] = json!({ "num_predict": n });
        h.chat_lines(&req).await;
        let sent = h.fake.last_chat();
        assert!(sent.get("max_tokens").is_none(), "num_predict {n}: {sent}");
        assert!(
            sent["params"].get("max_tokens").is_none(),
            "num_predict {n}: {sent}"
        );
    }
}

#[tokio::test]
async fn defect_29_format_maps_to_response_format() {
    let h = harness().await;
    let mut req = chat_req("fake-chat", "hi");
    req["format"] = "json".into();
    h.chat_lines(&req).await;
    assert_eq!(
        h.fake.last_chat()["response_format"],
        json!({"type": "json_object"})
    );

    let open = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    req["format"] = open.clone();
    h.chat_lines(&req).await;
    let want = json!({"type": "json_schema",
        "json_schema": {"name": "response", "schema": open, "strict": false}});
    assert_eq!(h.fake.last_chat()["response_format"], want);

    let closed = json!({"type": "object", "properties": {"a": {"type": "string"}},
        "required": ["a"], "additionalProperties": false});
    req["format"] = closed.clone();
    h.chat_lines(&req).await;
    let want = json!({"type": "json_schema",
        "json_schema": {"name": "response", "schema": closed, "strict": true}});
    assert_eq!(h.fake.last_chat()["response_format"], want);

    for bad in [json!(5), json!("yaml")] {
        req["format"] = bad.clone();
        let msg = h.post("/api/chat", &req).await.assert_error(400);
        assert!(msg.contains("invalid format"), "{bad}: {msg}");
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn defect_33_34_images_become_data_urls_with_sniffed_mime() {
    let h = harness().await;
    let png = b64(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01");
    let jpeg = b64(b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01");
    let gif = b64(b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0");
    let webp = b64(b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0");
    let unknown = b64(b"just some bytes here");
    let data_url = format!("data:image/png;base64,{png}");
    let req = json!({"model": "fake-vision", "messages": [
        {"role": "user", "content": "what is this?",
         "images": [png, jpeg, gif, webp, unknown, data_url]},
        {"role": "assistant", "content": "a picture"},
        {"role": "user", "content": "", "images": [png]},
    ]});
    h.chat_lines(&req).await;
    let sent = h.fake.last_chat();
    let url = |mime: &str, data: &str| json!({"type": "image_url", "image_url": {"url": format!("data:{mime};base64,{data}")}});
    let want = json!([
        {"type": "text", "text": "what is this?"},
        url("image/png", &png), url("image/jpeg", &jpeg), url("image/gif", &gif),
        url("image/webp", &webp), url("image/jpeg", &unknown), url("image/png", &png),
    ]);
    assert_eq!(sent["messages"][0]["content"], want);
    assert_eq!(sent["messages"][1]["content"], "a picture");
    // Empty text with an image: no `{"type":"text"}` part at all.
    assert_eq!(
        sent["messages"][2]["content"],
        json!([url("image/png", &png)])
    );
}

#[tokio::test]
async fn defect_34_invalid_base64_is_400() {
    let h = harness().await;
    let req = json!({"model": "fake-vision", "messages": [
        {"role": "user", "content": "x", "images": ["not base64!"]}]});
    let msg = h.post("/api/chat", &req).await.assert_error(400);
    assert!(msg.contains("image"), "{msg}");
    assert_eq!(h.fake.count(&h.fake.chats), 0);
}

#[tokio::test]
async fn defect_35_images_only_on_user_messages_and_roles_checked() {
    let h = harness().await;
    let png = b64(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01");
    let req = json!({"model": "fake-vision", "messages": [
        {"role": "system", "content": "be brief", "images": [png]},
        {"role": "assistant", "content": "earlier", "images": [png]},
        {"role": "user", "content": "now"}]});
    h.chat_lines(&req).await;
    let sent = h.fake.last_chat();
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(
        sent["messages"][1],
        json!({"role": "assistant", "content": "earlier"})
    );

    let bad = json!({"model": "fake-chat", "messages": [{"role": "robot", "content": "x"}]});
    let msg = h.post("/api/chat", &bad).await.assert_error(400);
    assert!(msg.contains("role"), "{msg}");
}

#[tokio::test]
async fn system_and_history_pass_in_order() {
    let h = harness().await;
    let req = json!({"model": "fake-chat", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "1", "thinking": "counting"},
        {"role": "User", "content": "two"}]});
    h.chat_lines(&req).await;
    let want = json!([
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "1"},
        {"role": "user", "content": "two"}]);
    assert_eq!(h.fake.last_chat()["messages"], want);
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "weather",
        "parameters": {"type": "object", "required": ["city"],
            "properties": {"city": {"type": "string"}}}}})
}

#[tokio::test]
async fn defect_25_streamed_tool_call_fragments_arrive_whole() {
    let h = harness().await;
    let mut req = chat_req("fake-chat", "weather in Tokyo?");
    req["tools"] = json!([weather_tool()]);
    let lines = h.chat_lines(&req).await;
    assert_eq!(h.fake.last_chat()["tools"], json!([weather_tool()]));
    let calls: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"].get("tool_calls").is_some())
        .collect();
    assert_eq!(calls.len(), 1, "{lines:?}");
    let line = calls[0];
    assert_chat_line(line, "fake-chat");
    assert_eq!(line["done"], false);
    assert_eq!(line["message"]["content"], "");
    assert_eq!(
        line["message"]["tool_calls"],
        json!([{"function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}}])
    );
    let last = lines.last().unwrap();
    assert_final(last, "stop", 1);
    assert!(last["message"].get("tool_calls").is_none(), "{last}");
}

#[tokio::test]
async fn tool_calls_in_a_non_streamed_reply() {
    let h = harness().await;
    let mut req = chat_req("fake-chat", "weather in Tokyo?");
    req["tools"] = json!([weather_tool()]);
    req["stream"] = false.into();
    let v = h.post("/api/chat", &req).await.json();
    assert_chat_line(&v, "fake-chat");
    assert_eq!(v["done_reason"], "stop");
    assert_eq!(
        v["message"]["tool_calls"],
        json!([{"function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}}])
    );
}

#[tokio::test]
async fn defect_25_tool_results_are_paired_with_calls() {
    let h = harness().await;
    let call =
        |name: &str, city: &str| json!({"function": {"name": name, "arguments": {"city": city}}});
    let req = json!({"model": "fake-chat", "tools": [weather_tool()], "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [call("get_weather", "Tokyo"),
            call("get_weather", "Paris")]},
        {"role": "tool", "content": "sunny"},
        {"role": "tool", "content": "rainy"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_abc", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]},
        {"role": "tool", "content": "windy", "tool_call_id": "call_abc"},
        {"role": "assistant", "content": "", "tool_calls": [call("get_time", "Oslo")]},
        {"role": "tool", "content": "noon", "tool_name": "get_time"},
    ]});
    h.chat_lines(&req).await;
    let m = h.fake.last_chat()["messages"].clone();
    let out_call = |id: &str, name: &str, city: &str| {
        json!({"id": id, "type": "function", "function": {"name": name,
            "arguments": json!({"city": city}).to_string()}})
    };
    assert_eq!(
        m[1]["tool_calls"],
        json!([
            out_call("call_0", "get_weather", "Tokyo"),
            out_call("call_1", "get_weather", "Paris")
        ])
    );
    assert_eq!(
        m[2],
        json!({"role": "tool", "content": "sunny", "tool_call_id": "call_0"})
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "content": "rainy", "tool_call_id": "call_1"})
    );
    assert_eq!(
        m[4]["tool_calls"],
        json!([out_call("call_abc", "get_weather", "Rome")])
    );
    assert_eq!(m[5]["tool_call_id"], "call_abc");
    let id = m[6]["tool_calls"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(m[7]["tool_call_id"], id.as_str());
    for msg in m.as_array().unwrap() {
        assert!(msg.get("tool_name").is_none(), "{msg}");
    }
}

#[tokio::test]
async fn think_levels_become_reasoning_effort() {
    let h = harness().await;
    let cases = [
        (json!("low"), Some("low")),
        (json!("medium"), Some("medium")),
        (json!("high"), Some("high")),
        (json!("max"), Some("high")),
        (json!(true), None),
        (json!(false), None),
    ];
    for (think, want) in cases {
        let mut req = chat_req("fake-reason", "hi");
        req["think"] = think.clone();
        h.chat_lines(&req).await;
        let sent = h.fake.last_chat();
        assert_eq!(
            sent.get("reasoning_effort").and_then(Value::as_str),
            want,
            "{think}: {sent}"
        );
    }
    let mut req = chat_req("fake-reason", "hi");
    req["think"] = "extreme".into();
    let msg = h.post("/api/chat", &req).await.assert_error(400);
    assert!(msg.contains("invalid think value"), "{msg}");
}
