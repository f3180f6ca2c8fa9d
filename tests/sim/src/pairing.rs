//! The phone's side of the device grant: look up what a user code is about to authorize, then
//! approve or deny it (RFC 8628 §3.3, §5.4: show the device before approval; single use;
//! guesses rate-limited).

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::Html;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{parse_unique_pairs, PathParam};
use crate::oauth::authorize::escape;
use crate::region::{RegionState, Shared};
use crate::secret::{display_user_code, normalize_user_code, SecretHash};
use crate::store::{DeviceStatus, Store};
use axum::http::StatusCode;

/// Name shown for the printers' OAuth client.
const EMBEDDED_CLIENT_NAME: &str = "Roger embedded client";

/// Finds the pending grant of a user code for this caller, counting misses against the
/// rate limit.
fn find_grant(
    state: &RegionState,
    store: &mut Store,
    caller: &Caller,
    raw_code: &str,
) -> Result<SecretHash, ApiError> {
    let now = state.now();
    let limits = &state.config.rate_limits;
    let window = Duration::from_secs(limits.pairing_window_secs);
    let misses = store
        .pairing_misses
        .entry(caller.user_id.clone())
        .or_default();
    if misses.len() >= limits.pairing_misses as usize {
        let retry = misses
            .front()
            .map_or(window, |oldest| now.until(oldest.plus(window)));
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyAttempts,
            "too many wrong codes; try again later",
        )
        .retry_after(retry.as_secs_f64().ceil().max(1.0) as u64));
    }
    let found = normalize_user_code(raw_code).map(|code| {
        store
            .device_grants
            .iter()
            .find(|(_, g)| g.user_code == code)
            .map(|(k, _)| *k)
    });
    let key = match found {
        Some(Some(key)) => key,
        miss => {
            misses.push_back(now);
            return Err(match miss {
                None => ApiError::invalid("a user code is 8 letters, shown as XXXX-XXXX")
                    .with_code(ErrorCode::InvalidUserCode),
                Some(_) => {
                    ApiError::not_found(ErrorCode::CodeNotFound, "no pairing with this code")
                }
            });
        }
    };
    let grant = &store.device_grants[&key];
    if grant.expires_at <= now {
        return Err(ApiError::new(
            StatusCode::GONE,
            ErrorCode::CodeExpired,
            "the code expired",
        ));
    }
    if grant.status != DeviceStatus::Pending {
        return Err(ApiError::new(
            StatusCode::GONE,
            ErrorCode::CodeAlreadyUsed,
            "the code was already used",
        ));
    }
    let printer_tenant = store
        .printers
        .get(&grant.printer_id)
        .map(|p| p.tenant_id.as_str());
    if printer_tenant != Some(caller.tenant_id.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::TenantMismatch,
            "this printer belongs to another organisation",
        ));
    }
    Ok(key)
}

/// `GET /api/v1/pairings/{user_code}`: the printer, tenant and expiry a code would authorize.
pub async fn lookup(
    State(state): State<Shared>,
    caller: Caller,
    PathParam(code): PathParam,
) -> Result<Json<Value>, ApiError> {
    caller.require_user_scope("pair")?;
    let mut store = state.lock();
    let key = find_grant(&state, &mut store, &caller, &code)?;
    let grant = &store.device_grants[&key];
    let printer = store.printers.get(&grant.printer_id);
    let tenant = store.tenants.get(&caller.tenant_id);
    Ok(Json(json!({
        "userCode": display_user_code(&grant.user_code),
        "printer": printer.map(|p| json!({
            "id": p.id, "name": p.name, "model": p.model, "location": p.location,
        })),
        "tenant": tenant.map(|t| json!({ "id": t.id, "name": t.name })),
        "clientId": grant.client_id,
        "clientName": EMBEDDED_CLIENT_NAME,
        "scopes": grant.scopes,
        "expiresAt": grant.expires_at,
        "expiresIn": state.now().until(grant.expires_at).as_secs(),
    })))
}

fn decide(
    state: &RegionState,
    caller: &Caller,
    code: &str,
    approve: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require_user_scope("pair")?;
    let mut store = state.lock();
    let key = find_grant(state, &mut store, caller, code)?;
    let grant = store
        .device_grants
        .get_mut(&key)
        .ok_or_else(|| ApiError::not_found(ErrorCode::CodeNotFound, "no pairing with this code"))?;
    grant.status = if approve {
        DeviceStatus::Approved {
            user_id: caller.user_id.clone(),
        }
    } else {
        DeviceStatus::Denied
    };
    tracing::info!(printer = %grant.printer_id, user = %caller.user_id, approve, "pairing decided");
    Ok(Json(json!({
        "userCode": display_user_code(&grant.user_code),
        "printerId": grant.printer_id,
        "status": if approve { "approved" } else { "denied" },
    })))
}

/// `POST /api/v1/pairings/{user_code}/approve`.
pub async fn approve(
    State(state): State<Shared>,
    caller: Caller,
    PathParam(code): PathParam,
) -> Result<Json<Value>, ApiError> {
    decide(&state, &caller, &code, true)
}

/// `POST /api/v1/pairings/{user_code}/deny`.
pub async fn deny(
    State(state): State<Shared>,
    caller: Caller,
    PathParam(code): PathParam,
) -> Result<Json<Value>, ApiError> {
    decide(&state, &caller, &code, false)
}

/// `GET /pair`: where the QR code points; a browser without the app lands here. A malformed query
/// (a parameter repeated, or a QR version other than `v=1`) gets a 400 page; a `code` that is not
/// a user code is only left out of the page.
pub async fn pair_page(RawQuery(query): RawQuery) -> (StatusCode, Html<String>) {
    let page = |status, body: &str| {
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Roger</title></head>\
             <body><h1>Log in at the printer</h1>{body}</body></html>"
        );
        (status, Html(html))
    };
    let params = match parse_unique_pairs(query.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(_) => return page(StatusCode::BAD_REQUEST, "<p>This link is malformed.</p>"),
    };
    if params.get("v").is_some_and(|v| v != "1") {
        return page(
            StatusCode::BAD_REQUEST,
            "<p>This QR code is of a version this server does not know.</p>",
        );
    }
    let code = params
        .get("code")
        .and_then(|c| normalize_user_code(c))
        .map(|c| display_user_code(&c));
    let hint = code.map_or_else(String::new, |c| {
        format!(
            "<p>Or type the code <strong>{}</strong> in the app.</p>",
            escape(&c)
        )
    });
    page(
        StatusCode::OK,
        &format!("<p>Open the Roger app and scan the QR code shown on the printer.</p>{hint}"),
    )
}
