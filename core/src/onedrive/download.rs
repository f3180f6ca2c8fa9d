//! Downloads from OneDrive to a local file: through the item's pre-authenticated download URL
//! (the bearer token never goes to the content host), streamed to a temporary file that is
//! renamed into place only when complete.

use std::path::Path;

use tokio::io::AsyncWriteExt;

use super::drive::OneDrive;
use super::upload::{CancelFlag, Progress, TransferError};
use crate::error::Error;

impl OneDrive {
    /// Downloads a file to `dest`, reporting progress; on cancel or failure no partial file is
    /// left at `dest`. Returns the number of bytes written.
    pub async fn download_to_file(
        &self,
        item_id: &str,
        dest: &Path,
        progress: &dyn Progress,
        cancel: &CancelFlag,
    ) -> Result<u64, TransferError> {
        const CTX: &str = "downloading a file";
        let url = self.download_url(item_id).await?;
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
        let total = response.content_length().unwrap_or(0);
        let partial = dest.with_extension(match dest.extension() {
            Some(ext) => format!("{}.part", ext.to_string_lossy()),
            None => "part".into(),
        });
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(|e| TransferError::LocalFile(e.to_string()))?;
        let mut done = 0u64;
        let result: Result<(), TransferError> = async {
            while let Some(chunk) = response.chunk().await.map_err(Error::network(CTX))? {
                if cancel.is_cancelled() {
                    return Err(TransferError::Cancelled);
                }
                file.write_all(&chunk)
                    .await
                    .map_err(|e| TransferError::LocalFile(e.to_string()))?;
                done += chunk.len() as u64;
                progress.update(done, total.max(done));
            }
            if total != 0 && done != total {
                return Err(Error::invalid(CTX, "the download ended early").into());
            }
            file.flush()
                .await
                .map_err(|e| TransferError::LocalFile(e.to_string()))?;
            Ok(())
        }
        .await;
        drop(file);
        match result {
            Ok(()) => {
                tokio::fs::rename(&partial, dest)
                    .await
                    .map_err(|e| TransferError::LocalFile(e.to_string()))?;
                Ok(done)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
            }
        }
    }
}
