//! The window's commands, run in the tray process: the settings window forwards each of its
//! `#[tauri::command]`s here over [`crate::ipc`] by name with its arguments as JSON.
//! [`dispatch`] parses the arguments and calls the controller or the desktop ([`Desktop`]:
//! start at login, clipboard, log folder). No logic of its own, and never a secret: the
//! credentials status is `{configured, method, server, email}`, and the client token goes from
//! the keychain straight to the clipboard (`copy_client_token` returns nothing).

use crate::controller::{Controller, CredentialsStatus, SettingsPatch, SignInRequest};
use crate::error::CommandError;
use crate::settings::Settings;
use crate::status::Status;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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

/// The desktop services the tray process offers: start at login, clipboard, logs.
pub struct Desktop {
    autolaunch: Option<auto_launch::AutoLaunch>,
    clipboard: Mutex<Option<arboard::Clipboard>>,
    log_dir: Option<PathBuf>,
}

impl Desktop {
    /// Start at login runs `exe` (this binary) under `name`; logs are in `log_dir`.
    pub fn new(name: &str, exe: Option<PathBuf>, log_dir: Option<PathBuf>) -> Self {
        let autolaunch = exe.and_then(|exe| {
            let path = std::env::var("APPIMAGE")
                .ok()
                .filter(|_| cfg!(target_os = "linux"))
                .unwrap_or_else(|| exe.display().to_string());
            auto_launch::AutoLaunchBuilder::new()
                .set_app_name(name)
                .set_app_path(&path)
                .set_macos_launch_mode(auto_launch::MacOSLaunchMode::LaunchAgent)
                .build()
                .map_err(|e| tracing::warn!(error = %e, "start at login is not available"))
                .ok()
        });
        Desktop {
            autolaunch,
            clipboard: Mutex::new(None),
            log_dir,
        }
    }

    /// Whether start at login is on.
    pub fn autostart(&self) -> bool {
        self.autolaunch
            .as_ref()
            .and_then(|a| a.is_enabled().ok())
            .unwrap_or(false)
    }

    /// Turns start at login on or off; returns the resulting state.
    pub fn set_autostart(&self, enabled: bool) -> Result<bool, CommandError> {
        let a = self
            .autolaunch
            .as_ref()
            .ok_or_else(|| CommandError::internal("start at login is not available"))?;
        let result = if enabled { a.enable() } else { a.disable() };
        result.map_err(|e| CommandError::internal(format!("cannot change start at login: {e}")))?;
        Ok(a.is_enabled().unwrap_or(enabled))
    }

    /// Puts `text` on the clipboard (kept by this process while it runs).
    pub fn copy(&self, text: String) -> Result<(), CommandError> {
        let fail = |e: arboard::Error| CommandError::internal(format!("cannot copy: {e}"));
        let mut guard = self
            .clipboard
            .lock()
            .map_err(|_| CommandError::internal("cannot copy: clipboard unavailable"))?;
        let clipboard = match guard.as_mut() {
            Some(c) => c,
            None => guard.insert(arboard::Clipboard::new().map_err(fail)?),
        };
        clipboard.set_text(text).map_err(fail)
    }

    /// Opens the newest log file (or the folder).
    pub fn open_logs(&self) -> Result<(), CommandError> {
        let dir = self
            .log_dir
            .as_deref()
            .ok_or_else(|| CommandError::internal("logging is not set up"))?;
        crate::logging::open(dir)
    }
}

/// What the tray does for commands that touch it.
pub trait TrayHooks: Send + Sync {
    /// "Start at login" changed from the window.
    fn autostart_changed(&self, enabled: bool);
    /// Show (or start) the settings window.
    fn show_window(&self);
    /// The window gained or lost the focus.
    fn window_focused(&self, focused: bool);
}

/// What [`dispatch`] works with.
pub struct Shell {
    /// The proxy's owner.
    pub controller: Arc<Controller>,
    /// Desktop services.
    pub desktop: Arc<Desktop>,
    /// The tray.
    pub tray: Arc<dyn TrayHooks>,
    /// The app version.
    pub version: String,
}

fn arg<T: DeserializeOwned>(args: &Value, name: &str) -> Result<T, CommandError> {
    let value = args.get(name).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value)
        .map_err(|e| CommandError::new("bad_request", format!("invalid `{name}`: {e}")))
}

fn json(value: impl Serialize) -> Result<Value, CommandError> {
    serde_json::to_value(value).map_err(|e| CommandError::internal(e.to_string()))
}

/// Runs the window's command `cmd` with `args` (`{request}`, `{patch}`, `{enabled}`, …).
pub async fn dispatch(shell: &Shell, cmd: &str, args: Value) -> Result<Value, CommandError> {
    let ctl = &shell.controller;
    match cmd {
        "get_state" => json(AppView {
            status: ctl.status(),
            credentials: ctl.credentials_status().await,
            settings: ctl.settings().await,
            autostart: shell.desktop.autostart(),
            version: shell.version.clone(),
        }),
        "sign_in" => json(ctl.sign_in(arg::<SignInRequest>(&args, "request")?).await?),
        "sign_out" => json(ctl.sign_out().await?),
        "clear_data" => json(ctl.clear_data().await?),
        "copy_client_token" => {
            let token = ctl.client_token().await?;
            shell.desktop.copy(token.expose_secret().to_string())?;
            Ok(Value::Null)
        }
        "regenerate_client_token" => json(ctl.regenerate_client_token().await?),
        "start_proxy" => json(ctl.start().await?),
        "stop_proxy" => json(ctl.stop().await),
        "save_settings" => json(
            ctl.update_settings(arg::<SettingsPatch>(&args, "patch")?)
                .await?,
        ),
        "suggest_port" => json(ctl.suggest_port().await?),
        "set_autostart" => {
            let now = shell.desktop.set_autostart(arg(&args, "enabled")?)?;
            shell.tray.autostart_changed(now);
            json(now)
        }
        "copy_address" => {
            let address = ctl.status().address;
            shell.desktop.copy(address.clone())?;
            json(address)
        }
        "open_logs" => {
            shell.desktop.open_logs()?;
            Ok(Value::Null)
        }
        "show" => {
            shell.tray.show_window();
            Ok(Value::Null)
        }
        "window_focus" => {
            shell.tray.window_focused(arg(&args, "focused")?);
            Ok(Value::Null)
        }
        other => Err(CommandError::new(
            "unknown_command",
            format!("no command `{other}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxy::events::EventSink;
    use proxy::MemoryStore;
    use serde_json::json;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Default)]
    struct Hooks {
        shown: AtomicBool,
    }

    impl TrayHooks for Hooks {
        fn autostart_changed(&self, _: bool) {}
        fn show_window(&self) {
            self.shown.store(true, Ordering::SeqCst);
        }
        fn window_focused(&self, _: bool) {}
    }

    fn shell(hooks: Arc<Hooks>) -> Shell {
        let controller = Controller::new(
            Arc::new(MemoryStore::default()),
            None,
            None,
            EventSink::default(),
        );
        Shell {
            controller: Arc::new(controller),
            desktop: Arc::new(Desktop::new("test", None, None)),
            tray: hooks,
            version: "9.9.9".into(),
        }
    }

    #[tokio::test]
    async fn get_state_is_camel_case_and_secret_free() {
        let shell = shell(Arc::default());
        let view = dispatch(&shell, "get_state", Value::Null).await.unwrap();
        assert_eq!(view["version"], "9.9.9");
        assert_eq!(view["autostart"], false);
        assert!(view["status"].get("proxy").is_some());
        assert!(view.get("credentials").is_some());
    }

    #[tokio::test]
    async fn bad_arguments_and_unknown_commands_are_errors() {
        let shell = shell(Arc::default());
        let err = dispatch(&shell, "save_settings", json!({"patch": 3}))
            .await
            .unwrap_err();
        assert_eq!(err.kind, "bad_request");
        let err = dispatch(&shell, "nope", Value::Null).await.unwrap_err();
        assert_eq!(err.kind, "unknown_command");
    }

    #[tokio::test]
    async fn show_reaches_the_tray() {
        let hooks = Arc::new(Hooks::default());
        let shell = shell(hooks.clone());
        dispatch(&shell, "show", Value::Null).await.unwrap();
        assert!(hooks.shown.load(Ordering::SeqCst));
    }
}
