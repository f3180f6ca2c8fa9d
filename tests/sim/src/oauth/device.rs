//! The device authorization grant (RFC 8628) used by printers: `POST /oauth/device_authorization`
//! and polling with `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
//!
//! On success the printer gets step-1 tokens (`jobs.release`), a printer session opens for the
//! approving user, and the response carries `roger_session_id` and a one-time
//! `session_credential` for step 2 (see [`super::token`]).

use std::collections::BTreeSet;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Map};

use super::{
    authenticate_client, no_store, requested_scopes, token_response, Client, STEP1_SCOPES,
};
use crate::error::OAuthError;
use crate::extract::OAuthForm;
use crate::region::{RegionState, Shared};
use crate::secret::{display_user_code, new_token, new_user_code, SecretHash};
use crate::stats::Counter;
use crate::store::{DeviceGrant, DeviceStatus, SessionCredential, Store, Subject};

/// RFC 8628 §3.5: each `slow_down` adds this to the polling interval.
const SLOW_DOWN_STEP_SECS: u64 = 5;
/// Live device authorizations kept per printer; older pending ones are dropped.
const MAX_GRANTS_PER_PRINTER: usize = 16;

/// `verification_uri` of a region.
pub fn verification_uri(state: &RegionState) -> String {
    format!("{}/pair", state.api_base)
}

/// `verification_uri_complete`: exactly `{api}/pair?v=1&code=XXXX-XXXX`.
pub fn verification_uri_complete(state: &RegionState, user_code: &str) -> String {
    format!(
        "{}?v=1&code={}",
        verification_uri(state),
        display_user_code(user_code)
    )
}

/// `POST /oauth/device_authorization`: a printer starts a login and gets the codes for its QR.
pub async fn device_authorization(
    State(state): State<Shared>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    state.stats.count(Counter::DeviceAuthorization);
    let mut store = state.lock();
    let client = authenticate_client(&headers, &form, &store, &state.config)?;
    let Client::Printer {
        printer_id,
        client_id,
    } = client
    else {
        return Err(OAuthError::new(
            "unauthorized_client",
            "only printers may use the device authorization grant",
        ));
    };
    let scopes = requested_scopes(&form, STEP1_SCOPES, STEP1_SCOPES)?;
    let lifetimes = &state.config.lifetimes;
    let now = state.now();
    let user_code = loop {
        let candidate = new_user_code();
        if !store
            .device_grants
            .values()
            .any(|g| g.user_code == candidate)
        {
            break candidate;
        }
    };
    drop_oldest_grants(&mut store, &printer_id);
    let device_code = new_token();
    store.device_grants.insert(
        SecretHash::of(&device_code),
        DeviceGrant {
            printer_id: printer_id.clone(),
            client_id,
            user_code: user_code.clone(),
            scopes,
            expires_at: now.plus(Duration::from_secs(lifetimes.device_code_secs)),
            interval_secs: lifetimes.device_poll_interval_secs,
            last_poll: None,
            status: DeviceStatus::Pending,
        },
    );
    tracing::info!(printer = %printer_id, "device authorization started");
    Ok(no_store(Json(json!({
        "device_code": device_code,
        "user_code": display_user_code(&user_code),
        "verification_uri": verification_uri(&state),
        "verification_uri_complete": verification_uri_complete(&state, &user_code),
        "expires_in": lifetimes.device_code_secs,
        "interval": lifetimes.device_poll_interval_secs,
    }))))
}

/// Keeps a printer's live grants bounded by forgetting its oldest pending ones.
fn drop_oldest_grants(store: &mut Store, printer_id: &str) {
    let mut pending: Vec<(SecretHash, crate::clock::SimTime)> = store
        .device_grants
        .iter()
        .filter(|(_, g)| g.printer_id == printer_id && g.status == DeviceStatus::Pending)
        .map(|(k, g)| (*k, g.expires_at))
        .collect();
    if pending.len() < MAX_GRANTS_PER_PRINTER {
        return;
    }
    pending.sort_by_key(|(_, expires)| *expires);
    for (key, _) in pending
        .iter()
        .take(pending.len() + 1 - MAX_GRANTS_PER_PRINTER)
    {
        store.device_grants.remove(key);
    }
}

/// A device-code poll at the token endpoint.
pub fn poll(
    state: &RegionState,
    store: &mut Store,
    client: &Client,
    form: &OAuthForm,
) -> Result<Response, OAuthError> {
    let Client::Printer {
        printer_id,
        client_id,
    } = client
    else {
        return Err(OAuthError::new(
            "unauthorized_client",
            "only printers may use the device code grant",
        ));
    };
    let key = SecretHash::of(form.require("device_code")?);
    let now = state.now();
    let grant = store
        .device_grants
        .get_mut(&key)
        .filter(|g| &g.client_id == client_id)
        .ok_or_else(|| OAuthError::invalid_grant("unknown device_code"))?;
    if grant.expires_at <= now {
        return Err(OAuthError::new(
            "expired_token",
            "the device code expired; start again",
        ));
    }
    let user_id = match &grant.status {
        DeviceStatus::Denied => {
            return Err(OAuthError::new(
                "access_denied",
                "the user denied the request",
            ))
        }
        DeviceStatus::Consumed => {
            return Err(OAuthError::invalid_grant(
                "the device code was already used",
            ))
        }
        DeviceStatus::Pending => {
            let too_fast = grant
                .last_poll
                .is_some_and(|last| last.plus(Duration::from_secs(grant.interval_secs)) > now);
            grant.last_poll = Some(now);
            if too_fast {
                grant.interval_secs += SLOW_DOWN_STEP_SECS;
                return Err(OAuthError::new(
                    "slow_down",
                    format!("poll at most every {} seconds", grant.interval_secs),
                ));
            }
            return Err(OAuthError::new(
                "authorization_pending",
                "waiting for the user to approve",
            ));
        }
        DeviceStatus::Approved { user_id } => user_id.clone(),
    };
    grant.status = DeviceStatus::Consumed;
    let scopes: BTreeSet<String> = grant.scopes.clone();
    let session_id = store.open_session(&user_id, printer_id, now);
    let issued = store.issue_tokens(
        None,
        client_id,
        Subject::PrinterSession {
            printer_id: printer_id.clone(),
            user_id,
            session_id: session_id.clone(),
        },
        scopes,
        now,
        &state.config.lifetimes,
    );
    let credential = new_token();
    let credential_secs = state.config.lifetimes.session_credential_secs;
    store.session_credentials.insert(
        SecretHash::of(&credential),
        SessionCredential {
            session_id: session_id.clone(),
            printer_id: printer_id.clone(),
            expires_at: now.plus(Duration::from_secs(credential_secs)),
        },
    );
    let mut extra = Map::new();
    extra.insert("roger_session_id".into(), session_id.into());
    extra.insert("session_credential".into(), credential.into());
    extra.insert(
        "session_credential_expires_in".into(),
        credential_secs.into(),
    );
    Ok(token_response(&issued, extra))
}
