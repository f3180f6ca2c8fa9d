//! Uploads into OneDrive: small files in one PUT, larger ones through an upload session in
//! fragments that are multiples of 320 KiB, streamed from disk (memory does not grow with the
//! file), with progress, explicit cancel, and resume from `nextExpectedRanges` after a dropped
//! connection, a 5xx on a fragment (with backoff) or an app restart. Every range the server sends
//! is checked against the file, and a session that stops advancing ends in a typed error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use url::Url;

use super::drive::{parse_item, DriveError, OneDrive, OneDriveError};
use super::graph::MAX_JSON;
use super::item::{DriveItem, RawItem};
use super::quickxor::quick_xor_hash;
use crate::error::Error;
use crate::secret::Secret;

/// Graph requires upload-session fragments to be multiples of this (320 KiB).
pub const FRAGMENT_UNIT: u64 = 320 * 1024;
/// Fragment size used: 10 × 320 KiB = 3.125 MiB (Graph recommends 5–10 MiB at most per request).
pub const FRAGMENT_SIZE: u64 = 10 * FRAGMENT_UNIT;
/// Files up to this size go in one simple PUT.
pub const SIMPLE_UPLOAD_MAX: u64 = 4 * 1024 * 1024;

/// Receives upload or download progress: bytes done, bytes in all.
pub trait Progress: Send + Sync {
    /// Called after each fragment.
    fn update(&self, done: u64, total: u64);
}

impl<F: Fn(u64, u64) + Send + Sync> Progress for F {
    fn update(&self, done: u64, total: u64) {
        self(done, total)
    }
}

/// Cancels a running transfer from another thread or task.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks the transfer to stop at the next fragment boundary.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether cancel was asked.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// An upload session in progress: enough to resume it after a restart. The upload URL is
/// pre-authenticated, so it is a secret: keep this in the secure store, not in logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingUpload {
    /// The pre-authenticated upload URL.
    pub upload_url: Secret,
    /// The local file being uploaded.
    pub local_path: PathBuf,
    /// Its size when the upload started (a changed file is not resumed).
    pub size: u64,
    /// The name it gets in OneDrive.
    pub name: String,
}

/// Why a transfer stopped without finishing.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The user cancelled; the partial upload was discarded.
    #[error("cancelled")]
    Cancelled,
    /// The local file could not be read, or changed during the upload.
    #[error("local file: {0}")]
    LocalFile(String),
    /// A OneDrive or core error.
    #[error(transparent)]
    Drive(#[from] OneDriveError),
}

impl From<Error> for TransferError {
    /// Through [`OneDriveError::from_core`], so a 404 is `DriveError::NotFound` here too.
    fn from(e: Error) -> Self {
        TransferError::Drive(OneDriveError::from_core(e))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionStatus {
    #[serde(default)]
    next_expected_ranges: Vec<String>,
    #[serde(default)]
    upload_url: Option<String>,
}

/// Rounds in a row without progress (a dropped connection, a 5xx, a 416, or an answer whose
/// `nextExpectedRanges` does not move past what the server already confirmed) before the upload
/// fails; any progress resets the count, so only a session that keeps failing in place gives up.
const MAX_ROUNDS_WITHOUT_PROGRESS: u32 = 5;

/// A decimal byte position: ASCII digits only (no sign, no spaces), without overflow.
fn parse_position(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Checks every `nextExpectedRanges` entry ("start-" or "start-end") of a file of `total` bytes
/// and returns the start of the first: each start must lie inside the file, each end at or past
/// its start and inside the file. An empty list is `Ok(None)`; anything malformed is an error.
fn next_offset(ranges: &[String], total: u64) -> Result<Option<u64>, &'static str> {
    if ranges.len() > 1024 {
        return Err("too many nextExpectedRanges");
    }
    let mut first = None;
    for range in ranges {
        let (start, end) = range
            .trim()
            .split_once('-')
            .ok_or("a nextExpectedRanges entry is not a range")?;
        let start = parse_position(start).ok_or("a nextExpectedRanges start is not a number")?;
        if start >= total {
            return Err("nextExpectedRanges starts past the end of the file");
        }
        if !end.is_empty() {
            let end = parse_position(end).ok_or("a nextExpectedRanges end is not a number")?;
            if end < start || end >= total {
                return Err("a nextExpectedRanges entry is out of bounds");
            }
        }
        first.get_or_insert(start);
    }
    Ok(first)
}

pub(super) fn local(e: std::io::Error) -> TransferError {
    TransferError::LocalFile(e.to_string())
}

impl OneDrive {
    /// Uploads a local file into the folder `folder_id` as `name`; a name clash is renamed by
    /// OneDrive (`name 1.pdf`). `on_session` is told about the upload session as soon as it
    /// exists (persist it to resume after a restart, see [`OneDrive::resume_upload`]).
    pub async fn upload_file(
        &self,
        local_path: &Path,
        folder_id: &str,
        name: &str,
        progress: &dyn Progress,
        cancel: &CancelFlag,
        on_session: &(dyn Fn(&PendingUpload) + Send + Sync),
    ) -> Result<DriveItem, TransferError> {
        Self::check_name(name)?;
        let _slot = self.upload_slot().await?;
        let size = tokio::fs::metadata(local_path).await.map_err(local)?.len();
        if size <= SIMPLE_UPLOAD_MAX {
            return self
                .simple_upload(local_path, folder_id, name, progress, cancel)
                .await;
        }
        let upload_url = self
            .create_upload_session(folder_id, name, Some(size))
            .await?;
        let pending = PendingUpload {
            upload_url: Secret::new(upload_url.as_str()),
            local_path: local_path.to_owned(),
            size,
            name: name.to_owned(),
        };
        on_session(&pending);
        self.run_session(&pending, 0, progress, cancel).await
    }

    /// Continues an upload session from where the server says it stands.
    pub async fn resume_upload(
        &self,
        pending: &PendingUpload,
        progress: &dyn Progress,
        cancel: &CancelFlag,
    ) -> Result<DriveItem, TransferError> {
        let _slot = self.upload_slot().await?;
        let size = tokio::fs::metadata(&pending.local_path)
            .await
            .map_err(local)?
            .len();
        if size != pending.size {
            return Err(TransferError::LocalFile(
                "the file changed since the upload started".into(),
            ));
        }
        let offset = self.session_offset(pending).await?;
        self.run_session(pending, offset, progress, cancel).await
    }

    async fn upload_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, TransferError> {
        self.upload_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| TransferError::Cancelled)
    }

    /// Uploads a small file in one `PUT …/items/{folder}:/{name}:/content`, so that a retry can
    /// never leave two copies.
    ///
    /// A simple upload is not idempotent: when its answer is lost (a dropped connection, a
    /// timeout, a 5xx) the file may or may not have been stored, and sending it again with
    /// `conflictBehavior=rename` would store a second copy (`name 1.pdf`). So every PUT names
    /// one exact file with `conflictBehavior=fail` (Graph answers 409 `nameAlreadyExists`
    /// instead of renaming), and OneDrive's `rename` is done here, the same way ("name 1.pdf",
    /// "name 2.pdf", …, checked free with a GET before the PUT):
    ///
    /// - After a lost answer the item at the target path is read first. A file there that has
    ///   our size and our content hash (`file.hashes.quickXorHash`, which Graph documents as
    ///   available on OneDrive for work or school and for home; computed here over the bytes we
    ///   sent) is our upload: it is the result, nothing is sent again. Nothing there: the PUT is
    ///   sent again (still `fail`). Another item: the name was taken meanwhile; the next name
    ///   is tried.
    /// - A 409 on a PUT sent after a lost answer is checked the same way (our first PUT may have
    ///   landed late); a 409 on a name's first PUT means the name is someone else's.
    /// - An item without a hash counts as ours only with our size and a creation time no older
    ///   than this upload (less a clock-skew allowance).
    ///
    /// A lost answer is retried at most `max_attempts` times (the retry policy), with backoff;
    /// 429/503 are waited out as everywhere. A file of identical bytes uploaded to the same name
    /// by someone else in the same moment would be taken for ours, which is harmless: it holds
    /// the same content. Each attempt's deadline is scaled to the file (see `super::deadline`).
    async fn simple_upload(
        &self,
        local_path: &Path,
        folder_id: &str,
        name: &str,
        progress: &dyn Progress,
        cancel: &CancelFlag,
    ) -> Result<DriveItem, TransferError> {
        if cancel.is_cancelled() {
            return Err(TransferError::Cancelled);
        }
        // One buffer for every attempt: each request body is a view of it, never a copy.
        let content = bytes::Bytes::from(tokio::fs::read(local_path).await.map_err(local)?);
        let size = content.len() as u64;
        let mine = Fingerprint {
            size,
            quick_xor_hash: quick_xor_hash(&content),
            started: time::OffsetDateTime::now_utc(),
        };
        let mut candidate = name.to_owned();
        for n in 0..=MAX_RENAMES {
            if n > 0 {
                candidate = rename_candidate(name, n);
                if Self::check_name(&candidate).is_err() {
                    break;
                }
                if cancel.is_cancelled() {
                    return Err(TransferError::Cancelled);
                }
                if self.child_at(folder_id, &candidate).await?.is_some() {
                    continue;
                }
            }
            if let Placed::Ours(item) = self.put_new(folder_id, &candidate, &content, &mine).await?
            {
                progress.update(size, size);
                return Ok(item);
            }
        }
        Err(OneDriveError::Drive(DriveError::NameConflict).into())
    }

    /// Stores `content` as `name` in the folder unless the name is taken (see
    /// [`OneDrive::simple_upload`]).
    async fn put_new(
        &self,
        folder_id: &str,
        name: &str,
        content: &bytes::Bytes,
        mine: &Fingerprint,
    ) -> Result<Placed, TransferError> {
        const CTX: &str = "uploading a file";
        let max_attempts = self.graph.retry.max_attempts.max(1);
        let mut attempt = 0u32;
        let mut may_have_landed = false;
        loop {
            attempt += 1;
            if may_have_landed {
                if let Some(found) = self.child_at(folder_id, name).await? {
                    return self.ours_or_taken(found, mine);
                }
            }
            let sent = self
                .graph
                .send_content(
                    CTX,
                    &self.upload_http,
                    self.content_deadline(content.len() as u64),
                    |g| {
                        let request = g
                            .me()
                            .drive()
                            .item(folder_id)
                            .update_items_content(reqwest::Body::from(content.clone()))
                            .append_query_pair("@microsoft.graph.conflictBehavior", "fail");
                        under_parent(request, folder_id, name)
                    },
                )
                .await;
            let lost: Error = match sent {
                Err(e @ Error::Network { .. }) => e,
                Err(e) => return Err(e.into()),
                Ok(response) => match response.status().as_u16() {
                    200 | 201 => match self.read_answer(CTX, response).await {
                        Ok(raw) => return Ok(Placed::Ours(parse_item(CTX, raw)?)),
                        // Stored, but the answer was cut: the next round finds it.
                        Err(e @ Error::Network { .. }) => e,
                        Err(e) => return Err(e.into()),
                    },
                    409 if may_have_landed => {
                        return match self.child_at(folder_id, name).await? {
                            Some(found) => self.ours_or_taken(found, mine),
                            // Gone again (deleted meanwhile): the name is not ours to keep.
                            None => Ok(Placed::Taken),
                        };
                    }
                    409 => return Ok(Placed::Taken),
                    500 | 502 | 504 => crate::net::unexpected_status(CTX, response).await,
                    _ => return Err(crate::net::unexpected_status(CTX, response).await.into()),
                },
            };
            may_have_landed = true;
            if attempt >= max_attempts {
                return Err(lost.into());
            }
            let wait = self.fragment_backoff(attempt, None);
            tracing::info!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %lost,
                "simple upload answer lost; checking what landed before sending again"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn ours_or_taken(
        &self,
        (raw, landed): (RawItem, Landed),
        mine: &Fingerprint,
    ) -> Result<Placed, TransferError> {
        if landed.is(mine) {
            tracing::info!("the lost simple upload had landed; using it");
            Ok(Placed::Ours(parse_item("uploading a file", raw)?))
        } else {
            Ok(Placed::Taken)
        }
    }

    /// The JSON answer of a content request (its deadline covers reading it too).
    async fn read_answer<T: serde::de::DeserializeOwned>(
        &self,
        context: &'static str,
        response: reqwest::Response,
    ) -> Result<T, Error> {
        crate::net::read_json(response, MAX_JSON, context).await
    }

    /// The whole-request deadline of a request sending `len` bytes of content.
    fn content_deadline(&self, len: u64) -> Duration {
        super::deadline::for_content(len, self.request_timeout, self.floor_rate)
    }

    /// The item named `name` in the folder, if there is one.
    async fn child_at(
        &self,
        folder_id: &str,
        name: &str,
    ) -> Result<Option<(RawItem, Landed)>, TransferError> {
        const CTX: &str = "looking up a file in OneDrive";
        let response = self
            .graph
            .send(CTX, true, |g| {
                child_path(g.me().drive().item(folder_id).get_items(), folder_id, name)
            })
            .await?;
        let response = match crate::net::check_status(CTX, response).await {
            Ok(response) => response,
            Err(Error::Http { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let body = crate::net::read_limited(response, MAX_JSON, CTX).await?;
        let bad = |e: serde_json::Error| Error::invalid(CTX, format!("bad JSON: {e}"));
        let raw: RawItem = serde_json::from_slice(&body).map_err(bad)?;
        let landed: Landed = serde_json::from_slice(&body).map_err(bad)?;
        Ok(Some((raw, landed)))
    }
}

/// Names tried after the one asked for is taken, as OneDrive's own `rename` would.
const MAX_RENAMES: u32 = 100;

/// How far the phone's clock may be ahead of OneDrive's when an item without a hash is
/// recognised as our upload by its creation time.
const CLOCK_SKEW: Duration = Duration::from_secs(600);

/// `name 1.pdf` for `name.pdf` and `n = 1`: OneDrive's renaming scheme.
fn rename_candidate(name: &str, n: u32) -> String {
    match name.rfind('.') {
        Some(dot) if dot > 0 => format!("{} {n}{}", &name[..dot], &name[dot..]),
        _ => format!("{name} {n}"),
    }
}

/// What one name's simple upload came to.
enum Placed {
    /// Our file, stored under that name.
    Ours(DriveItem),
    /// Another item holds the name.
    Taken,
}

/// What identifies the bytes of a simple upload.
struct Fingerprint {
    size: u64,
    quick_xor_hash: String,
    started: time::OffsetDateTime,
}

/// What an item found after a lost answer tells about its content.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Landed {
    #[serde(default)]
    size: u64,
    #[serde(default)]
    created_date_time: Option<String>,
    #[serde(default)]
    file: Option<LandedFile>,
}

#[derive(Debug, Deserialize)]
struct LandedFile {
    #[serde(default)]
    hashes: Option<LandedHashes>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LandedHashes {
    #[serde(default)]
    quick_xor_hash: Option<String>,
}

impl Landed {
    /// Whether this is the file of `mine`: a file of its size with its hash, or (no hash
    /// reported) created since the upload started, give or take [`CLOCK_SKEW`].
    fn is(&self, mine: &Fingerprint) -> bool {
        let Some(file) = &self.file else {
            return false;
        };
        if self.size != mine.size {
            return false;
        }
        match file
            .hashes
            .as_ref()
            .and_then(|h| h.quick_xor_hash.as_deref())
        {
            Some(hash) => hash == mine.quick_xor_hash,
            None => self
                .created_date_time
                .as_deref()
                .and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .is_some_and(|created| created >= mine.started - CLOCK_SKEW),
        }
    }
}

/// Rewrites `…/items/{parent}` into `…/items/{parent}:/{name}:`: a child of a folder by name.
fn child_path(
    mut request: graph_http::api_impl::RequestHandler,
    parent_id: &str,
    name: &str,
) -> graph_http::api_impl::RequestHandler {
    let url: &mut Url = request.as_mut();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop();
        segments.push(&format!("{parent_id}:"));
        segments.push(&format!("{name}:"));
    }
    request
}

/// Rewrites `…/items/{parent}/{tail}` into `…/items/{parent}:/{name}:/{tail}`: addressing a child
/// of a folder by name. Each segment is percent-encoded once (`#`, `%`, spaces, unicode).
fn under_parent(
    mut request: graph_http::api_impl::RequestHandler,
    parent_id: &str,
    name: &str,
) -> graph_http::api_impl::RequestHandler {
    let url: &mut Url = request.as_mut();
    let tail = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default()
        .to_owned();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop().pop();
        segments.push(&format!("{parent_id}:"));
        segments.push(&format!("{name}:"));
        segments.push(&tail);
    }
    request
}

impl OneDrive {
    /// Opens an upload session for a new file `name` in the folder (`conflictBehavior: rename`).
    /// With `size` known, it goes along as `item.fileSize`, which Graph documents as "an expected
    /// file size to perform a quota check before uploading": a drive without room can refuse
    /// with 507 before any byte is sent ([`DriveError::Full`]). (Graph lists it for OneDrive
    /// Personal; a service that ignores it refuses a fragment or the commit instead, which maps
    /// to the same error.)
    pub(crate) async fn create_upload_session(
        &self,
        folder_id: &str,
        name: &str,
        size: Option<u64>,
    ) -> Result<Url, TransferError> {
        const CTX: &str = "creating an upload session";
        let mut item = serde_json::json!({ "@microsoft.graph.conflictBehavior": "rename" });
        if let (Some(size), Some(item)) = (size, item.as_object_mut()) {
            item.insert("fileSize".into(), serde_json::json!(size));
        }
        let body = serde_json::json!({ "item": item });
        let status: SessionStatus = self
            .graph
            .json(CTX, false, |g| {
                let request = g.me().drive().item(folder_id).create_upload_session(&body);
                under_parent(request, folder_id, name)
            })
            .await?;
        let url = status
            .upload_url
            .and_then(|u| Url::parse(&u).ok())
            .ok_or_else(|| Error::invalid(CTX, "no usable uploadUrl"))?;
        self.graph
            .check_url(&url)
            .map_err(|why| Error::invalid(CTX, why))?;
        Ok(url)
    }

    /// Sends a request to a pre-authenticated transfer URL (no bearer token) with the retry
    /// policy: throttling waited out, transient failures retried when `idempotent`.
    pub(super) async fn send_transfer(
        &self,
        context: &'static str,
        idempotent: bool,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        self.graph
            .retry
            .run(context, idempotent, || {
                let request = build(&self.transfer_http);
                async move { request.send().await.map_err(Error::network(context)) }
            })
            .await
    }

    /// Asks the upload URL where the session stands (no Authorization header: it is
    /// pre-authenticated).
    async fn session_offset(&self, pending: &PendingUpload) -> Result<u64, TransferError> {
        const CTX: &str = "reading an upload session";
        let url = pending.upload_url.expose();
        let response = self.send_transfer(CTX, true, |http| http.get(url)).await?;
        let response = crate::net::check_status(CTX, response).await?;
        let status: SessionStatus = crate::net::read_json(response, MAX_JSON, CTX).await?;
        next_offset(&status.next_expected_ranges, pending.size)
            .map_err(|why| Error::invalid(CTX, why))?
            .ok_or_else(|| Error::invalid(CTX, "no nextExpectedRanges").into())
    }

    /// The pause before asking the session where it stands after the `round`-th failure in a
    /// row (from 1): the server's `Retry-After` if it gave one, else exponential backoff from the
    /// retry policy; capped by the policy's largest backoff either way.
    fn fragment_backoff(&self, round: u32, retry_after: Option<Duration>) -> Duration {
        let policy = &self.graph.retry;
        retry_after.map_or_else(
            || policy.backoff(round.saturating_sub(1)),
            |wait| wait.min(policy.max_backoff),
        )
    }

    async fn run_session(
        &self,
        pending: &PendingUpload,
        mut offset: u64,
        progress: &dyn Progress,
        cancel: &CancelFlag,
    ) -> Result<DriveItem, TransferError> {
        const CTX: &str = "uploading a fragment";
        let total = pending.size;
        let mut file = tokio::fs::File::open(&pending.local_path)
            .await
            .map_err(local)?;
        // The furthest point the server has confirmed, and the rounds in a row that did not move
        // past it.
        let mut confirmed = offset;
        let mut stalled = 0u32;
        loop {
            if cancel.is_cancelled() {
                // Delete the session so no partial file is left behind.
                let _ = self
                    .transfer_http
                    .delete(pending.upload_url.expose())
                    .send()
                    .await;
                return Err(TransferError::Cancelled);
            }
            if offset > total {
                return Err(Error::invalid(CTX, "server asked for bytes past the end").into());
            }
            let len = FRAGMENT_SIZE.min(total - offset) as usize;
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(local)?;
            // Read straight into the buffer the request sends: no copy, and retries share it.
            let mut fragment = vec![0u8; len];
            file.read_exact(&mut fragment).await.map_err(local)?;
            let fragment = bytes::Bytes::from(fragment);
            // A session that wants no more bytes yet has not completed (a 0-byte file, or a
            // server asking for the end): a typed error, never an underflowing range.
            let content_range = content_range(offset, len as u64, total).ok_or_else(|| {
                Error::invalid(
                    CTX,
                    "the upload session asks for no bytes but is not complete",
                )
            })?;
            // Throttling (429/503) is waited out within the retry policy's budget, then ends in
            // `Error::Throttled`; the session stays open so the upload can be resumed later.
            // A deadline scaled to the fragment, not the fixed request timeout (a fragment on a
            // slow link takes minutes). The body is a view of the buffer: no copy per retry.
            let deadline = self.content_deadline(len as u64);
            let sent = self
                .graph
                .retry
                .run(CTX, false, || {
                    let request = self
                        .upload_http
                        .put(pending.upload_url.expose())
                        .timeout(deadline)
                        .header(reqwest::header::CONTENT_LENGTH, len)
                        .header(reqwest::header::CONTENT_RANGE, &content_range)
                        .body(fragment.clone());
                    async move { request.send().await.map_err(Error::network(CTX)) }
                })
                .await;
            // What went wrong with this fragment, to resume from the session's own status:
            // a dropped connection, a 5xx, or a 416 (the range overlapped what it has).
            let (failure, retry_after): (Error, Option<Duration>) = match sent {
                Err(e @ Error::Network { .. }) => (e, None),
                Err(e) => return Err(e.into()),
                Ok(response) => match response.status().as_u16() {
                    200 | 201 => {
                        progress.update(total, total);
                        let raw: RawItem = self.read_answer(CTX, response).await?;
                        return Ok(parse_item(CTX, raw)?);
                    }
                    202 => {
                        let status: SessionStatus = self.read_answer(CTX, response).await?;
                        let next = next_offset(&status.next_expected_ranges, total)
                            .map_err(|why| Error::invalid(CTX, why))?;
                        offset = next.unwrap_or(offset + len as u64);
                        if offset > confirmed {
                            confirmed = offset;
                            stalled = 0;
                        } else {
                            stalled += 1;
                            if stalled > MAX_ROUNDS_WITHOUT_PROGRESS {
                                return Err(Error::invalid(
                                    CTX,
                                    "the upload session accepts fragments but does not advance",
                                )
                                .into());
                            }
                        }
                        progress.update(offset.min(total), total);
                        continue;
                    }
                    416 => (
                        Error::invalid(
                            CTX,
                            "the upload session keeps rejecting the range it asks for",
                        ),
                        None,
                    ),
                    // Not implemented, or out of storage: asking again will not help.
                    501 | 507 => {
                        return Err(crate::net::unexpected_status(CTX, response).await.into())
                    }
                    500..=599 => {
                        let retry_after = crate::net::retry_after(&response);
                        (
                            crate::net::unexpected_status(CTX, response).await,
                            retry_after,
                        )
                    }
                    _ => return Err(crate::net::unexpected_status(CTX, response).await.into()),
                },
            };
            if count_stall(&mut stalled, offset, &mut confirmed) {
                return Err(failure.into());
            }
            let wait = self.fragment_backoff(stalled, retry_after);
            // The error carries no URL (transport errors drop it where they are made).
            tracing::info!(
                offset,
                stalled,
                wait_ms = wait.as_millis() as u64,
                error = %failure,
                "upload fragment failed; resuming"
            );
            tokio::time::sleep(wait).await;
            offset = self.session_offset(pending).await?;
        }
    }
}

/// Counts a failed fragment at `offset`: bytes the server accepted since the last failure
/// (`offset` past `confirmed`) reset the count first. True once too many rounds in a row brought
/// nothing new.
fn count_stall(stalled: &mut u32, offset: u64, confirmed: &mut u64) -> bool {
    if offset > *confirmed {
        *confirmed = offset;
        *stalled = 0;
    }
    *stalled += 1;
    *stalled > MAX_ROUNDS_WITHOUT_PROGRESS
}

/// The `Content-Range` of `len` bytes at `offset` of `total`; `None` for an empty fragment or one
/// past the end.
fn content_range(offset: u64, len: u64, total: u64) -> Option<String> {
    let end = offset.checked_add(len)?.checked_sub(1)?;
    (len > 0 && end < total).then(|| format!("bytes {offset}-{end}/{total}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_are_multiples_of_320_kib() {
        assert_eq!(FRAGMENT_SIZE % FRAGMENT_UNIT, 0);
    }

    #[test]
    fn content_ranges_are_never_empty_or_past_the_end() {
        assert_eq!(content_range(0, 10, 10).as_deref(), Some("bytes 0-9/10"));
        assert_eq!(
            content_range(327_680, 5, 327_685).as_deref(),
            Some("bytes 327680-327684/327685")
        );
        // A 0-byte file, a session asking for its end, a range past the end, an overflow.
        assert_eq!(content_range(0, 0, 0), None);
        assert_eq!(content_range(10, 0, 10), None);
        assert_eq!(content_range(8, 5, 10), None);
        assert_eq!(content_range(u64::MAX, 2, u64::MAX), None);
    }

    #[test]
    fn next_expected_ranges_are_validated() {
        assert_eq!(next_offset(&["327680-".into()], 400_000), Ok(Some(327680)));
        assert_eq!(
            next_offset(&["0-99".into(), "200-".into()], 400),
            Ok(Some(0))
        );
        assert_eq!(next_offset(&[], 10), Ok(None));
        for bad in [
            "x-",
            "-",
            "5",
            "+5-",
            " 5 -",
            "5-x",
            "5-3",
            "10-",
            "0-10",
            "18446744073709551616-",
        ] {
            assert!(next_offset(&[bad.into()], 10).is_err(), "{bad:?}");
        }
        // Every entry is checked, not just the first.
        assert!(next_offset(&["0-".into(), "99-".into()], 10).is_err());
    }

    use crate::accounts::{Accounts, OpenOptions};
    use crate::store::MemoryStore;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

    /// How the mock session answers one fragment PUT.
    #[derive(Clone, Copy)]
    enum Answer {
        /// Stores it if it starts where the session stands (else 416).
        Accept,
        /// This status, nothing stored.
        Status(u16),
        /// Nothing stored, and no answer before the client's read timeout: a cut connection.
        Cut,
        /// 202 asking for the start again, nothing stored.
        AskForStart,
        /// 507 `quotaLimitReached` in Graph's error shape, nothing stored.
        Full,
    }

    /// An upload session of `total` bytes that answers the `n`-th PUT (from 0) by `script`;
    /// a GET answers where it stands, or `status_ranges` when set.
    struct Session {
        total: u64,
        received: Mutex<u64>,
        puts: AtomicUsize,
        gets: AtomicUsize,
        script: Box<dyn Fn(usize) -> Answer + Send + Sync>,
        status_ranges: Option<Vec<String>>,
    }

    impl Respond for Session {
        fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
            let mut received = self.received.lock().unwrap();
            if request.method == wiremock::http::Method::GET {
                self.gets.fetch_add(1, Ordering::SeqCst);
                let ranges = self
                    .status_ranges
                    .clone()
                    .unwrap_or_else(|| vec![format!("{}-", *received)]);
                return ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({ "nextExpectedRanges": ranges }));
            }
            let n = self.puts.fetch_add(1, Ordering::SeqCst);
            match (self.script)(n) {
                Answer::Status(code) => ResponseTemplate::new(code),
                Answer::Cut => ResponseTemplate::new(202).set_delay(Duration::from_secs(3)),
                Answer::AskForStart => ResponseTemplate::new(202)
                    .set_body_json(serde_json::json!({ "nextExpectedRanges": ["0-"] })),
                Answer::Full => ResponseTemplate::new(507).set_body_json(serde_json::json!({
                    "error": { "code": "quotaLimitReached", "message": "Insufficient Space Available" }
                })),
                Answer::Accept => {
                    let range = request
                        .headers
                        .get("content-range")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let expected = format!(
                        "bytes {}-{}/{}",
                        *received,
                        *received + request.body.len() as u64 - 1,
                        self.total
                    );
                    if range != expected {
                        return ResponseTemplate::new(416);
                    }
                    *received += request.body.len() as u64;
                    if *received == self.total {
                        ResponseTemplate::new(201).set_body_json(serde_json::json!({
                            "id": "item-1", "name": "scan.pdf", "size": self.total
                        }))
                    } else {
                        ResponseTemplate::new(202).set_body_json(serde_json::json!({
                            "nextExpectedRanges": [format!("{}-", *received)]
                        }))
                    }
                }
            }
        }
    }

    struct Fixture {
        _server: MockServer,
        session: Arc<Session>,
        drive: OneDrive,
        pending: PendingUpload,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.pending.local_path);
        }
    }

    /// Forwards to the shared session, so the test can read its counters afterwards.
    struct Shared(Arc<Session>);
    impl Respond for Shared {
        fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
            self.0.respond(request)
        }
    }

    async fn fixture(
        name: &str,
        total: u64,
        script: impl Fn(usize) -> Answer + Send + Sync + 'static,
        status_ranges: Option<Vec<String>>,
    ) -> Fixture {
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let session = Arc::new(Session {
            total,
            received: Mutex::new(0),
            puts: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
            script: Box::new(script),
            status_ranges,
        });
        for verb in ["GET", "PUT"] {
            Mock::given(method(verb))
                .respond_with(Shared(session.clone()))
                .mount(&server)
                .await;
        }
        let mut config = crate::Config::production();
        config.microsoft.client.client_id = "6731de76-14a6-49ae-97bc-6eba6914391e".into();
        config.allow_insecure_loopback = true;
        // A cut connection shows as no answer within this.
        config.timeouts.request = Duration::from_millis(500);
        let accounts =
            Accounts::open(config, Arc::new(MemoryStore::new()), OpenOptions::default()).unwrap();
        let mut drive = OneDrive::new(accounts.config(), accounts.microsoft().clone()).unwrap();
        // A loopback link: a cut shows within about the request timeout.
        drive.floor_rate = 1 << 30;
        drive.set_retry_policy(super::super::RetryPolicy {
            max_attempts: 3,
            max_total_wait: Duration::from_secs(1),
            base_backoff: Duration::from_millis(2),
            max_backoff: Duration::from_millis(10),
        });
        let local_path =
            std::env::temp_dir().join(format!("roger-upload-{name}-{}.bin", std::process::id()));
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        std::fs::write(&local_path, data).unwrap();
        let pending = PendingUpload {
            upload_url: Secret::new(format!("{}/upload/session-1", server.uri())),
            local_path,
            size: total,
            name: "scan.pdf".into(),
        };
        Fixture {
            _server: server,
            session,
            drive,
            pending,
        }
    }

    impl Fixture {
        /// Resumes the upload; a hang fails the test instead of blocking it.
        async fn run(&self) -> Result<DriveItem, TransferError> {
            let cancel = CancelFlag::new();
            let upload = self.drive.resume_upload(&self.pending, &|_, _| {}, &cancel);
            tokio::time::timeout(Duration::from_secs(20), upload)
                .await
                .expect("the upload loops instead of ending")
        }
        fn puts(&self) -> usize {
            self.session.puts.load(Ordering::SeqCst)
        }
        fn gets(&self) -> usize {
            self.session.gets.load(Ordering::SeqCst)
        }
    }

    fn invalid_response(result: &Result<DriveItem, TransferError>) -> bool {
        matches!(
            result,
            Err(TransferError::Drive(OneDriveError::Core(
                Error::InvalidResponse { .. }
            )))
        )
    }

    #[tokio::test]
    async fn a_5xx_on_a_fragment_resumes_from_the_session_status() {
        for status in [500, 502, 504] {
            let total = 2 * FRAGMENT_SIZE + 1000;
            let f = fixture(
                &format!("5xx-{status}"),
                total,
                move |n| {
                    if n == 1 {
                        Answer::Status(status)
                    } else {
                        Answer::Accept
                    }
                },
                None,
            )
            .await;
            let item = f.run().await.unwrap_or_else(|e| panic!("{status}: {e}"));
            assert_eq!(item.id, "item-1");
            assert_eq!(*f.session.received.lock().unwrap(), total);
            assert_eq!(f.puts(), 4, "{status}: the failed fragment is sent again");
            assert_eq!(
                f.gets(),
                2,
                "{status}: the session status was asked after it"
            );
        }
    }

    #[tokio::test]
    async fn a_fragment_that_keeps_failing_on_the_server_ends_the_upload() {
        let f = fixture(
            "5xx-forever",
            2 * FRAGMENT_SIZE,
            |_| Answer::Status(500),
            None,
        )
        .await;
        let result = f.run().await;
        assert!(
            matches!(
                result,
                Err(TransferError::Drive(OneDriveError::Core(Error::Http {
                    status: 500,
                    ..
                })))
            ),
            "{result:?}"
        );
        assert_eq!(f.puts(), MAX_ROUNDS_WITHOUT_PROGRESS as usize + 1);
    }

    #[tokio::test]
    async fn a_large_upload_with_every_third_fragment_cut_completes() {
        let total = 50 * 1024 * 1024;
        let f = fixture(
            "cut",
            total,
            |n| {
                if n % 3 == 2 {
                    Answer::Cut
                } else {
                    Answer::Accept
                }
            },
            None,
        )
        .await;
        let item = f.run().await.unwrap();
        assert_eq!(item.id, "item-1");
        assert_eq!(*f.session.received.lock().unwrap(), total);
        let fragments = total.div_ceil(FRAGMENT_SIZE) as usize;
        assert!(
            f.puts() > fragments + MAX_ROUNDS_WITHOUT_PROGRESS as usize,
            "more cuts than the cap on cuts without progress"
        );
    }

    #[tokio::test]
    async fn ranges_that_never_advance_end_in_a_typed_error() {
        // The server takes fragments but keeps asking for the start.
        let f = fixture(
            "stuck-202",
            3 * FRAGMENT_SIZE,
            |n| {
                if n == 0 {
                    Answer::Accept
                } else {
                    Answer::AskForStart
                }
            },
            None,
        )
        .await;
        let result = f.run().await;
        assert!(invalid_response(&result), "{result:?}");
        assert!(f.puts() <= MAX_ROUNDS_WITHOUT_PROGRESS as usize + 2);

        // Every fragment is refused as overlapping, and the status never moves.
        let f = fixture(
            "stuck-416",
            3 * FRAGMENT_SIZE,
            |_| Answer::Status(416),
            None,
        )
        .await;
        let result = f.run().await;
        assert!(invalid_response(&result), "{result:?}");
        assert_eq!(f.puts(), MAX_ROUNDS_WITHOUT_PROGRESS as usize + 1);
        assert!(f.gets() <= MAX_ROUNDS_WITHOUT_PROGRESS as usize + 1);
    }

    #[tokio::test]
    async fn out_of_bounds_or_malformed_status_ranges_are_typed_errors() {
        let total = 2 * FRAGMENT_SIZE;
        for ranges in [
            vec![format!("{total}-")],
            vec![format!("0-{total}")],
            vec!["12x-".to_owned()],
            vec!["0-".to_owned(), "99999999999999999999-".to_owned()],
        ] {
            let f = fixture("bounds", total, |_| Answer::Accept, Some(ranges.clone())).await;
            let result = f.run().await;
            assert!(invalid_response(&result), "{ranges:?}: {result:?}");
            assert_eq!(f.puts(), 0, "{ranges:?}");
        }
    }

    #[tokio::test]
    async fn a_full_drive_on_a_fragment_is_a_typed_error_at_once() {
        let f = fixture(
            "full",
            2 * FRAGMENT_SIZE,
            |n| if n == 0 { Answer::Accept } else { Answer::Full },
            None,
        )
        .await;
        let result = f.run().await;
        assert!(
            matches!(
                result,
                Err(TransferError::Drive(OneDriveError::Drive(DriveError::Full)))
            ),
            "{result:?}"
        );
        assert_eq!(f.puts(), 2, "a full drive is not asked again");
    }

    #[test]
    fn full_drive_codes_map_to_the_typed_error() {
        for (status, code) in [
            (507, Some("quotaLimitReached")),
            (507, Some("insufficientStorage")),
            (507, None),
            (403, Some("quotaLimitReached")),
        ] {
            let e = OneDriveError::from_core(Error::Http {
                context: "t",
                status,
                code: code.map(str::to_owned),
            });
            assert!(
                matches!(e, OneDriveError::Drive(DriveError::Full)),
                "{status} {code:?}"
            );
        }
    }

    #[test]
    fn rename_candidates_follow_onedrive() {
        assert_eq!(rename_candidate("name.pdf", 1), "name 1.pdf");
        assert_eq!(rename_candidate("a.b.pdf", 2), "a.b 2.pdf");
        assert_eq!(rename_candidate(".profile", 1), ".profile 1");
        assert_eq!(rename_candidate("README", 3), "README 3");
    }

    #[test]
    fn a_landed_file_is_ours_only_with_our_size_and_hash() {
        let content = b"%PDF-1.7 our bytes";
        let mine = Fingerprint {
            size: content.len() as u64,
            quick_xor_hash: quick_xor_hash(content),
            started: time::OffsetDateTime::now_utc(),
        };
        let landed = |json: serde_json::Value| -> Landed { serde_json::from_value(json).unwrap() };
        let size = content.len();
        let ours = landed(serde_json::json!({
            "size": size, "file": { "hashes": { "quickXorHash": mine.quick_xor_hash } }
        }));
        assert!(ours.is(&mine));
        let other_bytes = landed(serde_json::json!({
            "size": size, "file": { "hashes": { "quickXorHash": quick_xor_hash(b"%PDF-1.7 our bytez") } }
        }));
        assert!(!other_bytes.is(&mine));
        let other_size = landed(serde_json::json!({
            "size": size + 1, "file": { "hashes": { "quickXorHash": mine.quick_xor_hash } }
        }));
        assert!(!other_size.is(&mine));
        assert!(!landed(serde_json::json!({ "size": size, "folder": {} })).is(&mine));
        // No hash: the creation time decides.
        let recent = landed(serde_json::json!({
            "size": size, "file": {}, "createdDateTime": "2999-01-01T00:00:00Z"
        }));
        assert!(recent.is(&mine));
        let old = landed(serde_json::json!({
            "size": size, "file": {}, "createdDateTime": "2001-01-01T00:00:00Z"
        }));
        assert!(!old.is(&mine));
    }

    /// An upload server on a slow link: it takes the body in 32 KiB pieces every 25 ms
    /// (about 1.3 MiB/s), so one fragment takes seconds, far past the request timeout, while
    /// never pausing for long; then it answers 201. Returns its URL and the bytes it received.
    async fn slow_link_server() -> (String, tokio::task::JoinHandle<usize>) {
        use tokio::io::AsyncWriteExt;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        // A small window, so the client cannot park the fragment in socket buffers.
        socket.set_recv_buffer_size(32 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(4).unwrap();
        let url = format!("http://{}/upload/slow", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            // The resume asks where the session stands (GET) first, then sends the fragment.
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                'request: {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if stream.read_exact(&mut byte).await.is_err() {
                            break 'request;
                        }
                        head.push(byte[0]);
                    }
                    if head.is_empty() {
                        break 'request;
                    }
                    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
                    if head.starts_with("get ") {
                        let body = r#"{"nextExpectedRanges":["0-"]}"#;
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        stream.write_all(answer.as_bytes()).await.unwrap();
                        // The fragment comes on the upload client's own connection.
                        break 'request;
                    }
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    let mut received = 0;
                    let mut piece = vec![0u8; 32 * 1024];
                    while received < len {
                        tokio::time::sleep(Duration::from_millis(25)).await;
                        let want = piece.len().min(len - received);
                        if stream.read_exact(&mut piece[..want]).await.is_err() {
                            return received;
                        }
                        received += want;
                    }
                    let body = format!(r#"{{"id":"item-1","name":"scan.pdf","size":{len}}}"#);
                    let answer = format!(
                        "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    stream.write_all(answer.as_bytes()).await.unwrap();
                    return received;
                }
            }
        });
        (url, task)
    }

    #[tokio::test]
    async fn a_fragment_on_a_slow_link_is_not_cut_by_a_fixed_deadline() {
        // The request timeout is 500 ms; the fragment takes seconds on this link.
        let mut f = fixture("slow", FRAGMENT_SIZE, |_| Answer::Accept, None).await;
        // A link of at least 512 KiB/s is allowed for; this one is about 1.3 MiB/s.
        f.drive.floor_rate = 512 * 1024;
        let (url, server) = slow_link_server().await;
        f.pending.upload_url = Secret::new(url);
        let started = std::time::Instant::now();
        let item = f.run().await.unwrap();
        assert_eq!(item.id, "item-1");
        assert_eq!(server.await.unwrap() as u64, FRAGMENT_SIZE);
        assert!(
            started.elapsed() > Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
}
