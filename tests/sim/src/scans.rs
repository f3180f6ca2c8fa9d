//! Scan to OneDrive: profiles, and scan requests that the printer of the session carries out by
//! uploading straight to a pre-authenticated URL. Once a scan is final the server keeps only its
//! timestamps.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ApiJson, PathParam};
use crate::region::Shared;
use crate::secret::new_id;
use crate::store::{Scan, ScanState, ScanTransfer};
use crate::validate;

/// `POST /api/v1/scans` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateScan {
    profile_id: String,
    upload_url: String,
    #[serde(default, deserialize_with = "validate::present")]
    file_name: Option<String>,
}

/// A scan as its owner sees it (no upload URL).
pub fn scan_json(scan: &Scan) -> Value {
    json!({
        "id": scan.id,
        "profileId": scan.profile_id,
        "printerId": scan.printer_id,
        "state": scan.state,
        "requestedAt": scan.requested_at,
        "updatedAt": scan.updated_at,
        "failureReason": scan.failure_reason,
    })
}

/// `GET /api/v1/scan-profiles`.
pub async fn profiles(
    State(state): State<Shared>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_either("scan", "scan")?;
    Ok(Json(json!({ "profiles": state.config.scan_profiles })))
}

/// `POST /api/v1/scans`: asks the printer of the active session to scan; the session needs the
/// step-2 `scan` right.
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateScan>,
) -> Result<Response, ApiError> {
    caller.require_either("scan", "scan")?;
    let profile_id = validate::id("profileId", &body.profile_id)?.to_string();
    let upload_url = validate::transfer_url("uploadUrl", &body.upload_url)?;
    let file_name = match &body.file_name {
        Some(name) => Some(validate::file_name(name)?.to_string()),
        None => None,
    };
    if !state
        .config
        .scan_profiles
        .iter()
        .any(|p| p.id == profile_id)
    {
        return Err(ApiError::not_found(
            ErrorCode::ScanProfileNotFound,
            "no such scan profile",
        ));
    }
    let now = state.now();
    let mut store = state.lock();
    let session = store.session_of(&caller).cloned().ok_or_else(|| {
        ApiError::conflict(ErrorCode::NoActiveSession, "log in at a printer first")
    })?;
    if !session.rights.contains("scan") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ScanNotAuthorized,
            "the printer has not been granted scanning in this session",
        ));
    }
    let id = new_id("scn");
    let scan = Scan {
        id: id.clone(),
        owner_id: caller.user_id.clone(),
        printer_id: session.printer_id.clone(),
        session_id: session.id.clone(),
        profile_id,
        state: ScanState::Requested,
        requested_at: now,
        updated_at: now,
        failure_reason: None,
        transfer: Some(ScanTransfer {
            upload_url,
            file_name,
        }),
    };
    let body = scan_json(&scan);
    store.scans.insert(id.clone(), scan);
    store.set_scan_state(&id, ScanState::Requested, None, now);
    tracing::info!(scan = %id, session = %session.id, "scan requested");
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/scans/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /api/v1/scans`: the user's scans, newest first.
pub async fn list(State(state): State<Shared>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_user_scope("scan")?;
    let store = state.lock();
    let mut scans: Vec<&Scan> = store
        .scans
        .values()
        .filter(|s| s.owner_id == caller.user_id)
        .collect();
    scans.sort_by(|a, b| {
        b.requested_at
            .cmp(&a.requested_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    Ok(Json(
        json!({ "scans": scans.into_iter().map(scan_json).collect::<Vec<_>>() }),
    ))
}

/// `GET /api/v1/scans/{id}`.
pub async fn get_one(
    State(state): State<Shared>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    caller.require_either("scan", "scan")?;
    let id = validate::id("id", &id)?;
    let store = state.lock();
    store
        .scans
        .get(id)
        .filter(|s| s.owner_id == caller.user_id)
        .map(|s| Json(scan_json(s)))
        .ok_or_else(|| ApiError::not_found(ErrorCode::ScanNotFound, "no such scan"))
}
