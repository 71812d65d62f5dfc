//! The app's non-secret settings: a JSON file in the OS config folder (`settings.json`), read
//! leniently (unknown keys are kept, missing keys take defaults) and written atomically
//! (temp file + rename). Never holds a password, API key or token: those live in the keychain.

use crate::error::CommandError;
use proxy::config::{parse_host, parse_upstream_url, Config};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The default Ollama port.
pub const DEFAULT_PORT: u16 = 11434;

/// How the account signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthMethod {
    /// Email and password (password in the keychain).
    Password,
    /// An API key (in the keychain).
    ApiKey,
}

/// Everything the user sets except secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    /// The normalised Open WebUI address, once signed in.
    pub server: Option<String>,
    /// The account email (password sign-in).
    pub email: Option<String>,
    /// Which secret the keychain holds for `server`.
    pub auth_method: Option<AuthMethod>,
    /// Listen host (an IP literal or `localhost`).
    pub host: String,
    /// Listen port.
    pub port: u16,
    /// Extra allowed CORS origins, on top of Ollama's defaults.
    pub cors_origins: Vec<String>,
    /// Start the proxy when the app starts.
    pub start_proxy_on_launch: bool,
    /// Keys this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: None,
            email: None,
            auth_method: None,
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            cors_origins: Vec::new(),
            start_proxy_on_launch: true,
            extra: serde_json::Map::new(),
        }
    }
}

impl Settings {
    /// The address to listen on.
    pub fn listen(&self) -> Result<SocketAddr, CommandError> {
        Ok(SocketAddr::new(parse_host(&self.host)?, self.port))
    }

    /// The proxy configuration these settings describe.
    pub fn to_config(&self) -> Result<Config, CommandError> {
        let server = self
            .server
            .as_deref()
            .ok_or_else(CommandError::not_signed_in)?;
        let mut config = Config::new(parse_upstream_url(server)?);
        config.listen = self.listen()?;
        config.cors_origins = self.cors_origins.clone();
        Ok(config)
    }

    /// True when a server and an account method are set (the secret may still be missing).
    pub fn has_account(&self) -> bool {
        self.server.is_some() && self.auth_method.is_some()
    }
}

/// Checks an extra origin pattern: `scheme://host[:port]` with at most one `*`.
pub fn check_origin(origin: &str) -> Result<(), CommandError> {
    let bad = || {
        CommandError::invalid_config(format!(
            "invalid origin {origin:?}: use scheme://host[:port] with at most one '*', e.g. https://*.example.com"
        ))
    };
    let (scheme, rest) = origin.split_once("://").ok_or_else(bad)?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let rest_ok = !rest.is_empty() && !rest.contains('/') && !rest.contains(char::is_whitespace);
    if scheme_ok && rest_ok && origin.matches('*').count() <= 1 {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Where the settings file lives: `<OS config dir>/openwebui-ollama-proxy/settings.json`.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "openwebui-ollama-proxy")
        .map(|d| d.config_dir().join("settings.json"))
}

/// Reads the settings; a missing file gives the defaults. A file that is not valid JSON is set
/// aside as `settings.json.bad` (so it is not overwritten) and the defaults are used.
pub fn load(path: &Path) -> Settings {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Settings::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the settings; using defaults");
            return Settings::default();
        }
    };
    match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            let aside = path.with_extension("json.bad");
            tracing::warn!(path = %path.display(), error = %e, aside = %aside.display(), "unreadable settings set aside; using defaults");
            let _ = std::fs::rename(path, aside);
            Settings::default()
        }
    }
}

/// Writes the settings atomically: a temp file in the same folder, then a rename.
pub fn save(path: &Path, settings: &Settings) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut body = serde_json::to_vec_pretty(settings).map_err(std::io::Error::other)?;
    body.push(b'\n');
    let tmp = dir.join(format!(".settings.json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, &body)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let s = load(&dir.path().join("settings.json"));
        assert_eq!(s, Settings::default());
        assert_eq!(s.port, DEFAULT_PORT);
        assert!(s.start_proxy_on_launch);
    }

    #[test]
    fn round_trip_keeps_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("settings.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"server":"http://h/","port":8080,"futureKey":{"a":1}}"#,
        )
        .unwrap();
        let mut s = load(&path);
        assert_eq!(s.port, 8080);
        assert_eq!(s.host, "127.0.0.1", "missing keys take defaults");
        s.email = Some("a@b.c".into());
        save(&path, &s).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["futureKey"]["a"], 1);
        assert_eq!(v["email"], "a@b.c");
        assert_eq!(load(&path), s);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file left behind");
    }

    #[test]
    fn corrupt_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(load(&path), Settings::default());
        assert!(dir.path().join("settings.json.bad").exists());
    }

    #[test]
    fn settings_never_serialize_secret_fields() {
        let s = Settings {
            email: Some("a@b.c".into()),
            ..Settings::default()
        };
        let text = serde_json::to_string(&s).unwrap().to_lowercase();
        assert!(
            !text.contains("password\"") && !text.contains("key\":") && !text.contains("token")
        );
    }

    #[test]
    fn config_needs_a_server_and_valid_listen() {
        let mut s = Settings::default();
        assert_eq!(s.to_config().unwrap_err().kind, "not_signed_in");
        s.server = Some("http://127.0.0.1:3000".into());
        assert_eq!(s.to_config().unwrap().listen.port(), DEFAULT_PORT);
        s.host = "example.com".into();
        assert_eq!(s.to_config().unwrap_err().kind, "invalid_config");
    }

    #[test]
    fn origins_are_checked() {
        for ok in [
            "https://*.example.com",
            "http://localhost:3000",
            "app://obsidian.md",
        ] {
            assert!(check_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "example.com",
            "https://",
            "https://a.com/path",
            "https://*.*.com",
            "http://a b",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
