//! One proxy run: the serve task, the background account check, the [`Watcher`] that lets a
//! run update the status only while it is current, the throwaway check behind "Sign in", and
//! binding the listen address with its usual failures named.

use crate::error::CommandError;
use crate::settings::Settings;
use crate::status::{AccountState, ProxyState, Status};
use proxy::config::Config;
use proxy::events::EventSink;
use proxy::{AppState, Credentials};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

/// Updates the status on behalf of one proxy run, ignored once that run is over.
pub(super) struct Watcher {
    pub(super) status: watch::Sender<Status>,
    pub(super) current: Arc<AtomicU64>,
    pub(super) generation: u64,
}

impl Watcher {
    fn update(&self, f: impl FnOnce(&mut Status)) {
        if self.current.load(Ordering::SeqCst) == self.generation {
            self.status.send_modify(f);
        }
    }
}

/// Serves until `stop` fires; a server failure marks the run stopped with the cause.
pub(super) async fn serve_task(
    listener: TcpListener,
    state: AppState,
    stop: oneshot::Receiver<()>,
    watcher: Watcher,
) {
    let shutdown = async move {
        let _ = stop.await;
    };
    if let Err(e) = proxy::serve(listener, state, shutdown).await {
        tracing::error!(error = %e, "the proxy failed");
        watcher.update(|s| {
            s.proxy = ProxyState::Stopped;
            s.problem = Some(CommandError::internal(format!("the proxy failed: {e}")));
        });
    }
}

/// Signs in and lists the models once, so the tray shows a broken account right away.
pub(super) async fn check_task(state: AppState, watcher: Watcher) {
    let result = state.check_upstream().await;
    watcher.update(|s| match result {
        Ok(set) => {
            s.account = AccountState::SignedIn;
            s.models = Some(set.models.len());
            s.problem = None;
        }
        Err(e) => {
            s.account = AccountState::Failed;
            s.problem = Some(e.into());
        }
    });
}

/// Signs in and lists the models with a throwaway proxy state; returns names and role.
pub(super) async fn check_account(
    config: Config,
    creds: Credentials,
) -> Result<(Vec<String>, Option<String>), CommandError> {
    let state = AppState::new(config, creds, EventSink::new(1))?;
    let set = state.check_upstream().await?;
    let names = set
        .models
        .iter()
        .map(|m| m.name.clone().unwrap_or_else(|| m.id.clone()))
        .collect();
    let role = state.upstream.auth().current().and_then(|t| t.role.clone());
    Ok((names, role))
}

/// Binds the listen address, naming the usual failures.
pub(super) async fn bind(addr: SocketAddr) -> Result<TcpListener, CommandError> {
    TcpListener::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => CommandError::port_in_use(addr),
        std::io::ErrorKind::AddrNotAvailable => CommandError::invalid_config(format!(
            "cannot listen on {addr}: this computer has no such address"
        )),
        std::io::ErrorKind::PermissionDenied => CommandError::invalid_config(format!(
            "not allowed to listen on port {}: use a port above 1023",
            addr.port()
        )),
        _ => CommandError::internal(format!("cannot listen on {addr}: {e}")),
    })
}

/// The address clients use for these settings (brackets for IPv6).
pub(super) fn address_of(settings: &Settings) -> String {
    match settings.listen() {
        Ok(addr) => format!("http://{addr}"),
        Err(_) => format!("http://{}:{}", settings.host, settings.port),
    }
}
