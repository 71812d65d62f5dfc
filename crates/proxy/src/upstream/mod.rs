//! Talking to Open WebUI: the pooled HTTP client with its timeouts ([`client`]), sign-in and
//! token upkeep ([`auth`]), and the SSE decoder ([`sse`]). Knows nothing about Ollama.

pub mod auth;
pub mod client;
pub mod sse;

pub use auth::{Auth, AuthError};
pub use client::{Upstream, UpstreamError};
