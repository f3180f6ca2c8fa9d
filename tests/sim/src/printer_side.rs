//! The printer's side of a session: the jobs released to it and the scans asked of it, with
//! their transfer URLs, and their status reports (legal transitions only).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ApiJson, PathParam};
use crate::jobs::{job_json, state_name};
use crate::region::Shared;
use crate::store::{JobState, ScanState};
use crate::validate;

/// `POST /api/v1/printer/{jobs,scans}/{id}/status` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusReport<S> {
    state: S,
    #[serde(default, deserialize_with = "validate::present")]
    reason: Option<String>,
}

/// `GET /api/v1/printer/jobs`: jobs released to this printer in this session, to print.
pub async fn jobs(State(state): State<Shared>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let me = caller.require_printer_scope("jobs.release")?;
    let store = state.lock();
    let jobs: Vec<Value> = store
        .jobs
        .values()
        .filter(|j| j.session_id.as_deref() == Some(me.session_id.as_str()))
        .filter(|j| matches!(j.state, JobState::Releasing | JobState::Printing))
        .map(|j| {
            let mut value = job_json(j);
            if let (Some(object), Some(transfer)) = (value.as_object_mut(), &j.transfer) {
                object.insert("downloadUrl".into(), transfer.download_url.clone().into());
            }
            value
        })
        .collect();
    Ok(Json(json!({ "jobs": jobs })))
}

/// `POST /api/v1/printer/jobs/{id}/status`: releasing → printing | failed, printing → printed | failed.
pub async fn job_status(
    State(state): State<Shared>,
    caller: Caller,
    PathParam(id): PathParam,
    ApiJson(report): ApiJson<StatusReport<JobState>>,
) -> Result<Json<Value>, ApiError> {
    let me = caller.require_printer_scope("jobs.release")?;
    let id = validate::id("id", &id)?;
    let reason = validate::reason(report.reason)?;
    let mut store = state.lock();
    let job = store
        .jobs
        .get(id)
        .filter(|j| j.session_id.as_deref() == Some(me.session_id.as_str()))
        .ok_or_else(|| {
            ApiError::not_found(ErrorCode::JobNotFound, "no such job for this printer")
        })?;
    let legal = matches!(
        (job.state, report.state),
        (JobState::Releasing, JobState::Printing)
            | (JobState::Releasing, JobState::Failed)
            | (JobState::Printing, JobState::Printed)
            | (JobState::Printing, JobState::Failed)
    );
    if !legal {
        return Err(ApiError::conflict(
            ErrorCode::InvalidStateTransition,
            format!(
                "a job cannot go from {} to {}",
                state_name(job.state),
                state_name(report.state)
            ),
        ));
    }
    store.set_job_state(id, report.state, reason, state.now());
    let job = store.jobs.get(id).map(job_json).unwrap_or(Value::Null);
    Ok(Json(job))
}

/// `GET /api/v1/printer/scans`: open scans asked of this printer in this session, with where
/// to upload them.
pub async fn scans(State(state): State<Shared>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let me = caller.require_printer_scope("scan")?;
    let store = state.lock();
    let scans: Vec<Value> = store
        .scans
        .values()
        .filter(|s| s.session_id == me.session_id && !s.state.is_final())
        .map(|s| {
            let profile = state
                .config
                .scan_profiles
                .iter()
                .find(|p| p.id == s.profile_id);
            json!({
                "id": s.id,
                "state": s.state,
                "profile": profile,
                "uploadUrl": s.transfer.as_ref().map(|t| &t.upload_url),
                "fileName": s.transfer.as_ref().and_then(|t| t.file_name.as_ref()),
                "requestedAt": s.requested_at,
            })
        })
        .collect();
    Ok(Json(json!({ "scans": scans })))
}

/// `POST /api/v1/printer/scans/{id}/status`: requested → scanning | failed, scanning → uploaded | failed.
pub async fn scan_status(
    State(state): State<Shared>,
    caller: Caller,
    PathParam(id): PathParam,
    ApiJson(report): ApiJson<StatusReport<ScanState>>,
) -> Result<Json<Value>, ApiError> {
    let me = caller.require_printer_scope("scan")?;
    let id = validate::id("id", &id)?;
    let reason = validate::reason(report.reason)?;
    let mut store = state.lock();
    let scan = store
        .scans
        .get(id)
        .filter(|s| s.session_id == me.session_id)
        .ok_or_else(|| {
            ApiError::not_found(ErrorCode::ScanNotFound, "no such scan for this printer")
        })?;
    let legal = matches!(
        (scan.state, report.state),
        (ScanState::Requested, ScanState::Scanning)
            | (ScanState::Requested, ScanState::Failed)
            | (ScanState::Scanning, ScanState::Uploaded)
            | (ScanState::Scanning, ScanState::Failed)
    );
    if !legal {
        return Err(ApiError::conflict(
            ErrorCode::InvalidStateTransition,
            format!(
                "a scan cannot go from {} to {}",
                state_name(scan.state),
                state_name(report.state)
            ),
        ));
    }
    store.set_scan_state(id, report.state, reason, state.now());
    let scan = store
        .scans
        .get(id)
        .map(crate::scans::scan_json)
        .unwrap_or(Value::Null);
    Ok(Json(scan))
}
