//! The Microsoft identity platform and Graph OneDrive emulator: an identity host (OpenID
//! discovery, authorization code with PKCE, refresh rotation), a Graph host (`/v1.0/me`, the
//! OneDrive subset the core uses) and a content host (pre-authenticated upload and download
//! URLs), each on its own loopback port, sharing the cloud's clock and seeded people.

pub mod config;
pub mod directory;
pub mod graph;
pub mod identity;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use rand::RngCore;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use crate::clock::{SimClock, SimTime};
use crate::config::SimConfig;
use crate::error::SimError;
use config::MicrosoftConfig;
use directory::Directory;
use graph::drive::{Conflict, Drive, Drives, FileContent, NewItem};
use graph::faults::{Faults, GraphStats};
use identity::authorize::{self, Outcome};
use identity::store::AuthStore;
use identity::IdentityStats;

/// State shared by the three hosts.
pub(crate) type MsShared = Arc<MsState>;

/// Everything the emulator knows.
pub(crate) struct MsState {
    pub config: Arc<SimConfig>,
    pub clock: SimClock,
    /// Identity base URL, ending with `/`.
    pub identity_url: Url,
    /// Graph base URL including `v1.0/`.
    pub graph_url: Url,
    /// Content host base URL, ending with `/`.
    pub content_url: Url,
    pub directory: Directory,
    pub faults: Faults,
    pub graph_stats: GraphStats,
    pub identity_stats: IdentityStats,
    /// Key of the HMAC that makes download URLs pre-authenticated.
    pub signing_key: [u8; 32],
    auth: Mutex<AuthStore>,
    drives: Mutex<Drives>,
}

impl MsState {
    pub fn ms(&self) -> &MicrosoftConfig {
        &self.config.microsoft
    }

    pub fn now(&self) -> SimTime {
        self.clock.now()
    }

    /// Codes and tokens, after forgetting what is long expired. Never held across an `.await`.
    pub fn auth(&self) -> MutexGuard<'_, AuthStore> {
        let mut auth = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
        auth.sweep(self.now());
        auth
    }

    /// Drives and upload sessions, after dropping expired sessions. Never held across an `.await`.
    pub fn drives(&self) -> MutexGuard<'_, Drives> {
        let mut drives = self.drives.lock().unwrap_or_else(PoisonError::into_inner);
        drives.sweep(self.now());
        drives
    }
}

/// The running emulator: its handles and server tasks.
pub(crate) struct Started {
    pub identity: IdentityHandle,
    pub graph: GraphHandle,
    pub tasks: Vec<JoinHandle<()>>,
}

/// Binds the identity, Graph and content hosts on loopback and starts serving.
pub(crate) async fn start(
    config: Arc<SimConfig>,
    clock: SimClock,
    shutdown: watch::Receiver<bool>,
) -> Result<Started, SimError> {
    config.microsoft.check().map_err(SimError::Config)?;
    let (identity_listener, identity_url) = crate::bind().await?;
    let (graph_listener, graph_origin) = crate::bind().await?;
    let (content_listener, content_url) = crate::bind().await?;
    let graph_url = crate::join(&graph_origin, "v1.0/")?;
    let directory = Directory::seed(&config);
    let drives = Drives::seed(
        directory.users.iter().map(|u| u.id.as_str()),
        clock.now(),
        config.microsoft.drive_quota_bytes,
    );
    let mut signing_key = [0u8; 32];
    rand::rng().fill_bytes(&mut signing_key);
    let state = Arc::new(MsState {
        config,
        clock,
        identity_url: identity_url.clone(),
        graph_url: graph_url.clone(),
        content_url: content_url.clone(),
        directory,
        faults: Faults::default(),
        graph_stats: GraphStats::default(),
        identity_stats: IdentityStats::default(),
        signing_key,
        auth: Mutex::new(AuthStore::default()),
        drives: Mutex::new(drives),
    });
    let tasks = vec![
        crate::serve(
            identity_listener,
            identity::router(state.clone()),
            shutdown.clone(),
        ),
        crate::serve(
            graph_listener,
            graph::router(state.clone()),
            shutdown.clone(),
        ),
        graph::content::serve(content_listener, state.clone(), shutdown),
    ];
    tracing::info!(identity = %identity_url, graph = %graph_url, "Microsoft emulator started");
    Ok(Started {
        identity: IdentityHandle {
            url: identity_url,
            state: state.clone(),
        },
        graph: GraphHandle {
            url: graph_url,
            content_url,
            state,
        },
        tasks,
    })
}

/// The emulated Microsoft identity platform, with hooks for tests.
#[derive(Clone)]
pub struct IdentityHandle {
    /// Base URL, ending with `/`: authorities are `{url}{tenant}/v2.0`.
    pub url: Url,
    state: MsShared,
}

impl IdentityHandle {
    /// The authority for `tenant` (`organizations`, `common`, a tenant id or a domain),
    /// e.g. `http://127.0.0.1:P/organizations/v2.0`.
    pub fn authority(&self, tenant: &str) -> Url {
        crate::join(&self.url, &format!("{tenant}/v2.0")).unwrap_or_else(|_| self.url.clone())
    }

    /// The OpenID discovery document URL of `tenant`.
    pub fn metadata_url(&self, tenant: &str) -> Url {
        crate::join(
            &self.url,
            &format!("{tenant}/v2.0/.well-known/openid-configuration"),
        )
        .unwrap_or_else(|_| self.url.clone())
    }

    /// The registered public client id.
    pub fn client_id(&self) -> &str {
        &self.state.ms().client_id
    }

    /// The directory id of the Microsoft tenant mirroring a Roger tenant (e.g. `contoso`).
    pub fn tenant_id(&self, roger_tenant: &str) -> Option<String> {
        self.state
            .directory
            .tenants
            .iter()
            .find(|t| t.roger_id == roger_tenant)
            .map(|t| t.id.clone())
    }

    /// The object id (`/me` `id`) of a user.
    pub fn user_id(&self, email: &str) -> Option<String> {
        self.state
            .directory
            .user_by_upn(email)
            .map(|u| u.id.clone())
    }

    /// Request counters of the token and authorization endpoints.
    pub fn stats(&self) -> &IdentityStats {
        &self.state.identity_stats
    }

    /// Plays the browser at the authorization endpoint: takes the URL the client built, signs in
    /// and returns the redirect the browser would hand back (with `code` and `state`, or an OAuth
    /// `error`). Wrong credentials, or a request that cannot be redirected, give
    /// [`SimError::Login`].
    pub fn browser_login(
        &self,
        authorize_url: &Url,
        username: &str,
        password: &str,
    ) -> Result<Url, SimError> {
        self.browser_submit(
            authorize_url,
            &[
                ("username", username),
                ("password", password),
                ("action", "approve"),
            ],
        )
    }

    /// Plays the browser cancelling the sign-in: the `error=access_denied` redirect.
    pub fn browser_deny(&self, authorize_url: &Url) -> Result<Url, SimError> {
        self.browser_submit(authorize_url, &[("action", "deny")])
    }

    fn browser_submit(
        &self,
        authorize_url: &Url,
        fields: &[(&str, &str)],
    ) -> Result<Url, SimError> {
        let tenant = authorize_url
            .path()
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix("/oauth2/v2.0/authorize"))
            .filter(|t| !t.is_empty() && !t.contains('/'));
        let (Some(tenant), true) = (tenant, authorize_url.origin() == self.url.origin()) else {
            return Err(SimError::Login(format!(
                "not an authorization endpoint of {}",
                self.url
            )));
        };
        let mut params = crate::extract::parse_unique_pairs(
            authorize_url.query().unwrap_or_default().as_bytes(),
        )
        .map_err(SimError::Login)?;
        for (name, value) in fields {
            params.insert(name.to_string(), value.to_string());
        }
        match authorize::decide(&self.state, tenant, &params) {
            Outcome::Redirect(url) => Ok(url),
            Outcome::Page {
                status, message, ..
            } => Err(SimError::Login(format!("{status}: {message}"))),
        }
    }

    /// An administrator revokes every token of a user ("revoke sessions"): refreshes then fail
    /// with AADSTS50173 and Graph refuses the access tokens. Returns how many were live.
    pub fn revoke_user_sessions(&self, email: &str) -> usize {
        match self.state.directory.user_by_upn(email) {
            Some(user) => self.state.auth().revoke_user(&user.id),
            None => 0,
        }
    }
}

impl fmt::Debug for IdentityHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityHandle")
            .field("url", &self.url.as_str())
            .finish()
    }
}

/// One item of a [`GraphHandle::list`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriveEntry {
    pub id: String,
    pub name: String,
    pub folder: bool,
    pub size: u64,
    pub last_modified: SimTime,
}

/// The emulated Graph API and its content host, with hooks for tests. Paths given to the hooks
/// are plain (not percent-encoded), `/`-separated and relative to the drive root, e.g.
/// `Print/Report Q3.pdf`.
#[derive(Clone)]
pub struct GraphHandle {
    /// Graph base URL including `v1.0/`, e.g. `http://127.0.0.1:P/v1.0/`.
    pub url: Url,
    /// Base URL of the content host that serves upload and download URLs.
    pub content_url: Url,
    state: MsShared,
}

fn split_plain(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

impl GraphHandle {
    /// The fault switches.
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Request counters of the Graph and content hosts.
    pub fn stats(&self) -> &GraphStats {
        &self.state.graph_stats
    }

    fn with_drive<T>(
        &self,
        email: &str,
        f: impl FnOnce(&mut Drive, SimTime) -> Result<T, SimError>,
    ) -> Result<T, SimError> {
        let user = self
            .state
            .directory
            .user_by_upn(email)
            .ok_or_else(|| SimError::Drive(format!("no user `{email}`")))?;
        let now = self.state.now();
        let mut drives = self.state.drives();
        let drive = drives
            .drive_mut(&user.id)
            .ok_or_else(|| SimError::Drive("the user has no drive".into()))?;
        f(drive, now)
    }

    fn graph_error(e: graph::error::GraphError) -> SimError {
        SimError::Drive(format!("{} {}", e.status().as_u16(), e.code()))
    }

    /// Creates the folder at `path` and any missing parent (like `mkdir -p`): its id.
    pub fn create_folder(&self, email: &str, path: &str) -> Result<String, SimError> {
        self.with_drive(email, |drive, now| {
            mkdir_p(drive, &split_plain(path), now).map_err(Self::graph_error)
        })
    }

    /// Stores a file (replacing one of the same name), creating missing folders: its id.
    pub fn put_file(
        &self,
        email: &str,
        path: &str,
        bytes: impl Into<Vec<u8>>,
    ) -> Result<String, SimError> {
        let mut segments = split_plain(path);
        let name = segments
            .pop()
            .ok_or_else(|| SimError::Drive("empty path".into()))?;
        let content = FileContent::new(Bytes::from(bytes.into()));
        self.with_drive(email, |drive, now| {
            let parent = mkdir_p(drive, &segments, now).map_err(Self::graph_error)?;
            drive
                .create(
                    &parent,
                    &name,
                    NewItem::File(content),
                    Conflict::Replace,
                    now,
                )
                .map(|(id, _)| id)
                .map_err(Self::graph_error)
        })
    }

    /// The bytes of the file at `path`.
    pub fn file_bytes(&self, email: &str, path: &str) -> Option<Vec<u8>> {
        self.with_drive(email, |drive, _| {
            let root = drive.root_id.clone();
            Ok(drive
                .resolve(&root, &split_plain(path))
                .ok()
                .and_then(|item| item.file())
                .map(|f| f.bytes.to_vec()))
        })
        .ok()
        .flatten()
    }

    /// The children of the folder at `path` (`""` for the root), by name.
    pub fn list(&self, email: &str, folder_path: &str) -> Option<Vec<DriveEntry>> {
        self.with_drive(email, |drive, _| {
            let root = drive.root_id.clone();
            let Ok(folder) = drive.resolve(&root, &split_plain(folder_path)) else {
                return Ok(None);
            };
            let mut entries: Vec<DriveEntry> = drive
                .children_of(folder)
                .into_iter()
                .map(|i| DriveEntry {
                    id: i.id.clone(),
                    name: i.name.clone(),
                    folder: i.is_folder(),
                    size: i.size(),
                    last_modified: i.modified,
                })
                .collect();
            entries.sort_by_key(|a| a.name.to_lowercase());
            Ok(folder.is_folder().then_some(entries))
        })
        .ok()
        .flatten()
    }

    /// The id of the item at `path`.
    pub fn item_id(&self, email: &str, path: &str) -> Option<String> {
        self.with_drive(email, |drive, _| {
            let root = drive.root_id.clone();
            Ok(drive
                .resolve(&root, &split_plain(path))
                .ok()
                .map(|i| i.id.clone()))
        })
        .ok()
        .flatten()
    }

    /// The user's drive id.
    pub fn drive_id(&self, email: &str) -> Option<String> {
        self.with_drive(email, |drive, _| Ok(drive.id.clone())).ok()
    }

    /// Deletes the item at `path` (behind the client's back): whether it existed.
    pub fn delete(&self, email: &str, path: &str) -> bool {
        self.with_drive(email, |drive, now| {
            let root = drive.root_id.clone();
            let Ok(id) = drive
                .resolve(&root, &split_plain(path))
                .map(|i| i.id.clone())
            else {
                return Ok(false);
            };
            Ok(drive.delete(&id, now).is_ok())
        })
        .unwrap_or(false)
    }

    /// Renames the item at `path` (behind the client's back); fails if the name is taken.
    pub fn rename(&self, email: &str, path: &str, new_name: &str) -> Result<(), SimError> {
        self.with_drive(email, |drive, now| {
            let root = drive.root_id.clone();
            let id = drive
                .resolve(&root, &split_plain(path))
                .map_err(Self::graph_error)?
                .id
                .clone();
            drive
                .move_item(&id, None, Some(new_name), Conflict::Fail, now)
                .map_err(Self::graph_error)
        })
    }

    /// Moves the item at `path` into the folder at `new_parent_path`.
    pub fn move_item(
        &self,
        email: &str,
        path: &str,
        new_parent_path: &str,
    ) -> Result<(), SimError> {
        self.with_drive(email, |drive, now| {
            let root = drive.root_id.clone();
            let id = drive
                .resolve(&root, &split_plain(path))
                .map_err(Self::graph_error)?
                .id
                .clone();
            let parent = drive
                .resolve(&root, &split_plain(new_parent_path))
                .map_err(Self::graph_error)?
                .id
                .clone();
            drive
                .move_item(&id, Some(&parent), None, Conflict::Fail, now)
                .map_err(Self::graph_error)
        })
    }

    /// Sets the `lastModifiedDateTime` of the item at `path` (to order listings in a test).
    pub fn set_last_modified(&self, email: &str, path: &str, at: SimTime) -> bool {
        self.with_drive(email, |drive, _| {
            let root = drive.root_id.clone();
            let Ok(id) = drive
                .resolve(&root, &split_plain(path))
                .map(|i| i.id.clone())
            else {
                return Ok(false);
            };
            Ok(drive.set_modified(&id, at))
        })
        .unwrap_or(false)
    }

    /// Upload sessions of this user that are still open.
    pub fn open_upload_sessions(&self, email: &str) -> usize {
        let Some(user) = self.state.directory.user_by_upn(email) else {
            return 0;
        };
        self.state
            .drives()
            .sessions
            .values()
            .filter(|s| s.user_id == user.id)
            .count()
    }
}

/// Resolves `segments` from the root, creating missing folders: the last folder's id.
fn mkdir_p(
    drive: &mut Drive,
    segments: &[String],
    now: SimTime,
) -> Result<String, graph::error::GraphError> {
    let mut current = drive.root_id.clone();
    for segment in segments {
        let parent = drive
            .get(&current)
            .ok_or_else(graph::error::GraphError::not_found)?;
        current = match drive.child(parent, segment) {
            Some(existing) if existing.is_folder() => existing.id.clone(),
            Some(_) => return Err(graph::error::GraphError::name_exists()),
            None => {
                drive
                    .create(&current, segment, NewItem::Folder, Conflict::Fail, now)?
                    .0
            }
        };
    }
    Ok(current)
}

impl fmt::Debug for GraphHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphHandle")
            .field("url", &self.url.as_str())
            .field("content_url", &self.content_url.as_str())
            .finish()
    }
}
