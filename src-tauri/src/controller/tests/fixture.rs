//! Test fixtures for the controller: a fake Open WebUI on `127.0.0.1:0`, a controller with an
//! in-memory secret store and settings in a temp folder, a raw HTTP GET, and a keychain that
//! is not there.

use crate::controller::{Controller, SignInRequest};
use crate::settings::{AuthMethod, Settings};
use axum::routing::{get, post};
use axum::{Json, Router};
use proxy::credentials::{SecretStore, StoreError};
use proxy::events::EventSink;
use proxy::MemoryStore;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A fake Open WebUI: any password but "wrong" signs in; lists one model `m1`.
pub async fn fake_openwebui() -> String {
    async fn signin(Json(body): Json<Value>) -> (axum::http::StatusCode, Json<Value>) {
        if body["password"] == "wrong" {
            let err = json!({"detail": "The email or password provided is incorrect."});
            return (axum::http::StatusCode::BAD_REQUEST, Json(err));
        }
        let ok = json!({"token": "t", "expires_at": null, "role": "admin"});
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        let initial = Settings {
            port: 0,
            ..Settings::default()
        };
        crate::settings::save(&path, &initial).unwrap();
        let store = Arc::new(MemoryStore::new());
        let controller = Controller::new(store.clone(), Some(path), EventSink::default());
        Fixture {
            controller,
            store,
            dir,
        }
    }

    pub fn settings_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("settings.json")).unwrap()
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
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
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
