//! Who may talk to the proxy, checked before any route runs and before any upstream call:
//! a per-client rate limit (token bucket per address, preflights counted), the `Host` check
//! against DNS rebinding, the `Origin` allowlist with CORS (echoed origin, `Vary: Origin`,
//! preflights answered on every path), and the optional client token. Refusals are Ollama's
//! `{"error": "..."}` with 403, 401 or 429 (+ `Retry-After`). The rules follow real Ollama's
//! (`server/routes.go`, `envconfig`), stricter where the proxy spends someone's account.

use super::AppState;
use crate::config::Config;
use crate::error::Error;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

mod rules;

pub use rules::{host_of, Origins};

/// Methods a preflight may ask for (Ollama's list).
pub const ALLOW_METHODS: &str = "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS";
/// Headers a preflight may ask for (Ollama's list, canonical spelling).
pub const ALLOW_HEADERS: &str = "Authorization,Content-Type,User-Agent,Accept,X-Requested-With,\
Openai-Beta,X-Stainless-Arch,X-Stainless-Async,X-Stainless-Custom-Poll-Interval,\
X-Stainless-Helper-Method,X-Stainless-Lang,X-Stainless-Os,X-Stainless-Package-Version,\
X-Stainless-Poll-Helper,X-Stainless-Retry-Count,X-Stainless-Runtime,\
X-Stainless-Runtime-Version,X-Stainless-Timeout";
/// How long browsers may cache a preflight answer, seconds.
pub const MAX_AGE: &str = "43200";

/// How often (in checks) idle rate-limit buckets are dropped.
const PRUNE_EVERY: u64 = 4096;

/// The policy, built once from the configuration.
pub struct Guard {
    origins: Origins,
    hosts: rules::Hosts,
    token: Option<[u8; 32]>,
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    checks: AtomicU64,
}

/// What the `Origin` header means for one request.
enum Cors {
    /// No `Origin`, or same-origin: no CORS headers.
    None,
    /// An allowed cross-origin request: echo this origin.
    Allowed(HeaderValue),
    /// A refused origin.
    Forbidden(String),
}

impl Guard {
    /// The policy for `config`. Invalid extra origins or hosts are skipped with a warning
    /// (the CLI and the app validate them before).
    pub fn new(config: &Config) -> Self {
        let limiter = config.rate_limit.and_then(NonZeroU32::new).map(|rate| {
            let burst = config.rate_burst.and_then(NonZeroU32::new).unwrap_or(rate);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Guard {
            origins: Origins::new(&config.cors_origins),
            hosts: rules::Hosts::new(config.listen.ip(), &config.allowed_hosts),
            token: config
                .client_token
                .as_ref()
                .map(|t| digest(t.expose_secret().as_bytes())),
            limiter,
            checks: AtomicU64::new(0),
        }
    }

    /// Seconds to wait when `peer` is over its rate, counting this request.
    fn over_rate(&self, peer: IpAddr) -> Option<u64> {
        let limiter = self.limiter.as_ref()?;
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let denied = limiter.check_key(&bucket(peer)).err()?;
        let wait = denied.wait_time_from(limiter.clock().now());
        Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).map(|s| s.max(1))
    }

    fn cors(&self, headers: &HeaderMap, host: &str) -> Cors {
        let Some(value) = headers.get(header::ORIGIN) else {
            return Cors::None;
        };
        let Ok(origin) = value.to_str() else {
            return Cors::Forbidden(String::from_utf8_lossy(value.as_bytes()).into_owned());
        };
        if self.origins.allows(origin) {
            Cors::Allowed(value.clone())
        } else if rules::same_origin(origin, host) {
            Cors::None
        } else {
            Cors::Forbidden(origin.to_string())
        }
    }

    fn token_ok(&self, req: &Request) -> bool {
        let Some(want) = &self.token else { return true };
        if req.uri().path() == "/" && matches!(*req.method(), Method::GET | Method::HEAD) {
            return true;
        }
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| digest(token.trim().as_bytes()));
        given.is_some_and(|g| crate::cache::crypto::ct_eq(&g, want))
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The rate-limit bucket of a peer: its IPv4 address, or its IPv6 /64 (one host's usual share).
fn bucket(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) if !v6.is_loopback() => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        other => other,
    }
}

/// The middleware: refuses what the policy forbids, answers preflights, adds CORS headers.
pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let guard = &state.guard;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let host = host_of(&req);
    let cors = guard.cors(req.headers(), host.as_deref().unwrap_or(""));
    if let Some(secs) = guard.over_rate(peer) {
        return with_cors(Error::RateLimited(secs).into_response(), &cors);
    }
    if !host.as_deref().is_some_and(|h| guard.hosts.allows(h)) {
        let shown = req
            .headers()
            .get(header::HOST)
            .map(|h| h.as_bytes())
            .unwrap_or_default();
        let shown = String::from_utf8_lossy(shown);
        let msg = format!("host {shown:?} is not allowed: add it to the allowed hosts");
        return Error::Forbidden(msg).into_response();
    }
    match &cors {
        Cors::Forbidden(origin) => {
            let msg = format!("origin {origin:?} is not allowed: add it to the allowed origins");
            return Error::Forbidden(msg).into_response();
        }
        Cors::Allowed(origin) if is_preflight(&req) => return preflight(origin),
        _ => {}
    }
    if !guard.token_ok(&req) {
        let mut resp = Error::Unauthorized(
            "unauthorized: this proxy needs its client token (Authorization: Bearer <token>)"
                .into(),
        )
        .into_response();
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return with_cors(resp, &cors);
    }
    with_cors(next.run(req).await, &cors)
}

fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

fn preflight(origin: &HeaderValue) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
    for v in [
        "Origin",
        "Access-Control-Request-Method",
        "Access-Control-Request-Headers",
    ] {
        h.append(header::VARY, HeaderValue::from_static(v));
    }
    resp
}

fn with_cors(mut resp: Response, cors: &Cors) -> Response {
    if let Cors::Allowed(origin) = cors {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

#[cfg(test)]
mod tests;
