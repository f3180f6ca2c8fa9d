//! Downloads from OneDrive to a local file: through the item's pre-authenticated download URL
//! (the bearer token never goes to the content host), streamed to a temporary file that is
//! flushed to disk and renamed into place only when complete.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncWriteExt, BufWriter};

use super::drive::OneDrive;
use super::upload::{CancelFlag, Progress, TransferError};
use crate::error::Error;

/// Bytes gathered in memory before one write to disk: few, large writes keep the blocking
/// file I/O off the hot path without letting memory grow with the file.
const WRITE_BUFFER: usize = 1024 * 1024;

/// Progress is reported at most once per this many bytes (and always at the end), so a slow
/// callback (a UI across the FFI) does not throttle the transfer.
const PROGRESS_STEP: u64 = 256 * 1024;

/// `report.pdf` -> `report.pdf.part`: where the bytes go until the download is complete.
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

fn local(e: std::io::Error) -> TransferError {
    TransferError::LocalFile(e.to_string())
}

impl OneDrive {
    /// Downloads a file to `dest`, reporting progress; on cancel or failure no partial file is
    /// left at `dest`. The body is bounded by the size the server announced (or, without a
    /// `Content-Length`, the item's size in Graph) and must match it exactly. Returns the
    /// number of bytes written.
    pub async fn download_to_file(
        &self,
        item_id: &str,
        dest: &Path,
        progress: &dyn Progress,
        cancel: &CancelFlag,
    ) -> Result<u64, TransferError> {
        const CTX: &str = "downloading a file";
        if dest.file_name().is_none() {
            return Err(TransferError::LocalFile(
                "the destination is not a file path".into(),
            ));
        }
        let (url, item_size) = self.download_link(item_id).await?;
        let http = self.transfer_http.clone();
        let mut response = self
            .graph
            .retry
            .run(CTX, true, || {
                let request = http.get(url.clone());
                async move { request.send().await.map_err(Error::network(CTX)) }
            })
            .await?;
        if !response.status().is_success() {
            return Err(Error::Http {
                context: CTX,
                status: response.status().as_u16(),
                code: None,
            }
            .into());
        }
        let total = response.content_length().unwrap_or(item_size);
        let partial = partial_path(dest);
        let file = tokio::fs::File::create(&partial).await.map_err(local)?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut done = 0u64;
        let mut reported = 0u64;
        let result: Result<(), TransferError> = async {
            while let Some(chunk) = response.chunk().await.map_err(Error::network(CTX))? {
                if cancel.is_cancelled() {
                    return Err(TransferError::Cancelled);
                }
                done += chunk.len() as u64;
                if done > total {
                    return Err(Error::invalid(CTX, "the download is larger than announced").into());
                }
                out.write_all(&chunk).await.map_err(local)?;
                if done - reported >= PROGRESS_STEP {
                    reported = done;
                    progress.update(done, total);
                }
            }
            if done != total {
                return Err(Error::invalid(CTX, "the download ended early").into());
            }
            out.flush().await.map_err(local)?;
            // On disk before it takes the real name: a crash never leaves a short file there.
            out.get_ref().sync_all().await.map_err(local)?;
            progress.update(done, total);
            Ok(())
        }
        .await;
        drop(out);
        match result {
            Ok(()) => {
                tokio::fs::rename(&partial, dest).await.map_err(local)?;
                Ok(done)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
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
}
