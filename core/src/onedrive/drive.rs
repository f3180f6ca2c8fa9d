//! The OneDrive operations of the app: the "Print" and "Scan" folders, browsing, download URLs,
//! and what happens to a file after printing.

use std::collections::{HashMap, HashSet};
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
const LIST_CTX: &str = "listing a OneDrive folder";

/// Bounds on following `@odata.nextLink`: items are deduplicated, so a server whose links
/// repeat pages would otherwise never reach the item cap.
#[derive(Debug, Clone, Copy)]
struct PageLimits {
    /// Most pages followed in one listing.
    pages: usize,
    /// Most distinct items in one listing.
    items: usize,
    /// Pages in a row that add no new item before the listing is given up.
    stale_pages: usize,
}

/// Graph may send short pages, so the page cap leaves room beyond `MAX_LISTED / PAGE_SIZE`.
const LISTING_LIMITS: PageLimits = PageLimits {
    pages: 2_000,
    items: MAX_LISTED,
    stale_pages: 3,
};

/// Fetches pages with `fetch` (`None`: the first page, else the nextLink to follow) until one
/// has no nextLink. Every nextLink must be one `owns` accepts (the bearer token goes with it)
/// and must not repeat a link already followed; the listing stops with a typed error when the
/// pages, the items or the pages in a row without a new item exceed `limits`.
async fn follow_pages<F, Fut>(
    limits: PageLimits,
    owns: impl Fn(&Url) -> bool,
    mut fetch: F,
) -> Result<Vec<DriveItem>>
where
    F: FnMut(Option<Url>) -> Fut,
    Fut: std::future::Future<Output = Result<Page>>,
{
    let fail = |why: &str| -> OneDriveError { Error::invalid(LIST_CTX, why).into() };
    let mut items: Vec<DriveItem> = Vec::new();
    let mut seen = HashSet::new();
    let mut followed = HashSet::new();
    let mut stale = 0usize;
    let mut next: Option<Url> = None;
    let mut pages = 0usize;
    loop {
        let page = fetch(next.take()).await?;
        pages += 1;
        let before = items.len();
        for raw in page.value {
            let item = parse_item(LIST_CTX, raw)?;
            if seen.insert(item.id.clone()) {
                items.push(item);
            }
        }
        if items.len() > limits.items {
            return Err(fail("the folder lists too many items"));
        }
        stale = if items.len() == before { stale + 1 } else { 0 };
        let Some(link) = page.next_link else {
            return Ok(items);
        };
        if pages >= limits.pages {
            return Err(fail("the listing has too many pages"));
        }
        if stale >= limits.stale_pages {
            return Err(fail(
                "the listing's pages keep repeating items already listed",
            ));
        }
        let url = Url::parse(&link).map_err(|_| fail("nextLink is not a URL"))?;
        // Never send the bearer token anywhere but Graph.
        if !owns(&url) {
            return Err(fail("nextLink leaves Graph"));
        }
        if !followed.insert(url.as_str().to_owned()) {
            return Err(fail("nextLink repeats a page already followed"));
        }
        next = Some(url);
    }
}

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
    /// The user's OneDrive has no room for the file (Graph's 507 Insufficient Storage,
    /// `quotaLimitReached`): retrying will not help; the user must free space or get more.
    #[error("OneDrive is full")]
    Full,
}

#[derive(Debug, Deserialize)]
struct Page {
    value: Vec<RawItem>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

const LINK_CTX: &str = "getting a download URL";

/// What a download needs from its item. The URL is pre-authenticated (a secret for as long as
/// it is valid): no `Debug`, never logged.
pub(crate) struct DownloadLink {
    /// `@microsoft.graph.downloadUrl`, valid for a few minutes.
    pub(crate) url: Url,
    /// The item's size in bytes as Graph reports it.
    pub(crate) size: u64,
    /// The item's content version (`cTag`, else `eTag`): a different one means other bytes.
    pub(crate) version: Option<String>,
}

/// The download link of an item Graph returned; `check` vets the URL (HTTPS, no credentials).
pub(crate) fn download_link_of(
    raw: RawItem,
    check: impl Fn(&Url) -> std::result::Result<(), String>,
) -> std::result::Result<DownloadLink, Error> {
    let link = raw
        .download_url
        .as_deref()
        .ok_or_else(|| Error::invalid(LINK_CTX, "the item has no download URL (a folder?)"))?;
    let url = Url::parse(link).map_err(|_| Error::invalid(LINK_CTX, "bad download URL"))?;
    check(&url).map_err(|why| Error::invalid(LINK_CTX, why))?;
    let version = raw
        .c_tag
        .or(raw.e_tag)
        .filter(|t| !t.is_empty() && t.len() <= 512);
    Ok(DownloadLink {
        url,
        size: raw.size,
        version,
    })
}

/// The user's OneDrive, as the app uses it.
pub struct OneDrive {
    pub(crate) graph: Graph,
    /// Client for pre-authenticated URLs (downloads, upload-session status): never carries a
    /// bearer token; bounded per read.
    pub(crate) transfer_http: reqwest::Client,
    /// Client for requests that send file content (simple uploads, upload fragments): each gets
    /// a deadline scaled to its size instead of the fixed one (see `super::deadline`).
    pub(crate) upload_http: reqwest::Client,
    /// The request timeout: what a content request's deadline starts from.
    pub(crate) request_timeout: std::time::Duration,
    /// The slowest link a content request's deadline allows for, in bytes per second.
    pub(crate) floor_rate: u64,
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
        // 507 is Insufficient Storage whatever the code; Graph names a full drive
        // `quotaLimitReached` (and storage hosts `insufficientStorage`), which may also come
        // with another status.
        Error::Http { status: 507, .. } => Err(DriveError::Full),
        Error::Http {
            code: Some(code), ..
        } if code == "quotaLimitReached" || code == "insufficientStorage" => Err(DriveError::Full),
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
        // One API client (one connection pool) for Graph calls and uploads; an upload's
        // whole-request timeout is overridden per content request.
        let http = crate::net::http_client(config)?;
        Ok(Self {
            graph: Graph::new(config, tokens, http.clone())?,
            transfer_http,
            upload_http: http,
            request_timeout: config.timeouts.request,
            floor_rate: super::deadline::FLOOR_RATE,
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
        let graph = &self.graph;
        let first = &first;
        follow_pages(
            LISTING_LIMITS,
            |url| graph.owns(url),
            move |next: Option<Url>| async move {
                graph
                    .json(LIST_CTX, true, |g| {
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
                    .map_err(OneDriveError::from_core)
            },
        )
        .await
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
        self.download_link(item_id).await.map(|link| link.url)
    }

    /// The item's pre-authenticated download URL, its size and its content version.
    pub(crate) async fn download_link(&self, item_id: &str) -> Result<DownloadLink> {
        let raw: RawItem = self
            .graph
            .json(LINK_CTX, true, |g| g.me().drive().item(item_id).get_items())
            .await
            .map_err(OneDriveError::from_core)?;
        Ok(download_link_of(raw, |url| self.graph.check_url(url))?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onedrive::mock_get::serve_get;
    use std::time::Duration;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const LIMITS: PageLimits = PageLimits {
        pages: 50,
        items: 1_000,
        stale_pages: 3,
    };

    fn page(items: std::ops::Range<usize>, next: Option<String>) -> ResponseTemplate {
        let value: Vec<_> = items
            .map(|i| serde_json::json!({"id": format!("id{i}"), "name": format!("f{i}.pdf")}))
            .collect();
        let mut body = serde_json::json!({ "value": value });
        if let Some(next) = next {
            body["@odata.nextLink"] = next.into();
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    /// Lists from `server` as `list_all` does: the first page at `/first`, then nextLinks on
    /// the server's origin.
    async fn list(server: &MockServer) -> Result<Vec<DriveItem>> {
        let base = Url::parse(&server.uri()).unwrap();
        let http = reqwest::Client::new();
        let first = base.join("/first").unwrap();
        follow_pages(
            LIMITS,
            |url| url.origin() == base.origin(),
            |next: Option<Url>| {
                let http = http.clone();
                let url = next.unwrap_or_else(|| first.clone());
                async move {
                    let page = http
                        .get(url)
                        .send()
                        .await
                        .map_err(Error::network(LIST_CTX))?
                        .json::<Page>()
                        .await
                        .map_err(Error::network(LIST_CTX))?;
                    Ok(page)
                }
            },
        )
        .await
    }

    fn reason(result: Result<Vec<DriveItem>>) -> String {
        match result {
            Err(OneDriveError::Core(Error::InvalidResponse { reason, .. })) => reason,
            other => panic!("expected an invalid response, got {other:?}"),
        }
    }

    async fn requests(server: &MockServer) -> usize {
        server.received_requests().await.unwrap().len()
    }

    #[tokio::test]
    async fn pages_are_followed_to_the_end_and_items_listed_once() {
        let server = MockServer::start().await;
        let uri = server.uri();
        serve_get(
            &server,
            "/first",
            page(0..3, Some(format!("{uri}/p2"))),
            None,
        )
        .await;
        serve_get(&server, "/p2", page(2..5, None), None).await;
        let items = list(&server).await.unwrap();
        assert_eq!(items.len(), 5);
    }

    #[tokio::test]
    async fn a_next_link_to_itself_is_a_typed_error_after_two_requests() {
        let server = MockServer::start().await;
        let uri = server.uri();
        serve_get(
            &server,
            "/first",
            page(0..3, Some(format!("{uri}/loop"))),
            None,
        )
        .await;
        serve_get(
            &server,
            "/loop",
            page(3..6, Some(format!("{uri}/loop"))),
            None,
        )
        .await;
        let why = reason(
            tokio::time::timeout(Duration::from_secs(10), list(&server))
                .await
                .expect("the listing loops"),
        );
        assert!(why.contains("repeats"), "{why}");
        assert_eq!(requests(&server).await, 2);
    }

    #[tokio::test]
    async fn a_next_link_back_to_an_earlier_page_is_a_typed_error() {
        let server = MockServer::start().await;
        let uri = server.uri();
        serve_get(
            &server,
            "/first",
            page(0..3, Some(format!("{uri}/a"))),
            None,
        )
        .await;
        serve_get(&server, "/a", page(3..6, Some(format!("{uri}/b"))), None).await;
        serve_get(&server, "/b", page(6..9, Some(format!("{uri}/a"))), None).await;
        let why = reason(
            tokio::time::timeout(Duration::from_secs(10), list(&server))
                .await
                .expect("the listing loops"),
        );
        assert!(why.contains("repeats"), "{why}");
        assert_eq!(requests(&server).await, 3);
    }

    #[tokio::test]
    async fn fresh_links_to_pages_of_old_items_stop_the_listing() {
        let server = MockServer::start().await;
        let uri = server.uri();
        serve_get(
            &server,
            "/first",
            page(0..3, Some(format!("{uri}/p/1"))),
            None,
        )
        .await;
        // Every page links to a new address but holds the same items.
        let base = uri.clone();
        Mock::given(method("GET"))
            .respond_with(move |request: &wiremock::Request| {
                let n: usize = request.url.path()[3..].parse().unwrap_or(0);
                page(0..3, Some(format!("{base}/p/{}", n + 1)))
            })
            .mount(&server)
            .await;
        let why = reason(
            tokio::time::timeout(Duration::from_secs(10), list(&server))
                .await
                .expect("the listing loops"),
        );
        assert!(why.contains("repeating items"), "{why}");
        assert_eq!(requests(&server).await, 1 + LIMITS.stale_pages);
    }

    #[tokio::test]
    async fn the_number_of_pages_is_capped() {
        let server = MockServer::start().await;
        let uri = server.uri();
        serve_get(
            &server,
            "/first",
            page(0..1, Some(format!("{uri}/p/1"))),
            None,
        )
        .await;
        // Endless pages, each with one new item (the item cap is never reached).
        let base = uri.clone();
        Mock::given(method("GET"))
            .respond_with(move |request: &wiremock::Request| {
                let n: usize = request.url.path()[3..].parse().unwrap_or(0);
                page(n..n + 1, Some(format!("{base}/p/{}", n + 1)))
            })
            .mount(&server)
            .await;
        let why = reason(
            tokio::time::timeout(Duration::from_secs(30), list(&server))
                .await
                .expect("the listing never ends"),
        );
        assert!(why.contains("too many pages"), "{why}");
        assert_eq!(requests(&server).await, LIMITS.pages);
    }

    #[tokio::test]
    async fn a_next_link_to_another_host_is_never_followed() {
        let server = MockServer::start().await;
        let other = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/first"))
            .respond_with(page(0..3, Some(format!("{}/steal", other.uri()))))
            .mount(&server)
            .await;
        let why = reason(list(&server).await);
        assert!(why.contains("leaves Graph"), "{why}");
        assert_eq!(requests(&other).await, 0);
    }
}
