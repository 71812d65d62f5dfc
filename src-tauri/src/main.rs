//! Entry point of the tray process: everything happens in [`openwebui_ollama_proxy_app::app::run`].
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
fn main() {
    openwebui_ollama_proxy_app::app::run()
}
