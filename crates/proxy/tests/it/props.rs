//! Property tests through the public API: arbitrary JSON and bytes fed to the request parser
//! (every POST route, over the router, with the fake Open WebUI behind it), the request and
//! reply translators, the stream translator and the SSE decoder. None may panic; every HTTP
//! answer is either a success in the route's format or an error with an `error` key.

use crate::{config_for, fake, password_creds};
use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use proxy::ollama::{ChatRequest, GenerateRequest};
use proxy::openai::ChatCompletion;
use proxy::translate::{self, ReplyOptions, StreamTranslator, Timing};
use proxy::upstream::sse::SseDecoder;
use serde_json::{json, Value};
use std::time::Instant;
use tower::ServiceExt;

const POST_ROUTES: [&str; 9] = [
    "/api/chat",
    "/api/generate",
    "/api/show",
    "/api/embed",
    "/api/embeddings",
    "/api/pull",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/api/delete",
];
const MODELS: [&str; 4] = ["fake-chat", "fake-embed", "fake-ollama", "nope"];

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON shaped like the requests clients send, with arbitrary values in every field.
fn request_like() -> impl Strategy<Value = Value> {
    let message = (
        prop::sample::select(vec!["user", "assistant", "system", "tool", "x"]),
        any_json(),
        any_json(),
    )
        .prop_map(
            |(role, content, extra)| json!({"role": role, "content": content, "tool_calls": extra}),
        );
    (
        prop::sample::select(MODELS.to_vec()),
        prop::collection::vec(message, 0..3),
        any_json(),
        any_json(),
        prop::option::of(any::<bool>()),
        any_json(),
    )
        .prop_map(|(model, messages, prompt, options, stream, think)| {
            json!({"model": model, "messages": messages, "prompt": prompt, "input": prompt,
                "options": options, "stream": stream, "think": think, "format": options})
        })
}

/// Checks one HTTP answer: success in the route's format, or an error carrying `error`.
fn check_answer(route: &str, status: u16, content_type: &str, body: &[u8]) {
    assert!((200..600).contains(&status), "{route}: status {status}");
    if status >= 400 {
        let v: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{route}: {status} body not JSON ({e}): {body:?}"));
        let err = &v["error"];
        assert!(
            err.is_string() || err["message"].is_string(),
            "{route}: {v}"
        );
        return;
    }
    let text = std::str::from_utf8(body).unwrap_or_else(|_| panic!("{route}: not UTF-8"));
    if content_type.starts_with("text/event-stream") {
        assert!(text.contains("data: "), "{route}: {text:?}");
    } else {
        for line in text.lines().filter(|l| !l.is_empty()) {
            serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{route}: {e}: {line}"));
        }
    }
}

#[test]
fn request_parser_answers_every_body_with_a_reply_or_an_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(async {
        let fake = fake::start().await;
        let state =
            proxy::AppState::new(config_for(&fake.url), password_creds(), Default::default());
        std::mem::forget(fake);
        proxy::router(state.unwrap())
    });
    let body = prop_oneof![
        request_like().prop_map(|v| v.to_string().into_bytes()),
        any_json().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64),
    ];
    let cfg = ProptestConfig {
        cases: 192,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(cfg, |(route in prop::sample::select(POST_ROUTES.to_vec()), body in body)| {
        let req = Request::post(route).header("host", "127.0.0.1").body(Body::from(body)).unwrap();
        let (status, ct, bytes) = rt.block_on(async {
            let resp = app.clone().oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
            (status, ct.unwrap_or_default(), bytes)
        });
        check_answer(route, status, &ct, &bytes);
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn request_translators_never_panic(v in prop_oneof![request_like(), any_json()]) {
        if let Ok(req) = serde_json::from_value::<ChatRequest>(v.clone()) {
            let _ = translate::chat_request(req, "upstream-model".into());
        }
        if let Ok(req) = serde_json::from_value::<GenerateRequest>(v) {
            let _ = translate::generate_request(req, "upstream-model".into());
        }
    }

    #[test]
    fn reply_translators_never_panic(v in any_json(), chunks in prop::collection::vec(any_json(), 0..6)) {
        let opts = ReplyOptions { model: "m".into(), drop_thinking: false };
        let now = Instant::now();
        let timing = Timing { started: now, first_byte: Some(now), ended: now };
        if let Ok(c) = serde_json::from_value::<ChatCompletion>(v) {
            let _ = translate::completion_response(c, &opts, timing);
        }
        let mut t = StreamTranslator::new(opts);
        let mut lines = Vec::new();
        for c in &chunks {
            let data = json!({"choices": [{"delta": c, "finish_reason": c}], "usage": c});
            let _ = t.push_into(&data.to_string(), &mut lines);
            let _ = t.push_into(&c.to_string(), &mut lines);
        }
        let _ = t.finish(timing);
    }

    #[test]
    fn sse_decoder_is_split_independent_and_never_panics(
        bytes in prop::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b':'), any::<u8>(), Just(b'd')], 0..200),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut whole = SseDecoder::new(1 << 16);
        let mut want = Vec::new();
        let whole_ok = whole.feed(&bytes, &mut want).is_ok();
        want.extend(whole.finish());
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut split = SseDecoder::new(1 << 16);
        let (mut got, mut start, mut split_ok) = (Vec::new(), 0, true);
        for p in points.into_iter().chain([bytes.len()]) {
            split_ok &= split.feed(&bytes[start..p], &mut got).is_ok();
            start = p;
        }
        got.extend(split.finish());
        prop_assert_eq!(whole_ok, split_ok);
        if whole_ok {
            prop_assert_eq!(got, want);
        }
    }
}
