//! The OneDrive operations of the app: the "Print" and "Scan" folders, browsing, download URLs,
//! and what happens to a file after printing.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use graph_http::api_impl::RequestHandler;
use graph_rs_sdk::GraphClient;

use super::graph::Graph;
use super::item::{sort_for_browsing, DriveItem, RawItem};
use super::names::{validate_name, NameError};
use crate::auth::TokenManager;
use crate::config::Config;
use crate::error::Error;

/// Uploads that run at once by default; more wait for a slot.
pub const DEFAULT_PARALLEL_UPLOADS: usize = 2;
/// Page size asked of Graph when listing.
const PAGE_SIZE: &str = "200";
/// Most items one listing returns (a guard against a server that pages forever).
const MAX_LISTED: usize = 100_000;

/// The app's folders at the root of the user's OneDrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownFolder {
    /// "Print": files to print.
    Print,
    /// "Scan": where scans arrive.
    Scan,
    /// "Printed": where printed files can be moved.
    Printed,
}

impl KnownFolder {
    /// The folder's name in OneDrive.
    pub fn name(self) -> &'static str {
        match self {
            KnownFolder::Print => "Print",
            KnownFolder::Scan => "Scan",
            KnownFolder::Printed => "Printed",
        }
    }
}

/// What to do with a file in "Print" once it has printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterPrint {
    /// Leave it where it is.
    Keep,
    /// Delete it.
    Delete,
    /// Move it into "Printed" (renamed on a name clash).
    MoveToPrinted,
}

/// A typed OneDrive failure the UI can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriveError {
    /// The name breaks OneDrive's rules.
    #[error("invalid name: {0}")]
    InvalidName(#[from] NameError),
    /// The item does not exist (any more).
    #[error("the item no longer exists")]
    NotFound,
    /// A file or folder with that name is in the way.
    #[error("a file or folder with that name already exists")]
    NameConflict,
}

#[derive(Debug, Deserialize)]
struct Page {
    value: Vec<RawItem>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// The user's OneDrive, as the app uses it.
pub struct OneDrive {
    pub(crate) graph: Graph,
    /// Client for pre-authenticated URLs (uploads, downloads): never carries a bearer token.
    pub(crate) transfer_http: reqwest::Client,
    /// Bounds how many uploads run at once (each holds a fragment buffer and a connection).
    pub(crate) upload_slots: Arc<tokio::sync::Semaphore>,
    folders: Mutex<HashMap<KnownFolder, String>>,
}

impl std::fmt::Debug for OneDrive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneDrive").finish_non_exhaustive()
    }
}

fn drive_error(e: Error) -> std::result::Result<Error, DriveError> {
    match &e {
        Error::Http { status: 404, .. } => Err(DriveError::NotFound),
        Error::Http { status: 409, .. } => Err(DriveError::NameConflict),
        _ => Ok(e),
    }
}

/// Either a typed drive error or a general one.
#[derive(Debug, thiserror::Error)]
pub enum OneDriveError {
    /// Something the user can fix or should be told about precisely.
    #[error(transparent)]
    Drive(#[from] DriveError),
    /// Network, auth, throttling, server.
    #[error(transparent)]
    Core(#[from] Error),
}

impl OneDriveError {
    pub(crate) fn from_core(e: Error) -> Self {
        match drive_error(e) {
            Ok(e) => OneDriveError::Core(e),
            Err(d) => OneDriveError::Drive(d),
        }
    }
}

type Result<T> = std::result::Result<T, OneDriveError>;

pub(super) fn parse_item(context: &'static str, raw: RawItem) -> Result<DriveItem> {
    raw.into_item()
        .map_err(|why| OneDriveError::Core(Error::invalid(context, why)))
}

impl OneDrive {
    /// OneDrive of the account behind `tokens` (the Microsoft token manager).
    pub fn new(config: &Config, tokens: Arc<TokenManager>) -> std::result::Result<Self, Error> {
        let transfer_http = crate::net::transfer_client(config)?;
        Ok(Self {
            graph: Graph::new(config, tokens)?,
            transfer_http,
            upload_slots: Arc::new(tokio::sync::Semaphore::new(DEFAULT_PARALLEL_UPLOADS)),
            folders: Mutex::new(HashMap::new()),
        })
    }

    /// Sets how many uploads may run at once (at least one).
    pub fn set_parallel_uploads(&mut self, n: usize) {
        self.upload_slots = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
    }

    /// Replaces the retry policy (tests use short waits).
    pub fn set_retry_policy(&mut self, policy: super::RetryPolicy) {
        self.graph.retry = policy;
    }

    /// The id of a known folder: the remembered id while it is still that folder, else looked up
    /// by path, else created (`conflictBehavior: fail`; a 409 means a concurrent creation won,
    /// so it is looked up again). Recovers when the folder was deleted or renamed meanwhile.
    pub async fn folder_id(&self, folder: KnownFolder) -> Result<String> {
        let mut folders = self.folders.lock().await;
        if let Some(id) = folders.get(&folder).cloned() {
            match self.item(&id).await {
                Ok(item) if item.is_folder() && item.name == folder.name() => return Ok(id),
                Ok(_) | Err(OneDriveError::Drive(DriveError::NotFound)) => {
                    folders.remove(&folder);
                }
                Err(e) => return Err(e),
            }
        }
        let id = match self.lookup_root_child(folder.name()).await? {
            Some(id) => id,
            None => match self.create_root_folder(folder.name()).await {
                Ok(id) => id,
                Err(OneDriveError::Drive(DriveError::NameConflict)) => self
                    .lookup_root_child(folder.name())
                    .await?
                    .ok_or(OneDriveError::Drive(DriveError::NotFound))?,
                Err(e) => return Err(e),
            },
        };
        folders.insert(folder, id.clone());
        Ok(id)
    }

    async fn lookup_root_child(&self, name: &str) -> Result<Option<String>> {
        const CTX: &str = "looking up a OneDrive folder";
        let path = format!(":/{name}:");
        let result: std::result::Result<RawItem, Error> = self
            .graph
            .json(CTX, true, |g| {
                g.me().drive().item_by_path(&path).get_items()
            })
            .await;
        match result.map_err(OneDriveError::from_core) {
            Ok(raw) => {
                let item = parse_item(CTX, raw)?;
                if item.is_folder() {
                    Ok(Some(item.id))
                } else {
                    // A file where the folder should be: creating would clash.
                    Err(OneDriveError::Drive(DriveError::NameConflict))
                }
            }
            Err(OneDriveError::Drive(DriveError::NotFound)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_root_folder(&self, name: &str) -> Result<String> {
        const CTX: &str = "creating a OneDrive folder";
        let body = serde_json::json!({
            "name": name,
            "folder": {},
            "@microsoft.graph.conflictBehavior": "fail",
        });
        let raw: RawItem = self
            .graph
            .json(CTX, false, |g| {
                g.me().drive().item("root").create_children(&body)
            })
            .await
            .map_err(OneDriveError::from_core)?;
        Ok(parse_item(CTX, raw)?.id)
    }

    /// One item by id.
    pub async fn item(&self, id: &str) -> Result<DriveItem> {
        const CTX: &str = "reading a OneDrive item";
        let raw: RawItem = self
            .graph
            .json(CTX, true, |g| g.me().drive().item(id).get_items())
            .await
            .map_err(OneDriveError::from_core)?;
        parse_item(CTX, raw)
    }

    /// Every child of a folder, all pages followed, sorted for browsing (folders first, then
    /// by name). Each item appears once even if pages overlap.
    pub async fn children(&self, folder_id: &str) -> Result<Vec<DriveItem>> {
        let mut items = self
            .list_all(|g| g.me().drive().item(folder_id).list_children())
            .await?;
        sort_for_browsing(&mut items);
        Ok(items)
    }

    /// Follows every page of the listing `first` requests; items in the server's order.
    async fn list_all(
        &self,
        first: impl Fn(&GraphClient) -> RequestHandler,
    ) -> Result<Vec<DriveItem>> {
        const CTX: &str = "listing a OneDrive folder";
        let mut items: Vec<DriveItem> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut next: Option<Url> = None;
        loop {
            let page: Page = self
                .graph
                .json(CTX, true, |g| {
                    let request = first(g);
                    match &next {
                        None => request.append_query_pair("$top", PAGE_SIZE),
                        Some(link) => {
                            let mut request = request;
                            *request.as_mut() = link.clone();
                            request
                        }
                    }
                })
                .await
                .map_err(OneDriveError::from_core)?;
            for raw in page.value {
                let item = parse_item(CTX, raw)?;
                if seen.insert(item.id.clone()) {
                    items.push(item);
                }
            }
            if items.len() > MAX_LISTED {
                return Err(Error::invalid(CTX, "the folder lists too many items").into());
            }
            match page.next_link {
                None => break,
                Some(link) => {
                    let url = Url::parse(&link)
                        .map_err(|_| Error::invalid(CTX, "nextLink is not a URL"))?;
                    // Never send the bearer token anywhere but Graph.
                    if !self.graph.owns(&url) {
                        return Err(Error::invalid(CTX, "nextLink leaves Graph").into());
                    }
                    next = Some(url);
                }
            }
        }
        Ok(items)
    }

    /// The "Print" folder's contents, sorted for browsing (folders first, then by name).
    pub async fn list_print(&self) -> Result<Vec<DriveItem>> {
        let mut items = self.known_children(KnownFolder::Print).await?;
        sort_for_browsing(&mut items);
        Ok(items)
    }

    /// The "Scan" folder's files, newest first.
    pub async fn list_scans(&self) -> Result<Vec<DriveItem>> {
        let mut items = self.known_children(KnownFolder::Scan).await?;
        items.retain(|i| !i.is_folder());
        items.sort_by(|a, b| b.last_modified.cmp(&a.last_modified).then(a.id.cmp(&b.id)));
        Ok(items)
    }

    /// The children of a known folder, addressed by path: one request per page, always the
    /// folder that bears the name now (renames and deletions need no extra lookup). A missing
    /// folder is created, and is empty.
    async fn known_children(&self, folder: KnownFolder) -> Result<Vec<DriveItem>> {
        let path = format!(":/{}:", folder.name());
        match self
            .list_all(|g| g.me().drive().item_by_path(&path).list_children())
            .await
        {
            Err(OneDriveError::Drive(DriveError::NotFound)) => {
                self.folder_id(folder).await?;
                Ok(Vec::new())
            }
            other => other,
        }
    }

    /// A short-lived pre-authenticated download URL for a file (what a print job carries).
    pub async fn download_url(&self, item_id: &str) -> Result<Url> {
        self.download_link(item_id).await.map(|(url, _)| url)
    }

    /// The item's pre-authenticated download URL and its size in bytes as Graph reports it.
    pub(crate) async fn download_link(&self, item_id: &str) -> Result<(Url, u64)> {
        const CTX: &str = "getting a download URL";
        let raw: RawItem = self
            .graph
            .json(CTX, true, |g| g.me().drive().item(item_id).get_items())
            .await
            .map_err(OneDriveError::from_core)?;
        let link = raw
            .download_url
            .ok_or_else(|| Error::invalid(CTX, "the item has no download URL (a folder?)"))?;
        let url = Url::parse(&link).map_err(|_| Error::invalid(CTX, "bad download URL"))?;
        self.graph
            .check_url(&url)
            .map_err(|why| Error::invalid(CTX, why))?;
        Ok((url, raw.size))
    }

    /// Applies the user's choice for a printed file.
    pub async fn after_print(&self, item_id: &str, choice: AfterPrint) -> Result<()> {
        match choice {
            AfterPrint::Keep => Ok(()),
            AfterPrint::Delete => self.delete(item_id).await,
            AfterPrint::MoveToPrinted => {
                let target = self.folder_id(KnownFolder::Printed).await?;
                self.move_item(item_id, &target).await.map(|_| ())
            }
        }
    }

    /// Deletes an item; an item that is already gone counts as deleted.
    pub async fn delete(&self, item_id: &str) -> Result<()> {
        const CTX: &str = "deleting a OneDrive item";
        let response = self
            .graph
            .send(CTX, true, |g| g.me().drive().item(item_id).delete_items())
            .await?;
        match crate::net::check_status(CTX, response).await {
            Ok(_) => Ok(()),
            Err(Error::Http { status: 404, .. }) => Ok(()),
            Err(e) => Err(OneDriveError::from_core(e)),
        }
    }

    /// Moves an item into a folder, renamed by OneDrive on a name clash.
    pub async fn move_item(&self, item_id: &str, folder_id: &str) -> Result<DriveItem> {
        const CTX: &str = "moving a OneDrive item";
        let body = serde_json::json!({
            "parentReference": { "id": folder_id },
            "@microsoft.graph.conflictBehavior": "rename",
        });
        let raw: RawItem = self
            .graph
            .json(CTX, false, |g| {
                g.me().drive().item(item_id).update_items(&body)
            })
            .await
            .map_err(OneDriveError::from_core)?;
        parse_item(CTX, raw)
    }

    /// Checks a name the user chose for an upload or a folder.
    pub fn check_name(name: &str) -> Result<()> {
        validate_name(name).map_err(|e| OneDriveError::Drive(e.into()))
    }
}
