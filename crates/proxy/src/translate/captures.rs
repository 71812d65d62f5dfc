//! Golden tests on real Open WebUI traffic: SSE bodies from `reference/openwebui-captures`
//! (41 plain, 44 reasoning, 46 tool call, 49 length limit, 59 mid-stream error, 209 an
//! Ollama-backed model) fed through [`SseDecoder`] and [`StreamTranslator`], asserting the
//! exact Ollama NDJSON lines (timestamps and durations blanked after checking their types).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{ReplyOptions, StreamError, StreamTranslator, Timing};
use crate::ollama::ChatResponse;
use crate::upstream::sse::SseDecoder;

/// `openwebui-captures/41_chat_stream.txt`: the SSE body Open WebUI sent.
const CAPTURE_41: &str = r##"data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": "echo:"}, "finish_reason": null}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": " Why"}, "finish_reason": null}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": " is"}, "finish_reason": null}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": " the"}, "finish_reason": null}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": " sky"}, "finish_reason": null}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": " blue?"}, "finish_reason": null}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": " Answer"}, "finish_reason": null}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": " briefly"}, "finish_reason": null}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": " please."}, "finish_reason": null}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}

data: {"id": "chatcmpl-3f0810ecb2fdc4ca", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 9, "total_tokens": 17}}

data: [DONE]

"##;

/// `openwebui-captures/44_reason_stream.txt`: the SSE body Open WebUI sent.
const CAPTURE_44: &str = r##"data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"reasoning_content": "thinking"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"reasoning_content": " about:"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"reasoning_content": " Why"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"reasoning_content": " is"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"reasoning_content": " the"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"reasoning_content": " sky"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"reasoning_content": " blue?"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"reasoning_content": " Answer"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"reasoning_content": " briefly"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"reasoning_content": " please."}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"content": "echo:"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"content": " Why"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"content": " is"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"content": " the"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"content": " sky"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"content": " blue?"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"content": " Answer"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"content": " briefly"}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {"content": " please."}, "finish_reason": null}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}

data: {"id": "chatcmpl-8fdbdc9de11ae223", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-reason", "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 19, "total_tokens": 27}}

data: [DONE]

"##;

/// `openwebui-captures/46_tools_stream.txt`: the SSE body Open WebUI sent.
const CAPTURE_46: &str = r##"data: {"id": "chatcmpl-7c8f7da3cdcd5e0f", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-tools", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}

data: {"id": "chatcmpl-7c8f7da3cdcd5e0f", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-tools", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_fe6f439057f3", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": null}]}

data: {"id": "chatcmpl-7c8f7da3cdcd5e0f", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-tools", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"query\": \"Why is the sky bl"}}]}, "finish_reason": null}]}

data: {"id": "chatcmpl-7c8f7da3cdcd5e0f", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-tools", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "ue? Answer briefly please.\"}"}}]}, "finish_reason": null}]}

data: {"id": "chatcmpl-7c8f7da3cdcd5e0f", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-tools", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}

data: {"id": "chatcmpl-7c8f7da3cdcd5e0f", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-tools", "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13}}

data: [DONE]

"##;

/// `openwebui-captures/49_max_tokens_length.txt`: the SSE body Open WebUI sent.
const CAPTURE_49: &str = r##"data: {"id": "chatcmpl-cd7ef7b189757d8e", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}

data: {"id": "chatcmpl-cd7ef7b189757d8e", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": "echo:"}, "finish_reason": null}]}

data: {"id": "chatcmpl-cd7ef7b189757d8e", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {"content": " Why"}, "finish_reason": null}]}

data: {"id": "chatcmpl-cd7ef7b189757d8e", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}

data: {"id": "chatcmpl-cd7ef7b189757d8e", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}}

data: [DONE]

"##;

/// `openwebui-captures/59_backend_midstream_error.txt`: the SSE body Open WebUI sent.
const CAPTURE_59: &str = r##"data: {"id": "chatcmpl-22e09c9c33eea2eb", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-error", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}

data: {"id": "chatcmpl-22e09c9c33eea2eb", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-error", "choices": [{"index": 0, "delta": {"content": "partial"}, "finish_reason": null}]}

data: {"error": {"message": "fake mid-stream failure", "type": "server_error"}}

"##;

/// `openwebui-captures/209_chat_completions_ollama_model_stream.txt`: the SSE body Open WebUI sent.
const CAPTURE_209: &str = r##"data: {"id":"chatcmpl-2c94a064-e74c-4a6f-873a-57f6d8beee46","created":1795502258,"model":"fake-ollama:latest","choices":[{"index":0,"logprobs":null,"finish_reason":null,"delta":{"content":"echo:","role":"assistant"}}],"object":"chat.completion.chunk"}

data: {"id":"chatcmpl-2c94a064-e74c-4a6f-873a-57f6d8beee46","created":1795502258,"model":"fake-ollama:latest","choices":[{"index":0,"logprobs":null,"finish_reason":null,"delta":{"content":" Why"}}],"object":"chat.completion.chunk"}

data: {"id":"chatcmpl-2c94a064-e74c-4a6f-873a-57f6d8beee46","created":1795502258,"model":"fake-ollama:latest","choices":[{"index":0,"logprobs":null,"finish_reason":null,"delta":{"content":" is"}}],"object":"chat.completion.chunk"}

data: {"id":"chatcmpl-2c94a064-e74c-4a6f-873a-57f6d8beee46","created":1795502258,"model":"fake-ollama:latest","choices":[{"index":0,"logprobs":null,"finish_reason":null,"delta":{"content":" the"}}],"object":"chat.completion.chunk"}

data: {"id":"chatcmpl-2c94a064-e74c-4a6f-873a-57f6d8beee46","created":1795502258,"model":"fake-ollama:latest","choices":[{"index":0,"logprobs":null,"finish_reason":"length","delta":{}}],"object":"chat.completion.chunk","usage":{"input_tokens":8,"output_tokens":4,"total_tokens":12,"prompt_tokens":8,"completion_tokens":4,"response_token/s":40000.0,"prompt_token/s":8000000.0,"total_duration":1000000,"load_duration":1000,"prompt_eval_count":8,"prompt_eval_duration":1000,"eval_count":4,"eval_duration":100000,"approximate_total":"0h0m0s","completion_tokens_details":{"reasoning_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}

data: [DONE]

"##;

/// Decodes `body` fed in `step`-byte pieces and translates it up to `[DONE]` (or EOF).
fn run(body: &str, step: usize, drop_thinking: bool) -> Result<Vec<Value>, StreamError> {
    let mut decoder = SseDecoder::new(1 << 20);
    let mut translator = StreamTranslator::new(ReplyOptions {
        model: "m".into(),
        drop_thinking,
    });
    let mut lines = Vec::new();
    let mut events = Vec::new();
    for piece in body.as_bytes().chunks(step) {
        decoder.feed(piece, &mut events).unwrap();
    }
    events.extend(decoder.finish());
    for event in events.iter().take_while(|e| *e != "[DONE]") {
        lines.extend(translator.push(event)?);
    }
    let started = Instant::now();
    let timing = Timing {
        started,
        first_byte: Some(started + Duration::from_millis(1)),
        ended: started + Duration::from_millis(9),
    };
    lines.extend(translator.finish(timing)?);
    Ok(lines.into_iter().map(normalise).collect())
}

fn normalise(line: ChatResponse) -> Value {
    let mut v = serde_json::to_value(line).unwrap();
    let at = v["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(at).is_ok() && at.ends_with('Z'),
        "{at}"
    );
    v["created_at"] = "T".into();
    for k in [
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        if let Some(d) = v.get_mut(k) {
            assert!(d.is_u64(), "{k}: {d}");
            *d = 0.into();
        }
    }
    v
}

fn content(c: &str) -> Value {
    json!({"model":"m","created_at":"T","message":{"role":"assistant","content":c},"done":false})
}

fn thinking(t: &str) -> Value {
    json!({"model":"m","created_at":"T","message":{"role":"assistant","content":"","thinking":t},
           "done":false})
}

fn done(reason: &str, prompt: u64, eval: u64) -> Value {
    json!({"model":"m","created_at":"T","message":{"role":"assistant","content":""},"done":true,
           "done_reason":reason,"total_duration":0,"load_duration":0,"prompt_eval_count":prompt,
           "prompt_eval_duration":0,"eval_count":eval,"eval_duration":0})
}

const WORDS: [&str; 9] = [
    "echo:", " Why", " is", " the", " sky", " blue?", " Answer", " briefly", " please.",
];

const THOUGHTS: [&str; 10] = [
    "thinking", " about:", " Why", " is", " the", " sky", " blue?", " Answer", " briefly",
    " please.",
];

#[test]
fn capture_41_plain_stream() {
    let mut want: Vec<Value> = WORDS.iter().map(|w| content(w)).collect();
    want.push(done("stop", 8, 9));
    for step in [CAPTURE_41.len(), 1, 7, 64] {
        assert_eq!(run(CAPTURE_41, step, false).unwrap(), want, "step {step}");
    }
}

#[test]
fn capture_44_reasoning_stream() {
    let mut want: Vec<Value> = THOUGHTS.iter().map(|t| thinking(t)).collect();
    want.extend(WORDS.iter().map(|w| content(w)));
    want.push(done("stop", 8, 19));
    assert_eq!(run(CAPTURE_44, 1, false).unwrap(), want);
    assert_eq!(run(CAPTURE_44, 13, false).unwrap(), want);
}

#[test]
fn capture_44_with_think_false_drops_reasoning() {
    let mut want: Vec<Value> = WORDS.iter().map(|w| content(w)).collect();
    want.push(done("stop", 8, 19));
    assert_eq!(run(CAPTURE_44, CAPTURE_44.len(), true).unwrap(), want);
}

#[test]
fn capture_46_tool_call_stream() {
    let call = json!({"model":"m","created_at":"T","done":false,"message":{"role":"assistant",
        "content":"","tool_calls":[{"function":{"index":0,"name":"get_weather",
            "arguments":{"query":"Why is the sky blue? Answer briefly please."}}}]}});
    let want = vec![call, done("stop", 8, 5)];
    for step in [CAPTURE_46.len(), 1, 5] {
        assert_eq!(run(CAPTURE_46, step, false).unwrap(), want, "step {step}");
    }
}

#[test]
fn capture_49_length_limit() {
    let want = vec![content("echo:"), content(" Why"), done("length", 8, 2)];
    assert_eq!(run(CAPTURE_49, 3, false).unwrap(), want);
}

#[test]
fn capture_59_mid_stream_error() {
    let err = run(CAPTURE_59, 1, false).unwrap_err();
    assert_eq!(err, StreamError::Upstream("fake mid-stream failure".into()));
    // The text before the error is still delivered line by line.
    let mut decoder = SseDecoder::new(1 << 20);
    let mut events = Vec::new();
    decoder.feed(CAPTURE_59.as_bytes(), &mut events).unwrap();
    let mut t = StreamTranslator::new(ReplyOptions {
        model: "m".into(),
        drop_thinking: false,
    });
    let lines: Vec<Value> = t
        .push(&events[1])
        .unwrap()
        .into_iter()
        .map(normalise)
        .collect();
    assert_eq!(lines, vec![content("partial")]);
}

#[test]
fn capture_209_ollama_backed_model() {
    let want = vec![
        content("echo:"),
        content(" Why"),
        content(" is"),
        content(" the"),
        done("length", 8, 4),
    ];
    assert_eq!(run(CAPTURE_209, 2, false).unwrap(), want);
}
