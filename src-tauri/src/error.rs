//! The one error type the shell hands to the window: [`CommandError`] `{kind, message}` with a
//! snake_case `kind` the UI branches on and a plain-words `message`. Also the mapping from the
//! core's errors (upstream, keychain, config) to those kinds. Never carries a secret.

use proxy::config::ConfigError;
use proxy::credentials::StoreError;
use proxy::upstream::{AuthError, UpstreamError};
use serde::Serialize;
use std::net::SocketAddr;

/// A failure reported to the UI, the tray and the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// Machine-readable cause, e.g. `port_in_use`, `wrong_credentials`, `tls_error`.
    pub kind: String,
    /// Plain-words explanation for people.
    pub message: String,
}

impl CommandError {
    /// An error of `kind` with `message`.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        CommandError {
            kind: kind.to_string(),
            message: message.into(),
        }
    }

    /// No server or no credentials are configured yet.
    pub fn not_signed_in() -> Self {
        Self::new(
            "not_signed_in",
            "sign in to an Open WebUI server first (Settings…)",
        )
    }

    /// The listen address is taken, typically by a real Ollama on 11434.
    pub fn port_in_use(addr: SocketAddr) -> Self {
        Self::new(
            "port_in_use",
            format!(
                "port {} on {} is already in use (is Ollama or another proxy running?): choose another port",
                addr.port(),
                addr.ip()
            ),
        )
    }

    /// A setting that cannot be used.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::new("invalid_config", message)
    }

    /// Something failed inside the app.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("internal", message)
    }
}

impl From<ConfigError> for CommandError {
    fn from(e: ConfigError) -> Self {
        Self::invalid_config(e.to_string())
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => Self::new(
                "keychain_unavailable",
                format!(
                    "no system keychain is available to keep your password or API key ({detail}); \
                     on Linux install and unlock a Secret Service keyring such as GNOME Keyring \
                     or KWallet. Nothing was saved"
                ),
            ),
            StoreError::Failed(detail) => Self::new(
                "keychain_error",
                format!("the system keychain refused: {detail}"),
            ),
        }
    }
}

impl From<UpstreamError> for CommandError {
    fn from(e: UpstreamError) -> Self {
        let kind = upstream_kind(&e);
        let message = proxy::Error::from(e).message();
        Self::new(kind, message)
    }
}

impl From<AuthError> for CommandError {
    fn from(e: AuthError) -> Self {
        Self::from(UpstreamError::Auth(e))
    }
}

/// The kind for an upstream failure: the core's kinds, refined where a person needs to act
/// differently (TLS trouble, a server that is not Open WebUI).
fn upstream_kind(e: &UpstreamError) -> &'static str {
    match e {
        UpstreamError::Unreachable(m) | UpstreamError::Auth(AuthError::Unreachable(m))
            if is_tls_problem(m) =>
        {
            "tls_error"
        }
        UpstreamError::Auth(a) => a.kind(),
        UpstreamError::Unreachable(_) => "upstream_unreachable",
        UpstreamError::Timeout(_) => "upstream_timeout",
        UpstreamError::Invalid(_) => "not_open_webui",
        UpstreamError::Status {
            status: 404 | 405, ..
        } => "not_open_webui",
        UpstreamError::Status { .. } | UpstreamError::TooLarge(_) => "upstream_error",
    }
}

/// True when a connection failure's description points at TLS (certificates, handshake).
fn is_tls_problem(description: &str) -> bool {
    let d = description.to_ascii_lowercase();
    ["certificate", "tls", "ssl", "handshake", "unknownissuer"]
        .iter()
        .any(|w| d.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_errors_map_to_ui_kinds() {
        let cases = [
            (
                UpstreamError::Unreachable("connection failed: refused".into()),
                "upstream_unreachable",
            ),
            (
                UpstreamError::Unreachable(
                    "connection failed: invalid peer certificate: UnknownIssuer".into(),
                ),
                "tls_error",
            ),
            (
                UpstreamError::Invalid("a web page".into()),
                "not_open_webui",
            ),
            (
                UpstreamError::Status {
                    status: 404,
                    message: "nf".into(),
                },
                "not_open_webui",
            ),
            (AuthError::WrongCredentials.into(), "wrong_credentials"),
            (AuthError::Pending.into(), "account_pending"),
            (
                AuthError::ApiKeyNotAllowed("no".into()).into(),
                "api_keys_disabled",
            ),
            (AuthError::NotOpenWebUi("x".into()).into(), "not_open_webui"),
        ];
        for (err, kind) in cases {
            assert_eq!(CommandError::from(err).kind, kind);
        }
    }

    #[test]
    fn keychain_unavailable_is_its_own_kind() {
        let e = CommandError::from(StoreError::Unavailable("no secret service".into()));
        assert_eq!(e.kind, "keychain_unavailable");
        assert!(e.message.contains("Nothing was saved"));
    }

    #[test]
    fn serializes_as_kind_and_message() {
        let v = serde_json::to_value(CommandError::not_signed_in()).unwrap();
        assert_eq!(v["kind"], "not_signed_in");
        assert!(v["message"].as_str().unwrap().contains("sign in"));
    }
}
