//! Uploads into OneDrive: small files in one PUT, larger ones through an upload session in
//! fragments that are multiples of 320 KiB, streamed from disk (memory does not grow with the
//! file), with progress, explicit cancel, and resume from `nextExpectedRanges` after a dropped
//! connection or an app restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use url::Url;

use super::drive::{parse_item, OneDrive, OneDriveError};
use super::graph::MAX_JSON;
use super::item::{DriveItem, RawItem};
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

/// Parses the first `nextExpectedRanges` entry ("start-" or "start-end") into its start.
fn next_offset(ranges: &[String]) -> Option<u64> {
    let first = ranges.first()?;
    first.split('-').next()?.trim().parse().ok()
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
                .simple_upload(local_path, folder_id, name, size, progress, cancel)
                .await;
        }
        let upload_url = self.create_upload_session(folder_id, name).await?;
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

    async fn simple_upload(
        &self,
        local_path: &Path,
        folder_id: &str,
        name: &str,
        size: u64,
        progress: &dyn Progress,
        cancel: &CancelFlag,
    ) -> Result<DriveItem, TransferError> {
        const CTX: &str = "uploading a file";
        if cancel.is_cancelled() {
            return Err(TransferError::Cancelled);
        }
        let bytes = tokio::fs::read(local_path).await.map_err(local)?;
        let raw: RawItem = self
            .graph
            .json(CTX, true, |g| {
                let request = g
                    .me()
                    .drive()
                    .item(folder_id)
                    .update_items_content(reqwest::Body::from(bytes.clone()))
                    .append_query_pair("@microsoft.graph.conflictBehavior", "rename");
                under_parent(request, folder_id, name)
            })
            .await?;
        progress.update(size, size);
        Ok(parse_item(CTX, raw)?)
    }
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
    pub(crate) async fn create_upload_session(
        &self,
        folder_id: &str,
        name: &str,
    ) -> Result<Url, TransferError> {
        const CTX: &str = "creating an upload session";
        let body = serde_json::json!({
            "item": { "@microsoft.graph.conflictBehavior": "rename" }
        });
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
        next_offset(&status.next_expected_ranges)
            .ok_or_else(|| Error::invalid(CTX, "no nextExpectedRanges").into())
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
        let mut resumes = 0u32;
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
            let sent = self
                .send_transfer(CTX, false, |http| {
                    http.put(pending.upload_url.expose())
                        .header(reqwest::header::CONTENT_LENGTH, len)
                        .header(reqwest::header::CONTENT_RANGE, &content_range)
                        .body(fragment.clone())
                })
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(Error::Network { source, .. }) if resumes < 5 => {
                    // Dropped connection: ask the server what it has, continue from there.
                    resumes += 1;
                    tracing::info!(error = %source, "upload interrupted; resuming");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(resumes)))
                        .await;
                    offset = self.session_offset(pending).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match response.status().as_u16() {
                200 | 201 => {
                    progress.update(total, total);
                    let raw: RawItem = crate::net::read_json(response, MAX_JSON, CTX).await?;
                    return Ok(parse_item(CTX, raw)?);
                }
                202 => {
                    let status: SessionStatus =
                        crate::net::read_json(response, MAX_JSON, CTX).await?;
                    offset =
                        next_offset(&status.next_expected_ranges).unwrap_or(offset + len as u64);
                    progress.update(offset.min(total), total);
                }
                416 => {
                    // The range overlapped what the server has: resync.
                    offset = self.session_offset(pending).await?;
                }
                _ => return Err(crate::net::unexpected_status(CTX, response).await.into()),
            }
        }
    }
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
    fn next_expected_ranges_parse() {
        assert_eq!(next_offset(&["327680-".into()]), Some(327680));
        assert_eq!(next_offset(&["0-99".into(), "200-".into()]), Some(0));
        assert_eq!(next_offset(&[]), None);
        assert_eq!(next_offset(&["x-".into()]), None);
    }
}
