//! Upstream SSE chunks (OpenAI `chat.completion.chunk`) → Ollama `/api/chat` NDJSON lines.
//!
//! A synchronous state machine fed one event payload at a time by the handler. Per chunk it
//! emits at most a thinking line and a content line (never an empty one); tool-call fragments
//! are assembled silently and sent whole, in one line, at [`StreamTranslator::finish`], followed
//! by the final `done: true` line with `done_reason` and metrics. Strings are moved from the
//! parsed chunk into the output; nothing is copied but the model name per line.

use std::time::Instant;

use super::think::{Split, ThinkSplitter};
use super::tools::ToolCalls;
use super::{assistant, chat_line, done_reason, final_metrics, now_rfc3339};
use super::{ReplyOptions, StreamError, Timing};
use crate::ollama::ChatResponse;
use crate::openai::{error_message, ChatChunk, Delta, Usage};

/// Translates one streamed reply. Create one per request.
#[derive(Debug)]
pub struct StreamTranslator {
    opts: ReplyOptions,
    think: ThinkSplitter,
    tools: ToolCalls,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    first_token: Option<Instant>,
    pieces: u64,
}

impl StreamTranslator {
    /// A translator for a reply to a request with these options.
    pub fn new(opts: ReplyOptions) -> Self {
        StreamTranslator {
            opts,
            think: ThinkSplitter::new(),
            tools: ToolCalls::default(),
            finish_reason: None,
            usage: None,
            first_token: None,
            pieces: 0,
        }
    }

    /// The lines of one event, as [`push_into`](Self::push_into) appends them (for tests).
    #[cfg(test)]
    pub(crate) fn push(&mut self, data: &str) -> Result<Vec<ChatResponse>, StreamError> {
        let mut lines = Vec::new();
        self.push_into(data, &mut lines)?;
        Ok(lines)
    }

    /// One SSE event's data payload (never `[DONE]`: the caller stops there): appends the lines
    /// to write now, possibly none, to `lines`. An in-band `{"error": …}` event is
    /// [`StreamError::Upstream`].
    pub fn push_into(
        &mut self,
        data: &str,
        lines: &mut Vec<ChatResponse>,
    ) -> Result<(), StreamError> {
        let chunk: ChatChunk =
            serde_json::from_str(data).map_err(|e| StreamError::Decode(e.to_string()))?;
        if chunk.error.is_some() && chunk.choices.is_empty() {
            let msg = error_message(data.as_bytes())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "upstream reported an error".to_owned());
            return Err(StreamError::Upstream(msg));
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                self.finish_reason = Some(reason);
            }
            self.delta(choice.delta, lines);
        }
        Ok(())
    }

    /// True once upstream said the answer is over: a `finish_reason` or a `usage` arrived. A
    /// stream that hits EOF without `[DONE]` and without either was cut off.
    pub fn saw_finish(&self) -> bool {
        self.finish_reason.is_some() || self.usage.is_some()
    }

    /// End of stream: flushes text held back by the think splitter, emits one line with every
    /// assembled tool call (if any) and the final `done: true` line.
    pub fn finish(mut self, timing: Timing) -> Result<Vec<ChatResponse>, StreamError> {
        let calls = std::mem::take(&mut self.tools).finish()?;
        let mut lines = Vec::new();
        let rest = self.think.finish();
        self.emit(rest, &mut lines);
        if !calls.is_empty() {
            let message = assistant(String::new(), None, calls);
            lines.push(chat_line(&self.opts.model, message));
        }
        lines.push(ChatResponse {
            model: self.opts.model,
            created_at: now_rfc3339(),
            message: assistant(String::new(), None, Vec::new()),
            done: true,
            done_reason: Some(done_reason(self.finish_reason.as_deref())),
            metrics: final_metrics(&timing, self.first_token, self.usage, self.pieces),
        });
        Ok(lines)
    }

    fn delta(&mut self, delta: Delta, lines: &mut Vec<ChatResponse>) {
        let Delta {
            content,
            reasoning_content,
            reasoning,
            tool_calls,
        } = delta;
        let reasoning = reasoning_content
            .filter(|s| !s.is_empty())
            .or(reasoning.filter(|s| !s.is_empty()));
        if let Some(thinking) = reasoning {
            self.mark();
            self.emit(
                Split {
                    thinking: Some(thinking),
                    content: None,
                },
                lines,
            );
        }
        if let Some(content) = content.filter(|s| !s.is_empty()) {
            self.mark();
            let split = self.think.push(content);
            self.emit(split, lines);
        }
        if !tool_calls.is_empty() {
            self.mark();
            tool_calls.into_iter().for_each(|tc| self.tools.push(tc));
        }
    }

    /// Counts a generated piece and remembers when the first one came.
    fn mark(&mut self) {
        self.pieces += 1;
        self.first_token.get_or_insert_with(Instant::now);
    }

    /// A thinking line (unless the client turned thinking off), then a content line.
    fn emit(&self, split: Split, lines: &mut Vec<ChatResponse>) {
        if let Some(thinking) = split.thinking.filter(|_| !self.opts.drop_thinking) {
            let message = assistant(String::new(), Some(thinking), Vec::new());
            lines.push(chat_line(&self.opts.model, message));
        }
        if let Some(content) = split.content {
            lines.push(chat_line(
                &self.opts.model,
                assistant(content, None, Vec::new()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::time::Duration;

    fn opts(drop_thinking: bool) -> ReplyOptions {
        ReplyOptions {
            model: "m:latest".into(),
            drop_thinking,
        }
    }

    fn timing() -> Timing {
        let started = Instant::now();
        Timing {
            started,
            first_byte: Some(started),
            ended: started + Duration::from_millis(5),
        }
    }

    /// Lines as JSON with `created_at` and the durations blanked (after checking their types).
    fn normalise(lines: Vec<ChatResponse>) -> Vec<Value> {
        lines
            .into_iter()
            .map(|l| {
                let mut v = serde_json::to_value(l).unwrap();
                assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
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
            })
            .collect()
    }

    fn run(chunks: &[Value], drop_thinking: bool) -> Result<Vec<Value>, StreamError> {
        let mut t = StreamTranslator::new(opts(drop_thinking));
        let mut lines = Vec::new();
        for c in chunks {
            lines.extend(t.push(&c.to_string())?);
        }
        lines.extend(t.finish(timing())?);
        Ok(normalise(lines))
    }

    fn content(c: &str) -> Value {
        json!({"model":"m:latest","created_at":"T","message":{"role":"assistant","content":c},"done":false})
    }

    fn thinking(t: &str) -> Value {
        json!({"model":"m:latest","created_at":"T",
               "message":{"role":"assistant","content":"","thinking":t},"done":false})
    }

    fn done(reason: &str, extra: Value) -> Value {
        let mut v = json!({"model":"m:latest","created_at":"T",
            "message":{"role":"assistant","content":""},"done":true,"done_reason":reason,
            "total_duration":0,"load_duration":0,"prompt_eval_duration":0,"eval_duration":0});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    }

    fn delta(d: Value) -> Value {
        json!({"choices":[{"index":0,"delta":d,"finish_reason":null}]})
    }

    fn finish(reason: &str) -> Value {
        json!({"choices":[{"index":0,"delta":{},"finish_reason":reason}]})
    }

    #[test]
    fn table() {
        let usage = json!({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}});
        let cases: Vec<(Vec<Value>, bool, Vec<Value>)> = vec![
            (
                vec![
                    delta(json!({"role":"assistant","content":""})),
                    delta(json!({"content":"Hi"})),
                    delta(json!({"content":""})),
                    delta(json!({})),
                    finish("stop"),
                    usage.clone(),
                ],
                false,
                vec![
                    content("Hi"),
                    done("stop", json!({"prompt_eval_count":3,"eval_count":2})),
                ],
            ),
            (
                vec![
                    delta(json!({"reasoning_content":"a"})),
                    delta(json!({"reasoning":"b"})),
                    delta(json!({"reasoning_content":"","reasoning":"c","content":"d"})),
                    finish("length"),
                ],
                false,
                vec![
                    thinking("a"),
                    thinking("b"),
                    thinking("c"),
                    content("d"),
                    done("length", json!({"eval_count":4})),
                ],
            ),
            (
                vec![
                    delta(json!({"reasoning_content":"a"})),
                    delta(json!({"content":"<think>x</think>y"})),
                ],
                true,
                vec![content("y"), done("stop", json!({"eval_count":2}))],
            ),
            (
                vec![
                    delta(json!({"content":"<thi"})),
                    delta(json!({"content":"nk>x</thi"})),
                    delta(json!({"content":"nk>\n\nanswer"})),
                ],
                false,
                vec![
                    thinking("x"),
                    content("answer"),
                    done("stop", json!({"eval_count":3})),
                ],
            ),
            (
                vec![delta(json!({"content":"<think>unclosed"}))],
                false,
                vec![thinking("unclosed"), done("stop", json!({"eval_count":1}))],
            ),
            (
                vec![delta(json!({"content":" "})), finish("content_filter")],
                false,
                vec![content(" "), done("stop", json!({"eval_count":1}))],
            ),
            (vec![], false, vec![done("stop", json!({"eval_count":0}))]),
        ];
        for (chunks, drop, want) in cases {
            assert_eq!(run(&chunks, drop).unwrap(), want, "{chunks:?}");
        }
    }

    #[test]
    fn tool_calls_arrive_whole_before_the_final_line() {
        let chunks = [
            delta(json!({"content":"Let me check."})),
            delta(
                json!({"tool_calls":[{"index":0,"id":"call_1","type":"function",
                "function":{"name":"get_weather","arguments":""}}]}),
            ),
            delta(json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]})),
            delta(json!({"tool_calls":[{"index":0,"function":{"arguments":"\"Tokyo\"}"}}]})),
            finish("tool_calls"),
        ];
        let mut t = StreamTranslator::new(opts(false));
        let emitted: Vec<usize> = chunks
            .iter()
            .map(|c| t.push(&c.to_string()).unwrap().len())
            .collect();
        assert_eq!(emitted, [1, 0, 0, 0, 0]);
        let got = normalise(t.finish(timing()).unwrap());
        let calls = json!({"model":"m:latest","created_at":"T","done":false,"message":{
            "role":"assistant","content":"","tool_calls":[
                {"function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo"}}}]}});
        assert_eq!(got, vec![calls, done("stop", json!({"eval_count":4}))]);
    }

    #[test]
    fn errors() {
        let cases = [
            ("not json", "Decode"),
            (
                r#"{"error":{"message":"fake mid-stream failure","type":"server_error"}}"#,
                "fake mid-stream failure",
            ),
            (r#"{"error":"plain"}"#, "plain"),
            (r#"{"error":{"code":500}}"#, "upstream reported an error"),
        ];
        for (data, want) in cases {
            let err = StreamTranslator::new(opts(false)).push(data).unwrap_err();
            match err {
                StreamError::Decode(_) => assert_eq!(want, "Decode"),
                StreamError::Upstream(msg) => assert_eq!(msg, want),
                other => panic!("{other:?}"),
            }
        }
        let mut t = StreamTranslator::new(opts(false));
        t.push(
            &delta(json!({"tool_calls":[{"index":0,"function":{"name":"f","arguments":"[1]"}}]}))
                .to_string(),
        )
        .unwrap();
        assert!(matches!(
            t.finish(timing()),
            Err(StreamError::ToolArguments(_))
        ));
    }

    #[test]
    fn extra_events_and_usage_on_a_content_chunk() {
        let mut t = StreamTranslator::new(opts(false));
        assert!(t.push(r#"{"sources":[{"x":1}]}"#).unwrap().is_empty());
        assert!(t.push(r#"{"error":null,"choices":[]}"#).unwrap().is_empty());
        let last = json!({"choices":[{"index":0,"finish_reason":"length","delta":{}}],
            "usage":{"prompt_tokens":8,"completion_tokens":4,"prompt_eval_count":8,"eval_count":4,
                     "response_token/s":40000.0}});
        assert!(t.push(&last.to_string()).unwrap().is_empty());
        let got = normalise(t.finish(timing()).unwrap());
        assert_eq!(
            got,
            vec![done(
                "length",
                json!({"prompt_eval_count":8,"eval_count":4})
            )]
        );
    }

    #[test]
    fn saw_finish_after_finish_reason_or_usage() {
        let mut t = StreamTranslator::new(opts(false));
        t.push(&delta(json!({"content":"x"})).to_string()).unwrap();
        assert!(!t.saw_finish());
        t.push(&finish("stop").to_string()).unwrap();
        assert!(t.saw_finish());
        let mut t = StreamTranslator::new(opts(false));
        t.push(r#"{"choices":[],"usage":{"completion_tokens":1}}"#)
            .unwrap();
        assert!(t.saw_finish());
    }

    #[test]
    fn first_token_is_measured() {
        let mut t = StreamTranslator::new(opts(false));
        let started = Instant::now();
        t.push(&delta(json!({"content":"x"})).to_string()).unwrap();
        let ended = Instant::now() + Duration::from_millis(50);
        let lines = t
            .finish(Timing {
                started,
                first_byte: None,
                ended,
            })
            .unwrap();
        let m = lines.last().unwrap().metrics;
        assert!(m.eval_duration.unwrap() >= 50_000_000);
        assert!(m.total_duration.unwrap() >= m.eval_duration.unwrap());
    }

    proptest::proptest! {
        #[test]
        fn push_never_panics(s in ".{0,200}") {
            let mut t = StreamTranslator::new(opts(false));
            let _ = t.push(&s);
            let _ = t.finish(timing());
        }

        #[test]
        fn push_never_panics_on_chunk_like_json(
            content in proptest::option::of(".{0,20}"),
            reasoning in proptest::option::of(".{0,20}"),
            index in proptest::option::of(0usize..4),
            args in proptest::option::of(".{0,20}"),
            reason in proptest::option::of("[a-z_]{0,12}"),
        ) {
            let chunk = json!({"choices":[{"delta":{"content":content,"reasoning_content":reasoning,
                "tool_calls":[{"index":index,"function":{"name":"f","arguments":args}}]},
                "finish_reason":reason}]});
            let mut t = StreamTranslator::new(opts(false));
            let lines = t.push(&chunk.to_string()).unwrap();
            for l in lines {
                proptest::prop_assert!(!l.message.content.is_empty() || l.message.thinking.is_some());
            }
            let _ = t.finish(timing());
        }
    }
}
