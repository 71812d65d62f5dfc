//! Caches in front of Open WebUI: the model list (memory → encrypted disk → upstream, served
//! stale when the upstream is down, refreshed in the background), rendered `/api/show` replies
//! (memory, bounded), the saved session token, and the envelope that encrypts every file.
//! Cache failures never reach a client: they are logged and the request goes upstream.

pub mod crypto;
pub mod disk;
pub mod models;
pub mod session;
pub mod show;

pub use crypto::{CacheKey, KeyError};
pub use disk::{DiskCache, DiskError};
pub use models::{ModelCache, ModelSet};
pub use session::SessionStore;
pub use show::ShowCache;

use crate::credentials::{names, SecretStore, StoreError};
use std::path::{Path, PathBuf};

/// The default cache folder: the OS cache folder + `openwebui-ollama-proxy`
/// (`~/.cache/…` on Linux, `~/Library/Caches/…` on macOS, `%LOCALAPPDATA%\…` on Windows).
/// `None` when the OS has none; never a shared temporary folder.
pub fn default_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.cache_dir().join("openwebui-ollama-proxy"))
}

/// Why clearing data failed.
#[derive(Debug, thiserror::Error)]
pub enum ClearError {
    /// Cache files could not be deleted.
    #[error("deleting the cache files in {path} failed: {source}")]
    Files {
        /// The folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The keychain entry could not be deleted.
    #[error(transparent)]
    Keychain(#[from] StoreError),
}

/// Sign-out and "clear data": deletes every cache file in `dir` (model lists, saved sessions)
/// and the cache key in `store`. Other secrets (password, API key) are the caller's to delete.
pub fn clear_data(dir: Option<&Path>, store: &dyn SecretStore) -> Result<(), ClearError> {
    // Both steps run even when the first fails; the first error is reported.
    let files = match dir {
        Some(dir) => disk::clear_dir(dir)
            .map(drop)
            .map_err(|source| ClearError::Files {
                path: dir.display().to_string(),
                source,
            }),
        None => Ok(()),
    };
    let key = store.delete(names::CACHE_KEY).map_err(ClearError::from);
    files.and(key)
}
