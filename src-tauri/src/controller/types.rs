//! The shapes the window sends and receives through the controller: sign-in requests (secrets
//! redacted in `Debug`), results, the credentials status (never the secret) and settings
//! patches, with their validation.

use crate::error::CommandError;
use crate::settings::{self, AuthMethod, Settings, MAX_RATE};
use crate::status::Status;
use proxy::Credentials;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// What the window's "Sign in" sends. The secret is redacted in `Debug`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInRequest {
    /// The Open WebUI address as typed.
    pub server: String,
    /// Password or API key.
    pub method: AuthMethod,
    /// Account email (password method).
    #[serde(default)]
    pub email: Option<String>,
    /// Password (password method).
    #[serde(default)]
    pub password: Option<SecretString>,
    /// API key (API key method).
    #[serde(default)]
    pub api_key: Option<SecretString>,
}

/// A successful sign-in: what the window shows.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInResult {
    /// Model names, as Open WebUI lists them.
    pub models: Vec<String>,
    /// The account email, when signing in with a password.
    pub email: Option<String>,
    /// The account role.
    pub role: Option<String>,
    /// The app status after (re)starting the proxy.
    pub status: Status,
}

/// Whether an account is set up; never the secret itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsStatus {
    /// A server and an account method are saved.
    pub configured: bool,
    /// The method in use.
    pub method: Option<AuthMethod>,
    /// The Open WebUI address.
    pub server: Option<String>,
    /// The account email.
    pub email: Option<String>,
}

/// A change to the non-secret settings; absent fields stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SettingsPatch {
    /// Listen host.
    pub host: Option<String>,
    /// Listen port (0 picks a free one).
    pub port: Option<u16>,
    /// Extra allowed origins.
    pub cors_origins: Option<Vec<String>>,
    /// Extra `Host` names clients may use.
    pub allowed_hosts: Option<Vec<String>>,
    /// Requests per second per client (0 = off). A number as the window sends it, so a
    /// negative or fractional value is refused as `invalid_config`, not as a decoding error.
    pub rate_limit: Option<f64>,
    /// Burst size (0 = one second's worth).
    pub rate_burst: Option<f64>,
    /// Require the client token.
    pub require_client_token: Option<bool>,
    /// Start the proxy when the app starts.
    pub start_proxy_on_launch: Option<bool>,
}

impl SignInRequest {
    pub(super) fn credentials(&self) -> Result<(Credentials, AuthMethod), CommandError> {
        let filled = |s: &Option<SecretString>| {
            s.as_ref()
                .map(|v| v.expose_secret().trim().to_string())
                .filter(|v| !v.is_empty())
        };
        match self.method {
            AuthMethod::ApiKey => {
                let key = filled(&self.api_key)
                    .ok_or_else(|| CommandError::invalid_config("enter an API key (sk-…)"))?;
                Ok((
                    Credentials::ApiKey(SecretString::from(key)),
                    AuthMethod::ApiKey,
                ))
            }
            AuthMethod::Password => {
                let email = self
                    .email
                    .as_deref()
                    .map(str::trim)
                    .filter(|e| !e.is_empty());
                let password = self
                    .password
                    .as_ref()
                    .filter(|p| !p.expose_secret().is_empty());
                let (Some(email), Some(password)) = (email, password) else {
                    return Err(CommandError::invalid_config(
                        "enter the account email and password",
                    ));
                };
                let creds = Credentials::Password {
                    email: email.to_string(),
                    password: password.clone(),
                };
                Ok((creds, AuthMethod::Password))
            }
        }
    }
}

impl SettingsPatch {
    /// The settings with this patch applied, checked and normalised ([`settings::normalize`]).
    pub(super) fn apply(self, current: &Settings) -> Result<Settings, CommandError> {
        let mut next = current.clone();
        if let Some(host) = self.host {
            next.host = host;
        }
        if let Some(port) = self.port {
            next.port = port;
        }
        if let Some(origins) = self.cors_origins {
            next.cors_origins = origins;
        }
        if let Some(hosts) = self.allowed_hosts {
            next.allowed_hosts = hosts;
        }
        if let Some(rate) = self.rate_limit {
            next.rate_limit = count(rate, "rate limit")?;
        }
        if let Some(burst) = self.rate_burst {
            next.rate_burst = count(burst, "burst")?;
        }
        if let Some(required) = self.require_client_token {
            next.require_client_token = required;
        }
        if let Some(auto) = self.start_proxy_on_launch {
            next.start_proxy_on_launch = auto;
        }
        settings::normalize(next)
    }
}

/// A whole number of requests from 0 to [`MAX_RATE`].
fn count(value: f64, what: &str) -> Result<u32, CommandError> {
    if value.fract() == 0.0 && (0.0..=f64::from(MAX_RATE)).contains(&value) {
        // Checked above: a whole number in u32's range, so the cast is exact.
        Ok(value as u32)
    } else {
        Err(CommandError::invalid_config(format!(
            "the {what} must be a whole number from 0 (off) to {MAX_RATE}"
        )))
    }
}
