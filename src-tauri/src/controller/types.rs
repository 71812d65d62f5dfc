//! The shapes the window sends and receives through the controller: sign-in requests (secrets
//! redacted in `Debug`), results, the credentials status (never the secret) and settings
//! patches, with their validation.

use crate::error::CommandError;
use crate::settings::{check_origin, AuthMethod, Settings};
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
    pub(super) fn apply(self, current: &Settings) -> Result<Settings, CommandError> {
        let mut next = current.clone();
        if let Some(host) = self.host {
            next.host = host.trim().to_string();
        }
        if let Some(port) = self.port {
            next.port = port;
        }
        if let Some(origins) = self.cors_origins {
            next.cors_origins = origins
                .iter()
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Some(auto) = self.start_proxy_on_launch {
            next.start_proxy_on_launch = auto;
        }
        next.listen()?;
        next.cors_origins.iter().try_for_each(|o| check_origin(o))?;
        Ok(next)
    }
}
