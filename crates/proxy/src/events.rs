//! Events the proxy reports to whoever hosts it (the tray app's status, notifications, logs).
//! Never carries a secret or a prompt.

use std::net::SocketAddr;
use tokio::sync::broadcast;

/// Something the host may want to show.
#[derive(Debug, Clone, PartialEq)]
pub enum ProxyEvent {
    /// Listening on this address.
    Started {
        /// Bound address.
        addr: SocketAddr,
    },
    /// The server stopped.
    Stopped,
    /// Signing in to Open WebUI.
    SigningIn,
    /// Signed in (or the API key was accepted).
    SignedIn {
        /// Account email, when known.
        email: Option<String>,
        /// Account role (`admin`, `user`, `pending`).
        role: Option<String>,
    },
    /// Sign-in failed; `kind` is a snake_case code (see [`crate::upstream::AuthError::kind`]).
    AuthFailed {
        /// Machine-readable cause.
        kind: &'static str,
        /// Plain-words explanation.
        message: String,
    },
    /// A request finished.
    RequestFinished {
        /// Path, e.g. `/api/chat`.
        path: String,
        /// HTTP status.
        status: u16,
    },
}

/// A cheap, cloneable sender; sending never blocks and never fails the caller.
#[derive(Debug, Clone)]
pub struct EventSink(broadcast::Sender<ProxyEvent>);

impl EventSink {
    /// A sink with room for `capacity` unread events per subscriber.
    pub fn new(capacity: usize) -> Self {
        EventSink(broadcast::channel(capacity.max(1)).0)
    }

    /// Publishes an event; dropped when nobody listens.
    pub fn send(&self, event: ProxyEvent) {
        let _ = self.0.send(event);
    }

    /// A new receiver of later events.
    pub fn subscribe(&self) -> broadcast::Receiver<ProxyEvent> {
        self.0.subscribe()
    }

    /// True when someone listens (skip building events nobody reads).
    pub fn has_listeners(&self) -> bool {
        self.0.receiver_count() > 0
    }
}

impl Default for EventSink {
    fn default() -> Self {
        EventSink::new(64)
    }
}
