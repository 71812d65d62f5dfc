//! Liveness and metadata routes (`/`, `/api/version`, `/api/tags`, `/api/show`, `/api/ps`),
//! the model-management refusals, and the model-list cache.

use crate::{assert_rfc3339, fake, harness, password_creds, send, Harness};
use serde_json::{json, Value};

const LISTED: [&str; 5] = [
    "fake-chat",
    "fake-ollama:latest",
    "fake-vision",
    "fake-reason",
    "fake-embed",
];

#[tokio::test]
async fn root_answers_get_and_head() {
    let h = harness().await;
    let r = h.get("/").await;
    r.assert_status(200);
    assert_eq!(r.text(), "Ollama is running");
    assert_eq!(r.header("content-type"), "text/plain; charset=utf-8");
    let r = send(h.http.head(h.url("/"))).await;
    r.assert_status(200);
    assert!(r.body.is_empty());
    // Enchanted sends these headers even on HEAD.
    let r = send(
        h.http
            .head(h.url("/"))
            .header("authorization", "Bearer ")
            .header("content-type", "application/json"),
    )
    .await;
    r.assert_status(200);
    assert_eq!(h.fake.requests().len(), 0, "liveness needs no upstream");
}

#[tokio::test]
async fn head_works_on_metadata_routes() {
    let h = harness().await;
    for path in ["/api/version", "/api/tags"] {
        let r = send(h.http.head(h.url(path))).await;
        r.assert_status(200);
        assert!(r.body.is_empty(), "{path}");
        assert!(
            r.header("content-type").starts_with("application/json"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn version_is_numeric() {
    let h = harness().await;
    let r = h.get("/api/version").await;
    r.assert_status(200);
    assert!(r.header("content-type").starts_with("application/json"));
    let v = r.json();
    assert_eq!(v, json!({"version": "0.12.3"}));
    let parts: Vec<u32> = v["version"]
        .as_str()
        .unwrap()
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(parts >= vec![0, 6, 4], "clients gate on >= 0.6.4");
}

fn is_hex64(s: &Value) -> bool {
    s.as_str().is_some_and(|s| {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Every `/api/tags` rule of `clients.md` §14.4.
pub fn assert_tags_entry(m: &Value) {
    assert!(m["name"].is_string() && m["name"] == m["model"], "{m}");
    assert!(m["size"].is_u64(), "size must be an integer: {m}");
    assert!(is_hex64(&m["digest"]), "digest: {m}");
    assert_rfc3339(&m["modified_at"]);
    let d = m["details"]
        .as_object()
        .unwrap_or_else(|| panic!("details: {m}"));
    for k in [
        "parent_model",
        "format",
        "family",
        "parameter_size",
        "quantization_level",
    ] {
        assert!(d[k].is_string(), "details.{k}: {m}");
    }
    let families = d["families"]
        .as_array()
        .unwrap_or_else(|| panic!("families: {m}"));
    assert!(
        families.iter().all(Value::is_string) && !families.is_empty(),
        "{m}"
    );
    assert_eq!(d.len(), 6, "six details keys: {m}");
}

#[tokio::test]
async fn tags_list_models_in_ollama_shape() {
    let h = harness().await;
    let r = h.get("/api/tags").await;
    r.assert_status(200);
    assert!(r.header("content-type").starts_with("application/json"));
    let v = r.json();
    let models = v["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, LISTED, "hidden model dropped, order kept");
    for m in models {
        assert_tags_entry(m);
    }
    let ollama = &models[1];
    assert_eq!(ollama["size"], 1234567890u64);
    assert_eq!(
        ollama["digest"],
        "dcde62c4fd3dc6512ffae9480174d56f04a50eb53877233037b51734830a74e3"
    );
    assert_eq!(
        ollama["details"],
        json!({"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
            "parameter_size": "7B", "quantization_level": "Q4_K_M"})
    );
    let families = models[2]["details"]["families"].as_array().unwrap();
    assert!(
        families.contains(&json!("clip")),
        "vision model needs clip: {}",
        models[2]
    );
    assert_eq!(models[0]["size"], 0);
    assert_eq!(
        models[0]["modified_at"], "2023-11-14T22:13:20Z",
        "from created"
    );
    // The model list was fetched once with the session token.
    let req = h.fake.requests_to("/api/models");
    assert_eq!(req.len(), 1);
    assert!(req[0].bearer().unwrap().starts_with("jwt-"));
    h.get("/api/tags").await.assert_status(200);
    assert_eq!(
        h.fake.count(&h.fake.model_lists),
        1,
        "served from the cache"
    );
}

#[tokio::test]
async fn defect_50_digest_and_modified_at_are_stable() {
    let h = harness().await;
    let first = h.get("/api/tags").await.json();
    let other = Harness::new(password_creds(), |_| {}).await;
    let second = other.get("/api/tags").await.json();
    assert_eq!(first, second, "the same models give the same entries");
    let digests: Vec<&Value> = first["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["digest"])
        .collect();
    let mut unique = digests.clone();
    unique.dedup();
    assert_eq!(unique.len(), digests.len(), "distinct digests: {digests:?}");
}

#[tokio::test]
async fn defect_47_zero_models_is_an_empty_list() {
    let h = harness().await;
    h.fake.set(|b| b.models.clear());
    let r = h.get("/api/tags").await;
    r.assert_status(200);
    assert_eq!(r.json(), json!({"models": []}));
}

#[tokio::test]
async fn defect_43_entries_without_id_are_skipped() {
    let h = harness().await;
    h.fake.set(|b| {
        b.models
            .insert(0, json!({"id": "", "name": "", "object": "model"}));
        b.models.push(json!({"id": "bare", "object": "model"}));
    });
    let v = h.get("/api/tags").await.json();
    let names: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"fake-chat"));
    assert_eq!(names.last(), Some(&"bare"));
    for m in v["models"].as_array().unwrap() {
        assert_tags_entry(m);
    }
}

#[tokio::test]
async fn defect_49_stale_list_is_served_while_upstream_fails() {
    let ttl = std::time::Duration::from_millis(1);
    let h = Harness::new(password_creds(), |c| c.tags_ttl = ttl).await;
    let first = h.get("/api/tags").await.json();
    h.fake.set(|b| b.models_status = Some(500));
    // Every answer is the stale list, while refreshes (in the background) keep failing.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.fake.count(&h.fake.model_lists) < 3 {
        let r = h.get("/api/tags").await;
        r.assert_status(200);
        assert_eq!(r.json(), first);
        assert!(tokio::time::Instant::now() < deadline, "no refresh attempt");
        h.fake.wait_for_any(ttl * 20).await;
    }
    let chat = h
        .post("/api/chat", &crate::chat_req("fake-chat", "hi"))
        .await;
    chat.assert_status(200);
}

#[tokio::test]
async fn model_list_html_page_means_wrong_url() {
    let h = harness().await;
    h.fake.set(|b| b.models_html = true);
    let msg = h.get("/api/tags").await.assert_error(502);
    assert!(msg.contains("URL"), "{msg}");
}

#[tokio::test]
async fn model_list_upstream_error_is_502_with_its_message() {
    let h = harness().await;
    h.fake.set(|b| b.models_status = Some(500));
    let msg = h.get("/api/tags").await.assert_error(502);
    assert!(msg.contains("Server Connection Error"), "{msg}");
}

/// The `/api/show` rules of `clients.md` §14.5.
fn assert_show(v: &Value) {
    for k in ["license", "template", "modelfile", "parameters"] {
        assert!(v[k].is_string(), "{k} must be a string: {v}");
    }
    let info = v["model_info"]
        .as_object()
        .unwrap_or_else(|| panic!("model_info: {v}"));
    let arch = info["general.architecture"].as_str().unwrap();
    assert!(!arch.is_empty());
    assert!(info[&format!("{arch}.context_length")].is_u64(), "{v}");
    assert!(info["general.basename"].is_string(), "{v}");
    assert!(v["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .all(Value::is_string));
    assert_rfc3339(&v["modified_at"]);
    assert_eq!(v["details"].as_object().unwrap().len(), 6, "{v}");
    for line in v["parameters"].as_str().unwrap().lines() {
        let (key, value) = line.split_once(char::is_whitespace).unwrap();
        assert!(
            !key.is_empty() && !value.trim().is_empty(),
            "parameters line {line:?}"
        );
    }
}

#[tokio::test]
async fn show_accepts_model_and_name() {
    let h = harness().await;
    let by_model = h.post("/api/show", &json!({"model": "fake-ollama"})).await;
    by_model.assert_status(200);
    let v = by_model.json();
    assert_show(&v);
    assert_eq!(v["model_info"]["general.architecture"], "llama");
    assert_eq!(v["model_info"]["llama.context_length"], 8192);
    assert_eq!(v["capabilities"], json!(["completion", "tools"]));
    assert_eq!(v["details"]["quantization_level"], "Q4_K_M");
    // defect 44: the older `name` key.
    let by_name = h
        .post("/api/show", &json!({"name": "fake-ollama:latest"}))
        .await
        .json();
    assert_eq!(by_name, v);
    let both = h
        .post(
            "/api/show",
            &json!({"model": "fake-chat", "name": "fake-ollama"}),
        )
        .await
        .json();
    assert_eq!(
        both["model_info"]["general.basename"], "fake-chat",
        "model wins"
    );
}

#[tokio::test]
async fn defect_46_show_has_capabilities_for_every_listed_model() {
    let h = harness().await;
    let tags = h.get("/api/tags").await.json();
    for m in tags["models"].as_array().unwrap() {
        let r = h.post("/api/show", &json!({"model": m["name"]})).await;
        r.assert_status(200);
        assert_show(&r.json());
    }
    let cases = [
        ("fake-vision", json!(["completion", "tools", "vision"])),
        ("fake-reason", json!(["completion", "tools", "thinking"])),
        ("fake-embed", json!(["embedding"])),
    ];
    for (model, want) in cases {
        let v = h.post("/api/show", &json!({ "model": model })).await.json();
        assert_eq!(v["capabilities"], want, "{model}");
    }
    // Hidden models are callable, so show answers for them too.
    h.post("/api/show", &json!({"model": "fake-hidden"}))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn defect_45_show_unknown_model_is_404() {
    let h = harness().await;
    let msg = h
        .post("/api/show", &json!({"model": "llama9"}))
        .await
        .assert_error(404);
    assert!(msg.contains("llama9") && msg.contains("not found"), "{msg}");
    let msg = h.post("/api/show", &json!({})).await.assert_error(400);
    assert_eq!(msg, "model is required");
}

#[tokio::test]
async fn show_for_copilot_reports_the_requested_basename() {
    let h = harness().await;
    let r = send(
        h.http
            .post(h.url("/api/show"))
            .header("user-agent", "GitHubCopilotChat/0.30.0")
            .json(&json!({"model": "fake-chat:latest"})),
    )
    .await;
    assert_eq!(
        r.json()["model_info"]["general.basename"],
        "fake-chat:latest"
    );
}

#[tokio::test]
async fn ps_lists_nothing() {
    let h = harness().await;
    let r = h.get("/api/ps").await;
    r.assert_status(200);
    assert!(r.header("content-type").starts_with("application/json"));
    assert_eq!(r.json(), json!({"models": []}));
}

#[tokio::test]
async fn pull_of_a_listed_model_succeeds() {
    let h = harness().await;
    let r = h.post("/api/pull", &json!({"model": "fake-chat"})).await;
    r.assert_status(200);
    r.assert_ndjson();
    assert_eq!(r.lines(), vec![json!({"status": "success"})]);
    let r = h
        .post(
            "/api/pull",
            &json!({"name": "fake-ollama", "stream": false}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.json(), json!({"status": "success"}));
    let msg = h
        .post("/api/pull", &json!({"model": "llama9"}))
        .await
        .assert_error(403);
    assert!(msg.contains("not available"), "{msg}");
}

#[tokio::test]
async fn model_management_is_refused_with_403_json() {
    let h = harness().await;
    let body =
        json!({"model": "fake-chat", "source": "a", "destination": "b", "from": "fake-chat"});
    let calls = [
        h.http.post(h.url("/api/push")).json(&body),
        h.http.post(h.url("/api/create")).json(&body),
        h.http.post(h.url("/api/copy")).json(&body),
        h.http.delete(h.url("/api/delete")).json(&body),
        h.http.post(h.url("/api/delete")).json(&body),
        h.http
            .post(h.url(&format!("/api/blobs/sha256:{}", "0".repeat(64))))
            .body("x"),
    ];
    for call in calls {
        let r = send(call).await;
        let msg = r.assert_error(403);
        assert!(
            msg.contains("not available") && msg.contains("Open WebUI"),
            "{msg}"
        );
    }
    let r = send(
        h.http
            .head(h.url(&format!("/api/blobs/sha256:{}", "0".repeat(64)))),
    )
    .await;
    r.assert_status(403);
    assert_eq!(h.fake.requests().len(), 0);
}

#[tokio::test]
async fn fake_api_key_lists_models_without_sign_in() {
    let h = Harness::new(crate::key_creds(fake::API_KEY), |_| {}).await;
    h.get("/api/tags").await.assert_status(200);
    let req = h.fake.requests_to("/api/models");
    assert_eq!(req[0].bearer().as_deref(), Some(fake::API_KEY));
    assert_eq!(h.fake.count(&h.fake.signins), 0);
}
