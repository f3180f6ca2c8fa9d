//! What the Roger API says about printers, sessions, jobs and scans, parsed strictly but
//! tolerant of additions (unknown fields are ignored, unknown states are kept as `Unknown`).

use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest id, name or label accepted from the server.
pub(crate) const MAX_TEXT: usize = 512;

/// Parses an RFC 3339 timestamp into a [`SystemTime`].
pub(crate) fn parse_time(text: &str) -> Option<SystemTime> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = t.unix_timestamp_nanos();
    let since = std::time::Duration::from_nanos(u64::try_from(nanos).ok()?);
    SystemTime::UNIX_EPOCH.checked_add(since)
}

fn time_field<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
    let text = bounded_text(d)?;
    parse_time(&text).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 time"))
}

fn optional_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_time(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("not an RFC 3339 time")),
    }
}

fn bounded_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if text.len() > MAX_TEXT || text.chars().any(char::is_control) {
        return Err(serde::de::Error::custom(
            "text too long or with control characters",
        ));
    }
    Ok(text)
}

fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(text) if text.len() > MAX_TEXT || text.chars().any(char::is_control) => Err(
            serde::de::Error::custom("text too long or with control characters"),
        ),
        other => Ok(other),
    }
}

/// What a printer can do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Prints in colour.
    #[serde(default)]
    pub color: bool,
    /// Prints on both sides.
    #[serde(default)]
    pub duplex: bool,
    /// Staples.
    #[serde(default)]
    pub staple: bool,
    /// Media sizes it takes, e.g. `A4`, `Letter`.
    #[serde(default)]
    pub media_sizes: Vec<String>,
}

/// A printer of the user's tenant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Printer {
    /// Stable id.
    #[serde(deserialize_with = "bounded_text")]
    pub id: String,
    /// Name to show.
    #[serde(deserialize_with = "bounded_text")]
    pub name: String,
    /// Model, when known.
    #[serde(default, deserialize_with = "optional_text")]
    pub model: Option<String>,
    /// Where it stands, when known.
    #[serde(default, deserialize_with = "optional_text")]
    pub location: Option<String>,
    /// What it can do (absent in pairing previews).
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
}

/// What a printer session allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Right {
    /// Release the user's jobs at the printer.
    Release,
    /// Submit jobs from the printer (step 2 of the printer login).
    Submit,
    /// Scan (step 2 of the printer login).
    Scan,
}

/// The user's login at a printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterSession {
    /// Session id.
    pub id: String,
    /// The printer (absent when the server no longer knows it).
    pub printer: Option<Printer>,
    /// When it started.
    pub started_at: SystemTime,
    /// What it allows.
    pub rights: Vec<Right>,
}

impl PrinterSession {
    /// Whether the session allows `right`.
    pub fn can(&self, right: Right) -> bool {
        self.rights.contains(&right)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawSession {
    #[serde(deserialize_with = "bounded_text")]
    id: String,
    #[serde(default)]
    printer: Option<Printer>,
    #[serde(deserialize_with = "time_field")]
    started_at: SystemTime,
    #[serde(default)]
    rights: Vec<String>,
}

impl From<RawSession> for PrinterSession {
    fn from(raw: RawSession) -> Self {
        // Rights this core does not know are ignored, not an error: a newer server may add some.
        let rights = raw
            .rights
            .iter()
            .filter_map(|r| match r.as_str() {
                "jobs.release" => Some(Right::Release),
                "jobs.submit" => Some(Right::Submit),
                "scan" => Some(Right::Scan),
                _ => None,
            })
            .collect();
        PrinterSession {
            id: raw.id,
            printer: raw.printer,
            started_at: raw.started_at,
            rights,
        }
    }
}

/// A print job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum JobState {
    /// Queued, waiting to be released at a printer.
    Waiting,
    /// Released; the printer has not started it yet.
    Releasing,
    /// Printing.
    Printing,
    /// Printed.
    Printed,
    /// The printer could not print it.
    Failed,
    /// Cancelled by the user.
    Cancelled,
    /// Not released within its lifetime (7 days).
    Expired,
    /// A state this version of the core does not know.
    #[serde(other)]
    Unknown,
}

impl JobState {
    /// Whether the job can no longer change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Printed | JobState::Failed | JobState::Cancelled | JobState::Expired
        )
    }
}

/// Duplex printing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Duplex {
    /// One side.
    #[default]
    None,
    /// Both sides, flipped on the long edge (portrait books).
    LongEdge,
    /// Both sides, flipped on the short edge (calendars).
    ShortEdge,
}

/// How a job is to be printed. [`PrintOptions::default`] is one copy, one side, black and white.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrintOptions {
    /// Copies, 1–999.
    pub copies: u16,
    /// Sides.
    #[serde(default)]
    pub duplex: Duplex,
    /// Colour (else black and white).
    #[serde(default)]
    pub color: bool,
    /// Pages to print, e.g. `1-3,5` or `9-` (to the end); all when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_page_ranges"
    )]
    pub page_ranges: Option<String>,
    /// Media size, one of the printer's, e.g. `A4`; the printer's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<String>,
}

/// The highest page number the protocol knows.
pub(crate) const MAX_PAGE: u32 = 99_999;

/// Page ranges as the protocol spells them: an open range `9-` ("to the end", as print dialogs
/// accept) becomes `9-99999`, since the wire format has closed ranges only.
pub(crate) fn wire_page_ranges(ranges: &str) -> String {
    ranges
        .split(',')
        .map(|part| {
            let part = part.trim();
            match part.strip_suffix('-') {
                Some(from) if !from.trim().is_empty() && !from.contains('-') => {
                    format!("{}-{MAX_PAGE}", from.trim())
                }
                _ => part.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn serialize_page_ranges<S: serde::Serializer>(
    ranges: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match ranges {
        Some(r) => serializer.serialize_some(&wire_page_ranges(r)),
        None => serializer.serialize_none(),
    }
}

impl Default for PrintOptions {
    fn default() -> Self {
        Self {
            copies: 1,
            duplex: Duplex::None,
            color: false,
            page_ranges: None,
            media: None,
        }
    }
}

/// Where a job's document lives in OneDrive (opaque ids), so a fresh download URL can be made
/// when it is released.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSource {
    /// The drive, when not the user's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive_id: Option<String>,
    /// The OneDrive item.
    pub item_id: String,
}

/// A print job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Job id.
    #[serde(deserialize_with = "bounded_text")]
    pub id: String,
    /// The document's file name.
    #[serde(deserialize_with = "bounded_text")]
    pub file_name: String,
    /// Size in bytes, while the job can still print.
    #[serde(default)]
    pub size: Option<u64>,
    /// MIME type, while the job can still print.
    #[serde(default, deserialize_with = "optional_text")]
    pub content_type: Option<String>,
    /// The OneDrive item it prints, when the submitter named it.
    #[serde(default)]
    pub source: Option<JobSource>,
    /// How it prints.
    pub options: PrintOptions,
    /// Where it stands.
    pub state: JobState,
    /// When it was queued.
    #[serde(deserialize_with = "time_field")]
    pub created_at: SystemTime,
    /// Last change.
    #[serde(default, deserialize_with = "optional_time")]
    pub updated_at: Option<SystemTime>,
    /// When it expires unless released.
    #[serde(default, deserialize_with = "optional_time")]
    pub expires_at: Option<SystemTime>,
    /// The printer it was released to.
    #[serde(default, deserialize_with = "optional_text")]
    pub printer_id: Option<String>,
    /// Why it failed, when it did.
    #[serde(default, deserialize_with = "optional_text")]
    pub failure_reason: Option<String>,
}

/// A scan's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ScanState {
    /// Asked for; the printer has not started.
    Requested,
    /// The printer is scanning.
    Scanning,
    /// The printer uploaded the file to OneDrive.
    Uploaded,
    /// It did not work.
    Failed,
    /// A state this version of the core does not know.
    #[serde(other)]
    Unknown,
}

impl ScanState {
    /// Whether the scan can no longer change.
    pub fn is_final(self) -> bool {
        matches!(self, ScanState::Uploaded | ScanState::Failed)
    }
}

/// A scan request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scan {
    /// Scan id.
    #[serde(deserialize_with = "bounded_text")]
    pub id: String,
    /// The profile used.
    #[serde(deserialize_with = "bounded_text")]
    pub profile_id: String,
    /// The printer scanning.
    #[serde(default, deserialize_with = "optional_text")]
    pub printer_id: Option<String>,
    /// Where it stands.
    pub state: ScanState,
    /// When it was asked for.
    #[serde(deserialize_with = "time_field")]
    pub requested_at: SystemTime,
    /// Why it failed, when it did.
    #[serde(default, deserialize_with = "optional_text")]
    pub failure_reason: Option<String>,
}

/// A scan profile of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanProfile {
    /// Stable id.
    #[serde(deserialize_with = "bounded_text")]
    pub id: String,
    /// Name to show, e.g. "Document PDF".
    #[serde(deserialize_with = "bounded_text")]
    pub name: String,
    /// File format: `pdf`, `jpeg`, `tiff`.
    #[serde(deserialize_with = "bounded_text")]
    pub format: String,
    /// Resolution, when given.
    #[serde(default)]
    pub resolution_dpi: Option<u32>,
    /// `color`, `grayscale`, `monochrome`, when given.
    #[serde(default, deserialize_with = "optional_text")]
    pub color_mode: Option<String>,
    /// Both sides.
    #[serde(default)]
    pub duplex: bool,
}

impl ScanProfile {
    /// The file extension of what this profile produces.
    pub fn extension(&self) -> &str {
        match self.format.to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => "jpg",
            "tiff" | "tif" => "tif",
            _ => "pdf",
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct JobList {
    pub jobs: Vec<Job>,
}

#[derive(Deserialize)]
pub(crate) struct ScanList {
    pub scans: Vec<Scan>,
}

#[derive(Deserialize)]
pub(crate) struct ProfileList {
    pub profiles: Vec<ScanProfile>,
}

#[derive(Deserialize)]
pub(crate) struct PrinterList {
    pub printers: Vec<Printer>,
}

/// Sorts jobs newest first (by creation, then id for a stable order).
pub(crate) fn newest_first(jobs: &mut [Job]) {
    jobs.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_with_offsets_and_fractions() {
        let a = parse_time("2026-05-01T12:02:00.000Z").unwrap();
        let b = parse_time("2026-05-01T14:02:00+02:00").unwrap();
        assert_eq!(a, b);
        assert!(parse_time("yesterday").is_none());
        assert!(parse_time("1969-12-31T23:59:59Z").is_none());
    }

    #[test]
    fn unknown_states_and_fields_are_tolerated() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "id": "job_1", "fileName": "a.pdf", "options": {"copies": 1},
            "state": "held", "createdAt": "2026-05-01T12:00:00Z", "newField": 3
        }))
        .unwrap();
        assert_eq!(job.state, JobState::Unknown);
        assert!(!job.state.is_final());
    }

    #[test]
    fn control_characters_in_names_are_refused() {
        let r: Result<Job, _> = serde_json::from_value(serde_json::json!({
            "id": "job_1", "fileName": "a\u{1b}[2J.pdf", "options": {"copies": 1},
            "state": "waiting", "createdAt": "2026-05-01T12:00:00Z"
        }));
        assert!(r.is_err());
    }

    #[test]
    fn jobs_sort_newest_first_whatever_the_server_order() {
        let job = |id: &str, at: &str| -> Job {
            serde_json::from_value(serde_json::json!({
                "id": id, "fileName": "a.pdf", "options": {"copies": 1},
                "state": "waiting", "createdAt": at
            }))
            .unwrap()
        };
        let mut jobs = vec![
            job("a", "2026-05-01T10:00:00Z"),
            job("b", "2026-05-01T12:00:00+01:00"),
            job("c", "2026-05-01T11:30:00Z"),
        ];
        newest_first(&mut jobs);
        let ids: Vec<_> = jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"]);
    }

    #[test]
    fn session_rights_map_and_unknown_ones_are_ignored() {
        let raw: RawSession = serde_json::from_value(serde_json::json!({
            "id": "ses_1", "printer": null, "startedAt": "2026-05-01T12:00:00Z",
            "rights": ["jobs.release", "scan", "staple.admin"]
        }))
        .unwrap();
        let session = PrinterSession::from(raw);
        assert!(session.can(Right::Release) && session.can(Right::Scan));
        assert!(!session.can(Right::Submit));
    }
}
