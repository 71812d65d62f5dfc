//! The core's safety features as the app uses them: the encrypted disk cache (written, free of
//! secrets, running on without a keychain key), sign-out and "Clear data" deleting files and
//! keychain entries, the client token enforced by the running proxy, and allowed hosts and the
//! rate limit checked and applied.

use super::fixture::{
    fake_openwebui, http_get, http_get_with, password_request, Fixture, NoCacheKey, NoKeychain,
    SESSION_TOKEN,
};
use super::*;
use proxy::credentials::names;
use std::time::Duration;

const PASSWORD: &str = "pw-Secret-4e1b";

/// Signs in with [`PASSWORD`]; returns the server as saved and the proxy's address.
async fn signed_in(f: &Fixture) -> (String, String) {
    let upstream = fake_openwebui().await;
    let result = f
        .controller
        .sign_in(password_request(&upstream, PASSWORD))
        .await
        .unwrap();
    (format!("{upstream}/"), result.status.address)
}

async fn require_token(f: &Fixture, on: bool) -> Status {
    let patch = SettingsPatch {
        require_client_token: Some(on),
        ..SettingsPatch::default()
    };
    f.controller.update_settings(patch).await.unwrap()
}

/// Waits until the cache folder holds at least `n` files (the model list is written as the
/// reply goes out).
async fn cache_files(f: &Fixture, n: usize) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    for _ in 0..100 {
        let files = f.cache_files();
        if files.len() >= n {
            return files;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the cache folder has {:?}", f.cache_files());
}

/// Signed in, with the client token required and used for one request, so the cache holds
/// the model list and the saved session. Returns the server, the client token and those files.
async fn signed_in_with_a_filled_cache(
    f: &Fixture,
) -> (String, String, Vec<(std::path::PathBuf, Vec<u8>)>) {
    let (server, _) = signed_in(f).await;
    let address = require_token(f, true).await.address;
    let token = f.secret(names::CLIENT_TOKEN).unwrap();
    assert_eq!(tags(&address, Some(&token)).await, 200);
    let files = cache_files(f, 2).await;
    (server, token, files)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn the_disk_cache_is_written_and_holds_no_secret() {
    let f = Fixture::new();
    let (server, token, files) = signed_in_with_a_filled_cache(&f).await;
    assert!(
        f.secret(names::CACHE_KEY).is_some(),
        "the key is in the keychain"
    );
    let secrets = [
        PASSWORD,
        SESSION_TOKEN,
        token.as_str(),
        "ada@example.com",
        &server,
    ];
    for (path, bytes) in &files {
        assert!(bytes.starts_with(b"OWPc"), "{path:?} is an encrypted entry");
        for secret in secrets {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{path:?} contains {secret:?}");
            let name = path.file_name().unwrap().to_string_lossy();
            assert!(!name.contains(secret), "{name}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{path:?}");
        }
    }
}

#[tokio::test]
async fn the_running_proxy_requires_the_client_token() {
    let f = Fixture::new();
    signed_in(&f).await;
    let status = require_token(&f, true).await;
    assert_eq!(
        status.proxy,
        ProxyState::Running,
        "restarted with the token"
    );
    let token = f.secret(names::CLIENT_TOKEN).unwrap();
    assert!(
        token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit()),
        "{token}"
    );
    let copied = f.controller.client_token().await.unwrap();
    assert_eq!(copied.expose_secret(), token, "copy gives the stored token");

    let address = status.address;
    assert_eq!(tags(&address, None).await, 401);
    assert_eq!(tags(&address, Some("not-the-token-at-all")).await, 401);
    assert_eq!(tags(&address, Some(&token)).await, 200);
    assert_eq!(
        http_get(&address, "/").await.unwrap().0,
        200,
        "GET / is exempt"
    );

    let status = f.controller.regenerate_client_token().await.unwrap();
    assert_eq!(status.proxy, ProxyState::Running);
    let fresh = f.secret(names::CLIENT_TOKEN).unwrap();
    assert_ne!(fresh, token);
    let address = status.address;
    assert_eq!(
        tags(&address, Some(&token)).await,
        401,
        "the old token is refused"
    );
    assert_eq!(tags(&address, Some(&fresh)).await, 200);

    let address = require_token(&f, false).await.address;
    assert_eq!(tags(&address, None).await, 200, "off: no token needed");
    let kept = f.secret(names::CLIENT_TOKEN);
    assert_eq!(kept, Some(fresh), "kept for turning it on again");
    let off = f.controller.client_token().await.unwrap_err();
    assert_eq!(off.kind, "invalid_config");
    let off = f.controller.regenerate_client_token().await.unwrap_err();
    assert_eq!(off.kind, "invalid_config");
}

/// The status of `GET /api/tags`, with `Authorization: Bearer <token>` when given.
async fn tags(address: &str, token: Option<&str>) -> u16 {
    let auth = token.map(bearer);
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    http_get_with(address, "/api/tags", &headers)
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn clear_data_removes_the_cache_the_secrets_and_the_account() {
    let f = Fixture::new();
    let (server, _, _) = signed_in_with_a_filled_cache(&f).await;

    let status = f.controller.clear_data().await.unwrap();
    assert_eq!(
        (status.proxy, status.account, status.server),
        (ProxyState::Stopped, AccountState::SignedOut, None)
    );
    assert_eq!(f.cache_files(), vec![], "no cache file is left");
    let password = names::password(&server, "ada@example.com");
    for name in [password.as_str(), names::CACHE_KEY, names::CLIENT_TOKEN] {
        assert_eq!(f.secret(name), None, "{name} left the keychain");
    }
    let settings = f.controller.settings().await;
    assert_eq!(
        (settings.server, settings.email, settings.auth_method),
        (None, None, None)
    );
    assert!(settings.require_client_token, "proxy settings are kept");
    assert!(!f.settings_file().contains("ada@example.com"));
    let creds = f.controller.credentials_status().await;
    assert!(!creds.configured && creds.server.is_none());
    assert_eq!(
        f.controller.start().await.unwrap_err().kind,
        "not_signed_in"
    );
}

#[tokio::test]
async fn sign_out_removes_the_cache_and_every_secret_but_keeps_the_server() {
    let f = Fixture::new();
    let (server, _, _) = signed_in_with_a_filled_cache(&f).await;

    f.controller.sign_out().await.unwrap();
    assert_eq!(f.cache_files(), vec![]);
    for name in [names::CACHE_KEY, names::CLIENT_TOKEN] {
        assert_eq!(f.secret(name), None, "{name}");
    }
    let creds = f.controller.credentials_status().await;
    assert_eq!(creds.server.as_deref(), Some(server.as_str()));
}

#[tokio::test]
async fn without_a_keychain_cache_key_the_proxy_runs_without_a_disk_cache() {
    let f = Fixture::with_keychain(|store| Arc::new(NoCacheKey(store)));
    let (_, address) = signed_in(&f).await;
    let (code, body) = http_get(&address, "/api/tags").await.unwrap();
    assert_eq!(code, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(f.cache_files(), vec![], "nothing is kept on disk");
    assert_eq!(f.secret(names::CACHE_KEY), None);
}

#[tokio::test]
async fn the_client_token_needs_a_keychain() {
    let f = Fixture::with_keychain(|_| Arc::new(NoKeychain));
    let before = f.settings_file();
    let patch = SettingsPatch {
        require_client_token: Some(true),
        ..SettingsPatch::default()
    };
    let err = f.controller.update_settings(patch).await.unwrap_err();
    assert_eq!(err.kind, "keychain_unavailable");
    assert_eq!(f.settings_file(), before, "nothing saved");
    let cleared = f.controller.clear_data().await.unwrap();
    assert_eq!(
        cleared.account,
        AccountState::SignedOut,
        "nothing to delete is fine"
    );
}

#[tokio::test]
async fn allowed_hosts_and_rate_limits_are_checked() {
    let f = Fixture::new();
    let before = f.settings_file();
    let refused = [
        SettingsPatch {
            allowed_hosts: Some(vec!["box.lan:80".into()]),
            ..Default::default()
        },
        SettingsPatch {
            allowed_hosts: Some(vec!["https://box.lan".into()]),
            ..Default::default()
        },
        SettingsPatch {
            rate_limit: Some(-1.0),
            ..Default::default()
        },
        SettingsPatch {
            rate_limit: Some(2.5),
            ..Default::default()
        },
        SettingsPatch {
            rate_limit: Some(1e9),
            ..Default::default()
        },
        SettingsPatch {
            rate_burst: Some(5.0),
            ..Default::default()
        },
        SettingsPatch {
            cors_origins: Some(vec!["https://a.com/x".into()]),
            ..Default::default()
        },
    ];
    for patch in refused {
        let text = format!("{patch:?}");
        let err = f.controller.update_settings(patch).await.unwrap_err();
        assert_eq!(err.kind, "invalid_config", "{text}");
    }
    assert_eq!(f.settings_file(), before);
}

#[tokio::test]
async fn allowed_hosts_and_rate_limits_restart_the_proxy() {
    let f = Fixture::new();
    let (_, address) = signed_in(&f).await;
    let lan = [("Host", "box.lan")];
    assert_eq!(
        http_get_with(&address, "/api/version", &lan)
            .await
            .unwrap()
            .0,
        403
    );
    let patch = SettingsPatch {
        allowed_hosts: Some(vec![" Box.LAN ".into(), String::new()]),
        rate_limit: Some(1.0),
        rate_burst: Some(2.0),
        ..SettingsPatch::default()
    };
    let status = f.controller.update_settings(patch).await.unwrap();
    assert_eq!(f.controller.settings().await.allowed_hosts, ["box.lan"]);
    let codes = [
        http_get_with(&status.address, "/api/version", &lan)
            .await
            .unwrap()
            .0,
        http_get(&status.address, "/api/version").await.unwrap().0,
        http_get(&status.address, "/api/version").await.unwrap().0,
    ];
    assert_eq!(
        codes,
        [200, 200, 429],
        "the name passes; the third request is over the burst"
    );
    assert!(f.settings_file().contains("\"rateLimit\": 1"));
}
