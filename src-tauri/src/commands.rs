//! The window's commands: thin wrappers that call the controller (or a plugin) and return
//! `Result<T, CommandError>`. No logic of their own, and never a secret: the credentials
//! status is `{configured, method, server, email}`, and the client token goes from the
//! keychain straight to the clipboard ([`copy_client_token`] returns nothing).

use crate::controller::{
    Controller, CredentialsStatus, SettingsPatch, SignInRequest, SignInResult,
};
use crate::error::CommandError;
use crate::settings::Settings;
use crate::status::Status;
use crate::{logging, tray};
use secrecy::ExposeSecret;
use serde::Serialize;
use std::sync::Arc;
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_clipboard_manager::ClipboardExt;

type Ctl<'a> = State<'a, Arc<Controller>>;

/// Everything the window needs to draw itself.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    /// Proxy and account state.
    pub status: Status,
    /// Whether an account is set up.
    pub credentials: CredentialsStatus,
    /// Non-secret settings.
    pub settings: Settings,
    /// Start at login.
    pub autostart: bool,
    /// The app version.
    pub version: String,
}

/// The window's initial state.
#[tauri::command]
pub async fn get_state(app: AppHandle, ctl: Ctl<'_>) -> Result<AppView, CommandError> {
    Ok(AppView {
        status: ctl.status(),
        credentials: ctl.credentials_status().await,
        settings: ctl.settings().await,
        autostart: app.autolaunch().is_enabled().unwrap_or(false),
        version: app.package_info().version.to_string(),
    })
}

/// Tests the server and credentials, keeps them, (re)starts the proxy.
#[tauri::command]
pub async fn sign_in(ctl: Ctl<'_>, request: SignInRequest) -> Result<SignInResult, CommandError> {
    ctl.sign_in(request).await
}

/// Forgets the account and stops the proxy.
#[tauri::command]
pub async fn sign_out(ctl: Ctl<'_>) -> Result<Status, CommandError> {
    ctl.sign_out().await
}

/// Signs out and also forgets the server address; deletes the keychain entries and the cache.
#[tauri::command]
pub async fn clear_data(ctl: Ctl<'_>) -> Result<Status, CommandError> {
    ctl.clear_data().await
}

/// Copies the client token to the clipboard. Returns nothing: the token never reaches the
/// window.
#[tauri::command]
pub async fn copy_client_token(app: AppHandle, ctl: Ctl<'_>) -> Result<(), CommandError> {
    let token = ctl.client_token().await?;
    app.clipboard()
        .write_text(token.expose_secret().to_string())
        .map_err(|e| CommandError::internal(format!("cannot copy: {e}")))
}

/// Replaces the client token and restarts a running proxy with the new one.
#[tauri::command]
pub async fn regenerate_client_token(ctl: Ctl<'_>) -> Result<Status, CommandError> {
    ctl.regenerate_client_token().await
}

/// Starts the proxy.
#[tauri::command]
pub async fn start_proxy(ctl: Ctl<'_>) -> Result<Status, CommandError> {
    ctl.start().await
}

/// Stops the proxy.
#[tauri::command]
pub async fn stop_proxy(ctl: Ctl<'_>) -> Result<Status, CommandError> {
    Ok(ctl.stop().await)
}

/// Saves listen address, request checks, limits, client token switch and launch behaviour;
/// restarts the proxy when needed.
#[tauri::command]
pub async fn save_settings(ctl: Ctl<'_>, patch: SettingsPatch) -> Result<Status, CommandError> {
    ctl.update_settings(patch).await
}

/// A free port to offer when the configured one is taken.
#[tauri::command]
pub async fn suggest_port(ctl: Ctl<'_>) -> Result<u16, CommandError> {
    ctl.suggest_port().await
}

/// Turns start at login on or off; returns the resulting state.
#[tauri::command]
pub fn set_autostart(app: AppHandle, enabled: bool) -> Result<bool, CommandError> {
    let manager = app.autolaunch();
    let result = if enabled {
        manager.enable()
    } else {
        manager.disable()
    };
    result.map_err(|e| CommandError::internal(format!("cannot change start at login: {e}")))?;
    let now = manager.is_enabled().unwrap_or(enabled);
    tray::show_autostart(&app, now);
    Ok(now)
}

/// Copies the proxy's address; returns it.
#[tauri::command]
pub fn copy_address(app: AppHandle, ctl: Ctl<'_>) -> Result<String, CommandError> {
    let address = ctl.status().address;
    app.clipboard()
        .write_text(address.clone())
        .map_err(|e| CommandError::internal(format!("cannot copy: {e}")))?;
    Ok(address)
}

/// Opens the log file.
#[tauri::command]
pub fn open_logs(app: AppHandle) -> Result<(), CommandError> {
    logging::open(&app)
}
