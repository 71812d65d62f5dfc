//! Entry point of the tray app: everything happens in [`openwebui_ollama_proxy_app::run`].
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
fn main() {
    openwebui_ollama_proxy_app::run()
}
