//! Caches in front of Open WebUI: the model list (memory, served stale when the upstream is
//! down, refreshed in the background). Cache failures never reach a client.

pub mod models;

pub use models::{ModelCache, ModelSet};
