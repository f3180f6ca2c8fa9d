//! Scanning to OneDrive: the phone opens an upload session in "Scan" (`rename` on a clash), hands
//! its URL to the printer through the Roger API, follows the scan to its end (events, with
//! polling as a fallback) and finds the new file.

use std::collections::HashSet;
use std::time::SystemTime;

use reqwest::Method;
use tokio::sync::broadcast;

use super::api::has_code;
use super::error::PrinterError;
use super::events::PrinterEvent;
use super::jobs::not_found;
use super::model::{ProfileList, Right, Scan, ScanList, ScanProfile, ScanState};
use super::{Inner, RogerApi};
use crate::onedrive::DriveItem;

/// Looks at "Scan" this many times (a poll interval apart) for the uploaded file.
const FIND_ATTEMPTS: u32 = 5;

/// A finished scan and its file in OneDrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedFile {
    /// The scan's id.
    pub scan_id: String,
    /// The new file in "Scan".
    pub item: DriveItem,
}

pub(crate) async fn profiles(api: &RogerApi) -> Result<Vec<ScanProfile>, PrinterError> {
    let list: ProfileList = api.get("listing scan profiles", "scan-profiles").await?;
    Ok(list.profiles)
}

pub(crate) async fn list(api: &RogerApi) -> Result<Vec<Scan>, PrinterError> {
    let list: ScanList = api.get("listing scans", "scans").await?;
    Ok(list.scans)
}

async fn get(api: &RogerApi, id: &str) -> Result<Scan, PrinterError> {
    let path = format!("scans/{}", Inner::id_segment(id)?);
    api.get("reading a scan", &path)
        .await
        .map_err(|e| not_found(e, "scan", id))
}

/// Whether `name` is the file asked for, or OneDrive's renaming of it (`stem 1.pdf`).
fn is_our_file(name: &str, asked: &str) -> bool {
    if name == asked {
        return true;
    }
    let (stem, ext) = asked.rsplit_once('.').unwrap_or((asked, ""));
    name.strip_prefix(stem)
        .and_then(|rest| rest.strip_suffix(ext))
        .and_then(|mid| mid.strip_suffix('.'))
        .is_some_and(|mid| {
            let n = mid.trim_start();
            mid.starts_with(' ') && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
        })
}

pub(crate) async fn scan(inner: &Inner, profile_id: &str) -> Result<ScannedFile, PrinterError> {
    let session = inner
        .refresh_session()
        .await?
        .ok_or(PrinterError::NoSession)?;
    if !session.can(Right::Scan) {
        return Err(PrinterError::NotAllowed);
    }
    let profile = profiles(&inner.api)
        .await?
        .into_iter()
        .find(|p| p.id == profile_id)
        .ok_or_else(|| PrinterError::NotFound {
            what: "scan profile",
            id: profile_id.to_owned(),
        })?;
    let before: HashSet<String> = inner
        .onedrive
        .list_scans()
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    let destination = inner
        .onedrive
        .scan_destination(&profile.name, profile.extension(), SystemTime::now())
        .await?;
    // Subscribed before the request, so no event of this scan can be missed.
    let mut events = inner.events.subscribe();
    let body = serde_json::json!({
        "profileId": profile.id,
        "uploadUrl": destination.upload_url.as_str(),
        "fileName": destination.file_name,
    });
    let created: Result<Scan, _> = inner
        .api
        .json("starting a scan", Method::POST, "scans", Some(&body))
        .await;
    let scan = match created {
        Ok(s) => s,
        Err(e) if has_code(&e, &["scan_not_authorized"]) => return Err(PrinterError::NotAllowed),
        Err(e) if has_code(&e, &["no_active_session"]) => return Err(PrinterError::NoSession),
        Err(e) => return Err(not_found(e, "scan profile", profile_id)),
    };
    let done = tokio::time::timeout(
        inner.options.scan_timeout,
        wait_final(inner, &scan, &mut events),
    )
    .await
    .map_err(|_| PrinterError::Timeout("waiting for the scan"))??;
    if done.state == ScanState::Failed {
        return Err(PrinterError::ScanFailed {
            reason: done
                .failure_reason
                .unwrap_or_else(|| "the printer gave no reason".into()),
        });
    }
    for attempt in 0..FIND_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(inner.options.scan_poll).await;
        }
        let mut fresh: Vec<DriveItem> = inner
            .onedrive
            .list_scans()
            .await?
            .into_iter()
            .filter(|i| !before.contains(&i.id) && is_our_file(&i.name, &destination.file_name))
            .collect();
        fresh.sort_by(|a, b| b.last_modified.cmp(&a.last_modified));
        if let Some(item) = fresh.into_iter().next() {
            return Ok(ScannedFile {
                scan_id: scan.id,
                item,
            });
        }
    }
    Err(PrinterError::ScanFileMissing)
}

/// Waits for the scan's final state: from its events, or by polling when none come.
async fn wait_final(
    inner: &Inner,
    scan: &Scan,
    events: &mut broadcast::Receiver<PrinterEvent>,
) -> Result<Scan, PrinterError> {
    if scan.state.is_final() {
        return Ok(scan.clone());
    }
    let mut poll = tokio::time::interval(inner.options.scan_poll);
    poll.tick().await;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(PrinterEvent::Scan { scan_id, state, .. }) if scan_id == scan.id && state.is_final() => {
                    return get(&inner.api, &scan.id).await;
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let now = get(&inner.api, &scan.id).await?;
                    if now.state.is_final() {
                        return Ok(now);
                    }
                }
                // No event stream any more: polling alone goes on.
                Err(broadcast::error::RecvError::Closed) => {
                    poll.tick().await;
                    let now = get(&inner.api, &scan.id).await?;
                    if now.state.is_final() {
                        return Ok(now);
                    }
                }
            },
            _ = poll.tick() => {
                let now = get(&inner.api, &scan.id).await?;
                if now.state.is_final() {
                    return Ok(now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onedrive_renames_are_recognised_and_nothing_else() {
        let asked = "Document PDF 2026-05-01 12.00.00.pdf";
        assert!(is_our_file(asked, asked));
        assert!(is_our_file("Document PDF 2026-05-01 12.00.00 1.pdf", asked));
        assert!(is_our_file(
            "Document PDF 2026-05-01 12.00.00 12.pdf",
            asked
        ));
        for other in [
            "Document PDF 2026-05-01 12.00.00.jpg",
            "Document PDF 2026-05-01 12.00.00 copy.pdf",
            "Document PDF 2026-05-01 12.00.001.pdf",
            "Document PDF 2026-05-01 12.00.00 .pdf",
            "Other.pdf",
        ] {
            assert!(!is_our_file(other, asked), "{other}");
        }
    }
}
