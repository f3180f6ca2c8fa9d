//! Queuing print jobs: a OneDrive file, or a local file uploaded to "Print" first. The Roger
//! server gets the file's name, size, type, a short-lived download URL and the item's id (to
//! renew the URL at release), nothing else about the document.

use std::path::Path;

use reqwest::Method;

use super::error::PrinterError;
use super::jobs::{check_against, check_options};
use super::model::{Job, PrintOptions};
use super::Inner;
use crate::onedrive::{
    AfterPrint, CancelFlag, DriveItem, KnownFolder, OneDrive, Printability, Progress,
};

/// Type sent for a file OneDrive gives no MIME type for.
const FALLBACK_TYPE: &str = "application/octet-stream";

/// Checks the options alone, and against the session's printer when logged in at one.
fn check(inner: &Inner, options: &PrintOptions) -> Result<(), PrinterError> {
    match inner.capabilities() {
        Some(caps) => check_against(options, &caps)?,
        None => check_options(options)?,
    }
    Ok(())
}

/// A file that can be printed, or why not.
fn printable(item: &DriveItem) -> Result<(), PrinterError> {
    match item.printability {
        Printability::Printable => Ok(()),
        Printability::Folder | Printability::Unsupported => Err(PrinterError::NotPrintable {
            name: item.name.clone(),
        }),
    }
}

/// Submits a job for `item` and records its after-print action.
async fn submit(
    inner: &Inner,
    item: &DriveItem,
    options: &PrintOptions,
    after: AfterPrint,
) -> Result<Job, PrinterError> {
    printable(item)?;
    let download_url = inner.onedrive.download_url(&item.id).await?;
    let body = serde_json::json!({
        "fileName": item.name,
        "size": item.size,
        "contentType": item.mime_type.as_deref().unwrap_or(FALLBACK_TYPE),
        "downloadUrl": download_url.as_str(),
        "source": {"itemId": item.id},
        "options": options,
    });
    let job: Job = inner
        .api
        .json("queuing a print job", Method::POST, "jobs", Some(&body))
        .await?;
    inner.ledger().insert(&job.id, &item.id, after);
    Ok(job)
}

pub(crate) async fn print_onedrive(
    inner: &Inner,
    item_id: &str,
    options: &PrintOptions,
    after: AfterPrint,
) -> Result<Job, PrinterError> {
    check(inner, options)?;
    Inner::id_segment(item_id)?;
    let item = inner.onedrive.item(item_id).await?;
    submit(inner, &item, options, after).await
}

/// A local file to print, and how its upload is followed.
pub struct LocalFile<'a> {
    /// The file.
    pub path: &'a Path,
    /// Its name in OneDrive (a clash is renamed); the file's own name when `None`.
    pub name: Option<&'a str>,
    /// Told the bytes uploaded.
    pub progress: &'a dyn Progress,
    /// Cancels the upload; nothing is queued then.
    pub cancel: &'a CancelFlag,
}

pub(crate) async fn print_local(
    inner: &Inner,
    file: LocalFile<'_>,
    options: &PrintOptions,
    after: AfterPrint,
) -> Result<Job, PrinterError> {
    // Everything that can be refused is refused before a byte is uploaded.
    check(inner, options)?;
    let name = match file.name {
        Some(n) => n.to_owned(),
        None => file
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| PrinterError::NotPrintable {
                name: file.path.display().to_string(),
            })?,
    };
    OneDrive::check_name(&name)?;
    if crate::onedrive::printability(&name, None) != Printability::Printable {
        return Err(PrinterError::NotPrintable { name });
    }
    let folder = inner.onedrive.folder_id(KnownFolder::Print).await?;
    let item = inner
        .onedrive
        .upload_file(
            file.path,
            &folder,
            &name,
            file.progress,
            file.cancel,
            &|_| {},
        )
        .await?;
    submit(inner, &item, options, after).await
}
