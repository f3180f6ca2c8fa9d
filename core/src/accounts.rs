//! Accounts of the app: region discovery, sign-in to Roger and to Microsoft, their token
//! managers, and sign-out. The shells drive it; all state lives here.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use url::Url;

use crate::auth::pending::{PendingRecord, PendingTarget};
use crate::auth::{
    check_redirect, read_graph_me, read_roger_me, AccountRecord, AuthState, ExpectedRedirect,
    Identity, Provider, TokenManager, TokenManagerDeps,
};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::discovery::{Region, RegionDirectory};
use crate::error::{Error, SignInError};
use crate::net::http_client;
use crate::oauth::{MetadataCache, MetadataLocation, OAuthClient};
use crate::secret::Secret;
use crate::store::{keys, SecureStore};

/// Name of the marker file that tells a fresh install from an upgrade.
const INSTALL_MARKER_FILE: &str = "roger-installed";
/// Metadata documents are re-fetched after this long.
const METADATA_TTL: Duration = Duration::from_secs(24 * 3600);
/// Refresh tokens live 90 days (sliding) unless the server says otherwise.
const DEFAULT_REFRESH_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

/// Which account a sign-in is for.
enum SignInTarget {
    /// Roger, in this region.
    Roger(Box<Region>),
    /// Microsoft (OneDrive).
    Microsoft,
}

struct PendingSignIn {
    target: SignInTarget,
    oauth: OAuthClient,
    state: Secret,
    verifier: Secret,
    scopes: Vec<String>,
}

/// Options for opening the accounts.
#[derive(Debug, Default)]
pub struct OpenOptions<'a> {
    /// The app's private data directory (wiped by the OS on uninstall). When given, a fresh
    /// install is detected by a marker file there, and stale secrets that outlived a previous
    /// install in the platform store are wiped.
    pub data_dir: Option<&'a Path>,
    /// A clock other than the system clock (tests).
    pub clock: Option<Arc<dyn Clock>>,
}

/// The user's accounts.
pub struct Accounts {
    config: Config,
    http: reqwest::Client,
    regions: RegionDirectory,
    roger: Arc<TokenManager>,
    microsoft: Arc<TokenManager>,
    pending: Mutex<Option<PendingSignIn>>,
    store: Arc<dyn SecureStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("roger", &self.roger.state())
            .field("microsoft", &self.microsoft.state())
            .finish_non_exhaustive()
    }
}

/// Wipes every key the core writes when `data_dir` has no install marker, then writes it.
fn wipe_if_fresh_install(store: &dyn SecureStore, data_dir: &Path) -> Result<(), Error> {
    let marker = data_dir.join(INSTALL_MARKER_FILE);
    if marker.exists() {
        return Ok(());
    }
    for key in keys::ALL {
        store.delete(key)?;
    }
    std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(&marker, b"1"))
        .map_err(|e| {
            crate::store::StoreError::Unavailable(format!("cannot write the install marker: {e}"))
        })?;
    Ok(())
}

impl Accounts {
    /// Opens the accounts: validates the config, wipes stale secrets on a fresh install, and
    /// loads any stored sessions. Sends no request.
    pub fn open(
        config: Config,
        store: Arc<dyn SecureStore>,
        options: OpenOptions<'_>,
    ) -> Result<Self, Error> {
        config.validate()?;
        if let Some(dir) = options.data_dir {
            wipe_if_fresh_install(store.as_ref(), dir)?;
        }
        let clock = options.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let http = http_client(&config)?;
        let policy = config.url_policy();
        let regions = RegionDirectory::new(
            http.clone(),
            &config.discovery_url,
            policy,
            config.region_cache_ttl,
            store.clone(),
            clock.clone(),
        )?;
        let metadata = Arc::new(MetadataCache::new(
            http.clone(),
            policy,
            METADATA_TTL,
            clock.clone(),
        ));
        let store_for_deps = store.clone();
        let deps = |client_id: &str, redirect_uri: &Url, locate| TokenManagerDeps {
            http: http.clone(),
            store: store_for_deps.clone(),
            clock: clock.clone(),
            metadata: metadata.clone(),
            refresh_margin: config.token_refresh_margin,
            default_refresh_lifetime: DEFAULT_REFRESH_LIFETIME,
            locate,
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.clone(),
            lock_dir: options.data_dir.map(Path::to_path_buf),
        };
        let roger = TokenManager::load(
            Provider::Roger,
            keys::ROGER_ACCOUNT,
            deps(
                &config.roger.client_id,
                &config.roger.redirect_uri,
                Arc::new(|r: &AccountRecord| MetadataLocation::Rfc8414 {
                    issuer: r.issuer.clone(),
                }),
            ),
        )?;
        let ms_location = Self::microsoft_location(&config);
        let microsoft = TokenManager::load(
            Provider::Microsoft,
            keys::MICROSOFT_ACCOUNT,
            deps(
                &config.microsoft.client.client_id,
                &config.microsoft.client.redirect_uri,
                Arc::new(move |_: &AccountRecord| ms_location.clone()),
            ),
        )?;
        Ok(Self {
            config,
            http,
            regions,
            roger: Arc::new(roger),
            microsoft: Arc::new(microsoft),
            pending: Mutex::new(None),
            store,
            clock,
        })
    }

    fn microsoft_location(config: &Config) -> MetadataLocation {
        MetadataLocation::OpenId {
            authority: config.microsoft.authority.clone(),
            expected_issuer: config.microsoft.expected_issuer.clone(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The core's HTTP client (shared connection pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The Roger regions (cached; see [`RegionDirectory`]).
    pub async fn regions(&self) -> Result<Vec<Region>, Error> {
        self.regions.regions().await
    }

    /// The region directory.
    pub fn region_directory(&self) -> &RegionDirectory {
        &self.regions
    }

    /// The Roger session's token manager.
    pub fn roger(&self) -> &Arc<TokenManager> {
        &self.roger
    }

    /// The Microsoft (OneDrive) session's token manager.
    pub fn microsoft(&self) -> &Arc<TokenManager> {
        &self.microsoft
    }

    /// The region the Roger session belongs to.
    pub async fn signed_in_region(&self) -> Result<Region, Error> {
        let record = self
            .roger
            .record()
            .await
            .ok_or(Error::SignedOut(crate::error::SignOutReason::NeverSignedIn))?;
        let id = record.region.unwrap_or_default();
        let region = self.regions.region(&id).await?;
        if region.issuer != record.issuer {
            // Tokens are bound to the issuer that minted them: never send them elsewhere.
            return Err(Error::invalid(
                "resolving the signed-in region",
                "the region's issuer changed since sign-in",
            ));
        }
        Ok(region)
    }

    async fn region_for_sign_in(&self, region: Option<&str>) -> Result<Region, Error> {
        let id = match (&self.config.preset_region, region) {
            (Some(preset), Some(asked)) if preset != asked => {
                return Err(Error::UnknownRegion(asked.to_owned()))
            }
            (Some(preset), _) => preset.clone(),
            (None, Some(asked)) => asked.to_owned(),
            (None, None) => return Err(Error::UnknownRegion(String::new())),
        };
        self.regions.region(&id).await
    }

    async fn roger_client(&self, region: &Region) -> Result<OAuthClient, Error> {
        let location = MetadataLocation::Rfc8414 {
            issuer: region.issuer.clone(),
        };
        self.roger.sign_in_client(&location).await
    }

    /// Makes `pending` the sign-in in progress, in memory and in the store (so a redirect that
    /// arrives in a new process still completes). A store that cannot keep it costs only that:
    /// the sign-in still completes in this process.
    async fn start(&self, pending: PendingSignIn) {
        let target = match &pending.target {
            SignInTarget::Roger(region) => PendingTarget::Roger {
                region: region.id.clone(),
            },
            SignInTarget::Microsoft => PendingTarget::Microsoft,
        };
        let record = PendingRecord::new(
            target,
            pending.state.clone(),
            pending.verifier.clone(),
            pending.scopes.clone(),
            self.clock.unix_now(),
        );
        if let Ok(mut slot) = self.pending.lock() {
            *slot = Some(pending);
        }
        let saved = match record.to_bytes() {
            Ok(bytes) => {
                crate::store::off_runtime(&self.store, move |store| {
                    store.set(keys::PENDING_SIGN_IN, &bytes)
                })
                .await
            }
            Err(e) => Err(e),
        };
        if let Err(error) = saved {
            tracing::warn!(%error, "the sign-in in progress is kept in memory only");
        }
    }

    /// Forgets the stored sign-in in progress (best effort: an unreadable or expired one is
    /// ignored when read anyway).
    async fn forget_stored_pending(&self) {
        let deleted =
            crate::store::off_runtime(&self.store, |store| store.delete(keys::PENDING_SIGN_IN))
                .await;
        if let Err(error) = deleted {
            tracing::warn!(%error, "could not delete the finished sign-in's record");
        }
    }

    /// The sign-in in progress that a previous process started, rebuilt from the store, when
    /// this process has none. Rebuilding fetches the provider's metadata again.
    async fn restore_pending(&self) -> Result<(), Error> {
        let in_memory = self
            .pending
            .lock()
            .map(|slot| slot.is_some())
            .unwrap_or(false);
        if in_memory {
            return Ok(());
        }
        let bytes =
            crate::store::off_runtime(&self.store, |store| store.get(keys::PENDING_SIGN_IN))
                .await?;
        let Some(record) = bytes.and_then(|b| PendingRecord::from_bytes(&b, self.clock.unix_now()))
        else {
            return Err(SignInError::NotStarted.into());
        };
        let (target, oauth) = match record.target {
            PendingTarget::Roger { region } => {
                let region = self.regions.region(&region).await?;
                let oauth = self.roger_client(&region).await?;
                (SignInTarget::Roger(Box::new(region)), oauth)
            }
            PendingTarget::Microsoft => {
                let oauth = self
                    .microsoft
                    .sign_in_client(&Self::microsoft_location(&self.config))
                    .await?;
                (SignInTarget::Microsoft, oauth)
            }
        };
        if let Ok(mut slot) = self.pending.lock() {
            // A sign-in started meanwhile in this process wins over the stored one.
            slot.get_or_insert(PendingSignIn {
                target,
                oauth,
                state: record.state,
                verifier: record.verifier,
                scopes: record.scopes,
            });
        }
        Ok(())
    }

    /// Starts signing in to Roger in `region` (or the preset region): returns the URL to open in
    /// the system browser. Finish with [`Accounts::complete_sign_in`].
    pub async fn begin_sign_in(&self, region: Option<&str>) -> Result<Url, Error> {
        let region = self.region_for_sign_in(region).await?;
        let oauth = self.roger_client(&region).await?;
        let scopes = self.config.roger.scopes.clone();
        let auth = oauth.authorize(&scopes)?;
        self.start(PendingSignIn {
            target: SignInTarget::Roger(Box::new(region)),
            oauth,
            state: auth.state,
            verifier: auth.verifier,
            scopes,
        })
        .await;
        Ok(auth.url)
    }

    /// Starts signing in to Microsoft (OneDrive): returns the URL to open in the system browser.
    pub async fn begin_microsoft_sign_in(&self) -> Result<Url, Error> {
        let oauth = self
            .microsoft
            .sign_in_client(&Self::microsoft_location(&self.config))
            .await?;
        let scopes = self.config.microsoft.client.scopes.clone();
        let auth = oauth.authorize(&scopes)?;
        self.start(PendingSignIn {
            target: SignInTarget::Microsoft,
            oauth,
            state: auth.state,
            verifier: auth.verifier,
            scopes,
        })
        .await;
        Ok(auth.url)
    }

    /// Finishes a sign-in with the redirect URL the browser came back with. The redirect is
    /// checked (redirect URI, state, issuer) before any token request is sent. The sign-in may
    /// have been started by an earlier process (killed while the browser was open), within
    /// 15 minutes.
    pub async fn complete_sign_in(&self, redirect: &str) -> Result<AuthState, Error> {
        self.restore_pending().await?;
        let result = self.finish_sign_in(redirect).await;
        if !matches!(
            result,
            Err(Error::SignIn(
                SignInError::StateMismatch | SignInError::RedirectMismatch
            ))
        ) {
            // Done, or failed for good: a stored copy must not be replayed.
            self.forget_stored_pending().await;
        }
        result
    }

    async fn finish_sign_in(&self, redirect: &str) -> Result<AuthState, Error> {
        let (pending, code) = {
            let mut slot = self
                .pending
                .lock()
                .map_err(|_| Error::SignIn(SignInError::NotStarted))?;
            let pending = slot.as_ref().ok_or(SignInError::NotStarted)?;
            let meta = pending.oauth.metadata();
            let registered = match pending.target {
                SignInTarget::Roger(_) => &self.config.roger.redirect_uri,
                SignInTarget::Microsoft => &self.config.microsoft.client.redirect_uri,
            };
            let checked = check_redirect(
                redirect,
                &ExpectedRedirect {
                    redirect_uri: registered,
                    state: &pending.state,
                    issuer: &meta.issuer,
                    iss_required: meta.authorization_response_iss_parameter_supported,
                },
            );
            match checked {
                // A response that is not ours (wrong state/target) leaves the real one pending.
                Err(e @ (SignInError::StateMismatch | SignInError::RedirectMismatch)) => {
                    return Err(e.into())
                }
                Err(e) => {
                    *slot = None;
                    return Err(e.into());
                }
                Ok(response) => (slot.take().ok_or(SignInError::NotStarted)?, response.code),
            }
        };
        let PendingSignIn {
            target,
            oauth,
            verifier,
            scopes,
            ..
        } = pending;
        let grant = oauth
            .exchange_code(code.expose(), &verifier, &scopes)
            .await?;
        let (manager, identity, region, audience) = match target {
            SignInTarget::Roger(region) => (
                &self.roger,
                read_roger_me(&self.http, &region, &grant.access_token).await,
                Some(region.id),
                region.api_url,
            ),
            SignInTarget::Microsoft => (
                &self.microsoft,
                read_graph_me(&self.http, &self.config, &grant.access_token).await,
                None,
                self.config.graph_url.clone(),
            ),
        };
        let identity = Self::identity_or_revoke(&oauth, &grant, identity).await?;
        manager
            .install(oauth, grant, region, &audience, identity)
            .await?;
        Ok(manager.state())
    }

    /// Signs in to Roger with a password (legacy; only tenants that allow it). The password is
    /// used for this one request and never stored or logged.
    pub async fn sign_in_with_password(
        &self,
        region: Option<&str>,
        username: &str,
        password: Secret,
    ) -> Result<AuthState, Error> {
        let region = self.region_for_sign_in(region).await?;
        let oauth = self.roger_client(&region).await?;
        let grant = oauth
            .password(username, &password, &self.config.roger.scopes)
            .await?;
        drop(password);
        let identity = read_roger_me(&self.http, &region, &grant.access_token).await;
        let identity = Self::identity_or_revoke(&oauth, &grant, identity).await?;
        self.roger
            .install(oauth, grant, Some(region.id), &region.api_url, identity)
            .await?;
        Ok(self.roger.state())
    }

    /// Keeps a grant only with a known owner: when reading who signed in failed, the grant is
    /// revoked (best effort; Microsoft has no revocation endpoint) and the sign-in fails whole,
    /// so no half-known account is stored.
    async fn identity_or_revoke(
        oauth: &OAuthClient,
        grant: &crate::oauth::TokenGrant,
        identity: Result<Identity, Error>,
    ) -> Result<Identity, Error> {
        if identity.is_err() {
            if let Some(rt) = &grant.refresh_token {
                let _ = oauth.revoke(rt).await;
            }
        }
        identity
    }

    /// Signs out of both accounts: wipes every secret, then revokes the refresh tokens in the
    /// background (best effort); see [`TokenManager::sign_out`].
    pub async fn sign_out(&self) -> Result<crate::auth::Revocation, Error> {
        if let Ok(mut slot) = self.pending.lock() {
            *slot = None;
        }
        self.forget_stored_pending().await;
        let roger = self.roger.sign_out().await;
        let microsoft = self.microsoft.sign_out().await;
        Ok(roger?.join(microsoft?))
    }
}
