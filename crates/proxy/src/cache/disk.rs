//! The disk tier: encrypted entries in one private folder (0700), one file per namespace
//! (named by a keyed digest, never by anything a client sent), written atomically (temp file,
//! fsync, rename) with mode 0600. A file that is corrupt, foreign or tampered with is logged,
//! deleted and treated as a miss; nothing here ever fails a request. Files untouched for
//! [`MAX_AGE`] are swept. Knows nothing about what the entries mean.

use super::crypto::{check_header, CacheKey, Envelope};
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

/// Entries not rewritten for this long are deleted by [`DiskCache::sweep`].
pub const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The largest entry read back; anything bigger is dropped.
pub const MAX_ENTRY: u64 = 128 * 1024 * 1024;
const TEMP_PREFIX: &str = ".tmp-";
const TEMP_MAX_AGE: Duration = Duration::from_secs(600);

/// The cache folder cannot be used (the proxy then runs without a disk cache).
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// Creating or securing the folder failed.
    #[error("cannot use the cache folder {path}: {source}")]
    Io {
        /// The folder.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// The folder is shared with other users (e.g. the system temp folder).
    #[error("refusing the shared cache folder {0}: choose a folder only you can write to")]
    Shared(String),
}

/// The encrypted disk tier.
pub struct DiskCache {
    dir: PathBuf,
    envelope: Envelope,
    /// Set by [`DiskCache::close`]: later writes are skipped (a task still running after a
    /// sign-out must not leave a file behind).
    closed: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for DiskCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl DiskCache {
    /// Opens (creating it 0700 if needed) the folder, then sweeps old and foreign files.
    pub fn open(dir: impl Into<PathBuf>, key: &CacheKey) -> Result<Self, DiskError> {
        let dir = dir.into();
        let io_err = |source| DiskError::Io {
            path: dir.display().to_string(),
            source,
        };
        if is_shared(&dir) {
            return Err(DiskError::Shared(dir.display().to_string()));
        }
        ensure_private_dir(&dir).map_err(io_err)?;
        let cache = DiskCache {
            dir,
            envelope: Envelope::new(key),
            closed: std::sync::atomic::AtomicBool::new(false),
        };
        let swept = cache.sweep();
        if swept > 0 {
            tracing::debug!(files = swept, "old cache files removed");
        }
        Ok(cache)
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The envelope (for keyed digests).
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    fn path(&self, namespace: &str) -> PathBuf {
        self.dir.join(self.envelope.file_name(namespace))
    }

    /// The decrypted entry for `namespace`; `None` when absent or unusable (then deleted).
    pub fn read(&self, namespace: &str) -> Option<Zeroizing<Vec<u8>>> {
        let path = self.path(namespace);
        let data = match read_capped(&path) {
            Ok(Some(d)) => d,
            Ok(None) => return None,
            Err(e) => {
                self.drop_file(&path, &e.to_string());
                return None;
            }
        };
        match self.envelope.open(namespace, &data) {
            Ok(plain) => Some(plain),
            Err(e) => {
                self.drop_file(&path, &e.to_string());
                None
            }
        }
    }

    /// The entry for `namespace` decoded from JSON; undecodable entries are deleted.
    pub fn read_json<T: DeserializeOwned>(&self, namespace: &str) -> Option<T> {
        let plain = self.read(namespace)?;
        match serde_json::from_slice(&plain) {
            Ok(v) => Some(v),
            Err(e) => {
                self.drop_file(&self.path(namespace), &format!("undecodable entry: {e}"));
                None
            }
        }
    }

    /// Encrypts and stores an entry; failures are logged and otherwise ignored.
    pub fn write(&self, namespace: &str, plaintext: &[u8]) -> bool {
        if self.is_closed() {
            return false;
        }
        let result = self
            .envelope
            .seal(namespace, plaintext)
            .map_err(|e| io::Error::other(e.to_string()))
            .and_then(|sealed| write_private(&self.path(namespace), &sealed));
        if let Err(e) = &result {
            tracing::warn!(error = %e, dir = %self.dir.display(), "writing a cache file failed");
        }
        result.is_ok()
    }

    /// Serialises `value` as JSON and stores it.
    pub fn write_json<T: Serialize>(&self, namespace: &str, value: &T) -> bool {
        match serde_json::to_vec(value) {
            Ok(v) => self.write(namespace, &Zeroizing::new(v)),
            Err(e) => {
                tracing::warn!(error = %e, "encoding a cache entry failed");
                false
            }
        }
    }

    /// Deletes the entry for `namespace`, if any.
    pub fn remove(&self, namespace: &str) {
        let path = self.path(namespace);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(error = %e, file = %path.display(), "removing a cache file failed");
            }
        }
    }

    /// Deletes entries untouched for [`MAX_AGE`], leftover temp files and files that are not
    /// our envelope. Returns how many files went.
    pub fn sweep(&self) -> usize {
        let now = SystemTime::now();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let (path, name) = (
                entry.path(),
                entry.file_name().to_string_lossy().into_owned(),
            );
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            let stale = if name.starts_with(TEMP_PREFIX) {
                age > TEMP_MAX_AGE
            } else if is_entry_name(&name) {
                age > MAX_AGE || !has_our_header(&path)
            } else {
                false
            };
            if stale && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    /// Deletes every cache file in the folder (sign-out, "clear data") and closes the cache.
    pub fn clear(&self) -> io::Result<usize> {
        self.close();
        clear_dir(&self.dir)
    }

    /// Stops all later writes through this handle.
    pub fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    fn drop_file(&self, path: &Path, why: &str) {
        tracing::warn!(file = %path.display(), reason = why, "ignoring and deleting a bad cache file");
        let _ = std::fs::remove_file(path);
    }
}

/// Deletes every file the proxy wrote in `dir` (entries and temp files; nothing else), then the
/// folder itself if it is left empty. A missing folder is fine.
pub fn clear_dir(dir: &Path) -> io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_entry_name(&name) || name.starts_with(TEMP_PREFIX) {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    let _ = std::fs::remove_dir(dir);
    Ok(removed)
}

fn is_entry_name(name: &str) -> bool {
    name.strip_suffix(".bin")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn has_our_header(path: &Path) -> bool {
    let mut head = [0u8; super::crypto::MIN_LEN];
    let Ok(mut f) = std::fs::File::open(path) else {
        return true;
    };
    let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
    check_header(&head[..n]).is_ok()
}

fn read_capped(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(io::Error::other("not a regular file")),
        Ok(m) if m.len() > MAX_ENTRY => Err(io::Error::other("larger than any entry we write")),
        Ok(_) => std::fs::read(path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_shared(dir: &Path) -> bool {
    let temp = std::env::temp_dir();
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if canon(dir) == canon(&temp) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // A sticky, world-writable folder (like /tmp) is shared by design.
        if let Ok(m) = std::fs::metadata(dir) {
            return m.permissions().mode() & 0o1002 == 0o1002;
        }
    }
    false
}

/// Creates `dir` (and missing parents) as 0700 and makes an existing `dir` 0700.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    create_private_dir(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates `dir` and missing parents as 0700; leaves existing folders as they are.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Writes `bytes` to `path` atomically: a 0600 temp file in the same folder (created 0700 if
/// missing; an existing folder is left as it is), flushed to disk, renamed over the target,
/// then the folder synced.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!("{TEMP_PREFIX}{hex}"));
    let result = write_new(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;
