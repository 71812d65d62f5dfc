//! What the app shows about itself: [`Status`] (proxy running or not, account state, the last
//! problem) and how it reads in the tray ([`Status::look`], [`Status::summary`]). Pure data:
//! the controller writes it, the tray and the window read it. Never holds a secret.

use crate::error::CommandError;
use proxy::ProxyEvent;
use serde::Serialize;

/// Whether the proxy listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProxyState {
    /// Not listening.
    Stopped,
    /// Listening on [`Status::address`].
    Running,
}

/// Where the account stands with Open WebUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AccountState {
    /// No server or credentials configured.
    SignedOut,
    /// Configured but not checked yet in this run.
    NotChecked,
    /// A sign-in is under way.
    SigningIn,
    /// The last sign-in or model listing worked.
    SignedIn,
    /// The last sign-in failed (see [`Status::problem`]).
    Failed,
}

/// The app's state as the tray and the window show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Proxy running or stopped.
    pub proxy: ProxyState,
    /// The address clients use, e.g. `http://127.0.0.1:11434` (the configured one when stopped).
    pub address: String,
    /// Account state.
    pub account: AccountState,
    /// The Open WebUI address, once configured.
    pub server: Option<String>,
    /// The account email (password sign-in).
    pub email: Option<String>,
    /// The account role reported by Open WebUI.
    pub role: Option<String>,
    /// How many models the last listing returned.
    pub models: Option<usize>,
    /// The last problem, cleared by the next success.
    pub problem: Option<CommandError>,
}

/// The tray icon variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Proxy running, no problem.
    Running,
    /// Proxy stopped, no problem.
    Stopped,
    /// Signing in.
    Busy,
    /// A problem needs attention.
    Error,
}

impl Status {
    /// The initial state for a configured (or not) account, proxy stopped.
    pub fn initial(
        address: String,
        server: Option<String>,
        email: Option<String>,
        configured: bool,
    ) -> Self {
        Status {
            proxy: ProxyState::Stopped,
            address,
            account: if configured {
                AccountState::NotChecked
            } else {
                AccountState::SignedOut
            },
            server,
            email,
            role: None,
            models: None,
            problem: None,
        }
    }

    /// Which tray icon fits.
    pub fn look(&self) -> Look {
        if self.problem.is_some() {
            Look::Error
        } else if self.account == AccountState::SigningIn {
            Look::Busy
        } else if self.proxy == ProxyState::Running {
            Look::Running
        } else {
            Look::Stopped
        }
    }

    /// One line for the tray menu and tooltip.
    pub fn summary(&self) -> String {
        if let Some(p) = &self.problem {
            return match p.kind.as_str() {
                "port_in_use" => format!(
                    "Port in use: {} — choose another in Settings…",
                    self.port_text()
                ),
                _ => format!("Error: {}", first_clause(&p.message)),
            };
        }
        match (self.proxy, self.account) {
            (_, AccountState::SignedOut) => "Not signed in — open Settings…".to_string(),
            (_, AccountState::SigningIn) => "Signing in…".to_string(),
            (ProxyState::Running, _) => format!("Running on {}", self.address),
            (ProxyState::Stopped, _) => "Stopped".to_string(),
        }
    }

    fn port_text(&self) -> &str {
        self.address.rsplit(':').next().unwrap_or(&self.address)
    }

    /// Applies a core event; returns true when something visible changed.
    pub fn apply(&mut self, event: &ProxyEvent) -> bool {
        let before = self.clone();
        match event {
            ProxyEvent::SigningIn => self.account = AccountState::SigningIn,
            ProxyEvent::SignedIn { email, role } => {
                self.account = AccountState::SignedIn;
                if email.is_some() {
                    self.email.clone_from(email);
                }
                self.role.clone_from(role);
                self.problem = None;
            }
            ProxyEvent::AuthFailed { kind, message } => {
                self.account = AccountState::Failed;
                self.problem = Some(CommandError::new(kind, message.clone()));
            }
            ProxyEvent::Started { .. }
            | ProxyEvent::Stopped
            | ProxyEvent::RequestFinished { .. } => {}
        }
        *self != before
    }
}

/// The text up to the first colon: "cannot reach Open WebUI: connection refused" → "cannot reach Open WebUI".
fn first_clause(message: &str) -> &str {
    let cut = message
        .strip_prefix("signing in to Open WebUI failed: ")
        .unwrap_or(message);
    cut.split(": ").next().unwrap_or(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status::initial(
            "http://127.0.0.1:11434".into(),
            Some("http://h/".into()),
            None,
            true,
        )
    }

    #[test]
    fn look_and_summary_follow_state() {
        let mut s = status();
        assert_eq!((s.look(), s.summary().as_str()), (Look::Stopped, "Stopped"));
        s.proxy = ProxyState::Running;
        assert_eq!(s.look(), Look::Running);
        assert_eq!(s.summary(), "Running on http://127.0.0.1:11434");
        s.apply(&ProxyEvent::SigningIn);
        assert_eq!(
            (s.look(), s.summary().as_str()),
            (Look::Busy, "Signing in…")
        );
        s.problem = Some(CommandError::port_in_use(
            "127.0.0.1:11434".parse().unwrap(),
        ));
        assert_eq!(s.look(), Look::Error);
        assert!(s.summary().starts_with("Port in use: 11434"));
    }

    #[test]
    fn auth_events_set_and_clear_problems() {
        let mut s = status();
        let failed = ProxyEvent::AuthFailed {
            kind: "wrong_credentials",
            message: "signing in to Open WebUI failed: Open WebUI rejected the email or password"
                .into(),
        };
        assert!(s.apply(&failed));
        assert_eq!(s.account, AccountState::Failed);
        assert_eq!(
            s.summary(),
            "Error: Open WebUI rejected the email or password"
        );
        let ok = ProxyEvent::SignedIn {
            email: Some("a@b.c".into()),
            role: Some("user".into()),
        };
        assert!(s.apply(&ok));
        assert_eq!(
            (s.account, s.problem.as_ref()),
            (AccountState::SignedIn, None)
        );
        assert!(!s.apply(&ok), "no change, no update");
        assert!(!s.apply(&ProxyEvent::RequestFinished {
            path: "/api/tags".into(),
            status: 200
        }));
    }

    #[test]
    fn serializes_camel_case() {
        let v = serde_json::to_value(status()).unwrap();
        assert_eq!(v["proxy"], "stopped");
        assert_eq!(v["account"], "notChecked");
        assert!(v.get("problem").is_some());
    }
}
