//! The proxy's owner: start, stop, restart and status, sign-in and sign-out, settings changes.
//! The only caller of [`proxy::serve`]. Knows nothing about Tauri: the shell calls it from
//! commands and the tray, and reads [`Status`] through a watch channel. Secrets go through a
//! [`SecretStore`] (the OS keychain in the app, [`proxy::MemoryStore`] in tests) and never
//! leave this module except into the core (credentials, client token, cache key) and, for the
//! clipboard only, the client token as a [`secrecy::SecretString`]. The proxy keeps its
//! encrypted disk cache in `cache_dir` when the keychain holds (or takes) a cache key.

use crate::error::CommandError;
use crate::settings::{self, Settings};
use crate::status::{AccountState, ProxyState, Status};
use proxy::config::Config;
use proxy::credentials::SecretStore;
use proxy::events::EventSink;
use proxy::{AppState, Credentials, ProxyEvent};
use run::{address_of, bind, check_task, serve_task, Watcher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch, Mutex};
use tokio::task::JoinHandle;

mod account;
mod run;
mod secrets;
#[cfg(test)]
mod tests;
mod types;

pub use types::{CredentialsStatus, SettingsPatch, SignInRequest, SignInResult};

struct Running {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
    /// The background account check, aborted on stop so it cannot write the cache later.
    check: Option<JoinHandle<()>>,
    grace: Duration,
    /// Kept to close its disk cache on stop: a sign-in or refresh still in flight then writes
    /// nothing after a sign-out.
    state: proxy::AppState,
}

struct Inner {
    settings: Settings,
    running: Option<Running>,
}

/// Owns the proxy and the account.
pub struct Controller {
    store: Arc<dyn SecretStore>,
    settings_path: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    events: EventSink,
    status: watch::Sender<Status>,
    generation: Arc<AtomicU64>,
    inner: Mutex<Inner>,
}

impl Controller {
    /// Loads the settings from `settings_path` (`None`: keep them in memory only). The disk
    /// cache lives in `cache_dir` (`None`: memory only).
    pub fn new(
        store: Arc<dyn SecretStore>,
        settings_path: Option<PathBuf>,
        cache_dir: Option<PathBuf>,
        events: EventSink,
    ) -> Self {
        let settings = settings_path
            .as_deref()
            .map(settings::load)
            .unwrap_or_default();
        let status = Status::initial(
            address_of(&settings),
            settings.server.clone(),
            settings.email.clone(),
            settings.has_account(),
        );
        Controller {
            store,
            settings_path,
            cache_dir,
            events,
            status: watch::Sender::new(status),
            generation: Arc::new(AtomicU64::new(0)),
            inner: Mutex::new(Inner {
                settings,
                running: None,
            }),
        }
    }

    /// The sink the proxy reports to; subscribe to follow sign-in and server events.
    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// The current status.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// A receiver that wakes on every status change.
    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    /// Folds a core event into the status.
    pub fn observe(&self, event: &ProxyEvent) {
        self.status.send_if_modified(|s| s.apply(event));
    }

    /// A copy of the settings.
    pub async fn settings(&self) -> Settings {
        self.inner.lock().await.settings.clone()
    }

    /// At app start: starts the proxy when configured to. Returns true when the user must act
    /// (nothing set up yet, no secret in the keychain, port taken), so the window should open.
    pub async fn launch(&self) -> bool {
        let (has_account, auto) = {
            let inner = self.inner.lock().await;
            (
                inner.settings.has_account(),
                inner.settings.start_proxy_on_launch,
            )
        };
        if !has_account {
            return true;
        }
        if !auto {
            return false;
        }
        match self.start().await {
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(kind = %e.kind, error = %e, "the proxy did not start");
                e.kind != "internal"
            }
        }
    }

    /// Starts the proxy (a no-op when it runs) and checks the account in the background.
    pub async fn start(&self) -> Result<Status, CommandError> {
        let mut inner = self.inner.lock().await;
        self.start_locked(&mut inner, true).await
    }

    /// Stops the proxy, letting open requests finish for the configured grace period.
    pub async fn stop(&self) -> Status {
        let mut inner = self.inner.lock().await;
        self.stop_locked(&mut inner).await;
        self.status()
    }

    /// Stops and starts again (new settings, new credentials).
    pub async fn restart(&self) -> Result<Status, CommandError> {
        let mut inner = self.inner.lock().await;
        self.stop_locked(&mut inner).await;
        self.start_locked(&mut inner, true).await
    }

    /// Validates and saves a settings change; restarts the proxy when the listen address or a
    /// request check (origins, hosts, limits, client token) changed and it runs (or could not
    /// start because the port was taken). Turning the client token on makes one at once, so
    /// "Copy token" works before the next start; without a keychain the change is refused.
    pub async fn update_settings(&self, patch: SettingsPatch) -> Result<Status, CommandError> {
        let mut inner = self.inner.lock().await;
        let next = patch.apply(&inner.settings)?;
        let affects_server = !next.same_server(&inner.settings);
        if next.require_client_token && !inner.settings.require_client_token {
            secrets::client_token(&self.store).await?;
        }
        self.save(&next)?;
        inner.settings = next;
        let address = address_of(&inner.settings);
        self.update(|s| {
            if s.proxy == ProxyState::Stopped {
                s.address = address;
            }
        });
        let port_problem = self
            .status()
            .problem
            .is_some_and(|p| p.kind == "port_in_use");
        if affects_server && (inner.running.is_some() || port_problem) {
            tracing::info!(listen = %inner.settings.listen()?, "proxy settings changed: restarting the proxy");
            self.stop_locked(&mut inner).await;
            self.start_locked(&mut inner, false).await?;
        }
        Ok(self.status())
    }

    /// A free port near the configured one, to offer when it is taken.
    pub async fn suggest_port(&self) -> Result<u16, CommandError> {
        let listen = self.inner.lock().await.settings.listen()?;
        let first = listen.port().max(1024);
        (first.saturating_add(1)..=first.saturating_add(200))
            .find(|p| std::net::TcpListener::bind((listen.ip(), *p)).is_ok())
            .ok_or_else(|| {
                CommandError::new("port_in_use", "no free port found near the configured one")
            })
    }

    async fn start_locked(&self, inner: &mut Inner, check: bool) -> Result<Status, CommandError> {
        if inner.running.is_some() {
            return Ok(self.status());
        }
        match self.spawn_proxy(&inner.settings, check).await {
            Ok(running) => {
                inner.running = Some(running);
                Ok(self.status())
            }
            Err(e) => {
                tracing::warn!(kind = %e.kind, error = %e, "cannot start the proxy");
                self.update(|s| {
                    s.proxy = ProxyState::Stopped;
                    s.problem = Some(e.clone());
                });
                Err(e)
            }
        }
    }

    async fn spawn_proxy(&self, settings: &Settings, check: bool) -> Result<Running, CommandError> {
        let mut config = settings.to_config()?;
        let creds = secrets::load(&self.store, settings).await?;
        if settings.require_client_token {
            config.client_token = Some(secrets::client_token(&self.store).await?);
        }
        let listener = bind(config.listen).await?;
        let addr = listener
            .local_addr()
            .map_err(|e| CommandError::internal(e.to_string()))?;
        warn_exposure(addr, &config);
        let grace = config.shutdown_timeout;
        let state = self.proxy_state(config, creds).await?;
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let (shutdown, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_task(
            listener,
            state.clone(),
            rx,
            self.watcher(generation),
        ));
        self.update(|s| {
            s.proxy = ProxyState::Running;
            s.address = format!("http://{addr}");
            s.problem = None;
        });
        let check =
            check.then(|| tokio::spawn(check_task(state.clone(), self.watcher(generation))));
        Ok(Running {
            shutdown,
            task,
            check,
            grace,
            state,
        })
    }

    /// The proxy's state, with the encrypted disk cache when there is a cache folder and the
    /// keychain gives a cache key; otherwise memory caches only (logged, not an error).
    async fn proxy_state(
        &self,
        mut config: Config,
        creds: Credentials,
    ) -> Result<AppState, CommandError> {
        let key = match &self.cache_dir {
            Some(_) => secrets::cache_key(&self.store).await,
            None => None,
        };
        let events = self.events.clone();
        let state = match key {
            Some(key) => {
                config.cache_dir.clone_from(&self.cache_dir);
                AppState::with_disk_cache(config, creds, events, &key)?
            }
            None => AppState::new(config, creds, events)?,
        };
        Ok(state)
    }

    async fn stop_locked(&self, inner: &mut Inner) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(run) = inner.running.take() {
            if let Some(check) = &run.check {
                check.abort();
            }
            run.state.close_disk_cache();
            let _ = run.shutdown.send(());
            let abort = run.task.abort_handle();
            if tokio::time::timeout(run.grace + Duration::from_secs(2), run.task)
                .await
                .is_err()
            {
                tracing::warn!("the proxy did not stop in time; aborting it");
                abort.abort();
            }
        }
        let address = address_of(&inner.settings);
        self.update(|s| {
            s.proxy = ProxyState::Stopped;
            s.address = address;
            if s.account == AccountState::SigningIn {
                s.account = AccountState::NotChecked;
            }
        });
    }

    fn save(&self, settings: &Settings) -> Result<(), CommandError> {
        let Some(path) = &self.settings_path else {
            return Ok(());
        };
        settings::save(path, settings).map_err(|e| {
            CommandError::internal(format!(
                "cannot save the settings to {}: {e}",
                path.display()
            ))
        })
    }

    fn update(&self, f: impl FnOnce(&mut Status)) {
        self.status.send_if_modified(|s| {
            let before = s.clone();
            f(s);
            *s != before
        });
    }

    fn watcher(&self, generation: u64) -> Watcher {
        Watcher {
            status: self.status.clone(),
            current: self.generation.clone(),
            generation,
        }
    }
}

/// Warns in the log when other computers can reach the proxy without a client token.
fn warn_exposure(addr: SocketAddr, config: &Config) {
    if !addr.ip().is_loopback() && config.client_token.is_none() {
        tracing::warn!(%addr, "the proxy is reachable from other computers without a client token: anyone who can connect uses your Open WebUI account (turn on \"Require a client token\")");
    }
}
