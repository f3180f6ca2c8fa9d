//! The destination of a scan: an upload session in "Scan" whose pre-authenticated URL the
//! printer uploads to directly (the Roger server only sees the timestamp).

use std::time::SystemTime;

use url::Url;

use super::drive::{KnownFolder, OneDrive};
use super::names::sanitize_name;
use super::upload::TransferError;

/// Where the printer should upload a scan. Its `Debug` shows only the URL's origin.
#[derive(Clone)]
pub struct ScanDestination {
    /// The file name asked for (OneDrive renames it on a clash).
    pub file_name: String,
    /// The pre-authenticated upload URL for the printer. A secret: do not log it.
    pub upload_url: Url,
}

impl std::fmt::Debug for ScanDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanDestination")
            .field("file_name", &self.file_name)
            .field(
                "upload_url",
                &format_args!(
                    "{}/[redacted]",
                    self.upload_url.origin().ascii_serialization()
                ),
            )
            .finish()
    }
}

/// `YYYY-MM-DD HH.MM.SS` (UTC) for a time, without a calendar dependency.
fn timestamp(at: SystemTime) -> String {
    let secs = crate::clock::unix_secs(at);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (proleptic Gregorian), after H. Hinnant's public-domain algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}.{:02}.{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The file name of a scan: profile name and time, made OneDrive-safe.
pub fn scan_file_name(profile_name: &str, extension: &str, at: SystemTime) -> String {
    let ext: String = extension
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let ext = if ext.is_empty() {
        "pdf".into()
    } else {
        ext.to_ascii_lowercase()
    };
    let stem = sanitize_name(&format!("{profile_name} {}", timestamp(at)), "Scan");
    format!("{stem}.{ext}")
}

impl OneDrive {
    /// Ensures "Scan" exists and opens an upload session there for a new scan file
    /// (`rename` on a name clash). The printer uploads to the returned URL.
    pub async fn scan_destination(
        &self,
        profile_name: &str,
        extension: &str,
        at: SystemTime,
    ) -> Result<ScanDestination, TransferError> {
        let folder = self.folder_id(KnownFolder::Scan).await?;
        let file_name = scan_file_name(profile_name, extension, at);
        let upload_url = self
            .create_upload_session(&folder, &file_name, None)
            .await?;
        Ok(ScanDestination {
            file_name,
            upload_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn debug_output_hides_the_upload_url() {
        let dest = ScanDestination {
            file_name: "Scan.pdf".into(),
            upload_url: Url::parse("https://up.example/session/canary-9c1f?tempauth=canary-9c1f")
                .unwrap(),
        };
        let shown = format!("{dest:?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("https://up.example") && shown.contains("Scan.pdf"));
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00.00.00");
        // 2026-11-24 19:01:51 UTC
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(1_795_546_911)),
            "2026-11-24 19.01.51"
        );
        // A leap day.
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29 00.00.00"
        );
    }

    #[test]
    fn scan_names_are_safe_for_onedrive() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_546_911);
        assert_eq!(
            scan_file_name("Document PDF", "PDF", at),
            "Document PDF 2026-11-24 19.01.51.pdf"
        );
        assert_eq!(
            scan_file_name("A/B: test", "..", at),
            "A_B_ test 2026-11-24 19.01.51.pdf"
        );
        assert!(super::super::validate_name(&scan_file_name("CON", "jpg", at)).is_ok());
    }
}
