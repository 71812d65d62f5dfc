//! The settings window process: the Tauri app with `ui/`, started by the tray process (on
//! "Settings…" and at first run). Each command goes to the tray process over the local channel
//! ([`ipc`]) and its answer comes back unchanged; the tray's events (`proxy://status`,
//! `app://autostart`) are re-emitted to the page, so the UI's contract is the one it always had.
//! Closing the window ends this process and WebKit with it; the tray going away closes it too.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use openwebui_ollama_proxy_app::events::SHOW_EVENT;
use openwebui_ollama_proxy_app::ipc::{self, Client, WINDOW_ROLE};
use openwebui_ollama_proxy_app::PRODUCT_NAME;
use serde_json::{json, Value};
use std::sync::Arc;
use tauri::{AppHandle, Emitter, Manager, State, WebviewUrl, WebviewWindowBuilder, WindowEvent};

/// The settings window's label (the capability in `tauri.conf.json` names it).
const LABEL: &str = "settings";

type Tray<'a> = State<'a, Arc<Client>>;
type Reply = Result<Value, Value>;

#[tauri::command]
async fn get_state(tray: Tray<'_>) -> Reply {
    tray.call("get_state", Value::Null).await
}

#[tauri::command]
async fn sign_in(tray: Tray<'_>, request: Value) -> Reply {
    tray.call("sign_in", json!({ "request": request })).await
}

#[tauri::command]
async fn sign_out(tray: Tray<'_>) -> Reply {
    tray.call("sign_out", Value::Null).await
}

#[tauri::command]
async fn clear_data(tray: Tray<'_>) -> Reply {
    tray.call("clear_data", Value::Null).await
}

#[tauri::command]
async fn copy_client_token(tray: Tray<'_>) -> Reply {
    tray.call("copy_client_token", Value::Null).await
}

#[tauri::command]
async fn regenerate_client_token(tray: Tray<'_>) -> Reply {
    tray.call("regenerate_client_token", Value::Null).await
}

#[tauri::command]
async fn start_proxy(tray: Tray<'_>) -> Reply {
    tray.call("start_proxy", Value::Null).await
}

#[tauri::command]
async fn stop_proxy(tray: Tray<'_>) -> Reply {
    tray.call("stop_proxy", Value::Null).await
}

#[tauri::command]
async fn save_settings(tray: Tray<'_>, patch: Value) -> Reply {
    tray.call("save_settings", json!({ "patch": patch })).await
}

#[tauri::command]
async fn suggest_port(tray: Tray<'_>) -> Reply {
    tray.call("suggest_port", Value::Null).await
}

#[tauri::command]
async fn set_autostart(tray: Tray<'_>, enabled: bool) -> Reply {
    tray.call("set_autostart", json!({ "enabled": enabled }))
        .await
}

#[tauri::command]
async fn copy_address(tray: Tray<'_>) -> Reply {
    tray.call("copy_address", Value::Null).await
}

#[tauri::command]
async fn open_logs(tray: Tray<'_>) -> Reply {
    tray.call("open_logs", Value::Null).await
}

fn show(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(LABEL) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html".into()))
        .title(PRODUCT_NAME)
        .inner_size(620.0, 760.0)
        .min_inner_size(480.0, 420.0)
        .center()
        .build();
    if let Err(e) = built {
        tracing::error!(error = %e, "cannot open the settings window");
    }
}

fn fail(message: String) -> ! {
    eprintln!("openwebui-ollama-proxy-settings: {message}");
    std::process::exit(1);
}

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let path = ipc::endpoint_path()
        .unwrap_or_else(|| fail("no folder for the tray app's endpoint".into()));
    let endpoint = ipc::read_endpoint(&path)
        .unwrap_or_else(|e| fail(format!("the tray app is not running ({e})")));
    let (client, mut events) =
        tauri::async_runtime::block_on(Client::connect(&endpoint, WINDOW_ROLE))
            .unwrap_or_else(|e| fail(format!("cannot reach the tray app: {e}")));
    let client = Arc::new(client);
    let built = tauri::Builder::default()
        .manage(client)
        .invoke_handler(tauri::generate_handler![
            get_state,
            sign_in,
            sign_out,
            clear_data,
            copy_client_token,
            regenerate_client_token,
            start_proxy,
            stop_proxy,
            save_settings,
            suggest_port,
            set_autostart,
            copy_address,
            open_logs,
        ])
        .on_window_event(|window, event| {
            if let WindowEvent::Focused(focused) = event {
                let tray = window.state::<Arc<Client>>().inner().clone();
                let focused = *focused;
                tauri::async_runtime::spawn(async move {
                    let _ = tray
                        .call("window_focus", json!({ "focused": focused }))
                        .await;
                });
            }
        })
        .setup(|app| {
            show(app.handle());
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                while let Some((name, payload)) = events.recv().await {
                    if name == SHOW_EVENT {
                        show(&handle);
                    } else if let Err(e) = handle.emit(&name, payload) {
                        tracing::debug!(error = %e, "cannot forward an event to the window");
                    }
                }
                tracing::info!("the tray app went away: closing");
                handle.exit(0);
            });
            Ok(())
        })
        .build(tauri::generate_context!());
    match built {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => fail(format!("cannot start: {e}")),
    }
}
