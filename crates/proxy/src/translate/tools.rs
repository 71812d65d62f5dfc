//! Assembles OpenAI tool-call fragments into complete Ollama tool calls.
//!
//! Streams split a call over many deltas keyed by `index`: `id` and `name` come from the first
//! fragment that has them and `arguments` pieces are concatenated. Non-streamed replies (and
//! some backends) send whole calls, often without `index`; such a fragment starts a new call
//! when it carries an id or name not seen yet, and continues the last call otherwise.
//! Nothing is emitted until [`ToolCalls::finish`], which parses each argument string into the
//! JSON object Ollama clients require. Native replies never carry the call `id`.

use serde_json::{Map, Value};

use super::StreamError;
use crate::ollama::{ToolCall, ToolCallFunction};
use crate::openai::DeltaToolCall;

/// One call being assembled.
#[derive(Debug, Default)]
struct Partial {
    index: usize,
    id: Option<String>,
    name: String,
    arguments: String,
}

/// Tool calls of one reply, kept sorted by `index`.
#[derive(Debug, Default)]
pub(crate) struct ToolCalls {
    calls: Vec<Partial>,
    last: usize,
}

impl ToolCalls {
    /// Adds one fragment.
    pub(crate) fn push(&mut self, frag: DeltaToolCall) {
        let DeltaToolCall {
            index,
            id,
            function,
        } = frag;
        let (name, arguments) = function.map(|f| (f.name, f.arguments)).unwrap_or_default();
        let id = id.filter(|s| !s.is_empty());
        let name = name.filter(|s| !s.is_empty());
        let pos = self.slot(index, id.as_deref(), name.is_some());
        self.last = pos;
        let call = &mut self.calls[pos];
        if call.id.is_none() {
            call.id = id;
        }
        if let Some(name) = name.filter(|_| call.name.is_empty()) {
            call.name = name;
        }
        match arguments {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if call.arguments.is_empty() => call.arguments = s,
            Some(Value::String(s)) => call.arguments.push_str(&s),
            Some(other) => call.arguments.push_str(&other.to_string()),
        }
    }

    /// Position of the call a fragment belongs to, creating it when new.
    fn slot(&mut self, index: Option<usize>, id: Option<&str>, named: bool) -> usize {
        if let Some(index) = index {
            return match self.calls.binary_search_by_key(&index, |c| c.index) {
                Ok(pos) => pos,
                Err(pos) => {
                    self.calls.insert(
                        pos,
                        Partial {
                            index,
                            ..Partial::default()
                        },
                    );
                    pos
                }
            };
        }
        if let Some(pos) =
            id.and_then(|id| self.calls.iter().position(|c| c.id.as_deref() == Some(id)))
        {
            return pos;
        }
        if id.is_some() || named || self.calls.is_empty() {
            let index = self.calls.last().map_or(0, |c| c.index + 1);
            self.calls.push(Partial {
                index,
                ..Partial::default()
            });
            return self.calls.len() - 1;
        }
        self.last.min(self.calls.len() - 1)
    }

    /// The complete calls, ordered by index and numbered from 0.
    pub(crate) fn finish(self) -> Result<Vec<ToolCall>, StreamError> {
        self.calls
            .into_iter()
            .enumerate()
            .map(|(index, call)| {
                let arguments = parse_arguments(&call.name, &call.arguments)?;
                let function = ToolCallFunction {
                    index,
                    name: call.name,
                    arguments,
                };
                Ok(ToolCall { id: None, function })
            })
            .collect()
    }
}

/// Parses assembled arguments: empty → `{}`; an object → itself; a JSON string holding an
/// object (double-encoded by some backends) → that object; anything else is an error.
fn parse_arguments(name: &str, text: &str) -> Result<Value, StreamError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let bad = |why: String| StreamError::ToolArguments(format!("{name}: {why}"));
    match serde_json::from_str::<Value>(text).map_err(|e| bad(e.to_string()))? {
        Value::Object(m) => Ok(Value::Object(m)),
        Value::String(inner) => match serde_json::from_str::<Value>(&inner) {
            Ok(Value::Object(m)) => Ok(Value::Object(m)),
            _ => Err(bad("not a JSON object".to_owned())),
        },
        _ => Err(bad("not a JSON object".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frags(v: Value) -> Vec<DeltaToolCall> {
        serde_json::from_value(v).unwrap()
    }

    fn assemble(v: Value) -> Result<Value, StreamError> {
        let mut t = ToolCalls::default();
        for f in frags(v) {
            t.push(f);
        }
        Ok(serde_json::to_value(t.finish()?).unwrap())
    }

    #[test]
    fn streamed_fragments_are_joined_per_index() {
        let got = assemble(json!([
            {"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}},
            {"index":1,"id":"call_2","function":{"name":"get_time","arguments":"{\"tz\":"}},
            {"index":0,"function":{"arguments":"{\"ci"}},
            {"index":0,"function":{"arguments":"ty\":\"Tokyo\"}"}},
            {"index":1,"function":{"arguments":"\"UTC\"}"}}
        ]))
        .unwrap();
        assert_eq!(
            got,
            json!([
                {"function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo"}}},
                {"function":{"index":1,"name":"get_time","arguments":{"tz":"UTC"}}}
            ])
        );
    }

    #[test]
    fn whole_calls_without_index_and_odd_shapes() {
        let cases = [
            // non-streamed: whole calls, no index
            (
                json!([{"id":"a","function":{"name":"f","arguments":"{\"x\":1}"}},
                       {"id":"b","function":{"name":"g","arguments":"{}"}}]),
                json!([{"function":{"index":0,"name":"f","arguments":{"x":1}}},
                       {"function":{"index":1,"name":"g","arguments":{}}}]),
            ),
            // arguments already an object; empty arguments
            (
                json!([{"index":3,"function":{"name":"f","arguments":{"k":[1,2]}}},
                       {"index":7,"function":{"name":"g"}}]),
                json!([{"function":{"index":0,"name":"f","arguments":{"k":[1,2]}}},
                       {"function":{"index":1,"name":"g","arguments":{}}}]),
            ),
            // id repeated on every fragment, no index
            (
                json!([{"id":"a","function":{"name":"f","arguments":"{\"x\""}},
                       {"id":"a","function":{"arguments":":2}"}},
                       {"function":{"arguments":" "}}]),
                json!([{"function":{"index":0,"name":"f","arguments":{"x":2}}}]),
            ),
            // double-encoded arguments
            (
                json!([{"index":0,"function":{"name":"f","arguments":"\"{\\\"a\\\":true}\""}}]),
                json!([{"function":{"index":0,"name":"f","arguments":{"a":true}}}]),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(assemble(input.clone()).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        for args in ["[1,2]", "42", "{\"a\":", "\"text\"", "null"] {
            let err = assemble(json!([{"index":0,"function":{"name":"f","arguments":args}}]));
            assert!(
                matches!(err, Err(StreamError::ToolArguments(ref m)) if m.starts_with("f: ")),
                "{args}: {err:?}"
            );
        }
    }

    #[test]
    fn no_id_is_ever_written() {
        let got = assemble(json!([{"index":0,"id":"call_x","function":{"name":"f"}}])).unwrap();
        assert!(got[0].get("id").is_none());
        assert_eq!(
            got[0].as_object().unwrap().len(),
            1,
            "only `function`: {got}"
        );
    }
}
