//! The CLI's safety flags: who may connect (extra `Host` names, the client token read from a
//! file or the environment, never from the command line), rate and request-head limits,
//! slow-client timeouts, and the encrypted disk cache (key from the OS keychain, or a private
//! key file on request; otherwise no disk cache), plus `--clear-data`.

use anyhow::{bail, Context};
use proxy::cache::CacheKey;
use proxy::config::{self, parse_duration, Config};
use secrecy::SecretString;
use std::path::PathBuf;

/// The environment variable that may hold the client token itself.
pub const CLIENT_TOKEN_ENV: &str = "OPENWEBUI_PROXY_CLIENT_TOKEN";

/// Flags about exposure, limits and what is kept on disk.
#[derive(clap::Args, Debug)]
pub struct SecurityArgs {
    /// Extra Host names clients may use, comma-separated (e.g. a LAN DNS name)
    #[arg(long, env = "OPENWEBUI_PROXY_ALLOWED_HOSTS", default_value = "")]
    allowed_hosts: String,
    /// Require this client token (first line of the file) as `Authorization: Bearer <token>`
    /// on every request but `GET /`; or set OPENWEBUI_PROXY_CLIENT_TOKEN
    #[arg(long, env = "OPENWEBUI_PROXY_CLIENT_TOKEN_FILE", value_name = "PATH")]
    client_token_file: Option<PathBuf>,
    /// Requests a client may send at once before --rate-limit applies (0 = one second's worth)
    #[arg(long, env = "OPENWEBUI_PROXY_RATE_BURST", default_value_t = 0)]
    rate_burst: u32,
    /// Largest request head (request line and headers) in bytes
    #[arg(
        long,
        env = "OPENWEBUI_PROXY_MAX_HEADER_BYTES",
        default_value_t = 65_536
    )]
    max_header_bytes: usize,
    /// Longest wait for a request's headers; also closes idle connections
    #[arg(long, env = "OPENWEBUI_PROXY_HEADER_TIMEOUT", default_value = "30s")]
    header_timeout: String,
    /// Longest wait for a whole request body
    #[arg(long, env = "OPENWEBUI_PROXY_BODY_TIMEOUT", default_value = "60s")]
    body_timeout: String,
    /// Keep nothing on disk (model list and session stay in memory)
    #[arg(long, env = "OPENWEBUI_PROXY_NO_DISK_CACHE")]
    no_disk_cache: bool,
    /// Without an OS keychain, keep the disk cache key in this file (created with mode 0600)
    #[arg(long, env = "OPENWEBUI_PROXY_CACHE_KEY_FILE", value_name = "PATH")]
    cache_key_file: Option<PathBuf>,
    /// Delete the disk cache and its key (the saved session and model lists), then exit
    #[arg(long)]
    pub clear_data: bool,
}

/// Applies the flags to `c`; the disk cache folder defaults to the OS cache folder.
pub fn apply(a: &SecurityArgs, cache_dir: Option<PathBuf>, c: &mut Config) -> anyhow::Result<()> {
    c.allowed_hosts = config::parse_allowed_hosts(&a.allowed_hosts).context("--allowed-hosts")?;
    c.client_token = client_token(a)?;
    c.rate_burst = (a.rate_burst > 0).then_some(a.rate_burst);
    c.max_header_bytes = a.max_header_bytes;
    c.header_read_timeout = positive(&a.header_timeout, "--header-timeout")?;
    c.body_read_timeout = positive(&a.body_timeout, "--body-timeout")?;
    c.cache_dir = if a.no_disk_cache {
        None
    } else {
        cache_dir.or_else(proxy::cache::default_dir)
    };
    Ok(())
}

fn positive(value: &str, flag: &str) -> anyhow::Result<std::time::Duration> {
    let d = parse_duration(value).context(flag.to_string())?;
    if d.is_zero() {
        bail!("{flag} must be more than 0");
    }
    Ok(d)
}

fn client_token(a: &SecurityArgs) -> anyhow::Result<Option<SecretString>> {
    let token = match (&a.client_token_file, std::env::var(CLIENT_TOKEN_ENV)) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the client token file {}", path.display()))?;
            text.lines().next().unwrap_or("").trim().to_string()
        }
        (None, Ok(v)) => v.trim().to_string(),
        (None, Err(_)) => return Ok(None),
    };
    if token.len() < 16 {
        bail!("the client token must be at least 16 characters (e.g. openssl rand -hex 32)");
    }
    Ok(Some(SecretString::from(token)))
}

/// The disk cache key: from `--cache-key-file` when given, else the OS keychain; `None` (no
/// disk cache, said once) when neither is available or the disk cache is off.
pub fn cache_key(
    a: &SecurityArgs,
    c: &Config,
    keychain_service: &str,
) -> anyhow::Result<Option<CacheKey>> {
    if c.cache_dir.is_none() {
        return Ok(None);
    }
    if let Some(path) = &a.cache_key_file {
        return Ok(Some(CacheKey::from_file(path)?));
    }
    match keychain_key(keychain_service) {
        Ok(k) => Ok(Some(k)),
        Err(e) => {
            tracing::info!(error = %e, "no OS keychain for the cache key: nothing is kept on disk (use --cache-key-file to keep a cache)");
            Ok(None)
        }
    }
}

#[cfg(feature = "keyring")]
fn keychain_key(service: &str) -> Result<CacheKey, proxy::cache::KeyError> {
    CacheKey::from_store(&proxy::credentials::KeyringStore::new(service))
}

#[cfg(not(feature = "keyring"))]
fn keychain_key(_service: &str) -> Result<CacheKey, proxy::cache::KeyError> {
    Err(proxy::credentials::StoreError::Unavailable("built without keychain support".into()).into())
}

/// `--clear-data`: deletes the cache files and the cache key (in `store` and the key file).
pub fn clear_data(
    a: &SecurityArgs,
    cache_dir: Option<PathBuf>,
    store: &dyn proxy::SecretStore,
) -> anyhow::Result<()> {
    let dir = cache_dir.or_else(proxy::cache::default_dir);
    if let Err(e) = proxy::cache::clear_data(dir.as_deref(), store) {
        match e {
            proxy::cache::ClearError::Keychain(k) => {
                tracing::info!(error = %k, "no keychain entry removed")
            }
            other => return Err(other.into()),
        }
    }
    if let Some(path) = &a.cache_key_file {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("deleting {}", path.display()));
            }
            _ => {}
        }
    }
    eprintln!(
        "Cleared the disk cache{}.",
        dir.map(|d| format!(" in {}", d.display()))
            .unwrap_or_default()
    );
    Ok(())
}

/// Warns about a listen address beyond this machine and about secrets given as arguments.
pub fn warn_exposure(c: &Config, argv: &[String]) {
    if !c.listen.ip().is_loopback() {
        if c.client_token.is_none() {
            tracing::warn!("no client token is set (--client-token-file): anyone who can connect to {} uses your Open WebUI account", c.listen);
        }
        if c.rate_limit.is_none() {
            tracing::warn!("no rate limit is set for other machines: consider --rate-limit");
        }
    }
    for flag in ["--password", "--api-key"] {
        let given = argv
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        if given {
            tracing::warn!("{flag} on the command line is visible to other users of this machine: prefer the environment variable or a file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        s: SecurityArgs,
    }

    fn parse(args: &[&str]) -> SecurityArgs {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .unwrap()
            .s
    }

    fn config() -> Config {
        Config::new(config::parse_upstream_url("http://h").unwrap())
    }

    #[test]
    fn flags_reach_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "0123456789abcdef-token\nignored\n").unwrap();
        let a = parse(&[
            "--allowed-hosts",
            "Box.lan",
            "--client-token-file",
            token.to_str().unwrap(),
            "--rate-burst",
            "5",
            "--header-timeout",
            "2s",
            "--body-timeout",
            "3s",
        ]);
        let mut c = config();
        apply(&a, Some(dir.path().join("c")), &mut c).unwrap();
        assert_eq!(c.allowed_hosts, ["box.lan"]);
        use secrecy::ExposeSecret;
        assert_eq!(
            c.client_token.unwrap().expose_secret(),
            "0123456789abcdef-token"
        );
        assert_eq!(c.rate_burst, Some(5));
        assert_eq!(c.header_read_timeout, std::time::Duration::from_secs(2));
        assert_eq!(c.cache_dir, Some(dir.path().join("c")));
    }

    #[test]
    fn weak_tokens_zero_timeouts_and_disabled_cache() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "short").unwrap();
        let a = parse(&["--client-token-file", token.to_str().unwrap()]);
        assert!(apply(&a, None, &mut config())
            .unwrap_err()
            .to_string()
            .contains("16"));
        assert!(apply(&parse(&["--body-timeout", "0"]), None, &mut config()).is_err());
        let a = parse(&["--no-disk-cache"]);
        let mut c = config();
        apply(&a, Some(dir.path().to_path_buf()), &mut c).unwrap();
        assert!(c.cache_dir.is_none());
        assert!(cache_key(&a, &c, "test").unwrap().is_none());
    }

    #[test]
    fn key_file_enables_the_cache_and_clear_data_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("cfg").join("cache.key");
        let a = parse(&["--cache-key-file", key.to_str().unwrap()]);
        let mut c = config();
        apply(&a, Some(dir.path().join("cache")), &mut c).unwrap();
        assert!(cache_key(&a, &c, "test").unwrap().is_some());
        assert!(key.exists());
        let disk = proxy::cache::DiskCache::open(
            dir.path().join("cache"),
            &CacheKey::from_file(&key).unwrap(),
        )
        .unwrap();
        disk.write("ns", b"x");
        let store = proxy::MemoryStore::new();
        clear_data(&a, Some(dir.path().join("cache")), &store).unwrap();
        assert!(!key.exists() && !dir.path().join("cache").exists());
    }
}
