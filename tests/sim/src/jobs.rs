//! Print jobs of the user: create (with a pre-authenticated download URL the server stores but
//! never fetches), list, read, cancel, and release to the printer of the active session,
//! idempotently by `clientRequestId`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::config::Capabilities;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{parse_unique_pairs, ApiJson, PathParam};
use crate::region::Shared;
use crate::secret::new_id;
use crate::store::{
    Duplex, Job, JobOptions, JobSource, JobState, JobTransfer, ReleaseRecord, Store,
};
use crate::validate;

/// Largest document size accepted (OneDrive's own limit is 250 GB).
const MAX_DOCUMENT_BYTES: u64 = 250 * 1024 * 1024 * 1024;

/// `POST /api/v1/jobs` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateJob {
    file_name: String,
    #[serde(deserialize_with = "validate::whole_number")]
    size: u64,
    content_type: String,
    download_url: String,
    #[serde(default, deserialize_with = "validate::present")]
    source: Option<JobSource>,
    #[serde(default)]
    options: OptionsInput,
}

/// Print options as sent; absent members take defaults, `null` members are refused (the
/// contract has no nullable request member).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OptionsInput {
    #[serde(default, deserialize_with = "validate::present_whole_number")]
    copies: Option<u64>,
    #[serde(default, deserialize_with = "validate::present")]
    duplex: Option<Duplex>,
    #[serde(default, deserialize_with = "validate::present")]
    color: Option<bool>,
    #[serde(default, deserialize_with = "validate::present")]
    page_ranges: Option<String>,
    #[serde(default, deserialize_with = "validate::present")]
    media: Option<String>,
}

impl OptionsInput {
    fn validate(self) -> Result<JobOptions, ApiError> {
        let copies = self.copies.unwrap_or(1);
        if !(1..=999).contains(&copies) {
            return Err(ApiError::invalid("`options.copies` must be 1–999"));
        }
        let page_ranges = match self.page_ranges {
            Some(r) => Some(validate::page_ranges(&r)?.to_string()),
            None => None,
        };
        let media = match self.media {
            Some(m) => Some(validate::media(&m)?.to_string()),
            None => None,
        };
        Ok(JobOptions {
            copies: copies as u16,
            duplex: self.duplex.unwrap_or_default(),
            color: self.color.unwrap_or(false),
            page_ranges,
            media,
        })
    }
}

/// `POST /api/v1/jobs/release` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseRequest {
    job_ids: Vec<String>,
    client_request_id: String,
    /// Fresh pre-authenticated download URLs by job id, replacing the ones stored at creation
    /// (OneDrive's URLs live minutes, jobs wait days).
    #[serde(default)]
    download_urls: BTreeMap<String, String>,
}

/// A job as the user sees it (no download URL).
pub fn job_json(job: &Job) -> Value {
    json!({
        "id": job.id,
        "fileName": job.file_name,
        "size": job.transfer.as_ref().map(|t| t.size),
        "contentType": job.transfer.as_ref().map(|t| &t.content_type),
        "source": job.transfer.as_ref().and_then(|t| t.source.as_ref()),
        "options": job.options,
        "state": job.state,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
        "expiresAt": job.expires_at,
        "printerId": job.printer_id,
        "failureReason": job.failure_reason,
    })
}

fn job_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::JobNotFound, "no such job")
}

/// The caller's job with this id.
fn owned_job<'a>(store: &'a Store, caller: &Caller, id: &str) -> Result<&'a Job, ApiError> {
    let id = validate::id("id", id)?;
    store
        .jobs
        .get(id)
        .filter(|j| j.owner_id == caller.user_id)
        .ok_or_else(job_not_found)
}

/// `POST /api/v1/jobs`: a waiting job for the user (from the phone, or from a printer in a
/// session with `jobs.submit`).
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateJob>,
) -> Result<Response, ApiError> {
    caller.require_either("print", "jobs.submit")?;
    let file_name = validate::file_name(&body.file_name)?.to_string();
    let content_type = validate::content_type(&body.content_type)?.to_string();
    let download_url = validate::transfer_url("downloadUrl", &body.download_url)?;
    if !(1..=MAX_DOCUMENT_BYTES).contains(&body.size) {
        return Err(ApiError::invalid("`size` must be 1 byte to 250 GiB"));
    }
    let options = body.options.validate()?;
    if let Some(source) = &body.source {
        validate::opaque_ref("source.itemId", &source.item_id)?;
        if let Some(drive) = &source.drive_id {
            validate::opaque_ref("source.driveId", drive)?;
        }
    }
    let now = state.now();
    let mut store = state.lock();
    let open = store
        .jobs
        .values()
        .filter(|j| j.owner_id == caller.user_id && !j.state.is_final())
        .count();
    if open >= state.config.limits.max_open_jobs_per_user {
        return Err(ApiError::conflict(
            ErrorCode::QuotaExceeded,
            "too many open jobs",
        ));
    }
    let id = new_id("job");
    let job = Job {
        id: id.clone(),
        owner_id: caller.user_id.clone(),
        file_name,
        options,
        state: JobState::Waiting,
        created_at: now,
        updated_at: now,
        expires_at: now.plus(Duration::from_secs(state.config.lifetimes.job_expiry_secs)),
        printer_id: None,
        session_id: None,
        failure_reason: None,
        transfer: Some(JobTransfer {
            download_url,
            size: body.size,
            content_type,
            source: body.source,
        }),
    };
    let body = job_json(&job);
    store.jobs.insert(id.clone(), job);
    store.set_job_state(&id, JobState::Waiting, None, now);
    tracing::info!(job = %id, user = %caller.user_id, "job created");
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/jobs/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /api/v1/jobs[?state=waiting]`: the user's jobs, newest first.
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require_either("print", "jobs.release")?;
    let params =
        parse_unique_pairs(query.unwrap_or_default().as_bytes()).map_err(ApiError::invalid)?;
    let filter = match params.get("state") {
        None => None,
        Some(s) => Some(
            serde_json::from_value::<JobState>(Value::String(s.clone()))
                .map_err(|_| ApiError::invalid("unknown `state`"))?,
        ),
    };
    let store = state.lock();
    let mut jobs: Vec<&Job> = store
        .jobs
        .values()
        .filter(|j| j.owner_id == caller.user_id && filter.is_none_or(|f| j.state == f))
        .collect();
    jobs.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    Ok(Json(
        json!({ "jobs": jobs.into_iter().map(job_json).collect::<Vec<_>>() }),
    ))
}

/// `GET /api/v1/jobs/{id}`.
pub async fn get_one(
    State(state): State<Shared>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    caller.require_either("print", "jobs.release")?;
    let store = state.lock();
    owned_job(&store, &caller, &id).map(|j| Json(job_json(j)))
}

/// `POST /api/v1/jobs/{id}/cancel`: from waiting or releasing; cancelling again is a no-op.
pub async fn cancel(
    State(state): State<Shared>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    caller.require_either("print", "jobs.release")?;
    let mut store = state.lock();
    let job = owned_job(&store, &caller, &id)?;
    let id = job.id.clone();
    match job.state {
        JobState::Waiting | JobState::Releasing => {
            store.set_job_state(&id, JobState::Cancelled, None, state.now());
        }
        JobState::Cancelled => {}
        other => {
            return Err(ApiError::conflict(
                ErrorCode::InvalidStateTransition,
                format!("a job that is {} cannot be cancelled", state_name(other)),
            ))
        }
    }
    owned_job(&store, &caller, &id).map(|j| Json(job_json(j)))
}

/// `POST /api/v1/jobs/release`: releases waiting jobs to the printer of the active session.
/// The same `clientRequestId` with the same jobs replays the first answer; with other jobs it
/// is a 409.
pub async fn release(
    State(state): State<Shared>,
    caller: Caller,
    ApiJson(body): ApiJson<ReleaseRequest>,
) -> Result<Response, ApiError> {
    caller.require_either("print", "jobs.release")?;
    let request_id = validate::id("clientRequestId", &body.client_request_id)?.to_string();
    let max = state.config.limits.max_release_batch;
    if body.job_ids.is_empty() || body.job_ids.len() > max {
        return Err(ApiError::invalid(format!("`jobIds` must hold 1–{max} ids")));
    }
    let mut job_ids = body
        .job_ids
        .iter()
        .map(|id| validate::id("jobIds", id).map(String::from))
        .collect::<Result<Vec<_>, _>>()?;
    job_ids.sort();
    job_ids.dedup();
    let mut fresh_urls = BTreeMap::new();
    for (id, url) in &body.download_urls {
        if job_ids.binary_search(id).is_err() {
            return Err(ApiError::invalid(format!(
                "`downloadUrls` names job {} that is not in `jobIds`",
                validate::id("downloadUrls", id)?
            )));
        }
        fresh_urls.insert(id.clone(), validate::transfer_url("downloadUrls", url)?);
    }

    let now = state.now();
    let mut store = state.lock();
    let previous = store
        .releases
        .get(&caller.user_id)
        .and_then(|r| r.get(&request_id))
        .map(|p| (p.job_ids == job_ids, p.response.clone()));
    if let Some((same_jobs, response)) = previous {
        if !same_jobs {
            return Err(ApiError::conflict(
                ErrorCode::IdempotencyConflict,
                "this clientRequestId was used for other jobs",
            ));
        }
        // A replay may bring fresher URLs for jobs the printer has not started yet.
        for (id, url) in fresh_urls {
            if let Some(job) = store.jobs.get_mut(&id) {
                if job.state == JobState::Releasing {
                    if let Some(t) = job.transfer.as_mut() {
                        t.download_url = url;
                    }
                }
            }
        }
        drop(store);
        return Ok(answer(&state, Json(response)));
    }
    let session = store.session_of(&caller).cloned().ok_or_else(|| {
        ApiError::conflict(ErrorCode::NoActiveSession, "log in at a printer first")
    })?;
    let capabilities = store
        .printers
        .get(&session.printer_id)
        .map(|p| p.capabilities.clone());
    for id in &job_ids {
        let job = owned_job(&store, &caller, id)?;
        if job.state != JobState::Waiting {
            return Err(ApiError::conflict(
                ErrorCode::JobNotReleasable,
                format!("job {id} is {}, not waiting", state_name(job.state)),
            ));
        }
        if let Some(caps) = &capabilities {
            check_capabilities(id, &job.options, caps)?;
        }
    }
    for id in &job_ids {
        if let Some(job) = store.jobs.get_mut(id) {
            job.printer_id = Some(session.printer_id.clone());
            job.session_id = Some(session.id.clone());
            if let (Some(url), Some(t)) = (fresh_urls.remove(id), job.transfer.as_mut()) {
                t.download_url = url;
            }
        }
        store.set_job_state(id, JobState::Releasing, None, now);
    }
    // Kept for replays, so it holds ids and states only, not document metadata.
    let jobs: Vec<Value> = job_ids
        .iter()
        .map(|id| json!({ "id": id, "state": JobState::Releasing }))
        .collect();
    let response = json!({
        "clientRequestId": request_id,
        "sessionId": session.id,
        "printerId": session.printer_id,
        "jobs": jobs,
    });
    tracing::info!(session = %session.id, count = job_ids.len(), "jobs released");
    store.remember_release(
        &caller.user_id,
        &request_id,
        ReleaseRecord {
            job_ids,
            response: response.clone(),
            at: now,
        },
    );
    drop(store);
    Ok(answer(&state, Json(response)))
}

/// The release answer, unless a fault switch says it is lost on the way.
fn answer(state: &Shared, body: Json<Value>) -> Response {
    if state.faults.take_release_drop() {
        tracing::info!("fault: release answer dropped");
        return crate::faults::lost_answer(body.into_response());
    }
    body.into_response()
}

/// Refuses a job the session's printer cannot print as asked, naming the option.
fn check_capabilities(id: &str, options: &JobOptions, caps: &Capabilities) -> Result<(), ApiError> {
    let refused = if options.color && !caps.color {
        Some("color")
    } else if options.duplex != Duplex::None && !caps.duplex {
        Some("duplex")
    } else if options
        .media
        .as_ref()
        .is_some_and(|m| !caps.media_sizes.iter().any(|s| s.eq_ignore_ascii_case(m)))
    {
        Some("media")
    } else {
        None
    };
    match refused {
        Some(option) => Err(ApiError::conflict(
            ErrorCode::OptionNotSupported,
            format!("job {id}: the printer does not support `options.{option}`"),
        )),
        None => Ok(()),
    }
}

/// The wire name of a state, for messages.
pub fn state_name<T: serde::Serialize>(state: T) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}
