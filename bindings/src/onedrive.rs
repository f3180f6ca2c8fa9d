//! The "Print" and "Scan" folders in OneDrive.

use std::path::PathBuf;
use std::sync::Arc;

use roger_core::onedrive::{DriveItem, KnownFolder, OneDrive};

use crate::cancel::{CancelHandle, Progress, ProgressListener};
use crate::error::RogerError;
use crate::runtime::run;

/// OneDrive, as far as printing and scanning need it.
#[derive(uniffi::Object)]
pub struct OneDriveApi {
    drive: Arc<OneDrive>,
}

impl OneDriveApi {
    pub(crate) fn new(drive: Arc<OneDrive>) -> Self {
        Self { drive }
    }
}

#[uniffi::export]
impl OneDriveApi {
    /// The files in "Print" (created when missing), folders first, then by name.
    pub async fn list_print(&self) -> Result<Vec<DriveItem>, RogerError> {
        let drive = self.drive.clone();
        run(async move { Ok(drive.list_print().await?) }).await
    }

    /// The files in "Scan", newest first.
    pub async fn list_scans(&self) -> Result<Vec<DriveItem>, RogerError> {
        let drive = self.drive.clone();
        run(async move { Ok(drive.list_scans().await?) }).await
    }

    /// Uploads a local file into "Print" (resumable, with progress; a name clash is renamed).
    pub async fn upload_to_print(
        &self,
        path: String,
        name: String,
        progress: Option<Arc<dyn ProgressListener>>,
        cancel: Arc<CancelHandle>,
    ) -> Result<DriveItem, RogerError> {
        let drive = self.drive.clone();
        run(async move {
            let folder = drive.folder_id(KnownFolder::Print).await?;
            let path = PathBuf::from(path);
            Ok(drive
                .upload_file(
                    &path,
                    &folder,
                    &name,
                    &Progress(progress),
                    cancel.flag(),
                    &|_| {},
                )
                .await?)
        })
        .await
    }

    /// Downloads an item to a local file (resumable; the file appears only when complete).
    /// Returns the bytes written.
    pub async fn download_to_file(
        &self,
        item_id: String,
        path: String,
        progress: Option<Arc<dyn ProgressListener>>,
        cancel: Arc<CancelHandle>,
    ) -> Result<u64, RogerError> {
        let drive = self.drive.clone();
        run(async move {
            let path = PathBuf::from(path);
            Ok(drive
                .download_to_file(&item_id, &path, &Progress(progress), cancel.flag())
                .await?)
        })
        .await
    }

    /// Deletes an item.
    pub async fn delete(&self, item_id: String) -> Result<(), RogerError> {
        let drive = self.drive.clone();
        run(async move { Ok(drive.delete(&item_id).await?) }).await
    }
}
