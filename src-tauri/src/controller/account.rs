//! The account and what is kept for it: sign-in (tested for real before anything is saved),
//! sign-out, "Clear data", and the client token (read for the clipboard, regenerated).

use super::run::check_account;
use super::{secrets, Controller, CredentialsStatus, Inner, SignInRequest, SignInResult};
use crate::error::CommandError;
use crate::settings::AuthMethod;
use crate::status::{AccountState, Status};
use proxy::config::{parse_upstream_url, Config};
use proxy::Credentials;
use secrecy::SecretString;
use url::Url;

impl Controller {
    /// Whether an account is set up (from the settings; the keychain is not touched).
    pub async fn credentials_status(&self) -> CredentialsStatus {
        let s = &self.inner.lock().await.settings;
        CredentialsStatus {
            configured: s.has_account(),
            method: s.auth_method,
            server: s.server.clone(),
            email: s.email.clone(),
        }
    }

    /// Tests the server and credentials for real, then keeps the secret in the keychain, saves
    /// the address and email, and (re)starts the proxy with them.
    pub async fn sign_in(&self, req: SignInRequest) -> Result<SignInResult, CommandError> {
        let url = parse_upstream_url(&req.server)?;
        let (creds, method) = req.credentials()?;
        let before = self.status().account;
        self.update(|s| s.account = AccountState::SigningIn);
        let result = self.sign_in_checked(url, creds, method).await;
        if result.is_err() {
            self.update(|s| {
                if s.account == AccountState::SigningIn {
                    s.account = before;
                }
            });
        }
        result
    }

    async fn sign_in_checked(
        &self,
        url: Url,
        creds: Credentials,
        method: AuthMethod,
    ) -> Result<SignInResult, CommandError> {
        let (models, role) = check_account(Config::new(url.clone()), creds.clone()).await?;
        let mut inner = self.inner.lock().await;
        let mut next = inner.settings.clone();
        next.server = Some(url.to_string());
        next.email = creds.email().map(str::to_string);
        next.auth_method = Some(method);
        secrets::store(&self.store, &inner.settings, &next, &creds).await?;
        self.save(&next)?;
        inner.settings = next;
        tracing::info!(server = %url, method = ?method, models = models.len(), "signed in");
        let email = creds.email().map(str::to_string);
        self.update(|s| {
            s.server = Some(url.to_string());
            s.email.clone_from(&email);
            s.role.clone_from(&role);
            s.account = AccountState::SignedIn;
            s.models = Some(models.len());
            s.problem = None;
        });
        self.stop_locked(&mut inner).await;
        if let Err(e) = self.start_locked(&mut inner, false).await {
            tracing::warn!(kind = %e.kind, error = %e, "signed in, but the proxy did not start");
        }
        Ok(SignInResult {
            models,
            email,
            role,
            status: self.status(),
        })
    }

    /// Stops the proxy and forgets the account: the password or API key, the client token and
    /// the cache key leave the keychain, the cache files are deleted. The server address and
    /// the proxy settings are kept. A deletion that fails is logged, not reported: the account
    /// is forgotten either way.
    pub async fn sign_out(&self) -> Result<Status, CommandError> {
        let mut inner = self.inner.lock().await;
        if let Err(e) = self.forget_locked(&mut inner, false).await {
            tracing::warn!(kind = %e.kind, error = %e, "signing out left something behind");
        }
        tracing::info!("signed out");
        Ok(self.status())
    }

    /// "Clear data": everything [`Controller::sign_out`] deletes, and the server address and
    /// email too; only the proxy settings (host, port, origins, limits, launch) stay. Unlike
    /// sign-out, a deletion that fails is reported.
    pub async fn clear_data(&self) -> Result<Status, CommandError> {
        let mut inner = self.inner.lock().await;
        self.forget_locked(&mut inner, true).await?;
        tracing::info!("cleared the keychain entries, the disk cache and the account");
        Ok(self.status())
    }

    /// Stops the proxy, deletes the secrets and cache files, then saves the settings without
    /// the account (and without the server when `server_too`), even when a deletion failed.
    async fn forget_locked(&self, inner: &mut Inner, server_too: bool) -> Result<(), CommandError> {
        self.stop_locked(inner).await;
        let cleared =
            secrets::clear_all(&self.store, &inner.settings, self.cache_dir.clone()).await;
        let mut next = inner.settings.clone();
        next.email = None;
        next.auth_method = None;
        if server_too {
            next.server = None;
        }
        self.save(&next)?;
        inner.settings = next;
        self.update(|s| {
            s.account = AccountState::SignedOut;
            s.email = None;
            s.role = None;
            s.models = None;
            s.problem = None;
            if server_too {
                s.server = None;
            }
        });
        cleared
    }

    /// The client token, for the shell to copy to the clipboard (it is never sent to the
    /// window). Made now if the keychain holds none; `invalid_config` when the token is off.
    pub async fn client_token(&self) -> Result<SecretString, CommandError> {
        let inner = self.inner.lock().await;
        if !inner.settings.require_client_token {
            return Err(token_off());
        }
        secrets::client_token(&self.store).await
    }

    /// Replaces the client token with a new one and restarts a running proxy with it: clients
    /// with the old token are refused from then on.
    pub async fn regenerate_client_token(&self) -> Result<Status, CommandError> {
        let mut inner = self.inner.lock().await;
        if !inner.settings.require_client_token {
            return Err(token_off());
        }
        secrets::new_client_token(&self.store).await?;
        if inner.running.is_some() {
            self.stop_locked(&mut inner).await;
            self.start_locked(&mut inner, false).await?;
        }
        Ok(self.status())
    }
}

fn token_off() -> CommandError {
    CommandError::invalid_config("turn on “Require a client token” first")
}
