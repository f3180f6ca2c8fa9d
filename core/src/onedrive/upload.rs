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
        next_offset(&status.next_expected_ranges, pending.size)
            .map_err(|why| Error::invalid(CTX, why))?
            .ok_or_else(|| Error::invalid(CTX, "no nextExpectedRanges").into())
    }

    /// The pause before asking the session where it stands after the `round`-th failure in a
    /// row (from 1): the server's `Retry-After` if it gave one, else exponential backoff from the
    /// retry policy; capped by the policy's largest backoff either way.
    fn fragment_backoff(&self, round: u32, retry_after: Option<Duration>) -> Duration {
        let policy = &self.graph.retry;
        let exp = policy
            .base_backoff
            .saturating_mul(1u32 << round.saturating_sub(1).min(16))
            .min(policy.max_backoff);
        retry_after.map_or(exp, |wait| wait.min(policy.max_backoff))
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
            let sent = self
                .send_transfer(CTX, false, |http| {
                    http.put(pending.upload_url.expose())
                        .header(reqwest::header::CONTENT_LENGTH, len)
                        .header(reqwest::header::CONTENT_RANGE, &content_range)
                        .body(fragment.clone())
                })
                .await;
            // What went wrong with this fragment, to resume from the session's own status:
            // a dropped connection, a 5xx, or a 416 (the range overlapped what it has).
            let failure: Error = match sent {
                Err(e @ Error::Network { .. }) => e,
                Err(e) => return Err(e.into()),
                Ok(response) => match response.status().as_u16() {
                    200 | 201 => {
                        progress.update(total, total);
                        let raw: RawItem = crate::net::read_json(response, MAX_JSON, CTX).await?;
                        return Ok(parse_item(CTX, raw)?);
                    }
                    202 => {
                        let status: SessionStatus =
                            crate::net::read_json(response, MAX_JSON, CTX).await?;
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
                    416 => Error::invalid(
                        CTX,
                        "the upload session keeps rejecting the range it asks for",
                    ),
                    // Not implemented, or out of storage: asking again will not help.
                    501 | 507 => {
                        return Err(crate::net::unexpected_status(CTX, response).await.into())
                    }
                    500..=599 => {
                        let retry_after = crate::net::retry_after(&response);
                        let error = crate::net::unexpected_status(CTX, response).await;
                        if count_stall(&mut stalled, offset, &mut confirmed) {
                            return Err(error.into());
                        }
                        let wait = self.fragment_backoff(stalled, retry_after);
                        tracing::info!(
                            offset,
                            stalled,
                            wait_ms = wait.as_millis() as u64,
                            "upload fragment failed on the server; resuming"
                        );
                        tokio::time::sleep(wait).await;
                        offset = self.session_offset(pending).await?;
                        continue;
                    }
                    _ => return Err(crate::net::unexpected_status(CTX, response).await.into()),
                },
            };
            if count_stall(&mut stalled, offset, &mut confirmed) {
                return Err(failure.into());
            }
            let wait = self.fragment_backoff(stalled, None);
            // The error carries no URL (transport errors drop it where they are made).
            tracing::info!(
                offset,
                stalled,
                wait_ms = wait.as_millis() as u64,
                error = %failure,
                "upload fragment interrupted; resuming"
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
}
