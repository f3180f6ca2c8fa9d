//! Downloads from OneDrive to a local file: through the item's pre-authenticated download URL
//! (the bearer token never goes to the content host), streamed to a temporary file that is
//! synced to disk and renamed into place only when complete; a failed, cancelled or dropped
//! download deletes it. A connection that drops mid-body
//! is resumed with an HTTP range request from the last byte received, not started over.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{CONTENT_RANGE, ETAG, IF_RANGE, RANGE};
use reqwest::StatusCode;
use url::Url;

use super::drive::{DownloadLink, OneDrive};
use super::file_sink::FileSink;
use super::retry::RetryPolicy;
use super::upload::{local, CancelFlag, Progress, TransferError};
use crate::error::Error;

const CTX: &str = "downloading a file";

/// Progress is reported at most once per this many bytes (and always at the end), so a slow
/// callback (a UI across the FFI) does not throttle the transfer.
const PROGRESS_STEP: u64 = 256 * 1024;

/// Drops in a row that brought no new bytes before the download fails; any progress resets the
/// count, so only a connection that keeps failing without progress gives up.
const MAX_RESUMES_WITHOUT_PROGRESS: u32 = 4;

/// Fresh download URLs asked of Graph in a row without a new byte received in between.
const MAX_RENEWALS_WITHOUT_PROGRESS: u32 = 2;

/// Largest file OneDrive stores (250 GB); any larger size from a server is nonsense.
const MAX_DOWNLOAD: u64 = 250 * 1024 * 1024 * 1024;

/// `report.pdf` -> `report.pdf.part`: where the bytes go until the download is complete.
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Parses `Content-Range: bytes {first}-{last}/{complete}` (checked, no wrap-around):
/// `Some((first, last, complete))` with `first <= last < complete <= MAX_DOWNLOAD`.
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, complete) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let number = |s: &str| {
        let s = s.trim();
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u64>().ok()
    };
    let (first, last, complete) = (number(first)?, number(last)?, number(complete)?);
    (first <= last && last < complete && complete <= MAX_DOWNLOAD)
        .then_some((first, last, complete))
}

/// Checks a `206` answer to `Range: bytes={from}-` of a `total`-byte file: `Content-Range`
/// must be `bytes {from}-{total-1}/{total}` and a `Content-Length`, if any, `total - from`.
fn resumes_at(
    content_range: Option<&str>,
    content_length: Option<u64>,
    from: u64,
    total: u64,
) -> bool {
    let Some((first, last, complete)) = content_range.and_then(parse_content_range) else {
        return false;
    };
    let rest = total.checked_sub(from);
    first == from
        && complete == total
        && last.checked_add(1) == Some(total)
        && content_length.is_none_or(|len| Some(len) == rest)
}

/// One download in progress: the file being written and what has been received.
struct Sink<'a> {
    out: FileSink,
    done: u64,
    total: u64,
    reported: u64,
    progress: &'a dyn Progress,
    cancel: &'a CancelFlag,
}

impl Sink<'_> {
    /// Writes the body of `response` until it ends (`Ok(true)`) or the connection drops
    /// (`Ok(false)`); every other failure is an error, more bytes than `total` included.
    async fn receive(&mut self, mut response: reqwest::Response) -> Result<bool, TransferError> {
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ok(true),
                Err(e) if e.is_body() || e.is_decode() || e.is_timeout() => {
                    tracing::debug!(done = self.done, error = %e.without_url(), "download interrupted");
                    return Ok(false);
                }
                Err(e) => return Err(Error::network(CTX)(e).into()),
            };
            if self.cancel.is_cancelled() {
                return Err(TransferError::Cancelled);
            }
            self.done = u64::try_from(chunk.len())
                .ok()
                .and_then(|n| self.done.checked_add(n))
                .filter(|&done| done <= self.total)
                .ok_or_else(|| Error::invalid(CTX, "the download is larger than the file"))?;
            self.out.write(&chunk).await.map_err(local)?;
            if self.done - self.reported >= PROGRESS_STEP {
                self.reported = self.done;
                self.progress.update(self.done, self.total);
            }
        }
    }

    /// Throws away what was received: the bytes must come again from the start, `total` long.
    async fn restart(&mut self, total: u64) -> Result<(), TransferError> {
        if self.done > 0 {
            self.out.truncate().await.map_err(local)?;
        }
        self.done = 0;
        self.reported = 0;
        self.total = total;
        Ok(())
    }
}

/// Sends requests to pre-authenticated content URLs: no bearer token, the retry policy.
#[derive(Clone, Copy)]
struct Content<'a> {
    http: &'a reqwest::Client,
    retry: &'a RetryPolicy,
}

impl Content<'_> {
    /// GETs the content URL (throttling and transient errors retried), from byte `from` of the
    /// version tagged `etag` when resuming.
    async fn get(
        &self,
        url: &Url,
        resume: Option<(u64, &str)>,
    ) -> Result<reqwest::Response, Error> {
        self.retry
            .run(CTX, true, || {
                let request = self.http.get(url.clone());
                let request = match resume {
                    Some((from, etag)) => request
                        .header(RANGE, format!("bytes={from}-"))
                        .header(IF_RANGE, etag),
                    None => request,
                };
                async move { request.send().await.map_err(Error::network(CTX)) }
            })
            .await
    }
}

fn checked_size(link: &DownloadLink) -> Result<u64, TransferError> {
    if link.size > MAX_DOWNLOAD {
        return Err(Error::invalid(CTX, "the item's size is out of bounds").into());
    }
    Ok(link.size)
}

/// Whether the content host refuses the URL itself: it expired (Graph's download URLs live a
/// few minutes) or was revoked. A fresh one from the item may work.
fn url_refused(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::GONE
    )
}

impl OneDrive {
    /// Downloads a file to `dest`, reporting progress; on cancel or failure no partial file is
    /// left at `dest`. The body must be exactly as long as the item's size in Graph (a shorter
    /// or longer one is an error). A dropped connection is resumed from the last byte received
    /// (`Range` + `If-Range`); a download URL the content host no longer accepts (401, 403,
    /// 410) is replaced by a fresh one from the item, and the download goes on from where it
    /// was. Returns the number of bytes written.
    pub async fn download_to_file(
        &self,
        item_id: &str,
        dest: &Path,
        progress: &dyn Progress,
        cancel: &CancelFlag,
    ) -> Result<u64, TransferError> {
        let content = Content {
            http: &self.transfer_http,
            retry: &self.graph.retry,
        };
        download(
            content,
            || async { Ok(self.download_link(item_id).await?) },
            dest,
            progress,
            cancel,
        )
        .await
    }
}

/// The download itself; `link` reads the item (its download URL, size and version), first and
/// whenever the URL must be renewed.
async fn download<F, Fut>(
    content: Content<'_>,
    mut link: F,
    dest: &Path,
    progress: &dyn Progress,
    cancel: &CancelFlag,
) -> Result<u64, TransferError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<DownloadLink, TransferError>>,
{
    if dest.file_name().is_none() {
        return Err(TransferError::LocalFile(
            "the destination is not a file path".into(),
        ));
    }
    let first = link().await?;
    let partial = partial_path(dest);
    let mut sink = Sink {
        out: FileSink::create(&partial).await.map_err(local)?,
        done: 0,
        total: checked_size(&first)?,
        reported: 0,
        progress,
        cancel,
    };
    if let Err(e) = receive_all(content, first, &mut link, &mut sink).await {
        sink.out.discard().await;
        return Err(e);
    }
    let (done, total) = (sink.done, sink.total);
    // Everything goes to disk before the real name appears (a crash never leaves a short file
    // under it); a failed flush leaves no file at all.
    if let Err(e) = sink.out.finish().await {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(local(e));
    }
    progress.update(done, total);
    if let Err(e) = tokio::fs::rename(&partial, dest).await {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(local(e));
    }
    Ok(done)
}

/// Requests the content and receives it into `sink` until it holds the whole file: resumes
/// after dropped connections, renews the URL when the content host refuses it, starts over
/// when the file changed.
async fn receive_all<F, Fut>(
    content: Content<'_>,
    first: DownloadLink,
    link: &mut F,
    sink: &mut Sink<'_>,
) -> Result<(), TransferError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<DownloadLink, TransferError>>,
{
    let mut url = first.url;
    let mut version = first.version;
    // Resuming is only safe for the same version of the file: `If-Range` names it, with the
    // strong validator the content host gave.
    let mut etag: Option<String> = None;
    let mut drops = 0u32;
    let mut renewals = 0u32;
    let mut done_at_renewal = 0u64;
    loop {
        let resume = match (sink.done, etag.as_deref()) {
            (0, _) => None,
            (from, Some(etag)) => Some((from, etag)),
            (_, None) => {
                return Err(Error::invalid(CTX, "the connection dropped and cannot resume").into())
            }
        };
        let response = content.get(&url, resume).await?;
        let status = response.status();
        if url_refused(status) {
            renewals = if sink.done > done_at_renewal {
                1
            } else {
                renewals + 1
            };
            done_at_renewal = sink.done;
            if renewals > MAX_RENEWALS_WITHOUT_PROGRESS {
                return Err(crate::net::unexpected_status(CTX, response).await.into());
            }
            drop(response);
            tracing::debug!(
                done = sink.done,
                status = status.as_u16(),
                "renewing the download URL"
            );
            if sink.cancel.is_cancelled() {
                return Err(TransferError::Cancelled);
            }
            let fresh = link().await?;
            let size = checked_size(&fresh)?;
            let same_version = version.is_some() && fresh.version == version;
            if !same_version || size != sink.total {
                // Other bytes now: what was received belongs to an older version.
                sink.restart(size).await?;
                etag = None;
            }
            url = fresh.url;
            version = fresh.version;
            continue;
        }
        match (status, resume) {
            (StatusCode::OK, _) => {
                // The first answer, or the file changed (If-Range failed) or ranges are not
                // supported: the whole file, which must be as long as the item.
                let total = sink.total;
                sink.restart(total).await?;
                if response.content_length().is_some_and(|len| len != total) {
                    return Err(Error::invalid(
                        CTX,
                        "the download's length is not the file's size",
                    )
                    .into());
                }
                etag = response
                    .headers()
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| !v.starts_with("W/") && v.len() <= 512)
                    .map(str::to_owned);
            }
            (StatusCode::PARTIAL_CONTENT, Some((from, _))) => {
                let range = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok());
                if !resumes_at(range, response.content_length(), from, sink.total) {
                    return Err(Error::invalid(CTX, "the resumed range does not fit").into());
                }
            }
            _ => return Err(crate::net::unexpected_status(CTX, response).await.into()),
        }
        let before = sink.done;
        if sink.receive(response).await? {
            if sink.done != sink.total {
                return Err(Error::invalid(CTX, "the download ended before the file's end").into());
            }
            return Ok(());
        }
        drops = if sink.done > before { 0 } else { drops + 1 };
        if etag.is_none() {
            return Err(Error::invalid(CTX, "the connection dropped and cannot resume").into());
        }
        if drops > MAX_RESUMES_WITHOUT_PROGRESS {
            return Err(Error::invalid(CTX, "the connection keeps dropping").into());
        }
        tokio::time::sleep(Duration::from_millis(200) * (drops + 1)).await;
        if sink.cancel.is_cancelled() {
            return Err(TransferError::Cancelled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partial_file_sits_beside_the_destination() {
        assert_eq!(
            partial_path(Path::new("/tmp/x/report.pdf")),
            Path::new("/tmp/x/report.pdf.part")
        );
        assert_eq!(partial_path(Path::new("scan")), Path::new("scan.part"));
        assert_eq!(
            partial_path(Path::new("a.tar.gz")),
            Path::new("a.tar.gz.part")
        );
    }

    #[test]
    fn a_resumed_range_must_start_where_we_stopped_and_keep_the_length() {
        assert!(resumes_at(Some("bytes 500-999/1000"), None, 500, 1000));
        assert!(resumes_at(Some("bytes 500-999/1000"), Some(500), 500, 1000));
        assert!(!resumes_at(
            Some("bytes 500-999/1000"),
            Some(501),
            500,
            1000
        ));
        assert!(!resumes_at(Some("bytes 0-999/1000"), None, 500, 1000));
        assert!(!resumes_at(Some("bytes 500-1999/2000"), None, 500, 1000));
        assert!(!resumes_at(Some("bytes 500-998/1000"), None, 500, 1000));
        assert!(!resumes_at(None, None, 500, 1000));
    }

    #[test]
    fn content_range_numbers_are_checked_and_bounded() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, 9, 10)));
        assert_eq!(parse_content_range("bytes 5-4/10"), None);
        assert_eq!(parse_content_range("bytes 0-10/10"), None);
        assert_eq!(parse_content_range("bytes 0-9/*"), None);
        assert_eq!(parse_content_range("bytes +0-9/10"), None);
        assert_eq!(parse_content_range("bytes 0-9/10/11"), None);
        let max = u64::MAX;
        assert_eq!(parse_content_range(&format!("bytes 0-{max}/{max}")), None);
        assert_eq!(
            parse_content_range("bytes 0-18446744073709551615/18446744073709551616"),
            None
        );
        let huge = MAX_DOWNLOAD + 1;
        assert_eq!(
            parse_content_range(&format!("bytes 0-{MAX_DOWNLOAD}/{huge}")),
            None
        );
        // The last byte of a full-size range must not wrap when compared.
        assert!(!resumes_at(
            Some(&format!("bytes 0-{}/{max}", max - 1)),
            None,
            0,
            max
        ));
    }

    mod against_a_server {
        use super::super::*;
        use crate::onedrive::item::RawItem;
        use crate::onedrive::mock_get::serve_get;
        use wiremock::matchers::{header, method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};

        fn fast() -> RetryPolicy {
            RetryPolicy {
                max_attempts: 3,
                max_total_wait: Duration::from_secs(2),
                base_backoff: Duration::from_millis(5),
                max_backoff: Duration::from_millis(20),
            }
        }

        fn pattern(len: usize) -> Vec<u8> {
            (0..len).map(|i| (i % 251) as u8).collect()
        }

        fn dest(name: &str) -> PathBuf {
            let dir = std::env::temp_dir().join(format!("roger-download-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let dest = dir.join(name);
            let _ = std::fs::remove_file(&dest);
            dest
        }

        fn item(server: &MockServer, content: &str, size: usize, ctag: &str) -> ResponseTemplate {
            item_at(&format!("{}{content}", server.uri()), size, ctag)
        }

        fn item_at(download_url: &str, size: usize, ctag: &str) -> ResponseTemplate {
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "id": "01ITEM",
                "name": "report.pdf",
                "size": size,
                "cTag": ctag,
                "file": {},
                "@microsoft.graph.downloadUrl": download_url,
            }))
        }

        /// Downloads item `/item` of `server` to `dest` as the core does, the item read from
        /// the mock server in place of Graph.
        async fn run(server: &MockServer, dest: &Path) -> Result<u64, TransferError> {
            let http = reqwest::Client::new();
            let retry = fast();
            let content = Content {
                http: &http,
                retry: &retry,
            };
            let item_url = format!("{}/item", server.uri());
            let link = || {
                let http = http.clone();
                let item_url = item_url.clone();
                async move {
                    let raw: RawItem = http
                        .get(item_url)
                        .send()
                        .await
                        .map_err(Error::network("reading the item"))?
                        .json()
                        .await
                        .map_err(Error::network("reading the item"))?;
                    Ok(crate::onedrive::drive::download_link_of(raw, |_| Ok(()))?)
                }
            };
            let progress = |_: u64, _: u64| {};
            download(content, link, dest, &progress, &CancelFlag::new()).await
        }

        async fn requests_to(server: &MockServer, to: &str) -> usize {
            server
                .received_requests()
                .await
                .unwrap()
                .iter()
                .filter(|r| r.url.path() == to)
                .count()
        }

        fn invalid(result: Result<u64, TransferError>) -> String {
            match result {
                Err(TransferError::Drive(crate::onedrive::OneDriveError::Core(
                    Error::InvalidResponse { reason, .. },
                ))) => reason,
                other => panic!("expected an invalid response, got {other:?}"),
            }
        }

        /// Stages a 1000-byte item whose content URL answers `content`.
        async fn serve_item_of_1000(server: &MockServer, content: ResponseTemplate) {
            serve_get(server, "/item", item(server, "/content", 1000, "c1"), None).await;
            serve_get(server, "/content", content, None).await;
        }

        #[tokio::test]
        async fn a_body_shorter_than_the_item_is_an_error_and_leaves_no_file() {
            let server = MockServer::start().await;
            serve_item_of_1000(
                &server,
                ResponseTemplate::new(200).set_body_bytes(pattern(500)),
            )
            .await;
            let dest = dest("short.pdf");
            let reason = invalid(run(&server, &dest).await);
            assert!(reason.contains("length"), "{reason}");
            assert!(!dest.exists());
            assert!(!partial_path(&dest).exists());
        }

        #[tokio::test]
        async fn a_body_longer_than_the_item_is_an_error_and_leaves_no_file() {
            let server = MockServer::start().await;
            serve_item_of_1000(
                &server,
                ResponseTemplate::new(200).set_body_bytes(pattern(1500)),
            )
            .await;
            let dest = dest("long.pdf");
            invalid(run(&server, &dest).await);
            assert!(!dest.exists());
            assert!(!partial_path(&dest).exists());
        }

        #[tokio::test]
        async fn a_body_of_the_item_size_lands_whole() {
            let server = MockServer::start().await;
            let body = pattern(1000);
            serve_item_of_1000(
                &server,
                ResponseTemplate::new(200).set_body_bytes(body.clone()),
            )
            .await;
            let dest = dest("whole.pdf");
            assert_eq!(run(&server, &dest).await.unwrap(), 1000);
            assert_eq!(std::fs::read(&dest).unwrap(), body);
            std::fs::remove_file(&dest).unwrap();
        }

        #[tokio::test]
        async fn a_url_refused_after_a_throttle_is_renewed_from_the_item() {
            let server = MockServer::start().await;
            let body = pattern(1000);
            serve_get(&server, "/item", item(&server, "/old", 1000, "c1"), Some(1)).await;
            serve_get(&server, "/item", item(&server, "/new", 1000, "c1"), None).await;
            // The wait for the throttle outlives the URL.
            serve_get(
                &server,
                "/old",
                ResponseTemplate::new(429).insert_header("Retry-After", "0"),
                Some(1),
            )
            .await;
            serve_get(&server, "/old", ResponseTemplate::new(403), None).await;
            serve_get(
                &server,
                "/new",
                ResponseTemplate::new(200).set_body_bytes(body.clone()),
                None,
            )
            .await;
            let dest = dest("renewed.pdf");
            assert_eq!(run(&server, &dest).await.unwrap(), 1000);
            assert_eq!(std::fs::read(&dest).unwrap(), body);
            assert_eq!(requests_to(&server, "/item").await, 2);
            std::fs::remove_file(&dest).unwrap();
        }

        #[tokio::test]
        async fn a_403_on_a_resumed_range_renews_the_url_and_finishes_the_file() {
            let server = MockServer::start().await;
            let body = pattern(1000);
            // The old host: the first answer announces the whole file but the connection ends
            // after 400 bytes; the resumed range then finds the URL expired.
            let (old, old_requests) = cut_host(body[..400].to_vec(), 1000).await;
            serve_get(&server, "/item", item_at(&old, 1000, "c1"), Some(1)).await;
            serve_get(&server, "/item", item(&server, "/new", 1000, "c1"), None).await;
            Mock::given(method("GET"))
                .and(path("/new"))
                .and(header("Range", "bytes=400-"))
                .and(header("If-Range", "\"v1\""))
                .respond_with(
                    ResponseTemplate::new(206)
                        .insert_header("Content-Range", "bytes 400-999/1000")
                        .set_body_bytes(body[400..].to_vec()),
                )
                .mount(&server)
                .await;
            let dest = dest("resumed.pdf");
            assert_eq!(run(&server, &dest).await.unwrap(), 1000);
            assert_eq!(std::fs::read(&dest).unwrap(), body);
            assert_eq!(requests_to(&server, "/item").await, 2);
            assert_eq!(requests_to(&server, "/new").await, 1);
            assert_eq!(
                old_requests.load(std::sync::atomic::Ordering::SeqCst),
                2,
                "the whole file once, the resumed range once"
            );
            std::fs::remove_file(&dest).unwrap();
        }

        /// A content host that answers a request without `Range` with `200`, `Content-Length:
        /// {length}` and an ETag, sends only `sent` and closes the connection; it answers every
        /// range request `403` (the URL expired). Returns its URL and its request count.
        async fn cut_host(
            sent: Vec<u8>,
            length: usize,
        ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/old", listener.local_addr().unwrap());
            let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counted = count.clone();
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let ranged = String::from_utf8_lossy(&request)
                        .to_ascii_lowercase()
                        .contains("\r\nrange:");
                    let head = if ranged {
                        "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_owned()
                    } else {
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {length}\r\netag: \"v1\"\r\n\
                             connection: close\r\n\r\n"
                        )
                    };
                    let _ = socket.write_all(head.as_bytes()).await;
                    if !ranged {
                        let _ = socket.write_all(&sent).await;
                    }
                    let _ = socket.shutdown().await;
                }
            });
            (url, count)
        }

        #[tokio::test]
        async fn a_url_that_stays_refused_gives_up_after_bounded_renewals() {
            let server = MockServer::start().await;
            serve_item_of_1000(&server, ResponseTemplate::new(410)).await;
            let dest = dest("gone.pdf");
            match run(&server, &dest).await {
                Err(TransferError::Drive(crate::onedrive::OneDriveError::Core(Error::Http {
                    status: 410,
                    ..
                }))) => {}
                other => panic!("expected the 410, got {other:?}"),
            }
            assert_eq!(
                requests_to(&server, "/item").await,
                1 + MAX_RENEWALS_WITHOUT_PROGRESS as usize
            );
            assert!(!dest.exists());
            assert!(!partial_path(&dest).exists());
        }

        #[tokio::test]
        async fn a_renewed_item_with_other_content_starts_over() {
            let server = MockServer::start().await;
            let body = pattern(700);
            serve_get(&server, "/item", item(&server, "/old", 1000, "c1"), Some(1)).await;
            serve_get(&server, "/item", item(&server, "/new", 700, "c2"), None).await;
            serve_get(&server, "/old", ResponseTemplate::new(401), None).await;
            Mock::given(method("GET"))
                .and(path("/new"))
                .and(NoRange)
                .respond_with(ResponseTemplate::new(200).set_body_bytes(body.clone()))
                .mount(&server)
                .await;
            let dest = dest("changed.pdf");
            assert_eq!(run(&server, &dest).await.unwrap(), 700);
            assert_eq!(std::fs::read(&dest).unwrap(), body);
            std::fs::remove_file(&dest).unwrap();
        }

        /// Matches requests without a `Range` header.
        struct NoRange;
        impl wiremock::Match for NoRange {
            fn matches(&self, request: &wiremock::Request) -> bool {
                !request.headers.contains_key("range")
            }
        }
    }
}
