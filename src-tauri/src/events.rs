//! What the tray process tells others: the event names the window listens to (forwarded over
//! [`crate::ipc`] and re-emitted by the window process), and when a refused sign-in is worth
//! a desktop notification.

use proxy::ProxyEvent;

/// The event the window listens to; the payload is a [`crate::status::Status`].
pub const STATUS_EVENT: &str = "proxy://status";

/// Sent when the tray changed "Start at login"; the payload is the new state (bool).
pub const AUTOSTART_EVENT: &str = "app://autostart";

/// Asks the window process to bring its window to the front (no payload).
pub const SHOW_EVENT: &str = "app://show";

/// Kinds that mean the credentials stopped working (worth a notification).
const CREDENTIAL_KINDS: [&str; 7] = [
    "wrong_credentials",
    "account_pending",
    "api_key_invalid",
    "api_keys_disabled",
    "permission_denied",
    "mfa_required",
    "password_login_disabled",
];

/// Notifies about a refused sign-in once until the next success: returns the message to show
/// (if any) and the new "notified".
pub fn notify_once(event: &ProxyEvent, notified: bool) -> (Option<String>, bool) {
    match event {
        ProxyEvent::SignedIn { .. } => (None, false),
        ProxyEvent::AuthFailed { kind, message } if CREDENTIAL_KINDS.contains(kind) => {
            let body = (!notified).then(|| format!("{message}. Open Settings… to sign in again."));
            (body, true)
        }
        _ => (None, notified),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_sign_in_notifies_once_until_the_next_success() {
        let failed = ProxyEvent::AuthFailed {
            kind: "wrong_credentials",
            message: "Wrong email or password".into(),
        };
        let (body, notified) = notify_once(&failed, false);
        assert!(body.unwrap().starts_with("Wrong email or password."));
        assert_eq!(notify_once(&failed, notified), (None, true));
        let other = ProxyEvent::AuthFailed {
            kind: "upstream_unreachable",
            message: "x".into(),
        };
        assert_eq!(notify_once(&other, false), (None, false));
    }
}
