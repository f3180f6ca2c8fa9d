//! `POST /{tenant}/oauth2/v2.0/token`: authorization code (PKCE) and refresh (rotation, reuse
//! detection that revokes the family, sliding inactivity expiry). Public client only.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::json;

use super::store::{parse_scopes, scope_string, AuthStore, IssueParams, Issued, TokenKind};
use super::{no_store, parse_form, AadError, IdentityCounter};
use crate::microsoft::directory::Authority;
use crate::microsoft::{MsShared, MsState};
use crate::secret::{constant_time_eq, pkce_s256, SecretHash};

/// The token endpoint.
pub async fn token(
    State(state): State<MsShared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&state, &tenant, &headers, &body) {
        Ok(response) => response,
        Err(error) => {
            state.identity_stats.count(IdentityCounter::TokenError);
            tracing::debug!(error = error.error(), "Microsoft token request refused");
            error.respond(&state, &headers)
        }
    }
}

fn handle(
    state: &MsState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, AadError> {
    let Some(authority) = state.directory.authority(tenant) else {
        return Err(super::metadata::unknown_tenant());
    };
    let form = parse_form(headers, body)?;
    let get = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let grant_type = get("grant_type").ok_or_else(|| AadError::missing("grant_type"))?;
    let counter = match grant_type {
        "authorization_code" => IdentityCounter::AuthorizationCode,
        "refresh_token" => IdentityCounter::RefreshToken,
        _ => {
            return Err(AadError::new(
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            ))
        }
    };
    state.identity_stats.count(counter);
    let client_id = get("client_id").ok_or_else(|| AadError::missing("client_id"))?;
    if client_id != state.ms().client_id {
        return Err(AadError::new(
            "unauthorized_client",
            700016,
            "Application with the given identifier was not found in the directory.",
        ));
    }
    let confidential = get("client_secret").is_some()
        || get("client_assertion").is_some()
        || headers.contains_key(header::AUTHORIZATION);
    if confidential {
        return Err(AadError::new(
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        )
        .with_status(StatusCode::UNAUTHORIZED));
    }
    let mut auth = state.auth();
    let issued = match counter {
        IdentityCounter::AuthorizationCode => {
            redeem_code(state, &mut auth, &authority, client_id, &form)?
        }
        _ => refresh(state, &mut auth, &authority, client_id, &form)?,
    };
    Ok(token_response(&issued))
}

fn issue_params(state: &MsState) -> IssueParams {
    IssueParams {
        now: state.now(),
        access_secs: state
            .faults
            .access_token_secs_override()
            .unwrap_or(state.ms().access_token_secs),
        refresh_secs: state.ms().refresh_token_secs,
        generation: state.faults.token_generation(),
    }
}

fn redeem_code(
    state: &MsState,
    auth: &mut AuthStore,
    authority: &Authority,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<Issued, AadError> {
    let get = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let code = get("code").ok_or_else(|| AadError::missing("code"))?;
    let redirect_uri = get("redirect_uri").ok_or_else(|| AadError::missing("redirect_uri"))?;
    let hash = SecretHash::of(code);
    let Some(record) = auth.codes.get(&hash).cloned() else {
        return Err(AadError::invalid_grant(
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ));
    };
    if let Some(family) = &record.redeemed_family {
        // A replayed code revokes what its first redemption minted (RFC 6749 §4.1.2).
        tracing::warn!(code = %hash.short(), "Microsoft authorization code replayed; revoking its tokens");
        auth.revoke_family(family);
        state.identity_stats.count(IdentityCounter::ReuseDetected);
        return Err(AadError::invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    if record.expires_at <= state.now() {
        return Err(AadError::invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if record.client_id != client_id {
        return Err(AadError::invalid_grant(
            70000,
            "The provided authorization code was issued to another client.",
        ));
    }
    if record.redirect_uri != redirect_uri {
        return Err(AadError::invalid_grant(
            50011,
            "The redirect URI does not match the one used to acquire the authorization code.",
        ));
    }
    let admitted = state
        .directory
        .user(&record.user_id)
        .is_some_and(|u| state.directory.admits(authority, u));
    if !admitted {
        return Err(AadError::invalid_grant(
            50020,
            "The user account does not exist in this tenant.",
        ));
    }
    let verifier = get("code_verifier").unwrap_or_default();
    let verifier_ok = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        && constant_time_eq(
            pkce_s256(verifier).as_bytes(),
            record.code_challenge.as_bytes(),
        );
    if !verifier_ok {
        return Err(AadError::invalid_grant(
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        ));
    }
    let scopes = match get("scope") {
        None => record.scopes.clone(),
        Some(asked) => {
            let asked =
                parse_scopes(asked).map_err(|m| AadError::new("invalid_scope", 70011, m))?;
            if !asked.is_subset(&record.scopes) {
                return Err(AadError::new(
                    "invalid_scope",
                    70011,
                    "The requested scope is wider than the one the user consented to.",
                ));
            }
            asked
        }
    };
    let issued = auth.issue(
        None,
        client_id,
        &record.user_id,
        scopes,
        issue_params(state),
    );
    if let Some(stored) = auth.codes.get_mut(&hash) {
        stored.redeemed_family = Some(issued.family_id.clone());
    }
    tracing::info!(user = %record.user_id, family = %issued.family_id, "Microsoft tokens issued");
    Ok(issued)
}

fn refresh(
    state: &MsState,
    auth: &mut AuthStore,
    authority: &Authority,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<Issued, AadError> {
    let get = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let presented = get("refresh_token").ok_or_else(|| AadError::missing("refresh_token"))?;
    let hash = SecretHash::of(presented);
    let record = auth
        .tokens
        .get(&hash)
        .filter(|t| t.kind == TokenKind::Refresh)
        .cloned()
        .ok_or_else(|| {
            AadError::invalid_grant(9002313, "Invalid request. Request is malformed or invalid.")
        })?;
    if record.client_id != client_id {
        return Err(AadError::invalid_grant(
            70000,
            "The refresh token was issued to another client.",
        ));
    }
    if record.revoked {
        return Err(revoked());
    }
    if record.rotated {
        tracing::warn!(family = %record.family_id, "spent Microsoft refresh token presented again; revoking the family");
        auth.revoke_family(&record.family_id);
        state.identity_stats.count(IdentityCounter::ReuseDetected);
        return Err(revoked());
    }
    if record.expires_at <= state.now() {
        return Err(AadError::invalid_grant(
            700082,
            "The refresh token has expired due to inactivity. The token was issued and was inactive for the configured lifetime.",
        ));
    }
    let user_admitted = state
        .directory
        .user(&record.user_id)
        .is_some_and(|u| state.directory.admits(authority, u));
    if !user_admitted {
        return Err(AadError::invalid_grant(
            50020,
            "The user account does not exist in this tenant.",
        ));
    }
    let scopes = match get("scope") {
        None => record.scopes.clone(),
        Some(asked) => {
            let mut asked =
                parse_scopes(asked).map_err(|m| AadError::new("invalid_scope", 70011, m))?;
            // A refresh keeps offline access: the refresh token itself is the proof of it.
            asked.insert(super::store::Scope::OfflineAccess);
            if !asked.is_subset(&record.scopes) {
                return Err(AadError::new(
                    "invalid_scope",
                    70011,
                    "The requested scope is wider than the one the user consented to.",
                ));
            }
            asked
        }
    };
    if let Some(stored) = auth.tokens.get_mut(&hash) {
        stored.rotated = true;
    }
    Ok(auth.issue(
        Some(record.family_id.clone()),
        client_id,
        &record.user_id,
        scopes,
        issue_params(state),
    ))
}

fn revoked() -> AadError {
    AadError::invalid_grant(
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password, or the grant was revoked because a refresh token was used twice.",
    )
}

/// The token response as Microsoft sends it (no ID token: the emulator signs nothing).
fn token_response(issued: &Issued) -> Response {
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope_string(&issued.scopes),
        "expires_in": issued.expires_in,
        "ext_expires_in": issued.expires_in,
        "access_token": issued.access_token,
    });
    if let (Some(object), Some(refresh)) = (body.as_object_mut(), &issued.refresh_token) {
        object.insert("refresh_token".into(), json!(refresh));
    }
    no_store(Json(body))
}
