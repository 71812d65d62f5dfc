//! The core of the Open WebUI → Ollama proxy: serves the Ollama HTTP API and translates every
//! call to Open WebUI's OpenAI-style API. No desktop dependency: the headless binary and the
//! tray app run this same code.
//!
//! # Layout
//! - [`config`]: what a user writes (flags, env, settings file) → a validated [`Config`].
//! - [`error`]: the top-level [`Error`], classified by who is at fault, rendered as Ollama's
//!   `{"error": "..."}`.
//! - [`credentials`]: [`SecretStore`] (OS keychain, memory) and the [`Credentials`] it yields.
//! - [`events`]: [`ProxyEvent`]s for whoever hosts the proxy (status, sign-in failures).
//! - [`memory`]: allocator tuning for the programs that host the proxy.
//! - [`ollama`], [`openai`]: the two wire formats.
//! - [`translate`]: pure, synchronous mapping between them (requests, replies, streams, models).
//! - `upstream`: the pooled HTTP client, sign-in, SSE decoding.
//! - `cache`: the model list (memory → encrypted disk → upstream), `/api/show` replies, the
//!   saved session, and the AES-256-GCM envelope with its keychain-held key.
//! - `server`: the axum router, handlers, the guard (host, origin, client token, rate limit)
//!   and the accept loop; [`router`] and [`serve`].

pub mod config;
pub mod credentials;
pub mod error;
pub mod events;
pub mod memory;
pub mod ollama;
pub mod openai;
pub mod translate;
pub mod upstream;

pub use config::Config;
pub use credentials::{Credentials, MemoryStore, SecretStore};
pub use error::Error;
pub use events::ProxyEvent;
pub mod cache;
pub mod server;

pub use server::{router, serve, AppState};
