//! Jobs: list, release (idempotent, one client request id per user intent), cancel, and the
//! print options checked before anything is sent.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;

use super::api::{has_code, segment, RogerApi};
use super::error::{OptionError, PrinterError};
use super::model::{newest_first, Capabilities, Duplex, Job, JobList, JobState, PrintOptions};
use crate::error::Error;
use crate::onedrive::OneDrive;

/// Most copies of one job.
pub const MAX_COPIES: u16 = 999;
/// Most jobs in one release.
pub const MAX_RELEASE: usize = 50;
/// Attempts of one release before it is reported unconfirmed.
const RELEASE_ATTEMPTS: u32 = 4;

fn option_error(option: &'static str, reason: impl Into<String>) -> OptionError {
    OptionError {
        option,
        reason: reason.into(),
    }
}

/// Checks a page range list such as `1-3,5,9-`: ascending page numbers
/// 1–99999, at most 50 ranges (the protocol's bounds).
fn check_page_ranges(ranges: &str) -> Result<(), OptionError> {
    let bad = |why: &str| option_error("pageRanges", why);
    if ranges.is_empty() || ranges.len() > 256 {
        return Err(bad("give pages like 1-3,5"));
    }
    let parts: Vec<&str> = ranges.split(',').map(str::trim).collect();
    if parts.len() > 50 {
        return Err(bad("at most 50 ranges"));
    }
    let page = |s: &str| -> Result<u32, OptionError> {
        match s.parse::<u32>() {
            Ok(n) if (1..=super::model::MAX_PAGE).contains(&n) && !s.starts_with('+') => Ok(n),
            _ => Err(bad("pages are numbered from 1")),
        }
    };
    let mut last = 0;
    for part in parts {
        let (from, to) = match part.split_once('-') {
            Some((a, "")) => (page(a)?, u32::MAX),
            Some((a, b)) => (page(a)?, page(b)?),
            None => {
                let n = page(part)?;
                (n, n)
            }
        };
        if from > to || from <= last {
            return Err(bad("ranges must go up and not overlap"));
        }
        last = to;
    }
    Ok(())
}

/// Checks options on their own (bounds and syntax).
pub fn check_options(options: &PrintOptions) -> Result<(), OptionError> {
    if !(1..=MAX_COPIES).contains(&options.copies) {
        return Err(option_error(
            "copies",
            format!("between 1 and {MAX_COPIES}"),
        ));
    }
    if let Some(r) = &options.page_ranges {
        check_page_ranges(r)?;
    }
    if let Some(m) = &options.media {
        let ok = (1..=32).contains(&m.len())
            && m.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(option_error("media", "a media name such as A4 or Letter"));
        }
    }
    Ok(())
}

/// Checks options against what a printer can do.
pub fn check_against(options: &PrintOptions, caps: &Capabilities) -> Result<(), OptionError> {
    check_options(options)?;
    if options.color && !caps.color {
        return Err(option_error(
            "color",
            "this printer prints black and white only",
        ));
    }
    if options.duplex != Duplex::None && !caps.duplex {
        return Err(option_error(
            "duplex",
            "this printer prints on one side only",
        ));
    }
    if let Some(m) = &options.media {
        if !caps.media_sizes.iter().any(|s| s.eq_ignore_ascii_case(m)) {
            return Err(option_error(
                "media",
                format!("this printer takes {}", caps.media_sizes.join(", ")),
            ));
        }
    }
    Ok(())
}

/// One user intent to release jobs: the same client request id is sent on every retry, so a
/// release whose answer was lost is never printed twice. Make a new intent only for a new
/// decision of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseIntent {
    client_request_id: String,
    job_ids: Vec<String>,
}

impl ReleaseIntent {
    /// An intent to release these jobs (duplicates removed), with a fresh client request id.
    pub fn new<S: AsRef<str>>(job_ids: &[S]) -> Result<Self, PrinterError> {
        let mut ids: Vec<String> = job_ids.iter().map(|s| s.as_ref().to_owned()).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() || ids.len() > MAX_RELEASE {
            return Err(PrinterError::InvalidId(format!(
                "{} jobs (release 1 to {MAX_RELEASE})",
                ids.len()
            )));
        }
        if let Some(bad) = ids.iter().find(|id| segment(id).is_none()) {
            return Err(PrinterError::InvalidId(bad.clone()));
        }
        Ok(Self {
            client_request_id: new_request_id(),
            job_ids: ids,
        })
    }

    /// Resumes an intent saved earlier (e.g. across an app restart), with its id.
    pub fn resume<S: AsRef<str>>(
        client_request_id: &str,
        job_ids: &[S],
    ) -> Result<Self, PrinterError> {
        let valid = (1..=64).contains(&client_request_id.len())
            && client_request_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if !valid {
            return Err(PrinterError::InvalidId(client_request_id.to_owned()));
        }
        let mut intent = Self::new(job_ids)?;
        intent.client_request_id = client_request_id.to_owned();
        Ok(intent)
    }

    /// The client request id sent with every attempt.
    pub fn client_request_id(&self) -> &str {
        &self.client_request_id
    }

    /// The jobs, sorted.
    pub fn job_ids(&self) -> &[String] {
        &self.job_ids
    }
}

/// `rel_` and 128 bits from the OS's random generator, base64url (the OAuth state generator).
fn new_request_id() -> String {
    format!("rel_{}", oauth2::CsrfToken::new_random().secret())
}

/// What the server confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Released {
    /// The intent's id, echoed.
    pub client_request_id: String,
    /// The session they went to.
    pub session_id: String,
    /// The printer they went to.
    pub printer_id: String,
    /// The jobs and their new states.
    pub jobs: Vec<ReleasedJob>,
}

/// One released job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReleasedJob {
    /// Job id.
    pub id: String,
    /// Its state (`releasing`).
    pub state: JobState,
}

/// The user's jobs, newest first.
pub(crate) async fn list(api: &RogerApi) -> Result<Vec<Job>, PrinterError> {
    let mut jobs = api.get::<JobList>("listing jobs", "jobs").await?.jobs;
    newest_first(&mut jobs);
    Ok(jobs)
}

/// One job.
pub(crate) async fn get(api: &RogerApi, id: &str) -> Result<Job, PrinterError> {
    let path = format!(
        "jobs/{}",
        segment(id).ok_or_else(|| PrinterError::InvalidId(id.into()))?
    );
    api.get("reading a job", &path)
        .await
        .map_err(|e| not_found(e, "job", id))
}

pub(crate) fn not_found(e: Error, what: &'static str, id: &str) -> PrinterError {
    match e {
        Error::Http { status: 404, .. } => PrinterError::NotFound {
            what,
            id: id.to_owned(),
        },
        e => e.into(),
    }
}

/// Cancels a job (waiting or releasing).
pub(crate) async fn cancel(api: &RogerApi, id: &str) -> Result<Job, PrinterError> {
    let path = format!(
        "jobs/{}/cancel",
        segment(id).ok_or_else(|| PrinterError::InvalidId(id.into()))?
    );
    match api
        .json(
            "cancelling a job",
            Method::POST,
            &path,
            Some(&serde_json::json!({})),
        )
        .await
    {
        Ok(job) => Ok(job),
        Err(e) if has_code(&e, &["invalid_state_transition"]) => Err(PrinterError::JobState {
            job_id: id.to_owned(),
            action: "cancelled",
        }),
        Err(e) => Err(not_found(e, "job", id)),
    }
}

/// Whether an attempt's failure leaves the release's outcome unknown (worth the same retry).
fn unknown_outcome(e: &Error) -> bool {
    match e {
        Error::Network { .. } | Error::Throttled { .. } => true,
        Error::Http { status, .. } => *status >= 500,
        Error::InvalidResponse { .. } => true,
        _ => false,
    }
}

/// Releases the intent's jobs to the printer of the active session. The jobs' options are
/// checked against that printer first; jobs that name their OneDrive item get a fresh download
/// URL. Retries that cannot know the outcome reuse the intent's id; when none is confirmed the
/// result is [`PrinterError::ReleaseUnconfirmed`].
pub(crate) async fn release(
    api: &RogerApi,
    onedrive: &OneDrive,
    capabilities: Option<&Capabilities>,
    intent: &ReleaseIntent,
) -> Result<Released, PrinterError> {
    let jobs = list(api).await?;
    let mut download_urls = BTreeMap::new();
    for id in &intent.job_ids {
        let job = jobs
            .iter()
            .find(|j| &j.id == id)
            .ok_or_else(|| PrinterError::NotFound {
                what: "job",
                id: id.clone(),
            })?;
        if let Some(caps) = capabilities {
            check_against(&job.options, caps)?;
        }
        if job.state == JobState::Waiting {
            if let Some(source) = &job.source {
                let url = onedrive.download_url(&source.item_id).await?;
                download_urls.insert(id.clone(), url.to_string());
            }
        }
    }
    let body = serde_json::json!({
        "jobIds": intent.job_ids,
        "clientRequestId": intent.client_request_id,
        "downloadUrls": download_urls,
    });
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=RELEASE_ATTEMPTS {
        let result: Result<Released, Error> = api
            .json("releasing jobs", Method::POST, "jobs/release", Some(&body))
            .await;
        match result {
            Ok(released) if released.client_request_id == intent.client_request_id => {
                return Ok(released)
            }
            Ok(_) => {
                tracing::warn!("release answer names another request; retrying the same intent")
            }
            Err(e) if unknown_outcome(&e) => {
                tracing::info!(attempt, error = %e, "release not confirmed; retrying the same intent");
                if let Error::Throttled {
                    retry_after_secs, ..
                } = e
                {
                    delay = delay.max(Duration::from_secs(retry_after_secs.min(30)));
                }
            }
            Err(e) => return Err(release_error(e, intent)),
        }
        if attempt < RELEASE_ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
    Err(PrinterError::ReleaseUnconfirmed {
        client_request_id: intent.client_request_id.clone(),
    })
}

fn release_error(e: Error, intent: &ReleaseIntent) -> PrinterError {
    if has_code(&e, &["no_active_session"]) {
        return PrinterError::NoSession;
    }
    if has_code(&e, &["job_not_releasable"]) {
        return PrinterError::JobState {
            job_id: intent.job_ids.join(", "),
            action: "released",
        };
    }
    if has_code(&e, &["option_not_supported"]) {
        return OptionError {
            option: "options",
            reason: "the printer cannot print a job as asked".into(),
        }
        .into();
    }
    if let Error::Http { status: 404, .. } = e {
        return PrinterError::NotFound {
            what: "job",
            id: intent.job_ids.join(", "),
        };
    }
    e.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(color: bool, duplex: bool) -> Capabilities {
        Capabilities {
            color,
            duplex,
            staple: false,
            media_sizes: vec!["A4".into(), "Letter".into()],
        }
    }

    #[test]
    fn options_name_what_the_printer_cannot_do() {
        let colour = PrintOptions {
            color: true,
            ..PrintOptions::default()
        };
        assert_eq!(
            check_against(&colour, &caps(false, true))
                .unwrap_err()
                .option,
            "color"
        );
        assert!(check_against(&colour, &caps(true, true)).is_ok());
        let duplex = PrintOptions {
            duplex: Duplex::LongEdge,
            ..PrintOptions::default()
        };
        assert_eq!(
            check_against(&duplex, &caps(true, false))
                .unwrap_err()
                .option,
            "duplex"
        );
        let a3 = PrintOptions {
            media: Some("A3".into()),
            ..PrintOptions::default()
        };
        assert_eq!(
            check_against(&a3, &caps(true, true)).unwrap_err().option,
            "media"
        );
        let letter = PrintOptions {
            media: Some("letter".into()),
            ..PrintOptions::default()
        };
        assert!(check_against(&letter, &caps(true, true)).is_ok());
    }

    #[test]
    fn copies_and_pages_are_bounded() {
        for copies in [0, 1000] {
            let o = PrintOptions {
                copies,
                ..PrintOptions::default()
            };
            assert_eq!(check_options(&o).unwrap_err().option, "copies");
        }
        for good in ["1", "1-3,5", "2-", "1-1,2-4, 7"] {
            assert!(check_page_ranges(good).is_ok(), "{good}");
        }
        // On the wire every range is closed, as the protocol's pattern requires.
        for (given, sent) in [
            ("2-", "2-99999"),
            ("1-3, 5-", "1-3,5-99999"),
            ("1, 4-6", "1,4-6"),
        ] {
            let o = PrintOptions {
                page_ranges: Some(given.into()),
                ..PrintOptions::default()
            };
            assert_eq!(
                serde_json::to_value(&o).unwrap()["pageRanges"],
                sent,
                "{given}"
            );
        }
        for bad in [
            "",
            "0",
            "3-1",
            "1-3,2",
            "a",
            "-3",
            "1,,2",
            "+1",
            "99999999999",
        ] {
            assert!(check_page_ranges(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_intent_keeps_one_id_and_a_sorted_unique_job_set() {
        let ids = ["job_b".to_string(), "job_a".into(), "job_b".into()];
        let intent = ReleaseIntent::new(&ids).unwrap();
        assert_eq!(intent.job_ids(), ["job_a", "job_b"]);
        assert!(intent.client_request_id().starts_with("rel_"));
        assert_eq!(intent.client_request_id().len(), 26);
        assert_ne!(
            ReleaseIntent::new(&ids).unwrap().client_request_id(),
            intent.client_request_id()
        );
        let resumed = ReleaseIntent::resume(intent.client_request_id(), &ids).unwrap();
        assert_eq!(resumed, intent);
        assert!(ReleaseIntent::new::<&str>(&[]).is_err());
        assert!(ReleaseIntent::new(&[".."]).is_err());
        assert!(ReleaseIntent::resume("a b", &ids).is_err());
    }
}
