//! The tray app, in two processes so that WebKit does not stay in memory:
//! - the tray process ([`app::run`], the `openwebui-ollama-proxy-app` binary): tray icon and
//!   menu (`tray-icon`), the [`controller`] that owns the proxy, notifications, start at login,
//!   and the [`ipc`] endpoint. It never links WebKitGTK.
//! - the settings window process (`openwebui-ollama-proxy-settings`, `src-tauri/src/window/`):
//!   the Tauri app with `ui/`, started by the tray on "Settings…" and at first run. Its commands
//!   go to [`commands::dispatch`] over [`ipc`]; it ends when its window closes.
//!
//! # Layout
//! - [`controller`]: start/stop/restart, sign-in/out, settings changes.
//! - [`settings`]: the non-secret settings file. [`status`]: what the tray and window show.
//! - [`commands`]: the window's commands. [`tray`]: icon and menu. [`events`]: event names and
//!   notifications. [`ipc`]: the local channel. [`logging`]: rotating log file.
//!   [`error`]: `{kind, message}`.

// Tests may unwrap (DESIGN §8: no unwrap outside tests).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod app;
pub mod commands;
pub mod controller;
pub mod error;
pub mod events;
pub mod instance;
pub mod ipc;
pub mod logging;
pub mod settings;
pub mod status;
pub mod tray;

/// The keychain service name, shared with the headless binary.
pub const KEYCHAIN_SERVICE: &str = "openwebui-ollama-proxy";

/// The app's name (start at login entry, notifications, window title).
pub const PRODUCT_NAME: &str = "Open WebUI Ollama Proxy";

/// The app identifier (`tauri.conf.json`), used for the log folder.
pub const IDENTIFIER: &str = "io.github.openwebui-ollama-proxy.tray";

/// The settings window binary, installed next to the tray binary.
pub const WINDOW_BIN: &str = "openwebui-ollama-proxy-settings";
