//! The app's non-secret settings: a JSON file in the OS config folder (`settings.json`), read
//! leniently (unknown keys are kept, missing keys take defaults) and written atomically
//! (temp file + rename). Never holds a password, API key or token: those live in the keychain.
//! [`normalize`] checks every value with the core's parsers, so what is saved always starts.

use crate::error::CommandError;
use proxy::config::{parse_allowed_hosts, parse_host, parse_origin, parse_upstream_url, Config};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The default Ollama port.
pub const DEFAULT_PORT: u16 = 11434;

/// The highest rate limit and burst accepted (requests).
pub const MAX_RATE: u32 = 1_000_000;

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
    /// Extra `Host` names clients may use (a LAN DNS name such as `box.lan`), lower-case.
    pub allowed_hosts: Vec<String>,
    /// Requests per second per client address; 0 = no limit.
    pub rate_limit: u32,
    /// Requests a client may send at once before the rate applies; 0 = one second's worth.
    pub rate_burst: u32,
    /// Every client must send the client token (kept in the keychain, never here).
    pub require_client_token: bool,
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
            allowed_hosts: Vec::new(),
            rate_limit: 0,
            rate_burst: 0,
            require_client_token: false,
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

    /// The proxy configuration these settings describe, without the secrets (credentials,
    /// client token) and the disk cache, which the controller adds.
    pub fn to_config(&self) -> Result<Config, CommandError> {
        let server = self
            .server
            .as_deref()
            .ok_or_else(CommandError::not_signed_in)?;
        let mut config = Config::new(parse_upstream_url(server)?);
        config.listen = self.listen()?;
        config.cors_origins = self.cors_origins.clone();
        config.allowed_hosts = self.allowed_hosts.clone();
        config.rate_limit = (self.rate_limit > 0).then_some(self.rate_limit);
        config.rate_burst = (self.rate_burst > 0).then_some(self.rate_burst);
        Ok(config)
    }

    /// True when `other` runs the same server: same listen address and request checks. A
    /// change in any of them needs a restart of a running proxy.
    pub fn same_server(&self, other: &Settings) -> bool {
        self.listen().ok() == other.listen().ok()
            && self.cors_origins == other.cors_origins
            && self.allowed_hosts == other.allowed_hosts
            && (self.rate_limit, self.rate_burst) == (other.rate_limit, other.rate_burst)
            && self.require_client_token == other.require_client_token
    }

    /// True when a server and an account method are set (the secret may still be missing).
    pub fn has_account(&self) -> bool {
        self.server.is_some() && self.auth_method.is_some()
    }
}

/// Checks every value that reaches the proxy with the core's parsers, and puts lists in the
/// form the proxy compares (trimmed, lower-case, no empty items). Errors are `invalid_config`.
pub fn normalize(mut s: Settings) -> Result<Settings, CommandError> {
    s.host = s.host.trim().to_string();
    s.listen()?;
    s.cors_origins = filled(&s.cors_origins)
        .map(parse_origin)
        .collect::<Result<_, _>>()?;
    s.allowed_hosts = filled(&s.allowed_hosts)
        .map(allowed_host)
        .collect::<Result<_, _>>()?;
    if s.rate_limit > MAX_RATE || s.rate_burst > MAX_RATE {
        return Err(CommandError::invalid_config(format!(
            "the rate limit and burst must be at most {MAX_RATE}"
        )));
    }
    if s.rate_burst > 0 && s.rate_limit == 0 {
        return Err(CommandError::invalid_config(
            "a burst needs a rate limit: set the requests per second too, or clear the burst",
        ));
    }
    Ok(s)
}

fn filled(items: &[String]) -> impl Iterator<Item = &str> {
    items.iter().map(|i| i.trim()).filter(|i| !i.is_empty())
}

/// One extra `Host` name, checked by the core's parser (which takes a comma list).
fn allowed_host(item: &str) -> Result<String, CommandError> {
    let bad = || {
        CommandError::invalid_config(format!(
            "invalid allowed host name {item:?}: use a DNS name such as box.lan or an IP address, \
             without a port or a scheme"
        ))
    };
    match parse_allowed_hosts(item) {
        Ok(mut one) if one.len() == 1 => one.pop().ok_or_else(bad),
        _ => Err(bad()),
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
        let v = serde_json::to_value(&s).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for key in &keys {
            let k = key.to_lowercase();
            let secret_like = k.contains("password") || k.ends_with("key") || k.ends_with("token");
            let switch = v[*key].is_boolean();
            assert!(
                !secret_like || switch,
                "{key} looks like a secret field: {keys:?}"
            );
        }
        assert_eq!(
            v["requireClientToken"], false,
            "only the switch, never the token"
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
    fn values_are_checked_with_the_core_parsers() {
        let base = Settings::default();
        let ok = normalize(Settings {
            cors_origins: vec![
                " HTTPS://*.Example.com ".into(),
                "".into(),
                "app://x".into(),
            ],
            allowed_hosts: vec!["Box.LAN".into(), " 192.168.1.5 ".into(), "[::1]".into()],
            rate_limit: 10,
            rate_burst: 20,
            ..base.clone()
        })
        .unwrap();
        assert_eq!(ok.cors_origins, ["https://*.example.com", "app://x"]);
        assert_eq!(ok.allowed_hosts, ["box.lan", "192.168.1.5", "::1"]);
        let bad = [
            Settings {
                cors_origins: vec!["example.com".into()],
                ..base.clone()
            },
            Settings {
                cors_origins: vec!["https://a.com/path".into()],
                ..base.clone()
            },
            Settings {
                cors_origins: vec!["https://*.*.com".into()],
                ..base.clone()
            },
            Settings {
                allowed_hosts: vec!["box.lan:8080".into()],
                ..base.clone()
            },
            Settings {
                allowed_hosts: vec!["http://box.lan".into()],
                ..base.clone()
            },
            Settings {
                allowed_hosts: vec!["a.lan,b.lan".into()],
                ..base.clone()
            },
            Settings {
                allowed_hosts: vec!["bad name".into()],
                ..base.clone()
            },
            Settings {
                rate_limit: MAX_RATE + 1,
                ..base.clone()
            },
            Settings {
                rate_burst: 5,
                ..base.clone()
            },
            Settings {
                host: "example.com".into(),
                ..base.clone()
            },
        ];
        for s in bad {
            let err = normalize(s.clone()).unwrap_err();
            assert_eq!(err.kind, "invalid_config", "{s:?}");
        }
    }

    #[test]
    fn config_carries_hosts_and_limits() {
        let s = Settings {
            server: Some("http://127.0.0.1:3000".into()),
            allowed_hosts: vec!["box.lan".into()],
            rate_limit: 5,
            ..Settings::default()
        };
        let c = s.to_config().unwrap();
        assert_eq!(c.allowed_hosts, ["box.lan"]);
        assert_eq!((c.rate_limit, c.rate_burst), (Some(5), None));
        assert!(c.client_token.is_none() && c.cache_dir.is_none());
        let off = Settings {
            rate_limit: 0,
            ..s.clone()
        }
        .to_config()
        .unwrap();
        assert_eq!(off.rate_limit, None);
        assert!(s.same_server(&s.clone()));
        assert!(!s.same_server(&Settings {
            require_client_token: true,
            ..s.clone()
        }));
        assert!(!s.same_server(&Settings {
            allowed_hosts: vec![],
            ..s.clone()
        }));
        assert!(s.same_server(&Settings {
            start_proxy_on_launch: false,
            ..s.clone()
        }));
    }
}
