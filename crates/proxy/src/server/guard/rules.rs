//! The pure rules behind the guard: which `Host` names are local, which origins are allowed
//! (Ollama's default list plus the user's patterns), and same-origin detection.

use axum::extract::Request;
use axum::http::header;
use std::net::IpAddr;

/// Ollama's default origins (`envconfig.AllowedOrigins`), plus the same for `[::1]` since the
/// proxy may listen there. Browser-extension origins are not in it: users add them.
const DEFAULT_ORIGINS: &[&str] = &[
    "http://localhost",
    "https://localhost",
    "http://localhost:*",
    "https://localhost:*",
    "http://127.0.0.1",
    "https://127.0.0.1",
    "http://127.0.0.1:*",
    "https://127.0.0.1:*",
    "http://0.0.0.0",
    "https://0.0.0.0",
    "http://0.0.0.0:*",
    "https://0.0.0.0:*",
    "http://[::1]",
    "https://[::1]",
    "http://[::1]:*",
    "https://[::1]:*",
    "app://*",
    "file://*",
    "tauri://*",
    "vscode-webview://*",
    "vscode-file://*",
];

/// An origin allowlist: exact entries and patterns with one `*` (prefix + suffix).
#[derive(Debug, Default)]
pub struct Origins {
    all: bool,
    exact: Vec<String>,
    wild: Vec<(String, String)>,
}

impl Origins {
    /// Ollama's defaults plus `extra` (already validated; bad entries are skipped with a
    /// warning). `*` alone allows every origin.
    pub fn new(extra: &[String]) -> Self {
        let mut o = Origins::default();
        let defaults = DEFAULT_ORIGINS.iter().map(|s| s.to_string());
        for entry in defaults.chain(extra.iter().cloned()) {
            match crate::config::parse_origin(&entry) {
                Ok(e) if e == "*" => o.all = true,
                Ok(e) => match e.split_once('*') {
                    Some((pre, suf)) => o.wild.push((pre.to_string(), suf.to_string())),
                    None => o.exact.push(e),
                },
                Err(err) => tracing::warn!(error = %err, "ignoring an allowed origin"),
            }
        }
        o
    }

    /// True when `origin` (an `Origin` header value) is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        if self.all {
            return true;
        }
        let o = origin.trim().to_ascii_lowercase();
        self.exact.contains(&o)
            || self.wild.iter().any(|(pre, suf)| {
                o.len() >= pre.len() + suf.len() && o.starts_with(pre) && o.ends_with(suf)
            })
    }
}

/// The request's authority, lower-cased: the `Host` header, else the URI's authority, else
/// `""` (HTTP/1.0 without `Host`). `None` when the header is not text.
pub fn host_of(req: &Request) -> Option<String> {
    match req.headers().get(header::HOST) {
        Some(v) => v.to_str().ok().map(|s| s.trim().to_ascii_lowercase()),
        None => Some(
            req.uri()
                .authority()
                .map(|a| a.as_str().to_ascii_lowercase())
                .unwrap_or_default(),
        ),
    }
}

/// The host part of an authority: no port, no IPv6 brackets, no trailing dot.
pub fn host_name(authority: &str) -> &str {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if authority.matches(':').count() == 1 {
        authority.split(':').next().unwrap_or("")
    } else {
        authority
    };
    host.strip_suffix('.').unwrap_or(host)
}

/// True when `origin` is `http://<authority>` or `https://<authority>` (a same-origin request).
pub fn same_origin(origin: &str, authority: &str) -> bool {
    let o = origin.trim().to_ascii_lowercase();
    !authority.is_empty()
        && (o.strip_prefix("http://") == Some(authority)
            || o.strip_prefix("https://") == Some(authority))
}

/// The `Host` names accepted: Ollama's local set, the listen address, and the user's extras.
#[derive(Debug)]
pub struct Hosts {
    bound: IpAddr,
    wide: bool,
    hostname: Option<String>,
    extra: Vec<String>,
}

impl Hosts {
    /// The rule for a proxy listening on `bound`.
    pub fn new(bound: IpAddr, extra: &[String]) -> Self {
        let hostname = gethostname::gethostname()
            .into_string()
            .ok()
            .map(|h| h.to_ascii_lowercase());
        let extra = extra
            .iter()
            .map(|h| host_name(&h.to_ascii_lowercase()).to_string())
            .collect();
        Hosts {
            bound,
            wide: !bound.is_loopback(),
            hostname: hostname.filter(|h| !h.is_empty()),
            extra,
        }
    }

    /// True when a request with this authority may be served. Any IP literal is accepted while
    /// listening beyond loopback (DNS rebinding needs a name); names must be local or listed.
    pub fn allows(&self, authority: &str) -> bool {
        let host = host_name(authority);
        let local_name = host.is_empty()
            || host == "localhost"
            || [".localhost", ".local", ".internal"]
                .iter()
                .any(|s| host.ends_with(s));
        if local_name
            || self.hostname.as_deref() == Some(host)
            || self.extra.iter().any(|e| e == host)
        {
            return true;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => self.wide || ip == self.bound || is_local_ip(ip),
            Err(_) => false,
        }
    }
}

/// Loopback, private, link-local or unspecified (Ollama's local IP set).
pub fn is_local_ip(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfe80
        }
    }
}
