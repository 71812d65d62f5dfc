//! `POST /api/chat` replies: NDJSON streams and single JSON objects, reasoning as thinking,
//! `done_reason` and metrics, load replies, lenient input, model-name mapping. What the
//! request becomes upstream in detail (options, formats, images, tools) is in `translate.rs`.

use crate::{
    assert_chat_line, assert_final, chat_req, content_of, harness, password_creds, Harness,
};
use serde_json::json;

const QUESTION: &str = "Why is the sky blue?";
/// The fake answers `echo:` plus one piece per word: 6 pieces for [`QUESTION`].
const ANSWER: &str = "echo: Why is the sky blue?";

#[tokio::test]
async fn chat_streams_ndjson_by_default() {
    let h = harness().await;
    let lines = h.chat_lines(&chat_req("fake-chat", QUESTION)).await;
    assert!(lines.len() >= 2, "{lines:?}");
    let (last, body) = lines.split_last().unwrap();
    for line in body {
        let m = assert_chat_line(line, "fake-chat");
        assert_eq!(line["done"], false, "{line}");
        assert!(line.get("done_reason").is_none(), "{line}");
        assert!(
            line.get("total_duration").is_none(),
            "metrics only on the final line: {line}"
        );
        assert!(
            !m["content"].as_str().unwrap().is_empty(),
            "defect 38: empty line {line}"
        );
    }
    assert_chat_line(last, "fake-chat");
    assert_final(last, "stop", 6);
    assert_eq!(
        last["message"]["content"], "",
        "text on the done line: {last}"
    );
    assert_eq!(content_of(&lines), ANSWER);

    let sent = h.fake.last_chat();
    assert_eq!(sent["model"], "fake-chat");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": QUESTION}])
    );
    h.fake.assert_no_history_fields();
}

#[tokio::test]
async fn chat_stream_false_is_one_json_object() {
    let h = harness().await;
    let mut req = chat_req("fake-chat", QUESTION);
    req["stream"] = false.into();
    let r = h.post("/api/chat", &req).await;
    r.assert_status(200);
    assert_eq!(r.header("content-type"), "application/json; charset=utf-8");
    let v = r.json();
    assert_chat_line(&v, "fake-chat");
    assert_eq!(v["message"]["content"], ANSWER);
    assert_final(&v, "stop", 6);
    let sent = h.fake.last_chat();
    assert_eq!(sent["stream"], false);
    assert!(sent.get("stream_options").is_none(), "{sent}");
}

#[tokio::test]
async fn defect_38_no_empty_lines_before_the_final_one() {
    let h = harness().await;
    // The fake sends a role chunk with content "" and a `: keep-alive` comment first.
    let lines = h.chat_lines(&chat_req("fake-chat", "hi")).await;
    assert_eq!(
        lines.len(),
        3,
        "one line per piece plus the final line: {lines:?}"
    );
    assert_eq!(lines[0]["message"]["content"], "echo:");
    assert_eq!(lines[1]["message"]["content"], " hi");
}

#[tokio::test]
async fn defect_30_latest_tag_maps_to_the_upstream_id() {
    let h = harness().await;
    let cases = [
        ("fake-chat:latest", "fake-chat"),
        ("fake-ollama", "fake-ollama:latest"),
        ("fake-ollama:latest", "fake-ollama:latest"),
        ("FAKE-CHAT", "fake-chat"),
    ];
    for (asked, upstream) in cases {
        let lines = h.chat_lines(&chat_req(asked, "hi")).await;
        for line in &lines {
            assert_chat_line(line, asked);
        }
        assert_eq!(h.fake.last_chat()["model"], upstream, "{asked}");
    }
}

#[tokio::test]
async fn unknown_model_is_404_naming_it() {
    let h = harness().await;
    let r = h.post("/api/chat", &chat_req("llama9", "hi")).await;
    assert_eq!(r.assert_error(404), "model 'llama9' not found");
    let r = h.post("/api/chat", &chat_req("fake-chat:7b", "hi")).await;
    assert_eq!(r.assert_error(404), "model 'fake-chat:7b' not found");
    assert_eq!(h.fake.count(&h.fake.chats), 0);
}

#[tokio::test]
async fn missing_model_is_400() {
    let h = harness().await;
    let r = h
        .post(
            "/api/chat",
            &json!({"messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.assert_error(400), "model is required");
}

#[tokio::test]
async fn defect_26_reasoning_becomes_thinking() {
    let h = harness().await;
    let lines = h.chat_lines(&chat_req("fake-reason", "hi")).await;
    let thinking: String = lines
        .iter()
        .filter_map(|l| l["message"]["thinking"].as_str())
        .collect();
    assert_eq!(thinking, "thinking about it");
    for l in lines
        .iter()
        .filter(|l| l["message"].get("thinking").is_some())
    {
        assert_eq!(
            l["message"]["content"], "",
            "thinking lines carry content \"\": {l}"
        );
    }
    assert_eq!(content_of(&lines), "echo: hi");
    // All thinking comes before the answer.
    let first_content = lines
        .iter()
        .position(|l| l["message"]["content"] != "")
        .unwrap();
    let last_thinking = lines
        .iter()
        .rposition(|l| l["message"].get("thinking").is_some())
        .unwrap();
    assert!(last_thinking < first_content, "{lines:?}");
    assert_final(lines.last().unwrap(), "stop", 5);

    let mut req = chat_req("fake-reason", "hi");
    req["stream"] = false.into();
    let v = h.post("/api/chat", &req).await.json();
    assert_eq!(v["message"]["thinking"], "thinking about it");
    assert_eq!(v["message"]["content"], "echo: hi");
}

#[tokio::test]
async fn think_false_drops_reasoning() {
    let h = harness().await;
    let mut req = chat_req("fake-reason", "hi");
    req["think"] = false.into();
    let lines = h.chat_lines(&req).await;
    assert!(
        lines.iter().all(|l| l["message"].get("thinking").is_none()),
        "{lines:?}"
    );
    assert_eq!(content_of(&lines), "echo: hi");
    req["stream"] = false.into();
    let v = h.post("/api/chat", &req).await.json();
    assert!(v["message"].get("thinking").is_none(), "{v}");
    assert!(h.fake.last_chat().get("reasoning_effort").is_none());
}

#[tokio::test]
async fn defect_40_length_is_done_reason_in_both_modes() {
    let h = harness().await;
    let mut req = chat_req("fake-chat", "one two three four");
    req["options"] = json!({"num_predict": 2});
    let lines = h.chat_lines(&req).await;
    assert_eq!(h.fake.last_chat()["max_tokens"], 2);
    assert_eq!(content_of(&lines), "echo: one");
    assert_final(lines.last().unwrap(), "length", 2);
    req["stream"] = false.into();
    let v = h.post("/api/chat", &req).await.json();
    assert_final(&v, "length", 2);
}

#[tokio::test]
async fn defect_27_usage_and_durations_in_both_modes() {
    let h = harness().await;
    let lines = h.chat_lines(&chat_req("fake-chat", QUESTION)).await;
    let last = lines.last().unwrap();
    assert_final(last, "stop", 6);
    let total = last["total_duration"].as_u64().unwrap();
    let parts = ["load_duration", "prompt_eval_duration", "eval_duration"]
        .iter()
        .map(|k| last[k].as_u64().unwrap())
        .sum::<u64>();
    assert!(
        total > 0 && parts <= total + 1,
        "durations inconsistent: {last}"
    );
    let mut req = chat_req("fake-chat", QUESTION);
    req["stream"] = false.into();
    let v = h.post("/api/chat", &req).await.json();
    assert_final(&v, "stop", 6);
    assert!(v["total_duration"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn lenient_inputs_are_accepted() {
    let h = harness().await;
    let lenient = [
        json!({"options": null}),
        json!({"tools": []}),
        json!({"tools": null}),
        json!({"keep_alive": 1800}),
        json!({"keep_alive": -1}),
        json!({"keep_alive": "5m"}),
        json!({"keep_alive": 0.5}),
        json!({"think": true}),
        json!({"think": false}),
        json!({"think": "high"}),
        json!({"format": ""}),
        json!({"format": null}),
        json!({"options": {"temperature": null, "stop": null}}),
        json!({"unknown_field": {"x": 1}}),
    ];
    for extra in lenient {
        let mut req = json!({"model": "fake-chat", "messages": [
            {"role": "system", "content": "s", "images": []},
            {"role": "assistant", "content": "", "images": []},
            {"role": "user", "content": "hi", "images": []}]});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        let r = h.post_raw("/api/chat", req.to_string()).await;
        r.assert_status(200);
        r.assert_ndjson();
        let sent = h.fake.last_chat();
        for k in [
            "tools",
            "keep_alive",
            "think",
            "options",
            "format",
            "unknown_field",
        ] {
            assert!(sent.get(k).is_none(), "{extra}: {k} forwarded: {sent}");
        }
        assert!(sent.get("temperature").is_none(), "{extra}: {sent}");
        assert_eq!(
            sent["messages"][2],
            json!({"role": "user", "content": "hi"}),
            "{extra}"
        );
    }
}

#[tokio::test]
async fn empty_messages_are_a_load_reply_without_upstream_call() {
    let h = harness().await;
    for (extra, reason) in [
        (json!({}), "load"),
        (json!({"messages": []}), "load"),
        (json!({"keep_alive": 0}), "unload"),
        (json!({"keep_alive": "0s"}), "unload"),
        (json!({"messages": [], "keep_alive": "5m"}), "load"),
    ] {
        let mut req = json!({"model": "fake-chat"});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        let r = h.post("/api/chat", &req).await;
        r.assert_status(200);
        let v = r.json();
        assert_chat_line(&v, "fake-chat");
        assert_eq!(v["done"], true, "{v}");
        assert_eq!(v["done_reason"], reason, "{extra}: {v}");
        assert_eq!(v["message"]["content"], "");
    }
    assert_eq!(h.fake.count(&h.fake.chats), 0);
}

#[tokio::test]
async fn history_fields_never_reach_open_webui() {
    let h = harness().await;
    let mut req = chat_req("fake-chat", "hi");
    for f in crate::fake::HISTORY_FIELDS {
        req[f] = "x".into();
    }
    h.chat_lines(&req).await;
    req["stream"] = false.into();
    h.post("/api/chat", &req).await.assert_status(200);
    h.post(
        "/api/generate",
        &json!({"model": "fake-chat", "prompt": "hi", "chat_id": "x"}),
    )
    .await
    .assert_status(200);
    assert_eq!(h.fake.count(&h.fake.chats), 3);
    h.fake.assert_no_history_fields();
}

#[tokio::test]
async fn requests_carry_the_session_token() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.chat_lines(&chat_req("fake-chat", "hi")).await;
    let chat = h.fake.requests_to("/api/chat/completions").pop().unwrap();
    assert!(
        chat.bearer().unwrap().starts_with("jwt-"),
        "{:?}",
        chat.headers
    );
}
