//! Where secrets live: the [`SecretStore`] trait with an OS keychain implementation
//! ([`KeyringStore`]) and an in-memory one ([`MemoryStore`], for tests and the CLI), and the
//! [`Credentials`] the upstream sign-in uses. Secrets are [`SecretString`]s: they never print.
//! There is deliberately no file-backed store: no keychain means no stored secret.

use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// How the proxy authenticates to Open WebUI.
#[derive(Clone)]
pub enum Credentials {
    /// Email and password sign-in (a session token is obtained and renewed).
    Password {
        /// Account email.
        email: String,
        /// Password.
        password: SecretString,
    },
    /// An Open WebUI API key (`sk-…`), sent as the bearer token.
    ApiKey(SecretString),
}

impl Credentials {
    /// The account email, when known.
    pub fn email(&self) -> Option<&str> {
        match self {
            Credentials::Password { email, .. } => Some(email),
            Credentials::ApiKey(_) => None,
        }
    }

    /// A short non-secret label used to key caches per user: the email, or a
    /// fingerprint of the key (first 8 hex of its SHA-256).
    pub fn user_label(&self) -> String {
        use sha2::{Digest, Sha256};
        match self {
            Credentials::Password { email, .. } => email.to_lowercase(),
            Credentials::ApiKey(k) => {
                let d = Sha256::digest(k.expose_secret().as_bytes());
                let hex: String = d.iter().take(4).map(|b| format!("{b:02x}")).collect();
                format!("key-{hex}")
            }
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { email, .. } => f
                .debug_struct("Password")
                .field("email", email)
                .field("password", &"[REDACTED]")
                .finish(),
            Credentials::ApiKey(_) => f.write_str("ApiKey([REDACTED])"),
        }
    }
}

/// Failure of a secret store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No usable keychain on this system.
    #[error("no OS keychain is available: {0}")]
    Unavailable(String),
    /// The keychain refused or failed.
    #[error("keychain error: {0}")]
    Failed(String),
}

/// A place that keeps named secrets.
pub trait SecretStore: Send + Sync {
    /// Reads a secret; `Ok(None)` when absent.
    fn get(&self, name: &str) -> Result<Option<SecretString>, StoreError>;
    /// Writes (replaces) a secret.
    fn set(&self, name: &str, value: &SecretString) -> Result<(), StoreError>;
    /// Removes a secret; absent is fine.
    fn delete(&self, name: &str) -> Result<(), StoreError>;
}

/// Secret names used by the proxy and the app.
pub mod names {
    /// The password for `email` on `server`.
    pub fn password(server: &str, email: &str) -> String {
        format!("password:{}@{}", email.to_lowercase(), server)
    }
    /// The API key for `server`.
    pub fn api_key(server: &str) -> String {
        format!("api-key:{server}")
    }
    /// The random 256-bit key that encrypts the disk cache.
    pub const CACHE_KEY: &str = "cache-key";
    /// The optional token clients must present.
    pub const CLIENT_TOKEN: &str = "client-token";
}

/// Secrets in process memory only.
#[derive(Default)]
pub struct MemoryStore(Mutex<HashMap<String, SecretString>>);

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, SecretString>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<SecretString>, StoreError> {
        Ok(self
            .map()
            .get(name)
            .map(|s| SecretString::from(s.expose_secret())))
    }
    fn set(&self, name: &str, value: &SecretString) -> Result<(), StoreError> {
        self.map()
            .insert(name.to_string(), SecretString::from(value.expose_secret()));
        Ok(())
    }
    fn delete(&self, name: &str) -> Result<(), StoreError> {
        self.map().remove(name);
        Ok(())
    }
}

/// The OS keychain (macOS Keychain, Windows Credential Manager, Secret Service on Linux).
#[cfg(feature = "keyring")]
pub struct KeyringStore {
    service: String,
}

#[cfg(feature = "keyring")]
impl KeyringStore {
    /// Secrets stored under this service name.
    pub fn new(service: impl Into<String>) -> Self {
        KeyringStore {
            service: service.into(),
        }
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(&self.service, name).map_err(map_keyring)
    }
}

#[cfg(feature = "keyring")]
fn map_keyring(e: keyring::Error) -> StoreError {
    match e {
        keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_) => {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Failed(other.to_string()),
    }
}

#[cfg(feature = "keyring")]
impl SecretStore for KeyringStore {
    fn get(&self, name: &str) -> Result<Option<SecretString>, StoreError> {
        match self.entry(name)?.get_password() {
            Ok(s) => Ok(Some(SecretString::from(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring(e)),
        }
    }
    fn set(&self, name: &str, value: &SecretString) -> Result<(), StoreError> {
        self.entry(name)?
            .set_password(value.expose_secret())
            .map_err(map_keyring)
    }
    fn delete(&self, name: &str) -> Result<(), StoreError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_keyring(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secrets() {
        let c = Credentials::Password {
            email: "a@b.c".into(),
            password: SecretString::from("hunter2"),
        };
        let k = Credentials::ApiKey(SecretString::from("sk-123"));
        let text = format!("{c:?} {k:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("sk-123"),
            "{text}"
        );
        assert!(text.contains("a@b.c"));
    }

    #[test]
    fn memory_store_round_trip() {
        let s = MemoryStore::new();
        assert!(s.get("x").unwrap().is_none());
        s.set("x", &SecretString::from("v")).unwrap();
        assert_eq!(s.get("x").unwrap().unwrap().expose_secret(), "v");
        s.delete("x").unwrap();
        s.delete("x").unwrap();
        assert!(s.get("x").unwrap().is_none());
    }

    #[test]
    fn user_label_keys_by_email_or_key_fingerprint() {
        let a = Credentials::ApiKey(SecretString::from("sk-a"));
        let b = Credentials::ApiKey(SecretString::from("sk-b"));
        assert_ne!(a.user_label(), b.user_label());
        assert!(!a.user_label().contains("sk-a"));
    }
}
