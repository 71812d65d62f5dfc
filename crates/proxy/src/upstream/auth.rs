//! Signing in to Open WebUI and keeping a valid bearer token: password sign-in or an API key,
//! the token held in memory with its expiry, renewed shortly before it ends, and re-obtained
//! once after a 401. Concurrent requests share one sign-in (single-flight), run detached from
//! any client so a disconnect cannot abort it. Definitive refusals are remembered for a short
//! back-off: Open WebUI counts every sign-in (15 per 3 minutes per account).

use crate::credentials::Credentials;
use crate::events::{EventSink, ProxyEvent};
use crate::openai::{error_message, SigninResponse};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why no usable token could be had. Messages are for people; `kind()` is for code.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum AuthError {
    /// Wrong email or password.
    #[error("Open WebUI rejected the email or password")]
    WrongCredentials,
    /// The account awaits an administrator's approval.
    #[error("the Open WebUI account is pending approval: ask an administrator to activate it")]
    Pending,
    /// The account needs a second factor; only an API key can work.
    #[error("the account uses two-factor sign-in: create an API key in Open WebUI (Settings → Account) and use it instead")]
    MfaRequired,
    /// Password sign-in is turned off on the server (SSO only).
    #[error("password sign-in is disabled on this Open WebUI server: use an API key instead")]
    PasswordLoginDisabled,
    /// Too many sign-ins for this account.
    #[error("Open WebUI refused more sign-ins for now (rate limit): wait a few minutes")]
    RateLimited,
    /// The API key is unknown or revoked.
    #[error("Open WebUI rejected the API key (unknown or revoked): {0}")]
    ApiKeyRejected(String),
    /// API keys are disabled or not permitted for this user or endpoint.
    #[error("Open WebUI does not allow this API key here: {0} (an administrator must enable API keys for your account)")]
    ApiKeyNotAllowed(String),
    /// A fresh session was refused too (no permission, or the user was removed).
    #[error("Open WebUI refused a fresh session: {0}")]
    SessionRejected(String),
    /// The address does not answer like Open WebUI.
    #[error("the address does not answer like an Open WebUI server ({0}): check the URL")]
    NotOpenWebUi(String),
    /// Network failure.
    #[error("cannot reach Open WebUI: {0}")]
    Unreachable(String),
    /// No answer in time.
    #[error("Open WebUI did not answer the sign-in in time")]
    Timeout,
    /// Any other refusal.
    #[error("sign-in failed ({status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Server's message.
        message: String,
    },
}

impl AuthError {
    /// A snake_case code for UIs and events.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthError::WrongCredentials => "wrong_credentials",
            AuthError::Pending => "account_pending",
            AuthError::MfaRequired => "mfa_required",
            AuthError::PasswordLoginDisabled => "password_login_disabled",
            AuthError::RateLimited => "rate_limited",
            AuthError::ApiKeyRejected(_) => "api_key_invalid",
            AuthError::ApiKeyNotAllowed(_) => "api_keys_disabled",
            AuthError::SessionRejected(_) => "permission_denied",
            AuthError::NotOpenWebUi(_) => "not_open_webui",
            AuthError::Unreachable(_) => "upstream_unreachable",
            AuthError::Timeout => "upstream_timeout",
            AuthError::Rejected { .. } => "sign_in_failed",
        }
    }

    /// How long to keep answering with this error before trying again.
    fn backoff(&self) -> Duration {
        match self {
            AuthError::Unreachable(_) | AuthError::Timeout => Duration::from_secs(1),
            AuthError::RateLimited => Duration::from_secs(60),
            _ => Duration::from_secs(15),
        }
    }
}

/// A bearer token and what is known about it.
#[derive(Debug)]
pub struct Token {
    /// The bearer value (JWT or API key).
    pub bearer: SecretString,
    /// When it stops working, if known.
    pub expires_at: Option<SystemTime>,
    /// When it was obtained.
    pub obtained_at: SystemTime,
    /// Account role, if known.
    pub role: Option<String>,
}

impl Token {
    /// True when the token should be renewed before use: within a margin of its expiry that
    /// scales with its lifetime (a tenth, at most five minutes).
    pub fn needs_renewal(&self, now: SystemTime) -> bool {
        let Some(exp) = self.expires_at else {
            return false;
        };
        let lifetime = exp.duration_since(self.obtained_at).unwrap_or_default();
        let margin = (lifetime / 10).min(Duration::from_secs(300));
        now + margin >= exp
    }
}

/// Keeps a session token between runs (the encrypted disk cache). Implementations log their
/// own failures; persisting never fails a sign-in.
pub trait TokenStore: Send + Sync {
    /// Saves a freshly obtained session token.
    fn save(&self, token: &Token);
    /// Forgets the saved token (Open WebUI refused it).
    fn forget(&self);
}

/// Sign-in state shared by all requests.
pub struct Auth {
    creds: Credentials,
    signin_url: String,
    http: reqwest::Client,
    timeout: Duration,
    current: RwLock<Option<Arc<Token>>>,
    refresh: tokio::sync::Mutex<()>,
    failure: Mutex<Option<(Instant, AuthError)>>,
    events: EventSink,
    persist: OnceLock<Arc<dyn TokenStore>>,
}

impl Auth {
    /// Sign-in state for these credentials; nothing is sent yet.
    pub fn new(
        creds: Credentials,
        signin_url: String,
        http: reqwest::Client,
        timeout: Duration,
        events: EventSink,
    ) -> Self {
        let current = match &creds {
            Credentials::ApiKey(k) => Some(Arc::new(Token {
                bearer: SecretString::from(k.expose_secret()),
                expires_at: None,
                obtained_at: SystemTime::now(),
                role: None,
            })),
            Credentials::Password { .. } => None,
        };
        Auth {
            creds,
            signin_url,
            http,
            timeout,
            current: RwLock::new(current),
            refresh: tokio::sync::Mutex::new(()),
            failure: Mutex::new(None),
            events,
            persist: OnceLock::new(),
        }
    }

    /// The credentials in use.
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// True for API-key credentials (never re-signed-in).
    pub fn is_api_key(&self) -> bool {
        matches!(self.creds, Credentials::ApiKey(_))
    }

    /// The token now held, if any (for persisting it).
    pub fn current(&self) -> Option<Arc<Token>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Adopts a token obtained earlier (e.g. from the encrypted disk cache).
    pub fn adopt(&self, token: Token) {
        if !self.is_api_key() {
            *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(token));
        }
    }

    /// Saves every new session token to `store` from now on (password sign-in only; set once).
    pub fn persist_with(&self, store: Arc<dyn TokenStore>) {
        if !self.is_api_key() {
            let _ = self.persist.set(store);
        }
    }

    /// A usable token, signing in when there is none or it is about to expire.
    pub async fn token(self: &Arc<Self>) -> Result<Arc<Token>, AuthError> {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let _guard = self.refresh.lock().await;
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        if let Some(e) = self.recent_failure() {
            return Err(e);
        }
        // The sign-in and its bookkeeping run detached: a client that disconnects meanwhile
        // drops only its wait, and the token still serves the requests after it.
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let result = me.sign_in().await;
            me.record(result)
        })
        .await
        .unwrap_or_else(|e| Err(AuthError::Unreachable(format!("sign-in task failed: {e}"))))
    }

    /// Forgets `seen` after the server refused it, so the next [`Auth::token`] signs in again.
    /// A token already replaced by another request is left alone.
    pub fn invalidate(&self, seen: &Arc<Token>) {
        let forgot = {
            let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
            let same = cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, seen));
            if same {
                *cur = None;
            }
            same
        };
        if let Some(p) = self.persist.get().filter(|_| forgot) {
            p.forget();
        }
    }

    /// Reports a refusal of a request made with an API key (401/403).
    pub fn report(&self, err: &AuthError) {
        self.events.send(ProxyEvent::AuthFailed {
            kind: err.kind(),
            message: err.to_string(),
        });
    }

    fn fresh(&self) -> Option<Arc<Token>> {
        let cur = self.current.read().unwrap_or_else(|e| e.into_inner());
        cur.as_ref()
            .filter(|t| !t.needs_renewal(SystemTime::now()))
            .cloned()
    }

    fn recent_failure(&self) -> Option<AuthError> {
        let f = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        f.as_ref()
            .filter(|(at, e)| at.elapsed() < e.backoff())
            .map(|(_, e)| e.clone())
    }

    fn record(&self, result: Result<Token, AuthError>) -> Result<Arc<Token>, AuthError> {
        match result {
            Ok(token) => {
                let token = Arc::new(token);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
                *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
                if let Some(p) = self.persist.get() {
                    p.save(&token);
                }
                self.events.send(ProxyEvent::SignedIn {
                    email: self.creds.email().map(str::to_string),
                    role: token.role.clone(),
                });
                Ok(token)
            }
            Err(e) => {
                tracing::warn!(kind = e.kind(), error = %e, "signing in to Open WebUI failed");
                self.report(&e);
                *self.failure.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    async fn sign_in(&self) -> Result<Token, AuthError> {
        let Credentials::Password { email, password } = &self.creds else {
            return Err(AuthError::ApiKeyRejected("the API key was refused".into()));
        };
        self.events.send(ProxyEvent::SigningIn);
        let body = serde_json::json!({"email": email, "password": password.expose_secret()});
        let send = self.http.post(&self.signin_url).json(&body).send();
        let resp = tokio::time::timeout(self.timeout, send)
            .await
            .map_err(|_| AuthError::Timeout)?
            .map_err(|e| AuthError::Unreachable(crate::upstream::client::describe(&e)))?;
        let status = resp.status().as_u16();
        let is_json = crate::upstream::client::is_json(resp.headers());
        let bytes = tokio::time::timeout(self.timeout, resp.bytes())
            .await
            .map_err(|_| AuthError::Timeout)?
            .map_err(|e| AuthError::Unreachable(e.to_string()))?;
        parse_signin(status, is_json, &bytes)
    }
}

/// Interprets a sign-in reply.
pub fn parse_signin(status: u16, is_json: bool, body: &[u8]) -> Result<Token, AuthError> {
    if !is_json {
        return Err(AuthError::NotOpenWebUi(format!(
            "sign-in answered {status} without JSON"
        )));
    }
    let message = || error_message(body).unwrap_or_default();
    match status {
        200 => {}
        400 | 401 => return Err(AuthError::WrongCredentials),
        403 => return Err(AuthError::PasswordLoginDisabled),
        404 | 405 => {
            return Err(AuthError::NotOpenWebUi(format!(
                "sign-in answered {status}"
            )))
        }
        429 => return Err(AuthError::RateLimited),
        _ => {
            return Err(AuthError::Rejected {
                status,
                message: message(),
            })
        }
    }
    let r: SigninResponse = serde_json::from_slice(body)
        .map_err(|e| AuthError::NotOpenWebUi(format!("unexpected sign-in reply: {e}")))?;
    let Some(token) = r.token.filter(|t| !t.is_empty()) else {
        return Err(if r.next_step.is_some() {
            AuthError::MfaRequired
        } else {
            AuthError::NotOpenWebUi("the sign-in reply has no token".into())
        });
    };
    if r.role.as_deref() == Some("pending") {
        return Err(AuthError::Pending);
    }
    let expires_at = r
        .expires_at
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| UNIX_EPOCH + Duration::from_secs_f64(s));
    Ok(Token {
        bearer: SecretString::from(token),
        expires_at,
        obtained_at: SystemTime::now(),
        role: r.role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signin_replies_are_classified() {
        let ok = br#"{"token":"jwt","token_type":"Bearer","expires_at":4102444800,"role":"user"}"#;
        let t = parse_signin(200, true, ok).unwrap();
        assert_eq!(t.bearer.expose_secret(), "jwt");
        assert_eq!(t.role.as_deref(), Some("user"));
        assert!(t.expires_at.is_some());
        let never = br#"{"token":"jwt","expires_at":null,"role":"admin"}"#;
        assert!(parse_signin(200, true, never).unwrap().expires_at.is_none());
        let zero = br#"{"token":"jwt","expires_at":0,"role":"admin"}"#;
        assert!(parse_signin(200, true, zero).unwrap().expires_at.is_none());
        let cases: [(u16, bool, &[u8], AuthError); 6] = [
            (
                400,
                true,
                br#"{"detail":"The email or password provided is incorrect."}"#,
                AuthError::WrongCredentials,
            ),
            (
                200,
                true,
                br#"{"token":"jwt","role":"pending"}"#,
                AuthError::Pending,
            ),
            (
                200,
                true,
                br#"{"next_step":{"type":"mfa"}}"#,
                AuthError::MfaRequired,
            ),
            (
                403,
                true,
                br#"{"detail":"restricted"}"#,
                AuthError::PasswordLoginDisabled,
            ),
            (
                429,
                true,
                br#"{"detail":"API rate limit exceeded"}"#,
                AuthError::RateLimited,
            ),
            (
                200,
                false,
                b"<!doctype html>",
                AuthError::NotOpenWebUi("sign-in answered 200 without JSON".into()),
            ),
        ];
        for (status, json, body, want) in cases {
            assert_eq!(parse_signin(status, json, body).err(), Some(want));
        }
    }

    #[test]
    fn renewal_margin_scales_with_lifetime() {
        let now = SystemTime::now();
        let t = |life: u64, age: u64| Token {
            bearer: SecretString::from("x"),
            expires_at: Some(now - Duration::from_secs(age) + Duration::from_secs(life)),
            obtained_at: now - Duration::from_secs(age),
            role: None,
        };
        assert!(
            !t(20, 0).needs_renewal(now),
            "a 20 s token is usable when new"
        );
        assert!(t(20, 19).needs_renewal(now));
        assert!(!t(4 * 7 * 86400, 86400).needs_renewal(now));
        assert!(t(4 * 7 * 86400, 4 * 7 * 86400 - 200).needs_renewal(now));
        let forever = Token {
            expires_at: None,
            ..t(1, 0)
        };
        assert!(!forever.needs_renewal(now));
    }

    #[test]
    fn error_kinds_are_snake_case() {
        for e in [
            AuthError::WrongCredentials,
            AuthError::Pending,
            AuthError::Timeout,
        ] {
            assert!(e.kind().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }
}
