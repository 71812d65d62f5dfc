//! A non-streamed upstream chat completion → one Ollama `/api/chat` reply (`done: true`).
//!
//! Same rules as the stream ([`super::stream`]): `<think>` tags split out of the content,
//! `reasoning_content` (else `reasoning`) as thinking unless the client sent `think: false`,
//! tool calls with object arguments and no id, `done_reason` mapped to `stop`/`length`, metrics
//! from usage and the measured instants (the first token is taken to arrive at the end).

use super::think::{Split, ThinkSplitter};
use super::tools::ToolCalls;
use super::{assistant, done_reason, final_metrics, now_rfc3339};
use super::{ReplyOptions, StreamError, Timing};
use crate::ollama::ChatResponse;
use crate::openai::{ChatCompletion, Delta};

/// Translates a whole reply. A reply without choices is [`StreamError::Decode`].
pub fn completion_response(
    c: ChatCompletion,
    opts: &ReplyOptions,
    timing: Timing,
) -> Result<ChatResponse, StreamError> {
    let ChatCompletion { choices, usage } = c;
    let Some(choice) = choices.into_iter().next() else {
        return Err(StreamError::Decode("no choices".to_owned()));
    };
    let Delta {
        content,
        reasoning_content,
        reasoning,
        tool_calls,
    } = choice.message;
    let mut pieces = 0;

    let mut split = Split::default();
    if let Some(text) = content.filter(|s| !s.is_empty()) {
        pieces += 1;
        let mut splitter = ThinkSplitter::new();
        split = splitter.push(text);
        let rest = splitter.finish();
        append(&mut split.thinking, rest.thinking);
        append(&mut split.content, rest.content);
    }
    let mut thinking = reasoning_content
        .filter(|s| !s.is_empty())
        .or(reasoning.filter(|s| !s.is_empty()));
    pieces += u64::from(thinking.is_some());
    append(&mut thinking, split.thinking);

    let mut calls = ToolCalls::default();
    tool_calls.into_iter().for_each(|tc| calls.push(tc));
    let tool_calls = calls.finish()?;

    let thinking = thinking.filter(|_| !opts.drop_thinking);
    Ok(ChatResponse {
        model: opts.model.clone(),
        created_at: now_rfc3339(),
        message: assistant(split.content.unwrap_or_default(), thinking, tool_calls),
        done: true,
        done_reason: Some(done_reason(choice.finish_reason.as_deref())),
        // The whole answer arrives at once, so generation time cannot be split: count all of
        // it as evaluation, which keeps the tokens-per-second clients show meaningful.
        metrics: final_metrics(
            &Timing {
                first_byte: Some(timing.started),
                ..timing
            },
            Some(timing.started),
            usage,
            pieces,
        ),
    })
}

/// Appends `more` to `slot`, moving it in when `slot` is empty.
fn append(slot: &mut Option<String>, more: Option<String>) {
    match (slot.as_mut(), more) {
        (Some(s), Some(m)) => s.push_str(&m),
        (None, m) => *slot = m,
        (Some(_), None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::time::{Duration, Instant};

    fn translate(body: Value, drop_thinking: bool) -> Result<Value, StreamError> {
        let c: ChatCompletion = serde_json::from_value(body).unwrap();
        let started = Instant::now();
        let timing = Timing {
            started,
            first_byte: Some(started + Duration::from_millis(40)),
            ended: started + Duration::from_millis(50),
        };
        let opts = ReplyOptions {
            model: "gpt-4o:latest".into(),
            drop_thinking,
        };
        let mut v = serde_json::to_value(completion_response(c, &opts, timing)?).unwrap();
        assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
        v["created_at"] = "T".into();
        Ok(v)
    }

    fn reply(message: Value, reason: &str, extra: Value) -> Value {
        let mut v = json!({"model":"gpt-4o:latest","created_at":"T","message":message,
            "done":true,"done_reason":reason,"total_duration":50_000_000,
            "load_duration":0,"prompt_eval_duration":0,"eval_duration":50_000_000});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    }

    #[test]
    fn table() {
        let usage = json!({"prompt_tokens":8,"completion_tokens":9,"total_tokens":17});
        let cases = [
            // capture 40: plain answer
            (
                json!({"choices":[{"index":0,"message":{"role":"assistant",
                    "content":"echo: Why is the sky blue?"},"finish_reason":"stop"}],"usage":usage}),
                false,
                reply(
                    json!({"role":"assistant","content":"echo: Why is the sky blue?"}),
                    "stop",
                    json!({"prompt_eval_count":8,"eval_count":9}),
                ),
            ),
            // capture 45: reasoning_content
            (
                json!({"choices":[{"message":{"content":"echo","reasoning_content":"thinking about"},
                    "finish_reason":"stop"}]}),
                false,
                reply(
                    json!({"role":"assistant","content":"echo","thinking":"thinking about"}),
                    "stop",
                    json!({"eval_count":2}),
                ),
            ),
            // think tags in content, dropped on think:false
            (
                json!({"choices":[{"message":{"content":"<think>hmm</think>\nYes."},"finish_reason":"length"}]}),
                true,
                reply(
                    json!({"role":"assistant","content":"Yes."}),
                    "length",
                    json!({"eval_count":1}),
                ),
            ),
            (
                json!({"choices":[{"message":{"content":"<think>a</think>b","reasoning":"r"},
                    "finish_reason":null}]}),
                false,
                reply(
                    json!({"role":"assistant","content":"b","thinking":"ra"}),
                    "stop",
                    json!({"eval_count":2}),
                ),
            ),
            // capture 47: tool calls, content null, finish_reason tool_calls
            (
                json!({"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[
                    {"id":"call_fe6f439057f3","type":"function","function":{"name":"get_weather",
                     "arguments":"{\"query\": \"Why is the sky blue?\"}"}}]},"finish_reason":"tool_calls"}],
                    "usage":{"prompt_tokens":8,"completion_tokens":5}}),
                false,
                reply(
                    json!({"role":"assistant","content":"","tool_calls":[{"function":{"index":0,
                    "name":"get_weather","arguments":{"query":"Why is the sky blue?"}}}]}),
                    "stop",
                    json!({"prompt_eval_count":8,"eval_count":5}),
                ),
            ),
            // capture 210: Ollama usage fields
            (
                json!({"choices":[{"message":{"content":"x"},"finish_reason":"stop"}],
                    "usage":{"prompt_tokens":8,"completion_tokens":9,"prompt_eval_count":7,"eval_count":6,
                             "response_token/s":90000.0,"approximate_total":"0h0m0s"}}),
                false,
                reply(
                    json!({"role":"assistant","content":"x"}),
                    "stop",
                    json!({"prompt_eval_count":7,"eval_count":6}),
                ),
            ),
        ];
        for (body, drop, want) in cases {
            assert_eq!(translate(body.clone(), drop).unwrap(), want, "{body}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            translate(json!({"choices":[]}), false),
            Err(StreamError::Decode("no choices".into()))
        );
        let bad_args = json!({"choices":[{"message":{"tool_calls":[{"function":{"name":"f","arguments":"{"}}]}}]});
        assert!(matches!(
            translate(bad_args, false),
            Err(StreamError::ToolArguments(_))
        ));
    }
}
