//! Downloads from OneDrive to a local file: through the item's pre-authenticated download URL
//! (the bearer token never goes to the content host), streamed to a temporary file that is
//! synced to disk and renamed into place only when complete; a failed, cancelled or dropped
//! download deletes it. A connection that drops mid-body
//! is resumed with an HTTP range request from the last byte received, not started over.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{CONTENT_RANGE, ETAG, IF_RANGE, RANGE};
use reqwest::StatusCode;
use url::Url;

use super::drive::OneDrive;
use super::file_sink::FileSink;
use super::upload::{local, CancelFlag, Progress, TransferError};
use crate::error::Error;

const CTX: &str = "downloading a file";

/// Progress is reported at most once per this many bytes (and always at the end), so a slow
/// callback (a UI across the FFI) does not throttle the transfer.
const PROGRESS_STEP: u64 = 256 * 1024;

/// Drops in a row that brought no new bytes before the download fails; any progress resets the
/// count, so only a connection that keeps failing without progress gives up.
const MAX_RESUMES_WITHOUT_PROGRESS: u32 = 4;

/// `report.pdf` -> `report.pdf.part`: where the bytes go until the download is complete.
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Checks a `206` answer to `Range: bytes={from}-`: `Content-Range: bytes {from}-{total-1}/{total}`.
fn resumes_at(content_range: Option<&str>, from: u64, total: u64) -> bool {
    let expected = format!("bytes {from}-{}/{total}", total.saturating_sub(1));
    content_range.is_some_and(|v| v.trim() == expected)
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
    /// (`Ok(false)`); every other failure is an error.
    async fn receive(&mut self, mut response: reqwest::Response) -> Result<bool, TransferError> {
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ok(true),
                Err(e) if e.is_body() || e.is_decode() || e.is_timeout() => {
                    tracing::debug!(done = self.done, error = %e, "download interrupted");
                    return Ok(false);
                }
                Err(e) => return Err(Error::network(CTX)(e).into()),
            };
            if self.cancel.is_cancelled() {
                return Err(TransferError::Cancelled);
            }
            self.done += chunk.len() as u64;
            if self.done > self.total {
                return Err(Error::invalid(CTX, "the download is larger than announced").into());
            }
            self.out.write(&chunk).await.map_err(local)?;
            if self.done - self.reported >= PROGRESS_STEP {
                self.reported = self.done;
                self.progress.update(self.done, self.total);
            }
        }
    }

    /// Throws away what was received: the server sent the whole body again.
    async fn restart(&mut self) -> Result<(), TransferError> {
        self.out.truncate().await.map_err(local)?;
        self.done = 0;
        Ok(())
    }

    /// Puts everything on disk (a crash never leaves a short file under the real name).
    async fn finish(self) -> Result<u64, TransferError> {
        self.out.finish().await.map_err(local)?;
        self.progress.update(self.done, self.total);
        Ok(self.done)
    }
}

impl OneDrive {
    /// Downloads a file to `dest`, reporting progress; on cancel or failure no partial file is
    /// left at `dest`. The body is bounded by the size the server announced (or, without a
    /// `Content-Length`, the item's size in Graph) and must match it exactly. A dropped
    /// connection is resumed from the last byte received (`Range` + `If-Range`). Returns the
    /// number of bytes written.
    pub async fn download_to_file(
        &self,
        item_id: &str,
        dest: &Path,
        progress: &dyn Progress,
        cancel: &CancelFlag,
    ) -> Result<u64, TransferError> {
        if dest.file_name().is_none() {
            return Err(TransferError::LocalFile(
                "the destination is not a file path".into(),
            ));
        }
        let (url, item_size) = self.download_link(item_id).await?;
        let first = crate::net::check_status(CTX, self.get_content(&url, None).await?).await?;
        let partial = partial_path(dest);
        let mut sink = Sink {
            out: FileSink::create(&partial).await.map_err(local)?,
            done: 0,
            total: first.content_length().unwrap_or(item_size),
            reported: 0,
            progress,
            cancel,
        };
        if let Err(e) = self.receive_all(&url, first, &mut sink).await {
            sink.out.discard().await;
            return Err(e);
        }
        let done = sink.finish().await?;
        if let Err(e) = tokio::fs::rename(&partial, dest).await {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(local(e));
        }
        Ok(done)
    }

    /// GETs the content URL (with throttling and transient errors retried), from byte `from`
    /// of the version tagged `etag` when resuming.
    async fn get_content(
        &self,
        url: &Url,
        resume: Option<(u64, &str)>,
    ) -> Result<reqwest::Response, TransferError> {
        let response = self
            .send_transfer(CTX, true, |http| {
                let request = http.get(url.clone());
                match resume {
                    Some((from, etag)) => request
                        .header(RANGE, format!("bytes={from}-"))
                        .header(IF_RANGE, etag),
                    None => request,
                }
            })
            .await?;
        Ok(response)
    }

    /// Receives the body of `response`, resuming with range requests after dropped connections.
    async fn receive_all(
        &self,
        url: &Url,
        mut response: reqwest::Response,
        sink: &mut Sink<'_>,
    ) -> Result<(), TransferError> {
        // Resuming is only safe for the same version of the file: `If-Range` names it.
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.starts_with("W/"))
            .map(str::to_owned);
        let mut failures = 0u32;
        loop {
            let before = sink.done;
            if sink.receive(response).await? {
                if sink.done != sink.total {
                    return Err(Error::invalid(CTX, "the download ended early").into());
                }
                return Ok(());
            }
            failures = if sink.done > before { 0 } else { failures + 1 };
            let Some(etag) = etag.as_deref() else {
                return Err(Error::invalid(CTX, "the connection dropped and cannot resume").into());
            };
            if failures > MAX_RESUMES_WITHOUT_PROGRESS {
                return Err(Error::invalid(CTX, "the connection keeps dropping").into());
            }
            tokio::time::sleep(Duration::from_millis(200) * (failures + 1)).await;
            if sink.cancel.is_cancelled() {
                return Err(TransferError::Cancelled);
            }
            response = self.get_content(url, Some((sink.done, etag))).await?;
            match response.status() {
                StatusCode::PARTIAL_CONTENT => {
                    let range = response
                        .headers()
                        .get(CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok());
                    if !resumes_at(range, sink.done, sink.total) {
                        return Err(Error::invalid(CTX, "the resumed range does not fit").into());
                    }
                }
                // The file changed (If-Range failed) or ranges are not supported: start over,
                // bounded by the new length.
                StatusCode::OK => {
                    sink.restart().await?;
                    if let Some(len) = response.content_length() {
                        sink.total = len;
                    }
                }
                _ => return Err(crate::net::unexpected_status(CTX, response).await.into()),
            }
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
        assert!(resumes_at(Some("bytes 500-999/1000"), 500, 1000));
        assert!(!resumes_at(Some("bytes 0-999/1000"), 500, 1000));
        assert!(!resumes_at(Some("bytes 500-1999/2000"), 500, 1000));
        assert!(!resumes_at(Some("bytes 500-998/1000"), 500, 1000));
        assert!(!resumes_at(None, 500, 1000));
    }
}
