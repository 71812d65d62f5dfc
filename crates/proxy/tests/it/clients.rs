//! What the native Ollama apps insist on (`clients.md` §1–§3, §9, §14), checked the way their
//! decoders read it: Enchanted (AugustDev/OllamaKit fork), apps on upstream OllamaKit, Zed,
//! Ollie. Libraries and server-side clients are in `libraries.rs`.

use crate::models::assert_tags_entry;
use crate::{chat_req, harness, send, Harness};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw HTTP/1.1 exchange; returns the head and the body's transfer chunks as written.
async fn raw_chunks(h: &Harness, path: &str, body: &Value) -> (String, Vec<Vec<u8>>) {
    let addr = h.proxy.url.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = body.to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer \r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut raw))
        .await
        .expect("no complete reply")
        .unwrap();
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..head_end].to_vec())
        .unwrap()
        .to_ascii_lowercase();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let mut rest = &raw[head_end + 4..];
    let mut chunks = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&rest[..eol]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        rest = &rest[eol + 2..];
        if size == 0 {
            break;
        }
        chunks.push(rest[..size].to_vec());
        rest = &rest[size + 2..];
    }
    (head, chunks)
}

/// Apple's `ISO8601DateFormatter` (with or without fractional seconds): a `T`, a zone.
fn assert_iso8601(v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("date is not a string: {v}"));
    let ok = chrono::DateTime::parse_from_rfc3339(s).is_ok()
        && s.as_bytes().get(10) == Some(&b'T')
        && (s.ends_with('Z') || s[19..].contains(['+', '-']));
    assert!(ok, "ISO 8601 with zone: {s}");
}

/// Lines decoded from upstream data that arrived together leave in one write (one HTTP chunk),
/// not one write per line; a batch stops growing at 16 KiB. The first line leaves alone, before
/// the ones behind it are translated. (That a slow stream still sends each line as it comes is
/// in `lifecycle.rs`.)
#[tokio::test]
async fn lines_ready_together_leave_in_one_write() {
    let h = harness().await;
    let lines_in = |chunks: &[Vec<u8>]| chunks.iter().map(|c| crate::ndjson(c).len()).sum();
    let (_, chunks) = raw_chunks(&h, "/api/chat", &chat_req("fake-chat", "a b c d e f g")).await;
    let lines: usize = lines_in(&chunks);
    assert!(lines >= 9, "{lines} lines");
    assert!(
        chunks.len() < lines,
        "{lines} lines in {} writes",
        chunks.len()
    );
    assert_eq!(crate::ndjson(&chunks[0]).len(), 1, "the first write");

    let long = vec!["word"; 2_000].join(" ");
    let (_, chunks) = raw_chunks(&h, "/api/chat", &chat_req("fake-chat", &long)).await;
    assert!(lines_in(&chunks) > 2_000);
    assert!(chunks.len() >= 2, "one write of {} bytes", chunks[0].len());
    for c in &chunks {
        assert!(c.len() <= 16 * 1024 + 512, "a batch of {} bytes", c.len());
        assert!(c.ends_with(b"\n"));
    }
}

#[tokio::test]
async fn enchanted_every_chunk_holds_whole_lines() {
    let h = harness().await;
    // Enchanted's request: images [] on every message, options {temperature: 0}, stream true.
    let req = json!({"stream": true, "model": "fake-ollama:latest", "options": {"temperature": 0},
        "messages": [{"role": "system", "content": "be nice", "images": []},
            {"role": "user", "content": "one two three four", "images": []}]});
    for path_req in [
        ("/api/chat", req.clone()),
        (
            "/api/generate",
            json!({"model": "fake-chat", "prompt": "a b c"}),
        ),
    ] {
        let (head, chunks) = raw_chunks(&h, path_req.0, &path_req.1).await;
        assert!(
            head.contains("content-type: application/x-ndjson"),
            "{head}"
        );
        assert!(!head.contains("content-encoding"), "no compression: {head}");
        for c in &chunks {
            assert!(
                c.ends_with(b"\n"),
                "a line split over two writes: {:?}",
                String::from_utf8_lossy(c)
            );
            for line in crate::ndjson(c) {
                // The fork's OKChatResponse / OKGenerateResponse.
                assert!(line["model"].is_string(), "{line}");
                assert_iso8601(&line["created_at"]);
                if let Some(m) = line.get("message") {
                    let role = m["role"].as_str().unwrap();
                    assert!(["system", "assistant", "user"].contains(&role), "{line}");
                    assert!(m["content"].is_string(), "{line}");
                }
            }
        }
    }
}

#[tokio::test]
async fn enchanted_and_ollamakit_model_list() {
    let h = harness().await;
    let r = send(h.http.head(h.url("/")).header("authorization", "Bearer ")).await;
    r.assert_status(200);
    let v = h.get("/api/tags").await.json();
    for m in v["models"].as_array().unwrap() {
        assert_tags_entry(m);
        // Fork: name, model, digest strings; integer size; dated modified_at; parent_model,
        // format. Upstream: family, parameter_size, quantization_level too.
        for k in ["name", "model", "digest"] {
            assert!(m[k].is_string(), "{k}: {m}");
        }
        assert!(m["size"].is_u64(), "{m}");
        assert_iso8601(&m["modified_at"]);
        for k in [
            "parent_model",
            "format",
            "family",
            "parameter_size",
            "quantization_level",
        ] {
            assert!(m["details"][k].is_string(), "{k}: {m}");
        }
    }
    let vision = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "fake-vision")
        .unwrap();
    assert!(vision["details"]["families"]
        .as_array()
        .unwrap()
        .contains(&json!("clip")));
}

#[tokio::test]
async fn ollamakit_show_and_chat_lines() {
    let h = harness().await;
    let show = h
        .post("/api/show", &json!({"model": "fake-chat"}))
        .await
        .json();
    for k in ["license", "template", "modelfile", "parameters"] {
        assert!(show[k].is_string(), "{k}: {show}");
    }
    let mut req = chat_req("fake-reason", "hi");
    req["tools"] =
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    for line in h.chat_lines(&req).await {
        assert!(
            line["model"].is_string() && line["done"].is_boolean(),
            "{line}"
        );
        assert_iso8601(&line["created_at"]);
        for call in line["message"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert!(
                call["function"]["name"].is_string() && call["function"]["arguments"].is_object()
            );
        }
    }
}

#[tokio::test]
async fn zed_decodes_every_line() {
    let h = harness().await;
    // Zed: show for each listed model, keeping only `capabilities`.
    let tags = h.get("/api/tags").await.json();
    for m in tags["models"].as_array().unwrap() {
        let show = h.post("/api/show", &json!({"model": m["name"]})).await;
        show.assert_status(200);
        assert!(show.json()["capabilities"].is_array());
    }
    // keep_alive -1 (number), think as bool, thinking model.
    let req = json!({"model": "fake-reason", "keep_alive": -1, "think": true,
        "options": {"num_ctx": 4096, "num_predict": 100, "stop": ["</s>"], "temperature": 0.7},
        "messages": [{"role": "user", "content": "hi"}]});
    let lines = h.chat_lines(&req).await;
    assert!(lines.iter().any(|l| l["message"].get("thinking").is_some()));
    for line in &lines {
        zed_line(line);
    }
    // With tools Zed does not stream.
    let req = json!({"model": "fake-chat", "stream": false, "keep_alive": -1, "think": false,
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]});
    let v = h.post("/api/chat", &req).await.json();
    zed_line(&v);
    assert_eq!(v["message"]["tool_calls"].as_array().unwrap().len(), 1);
}

/// Zed's `ChatResponseDelta`: model, created_at, message tagged by role with `content`
/// required, done; tool calls are `{"function": …}` with no second key.
fn zed_line(line: &Value) {
    assert!(
        line["model"].is_string() && line["created_at"].is_string(),
        "{line}"
    );
    assert!(line["done"].is_boolean(), "{line}");
    let m = &line["message"];
    assert_eq!(m["role"], "assistant", "{line}");
    assert!(
        m["content"].is_string(),
        "content required, even on thinking lines: {line}"
    );
    for call in m["tool_calls"].as_array().into_iter().flatten() {
        let obj = call.as_object().unwrap();
        assert_eq!(
            obj.keys().collect::<Vec<_>>(),
            ["function"],
            "no id on native tool calls: {call}"
        );
        let f = &call["function"];
        assert!(
            f["name"].is_string() && f["arguments"].is_object() && f["index"].is_u64(),
            "{call}"
        );
    }
    if let Some(n) = line.get("prompt_eval_count") {
        assert!(n.is_u64(), "{line}");
    }
}

#[tokio::test]
async fn ollie_calls() {
    let h = harness().await;
    // Connected check and model info with the old `name` key.
    h.get("/api/tags").await.assert_status(200);
    let show = h.post("/api/show", &json!({"name": "fake-chat"})).await;
    show.assert_status(200);
    let v = h.get("/api/version").await.json();
    assert!(v["version"].is_string());
    let ps = h.get("/api/ps").await.json();
    assert!(ps["models"].is_array());
    // Chat: every line needs `done`; message needs role and content; counts fit i32.
    let req = json!({"model": "fake-chat", "stream": true,
        "options": {"temperature": 0.7, "top_k": 40, "top_p": 0.9, "num_predict": 256},
        "messages": [{"role": "user", "content": "hi", "images": []}]});
    for line in h.chat_lines(&req).await {
        assert!(line["done"].is_boolean(), "{line}");
        assert!(line["message"]["role"].is_string() && line["message"]["content"].is_string());
        for k in ["prompt_eval_count", "eval_count"] {
            if let Some(n) = line.get(k) {
                assert!(
                    n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                    "{line}"
                );
            }
        }
    }
    // Unload: only 2xx is checked.
    let r = h
        .post(
            "/api/generate",
            &json!({"model": "fake-chat", "keep_alive": 0}),
        )
        .await;
    r.assert_status(200);
    // Delete answers 403 (not 405: Ollie retries a 405 as POST).
    let r = send(
        h.http
            .delete(h.url("/api/delete"))
            .json(&json!({"name": "fake-chat"})),
    )
    .await;
    r.assert_error(403);
}
