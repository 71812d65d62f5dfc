//! The app's secrets in the [`SecretStore`]: the account's password or API key (its entry
//! name, reading it into the core's [`Credentials`], writing it after a successful sign-in),
//! the disk cache key, the client token, and deleting all of them with the cache files.
//! Keychain calls run on the blocking pool (they may wait for an unlock prompt). Nothing here
//! logs a secret; the client token leaves only as a [`SecretString`].

use crate::error::CommandError;
use crate::settings::{AuthMethod, Settings};
use proxy::cache::{CacheKey, ClearError};
use proxy::credentials::{names, SecretStore, StoreError};
use proxy::Credentials;
use rand::RngCore;
use secrecy::SecretString;
use std::path::PathBuf;
use std::sync::Arc;

/// Random bytes in a client token (64 hex characters).
const TOKEN_BYTES: usize = 32;

/// The keychain entry for the account in `settings`.
pub(super) fn secret_name(settings: &Settings) -> Option<String> {
    match (&settings.server, settings.auth_method, &settings.email) {
        (Some(server), Some(AuthMethod::Password), Some(email)) => {
            Some(names::password(server, email))
        }
        (Some(server), Some(AuthMethod::ApiKey), _) => Some(names::api_key(server)),
        _ => None,
    }
}

/// The credentials for the account in `settings`, read from the store.
pub(super) async fn load(
    store: &Arc<dyn SecretStore>,
    settings: &Settings,
) -> Result<Credentials, CommandError> {
    let name = secret_name(settings).ok_or_else(CommandError::not_signed_in)?;
    let store = store.clone();
    let secret = blocking(move || store.get(&name)).await?.ok_or_else(|| {
        CommandError::new(
            "not_signed_in",
            "the keychain holds no password or API key for this account: sign in again",
        )
    })?;
    Ok(match (settings.auth_method, &settings.email) {
        (Some(AuthMethod::Password), Some(email)) => Credentials::Password {
            email: email.clone(),
            password: secret,
        },
        _ => Credentials::ApiKey(secret),
    })
}

/// Keeps the secret of `creds` under the entry for `new`, and removes the entry `old` used
/// when it differs (another server, email or method).
pub(super) async fn store(
    store: &Arc<dyn SecretStore>,
    old: &Settings,
    new: &Settings,
    creds: &Credentials,
) -> Result<(), CommandError> {
    let name = secret_name(new).ok_or_else(CommandError::not_signed_in)?;
    let value = match creds {
        Credentials::Password { password, .. } => password.clone(),
        Credentials::ApiKey(key) => key.clone(),
    };
    let stale = secret_name(old).filter(|n| *n != name);
    let store = store.clone();
    blocking(move || {
        store.set(&name, &value)?;
        if let Some(stale) = stale {
            store.delete(&stale)?;
        }
        Ok(())
    })
    .await
}

/// The disk cache key (made on first use), or `None` when the keychain cannot keep one: the
/// proxy then runs without a disk cache, which is said in the log and is not an error.
pub(super) async fn cache_key(store: &Arc<dyn SecretStore>) -> Option<CacheKey> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || CacheKey::from_store(&*store)).await {
        Ok(Ok(key)) => Some(key),
        Ok(Err(e)) => {
            tracing::info!(error = %e, "no keychain for the disk cache key: running without a disk cache (nothing is kept on disk)");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "keychain task failed: running without a disk cache");
            None
        }
    }
}

/// The client token from the store; one is made and stored when there is none.
pub(super) async fn client_token(
    store: &Arc<dyn SecretStore>,
) -> Result<SecretString, CommandError> {
    let reader = store.clone();
    match blocking(move || reader.get(names::CLIENT_TOKEN)).await? {
        Some(token) => Ok(token),
        None => new_client_token(store).await,
    }
}

/// Makes a new client token from the OS random source and stores it (replacing any).
pub(super) async fn new_client_token(
    store: &Arc<dyn SecretStore>,
) -> Result<SecretString, CommandError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = SecretString::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    bytes.fill(0);
    let (store, value) = (store.clone(), token.clone());
    blocking(move || store.set(names::CLIENT_TOKEN, &value)).await?;
    tracing::info!("made a new client token");
    Ok(token)
}

/// Deletes every secret the app keeps (the password or API key of `settings`, the client
/// token, the cache key) and the cache files in `cache_dir`. Tries everything, then reports
/// the first failure; a keychain that is not there holds nothing, so that is not a failure.
pub(super) async fn clear_all(
    store: &Arc<dyn SecretStore>,
    settings: &Settings,
    cache_dir: Option<PathBuf>,
) -> Result<(), CommandError> {
    let mut entries: Vec<String> = secret_name(settings).into_iter().collect();
    entries.push(names::CLIENT_TOKEN.to_string());
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut results: Vec<Result<(), CommandError>> =
            entries.iter().map(|n| absent_ok(store.delete(n))).collect();
        match proxy::cache::clear_data(cache_dir.as_deref(), &*store) {
            Ok(()) => {}
            Err(ClearError::Keychain(e)) => results.push(absent_ok(Err(e))),
            Err(e @ ClearError::Files { .. }) => {
                // The core stops at the files; the key must go anyway.
                results.push(Err(CommandError::internal(e.to_string())));
                results.push(absent_ok(store.delete(names::CACHE_KEY)));
            }
        }
        results.into_iter().collect::<Result<(), _>>()
    })
    .await
    .map_err(|e| CommandError::internal(format!("keychain task failed: {e}")))?
}

/// A deletion's result, where "no keychain" counts as done (it cannot hold anything).
fn absent_ok(result: Result<(), StoreError>) -> Result<(), CommandError> {
    match result {
        Err(StoreError::Unavailable(detail)) => {
            tracing::info!(%detail, "no keychain: no secret to delete there");
            Ok(())
        }
        other => other.map_err(CommandError::from),
    }
}

/// Runs a keychain call off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, CommandError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CommandError::internal(format!("keychain task failed: {e}")))?
        .map_err(CommandError::from)
}
