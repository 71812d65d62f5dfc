//! Tests of [`super`], on model objects shaped like captures 200 and 104.

use super::*;
use serde_json::json;

fn model(v: Value) -> Model {
    serde_json::from_value(v).unwrap()
}

/// Capture 200: an OpenAI-type model without admin settings.
fn fake_chat() -> Model {
    model(
        json!({"id":"fake-chat","object":"model","created":1700000000,"owned_by":"openai",
        "connection_type":"external","name":"fake-chat","openai":{"id":"fake-chat"},"tags":[]}),
    )
}

/// Capture 200: an Ollama-backed model.
fn fake_ollama() -> Model {
    model(
        json!({"id":"fake-ollama:latest","name":"fake-ollama:latest","created":0,"owned_by":"ollama",
        "ollama":{"name":"fake-ollama:latest","model":"fake-ollama:latest",
            "modified_at":"2024-01-01T00:00:00Z","size":1234567890,
            "digest":"dcde62c4fd3dc6512ffae9480174d56f04a50eb53877233037b51734830a74e3",
            "details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],
                       "parameter_size":"7B","quantization_level":"Q4_K_M"},
            "connection_type":"local","urls":[0]}}),
    )
}

/// Capture 104: admin-edited vision model.
fn fake_vision() -> Model {
    model(
        json!({"id":"fake-vision","created":1700000000,"owned_by":"openai","name":"Fake Vision",
        "info":{"base_model_id":null,"params":{},"meta":{"description":"A fake vision model",
            "capabilities":{"vision":true,"file_upload":true,"usage":true,"citations":false}}}}),
    )
}

/// Capture 104: hidden model.
fn hidden() -> Model {
    model(
        json!({"id":"fake-reason","owned_by":"openai","info":{"meta":{"capabilities":null,"hidden":true}}}),
    )
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn list_entries() {
    let cases = [
        (
            fake_chat(),
            json!({"name":"fake-chat","model":"fake-chat","modified_at":"2023-11-14T22:13:20Z",
                "size":0,"digest":sha256_hex("fake-chat"),
                "details":{"parent_model":"","format":"gguf","family":"fake","families":["fake"],
                           "parameter_size":"","quantization_level":""}}),
        ),
        (
            fake_ollama(),
            json!({"name":"fake-ollama:latest","model":"fake-ollama:latest",
                "modified_at":"2024-01-01T00:00:00Z","size":1234567890,
                "digest":"dcde62c4fd3dc6512ffae9480174d56f04a50eb53877233037b51734830a74e3",
                "details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],
                           "parameter_size":"7B","quantization_level":"Q4_K_M"}}),
        ),
        (
            fake_vision(),
            json!({"name":"fake-vision","model":"fake-vision","modified_at":"2023-11-14T22:13:20Z",
                "size":0,"digest":sha256_hex("fake-vision"),
                "details":{"parent_model":"","format":"gguf","family":"fake","families":["fake","clip"],
                           "parameter_size":"","quantization_level":""}}),
        ),
        (
            model(json!({"id":"x/Llama3.2:8b","owned_by":"ollama","ollama":{
                "modified_at":"2025-05-01T10:11:12.123456789+02:00","digest":"sha256:ABCD",
                "details":{"family":"","families":null,"format":null}}})),
            json!({"name":"x/Llama3.2:8b","model":"x/Llama3.2:8b",
                "modified_at":"2025-05-01T08:11:12.123456789Z","size":0,
                "digest":sha256_hex("x/Llama3.2:8b"),
                "details":{"parent_model":"","format":"gguf","family":"llama3","families":["llama3"],
                           "parameter_size":"","quantization_level":""}}),
        ),
        (
            model(
                json!({"id":"m","ollama":{"modified_at":"2024-03-04 05:06:07.5",
                "details":{"families":["mllama"]}}}),
            ),
            json!({"name":"m","model":"m","modified_at":"2024-03-04T05:06:07.500Z","size":0,
                "digest":sha256_hex("m"),
                "details":{"parent_model":"","format":"gguf","family":"m","families":["mllama"],
                           "parameter_size":"","quantization_level":""}}),
        ),
        (
            model(
                json!({"id":"-odd","owned_by":"Arena","created":-5,"ollama":{"modified_at":"yesterday"}}),
            ),
            json!({"name":"-odd","model":"-odd","modified_at":"2024-01-01T00:00:00Z","size":0,
                "digest":sha256_hex("-odd"),
                "details":{"parent_model":"","format":"gguf","family":"arena","families":["arena"],
                           "parameter_size":"","quantization_level":""}}),
        ),
    ];
    for (m, want) in cases {
        assert_eq!(
            serde_json::to_value(list_entry(&m)).unwrap(),
            want,
            "{}",
            m.id
        );
    }
}

#[test]
fn tags_skip_empty_and_hidden_and_keep_order() {
    let models = [
        fake_ollama(),
        hidden(),
        model(json!({"id":""})),
        fake_chat(),
        fake_vision(),
    ];
    let names: Vec<String> = tags(&models).models.into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["fake-ollama:latest", "fake-chat", "fake-vision"]);
    assert_eq!(
        serde_json::to_value(tags(&[])).unwrap(),
        json!({"models":[]})
    );
}

#[test]
fn capability_table() {
    let caps = |id: &str, extra: Value| {
        let mut v = json!({"id": id});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        capabilities(&model(v))
    };
    let none = json!({});
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("gpt-4o", none.clone(), vec!["completion", "tools"]),
        (
            "fake-vision",
            json!({"info":{"meta":{"capabilities":{"vision":true}}}}),
            vec!["completion", "tools", "vision"],
        ),
        (
            "openai/o3-mini",
            none.clone(),
            vec!["completion", "tools", "thinking"],
        ),
        ("o1", none.clone(), vec!["completion", "tools", "thinking"]),
        (
            "deepseek-r1:14b",
            none.clone(),
            vec!["completion", "tools", "thinking"],
        ),
        (
            "QwQ-32B",
            none.clone(),
            vec!["completion", "tools", "thinking"],
        ),
        (
            "gpt-oss:20b",
            none.clone(),
            vec!["completion", "tools", "thinking"],
        ),
        ("mistral-nemo3", none.clone(), vec!["completion", "tools"]),
        (
            "fake-reason",
            json!({"info":{"meta":{"capabilities":{"reasoning":false}}}}),
            vec!["completion", "tools"],
        ),
        (
            "plain",
            json!({"info":{"meta":{"capabilities":{"thinking":true}}}}),
            vec!["completion", "tools", "thinking"],
        ),
        ("text-embedding-3-small", none.clone(), vec!["embedding"]),
        ("nomic-Embed-text:latest", none.clone(), vec!["embedding"]),
        (
            "llava",
            json!({"ollama":{"details":{"families":["llama","clip"]}}}),
            vec!["completion", "tools", "vision"],
        ),
    ];
    for (id, extra, want) in cases {
        assert_eq!(caps(id, extra), want, "{id}");
    }
}

#[test]
fn context_length_table() {
    let cases = [
        (json!({"id":"a"}), 8192),
        (json!({"id":"a","info":{"params":{}}}), 8192),
        (json!({"id":"a","info":{"params":{"num_ctx":32768}}}), 32768),
        (json!({"id":"a","info":{"params":{"num_ctx":"4096"}}}), 4096),
        (json!({"id":"a","info":{"params":{"num_ctx":-1}}}), 8192),
        (json!({"id":"a","info":{"params":{"num_ctx":null}}}), 8192),
    ];
    for (m, want) in cases {
        assert_eq!(context_length(&model(m.clone())), want, "{m}");
    }
}

#[test]
fn show_reply() {
    let got = serde_json::to_value(show(&fake_ollama())).unwrap();
    let want = json!({
        "license":"",
        "modelfile":"# Modelfile generated by \"ollama show\"\n# To build a new Modelfile based on this, replace FROM with:\n# FROM fake-ollama:latest\n\nFROM fake-ollama:latest\n",
        "parameters":"num_ctx                        8192",
        "template":"{{ .Prompt }}",
        "details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],
                   "parameter_size":"7B","quantization_level":"Q4_K_M"},
        "model_info":{"general.architecture":"llama","general.basename":"fake-ollama:latest",
                      "llama.context_length":8192},
        "capabilities":["completion","tools"],
        "modified_at":"2024-01-01T00:00:00Z"});
    assert_eq!(got, want);
    let params = show(&fake_chat()).parameters;
    assert_eq!(
        params.find("8192"),
        Some(31),
        "key padded to 30 columns, then a space"
    );
}

#[test]
fn resolve_table() {
    let models = [
        fake_chat(),
        fake_ollama(),
        model(json!({"id":"Gpt-4o"})),
        model(json!({"id":"gpt-4o:latest"})),
        model(json!({"id":"org/bare"})),
        hidden(),
        model(json!({"id":""})),
    ];
    let cases = [
        ("fake-chat", Some("fake-chat")),
        ("FAKE-CHAT", Some("fake-chat")),
        ("fake-chat:latest", Some("fake-chat")),
        ("fake-chat:LATEST", Some("fake-chat")),
        ("fake-ollama", Some("fake-ollama:latest")),
        ("fake-ollama:latest", Some("fake-ollama:latest")),
        ("gpt-4o:latest", Some("gpt-4o:latest")),
        ("gpt-4o", Some("Gpt-4o")),
        ("org/bare:latest", Some("org/bare")),
        ("fake-reason", Some("fake-reason")),
        ("fake-chat:7b", None),
        ("fake-ollama:7b", None),
        ("", None),
        ("nope", None),
    ];
    for (requested, want) in cases {
        assert_eq!(
            resolve(&models, requested).map(|i| models[i].id.as_str()),
            want,
            "{requested}"
        );
    }
}

#[test]
fn ps_entry_shape() {
    let got =
        serde_json::to_value(ps_entry(&fake_vision(), "2030-01-01T00:00:00Z".into())).unwrap();
    assert_eq!(
        got,
        json!({"name":"fake-vision","model":"fake-vision","size":0,"digest":sha256_hex("fake-vision"),
            "details":{"parent_model":"","format":"gguf","family":"fake","families":["fake","clip"],
                       "parameter_size":"","quantization_level":""},
            "expires_at":"2030-01-01T00:00:00Z","size_vram":0,"context_length":8192})
    );
}

#[test]
fn ollama_backed() {
    assert!(is_ollama_backed(&fake_ollama()));
    assert!(!is_ollama_backed(&fake_chat()));
    assert!(!is_ollama_backed(&model(json!({"id":"x"}))));
}

#[test]
fn hidden_and_empty_are_not_listed() {
    assert!(!is_listed(&hidden()));
    assert!(!is_listed(&model(json!({"id":"  "}))));
    assert!(is_listed(&fake_vision()));
}
