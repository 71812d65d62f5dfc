//! The account's secret in the [`SecretStore`]: its entry name, reading it into the core's
//! [`Credentials`], writing it after a successful sign-in. Keychain calls run on the blocking
//! pool (they may wait for an unlock prompt). Nothing here logs or returns a secret.

use crate::error::CommandError;
use crate::settings::{AuthMethod, Settings};
use proxy::credentials::{names, SecretStore, StoreError};
use proxy::Credentials;
use std::sync::Arc;

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

/// Removes the entry for the account in `settings`, if any.
pub(super) async fn forget(
    store: &Arc<dyn SecretStore>,
    settings: &Settings,
) -> Result<(), CommandError> {
    let Some(name) = secret_name(settings) else {
        return Ok(());
    };
    let store = store.clone();
    blocking(move || store.delete(&name)).await
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
