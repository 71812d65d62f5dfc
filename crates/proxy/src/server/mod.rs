//! The HTTP side: [`AppState`], the axum [`router`] with every Ollama route, and [`serve`] with
//! graceful shutdown that lets open streams finish and ends the rest with an error line.

mod body;
pub mod handlers;
mod middleware;
mod ndjson;

use crate::cache::ModelCache;
use crate::config::Config;
use crate::credentials::Credentials;
use crate::events::{EventSink, ProxyEvent};
use crate::upstream::{Upstream, UpstreamError};
use axum::serve::ListenerExt;
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Shared state: cheap handles only.
#[derive(Clone)]
pub struct AppState {
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
}

impl AppState {
    /// Builds the state; sends nothing upstream yet.
    pub fn new(
        config: Config,
        creds: Credentials,
        events: EventSink,
    ) -> Result<Self, UpstreamError> {
        let config = Arc::new(config);
        let upstream = Arc::new(Upstream::new(config.clone(), creds, events.clone())?);
        let models = Arc::new(ModelCache::new(config.tags_ttl));
        Ok(AppState {
            config,
            upstream,
            models,
            events,
            closing: CancellationToken::new(),
        })
    }

    /// Signs in (if needed) and fetches the model list: the check a user's "Sign in" runs.
    pub async fn check_upstream(&self) -> Result<Arc<crate::cache::ModelSet>, UpstreamError> {
        self.models
            .fetch(&self.upstream, Some(std::time::Instant::now()))
            .await
    }
}

/// All routes with their middleware.
pub fn router(state: AppState) -> Router {
    handlers::routes()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}

/// Serves until `shutdown` completes, then stops accepting, lets open requests finish for
/// `shutdown_timeout`, and ends streams still open with an `{"error": …}` line.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let closing = state.closing.clone();
    let grace = state.config.shutdown_timeout;
    let events = state.events.clone();
    let app = router(state);
    events.send(ProxyEvent::Started { addr });
    tracing::info!("listening on http://{addr}");
    let deadline = closing.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing open requests");
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            deadline.cancel();
        });
    };
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(signal);
    let forced = async {
        closing.cancelled().await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    let result = tokio::select! {
        r = std::future::IntoFuture::into_future(server) => r,
        () = forced => Ok(()),
    };
    events.send(ProxyEvent::Stopped);
    tracing::info!("stopped");
    result
}
