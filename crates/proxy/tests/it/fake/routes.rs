//! Open WebUI's own routes in the fake: sign-in (capture 01 and its refusals), the bearer
//! check (session tokens and `sk-` API keys), `GET /api/models` in Open WebUI's shape, the
//! OpenAI-shaped `/api/embeddings`, and the web app's HTML page for everything else.

use super::{FakeState, Recorded, Signin, EMAIL, WRONG_PASSWORD};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// The model list: an OpenAI-type model, an Ollama-backed one (capture 200), a vision one,
/// a hidden one, a reasoning one and an embedding one.
pub fn default_models() -> Vec<Value> {
    let openai = |id: &str| {
        json!({"id": id, "object": "model", "created": 1700000000, "owned_by": "openai",
            "connection_type": "external", "name": id,
            "openai": {"id": id, "object": "model", "created": 1700000000, "owned_by": "fake-llm",
                "connection_type": "external"},
            "provider": "", "urlIdx": 0, "actions": [], "filters": [], "tags": []})
    };
    let with_meta = |id: &str, meta: Value| {
        let mut m = openai(id);
        m["info"] = json!({"id": id, "base_model_id": null, "name": id, "params": {},
            "meta": meta, "is_active": true});
        m
    };
    vec![
        openai("fake-chat"),
        json!({"id": "fake-ollama:latest", "name": "fake-ollama:latest", "object": "model",
            "created": 0, "owned_by": "ollama",
            "ollama": {"name": "fake-ollama:latest", "model": "fake-ollama:latest",
                "modified_at": "2024-01-01T00:00:00Z", "size": 1234567890u64,
                "digest": "dcde62c4fd3dc6512ffae9480174d56f04a50eb53877233037b51734830a74e3",
                "details": {"parent_model": "", "format": "gguf", "family": "llama",
                    "families": ["llama"], "parameter_size": "7B",
                    "quantization_level": "Q4_K_M"},
                "connection_type": "local", "urls": [0]},
            "loaded": false, "connection_type": "local", "tags": [], "actions": [],
            "filters": []}),
        with_meta(
            "fake-vision",
            json!({"description": "A fake vision model",
                "capabilities": {"vision": true, "file_upload": true, "usage": true}}),
        ),
        with_meta(
            "fake-hidden",
            json!({"description": null, "capabilities": null, "hidden": true}),
        ),
        openai("fake-reason"),
        openai("fake-embed"),
    ]
}

/// `{"detail": text}` with a status, as FastAPI answers.
pub fn detail(status: u16, text: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"detail": text}).to_string(),
    )
        .into_response()
}

/// A JSON body with a status.
pub fn json_reply(status: u16, v: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// The web app page Open WebUI serves for unknown GET routes.
pub fn html() -> Response {
    let page = "<!doctype html><html><head><title>Open WebUI</title></head><body></body></html>";
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// `None` when the bearer token is accepted, else Open WebUI's refusal.
pub fn refusal(s: &FakeState, rec: &Recorded) -> Option<Response> {
    let b = s.behaviour().clone();
    let Some(token) = rec.bearer() else {
        return Some(detail(401, "Not authenticated"));
    };
    if token.starts_with("sk-") {
        if b.api_keys_disabled {
            return Some(detail(
                403,
                "Use of API key is not enabled in the environment.",
            ));
        }
        if b.api_keys.contains(&token) {
            return None;
        }
        let expired = "Your session has expired or the token is invalid. Please sign in again.";
        return Some(detail(401, expired));
    }
    if b.refuse_all_tokens || !s.tokens.lock().unwrap().contains(&token) {
        return Some(detail(401, "401 Unauthorized"));
    }
    None
}

/// `POST /api/v1/auths/signin`.
pub async fn signin(s: &FakeState, rec: &Recorded) -> Response {
    s.bump(&s.signins);
    let mut gate = s.signin_gate.subscribe();
    let _ = gate.wait_for(|open| *open).await;
    let b = s.behaviour().clone();
    match b.signin {
        Signin::RateLimited => return detail(429, "API rate limit exceeded"),
        Signin::Disabled => {
            return detail(
                403,
                "The requested action has been restricted as a security measure.",
            )
        }
        Signin::Mfa => {
            return json_reply(
                200,
                &json!({"next_step": {"type": "mfa", "methods": ["totp"]}}),
            )
        }
        Signin::Normal | Signin::Pending => {}
    }
    let email = rec.body["email"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    if email != EMAIL || rec.body["password"].as_str() != Some(b.password.as_str()) {
        return detail(400, WRONG_PASSWORD);
    }
    let n = s.count(&s.signins);
    let token = format!("jwt-{n}-{}", s.tokens.lock().unwrap().len());
    s.tokens.lock().unwrap().insert(token.clone());
    let role = if b.signin == Signin::Pending {
        "pending"
    } else {
        "admin"
    };
    let expires_at = b.token_ttl.map(|ttl| chrono::Utc::now().timestamp() + ttl);
    json_reply(
        200,
        &json!({"id": "ff282bab-880a-46c7-b092-d20d4d8f9a94", "name": "Admin", "role": role,
            "email": EMAIL, "profile_image_url": "/api/v1/users/ff282bab/profile/image",
            "token": token, "token_type": "Bearer", "expires_at": expires_at,
            "permissions": {"chat": {"controls": true}, "features": {"api_keys": false}}}),
    )
}

/// `GET /api/models`.
pub fn models(s: &FakeState) -> Response {
    let b = s.behaviour().clone();
    if b.models_html {
        return html();
    }
    if let Some(status) = b.models_status {
        return detail(status, "Open WebUI: Server Connection Error");
    }
    json_reply(200, &json!({"data": b.models}))
}

/// `POST /api/embeddings`.
pub fn embeddings(body: &Value) -> Response {
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    // Vectors in reverse order, to check the proxy orders them by index.
    let data: Vec<Value> = (0..inputs.len())
        .rev()
        .map(|i| {
            let v = if i == 0 {
                vec![3.0, 4.0]
            } else {
                vec![0.0, 2.0]
            };
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    let n = inputs.len();
    json_reply(
        200,
        &json!({"object": "list", "model": body["model"], "data": data,
            "usage": {"prompt_tokens": n, "total_tokens": n}}),
    )
}
