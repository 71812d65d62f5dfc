//! The tray icon and its menu: a status line, Start / Stop, Copy address, Settings…, Open logs,
//! Start at login and Quit. Menu ids are [`MenuId`]; the clicks are handled in [`crate::app`].
//! The icon, tooltip and items follow [`Status`] through [`TrayUi::show`]. Built on `tray-icon`
//! (and its `muda` menus) directly: no webview in this process. Lives on the event-loop thread.
//! On Linux (AppIndicator) a left click always opens the menu; elsewhere it is asked for.

use crate::status::{AccountState, Look, ProxyState, Status};
use tray_icon::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

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

/// The tray icon and the items whose text or state changes.
pub struct TrayUi {
    icon: TrayIcon,
    status: MenuItem,
    start: MenuItem,
    stop: MenuItem,
    copy: MenuItem,
    autostart: CheckMenuItem,
}

impl TrayUi {
    /// Builds the tray icon and menu; call once on the event-loop thread.
    pub fn new(status: &Status, autostart_on: bool) -> Result<Self, Box<dyn std::error::Error>> {
        let item = |id: MenuId, text: &str, enabled: bool| {
            MenuItem::with_id(id.as_str(), text, enabled, None)
        };
        let ui_status = item(MenuId::Status, &status.summary(), false);
        let start = item(MenuId::Start, "Start proxy", true);
        let stop = item(MenuId::Stop, "Stop proxy", false);
        let copy = item(MenuId::CopyAddress, &copy_label(status), true);
        let autostart = CheckMenuItem::with_id(
            MenuId::Autostart.as_str(),
            "Start at login",
            true,
            autostart_on,
            None,
        );
        let menu = Menu::with_items(&[
            &ui_status,
            &PredefinedMenuItem::separator(),
            &start,
            &stop,
            &copy,
            &PredefinedMenuItem::separator(),
            &item(MenuId::Settings, "Settings…", true),
            &item(MenuId::OpenLogs, "Open logs", true),
            &autostart,
            &PredefinedMenuItem::separator(),
            &item(MenuId::Quit, "Quit", true),
        ])?;
        let icon = TrayIconBuilder::new()
            .with_id("main")
            .with_icon(icon(status.look()))
            .with_tooltip(tooltip(status))
            .with_menu(Box::new(menu))
            .with_menu_on_left_click(true)
            .with_icon_as_template(cfg!(target_os = "macos"))
            .build()?;
        let ui = TrayUi {
            icon,
            status: ui_status,
            start,
            stop,
            copy,
            autostart,
        };
        ui.show(status);
        Ok(ui)
    }

    /// Updates icon, tooltip and items to `status`.
    pub fn show(&self, status: &Status) {
        #[cfg(target_os = "macos")]
        let _ = self
            .icon
            .set_icon_with_as_template(Some(icon(status.look())), true);
        #[cfg(not(target_os = "macos"))]
        let _ = self.icon.set_icon(Some(icon(status.look())));
        let _ = self.icon.set_tooltip(Some(tooltip(status)));
        let running = status.proxy == ProxyState::Running;
        let can_start = !running && status.account != AccountState::SignedOut;
        self.status.set_text(status.summary());
        self.start.set_enabled(can_start);
        self.stop.set_enabled(running);
        self.copy.set_text(copy_label(status));
    }

    /// Sets the "Start at login" checkbox.
    pub fn show_autostart(&self, enabled: bool) {
        self.autostart.set_checked(enabled);
    }
}

fn copy_label(status: &Status) -> String {
    format!("Copy address ({})", status.address)
}

fn tooltip(status: &Status) -> String {
    format!("Open WebUI Ollama Proxy — {}", status.summary())
}

/// Decodes one of our PNGs to RGBA.
fn decode(bytes: &[u8]) -> Option<Icon> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
        return None;
    }
    buf.truncate(info.buffer_size());
    Icon::from_rgba(buf, info.width, info.height).ok()
}

fn icon(look: Look) -> Icon {
    // The PNGs are ours and checked by a test; a broken one falls back to a blank icon.
    decode(icon_bytes(look, cfg!(target_os = "macos"))).unwrap_or_else(blank)
}

/// The colour icons, or on macOS the monochrome template ones the menu bar tints itself.
fn icon_bytes(look: Look, template: bool) -> &'static [u8] {
    match (look, template) {
        (Look::Running, false) => include_bytes!("../../icons/tray-running.png"),
        (Look::Stopped, false) => include_bytes!("../../icons/tray-stopped.png"),
        (Look::Busy, false) => include_bytes!("../../icons/tray-busy.png"),
        (Look::Error, false) => include_bytes!("../../icons/tray-error.png"),
        (Look::Running, true) => include_bytes!("../../icons/tray-template-running.png"),
        (Look::Stopped, true) => include_bytes!("../../icons/tray-template-stopped.png"),
        (Look::Busy, true) => include_bytes!("../../icons/tray-template-busy.png"),
        (Look::Error, true) => include_bytes!("../../icons/tray-template-error.png"),
    }
}

fn blank() -> Icon {
    #[allow(clippy::unwrap_used)] // 1×1 RGBA is always valid
    Icon::from_rgba(vec![0; 4], 1, 1).unwrap()
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
            for template in [false, true] {
                let bytes = icon_bytes(look, template);
                assert!(decode(bytes).is_some(), "{look:?} template={template}");
            }
            assert_ne!(icon_bytes(look, false), icon_bytes(look, true));
        }
    }
}
