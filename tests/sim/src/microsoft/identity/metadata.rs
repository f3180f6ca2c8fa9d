//! `GET /{tenant}/v2.0/.well-known/openid-configuration` and the (empty) key set.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::store::Scope;
use super::AadError;
use crate::microsoft::directory::Authority;
use crate::microsoft::MsShared;

/// OpenID Provider metadata for an authority, shaped like Microsoft's: for `common` and
/// `organizations` the `issuer` is the template `{base}{tenantid}/v2.0`; for one tenant (named by
/// id or domain) it is that tenant's issuer and the endpoints use its id.
pub async fn openid_configuration(
    State(state): State<MsShared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(authority) = state.directory.authority(&tenant) else {
        return unknown_tenant().respond(&state, &headers);
    };
    let base = state.identity_url.as_str();
    let segment = authority.segment();
    let issuer = match &authority {
        Authority::MultiTenant(_) => format!("{base}{{tenantid}}/v2.0"),
        Authority::Tenant(id) => format!("{base}{id}/v2.0"),
    };
    let graph_host = state
        .graph_url
        .host_str()
        .map(|h| match state.graph_url.port() {
            Some(p) => format!("{h}:{p}"),
            None => h.to_string(),
        })
        .unwrap_or_default();
    let scopes: Vec<&str> = [Scope::OfflineAccess, Scope::FilesReadWrite, Scope::UserRead]
        .iter()
        .map(|s| s.name())
        .collect();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}{segment}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}{segment}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}{segment}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "request_uri_parameter_supported": false,
        "tenant_region_scope": null,
        "cloud_instance_name": "roger-sim.invalid",
        "msgraph_host": graph_host,
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`: the emulator signs nothing (tokens are opaque, no ID
/// tokens are issued), so the set is empty.
pub async fn keys(
    State(state): State<MsShared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if state.directory.authority(&tenant).is_none() {
        return unknown_tenant().respond(&state, &headers);
    }
    Json(json!({ "keys": [] })).into_response()
}

/// AADSTS90002.
pub fn unknown_tenant() -> AadError {
    AadError::new(
        "invalid_tenant",
        90002,
        "Tenant not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
    )
}
