//! The encrypted envelope for everything the proxy writes to disk:
//! `MAGIC(4) ‖ VERSION(1) ‖ NONCE(12) ‖ AES-256-GCM(ciphertext ‖ tag)`, with the header and the
//! entry's namespace as associated data, so a file moved to another name, edited, truncated or
//! written under another key fails authentication. Also the random 256-bit [`CacheKey`] (kept in
//! the OS keychain or a private key file), keyed file names and keyed digests that bind a saved
//! session to the credentials it was issued for. Pure computation: no file I/O here except
//! [`CacheKey::from_file`].

use crate::credentials::{names, SecretStore, StoreError};
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::fmt;
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

/// The first bytes of every cache file.
pub const MAGIC: [u8; 4] = *b"OWPc";
/// The envelope version this build writes and reads.
pub const VERSION: u8 = 1;
const HEADER_LEN: usize = MAGIC.len() + 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The smallest possible envelope (empty plaintext).
pub const MIN_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// Why an envelope or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Shorter than the smallest envelope.
    #[error("too short to be a cache entry ({0} bytes)")]
    TooShort(usize),
    /// Not one of our files.
    #[error("not a cache entry (wrong magic bytes)")]
    BadMagic,
    /// Written by another envelope version.
    #[error("unsupported cache entry version {0}")]
    Version(u8),
    /// Tampered, truncated, written under another key, or read under the wrong namespace.
    #[error("the cache entry failed authentication")]
    Authentication,
    /// The stored key is not 32 base64-encoded bytes.
    #[error("the cache key is malformed")]
    BadKey,
    /// The AEAD refused to encrypt (never expected).
    #[error("encrypting a cache entry failed")]
    Encrypt,
}

/// A key could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The keychain failed or is missing.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key file could not be used.
    #[error("cache key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The stored key is malformed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// The random 256-bit key that encrypts the disk cache. Never printed; wiped on drop.
#[derive(Clone)]
pub struct CacheKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CacheKey([REDACTED])")
    }
}

impl CacheKey {
    /// A fresh key from the OS random source.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(k.as_mut());
        CacheKey(k)
    }

    /// Decodes a key stored as base64.
    pub fn decode(encoded: &SecretString) -> Result<Self, CryptoError> {
        let bytes = Zeroizing::new(
            B64.decode(encoded.expose_secret().trim())
                .map_err(|_| CryptoError::BadKey)?,
        );
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadKey)?;
        Ok(CacheKey(Zeroizing::new(arr)))
    }

    /// The key as base64, for storing it.
    pub fn encode(&self) -> SecretString {
        SecretString::from(B64.encode(self.0.as_ref()))
    }

    /// The key kept in `store` under [`names::CACHE_KEY`], created on first use. A malformed
    /// stored key is replaced (the files it encrypted become unreadable and are dropped).
    pub fn from_store(store: &dyn SecretStore) -> Result<Self, KeyError> {
        if let Some(stored) = store.get(names::CACHE_KEY)? {
            match CacheKey::decode(&stored) {
                Ok(k) => return Ok(k),
                Err(e) => tracing::warn!(error = %e, "replacing the malformed cache key"),
            }
        }
        let key = CacheKey::generate();
        store.set(names::CACHE_KEY, &key.encode())?;
        Ok(key)
    }

    /// The key kept in a private file (for the CLI on systems without a keychain), created
    /// with mode 0600 on first use. A file other users may read is refused.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let err = |reason: String| KeyError::File {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                check_private(path).map_err(err)?;
                let text = SecretString::from(text);
                Ok(CacheKey::decode(&text)?)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = CacheKey::generate();
                super::disk::write_private(path, key.encode().expose_secret().as_bytes())
                    .map_err(|e| err(e.to_string()))?;
                Ok(key)
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(label);
        Zeroizing::new(mac.finalize().into_bytes().into())
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "other users may read it (mode {:o}): run chmod 600 on it",
            mode & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// Seals and opens envelopes, names files and binds sessions, all under one [`CacheKey`]
/// (separate sub-keys derived with HMAC-SHA-256 for each use).
pub struct Envelope {
    cipher: Aes256Gcm,
    naming: Zeroizing<[u8; 32]>,
    binding: Zeroizing<[u8; 32]>,
}

impl Envelope {
    /// The envelope for this key.
    pub fn new(key: &CacheKey) -> Self {
        let enc = key.derive(b"openwebui-ollama-proxy/v1/encrypt");
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(enc.as_ref()));
        Envelope {
            cipher,
            naming: key.derive(b"openwebui-ollama-proxy/v1/name"),
            binding: key.derive(b"openwebui-ollama-proxy/v1/bind"),
        }
    }

    /// Encrypts `plaintext` for `namespace` with a fresh random nonce.
    pub fn seal(&self, namespace: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = aad(namespace);
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ct.len());
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Checks and decrypts an envelope written for `namespace`.
    pub fn open(&self, namespace: &str, data: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        check_header(data)?;
        let nonce = Nonce::from_slice(&data[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
        let aad = aad(namespace);
        let msg = &data[HEADER_LEN + NONCE_LEN..];
        self.cipher
            .decrypt(nonce, Payload { msg, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Authentication)
    }

    /// The file name for `namespace`: hex HMAC-SHA-256 under a sub-key, so names reveal
    /// nothing (not even a guessable server or email) without the key.
    pub fn file_name(&self, namespace: &str) -> String {
        let digest = self.mac(&self.naming, &[namespace.as_bytes()]);
        let mut name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        name.push_str(".bin");
        name
    }

    /// A keyed digest of `parts` (length-prefixed, so part boundaries count): binds a saved
    /// session to the server, account and password it was issued for without storing any
    /// guessable hash of the password.
    pub fn bind(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.mac(&self.binding, parts)
    }

    fn mac(&self, key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

/// Checks magic, version and length only (no key needed): used to sweep foreign files.
pub fn check_header(data: &[u8]) -> Result<(), CryptoError> {
    if data.len() >= HEADER_LEN && data[..MAGIC.len()] != MAGIC {
        return Err(CryptoError::BadMagic);
    }
    if data.len() >= HEADER_LEN && data[MAGIC.len()] != VERSION {
        return Err(CryptoError::Version(data[MAGIC.len()]));
    }
    if data.len() < MIN_LEN {
        return Err(CryptoError::TooShort(data.len()));
    }
    Ok(())
}

fn aad(namespace: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER_LEN + namespace.len());
    aad.extend_from_slice(&MAGIC);
    aad.push(VERSION);
    aad.extend_from_slice(namespace.as_bytes());
    aad
}

/// Compares two byte strings in constant time (for their length).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Wipes a string that held a secret.
pub fn wipe(s: &mut String) {
    s.zeroize();
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
