//! The settings window: created on demand, brought to the front when it exists, and destroyed
//! when closed (the webview and its WebKit web process go away; the proxy keeps running).

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

/// The settings window's label (the capability in `tauri.conf.json` names it).
pub const LABEL: &str = "settings";

/// Shows the settings window, creating it when needed.
pub fn show(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(LABEL) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html".into()))
        .title("Open WebUI Ollama Proxy")
        .inner_size(620.0, 760.0)
        .min_inner_size(480.0, 420.0)
        .center()
        .build();
    if let Err(e) = built {
        tracing::error!(error = %e, "cannot open the settings window");
    }
}

/// True when the settings window exists and has the focus.
pub fn is_focused(app: &AppHandle) -> bool {
    app.get_webview_window(LABEL)
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false)
}
