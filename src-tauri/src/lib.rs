//! The tray app: hosts the core proxy on tauri's tokio runtime, with a tray menu and a settings
//! window. This file wires plugins, state, the tray and the commands; the logic lives in
//! [`controller`].
//!
//! # Layout
//! - [`controller`]: start/stop/restart, sign-in/out, settings changes (no Tauri inside).
//! - [`settings`]: the non-secret settings file. [`status`]: what the tray and window show.
//! - [`commands`]: the window's commands. [`tray`]: icon and menu. [`events`]: status fan-out.
//! - [`window`]: the settings window. [`logging`]: rotating log file. [`error`]: `{kind, message}`.

// Tests may unwrap (DESIGN §8: no unwrap outside tests).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod commands;
pub mod controller;
pub mod error;
pub mod events;
pub mod logging;
pub mod settings;
pub mod status;
pub mod tray;
pub mod window;

use controller::Controller;
use proxy::events::EventSink;
use std::sync::Arc;
use tauri::{AppHandle, Manager, RunEvent};

/// The keychain service name, shared with the headless binary.
pub const KEYCHAIN_SERVICE: &str = "openwebui-ollama-proxy";

/// Runs the app until Quit.
pub fn run() {
    let built = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            window::show(app)
        }))
        .plugin(tauri_plugin_autostart::Builder::new().build())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(tauri::generate_handler![
            commands::get_state,
            commands::sign_in,
            commands::sign_out,
            commands::clear_data,
            commands::copy_client_token,
            commands::regenerate_client_token,
            commands::start_proxy,
            commands::stop_proxy,
            commands::save_settings,
            commands::suggest_port,
            commands::set_autostart,
            commands::copy_address,
            commands::open_logs,
        ])
        .setup(|app| setup(app.handle()))
        .build(tauri::generate_context!());
    match built {
        Ok(app) => app.run(on_run_event),
        Err(e) => {
            eprintln!("openwebui-ollama-proxy-app: cannot start: {e}");
            std::process::exit(1);
        }
    }
}

fn setup(app: &AppHandle) -> Result<(), Box<dyn std::error::Error>> {
    let log_dir = logging::init(&app.path().app_log_dir()?)?;
    tracing::info!(version = %app.package_info().version, logs = %log_dir.display(), "starting");
    app.manage(logging::LogDir(log_dir));
    // A tray app: no Dock icon on macOS.
    #[cfg(target_os = "macos")]
    let _ = app.set_activation_policy(tauri::ActivationPolicy::Accessory);
    let store = Arc::new(proxy::credentials::KeyringStore::new(KEYCHAIN_SERVICE));
    let settings_path = settings::default_path();
    let cache_dir = proxy::cache::default_dir();
    tracing::info!(settings = ?settings_path, cache = ?cache_dir, "settings file and cache folder");
    let controller = Arc::new(Controller::new(
        store,
        settings_path,
        cache_dir,
        EventSink::default(),
    ));
    app.manage(controller.clone());
    tray::create(app, &controller.status())?;
    events::spawn(app, controller.clone());
    #[cfg(unix)]
    quit_on_sigterm(app.clone());
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        if controller.launch().await {
            window::show(&handle);
        }
    });
    Ok(())
}

/// Treats SIGTERM (logout, `kill`) like Quit, so the proxy stops gracefully.
#[cfg(unix)]
fn quit_on_sigterm(app: AppHandle) {
    use tokio::signal::unix::{signal, SignalKind};
    tauri::async_runtime::spawn(async move {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                if term.recv().await.is_some() {
                    tracing::info!("SIGTERM: quitting");
                    app.exit(0);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM"),
        }
    });
}

fn on_run_event(app: &AppHandle, event: RunEvent) {
    match event {
        // Closing the last window must not quit: the tray lives on. Quit passes a code.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(controller) = app.try_state::<Arc<Controller>>() {
                tracing::info!("quitting: stopping the proxy");
                tauri::async_runtime::block_on(controller.stop());
            }
        }
        _ => {}
    }
}
