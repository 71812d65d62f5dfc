//! What a user writes (flags, environment, the settings file) becomes a validated [`Config`]:
//! a parsed upstream URL, a socket address, real durations. Validation happens once, at start,
//! with one-line errors that say how to fix the value.

use secrecy::SecretString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use url::Url;

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// The Open WebUI address is unusable.
    #[error("invalid Open WebUI URL {url:?}: {reason}")]
    Url {
        /// What was given.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// A duration is malformed.
    #[error("invalid duration {0:?}: use e.g. 300ms, 30s, 10m, 1h30m or 0")]
    Duration(String),
    /// The listen host is not an IP address or `localhost`.
    #[error("invalid host {0:?}: use an IP address such as 127.0.0.1 or ::1, or localhost")]
    Host(String),
    /// An extra allowed `Host` name is malformed.
    #[error("invalid host name {0:?}: use a DNS name such as box.lan or an IP address")]
    AllowedHost(String),
    /// An origin pattern is malformed.
    #[error("invalid origin {0:?}: use scheme://host[:port] with at most one '*'")]
    Origin(String),
    /// Something else.
    #[error("{0}")]
    Other(String),
}

/// The validated configuration of one proxy instance.
#[derive(Debug, Clone)]
pub struct Config {
    /// Open WebUI base URL, no trailing slash (a path prefix is kept).
    pub upstream: Url,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Disk cache folder; `None` = no disk cache.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Largest accepted request body, bytes.
    pub max_body: usize,
    /// Largest upstream error body read, bytes.
    pub max_error_body: usize,
    /// Largest upstream non-streamed body read, bytes.
    pub max_upstream_body: usize,
    /// Largest single SSE event, bytes.
    pub max_sse_event: usize,
    /// Model list freshness.
    pub tags_ttl: Duration,
    /// Show record freshness.
    pub show_ttl: Duration,
    /// Whole non-streamed exchange, and the wait for a stream's first byte.
    pub timeout: Duration,
    /// TCP/TLS connect limit.
    pub connect_timeout: Duration,
    /// Longest silence inside an upstream stream; `None` = no limit.
    pub stream_idle_timeout: Option<Duration>,
    /// How long open streams may finish at shutdown.
    pub shutdown_timeout: Duration,
    /// Extra allowed CORS origins (patterns with one `*`), on top of Ollama's defaults.
    pub cors_origins: Vec<String>,
    /// Extra accepted `Host` names (lower-case, no port), on top of the local ones: needed when
    /// clients on a LAN reach the proxy by a DNS name.
    pub allowed_hosts: Vec<String>,
    /// When set, every request but `GET`/`HEAD /` must carry `Authorization: Bearer <token>`.
    pub client_token: Option<SecretString>,
    /// Requests per second per client address; `None` = no limit.
    pub rate_limit: Option<u32>,
    /// Requests a client may make at once before the rate applies; `None` = one second's worth.
    pub rate_burst: Option<u32>,
    /// Largest request head (request line and headers), bytes; at least 8 KiB.
    pub max_header_bytes: usize,
    /// Most headers in one request.
    pub max_headers: usize,
    /// Longest wait for a request head, also how long an idle keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// Longest time to receive a whole request body.
    pub body_read_timeout: Duration,
    /// Reported by `/api/version`.
    pub ollama_version: String,
}

/// The version `/api/version` reports by default: recent enough that clients enable tools,
/// thinking and structured output.
pub const DEFAULT_OLLAMA_VERSION: &str = "0.12.3";

impl Config {
    /// Defaults for everything but the upstream URL.
    pub fn new(upstream: Url) -> Self {
        Config {
            upstream,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 11434),
            cache_dir: None,
            max_body: 100 * 1024 * 1024,
            max_error_body: 1024 * 1024,
            max_upstream_body: 64 * 1024 * 1024,
            max_sse_event: 16 * 1024 * 1024,
            tags_ttl: Duration::from_secs(600),
            show_ttl: Duration::from_secs(1800),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            stream_idle_timeout: Some(Duration::from_secs(300)),
            shutdown_timeout: Duration::from_secs(5),
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            client_token: None,
            rate_limit: None,
            rate_burst: None,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            ollama_version: DEFAULT_OLLAMA_VERSION.to_string(),
        }
    }

    /// The upstream URL with `path` appended (keeps a path prefix).
    pub fn upstream_url(&self, path: &str) -> String {
        let base = self.upstream.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }
}

/// Parses and normalises an Open WebUI address. A missing scheme is fixed: `http://` for
/// loopback and private addresses and `localhost`, `https://` otherwise.
pub fn parse_upstream_url(input: &str) -> Result<Url, ConfigError> {
    let err = |reason: &str| ConfigError::Url {
        url: input.to_string(),
        reason: reason.into(),
    };
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(err("it is empty"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        let host = trimmed.split(['/', ':']).next().unwrap_or("");
        let scheme = if is_local_host(host) { "http" } else { "https" };
        format!("{scheme}://{trimmed}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| err(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(err("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("remove the ?query or #fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("do not put credentials in the URL"));
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

fn is_local_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") || h.ends_with(".local") || h.ends_with(".localhost") {
        return true;
    }
    match h.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        Ok(IpAddr::V6(v6)) => v6.is_loopback(),
        Err(_) => false,
    }
}

/// Parses the listen host: an IPv4/IPv6 literal (brackets allowed) or `localhost`.
pub fn parse_host(host: &str) -> Result<IpAddr, ConfigError> {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    h.parse().map_err(|_| ConfigError::Host(host.to_string()))
}

/// Checks one extra CORS origin and returns it trimmed and lower-cased: `*` alone (allow every
/// origin), or `scheme://host[:port]` with at most one `*` (`chrome-extension://*`,
/// `https://*.example.com`, `http://localhost:*`).
pub fn parse_origin(origin: &str) -> Result<String, ConfigError> {
    let o = origin.trim().to_ascii_lowercase();
    if o == "*" {
        return Ok(o);
    }
    let bad = || ConfigError::Origin(origin.to_string());
    let (scheme, rest) = o.split_once("://").ok_or_else(bad)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let rest_ok =
        !rest.is_empty() && !rest.contains(['/', '?', '#']) && !rest.contains(char::is_whitespace);
    if scheme_ok && rest_ok && o.matches('*').count() <= 1 {
        Ok(o)
    } else {
        Err(bad())
    }
}

/// Parses a comma-separated origin list (`OLLAMA_ORIGINS` style); empty items are skipped.
pub fn parse_origins(list: &str) -> Result<Vec<String>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_origin)
        .collect()
}

/// Parses a comma-separated list of extra `Host` names: DNS names or IP literals, no port.
pub fn parse_allowed_hosts(list: &str) -> Result<Vec<String>, ConfigError> {
    let check = |h: &str| {
        let name = h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let ok = !name.is_empty()
            && (name.parse::<IpAddr>().is_ok()
                || name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c)));
        if ok {
            Ok(name)
        } else {
            Err(ConfigError::AllowedHost(h.to_string()))
        }
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(check)
        .collect()
}

/// Parses a Go-style duration: `300ms`, `1.5s`, `10m`, `1h30m`, `2h`, bare `0`. Units: ns, us
/// (µs), ms, s, m, h. A bare number other than 0 is refused (as in Go).
pub fn parse_duration(input: &str) -> Result<Duration, ConfigError> {
    let bad = || ConfigError::Duration(input.to_string());
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * secs;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Formats a byte count readably (`512 B`, `1.5 KiB`, `100 MiB`).
pub fn human_bytes(n: usize) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 || v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[i])
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
