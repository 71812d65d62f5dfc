//! The HTTP side: [`AppState`], the axum [`router`] with every Ollama route behind the
//! [`guard`], and [`serve`]: the accept loop with header limits and slow-client timeouts, and a
//! graceful shutdown that lets open streams finish and ends the rest with an error line.

mod body;
pub mod guard;
pub mod handlers;
mod listen;
mod middleware;
mod ndjson;

use crate::cache::{CacheKey, DiskCache, ModelCache, SessionStore, ShowCache};
use crate::config::Config;
use crate::credentials::Credentials;
use crate::events::EventSink;
use crate::upstream::{Upstream, UpstreamError};
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Shared state: one pointer, so handing it to each request and stream costs one atomic
/// increment. Fields are reached through `Deref` ([`Shared`]).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// The pooled Open WebUI client and sign-in state.
    pub upstream: Arc<Upstream>,
    /// The model list cache.
    pub models: Arc<ModelCache>,
    /// Where events go.
    pub events: EventSink,
    /// Cancelled when open streams must end (shutdown deadline).
    pub closing: CancellationToken,
    /// Who may talk to the proxy (host, origin, client token, rate limit).
    pub guard: Arc<guard::Guard>,
    /// Rendered `/api/show` replies.
    pub shows: Arc<ShowCache>,
    /// The encrypted disk tier, when enabled.
    pub disk: Option<Arc<DiskCache>>,
}

impl AppState {
    /// Builds the state with memory caches only (`config.cache_dir` is not used); sends
    /// nothing upstream yet.
    pub fn new(
        config: Config,
        creds: Credentials,
        events: EventSink,
    ) -> Result<Self, UpstreamError> {
        Self::build(config, creds, events, None)
    }

    /// Builds the state with the encrypted disk cache in `config.cache_dir` under `key`: the
    /// model list and a saved session are loaded now. A folder that cannot be used is logged
    /// and the proxy runs without a disk cache.
    pub fn with_disk_cache(
        config: Config,
        creds: Credentials,
        events: EventSink,
        key: &CacheKey,
    ) -> Result<Self, UpstreamError> {
        let disk = config
            .cache_dir
            .as_ref()
            .and_then(|dir| match DiskCache::open(dir, key) {
                Ok(d) => Some(Arc::new(d)),
                Err(e) => {
                    tracing::warn!(error = %e, "running without a disk cache");
                    None
                }
            });
        Self::build(config, creds, events, disk)
    }

    fn build(
        config: Config,
        creds: Credentials,
        events: EventSink,
        disk: Option<Arc<DiskCache>>,
    ) -> Result<Self, UpstreamError> {
        let config = Arc::new(config);
        let server = config.upstream.as_str().to_string();
        let models = match &disk {
            Some(d) => {
                ModelCache::with_disk(config.tags_ttl, d.clone(), &server, &creds.user_label())
            }
            None => ModelCache::new(config.tags_ttl),
        };
        let session = disk
            .as_ref()
            .and_then(|d| SessionStore::new(d.clone(), &server, &creds));
        let upstream = Arc::new(Upstream::new(config.clone(), creds, events.clone())?);
        if let Some(session) = session {
            if let Some(token) = session.load() {
                tracing::info!("reusing the saved Open WebUI session");
                upstream.auth().adopt(token);
            }
            upstream.auth().persist_with(Arc::new(session));
        }
        Ok(AppState(Arc::new(Shared {
            guard: Arc::new(guard::Guard::new(&config)),
            shows: Arc::new(ShowCache::new(config.show_ttl)),
            config,
            upstream,
            models: Arc::new(models),
            events,
            closing: CancellationToken::new(),
            disk,
        })))
    }

    /// Stops this state's disk writes: call it before clearing the cache from outside, so a
    /// refresh or sign-in still in flight cannot leave a file behind.
    pub fn close_disk_cache(&self) {
        if let Some(d) = &self.disk {
            d.close();
        }
    }

    /// Deletes the saved session and cached lists on disk and closes the disk cache.
    pub fn clear_disk_cache(&self) {
        if let Some(d) = &self.disk {
            if let Err(e) = d.clear() {
                tracing::warn!(error = %e, "clearing the disk cache failed");
            }
        }
    }

    /// Signs in (if needed) and fetches the model list: the check a user's "Sign in" runs.
    pub async fn check_upstream(&self) -> Result<Arc<crate::cache::ModelSet>, UpstreamError> {
        self.models
            .fetch(&self.upstream, Some(std::time::Instant::now()))
            .await
    }
}

/// All routes with their middleware: the request span outside, the guard inside it.
pub fn router(state: AppState) -> Router {
    handlers::routes()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}

/// Serves until `shutdown` completes, then stops accepting, lets open requests finish for
/// `shutdown_timeout`, and ends streams still open with an `{"error": …}` line. Each
/// connection has a limit on its request head (size, count, time to arrive) and idles out.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::run(listener, state, shutdown).await
}
