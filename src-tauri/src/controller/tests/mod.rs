//! Controller tests against a fake Open WebUI on `127.0.0.1:0`, with an in-memory secret
//! store and settings in a temp folder: sign-in, start, stop, restart on a port change,
//! port in use, sign-out, no keychain, and that nothing secret reaches the settings file.

mod fixture;
mod security;

use super::*;
use crate::settings::AuthMethod;
use fixture::{fake_openwebui, http_get, password_request, port_of, Fixture, NoKeychain};
use proxy::credentials::names;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

#[tokio::test]
async fn sign_in_saves_account_and_starts_the_proxy() {
    let upstream = fake_openwebui().await;
    let f = Fixture::new();
    let result = f
        .controller
        .sign_in(password_request(&upstream, "pw"))
        .await
        .unwrap();
    assert_eq!(result.models, vec!["m1"]);
    assert_eq!(result.role.as_deref(), Some("admin"));
    assert_eq!(result.status.proxy, ProxyState::Running);
    assert_eq!(result.status.account, AccountState::SignedIn);

    let (code, body) = http_get(&result.status.address, "/api/tags").await.unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("m1"), "{body}");

    let server = format!("{upstream}/");
    let secret = f
        .store
        .get(&names::password(&server, "ada@example.com"))
        .unwrap()
        .unwrap();
    assert_eq!(secret.expose_secret(), "pw");
    let file = f.settings_file();
    assert!(
        file.contains("Ada@Example.com") && file.contains(&server),
        "{file}"
    );
    assert!(
        !file.contains("\"pw\""),
        "no secret in the settings file: {file}"
    );
    let creds = f.controller.credentials_status().await;
    assert!(creds.configured);
    assert_eq!(creds.method, Some(AuthMethod::Password));
}

#[tokio::test]
async fn wrong_password_is_reported_and_nothing_is_saved() {
    let upstream = fake_openwebui().await;
    let f = Fixture::new();
    let err = f
        .controller
        .sign_in(password_request(&upstream, "wrong"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, "wrong_credentials");
    assert_eq!(f.controller.status().account, AccountState::SignedOut);
    assert_eq!(f.controller.status().proxy, ProxyState::Stopped);
    assert!(!f.controller.credentials_status().await.configured);
}

#[tokio::test]
async fn unreachable_server_and_bad_input_have_kinds() {
    let f = Fixture::new();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let err = f
        .controller
        .sign_in(password_request(&closed, "pw"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, "upstream_unreachable");
    let mut req = password_request(&closed, "pw");
    req.password = None;
    assert_eq!(
        f.controller.sign_in(req).await.unwrap_err().kind,
        "invalid_config"
    );
    let err = f
        .controller
        .sign_in(password_request("ftp://x", "pw"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, "invalid_config");
}

#[tokio::test]
async fn start_without_account_is_not_signed_in() {
    let f = Fixture::new();
    assert_eq!(
        f.controller.start().await.unwrap_err().kind,
        "not_signed_in"
    );
    assert!(f.controller.launch().await, "first run opens the window");
}

#[tokio::test]
async fn stop_and_start_again() {
    let upstream = fake_openwebui().await;
    let f = Fixture::new();
    let address = f.sign_in(&upstream).await.address;
    let stopped = f.controller.stop().await;
    assert_eq!(stopped.proxy, ProxyState::Stopped);
    assert!(
        http_get(&address, "/api/version").await.is_err(),
        "nothing listens after stop"
    );

    let started = f.controller.start().await.unwrap();
    assert_eq!(started.proxy, ProxyState::Running);
    let (code, _) = http_get(&started.address, "/api/version").await.unwrap();
    assert_eq!(code, 200);
    let again = f.controller.start().await.unwrap();
    assert_eq!(again.address, started.address, "start is idempotent");
}

#[tokio::test]
async fn changing_the_port_restarts_the_proxy() {
    let upstream = fake_openwebui().await;
    let f = Fixture::new();
    let old = f.sign_in(&upstream).await.address;
    let new_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let patch = SettingsPatch {
        port: Some(new_port),
        ..SettingsPatch::default()
    };
    let status = f.controller.update_settings(patch).await.unwrap();
    assert_eq!(status.proxy, ProxyState::Running);
    assert_eq!(port_of(&status.address), new_port);
    assert_eq!(http_get(&status.address, "/api/tags").await.unwrap().0, 200);
    assert!(
        http_get(&old, "/api/tags").await.is_err(),
        "the old port is released"
    );
    assert!(f.settings_file().contains(&format!("\"port\": {new_port}")));
}

#[tokio::test]
async fn port_in_use_is_reported_and_another_port_fixes_it() {
    let upstream = fake_openwebui().await;
    let f = Fixture::new();
    f.sign_in(&upstream).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let patch = SettingsPatch {
        port: Some(taken_port),
        ..SettingsPatch::default()
    };
    let err = f.controller.update_settings(patch).await.unwrap_err();
    assert_eq!(err.kind, "port_in_use");
    let status = f.controller.status();
    assert_eq!(status.proxy, ProxyState::Stopped);
    assert_eq!(
        status.problem.as_ref().map(|p| p.kind.as_str()),
        Some("port_in_use")
    );
    assert!(
        status.summary().starts_with("Port in use"),
        "{}",
        status.summary()
    );

    let free = f.controller.suggest_port().await.unwrap();
    assert_ne!(free, taken_port);
    let patch = SettingsPatch {
        port: Some(free),
        ..SettingsPatch::default()
    };
    let status = f.controller.update_settings(patch).await.unwrap();
    assert_eq!((status.proxy, status.problem), (ProxyState::Running, None));
    drop(taken);
}

#[tokio::test]
async fn launch_starts_a_configured_proxy_and_checks_the_account() {
    let upstream = fake_openwebui().await;
    let f = Fixture::new();
    f.sign_in(&upstream).await;
    f.controller.stop().await;
    let again = f.reopen();
    assert_eq!(again.status().account, AccountState::NotChecked);
    let mut rx = again.subscribe();
    assert!(!again.launch().await, "configured and started: no window");
    assert_eq!(again.status().proxy, ProxyState::Running);
    let signed_in = rx
        .wait_for(|s| s.account == AccountState::SignedIn)
        .await
        .unwrap()
        .clone();
    assert_eq!(signed_in.models, Some(1));
    again.stop().await;
}

#[tokio::test]
async fn sign_out_stops_and_forgets_the_secret() {
    let upstream = fake_openwebui().await;
    let f = Fixture::new();
    f.sign_in(&upstream).await;
    let status = f.controller.sign_out().await.unwrap();
    assert_eq!(
        (status.proxy, status.account),
        (ProxyState::Stopped, AccountState::SignedOut)
    );
    let server = format!("{upstream}/");
    assert!(f
        .store
        .get(&names::password(&server, "ada@example.com"))
        .unwrap()
        .is_none());
    let creds = f.controller.credentials_status().await;
    assert!(!creds.configured && creds.email.is_none());
    assert_eq!(
        creds.server.as_deref(),
        Some(server.as_str()),
        "the address is kept"
    );
    assert_eq!(
        f.controller.start().await.unwrap_err().kind,
        "not_signed_in"
    );
}

#[tokio::test]
async fn api_key_sign_in_replaces_the_password() {
    let upstream = fake_openwebui().await;
    let f = Fixture::new();
    f.sign_in(&upstream).await;
    let req = SignInRequest {
        server: upstream.clone(),
        method: AuthMethod::ApiKey,
        email: None,
        password: None,
        api_key: Some(SecretString::from(" sk-test ")),
    };
    let result = f.controller.sign_in(req).await.unwrap();
    assert_eq!(result.models, vec!["m1"]);
    let server = format!("{upstream}/");
    assert_eq!(
        f.store
            .get(&names::api_key(&server))
            .unwrap()
            .unwrap()
            .expose_secret(),
        "sk-test"
    );
    assert!(f
        .store
        .get(&names::password(&server, "ada@example.com"))
        .unwrap()
        .is_none());
    assert!(!f.settings_file().contains("sk-test"));
}

#[tokio::test]
async fn invalid_settings_are_refused_and_not_saved() {
    let f = Fixture::new();
    let before = f.settings_file();
    let bad_host = SettingsPatch {
        host: Some("example.com".into()),
        ..SettingsPatch::default()
    };
    assert_eq!(
        f.controller
            .update_settings(bad_host)
            .await
            .unwrap_err()
            .kind,
        "invalid_config"
    );
    let bad_origin = SettingsPatch {
        cors_origins: Some(vec!["nope".into()]),
        ..SettingsPatch::default()
    };
    assert_eq!(
        f.controller
            .update_settings(bad_origin)
            .await
            .unwrap_err()
            .kind,
        "invalid_config"
    );
    assert_eq!(f.settings_file(), before);
    let ok = SettingsPatch {
        start_proxy_on_launch: Some(false),
        ..SettingsPatch::default()
    };
    f.controller.update_settings(ok).await.unwrap();
    assert!(!f.controller.settings().await.start_proxy_on_launch);
}

#[test]
fn sign_in_request_debug_hides_secrets() {
    let req: SignInRequest = serde_json::from_value(json!({
        "server": "http://h", "method": "apiKey", "apiKey": "sk-secret"
    }))
    .unwrap();
    let text = format!("{req:?}");
    assert!(!text.contains("sk-secret"), "{text}");
}

#[tokio::test]
async fn no_keychain_is_reported_and_nothing_falls_back_to_a_file() {
    let upstream = fake_openwebui().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let controller = Controller::new(
        Arc::new(NoKeychain),
        Some(path.clone()),
        Some(dir.path().join("cache")),
        EventSink::default(),
    );
    let err = controller
        .sign_in(password_request(&upstream, "pw"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, "keychain_unavailable");
    let status = controller.status();
    assert_eq!(
        (status.proxy, status.account),
        (ProxyState::Stopped, AccountState::SignedOut)
    );
    assert!(!controller.credentials_status().await.configured);
    assert!(
        !path.exists(),
        "nothing written: {:?}",
        std::fs::read_to_string(&path)
    );
}

#[tokio::test]
async fn launch_on_a_taken_port_asks_for_the_window() {
    let upstream = fake_openwebui().await;
    let f = Fixture::new();
    f.sign_in(&upstream).await;
    f.controller.stop().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = f.controller.settings().await;
    settings.port = taken.local_addr().unwrap().port();
    crate::settings::save(&f.dir.path().join("settings.json"), &settings).unwrap();
    let again = f.reopen();
    assert!(again.launch().await, "the user must pick another port");
    assert_eq!(
        again.status().problem.map(|p| p.kind).as_deref(),
        Some("port_in_use")
    );
}
