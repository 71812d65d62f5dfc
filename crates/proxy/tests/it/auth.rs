//! Signing in to Open WebUI: password and API key, one retry after a 401, single-flight
//! sign-in detached from clients, and clear errors for every refusal.

use crate::fake::{self, ChatFault, Signin};
use crate::{chat_req, key_creds, password_creds, send, wrong_password_creds, Harness};
use futures_util::future::join_all;
use proxy::ProxyEvent;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn password_sign_in_happens_once_and_the_token_is_reused() {
    let h = Harness::new(password_creds(), |_| {}).await;
    let mut events = h.proxy.state.events.subscribe();
    for _ in 0..3 {
        h.chat_lines(&chat_req("fake-chat", "hi")).await;
    }
    assert_eq!(h.fake.count(&h.fake.signins), 1);
    let signin = h.fake.requests_to("/api/v1/auths/signin").pop().unwrap();
    assert_eq!(
        signin.body,
        json!({"email": fake::EMAIL, "password": fake::PASSWORD})
    );
    let tokens: Vec<_> = h
        .fake
        .requests_to("/api/chat/completions")
        .iter()
        .map(|r| r.bearer())
        .collect();
    assert!(
        tokens.iter().all(|t| t == &tokens[0] && t.is_some()),
        "{tokens:?}"
    );
    let mut signed_in = false;
    while let Ok(e) = events.try_recv() {
        if let ProxyEvent::SignedIn { email, role } = e {
            assert_eq!(email.as_deref(), Some(fake::EMAIL));
            assert_eq!(role.as_deref(), Some("admin"));
            signed_in = true;
        }
    }
    assert!(signed_in, "a SignedIn event");
}

#[tokio::test]
async fn defect_18_expired_token_signs_in_again_once_and_retries() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.get("/api/tags").await.assert_status(200);
    h.fake.expire_tokens();
    // A streamed chat: the 401 comes before the stream started, so it is retried.
    let lines = h.chat_lines(&chat_req("fake-chat", "hi")).await;
    assert_eq!(lines.last().unwrap()["done"], true);
    assert_eq!(h.fake.count(&h.fake.signins), 2);
    let chats = h.fake.requests_to("/api/chat/completions");
    assert_eq!(chats.len(), 2, "one refused attempt, one retry");
    assert_ne!(
        chats[0].bearer(),
        chats[1].bearer(),
        "the retry uses the new token"
    );
    // A non-streamed chat and the model list after another expiry.
    h.fake.expire_tokens();
    let mut req = chat_req("fake-chat", "hi");
    req["stream"] = false.into();
    h.post("/api/chat", &req).await.assert_status(200);
    assert_eq!(h.fake.count(&h.fake.signins), 3);
}

#[tokio::test]
async fn defect_18_a_fresh_token_refused_too_is_reported_not_looped() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.get("/api/tags").await.assert_status(200);
    h.fake.set(|b| b.refuse_all_tokens = true);
    let msg = h
        .post("/api/chat", &chat_req("fake-chat", "hi"))
        .await
        .assert_error(502);
    assert!(msg.contains("sign"), "{msg}");
    assert_eq!(h.fake.count(&h.fake.signins), 2, "exactly one new sign-in");
    assert_eq!(h.fake.count(&h.fake.chats), 2, "exactly one retry");
}

#[tokio::test]
async fn concurrent_requests_without_a_token_share_one_sign_in() {
    let h = Harness::new(password_creds(), |_| {}).await;
    let calls = (0..20).map(|_| send(h.http.get(h.url("/api/tags"))));
    for r in join_all(calls).await {
        r.assert_status(200);
    }
    assert_eq!(h.fake.count(&h.fake.signins), 1);
    assert_eq!(h.fake.count(&h.fake.model_lists), 1);
}

#[tokio::test]
async fn concurrent_401s_share_one_new_sign_in() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.get("/api/tags").await.assert_status(200);
    h.fake.expire_tokens();
    let mut req = chat_req("fake-chat", "hi");
    req["stream"] = false.into();
    let calls = (0..20).map(|_| send(h.http.post(h.url("/api/chat")).json(&req)));
    for r in join_all(calls).await {
        r.assert_status(200);
    }
    assert_eq!(h.fake.count(&h.fake.signins), 2, "single-flight refresh");
}

#[tokio::test]
async fn defect_61_sign_in_survives_the_client_that_started_it() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.fake.hold_signin();
    let first = tokio::spawn(send(h.http.get(h.url("/api/tags"))));
    h.fake
        .wait_for("the sign-in to start", |f| f.count(&f.signins) == 1)
        .await;
    first.abort();
    let _ = first.await;
    h.fake.open_signin();
    h.get("/api/tags").await.assert_status(200);
    assert_eq!(
        h.fake.count(&h.fake.signins),
        1,
        "the detached sign-in was reused"
    );
}

#[tokio::test]
async fn wrong_password_is_a_clear_error_and_the_proxy_recovers() {
    let h = Harness::new(wrong_password_creds(), |_| {}).await;
    let mut events = h.proxy.state.events.subscribe();
    let msg = h.get("/api/tags").await.assert_error(502);
    assert!(
        msg.contains("signing in") && msg.contains("password"),
        "{msg}"
    );
    let msg = h
        .post("/api/chat", &chat_req("fake-chat", "hi"))
        .await
        .assert_error(502);
    assert!(msg.contains("signing in"), "{msg}");
    assert_eq!(
        h.fake.count(&h.fake.signins),
        1,
        "a refusal is not retried at once"
    );
    let mut failed = None;
    while let Ok(e) = events.try_recv() {
        if let ProxyEvent::AuthFailed { kind, .. } = e {
            failed = Some(kind);
        }
    }
    assert_eq!(failed, Some("wrong_credentials"));
    // The account's password becomes the one configured: the proxy recovers by itself after
    // its back-off (it keeps running; Open WebUI counts every sign-in against a rate limit).
    h.fake.set(|b| b.password = "not-the-password".into());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    loop {
        let r = h.get("/api/tags").await;
        if r.status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never recovered: {}",
            r.text()
        );
        h.fake.wait_for_any(Duration::from_millis(250)).await;
    }
    assert_eq!(
        h.fake.count(&h.fake.signins),
        2,
        "one failed and one good sign-in"
    );
}

#[tokio::test]
async fn api_key_is_used_as_bearer_without_sign_in() {
    let h = Harness::new(key_creds(fake::API_KEY), |_| {}).await;
    h.chat_lines(&chat_req("fake-chat", "hi")).await;
    let chat = h.fake.requests_to("/api/chat/completions").pop().unwrap();
    assert_eq!(chat.bearer().as_deref(), Some(fake::API_KEY));
    assert_eq!(h.fake.count(&h.fake.signins), 0);
}

#[tokio::test]
async fn revoked_api_key_is_a_clear_error_without_sign_in() {
    let h = Harness::new(key_creds(fake::API_KEY), |_| {}).await;
    h.get("/api/tags").await.assert_status(200);
    h.fake.set(|b| b.api_keys.clear());
    let msg = h
        .post("/api/chat", &chat_req("fake-chat", "hi"))
        .await
        .assert_error(502);
    assert!(msg.contains("API key") && msg.contains("revoked"), "{msg}");
    assert_eq!(h.fake.count(&h.fake.chats), 1, "no retry with an API key");
    assert_eq!(h.fake.count(&h.fake.signins), 0);
    // The proxy keeps running: a valid key again works again.
    h.fake.set(|b| b.api_keys.push(fake::API_KEY.into()));
    h.chat_lines(&chat_req("fake-chat", "hi")).await;
}

#[tokio::test]
async fn unknown_api_key_on_the_model_list() {
    let h = Harness::new(key_creds("sk-ffffffffffffffffffffffffffffffff"), |_| {}).await;
    let msg = h.get("/api/tags").await.assert_error(502);
    assert!(msg.contains("API key"), "{msg}");
    assert_eq!(h.fake.count(&h.fake.signins), 0);
}

#[tokio::test]
async fn disabled_api_keys_are_explained() {
    let h = Harness::new(key_creds(fake::API_KEY), |_| {}).await;
    h.fake.set(|b| b.api_keys_disabled = true);
    let msg = h.get("/api/tags").await.assert_error(502);
    assert!(
        msg.contains("Use of API key is not enabled in the environment."),
        "{msg}"
    );
    assert_eq!(h.fake.count(&h.fake.signins), 0);
}

#[tokio::test]
async fn sign_in_refusals_are_explained() {
    let cases = [
        (Signin::Pending, "pending"),
        (Signin::Mfa, "API key"),
        (Signin::RateLimited, "rate limit"),
        (Signin::Disabled, "disabled"),
    ];
    for (mode, words) in cases {
        let h = Harness::new(password_creds(), |_| {}).await;
        h.fake.set(|b| b.signin = mode);
        let msg = h.get("/api/tags").await.assert_error(502);
        assert!(
            msg.contains("signing in") && msg.contains(words),
            "{mode:?}: {msg}"
        );
        assert_eq!(h.fake.count(&h.fake.model_lists), 0, "{mode:?}");
    }
}

#[tokio::test]
async fn upstream_errors_do_not_trigger_sign_in() {
    let h = Harness::new(password_creds(), |_| {}).await;
    h.get("/api/tags").await.assert_status(200);
    h.fake.set(|b| b.chat = ChatFault::Status500);
    h.post("/api/chat", &chat_req("fake-chat", "hi"))
        .await
        .assert_error(502);
    assert_eq!(h.fake.count(&h.fake.signins), 1);
}

#[tokio::test]
async fn defect_56_short_lived_and_endless_tokens_are_reused() {
    for ttl in [Some(30), None] {
        let h = Harness::new(password_creds(), |_| {}).await;
        h.fake.set(|b| b.token_ttl = ttl);
        for _ in 0..5 {
            h.post("/api/embed", &json!({"model": "fake-embed", "input": "x"}))
                .await
                .assert_status(200);
        }
        assert_eq!(h.fake.count(&h.fake.signins), 1, "token lifetime {ttl:?}");
    }
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_before_use() {
    let h = Harness::new(password_creds(), |_| {}).await;
    // `expires_at` is now: the token is due for renewal before its next use.
    h.fake.set(|b| b.token_ttl = Some(0));
    h.get("/api/tags").await.assert_status(200);
    h.fake.set(|b| b.token_ttl = Some(3600));
    h.post("/api/embed", &json!({"model": "fake-embed", "input": "x"}))
        .await
        .assert_status(200);
    h.post("/api/embed", &json!({"model": "fake-embed", "input": "x"}))
        .await
        .assert_status(200);
    let signins = h.fake.count(&h.fake.signins);
    assert_eq!(
        signins, 2,
        "renewed once, then the long-lived token is kept"
    );
    let embeds = h.fake.requests_to("/api/embeddings");
    assert!(embeds.iter().all(|r| r.bearer() == embeds[0].bearer()));
    assert_eq!(
        h.fake.count(&h.fake.embeddings),
        2,
        "no request was refused first"
    );
}
