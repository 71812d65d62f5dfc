//! Forwards what happens to whoever shows it: core [`ProxyEvent`]s fold into the controller's
//! status, every status change goes to the window as a `proxy://status` event (camelCase) and
//! to the tray icon, and a sign-in refused in the background raises a desktop notification.
//! Both loops sleep until something happens: no timers.

use crate::controller::Controller;
use crate::{tray, window};
use proxy::ProxyEvent;
use std::sync::Arc;
use tauri::{AppHandle, Emitter};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::error::RecvError;

/// The event the window listens to; the payload is a [`crate::status::Status`].
pub const STATUS_EVENT: &str = "proxy://status";

/// Sent when the tray changed "Start at login"; the payload is the new state (bool).
pub const AUTOSTART_EVENT: &str = "app://autostart";

/// Kinds that mean the credentials stopped working (worth a notification).
const CREDENTIAL_KINDS: [&str; 7] = [
    "wrong_credentials",
    "account_pending",
    "api_key_invalid",
    "api_keys_disabled",
    "permission_denied",
    "mfa_required",
    "password_login_disabled",
];

/// Starts both forwarding loops on tauri's runtime.
pub fn spawn(app: &AppHandle, controller: Arc<Controller>) {
    let mut events = controller.events().subscribe();
    let mut statuses = controller.subscribe();
    let (app_a, app_b) = (app.clone(), app.clone());
    tauri::async_runtime::spawn(async move {
        let mut notified = false;
        loop {
            match events.recv().await {
                Ok(event) => {
                    controller.observe(&event);
                    notified = notify_once(&app_a, &event, notified);
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            }
        }
    });
    tauri::async_runtime::spawn(async move {
        loop {
            let status = statuses.borrow_and_update().clone();
            tray::show(&app_b, &status);
            if let Err(e) = app_b.emit(STATUS_EVENT, &status) {
                tracing::debug!(error = %e, "cannot send the status to the window");
            }
            if statuses.changed().await.is_err() {
                break;
            }
        }
    });
}

/// Notifies about a refused sign-in once until the next success; returns the new "notified".
fn notify_once(app: &AppHandle, event: &ProxyEvent, notified: bool) -> bool {
    match event {
        ProxyEvent::SignedIn { .. } => false,
        ProxyEvent::AuthFailed { kind, message } if CREDENTIAL_KINDS.contains(kind) => {
            if !notified && !window::is_focused(app) {
                let shown = app
                    .notification()
                    .builder()
                    .title("Open WebUI sign-in failed")
                    .body(format!("{message}. Open Settings… to sign in again."))
                    .show();
                if let Err(e) = shown {
                    tracing::warn!(error = %e, "cannot show a notification");
                }
            }
            true
        }
        _ => notified,
    }
}
