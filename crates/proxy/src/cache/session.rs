//! The Open WebUI session token across restarts: saved only inside the encrypted disk cache,
//! with a keyed digest binding it to the server, account and password it was issued for, and
//! adopted at start only when that digest still matches and the token is not near its end. A
//! changed password, another server or another account means a fresh sign-in. Password
//! sign-in only: an API key is itself the bearer and lives in the keychain.

use super::crypto::{ct_eq, wipe};
use super::disk::DiskCache;
use crate::credentials::Credentials;
use crate::upstream::auth::{Token, TokenStore};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A saved token must have at least this long left to be adopted.
const MIN_REMAINING: Duration = Duration::from_secs(60);

/// What is stored (inside the envelope only).
#[derive(Serialize, Deserialize)]
struct Stored {
    bearer: String,
    expires_at: Option<f64>,
    obtained_at: f64,
    role: Option<String>,
    binding: String,
}

impl Drop for Stored {
    fn drop(&mut self) {
        wipe(&mut self.bearer);
    }
}

/// The saved session for one server and account.
pub struct SessionStore {
    disk: Arc<DiskCache>,
    namespace: String,
    binding: String,
}

impl SessionStore {
    /// The store for `server` and these credentials; `None` for API keys.
    pub fn new(disk: Arc<DiskCache>, server: &str, creds: &Credentials) -> Option<Self> {
        let Credentials::Password { email, password } = creds else {
            return None;
        };
        let email = email.to_lowercase();
        let digest = disk.envelope().bind(&[
            b"session-v1",
            server.as_bytes(),
            email.as_bytes(),
            password.expose_secret().as_bytes(),
        ]);
        let binding = digest.iter().map(|b| format!("{b:02x}")).collect();
        let namespace = format!("session\n{server}\n{email}");
        Some(SessionStore {
            disk,
            namespace,
            binding,
        })
    }

    /// The saved token if it was issued for these credentials and is still good; a token that
    /// does not qualify is deleted.
    pub fn load(&self) -> Option<Token> {
        let stored: Stored = self.disk.read_json(&self.namespace)?;
        if !ct_eq(stored.binding.as_bytes(), self.binding.as_bytes()) {
            tracing::info!("the saved session belongs to other credentials; signing in again");
            self.disk.remove(&self.namespace);
            return None;
        }
        let token = Token {
            bearer: SecretString::from(stored.bearer.clone()),
            expires_at: stored.expires_at.and_then(from_unix),
            obtained_at: from_unix(stored.obtained_at).unwrap_or(UNIX_EPOCH),
            role: stored.role.clone(),
        };
        let now = SystemTime::now();
        let ending = token.expires_at.is_some_and(|e| e < now + MIN_REMAINING);
        if ending || token.needs_renewal(now) {
            self.disk.remove(&self.namespace);
            return None;
        }
        Some(token)
    }
}

impl TokenStore for SessionStore {
    fn save(&self, token: &Token) {
        let stored = Stored {
            bearer: token.bearer.expose_secret().to_string(),
            expires_at: token.expires_at.map(to_unix),
            obtained_at: to_unix(token.obtained_at),
            role: token.role.clone(),
            binding: self.binding.clone(),
        };
        self.disk.write_json(&self.namespace, &stored);
    }

    fn forget(&self) {
        self.disk.remove(&self.namespace);
    }
}

fn to_unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn from_unix(secs: f64) -> Option<SystemTime> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .map(|d| UNIX_EPOCH + d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::crypto::CacheKey;

    fn creds(password: &str) -> Credentials {
        Credentials::Password {
            email: "Me@Example.com".into(),
            password: password.into(),
        }
    }

    fn token(life: Option<u64>) -> Token {
        let now = SystemTime::now();
        Token {
            bearer: SecretString::from("jwt-secret-value"),
            expires_at: life.map(|s| now + Duration::from_secs(s)),
            obtained_at: now,
            role: Some("user".into()),
        }
    }

    fn disk(dir: &std::path::Path) -> Arc<DiskCache> {
        Arc::new(DiskCache::open(dir, &CacheKey::generate()).unwrap())
    }

    #[test]
    fn saved_token_is_adopted_for_the_same_credentials_only() {
        let tmp = tempfile::tempdir().unwrap();
        let d = disk(tmp.path());
        let s = SessionStore::new(d.clone(), "http://owui", &creds("pw1")).unwrap();
        s.save(&token(Some(86400)));
        let t = s.load().unwrap();
        assert_eq!(t.bearer.expose_secret(), "jwt-secret-value");
        assert_eq!(t.role.as_deref(), Some("user"));
        let other_server = SessionStore::new(d.clone(), "http://other", &creds("pw1")).unwrap();
        assert!(other_server.load().is_none());
        let changed = SessionStore::new(d.clone(), "http://owui", &creds("pw2")).unwrap();
        assert!(
            changed.load().is_none(),
            "a changed password forces a sign-in"
        );
        assert!(s.load().is_none(), "and the old token is gone");
    }

    #[test]
    fn tokens_near_their_end_are_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let s = SessionStore::new(disk(tmp.path()), "http://owui", &creds("pw")).unwrap();
        s.save(&token(Some(30)));
        assert!(s.load().is_none());
        s.save(&token(None));
        assert!(s.load().is_some(), "a token without expiry is kept");
        s.forget();
        assert!(s.load().is_none());
    }

    #[test]
    fn api_keys_are_never_saved() {
        let tmp = tempfile::tempdir().unwrap();
        let key = Credentials::ApiKey(SecretString::from("sk-1"));
        assert!(SessionStore::new(disk(tmp.path()), "http://owui", &key).is_none());
    }

    #[test]
    fn the_file_holds_neither_token_nor_password_in_clear() {
        let tmp = tempfile::tempdir().unwrap();
        let s = SessionStore::new(disk(tmp.path()), "http://owui", &creds("hunter2-pw")).unwrap();
        s.save(&token(Some(86400)));
        for f in std::fs::read_dir(tmp.path()).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            for needle in [
                &b"jwt-secret-value"[..],
                b"hunter2-pw",
                b"example.com",
                b"owui",
            ] {
                assert!(!bytes.windows(needle.len()).any(|w| w == needle));
            }
        }
    }
}
