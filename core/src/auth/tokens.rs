//! The token manager of one account: access token in memory, refresh token in the secure store,
//! proactive single-flight refresh, rotation persisted before use, and a clean signed-out state.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{watch, Mutex};

use super::record::{AccountRecord, Provider, StoredAccess, RECORD_VERSION};
use super::refresh_lock;
use crate::clock::Clock;
use crate::error::{Error, SignOutReason};
use crate::oauth::{MetadataCache, MetadataLocation, OAuthClient, TokenGrant};
use crate::secret::Secret;
use crate::store::{SecureStore, StoreError};

/// How many times a refresh whose answer may have been lost is asked again with the same token.
const LOST_ANSWER_RETRIES: u32 = 2;
/// The pause before the first such retry (doubled for the second).
const LOST_ANSWER_PAUSE: Duration = Duration::from_millis(200);

/// Whether the token request may have reached the server and its answer been lost: the
/// connection broke after it was sent (not a failure to connect), or a gateway answered for the
/// server (500, 502, 503, 504).
fn answer_may_be_lost(error: &Error) -> bool {
    match error {
        Error::Network { source, .. } => !source.is_connect() && !source.is_builder(),
        Error::Http { status, .. } => matches!(status, 500 | 502 | 503 | 504),
        _ => false,
    }
}

/// Whether an account is usable; observable by the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthState {
    /// Signed in.
    SignedIn {
        /// The account id, when known.
        account_id: Option<String>,
        /// The user name (e-mail) to show, when known.
        username: Option<String>,
        /// The Roger region, for Roger accounts.
        region: Option<String>,
    },
    /// Not signed in; the UI offers sign-in and can say why.
    SignedOut {
        /// Why.
        reason: SignOutReason,
    },
}

/// Who an account belongs to, as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable user id.
    pub id: String,
    /// The user name (e-mail) to show.
    pub username: String,
}

/// What a token manager needs from its surroundings.
#[derive(Clone)]
pub struct TokenManagerDeps {
    /// The core's HTTP client.
    pub http: reqwest::Client,
    /// The secure store.
    pub store: Arc<dyn SecureStore>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Shared metadata cache.
    pub metadata: Arc<MetadataCache>,
    /// Refresh this long before the access token expires.
    pub refresh_margin: Duration,
    /// Refresh-token lifetime assumed when the server does not say (sliding window).
    pub default_refresh_lifetime: Duration,
    /// Where this provider's metadata is, given the record's issuer.
    pub locate: Arc<dyn Fn(&AccountRecord) -> MetadataLocation + Send + Sync>,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The redirect URI registered for the client.
    pub redirect_uri: url::Url,
    /// The app-data directory, where a lock file keeps other processes on the same store from
    /// refreshing at the same time. Without it only this process's instances are serialised.
    pub lock_dir: Option<std::path::PathBuf>,
}

/// `now + by`, or `now` when that is not representable (lifetimes are clamped where grants are
/// made; this keeps the arithmetic total anyway).
fn later(now: SystemTime, by: Duration) -> SystemTime {
    now.checked_add(by).unwrap_or(now)
}

struct Access {
    token: Secret,
    expires_at: SystemTime,
    /// When to refresh: `refresh_margin` before expiry, but never in the first half of the
    /// token's life (a short-lived token is not refreshed on every call).
    refresh_at: SystemTime,
}

impl Access {
    fn stored(&self) -> StoredAccess {
        StoredAccess {
            token: self.token.clone(),
            expires_at: crate::clock::unix_secs(self.expires_at),
            refresh_at: crate::clock::unix_secs(self.refresh_at),
        }
    }

    fn from_stored(stored: StoredAccess) -> Access {
        let at = |secs| later(UNIX_EPOCH, Duration::from_secs(secs));
        Access {
            token: stored.token,
            expires_at: at(stored.expires_at),
            refresh_at: at(stored.refresh_at),
        }
    }
}

/// The bytes stored for `record` with its current access token.
fn stored_bytes(record: &AccountRecord, access: Option<&Access>) -> Result<Vec<u8>, Error> {
    let mut stored = record.clone();
    stored.access = access.map(Access::stored);
    Ok(stored.to_bytes()?)
}

struct Inner {
    record: Option<AccountRecord>,
    access: Option<Access>,
    /// The record in memory is newer than the stored one (a write failed): no token is handed
    /// out until it is written.
    unsaved: bool,
    oauth: Option<OAuthClient>,
    signed_out_reason: SignOutReason,
}

/// The state of a [`TokenManager`], shared with the refresh tasks it detaches.
/// Sends `request` unless its URL is outside `audience` (an ASCII-serialised origin).
async fn send_to(
    context: &'static str,
    audience: Option<&str>,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, Error> {
    let (http, request) = request.build_split();
    let request = request.map_err(Error::network(context))?;
    if let Some(audience) = audience {
        if request.url().origin().ascii_serialization() != audience {
            return Err(Error::RefusedUrl {
                context,
                reason: "the access token is bound to the origin it was issued for".into(),
            });
        }
    }
    http.execute(request).await.map_err(Error::network(context))
}

struct Shared {
    provider: Provider,
    key: &'static str,
    deps: TokenManagerDeps,
    inner: Mutex<Inner>,
    state: watch::Sender<AuthState>,
}

/// Tokens of one account (Roger or Microsoft).
///
/// A refresh, and the write of the rotated refresh token that follows it, runs in a task of its
/// own: a caller that goes away mid-refresh (a cancelled coroutine or Swift `Task`, a timeout)
/// cannot lose the token the server just rotated, which would sign the user out for good at the
/// next refresh (the spent token is taken for reuse). Callers waiting meanwhile share its result.
pub struct TokenManager {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("provider", &self.shared.provider)
            .field("state", &*self.shared.state.borrow())
            .finish_non_exhaustive()
    }
}

/// Runs `work` to completion in a task of its own, whether or not the caller waits for it.
async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(Error::invalid(
            "refreshing the session",
            "the runtime is shutting down",
        )),
    }
}

impl TokenManager {
    /// Loads the account stored under `key`, if any. An unreadable record is wiped (the user
    /// signs in again) rather than failing start-up.
    pub fn load(
        provider: Provider,
        key: &'static str,
        deps: TokenManagerDeps,
    ) -> Result<Self, Error> {
        Ok(Self {
            shared: Arc::new(Shared::load(provider, key, deps)?),
        })
    }

    /// The current state.
    pub fn state(&self) -> AuthState {
        self.shared.state.borrow().clone()
    }

    /// A receiver that sees every state change.
    pub fn subscribe(&self) -> watch::Receiver<AuthState> {
        self.shared.state.subscribe()
    }

    /// The stored record (without the access token), if signed in.
    pub async fn record(&self) -> Option<AccountRecord> {
        self.shared.inner.lock().await.record.clone()
    }

    /// Starts a session from a grant (after sign-in). The record is written to the store first;
    /// if that fails nothing is kept and the error says so.
    /// `audience` is where the access token may go (the region's API URL, or Graph's): every
    /// request of [`TokenManager::send`] to another origin is refused.
    pub async fn install(
        &self,
        oauth: OAuthClient,
        grant: TokenGrant,
        region: Option<String>,
        audience: &url::Url,
        identity: Identity,
    ) -> Result<(), Error> {
        self.shared
            .install(oauth, grant, region, audience, identity)
            .await
    }

    /// A valid access token: the cached one, or a refreshed one when it is missing or about to
    /// expire. Concurrent callers share one refresh; the refresh finishes even if this caller
    /// goes away.
    pub async fn access_token(&self) -> Result<Secret, Error> {
        if let Some(token) = self.shared.cached_token().await? {
            return Ok(token);
        }
        let shared = Arc::clone(&self.shared);
        detached(async move { shared.access_token().await }).await
    }

    /// After a 401 with `rejected`: refreshes unless another caller already replaced that token
    /// (in a task of its own, as [`TokenManager::access_token`]).
    pub async fn token_after_rejection(&self, rejected: &Secret) -> Result<Secret, Error> {
        let shared = Arc::clone(&self.shared);
        let rejected = rejected.clone();
        detached(async move { shared.token_after_rejection(&rejected).await }).await
    }

    /// Sends a request built by `build` with the bearer token; on 401 refreshes once and retries.
    /// A request to an origin other than the account's audience is refused before it is sent,
    /// so a URL taken from a server's answer or built by mistake never receives the token.
    pub async fn send(
        &self,
        context: &'static str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        let token = self.access_token().await?;
        let audience = self.shared.audience().await;
        let response = send_to(context, audience.as_deref(), build(token.expose())).await?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let token = self.token_after_rejection(&token).await?;
        send_to(context, audience.as_deref(), build(token.expose())).await
    }

    /// Signs out: wipes the store, then memory (and tells subscribers), then revokes the refresh
    /// token at the issuer in a detached task (best effort, RFC 7009). Nothing after the wipe
    /// waits on the network, so a caller that goes away cannot leave a half-signed-out account.
    /// When the store cannot delete the record the account stays signed in and the error is
    /// returned: reporting "signed out" would let the stored session come back on next start.
    /// A process about to exit can wait (bounded) on the returned [`Revocation`].
    pub async fn sign_out(&self) -> Result<Revocation, Error> {
        self.shared.sign_out().await
    }

    /// An OAuth client for a new sign-in with the configured client id.
    pub(crate) async fn sign_in_client(
        &self,
        location: &MetadataLocation,
    ) -> Result<OAuthClient, Error> {
        self.shared.sign_in_client(location).await
    }
}

fn state_of(record: Option<&AccountRecord>, reason: SignOutReason) -> AuthState {
    match record {
        Some(r) => AuthState::SignedIn {
            account_id: r.account_id.clone(),
            username: r.username.clone(),
            region: r.region.clone(),
        },
        None => AuthState::SignedOut { reason },
    }
}

/// The best-effort revocations a sign-out started. They run to the end on their own; dropping
/// this does not stop them. A process that exits right after signing out waits on it.
#[derive(Debug, Default)]
pub struct Revocation {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Revocation {
    /// Adds the revocations of another sign-out.
    pub fn join(mut self, other: Revocation) -> Revocation {
        self.tasks.extend(other.tasks);
        self
    }

    /// Waits until every revocation has been answered (or failed), at most `limit`.
    pub async fn wait(self, limit: Duration) {
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::info!("revocation still pending at exit");
        }
    }
}

/// An OAuth client for the issuer whose metadata is at `location`.
async fn client_for(
    deps: &TokenManagerDeps,
    location: &MetadataLocation,
    client_id: &str,
) -> Result<OAuthClient, Error> {
    let metadata = deps.metadata.get(location).await?;
    OAuthClient::new(deps.http.clone(), metadata, client_id, &deps.redirect_uri)
}

impl Shared {
    /// The origin the account's access token is bound to, when its record says.
    async fn audience(&self) -> Option<String> {
        let inner = self.inner.lock().await;
        inner.record.as_ref().and_then(|r| r.audience.clone())
    }

    /// See [`TokenManager::load`].
    fn load(provider: Provider, key: &'static str, deps: TokenManagerDeps) -> Result<Self, Error> {
        let mut record = match deps.store.get(key)? {
            None => None,
            Some(bytes) => match AccountRecord::from_bytes(&bytes) {
                Ok(r) if r.provider == provider => Some(r),
                Ok(_) | Err(_) => {
                    tracing::warn!(?provider, "discarding an unreadable account record");
                    deps.store.delete(key)?;
                    None
                }
            },
        };
        let access = record
            .as_mut()
            .and_then(|r| r.access.take())
            .map(Access::from_stored);
        let reason = SignOutReason::NeverSignedIn;
        let (state, _) = watch::channel(state_of(record.as_ref(), reason));
        Ok(Self {
            provider,
            key,
            deps,
            inner: Mutex::new(Inner {
                record,
                access,
                unsaved: false,
                oauth: None,
                signed_out_reason: reason,
            }),
            state,
        })
    }

    /// See [`TokenManager::install`].
    async fn install(
        &self,
        oauth: OAuthClient,
        grant: TokenGrant,
        region: Option<String>,
        audience: &url::Url,
        identity: Identity,
    ) -> Result<(), Error> {
        let now = self.deps.clock.now();
        let refresh_token = grant
            .refresh_token
            .clone()
            .ok_or_else(|| Error::invalid("signing in", "the server issued no refresh token"))?;
        let record = AccountRecord {
            version: RECORD_VERSION,
            provider: self.provider,
            account_id: Some(identity.id),
            username: Some(identity.username),
            region,
            issuer: oauth.metadata().issuer.clone(),
            client_id: self.deps.client_id.clone(),
            refresh_token,
            refresh_expires_at: self.refresh_deadline(now, &grant),
            scopes: grant.scopes.clone().unwrap_or_default(),
            signed_in_at: crate::clock::unix_secs(now),
            audience: Some(audience.origin().ascii_serialization()),
            access: None,
        };
        let access = self.access_of(&grant, now);
        let mut inner = self.inner.lock().await;
        let bytes = stored_bytes(&record, Some(&access))?;
        self.on_store(move |store, key| store.set(key, &bytes))
            .await?;
        inner.access = Some(access);
        inner.record = Some(record);
        inner.unsaved = false;
        inner.oauth = Some(oauth);
        self.publish(&inner);
        Ok(())
    }

    /// The cached access token when it is not due for a refresh (nothing is sent).
    async fn cached_token(&self) -> Result<Option<Secret>, Error> {
        let mut inner = self.inner.lock().await;
        self.flush_unsaved(&mut inner).await?;
        let now = self.deps.clock.now();
        Ok(inner
            .access
            .as_ref()
            .filter(|a| a.refresh_at > now)
            .map(|a| a.token.clone()))
    }

    /// A valid access token: the cached one, or a refreshed one.
    async fn access_token(&self) -> Result<Secret, Error> {
        let mut inner = self.inner.lock().await;
        self.flush_unsaved(&mut inner).await?;
        let fresh = |inner: &Inner, now| {
            inner
                .access
                .as_ref()
                .filter(|a| a.refresh_at > now)
                .map(|a| a.token.clone())
        };
        if let Some(token) = fresh(&inner, self.deps.clock.now()) {
            return Ok(token);
        }
        let _lock =
            refresh_lock::acquire(self.key, &self.deps.store, self.deps.lock_dir.as_deref()).await;
        self.adopt_stored(&mut inner).await?;
        if let Some(token) = fresh(&inner, self.deps.clock.now()) {
            return Ok(token);
        }
        self.refresh_locked(&mut inner).await
    }

    /// Another instance on the same store may have refreshed (or signed out) since this one
    /// read the record: take its newer record and access token, so that the spent refresh
    /// token is never presented again.
    async fn adopt_stored(&self, inner: &mut Inner) -> Result<(), Error> {
        let Some(mine) = inner.record.as_ref() else {
            return Ok(());
        };
        match self.on_store(|store, key| store.get(key)).await? {
            None => {
                tracing::info!(?self.provider, "the account was signed out by another instance");
                inner.record = None;
                inner.access = None;
                inner.oauth = None;
                inner.signed_out_reason = SignOutReason::UserSignedOut;
                self.publish(inner);
                Err(Error::SignedOut(SignOutReason::UserSignedOut))
            }
            Some(bytes) => match AccountRecord::from_bytes(&bytes) {
                Ok(mut theirs)
                    if theirs.provider == self.provider
                        && theirs.refresh_token != mine.refresh_token =>
                {
                    tracing::debug!(?self.provider, "using the record another instance refreshed");
                    if theirs.issuer != mine.issuer {
                        inner.oauth = None;
                    }
                    inner.access = theirs.access.take().map(Access::from_stored);
                    inner.record = Some(theirs);
                    self.publish(inner);
                    Ok(())
                }
                _ => Ok(()),
            },
        }
    }

    /// See [`TokenManager::token_after_rejection`].
    async fn token_after_rejection(&self, rejected: &Secret) -> Result<Secret, Error> {
        let mut inner = self.inner.lock().await;
        self.flush_unsaved(&mut inner).await?;
        if let Some(a) = &inner.access {
            if a.token != *rejected && a.expires_at > self.deps.clock.now() {
                return Ok(a.token.clone());
            }
        }
        let _lock =
            refresh_lock::acquire(self.key, &self.deps.store, self.deps.lock_dir.as_deref()).await;
        self.adopt_stored(&mut inner).await?;
        if let Some(a) = &inner.access {
            if a.token != *rejected && a.expires_at > self.deps.clock.now() {
                return Ok(a.token.clone());
            }
        }
        inner.access = None;
        self.refresh_locked(&mut inner).await
    }

    /// See [`TokenManager::sign_out`].
    async fn sign_out(&self) -> Result<Revocation, Error> {
        let mut inner = self.inner.lock().await;
        let record = inner.record.clone();
        let cached = inner.oauth.clone();
        self.wipe_locked(&mut inner, SignOutReason::UserSignedOut)
            .await?;
        drop(inner);
        let mut revocation = Revocation::default();
        if let Some(record) = record {
            let deps = self.deps.clone();
            revocation.tasks.push(tokio::spawn(async move {
                let oauth = match cached {
                    Some(oauth) => Ok(oauth),
                    None => client_for(&deps, &(deps.locate)(&record), &record.client_id).await,
                };
                match oauth {
                    Ok(oauth) => {
                        if let Err(e) = oauth.revoke(&record.refresh_token).await {
                            tracing::info!(error = %e, "revocation failed; the local wipe stands");
                        }
                    }
                    Err(e) => tracing::info!(error = %e, "cannot reach the issuer to revoke"),
                }
            }));
        }
        Ok(revocation)
    }

    fn refresh_deadline(&self, now: SystemTime, grant: &TokenGrant) -> u64 {
        let lifetime = grant
            .refresh_expires_in
            .unwrap_or(self.deps.default_refresh_lifetime);
        crate::clock::unix_secs(later(now, lifetime))
    }

    fn access_of(&self, grant: &TokenGrant, now: SystemTime) -> Access {
        // Without `expires_in`, assume a short life so the token is refreshed soon.
        let lifetime = grant.expires_in.unwrap_or(Duration::from_secs(300));
        let early = lifetime
            .saturating_sub(self.deps.refresh_margin)
            .max(lifetime / 2);
        Access {
            token: grant.access_token.clone(),
            expires_at: later(now, lifetime),
            refresh_at: later(now, early),
        }
    }

    fn publish(&self, inner: &Inner) {
        let next = state_of(inner.record.as_ref(), inner.signed_out_reason);
        self.state.send_if_modified(|s| {
            let changed = *s != next;
            *s = next;
            changed
        });
    }

    /// Runs a secure-store call on the blocking pool: Keychain and Keystore calls can block,
    /// and a store the app implements may hop threads. A panic in the store is a store error.
    async fn on_store<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn SecureStore, &str) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let key = self.key;
        crate::store::off_runtime(&self.deps.store, move |store| call(store, key)).await
    }

    async fn flush_unsaved(&self, inner: &mut Inner) -> Result<(), Error> {
        if !inner.unsaved {
            return Ok(());
        }
        let Some(record) = inner.record.as_ref() else {
            inner.unsaved = false;
            return Ok(());
        };
        let bytes = stored_bytes(record, inner.access.as_ref())?;
        self.on_store(move |store, key| store.set(key, &bytes))
            .await?;
        inner.unsaved = false;
        Ok(())
    }

    /// Deletes the stored record, then forgets the session and publishes the new state. A user's
    /// sign-out whose delete fails changes nothing; a session the server ended is forgotten even
    /// then (its token is spent), and the store error is returned.
    async fn wipe_locked(&self, inner: &mut Inner, reason: SignOutReason) -> Result<(), Error> {
        let deleted = self.on_store(|store, key| store.delete(key)).await;
        if deleted.is_err() && reason == SignOutReason::UserSignedOut {
            return deleted.map_err(Error::from);
        }
        inner.record = None;
        inner.access = None;
        inner.unsaved = false;
        inner.oauth = None;
        inner.signed_out_reason = reason;
        self.publish(inner);
        deleted.map_err(Error::from)
    }

    async fn oauth_locked(
        &self,
        inner: &mut Inner,
        record: &AccountRecord,
    ) -> Result<OAuthClient, Error> {
        if let Some(o) = &inner.oauth {
            return Ok(o.clone());
        }
        let location = (self.deps.locate)(record);
        let oauth = self.client_at(&location, &record.client_id).await?;
        inner.oauth = Some(oauth.clone());
        Ok(oauth)
    }

    /// An OAuth client of this provider for the issuer whose metadata is at `location`.
    async fn client_at(
        &self,
        location: &MetadataLocation,
        client_id: &str,
    ) -> Result<OAuthClient, Error> {
        client_for(&self.deps, location, client_id).await
    }

    /// See [`TokenManager::sign_in_client`].
    async fn sign_in_client(&self, location: &MetadataLocation) -> Result<OAuthClient, Error> {
        self.client_at(location, &self.deps.client_id).await
    }

    async fn refresh_locked(&self, inner: &mut Inner) -> Result<Secret, Error> {
        let Some(record) = inner.record.clone() else {
            return Err(Error::SignedOut(inner.signed_out_reason));
        };
        let now = self.deps.clock.now();
        if crate::clock::unix_secs(now) >= record.refresh_expires_at {
            self.wipe_locked(inner, SignOutReason::SessionExpired)
                .await?;
            return Err(Error::SignedOut(SignOutReason::SessionExpired));
        }
        let oauth = self.oauth_locked(inner, &record).await?;
        let mut lost = 0;
        let grant = loop {
            let failure = match oauth.refresh(&record.refresh_token, &record.scopes).await {
                Ok(grant) => break grant,
                Err(failure) => failure,
            };
            if let Some(rotated) = failure.rotated {
                // The server answered 200 with something unusable but did rotate: keep the
                // new refresh token before reporting, or the next refresh would present the
                // spent one and be taken for reuse.
                tracing::warn!(error = %failure.error, "unusable refresh answer; keeping its refresh token");
                let mut next = record;
                next.refresh_token = rotated;
                inner.access = None;
                inner.record = Some(next);
                inner.unsaved = true;
                self.flush_unsaved(inner).await?;
                return Err(failure.error);
            }
            match failure.error {
                Error::OAuth { source, .. } if source.code == "invalid_grant" => {
                    tracing::info!(?self.provider, "the server no longer accepts the refresh token; signing out");
                    self.wipe_locked(inner, SignOutReason::SessionEnded).await?;
                    return Err(Error::SignedOut(SignOutReason::SessionEnded));
                }
                error if answer_may_be_lost(&error) && lost < LOST_ANSWER_RETRIES => {
                    // The server may have rotated and the answer got lost on the way: present
                    // the same token again at once, before anything else can (servers with a
                    // reuse grace window answer it with the same new pair).
                    lost += 1;
                    tracing::info!(error = %error, attempt = lost, "refresh answer lost; asking again with the same token");
                    tokio::time::sleep(LOST_ANSWER_PAUSE * lost).await;
                }
                error => return Err(error),
            }
        };
        let mut next = record;
        if let Some(rt) = grant.refresh_token.clone() {
            next.refresh_token = rt;
        }
        next.refresh_expires_at = self.refresh_deadline(now, &grant);
        if let Some(scopes) = grant.scopes.clone() {
            next.scopes = scopes;
        }
        let access = self.access_of(&grant, now);
        let token = access.token.clone();
        inner.access = Some(access);
        inner.record = Some(next);
        // Rotation is persisted before the new access token is used.
        inner.unsaved = true;
        self.flush_unsaved(inner).await?;
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OffsetClock;
    use crate::net::UrlPolicy;
    use crate::store::MemoryStore;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    const KEY: &str = "account.test";

    /// How the token endpoint answers the next successful rotation.
    #[derive(Clone, Copy)]
    enum Quirk {
        /// Rotates, then a proxy's HTML 502 replaces the answer.
        LoseAnswer,
        /// `expires_in` as a string.
        StringExpiresIn,
        /// Rotates, then answers 200 without an access token.
        NoAccessToken,
        /// These access and refresh lifetimes, in seconds.
        Lifetimes(u64, u64),
    }

    /// Token endpoint that rotates: refresh token `rt-N` is answered with `rt-(N+1)` and `at-(N+1)`;
    /// anything but the newest is `invalid_grant`, except that the token just rotated may be
    /// presented again while its successor is unused (the reuse grace of the Roger protocol).
    struct Rotating {
        current: AtomicUsize,
        calls: Arc<AtomicUsize>,
        quirks: Arc<std::sync::Mutex<std::collections::VecDeque<Quirk>>>,
    }

    fn pair(n: usize) -> serde_json::Value {
        serde_json::json!({
            "access_token": format!("at-{n}"),
            "token_type": "Bearer",
            "expires_in": 1200,
            "refresh_token": format!("rt-{n}"),
            "refresh_token_expires_in": 7776000
        })
    }

    impl Respond for Rotating {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let body = String::from_utf8_lossy(&req.body);
            let n = self.current.load(Ordering::SeqCst);
            let presented = |k: usize| {
                body.contains(&format!("refresh_token=rt-{k}&"))
                    || body.ends_with(&format!("refresh_token=rt-{k}"))
            };
            let ok = |json| {
                ResponseTemplate::new(200)
                    .set_delay(Duration::from_millis(50))
                    .set_body_json(json)
            };
            if n > 0 && presented(n - 1) {
                return ok(pair(n)); // within the grace: the successor is unused
            }
            if !presented(n) {
                return ResponseTemplate::new(400)
                    .set_body_json(serde_json::json!({"error": "invalid_grant"}));
            }
            self.current.store(n + 1, Ordering::SeqCst);
            let mut answer = pair(n + 1);
            match self.quirks.lock().unwrap().pop_front() {
                None => ok(answer),
                Some(Quirk::LoseAnswer) => {
                    ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>")
                }
                Some(Quirk::StringExpiresIn) => {
                    answer["expires_in"] = "1200".into();
                    ok(answer)
                }
                Some(Quirk::NoAccessToken) => {
                    answer.as_object_mut().unwrap().remove("access_token");
                    ok(answer)
                }
                Some(Quirk::Lifetimes(access, refresh)) => {
                    answer["expires_in"] = access.into();
                    answer["refresh_token_expires_in"] = refresh.into();
                    ok(answer)
                }
            }
        }
    }

    struct Fixture {
        server: MockServer,
        store: Arc<MemoryStore>,
        clock: Arc<OffsetClock>,
        calls: Arc<AtomicUsize>,
        quirks: Arc<std::sync::Mutex<std::collections::VecDeque<Quirk>>>,
    }

    async fn fixture() -> Fixture {
        let server = MockServer::start().await;
        let issuer = server.uri();
        Mock::given(method("GET"))
            .and(path("/.well-known/oauth-authorization-server"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/oauth/authorize"),
                "token_endpoint": format!("{issuer}/oauth/token"),
                "revocation_endpoint": format!("{issuer}/oauth/revoke"),
                "code_challenge_methods_supported": ["S256"]
            })))
            .mount(&server)
            .await;
        let calls = Arc::new(AtomicUsize::new(0));
        let quirks = Arc::default();
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(body_string_contains("grant_type=refresh_token"))
            .respond_with(Rotating {
                current: AtomicUsize::new(0),
                calls: calls.clone(),
                quirks: Arc::clone(&quirks),
            })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/oauth/revoke"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        Fixture {
            server,
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(OffsetClock::new()),
            calls,
            quirks,
        }
    }

    impl Fixture {
        fn record(&self) -> AccountRecord {
            AccountRecord {
                version: RECORD_VERSION,
                provider: Provider::Roger,
                account_id: Some("u1".into()),
                username: None,
                region: Some("eu".into()),
                issuer: self.server.uri(),
                client_id: "roger-mobile".into(),
                refresh_token: Secret::new("rt-0"),
                refresh_expires_at: self.clock.unix_now() + 1000,
                scopes: vec!["jobs".into()],
                signed_in_at: self.clock.unix_now(),
                audience: Some(self.server.uri()),
                access: None,
            }
        }

        fn manager(&self) -> TokenManager {
            self.manager_with(self.store.clone())
        }

        fn manager_with(&self, store: Arc<dyn SecureStore>) -> TokenManager {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let policy = UrlPolicy {
                allow_insecure_loopback: true,
            };
            let clock: Arc<dyn Clock> = self.clock.clone();
            let deps = TokenManagerDeps {
                http: http.clone(),
                store,
                clock: clock.clone(),
                metadata: Arc::new(MetadataCache::new(
                    http,
                    policy,
                    Duration::from_secs(60),
                    clock,
                )),
                refresh_margin: Duration::from_secs(60),
                default_refresh_lifetime: Duration::from_secs(1000),
                locate: Arc::new(|r: &AccountRecord| MetadataLocation::Rfc8414 {
                    issuer: r.issuer.clone(),
                }),
                client_id: "roger-mobile".into(),
                redirect_uri: url::Url::parse("com.myq.roger:/oauth2redirect").unwrap(),
                lock_dir: None,
            };
            TokenManager::load(Provider::Roger, KEY, deps).unwrap()
        }

        fn quirk(&self, quirk: Quirk) {
            self.quirks.lock().unwrap().push_back(quirk);
        }

        fn stored(&self) -> AccountRecord {
            AccountRecord::from_bytes(&self.store.get(KEY).unwrap().unwrap()).unwrap()
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh_and_rotation_is_persisted() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = Arc::new(f.manager());
        assert!(matches!(m.state(), AuthState::SignedIn { .. }));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move { m.access_token().await })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().expose(), "at-1");
        }
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
        assert_eq!(f.stored().refresh_token.expose(), "rt-1");
        // The token is reused until it nears expiry, then refreshed again.
        assert_eq!(m.access_token().await.unwrap().expose(), "at-1");
        f.clock.advance(Duration::from_secs(1200 - 30));
        assert_eq!(m.access_token().await.unwrap().expose(), "at-2");
        assert_eq!(f.stored().refresh_token.expose(), "rt-2");
    }

    #[tokio::test]
    async fn a_caller_dropped_at_any_point_of_a_refresh_loses_no_rotation() {
        // The token endpoint rotates when the request arrives and answers 50 ms later, so the
        // later drop points fall between the server's rotation and the answer.
        for drop_after_ms in [0, 1, 2, 5, 10, 20, 30, 40, 60, 80] {
            let f = fixture().await;
            f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
            let m = f.manager();
            let cut =
                tokio::time::timeout(Duration::from_millis(drop_after_ms), m.access_token()).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(
                f.stored().refresh_token.expose(),
                "rt-1",
                "dropped after {drop_after_ms} ms (finished: {})",
                cut.is_ok()
            );
            assert_eq!(m.access_token().await.unwrap().expose(), "at-1");
            assert_eq!(f.calls.load(Ordering::SeqCst), 1, "one refresh in all");
            assert!(matches!(m.state(), AuthState::SignedIn { .. }));
        }
    }

    #[tokio::test]
    async fn two_instances_on_one_store_refresh_once_and_both_stay_signed_in() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let (a, b) = (f.manager(), f.manager());
        let (x, y) = tokio::join!(a.access_token(), b.access_token());
        assert_eq!(x.unwrap().expose(), "at-1");
        assert_eq!(
            y.unwrap().expose(),
            "at-1",
            "the second used the first's token"
        );
        assert_eq!(f.calls.load(Ordering::SeqCst), 1, "exactly one refresh");
        // Later refreshes by either never present a spent token.
        f.clock.advance(Duration::from_secs(1200));
        assert_eq!(a.access_token().await.unwrap().expose(), "at-2");
        assert_eq!(b.access_token().await.unwrap().expose(), "at-2");
        f.clock.advance(Duration::from_secs(1200));
        assert_eq!(b.access_token().await.unwrap().expose(), "at-3");
        assert_eq!(a.access_token().await.unwrap().expose(), "at-3");
        assert_eq!(f.calls.load(Ordering::SeqCst), 3);
        assert_eq!(f.stored().refresh_token.expose(), "rt-3");
        assert!(matches!(a.state(), AuthState::SignedIn { .. }));
        assert!(matches!(b.state(), AuthState::SignedIn { .. }));
    }

    #[tokio::test]
    async fn an_instance_sees_a_sign_out_made_by_another() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let (a, b) = (f.manager(), f.manager());
        a.sign_out().await.unwrap();
        assert!(matches!(
            b.access_token().await,
            Err(Error::SignedOut(SignOutReason::UserSignedOut))
        ));
        assert!(matches!(b.state(), AuthState::SignedOut { .. }));
        assert_eq!(
            f.calls.load(Ordering::SeqCst),
            0,
            "the wiped token is not presented"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_blocking_store_never_stalls_the_async_runtime() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager_with(Arc::new(crate::store::BlockingStore(f.store.clone())));
        // On the runtime's only thread, a ticker keeps running while the refresh reads and
        // writes the store (three blocking calls: re-read, write, and again on sign-out).
        let ticker = crate::store::stall_meter(60);
        assert_eq!(m.access_token().await.unwrap().expose(), "at-1");
        m.sign_out().await.unwrap();
        let worst = ticker.await.unwrap();
        assert!(
            worst < Duration::from_millis(250),
            "the runtime stalled {worst:?}"
        );
        assert_eq!(f.store.get(KEY).unwrap(), None);
    }

    #[tokio::test]
    async fn a_new_instance_resumes_from_the_store() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        f.manager().access_token().await.unwrap();
        let again = f.manager();
        // The stored access token is still fresh: no second refresh.
        assert_eq!(again.access_token().await.unwrap().expose(), "at-1");
        f.clock.advance(Duration::from_secs(1200));
        assert_eq!(again.access_token().await.unwrap().expose(), "at-2");
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_rejected_refresh_token_signs_out_cleanly_without_retrying() {
        let f = fixture().await;
        let mut record = f.record();
        record.refresh_token = Secret::new("rt-stale");
        f.store.set(KEY, &record.to_bytes().unwrap()).unwrap();
        let m = f.manager();
        let mut states = m.subscribe();
        let err = m.access_token().await.unwrap_err();
        assert!(matches!(err, Error::SignedOut(SignOutReason::SessionEnded)));
        assert_eq!(
            *states.borrow_and_update(),
            AuthState::SignedOut {
                reason: SignOutReason::SessionEnded
            }
        );
        assert_eq!(f.store.get(KEY).unwrap(), None);
        // Further calls fail fast: no loop, no request.
        assert!(matches!(m.access_token().await, Err(Error::SignedOut(_))));
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_expired_sliding_window_signs_out_without_a_request() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        f.clock.advance(Duration::from_secs(1001));
        let err = m.access_token().await.unwrap_err();
        assert!(matches!(
            err,
            Error::SignedOut(SignOutReason::SessionExpired)
        ));
        assert_eq!(err.kind(), crate::ErrorKind::SignInRequired);
        assert_eq!(f.calls.load(Ordering::SeqCst), 0);
        assert_eq!(f.store.get(KEY).unwrap(), None);
    }

    #[tokio::test]
    async fn a_failed_store_write_withholds_the_token_and_keeps_the_session() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        f.store.set_fail_writes(true);
        let err = m.access_token().await.unwrap_err();
        assert!(matches!(err, Error::Store(StoreError::Platform(_))));
        assert_eq!(err.kind(), crate::ErrorKind::Storage);
        // The old record is intact, and the rotated token is not lost: it is still in memory.
        assert_eq!(f.stored().refresh_token.expose(), "rt-0");
        assert!(matches!(m.state(), AuthState::SignedIn { .. }));
        f.store.set_fail_writes(false);
        assert_eq!(m.access_token().await.unwrap().expose(), "at-1");
        assert_eq!(f.stored().refresh_token.expose(), "rt-1");
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_401_forces_one_refresh_and_one_retry() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        m.access_token().await.unwrap(); // at-1, which the API now rejects
        Mock::given(method("GET"))
            .and(path("/api/thing"))
            .and(wiremock::matchers::header("authorization", "Bearer at-2"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/thing"))
            .respond_with(ResponseTemplate::new(401))
            .mount(&f.server)
            .await;
        let url = format!("{}/api/thing", f.server.uri());
        let http = reqwest::Client::new();
        let response = m
            .send("test", |token| http.get(&url).bearer_auth(token))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_token_is_never_sent_outside_its_audience() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        let elsewhere = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&elsewhere)
            .await;
        let http = reqwest::Client::new();
        for url in [
            // Same host, another port; then the audience's host and port with another scheme.
            format!("{}/api/thing", elsewhere.uri()),
            f.server.uri().replace("http://", "https://"),
        ] {
            let err = m
                .send("test", |token| http.get(&url).bearer_auth(token))
                .await
                .unwrap_err();
            assert!(matches!(err, Error::RefusedUrl { .. }), "{url}: {err:?}");
        }
        assert!(elsewhere.received_requests().await.unwrap().is_empty());
        // Its own origin still works (a 404 from the fixture is a response, not a refusal).
        let own = format!("{}/api/missing", f.server.uri());
        let response = m
            .send("test", |token| http.get(&own).bearer_auth(token))
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }

    #[tokio::test]
    async fn a_lost_refresh_answer_is_asked_again_with_the_same_token() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        f.quirk(Quirk::LoseAnswer);
        // The server rotated rt-0 but the answer was lost; the same rt-0 gets the same pair.
        assert_eq!(m.access_token().await.unwrap().expose(), "at-1");
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
        assert_eq!(f.stored().refresh_token.expose(), "rt-1");
        assert!(matches!(m.state(), AuthState::SignedIn { .. }));
    }

    #[tokio::test]
    async fn a_gateway_that_keeps_failing_is_asked_a_bounded_number_of_times() {
        let server = MockServer::start().await;
        let f = fixture().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(ResponseTemplate::new(504).set_body_string("Gateway Timeout"))
            .mount(&server)
            .await;
        let mut record = f.record();
        record.issuer = server.uri();
        Mock::given(method("GET"))
            .and(path("/.well-known/oauth-authorization-server"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "issuer": server.uri(),
                "token_endpoint": format!("{}/oauth/token", server.uri()),
            })))
            .mount(&server)
            .await;
        f.store.set(KEY, &record.to_bytes().unwrap()).unwrap();
        let m = f.manager();
        let err = m.access_token().await.unwrap_err();
        assert!(matches!(err, Error::Http { status: 504, .. }), "{err}");
        let tries = server.received_requests().await.unwrap();
        let tries = tries
            .iter()
            .filter(|r| r.url.path() == "/oauth/token")
            .count();
        assert_eq!(tries, 1 + LOST_ANSWER_RETRIES as usize);
        // Nothing was lost: still signed in with the same token.
        assert!(matches!(m.state(), AuthState::SignedIn { .. }));
        assert_eq!(f.stored().refresh_token.expose(), "rt-0");
    }

    #[tokio::test]
    async fn a_string_expires_in_is_a_lifetime() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        f.quirk(Quirk::StringExpiresIn);
        assert_eq!(m.access_token().await.unwrap().expose(), "at-1");
        assert_eq!(f.stored().refresh_token.expose(), "rt-1");
        // "1200" was read as 1200 s, not dropped for the 300 s default.
        f.clock.advance(Duration::from_secs(600));
        assert_eq!(m.access_token().await.unwrap().expose(), "at-1");
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn lifetimes_near_the_end_of_time_are_clamped_not_a_panic() {
        for secs in [u64::MAX, u64::MAX / 2, i64::MAX as u64] {
            let f = fixture().await;
            f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
            let m = f.manager();
            f.quirk(Quirk::Lifetimes(secs, secs));
            assert_eq!(m.access_token().await.unwrap().expose(), "at-1");
            assert_eq!(f.stored().refresh_token.expose(), "rt-1");
            // At most a day believed for the access token, two years for the refresh token.
            f.clock.advance(Duration::from_secs(24 * 3600));
            assert_eq!(m.access_token().await.unwrap().expose(), "at-2");
            let deadline = f.stored().refresh_expires_at;
            let now = crate::clock::unix_secs(f.clock.now());
            assert!(deadline <= now + 2 * 366 * 24 * 3600, "{deadline}");
        }
    }

    #[tokio::test]
    async fn a_zero_lifetime_does_not_refresh_on_every_call() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        f.quirk(Quirk::Lifetimes(0, 7_776_000));
        assert_eq!(m.access_token().await.unwrap().expose(), "at-1");
        for _ in 0..5 {
            assert_eq!(m.access_token().await.unwrap().expose(), "at-1");
        }
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
        // It still refreshes, at half its (clamped, 30 s) life.
        f.clock.advance(Duration::from_secs(16));
        assert_eq!(m.access_token().await.unwrap().expose(), "at-2");
    }

    #[tokio::test]
    async fn an_unusable_200_keeps_its_rotated_refresh_token() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        f.quirk(Quirk::NoAccessToken);
        let err = m.access_token().await.unwrap_err();
        assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
        assert_eq!(f.stored().refresh_token.expose(), "rt-1");
        // The next refresh presents the new token and the session goes on.
        assert_eq!(m.access_token().await.unwrap().expose(), "at-2");
        assert_eq!(f.stored().refresh_token.expose(), "rt-2");
    }

    #[test]
    fn the_ended_session_message_asks_to_sign_in_again_and_suggests_no_attack() {
        let text = Error::SignedOut(SignOutReason::SessionEnded).to_string();
        assert!(text.contains("sign in again"), "{text}");
        assert!(
            !text.contains("revoked") && !text.contains("reuse"),
            "{text}"
        );
    }

    async fn revocations(f: &Fixture) -> usize {
        f.server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == "/oauth/revoke")
            .count()
    }

    /// Waits (bounded) for the detached revocation to reach the server.
    async fn revocations_after_a_while(f: &Fixture, expected: usize) -> usize {
        for _ in 0..100 {
            let n = revocations(f).await;
            if n >= expected {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        revocations(f).await
    }

    #[tokio::test]
    async fn sign_out_revokes_and_wipes() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        m.sign_out().await.unwrap();
        assert_eq!(f.store.get(KEY).unwrap(), None);
        assert_eq!(
            m.state(),
            AuthState::SignedOut {
                reason: SignOutReason::UserSignedOut
            }
        );
        assert_eq!(revocations_after_a_while(&f, 1).await, 1);
    }

    #[tokio::test]
    async fn sign_out_is_done_before_the_issuer_answers() {
        let f = fixture().await;
        Mock::given(method("POST"))
            .and(path("/oauth/revoke"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
            .with_priority(1)
            .mount(&f.server)
            .await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        m.access_token().await.unwrap(); // caches the issuer's client
        let mut states = m.subscribe();
        tokio::time::timeout(Duration::from_secs(5), m.sign_out())
            .await
            .expect("sign-out does not wait for the revocation")
            .unwrap();
        assert_eq!(f.store.get(KEY).unwrap(), None);
        assert!(matches!(
            *states.borrow_and_update(),
            AuthState::SignedOut {
                reason: SignOutReason::UserSignedOut
            }
        ));
        assert!(matches!(
            m.access_token().await,
            Err(Error::SignedOut(SignOutReason::UserSignedOut))
        ));
        assert_eq!(revocations_after_a_while(&f, 1).await, 1, "still revoked");
    }

    #[tokio::test]
    async fn a_sign_out_the_store_cannot_delete_is_reported_and_changes_nothing() {
        let f = fixture().await;
        f.store.set(KEY, &f.record().to_bytes().unwrap()).unwrap();
        let m = f.manager();
        f.store.set_fail_writes(true);
        let err = m.sign_out().await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Storage);
        assert!(matches!(m.state(), AuthState::SignedIn { .. }));
        assert_eq!(f.stored().refresh_token.expose(), "rt-0");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            revocations(&f).await,
            0,
            "a token still stored is not revoked"
        );
        f.store.set_fail_writes(false);
        m.sign_out().await.unwrap();
        assert_eq!(f.store.get(KEY).unwrap(), None);
    }
}
