//! The model list: memory, then the encrypted disk tier, then Open WebUI. Fetched once per TTL
//! (single-flight), pre-rendered as the `/api/tags` body so a cached list costs a pointer copy,
//! refreshed in the background once stale, and served stale (with a warning) while the upstream
//! is down. One cache belongs to one server and user; on disk the entry is keyed by both, and
//! its freshness is judged by the fetch time and the current TTL.

use super::disk::DiskCache;
use crate::openai::Model;
use crate::translate::models as tm;
use crate::upstream::{AuthError, Upstream, UpstreamError};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One fetched model list and its rendered forms.
#[derive(Debug)]
pub struct ModelSet {
    /// Models as Open WebUI lists them.
    pub models: Vec<Model>,
    /// The `/api/tags` reply body.
    pub tags_body: Bytes,
    /// When it was fetched.
    pub fetched_at: Instant,
}

impl ModelSet {
    /// Builds the set and renders `/api/tags`.
    pub fn new(models: Vec<Model>) -> Self {
        Self::fetched_at(models, Instant::now())
    }

    /// A set fetched at an earlier moment (restored from disk).
    pub fn fetched_at(models: Vec<Model>, fetched_at: Instant) -> Self {
        let tags = tm::tags(&models);
        let mut body = serde_json::to_vec(&tags).unwrap_or_else(|_| b"{\"models\":[]}".to_vec());
        body.push(b'\n');
        ModelSet {
            models,
            tags_body: Bytes::from(body),
            fetched_at,
        }
    }

    /// Finds a model by the name a client used; its position in `models`.
    pub fn resolve(&self, requested: &str) -> Option<usize> {
        tm::resolve(&self.models, requested)
    }
}

/// The disk entry key for a server and user.
pub fn namespace(server: &str, user: &str) -> String {
    format!("models\n{server}\n{user}")
}

/// The list as written to disk.
#[derive(Serialize)]
struct StoredRef<'a> {
    fetched_at: f64,
    models: &'a [Model],
}

/// The list as read from disk.
#[derive(Deserialize)]
struct Stored {
    fetched_at: f64,
    models: Vec<Model>,
}

/// The memory tier with single-flight refresh, backed by an optional disk tier.
pub struct ModelCache {
    current: RwLock<Option<Arc<ModelSet>>>,
    refresh: tokio::sync::Mutex<()>,
    ttl: Duration,
    disk: Option<(Arc<DiskCache>, String)>,
}

impl ModelCache {
    /// An empty memory-only cache whose entries stay fresh for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        ModelCache {
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            ttl,
            disk: None,
        }
    }

    /// A cache for `server` and `user` backed by `disk`, pre-loaded from it.
    pub fn with_disk(ttl: Duration, disk: Arc<DiskCache>, server: &str, user: &str) -> Self {
        let cache = ModelCache {
            disk: Some((disk, namespace(server, user))),
            ..Self::new(ttl)
        };
        cache.load();
        cache
    }

    fn load(&self) {
        let Some((disk, ns)) = &self.disk else { return };
        let Some(stored) = disk.read_json::<Stored>(ns) else {
            return;
        };
        let fetched = Duration::try_from_secs_f64(stored.fetched_at).map(|d| UNIX_EPOCH + d);
        let age = fetched
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok());
        let age = age.unwrap_or(self.ttl);
        let now = Instant::now();
        let at = now
            .checked_sub(age)
            .or_else(|| now.checked_sub(self.ttl))
            .unwrap_or(now);
        let (count, age_s, fresh) = (stored.models.len(), age.as_secs(), age < self.ttl);
        tracing::info!(
            models = count,
            age_s,
            fresh,
            "model list loaded from the disk cache"
        );
        self.put(Arc::new(ModelSet::fetched_at(stored.models, at)));
    }

    /// Writes the list to disk on the blocking pool; done when it is written (or failed).
    async fn save(&self, set: &Arc<ModelSet>) {
        let Some((disk, ns)) = &self.disk else { return };
        let (disk, ns, set) = (disk.clone(), ns.clone(), set.clone());
        let write = move || {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let stored = StoredRef {
                fetched_at: now.as_secs_f64(),
                models: &set.models,
            };
            disk.write_json(&ns, &stored);
        };
        if let Err(e) = tokio::task::spawn_blocking(write).await {
            tracing::warn!(error = %e, "writing the model list to disk failed");
        }
    }

    fn snapshot(&self) -> Option<Arc<ModelSet>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stores a list obtained elsewhere (e.g. a disk cache).
    pub fn put(&self, set: Arc<ModelSet>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(set);
    }

    /// The list: fresh from memory; stale from memory while a refresh runs in the background;
    /// or fetched now when nothing is held.
    pub async fn get(
        self: &Arc<Self>,
        upstream: &Arc<Upstream>,
    ) -> Result<Arc<ModelSet>, UpstreamError> {
        match self.snapshot() {
            Some(set) if set.fetched_at.elapsed() < self.ttl => Ok(set),
            Some(stale) => {
                self.refresh_in_background(upstream);
                Ok(stale)
            }
            None => self.fetch(upstream, None).await,
        }
    }

    /// Fetches now unless another caller already refreshed after `older_than`.
    pub async fn fetch(
        &self,
        upstream: &Upstream,
        older_than: Option<Instant>,
    ) -> Result<Arc<ModelSet>, UpstreamError> {
        let guard = self.refresh.lock().await;
        if let Some(set) = self.snapshot() {
            let fresh = set.fetched_at.elapsed() < self.ttl;
            let newer = older_than.is_some_and(|t| set.fetched_at > t);
            if (older_than.is_none() && fresh) || newer {
                return Ok(set);
            }
        }
        match upstream.models().await {
            Ok(models) => {
                tracing::debug!(count = models.len(), "model list fetched from Open WebUI");
                let set = Arc::new(ModelSet::new(models));
                self.put(set.clone());
                drop(guard);
                self.save(&set).await;
                Ok(set)
            }
            Err(e) => match self.snapshot().filter(|_| !refused(&e)) {
                Some(stale) => {
                    tracing::warn!(error = %e, "Open WebUI unavailable; serving the cached model list");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    fn refresh_in_background(self: &Arc<Self>, upstream: &Arc<Upstream>) {
        if self.refresh.try_lock().is_err() {
            return;
        }
        let (upstream, me) = (upstream.clone(), self.clone());
        tokio::spawn(async move {
            let _ = me.fetch(&upstream, None).await;
        });
    }
}

/// True when Open WebUI refused these credentials (as opposed to being down): then no cached
/// list is served, so wrong credentials never look like a working sign-in.
fn refused(e: &UpstreamError) -> bool {
    let transient = |a: &AuthError| {
        matches!(
            a,
            AuthError::Unreachable(_) | AuthError::Timeout | AuthError::RateLimited
        )
    };
    matches!(e, UpstreamError::Auth(a) if !transient(a))
}
