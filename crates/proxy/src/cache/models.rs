//! The model list in memory: fetched once per TTL (single-flight), pre-rendered as the
//! `/api/tags` body so a cached list costs a pointer copy, refreshed in the background once
//! stale, and served stale (with a warning) while the upstream is down.

use crate::openai::Model;
use crate::translate::models as tm;
use crate::upstream::{Upstream, UpstreamError};
use bytes::Bytes;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

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
        let tags = tm::tags(&models);
        let mut body = serde_json::to_vec(&tags).unwrap_or_else(|_| b"{\"models\":[]}".to_vec());
        body.push(b'\n');
        ModelSet {
            models,
            tags_body: Bytes::from(body),
            fetched_at: Instant::now(),
        }
    }

    /// Finds a model by the name a client used.
    pub fn resolve(&self, requested: &str) -> Option<&Model> {
        tm::resolve(&self.models, requested)
    }
}

/// The memory tier with single-flight refresh.
pub struct ModelCache {
    current: RwLock<Option<Arc<ModelSet>>>,
    refresh: tokio::sync::Mutex<()>,
    ttl: Duration,
}

impl ModelCache {
    /// An empty cache whose entries stay fresh for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        ModelCache {
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            ttl,
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
        let _guard = self.refresh.lock().await;
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
                Ok(set)
            }
            Err(e) => match self.snapshot() {
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
