//! `GET /.well-known/oauth-authorization-server` (RFC 8414).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::{DEVICE_CODE_GRANT, STEP1_SCOPES, STEP2_SCOPES, USER_SCOPES};
use crate::region::Shared;

/// The authorization server metadata of this region; its endpoints are on the API base URL.
pub async fn metadata(State(state): State<Shared>) -> Json<Value> {
    let (issuer, api) = (&state.issuer, &state.api_base);
    let scopes: Vec<&str> = USER_SCOPES
        .iter()
        .chain(STEP1_SCOPES)
        .chain(STEP2_SCOPES)
        .fold(Vec::new(), |mut all, s| {
            if !all.contains(s) {
                all.push(*s);
            }
            all
        });
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{api}/oauth/authorize"),
        "token_endpoint": format!("{api}/oauth/token"),
        "device_authorization_endpoint": format!("{api}/oauth/device_authorization"),
        "revocation_endpoint": format!("{api}/oauth/revoke"),
        "grant_types_supported": ["authorization_code", "refresh_token", "password", DEVICE_CODE_GRANT],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": scopes,
        "authorization_response_iss_parameter_supported": true,
    }))
}
