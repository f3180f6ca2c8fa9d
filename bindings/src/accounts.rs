//! Sign-in, sign-out and the accounts' states.

use std::sync::Arc;

use roger_core::accounts::Accounts;
use roger_core::auth::AuthState;
use roger_core::secret::Secret;

use crate::error::RogerError;
use crate::model::RegionInfo;
use crate::runtime::run;

/// Listens to an account's state (signed in, signed out and why).
#[uniffi::export(with_foreign)]
pub trait AuthStateListener: Send + Sync {
    /// The state changed (also called once with the current state).
    fn on_change(&self, state: AuthState);
}

/// The user's Roger and Microsoft (OneDrive) accounts.
#[derive(uniffi::Object)]
pub struct AccountsApi {
    accounts: Arc<Accounts>,
}

impl AccountsApi {
    pub(crate) fn new(accounts: Arc<Accounts>) -> Self {
        Self { accounts }
    }
}

#[uniffi::export]
impl AccountsApi {
    /// The regions to choose from (cached; fetched when stale).
    pub async fn regions(&self) -> Result<Vec<RegionInfo>, RogerError> {
        let a = self.accounts.clone();
        run(async move { Ok(a.regions().await?.into_iter().map(Into::into).collect()) }).await
    }

    /// Starts a Roger sign-in (authorization code + PKCE); returns the URL to open in the
    /// system browser (Custom Tabs, ASWebAuthenticationSession). `region` may be left out when
    /// the configuration fixes one or only one exists.
    pub async fn begin_sign_in(&self, region: Option<String>) -> Result<String, RogerError> {
        let a = self.accounts.clone();
        run(async move { Ok(a.begin_sign_in(region.as_deref()).await?.to_string()) }).await
    }

    /// Starts the Microsoft sign-in that links OneDrive; returns the URL to open.
    pub async fn begin_microsoft_sign_in(&self) -> Result<String, RogerError> {
        let a = self.accounts.clone();
        run(async move { Ok(a.begin_microsoft_sign_in().await?.to_string()) }).await
    }

    /// Completes the sign-in with the redirect URI the browser returned to (either provider).
    pub async fn complete_sign_in(&self, redirect: String) -> Result<AuthState, RogerError> {
        let a = self.accounts.clone();
        run(async move { Ok(a.complete_sign_in(&redirect).await?) }).await
    }

    /// Signs in to Roger with a password, where the tenant allows this legacy grant. The
    /// password is wiped from memory once sent.
    pub async fn sign_in_with_password(
        &self,
        region: Option<String>,
        username: String,
        password: String,
    ) -> Result<AuthState, RogerError> {
        let a = self.accounts.clone();
        let password = Secret::new(password);
        run(async move {
            Ok(
                a.sign_in_with_password(region.as_deref(), &username, password)
                    .await?,
            )
        })
        .await
    }

    /// Signs out of both accounts: the tokens are wiped from the store at once, then revoked at
    /// the servers in the background.
    pub async fn sign_out(&self) -> Result<(), RogerError> {
        let a = self.accounts.clone();
        run(async move {
            a.sign_out().await?;
            Ok(())
        })
        .await
    }

    /// The Roger account's state now.
    pub fn roger_state(&self) -> AuthState {
        self.accounts.roger().state()
    }

    /// The Microsoft (OneDrive) account's state now.
    pub fn microsoft_state(&self) -> AuthState {
        self.accounts.microsoft().state()
    }

    /// Calls `listener` with the Roger account's state now and at every change, until the
    /// returned handle is cancelled.
    pub fn watch_roger_state(
        &self,
        listener: Arc<dyn AuthStateListener>,
    ) -> Result<Arc<crate::printer::EventSubscription>, RogerError> {
        let _guard = crate::runtime::enter()?;
        let mut rx = self.accounts.roger().subscribe();
        let task = tokio::spawn(async move {
            loop {
                let state = rx.borrow_and_update().clone();
                listener.on_change(state);
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
        Ok(crate::printer::EventSubscription::new(task))
    }
}
