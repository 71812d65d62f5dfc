//! The tray icon and its menu: a status line, Start / Stop, Copy address, Settings…, Open logs,
//! Start at login and Quit. Menu ids are [`MenuId`]; clicks are turned into controller calls
//! here and nothing else. The icon, tooltip and items follow [`Status`] through [`show`].
//! On Linux (AppIndicator) a left click always opens the menu; elsewhere it is asked for.

use crate::controller::Controller;
use crate::status::{AccountState, Look, ProxyState, Status};
use crate::{events, logging, window};
use std::sync::Arc;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Wry};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_clipboard_manager::ClipboardExt;

const TRAY_ID: &str = "main";

/// Every menu entry, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuId {
    /// The disabled status line.
    Status,
    /// Start the proxy.
    Start,
    /// Stop the proxy.
    Stop,
    /// Copy the proxy's address.
    CopyAddress,
    /// Open the settings window.
    Settings,
    /// Open the log file.
    OpenLogs,
    /// Start at login (checkbox).
    Autostart,
    /// Stop the proxy and leave.
    Quit,
}

impl MenuId {
    const ALL: [MenuId; 8] = [
        MenuId::Status,
        MenuId::Start,
        MenuId::Stop,
        MenuId::CopyAddress,
        MenuId::Settings,
        MenuId::OpenLogs,
        MenuId::Autostart,
        MenuId::Quit,
    ];

    /// The id muda carries.
    pub fn as_str(self) -> &'static str {
        match self {
            MenuId::Status => "status",
            MenuId::Start => "start",
            MenuId::Stop => "stop",
            MenuId::CopyAddress => "copy-address",
            MenuId::Settings => "settings",
            MenuId::OpenLogs => "open-logs",
            MenuId::Autostart => "autostart",
            MenuId::Quit => "quit",
        }
    }

    /// The entry for a muda id.
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == id)
    }
}

/// The items whose text or state changes.
pub struct TrayItems {
    status: MenuItem<Wry>,
    start: MenuItem<Wry>,
    stop: MenuItem<Wry>,
    copy: MenuItem<Wry>,
    autostart: CheckMenuItem<Wry>,
}

/// Builds the tray icon and menu; call once in `setup`.
pub fn create(app: &AppHandle, status: &Status) -> tauri::Result<()> {
    let item = |id: MenuId, text: &str, enabled: bool| {
        MenuItem::with_id(app, id.as_str(), text, enabled, None::<&str>)
    };
    let autostart_on = app.autolaunch().is_enabled().unwrap_or(false);
    let items = TrayItems {
        status: item(MenuId::Status, &status.summary(), false)?,
        start: item(MenuId::Start, "Start proxy", true)?,
        stop: item(MenuId::Stop, "Stop proxy", false)?,
        copy: item(MenuId::CopyAddress, &copy_label(status), true)?,
        autostart: CheckMenuItem::with_id(
            app,
            MenuId::Autostart.as_str(),
            "Start at login",
            true,
            autostart_on,
            None::<&str>,
        )?,
    };
    let menu = Menu::with_items(
        app,
        &[
            &items.status,
            &PredefinedMenuItem::separator(app)?,
            &items.start,
            &items.stop,
            &items.copy,
            &PredefinedMenuItem::separator(app)?,
            &item(MenuId::Settings, "Settings…", true)?,
            &item(MenuId::OpenLogs, "Open logs", true)?,
            &items.autostart,
            &PredefinedMenuItem::separator(app)?,
            &item(MenuId::Quit, "Quit", true)?,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(status.look()))
        .tooltip(tooltip(status))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    app.manage(items);
    show(app, status);
    Ok(())
}

/// Updates icon, tooltip and items to `status`.
pub fn show(app: &AppHandle, status: &Status) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_icon(Some(icon(status.look())));
        let _ = tray.set_tooltip(Some(tooltip(status)));
    }
    if let Some(items) = app.try_state::<TrayItems>() {
        let running = status.proxy == ProxyState::Running;
        let can_start = !running && status.account != AccountState::SignedOut;
        let _ = items.status.set_text(status.summary());
        let _ = items.start.set_enabled(can_start);
        let _ = items.stop.set_enabled(running);
        let _ = items.copy.set_text(copy_label(status));
    }
}

/// Sets the "Start at login" checkbox (after the window changed it).
pub fn show_autostart(app: &AppHandle, enabled: bool) {
    if let Some(items) = app.try_state::<TrayItems>() {
        let _ = items.autostart.set_checked(enabled);
    }
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let Some(id) = MenuId::parse(event.id().as_ref()) else {
        return;
    };
    tracing::debug!(?id, "tray menu");
    let Some(controller) = app
        .try_state::<Arc<Controller>>()
        .map(|c| c.inner().clone())
    else {
        return;
    };
    match id {
        MenuId::Status => {}
        MenuId::Start => {
            tauri::async_runtime::spawn(async move {
                let _ = controller.start().await;
            });
        }
        MenuId::Stop => {
            tauri::async_runtime::spawn(async move {
                controller.stop().await;
            });
        }
        MenuId::CopyAddress => {
            if let Err(e) = app.clipboard().write_text(controller.status().address) {
                tracing::warn!(error = %e, "cannot copy the address");
            }
        }
        MenuId::Settings => window::show(app),
        MenuId::OpenLogs => {
            if let Err(e) = logging::open(app) {
                tracing::warn!(error = %e, "cannot open the logs");
            }
        }
        MenuId::Autostart => toggle_autostart(app),
        MenuId::Quit => app.exit(0),
    }
}

fn toggle_autostart(app: &AppHandle) {
    let manager = app.autolaunch();
    let want = !manager.is_enabled().unwrap_or(false);
    let result = if want {
        manager.enable()
    } else {
        manager.disable()
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot change start at login");
    }
    let enabled = manager.is_enabled().unwrap_or(false);
    show_autostart(app, enabled);
    if let Err(e) = app.emit(events::AUTOSTART_EVENT, enabled) {
        tracing::debug!(error = %e, "cannot tell the window about start at login");
    }
}

fn copy_label(status: &Status) -> String {
    format!("Copy address ({})", status.address)
}

fn tooltip(status: &Status) -> String {
    format!("Open WebUI Ollama Proxy — {}", status.summary())
}

fn icon(look: Look) -> Image<'static> {
    let bytes: &'static [u8] = match look {
        Look::Running => include_bytes!("../../icons/tray-running.png"),
        Look::Stopped => include_bytes!("../../icons/tray-stopped.png"),
        Look::Busy => include_bytes!("../../icons/tray-busy.png"),
        Look::Error => include_bytes!("../../icons/tray-error.png"),
    };
    // The PNGs are ours and checked by a test; a broken one falls back to a blank icon.
    Image::from_bytes(bytes).unwrap_or_else(|_| Image::new_owned(vec![0; 4], 1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_round_trip() {
        for id in MenuId::ALL {
            assert_eq!(MenuId::parse(id.as_str()), Some(id));
        }
        assert_eq!(MenuId::parse("nope"), None);
    }

    #[test]
    fn tray_icons_decode() {
        for look in [Look::Running, Look::Stopped, Look::Busy, Look::Error] {
            let img = icon(look);
            assert!(img.width() >= 16 && img.height() >= 16, "{look:?}");
        }
    }
}
