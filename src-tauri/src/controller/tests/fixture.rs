//! Test fixtures for the controller: a fake Open WebUI on `127.0.0.1:0`, a controller with an
//! in-memory secret store and settings and cache in a temp folder, a raw HTTP GET, a keychain
//! that is not there and one that refuses only the cache key.

use crate::controller::{Controller, SignInRequest};
use crate::settings::{AuthMethod, Settings};
use axum::routing::{get, post};
use axum::{Json, Router};
use proxy::credentials::{names, SecretStore, StoreError};
use proxy::events::EventSink;
use proxy::MemoryStore;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The session token the fake Open WebUI hands out (long enough to search for in files).
pub const SESSION_TOKEN: &str = "owui-session-7f3a9c0d2b";

/// A fake Open WebUI: any password but "wrong" signs in; lists one model `m1`.
pub async fn fake_openwebui() -> String {
    async fn signin(Json(body): Json<Value>) -> (axum::http::StatusCode, Json<Value>) {
        if body["password"] == "wrong" {
            let err = json!({"detail": "The email or password provided is incorrect."});
            return (axum::http::StatusCode::BAD_REQUEST, Json(err));
        }
        let ok = json!({"token": SESSION_TOKEN, "expires_at": null, "role": "admin"});
        (axum::http::StatusCode::OK, Json(ok))
    }
    let app = Router::new()
        .route("/api/v1/auths/signin", post(signin))
        .route(
            "/api/models",
            get(|| async { Json(json!({"data": [{"id": "m1", "name": "m1"}]})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

pub struct Fixture {
    pub controller: Controller,
    pub store: Arc<MemoryStore>,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// Settings listen on port 0 so every test binds a free port.
    pub fn new() -> Self {
        Self::with_store(Arc::new(MemoryStore::new()))
    }

    /// A fixture whose controller sees the store through `wrap` (a keychain that misbehaves).
    pub fn with_keychain(wrap: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn SecretStore>) -> Self {
        let mut f = Self::new();
        f.controller = Controller::new(
            wrap(f.store.clone()),
            Some(f.dir.path().join("settings.json")),
            Some(f.cache_dir()),
            EventSink::default(),
        );
        f
    }

    fn with_store(store: Arc<MemoryStore>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        let initial = Settings {
            port: 0,
            ..Settings::default()
        };
        crate::settings::save(&path, &initial).unwrap();
        let cache = Some(dir.path().join("cache"));
        let controller = Controller::new(store.clone(), Some(path), cache, EventSink::default());
        Fixture {
            controller,
            store,
            dir,
        }
    }

    /// Another controller on the same settings, cache and keychain, as after a restart.
    pub fn reopen(&self) -> Controller {
        let path = self.dir.path().join("settings.json");
        let cache = Some(self.cache_dir());
        Controller::new(self.store.clone(), Some(path), cache, EventSink::default())
    }

    pub fn settings_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("settings.json")).unwrap()
    }

    /// Signs in to `upstream` with the fake's password; the status after it.
    pub async fn sign_in(&self, upstream: &str) -> crate::status::Status {
        let result = self
            .controller
            .sign_in(password_request(upstream, "pw"))
            .await;
        result.unwrap().status
    }

    /// The disk cache folder (inside the private temp folder, so the core accepts it).
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// The files in the cache folder with their bytes.
    pub fn cache_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let Ok(entries) = std::fs::read_dir(self.cache_dir()) else {
            return Vec::new();
        };
        entries
            .map(|e| e.unwrap().path())
            .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
            .collect()
    }

    /// The secret `name` in the store, if any.
    pub fn secret(&self, name: &str) -> Option<String> {
        use secrecy::ExposeSecret;
        let value = self.store.get(name).unwrap();
        value.map(|s| s.expose_secret().to_string())
    }
}

pub fn password_request(server: &str, password: &str) -> SignInRequest {
    SignInRequest {
        server: server.to_string(),
        method: AuthMethod::Password,
        email: Some("Ada@Example.com".into()),
        password: Some(SecretString::from(password)),
        api_key: None,
    }
}

/// A plain HTTP/1.1 GET; returns the status code and body.
pub async fn http_get(address: &str, path: &str) -> std::io::Result<(u16, String)> {
    http_get_with(address, path, &[]).await
}

/// A GET with extra headers (a `Host` given here replaces the address).
pub async fn http_get_with(
    address: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    let addr = address.trim_start_matches("http://");
    let host = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map_or(addr, |(_, v)| *v);
    let extra: String = headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

pub fn port_of(address: &str) -> u16 {
    address.rsplit(':').next().unwrap().parse().unwrap()
}

/// A keychain that is not there (no Secret Service on the bus).
pub struct NoKeychain;

impl SecretStore for NoKeychain {
    fn get(&self, _: &str) -> Result<Option<SecretString>, StoreError> {
        Err(StoreError::Unavailable(
            "org.freedesktop.secrets was not provided".into(),
        ))
    }
    fn set(&self, _: &str, _: &SecretString) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(
            "org.freedesktop.secrets was not provided".into(),
        ))
    }
    fn delete(&self, _: &str) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(
            "org.freedesktop.secrets was not provided".into(),
        ))
    }
}

/// A keychain that keeps account secrets but cannot keep the cache key.
pub struct NoCacheKey(pub Arc<MemoryStore>);

impl SecretStore for NoCacheKey {
    fn get(&self, name: &str) -> Result<Option<SecretString>, StoreError> {
        self.0.get(name)
    }
    fn set(&self, name: &str, value: &SecretString) -> Result<(), StoreError> {
        if name == names::CACHE_KEY {
            return Err(StoreError::Unavailable("the keychain is locked".into()));
        }
        self.0.set(name, value)
    }
    fn delete(&self, name: &str) -> Result<(), StoreError> {
        self.0.delete(name)
    }
}
