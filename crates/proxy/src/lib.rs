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
//! - [`ollama`], [`openai`]: the two wire formats.
//! - [`translate`]: pure, synchronous mapping between them (requests, replies, streams, models).
//! - `upstream`: the pooled HTTP client, sign-in, SSE decoding.
//! - `server`: the axum router, handlers and middleware; [`router`] and [`serve`].

pub mod config;
pub mod credentials;
pub mod error;
pub mod events;
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
