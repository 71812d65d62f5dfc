//! The encrypted disk cache seen from outside: hits across restarts, expiry by the current
//! TTL, stale-on-error, keying by server and user, saved sessions bound to the credentials,
//! tampered and foreign files ignored, and no secret in any byte of the cache folder.

use crate::fake::{self, Fake};
use crate::{client, config_for, key_creds, password_creds, send, Proxy};
use proxy::cache::CacheKey;
use proxy::events::EventSink;
use proxy::{AppState, Config, Credentials};
use std::time::Duration;

/// A disk cache folder and key shared by several proxy runs.
struct Disk {
    dir: tempfile::TempDir,
    key: CacheKey,
}

impl Disk {
    fn new() -> Self {
        Disk {
            dir: tempfile::tempdir().unwrap(),
            key: CacheKey::generate(),
        }
    }

    fn config(&self, fake: &Fake, tune: impl FnOnce(&mut Config)) -> Config {
        let mut c = config_for(&fake.url);
        c.cache_dir = Some(self.dir.path().join("cache"));
        tune(&mut c);
        c
    }

    /// Every byte of every file under the cache folder.
    fn all_bytes(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(std::fs::read(&p).unwrap());
                }
            }
        }
        out
    }
}

async fn start(config: Config, creds: Credentials, key: &CacheKey) -> Proxy {
    let state = AppState::with_disk_cache(config, creds, EventSink::default(), key).unwrap();
    Proxy::serve(state).await
}

async fn tags(p: &Proxy) -> crate::Reply {
    send(client().get(format!("{}/api/tags", p.url))).await
}

/// Asserts the model list and the session are on disk (both are written before the request
/// that fetched them is answered).
fn assert_saved(disk: &Disk) {
    let n = std::fs::read_dir(disk.dir.path().join("cache"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(n, 2, "model list and session files");
}

#[tokio::test]
async fn disk_cache_serves_a_restart_without_upstream_calls() {
    let (fake, disk) = (fake::start().await, Disk::new());
    let mut first = start(disk.config(&fake, |_| {}), password_creds(), &disk.key).await;
    tags(&first).await.assert_status(200);
    assert_saved(&disk);
    first.shutdown();
    first.stopped().await.unwrap();
    assert_eq!(
        (fake.count(&fake.signins), fake.count(&fake.model_lists)),
        (1, 1)
    );
    let second = start(disk.config(&fake, |_| {}), password_creds(), &disk.key).await;
    let r = tags(&second).await;
    r.assert_status(200);
    assert!(r.json()["models"].as_array().unwrap().len() >= 5);
    assert_eq!(fake.count(&fake.model_lists), 1, "the list came from disk");
    second.state.check_upstream().await.unwrap();
    assert_eq!(fake.count(&fake.signins), 1, "the saved session was reused");
}

#[tokio::test]
async fn defect_62_expired_disk_entry_is_refreshed_by_current_ttl() {
    let (fake, disk) = (fake::start().await, Disk::new());
    let first = start(disk.config(&fake, |_| {}), password_creds(), &disk.key).await;
    tags(&first).await.assert_status(200);
    assert_saved(&disk);
    let short = disk.config(&fake, |c| c.tags_ttl = Duration::from_millis(1));
    let second = start(short, password_creds(), &disk.key).await;
    tags(&second).await.assert_status(200);
    fake.wait_for("a background refresh", |f| f.count(&f.model_lists) == 2)
        .await;
}

#[tokio::test]
async fn defect_49_stale_list_is_served_while_upstream_fails() {
    let (fake, disk) = (fake::start().await, Disk::new());
    let first = start(disk.config(&fake, |_| {}), password_creds(), &disk.key).await;
    tags(&first).await.assert_status(200);
    assert_saved(&disk);
    fake.set(|b| b.models_status = Some(500));
    let short = disk.config(&fake, |c| c.tags_ttl = Duration::ZERO);
    let second = start(short, password_creds(), &disk.key).await;
    let r = tags(&second).await;
    r.assert_status(200);
    assert!(!r.json()["models"].as_array().unwrap().is_empty());
    fake.wait_for("the failed refresh", |f| f.count(&f.model_lists) >= 2)
        .await;
    tags(&second).await.assert_status(200);
}

#[tokio::test]
async fn defect_48_cache_is_keyed_by_server_and_user() {
    let (fake, disk) = (fake::start().await, Disk::new());
    let first = start(disk.config(&fake, |_| {}), password_creds(), &disk.key).await;
    tags(&first).await.assert_status(200);
    assert_saved(&disk);
    let other_user = start(
        disk.config(&fake, |_| {}),
        key_creds(fake::API_KEY),
        &disk.key,
    )
    .await;
    tags(&other_user).await.assert_status(200);
    assert_eq!(
        fake.count(&fake.model_lists),
        2,
        "another user's list is not reused"
    );
    let other_fake = fake::start().await;
    let other_server = start(
        disk.config(&other_fake, |_| {}),
        password_creds(),
        &disk.key,
    )
    .await;
    tags(&other_server).await.assert_status(200);
    assert_eq!(
        other_fake.count(&other_fake.model_lists),
        1,
        "another server's list is not reused"
    );
    assert_eq!(other_fake.count(&other_fake.signins), 1, "nor its session");
}

#[tokio::test]
async fn defect_9_changed_password_forces_a_sign_in() {
    let (fake, disk) = (fake::start().await, Disk::new());
    let first = start(disk.config(&fake, |_| {}), password_creds(), &disk.key).await;
    first.state.check_upstream().await.unwrap();
    assert_saved(&disk);
    fake.set(|b| b.password = "Changed-pass-456".into());
    let creds = Credentials::Password {
        email: fake::EMAIL.into(),
        password: "Changed-pass-456".into(),
    };
    let second = start(disk.config(&fake, |_| {}), creds, &disk.key).await;
    second.state.check_upstream().await.unwrap();
    assert_eq!(fake.count(&fake.signins), 2);
    let stranger = start(
        disk.config(&fake, |_| {}),
        crate::wrong_password_creds(),
        &disk.key,
    )
    .await;
    assert!(
        stranger.state.check_upstream().await.is_err(),
        "a wrong password gets no saved token"
    );
}

#[tokio::test]
async fn defect_6_tampered_or_foreign_files_are_ignored() {
    let (fake, disk) = (fake::start().await, Disk::new());
    let first = start(disk.config(&fake, |_| {}), password_creds(), &disk.key).await;
    first.state.check_upstream().await.unwrap();
    assert_saved(&disk);
    let dir = disk.dir.path().join("cache");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&p, bytes).unwrap();
    }
    let second = start(disk.config(&fake, |_| {}), password_creds(), &disk.key).await;
    tags(&second).await.assert_status(200);
    assert_eq!(
        (fake.count(&fake.signins), fake.count(&fake.model_lists)),
        (2, 2)
    );
    let foreign = start(
        disk.config(&fake, |_| {}),
        password_creds(),
        &CacheKey::generate(),
    )
    .await;
    tags(&foreign).await.assert_status(200);
    assert_eq!(
        fake.count(&fake.model_lists),
        3,
        "files under another key are not trusted"
    );
}

#[tokio::test]
async fn defect_5_no_secret_is_stored_in_clear() {
    let (fake, disk) = (fake::start().await, Disk::new());
    let p = start(disk.config(&fake, |_| {}), password_creds(), &disk.key).await;
    tags(&p).await.assert_status(200);
    let chat = send(
        client()
            .post(format!("{}/api/chat", p.url))
            .json(&crate::chat_req("fake-chat", "hi")),
    );
    chat.await.assert_status(200);
    let show = serde_json::json!({"model": "fake-chat"});
    send(client().post(format!("{}/api/show", p.url)).json(&show))
        .await
        .assert_status(200);
    assert_saved(&disk);
    let mut secrets: Vec<String> = fake.requests().iter().filter_map(|r| r.bearer()).collect();
    secrets.sort();
    secrets.dedup();
    assert!(!secrets.is_empty());
    secrets.extend([
        fake::PASSWORD.to_string(),
        fake::EMAIL.to_string(),
        fake::API_KEY.to_string(),
    ]);
    let files = disk.all_bytes();
    assert!(files.len() >= 2, "model list and session were written");
    for bytes in &files {
        for s in &secrets {
            let found = bytes.windows(s.len()).any(|w| w == s.as_bytes());
            assert!(!found, "{s:?} found in a cache file");
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = disk.dir.path().join("cache");
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for e in std::fs::read_dir(&dir).unwrap() {
            let mode = e.unwrap().metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
    p.state.clear_disk_cache();
    assert!(
        !disk.dir.path().join("cache").exists(),
        "clear data removes the files"
    );
}
