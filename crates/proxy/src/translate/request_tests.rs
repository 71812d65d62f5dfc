//! Tests of [`super`]: Ollama request JSON in → upstream request JSON out.

use super::*;
use serde_json::json;

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

fn chat(v: Value) -> Result<Value, TranslateError> {
    let req: ChatRequest = serde_json::from_value(v).unwrap();
    chat_request(req, "up".into()).map(|r| serde_json::to_value(r).unwrap())
}

fn generate(v: Value) -> Result<Value, TranslateError> {
    let req: GenerateRequest = serde_json::from_value(v).unwrap();
    generate_request(req, "up".into()).map(|r| serde_json::to_value(r).unwrap())
}

fn bad(msg: &str) -> Result<Value, TranslateError> {
    Err(TranslateError::BadRequest(msg.into()))
}

#[test]
fn chat_table() {
    let cases = [
        // stream absent → true with include_usage; model replaced; roles lower-cased
        (
            json!({"model":"m","messages":[{"role":"User","content":"hi"}]}),
            json!({"model":"up","messages":[{"role":"user","content":"hi"}],"stream":true,
                   "stream_options":{"include_usage":true}}),
        ),
        // stream false → no stream_options; images:[] on every role, thinking dropped
        (
            json!({"model":"m","stream":false,"messages":[
                {"role":"system","content":"be brief","images":[]},
                {"role":"user","content":"hi","images":[]},
                {"role":"assistant","content":"yo","thinking":"hmm","images":[]}]}),
            json!({"model":"up","stream":false,"messages":[
                {"role":"system","content":"be brief"},
                {"role":"user","content":"hi"},
                {"role":"assistant","content":"yo"}]}),
        ),
        // images → parts; image-only message has no text part; assistant images dropped
        (
            json!({"model":"m","stream":false,"messages":[
                {"role":"user","content":"what is this","images":[PNG]},
                {"role":"assistant","content":"","images":[PNG]},
                {"role":"user","content":"","images":[format!("data:image/gif;base64,{PNG}")]}]}),
            json!({"model":"up","stream":false,"messages":[
                {"role":"user","content":[{"type":"text","text":"what is this"},
                    {"type":"image_url","image_url":{"url":format!("data:image/png;base64,{PNG}")}}]},
                {"role":"assistant","content":""},
                {"role":"user","content":[
                    {"type":"image_url","image_url":{"url":format!("data:image/gif;base64,{PNG}")}}]}]}),
        ),
        // tools: empty list → none; given → passed through
        (
            json!({"model":"m","stream":false,"tools":[],"messages":[{"role":"user","content":"x"}]}),
            json!({"model":"up","stream":false,"messages":[{"role":"user","content":"x"}]}),
        ),
        (
            json!({"model":"m","stream":false,"tools":[{"type":"function","function":{"name":"f"}}],
                   "messages":[{"role":"user","content":"x"}]}),
            json!({"model":"up","stream":false,"messages":[{"role":"user","content":"x"}],
                   "tools":[{"type":"function","function":{"name":"f"}}]}),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(chat(input.clone()).unwrap(), want, "{input}");
    }
}

#[test]
fn tool_round_trip_pairs_results_with_calls() {
    let input = json!({"model":"m","stream":false,"messages":[
        {"role":"user","content":"weather and time?"},
        {"role":"assistant","content":"","tool_calls":[
            {"function":{"name":"get_weather","arguments":{"city":"Paris"}}},
            {"id":"given","function":{"name":"get_time","arguments":"{\"tz\":\"CET\"}"}},
            {"function":{"name":"get_weather","arguments":{}}}]},
        {"role":"tool","tool_name":"get_time","content":"12:00"},
        {"role":"tool","content":"sunny"},
        {"role":"tool","tool_call_id":"explicit","content":"?"},
        {"role":"tool","tool_name":"get_weather","content":"rain"},
        {"role":"tool","content":"extra"},
        {"role":"assistant","content":"","tool_calls":[{"function":{"name":"f"}}]},
        {"role":"tool","tool_name":"nope","content":"r"}]});
    let want = json!({"model":"up","stream":false,"messages":[
        {"role":"user","content":"weather and time?"},
        {"role":"assistant","content":"","tool_calls":[
            {"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
            {"id":"given","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"CET\"}"}},
            {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
        {"role":"tool","content":"12:00","tool_call_id":"given"},
        {"role":"tool","content":"sunny","tool_call_id":"call_0"},
        {"role":"tool","content":"?","tool_call_id":"explicit"},
        {"role":"tool","content":"rain","tool_call_id":"call_2"},
        {"role":"tool","content":"extra"},
        {"role":"assistant","content":"","tool_calls":[
            {"id":"call_3","type":"function","function":{"name":"f","arguments":"{}"}}]},
        {"role":"tool","content":"r","tool_call_id":"call_3"}]});
    assert_eq!(chat(input).unwrap(), want);
}

#[test]
fn options_go_top_level_and_into_params() {
    let input = json!({"model":"m","stream":false,"messages":[{"role":"user","content":"x"}],
        "options":{"num_predict":128.9,"temperature":"0.2","top_p":0.9,"seed":3.7,"stop":"END",
            "presence_penalty":0.1,"frequency_penalty":0.2,"top_k":40,"min_p":0.05,
            "repeat_penalty":1.1,"num_ctx":"8192","mirostat":1,"penalize_newline":true,
            "typical_p":null,"num_gpu":99,"use_mmap":false,"system":"no","think":true,
            "max_tokens":5,"tfs_z":[1]}});
    let want = json!({"model":"up","stream":false,"messages":[{"role":"user","content":"x"}],
        "max_tokens":128,"temperature":0.2,"top_p":0.9,"seed":3,"stop":["END"],
        "presence_penalty":0.1,"frequency_penalty":0.2,
        "params":{"temperature":0.2,"top_p":0.9,"seed":3,"presence_penalty":0.1,
            "frequency_penalty":0.2,"max_tokens":128,"top_k":40,"min_p":0.05,
            "repeat_penalty":1.1,"num_ctx":8192,"mirostat":1,"penalize_newline":true}});
    assert_eq!(chat(input).unwrap(), want);
}

#[test]
fn num_predict_zero_or_negative_sends_nothing() {
    for n in [
        json!(-1),
        json!(-2),
        json!(0),
        json!(0.5),
        json!(null),
        json!("x"),
    ] {
        let input = json!({"model":"m","stream":false,"messages":[{"role":"user","content":"x"}],
            "options":{"num_predict":n}});
        let got = chat(input).unwrap();
        assert!(
            got.get("max_tokens").is_none() && got.get("params").is_none(),
            "{n}: {got}"
        );
    }
}

#[test]
fn retain_portable_params_drops_ollama_only_keys() {
    let req: ChatRequest =
        serde_json::from_value(json!({"model":"m","format":"json","think":false,
        "messages":[{"role":"user","content":"x"}],
        "options":{"temperature":0.5,"num_ctx":4096,"top_k":1,"seed":9,"mirostat":2}}))
        .unwrap();
    let mut out = chat_request(req, "up".into()).unwrap();
    assert_eq!(out.params.len(), 7);
    retain_portable_params(&mut out);
    assert_eq!(
        Value::Object(out.params),
        json!({"temperature":0.5,"seed":9})
    );
}

#[test]
fn format_table() {
    let closed = json!({"type":"object","additionalProperties":false,"required":["a","b"],
        "properties":{"a":{"type":"string"},
            "b":{"type":"array","items":{"type":"object","properties":{"c":{"type":"integer"}},
                 "required":["c"],"additionalProperties":false}}}});
    let open_nested = json!({"type":"object","additionalProperties":false,"required":["a"],
        "properties":{"a":{"type":"object","properties":{"c":{"type":"integer"}}}}});
    let not_required = json!({"type":"object","additionalProperties":false,
        "properties":{"a":{"type":"string"}}});
    let cases = [
        (
            json!("json"),
            Some(json!({"type":"json_object"})),
            Some(json!({"format":"json"})),
        ),
        (json!(""), None, None),
        (json!(null), None, None),
        (closed.clone(), Some(schema(&closed, true)), None),
        (open_nested.clone(), Some(schema(&open_nested, false)), None),
        (
            not_required.clone(),
            Some(schema(&not_required, false)),
            None,
        ),
        (
            json!({"type":"string"}),
            Some(schema(&json!({"type":"string"}), false)),
            None,
        ),
    ];
    for (format, want, params) in cases {
        let got = chat(json!({"model":"m","stream":false,"format":format,
            "messages":[{"role":"user","content":"x"}]}))
        .unwrap();
        assert_eq!(got.get("response_format"), want.as_ref(), "{format}");
        assert_eq!(got.get("params"), params.as_ref(), "{format}");
    }
}

fn schema(s: &Value, strict: bool) -> Value {
    json!({"type":"json_schema","json_schema":{"name":"response","schema":s,"strict":strict}})
}

#[test]
fn invalid_formats_use_ollamas_text() {
    let tail = "; expected \"json\" or a valid JSON Schema object";
    let cases = [
        (json!("xml"), r#""\"xml\"""#),
        (json!("JSON"), r#""\"JSON\"""#),
        (json!(5), r#""5""#),
        (json!([1]), r#""[1]""#),
        (json!(true), r#""true""#),
    ];
    for (format, shown) in cases {
        let got =
            chat(json!({"model":"m","format":format,"messages":[{"role":"user","content":"x"}]}));
        assert_eq!(
            got,
            bad(&format!("invalid format: {shown}{tail}")),
            "{format}"
        );
    }
}

#[test]
fn think_table() {
    let cases = [
        (json!(true), None, None),
        (json!(false), None, Some(json!({"think":false}))),
        (json!("low"), Some("low"), None),
        (json!("medium"), Some("medium"), None),
        (json!("high"), Some("high"), None),
        (json!("max"), Some("high"), None),
    ];
    for (think, effort, params) in cases {
        let got = chat(json!({"model":"m","stream":false,"think":think,
            "messages":[{"role":"user","content":"x"}]}))
        .unwrap();
        assert_eq!(
            got.get("reasoning_effort").and_then(Value::as_str),
            effort,
            "{think}"
        );
        assert_eq!(got.get("params"), params.as_ref(), "{think}");
    }
    let err =
        chat(json!({"model":"m","think":"extreme","messages":[{"role":"user","content":"x"}]}));
    assert_eq!(
        err,
        bad(
            r#"invalid think value: "extreme" (must be "high", "medium", "low", "max", true, or false)"#
        )
    );
}

#[test]
fn chat_errors() {
    let cases = [
        (
            json!({"model":"m","messages":[]}),
            bad("messages are required"),
        ),
        (json!({"model":"m"}), bad("messages are required")),
        (
            json!({"model":"m","messages":[{"role":"bot","content":"x"}]}),
            bad("invalid role \"bot\""),
        ),
        (
            json!({"model":"m","messages":[{"content":"x"}]}),
            bad("invalid role \"\""),
        ),
        (
            json!({"model":"m","messages":[{"role":"user","content":"x","images":["@@"]}]}),
            bad("invalid image: not valid base64"),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(chat(input.clone()), want, "{input}");
    }
}

#[test]
fn generate_table() {
    let cases = [
        (
            json!({"model":"m","prompt":"Why?","system":"Be brief.","raw":true,"template":"t",
                   "context":[1,2],"keep_alive":0}),
            json!({"model":"up","stream":true,"stream_options":{"include_usage":true},"messages":[
                {"role":"system","content":"Be brief."},{"role":"user","content":"Why?"}]}),
        ),
        (
            json!({"model":"m","prompt":"","system":"","images":[PNG],"stream":false,
                   "options":{"num_predict":5},"suffix":""}),
            json!({"model":"up","stream":false,"max_tokens":5,"params":{"max_tokens":5},
                   "messages":[{"role":"user","content":[
                       {"type":"image_url","image_url":{"url":format!("data:image/png;base64,{PNG}")}}]}]}),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(generate(input.clone()).unwrap(), want, "{input}");
    }
}

#[test]
fn generate_errors() {
    assert_eq!(
        generate(json!({"model":"m","prompt":"def f(","suffix":"return 1"})),
        Err(TranslateError::Unsupported(
            "\"up\" does not support insert".into()
        ))
    );
    assert_eq!(generate(json!({"model":"m"})), bad("prompt is required"));
    assert!(generate(json!({"model":"m","prompt":"x","think":"?"})).is_err());
}

#[test]
fn no_history_ids_are_ever_sent() {
    let got = chat(
        json!({"model":"m","messages":[{"role":"user","content":"x"}],
        "chat_id":"c","parent_id":null,"session_id":"s","id":"i"}),
    )
    .unwrap();
    for key in ["chat_id", "parent_id", "session_id", "id", "metadata"] {
        assert!(got.get(key).is_none(), "{key}");
    }
}
