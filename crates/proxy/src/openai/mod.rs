//! Upstream wire types: Open WebUI's OpenAI-style API (chat completions, models, embeddings,
//! sign-in, errors). Depends on serde alone; no I/O.

mod chat;
mod misc;

pub use chat::*;
pub use misc::*;
