//! `POST /oauth/token`: authorization code (PKCE), refresh (rotation, reuse detection, sliding
//! expiry), password (tenants that allow it; printer step 2 with a session credential) and
//! device code (in [`super::device`]).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Map;

use std::time::Duration;

use super::{
    authenticate_client, device, parse_scopes, requested_scopes, token_response, Client,
    IssuedTokens, DEVICE_CODE_GRANT, STEP2_SCOPES, USER_SCOPES,
};
use crate::error::OAuthError;
use crate::events::{EventPayload, SessionChange};
use crate::extract::OAuthForm;
use crate::faults::lost_answer;
use crate::region::{RegionState, Shared};
use crate::secret::{constant_time_eq, pkce_s256, verify_password, SecretHash};
use crate::stats::Counter;
use crate::store::{RotationGrace, Store, Subject, TokenKind};

/// Prefix of the `username` a printer uses in step 2.
const SESSION_USERNAME_PREFIX: &str = "session:";

/// The token endpoint.
pub async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let grant_type = form.require("grant_type")?.to_string();
    let counter = match grant_type.as_str() {
        "authorization_code" => Counter::AuthorizationCode,
        "refresh_token" => Counter::RefreshToken,
        "password" => Counter::Password,
        DEVICE_CODE_GRANT => Counter::DeviceCode,
        _ => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "grant_type is not supported",
            ))
        }
    };
    state.stats.count(counter);
    let response = {
        let mut store = state.lock();
        let client = authenticate_client(&headers, &form, &store, &state.config)?;
        match counter {
            Counter::AuthorizationCode => authorization_code(&state, &mut store, &client, &form),
            Counter::RefreshToken => refresh(&state, &mut store, &client, &form),
            Counter::Password => match client {
                Client::Public => user_password(&state, &mut store, &form),
                Client::Printer { .. } => session_credential(&state, &mut store, &client, &form),
            },
            _ => device::poll(&state, &mut store, &client, &form),
        }?
    };
    let response = state.faults.token_answer_quirks(response).await;
    if matches!(counter, Counter::RefreshToken) && state.faults.take_refresh_drop() {
        return Ok(lost_answer(response));
    }
    Ok(response)
}

fn authorization_code(
    state: &RegionState,
    store: &mut Store,
    client: &Client,
    form: &OAuthForm,
) -> Result<Response, OAuthError> {
    if *client != Client::Public {
        return Err(OAuthError::new(
            "unauthorized_client",
            "printers cannot use the authorization code grant",
        ));
    }
    let code_hash = SecretHash::of(form.require("code")?);
    let redirect_uri = form.require("redirect_uri")?;
    let verifier = form.require("code_verifier")?;
    let Some(code) = store.auth_codes.get(&code_hash).cloned() else {
        return Err(OAuthError::invalid_grant(
            "the authorization code is invalid or expired",
        ));
    };
    if let Some(family) = &code.redeemed_family {
        // RFC 6749 §4.1.2: a replayed code revokes what it minted.
        tracing::warn!(code = %code_hash.short(), "authorization code replayed; revoking its tokens");
        store.revoke_family(family);
        store.auth_codes.remove(&code_hash);
        return Err(OAuthError::invalid_grant(
            "the authorization code was already used",
        ));
    }
    if code.client_id != client.id(&state.config) || code.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client or redirect_uri",
        ));
    }
    let verifier_ok = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        && constant_time_eq(
            pkce_s256(verifier).as_bytes(),
            code.code_challenge.as_bytes(),
        );
    if !verifier_ok {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    let issued = store.issue_tokens(
        None,
        &code.client_id,
        Subject::User {
            user_id: code.user_id.clone(),
        },
        code.scopes,
        state.now(),
        &state.config.lifetimes,
    );
    if let Some(stored) = store.auth_codes.get_mut(&code_hash) {
        stored.redeemed_family = Some(issued.family_id.clone());
    }
    Ok(token_response(&issued, Map::new()))
}

fn refresh(
    state: &RegionState,
    store: &mut Store,
    client: &Client,
    form: &OAuthForm,
) -> Result<Response, OAuthError> {
    let hash = SecretHash::of(form.require("refresh_token")?);
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let record = store
        .tokens
        .get(&hash)
        .filter(|t| t.kind == TokenKind::Refresh)
        .cloned()
        .ok_or_else(invalid)?;
    if record.client_id != client.id(&state.config) {
        return Err(invalid());
    }
    if record.rotated {
        if let Some(successor) = regranted(state, store, &hash) {
            tracing::info!(family = %record.family_id, "rotated refresh token presented again within the grace window; same answer");
            return Ok(token_response(&successor, Map::new()));
        }
        tracing::warn!(family = %record.family_id, "rotated refresh token presented again; revoking the family");
        store.revoke_family(&record.family_id);
        return Err(OAuthError::invalid_grant(
            "the refresh token was already used; every token of this grant is revoked",
        ));
    }
    let scope_param = form.get("scope");
    let granted: Vec<&str> = record.scopes.iter().map(String::as_str).collect();
    let scopes = parse_scopes(scope_param, &granted, &granted)?;
    if let Some(stored) = store.tokens.get_mut(&hash) {
        stored.rotated = true;
    }
    let issued = store.issue_tokens(
        Some(record.family_id.clone()),
        &record.client_id,
        record.subject.clone(),
        scopes,
        state.now(),
        &state.config.lifetimes,
    );
    let grace = state.config.lifetimes.refresh_reuse_grace_secs;
    if grace > 0 {
        store.rotation_grace.insert(
            hash,
            RotationGrace {
                until: state.now().plus(Duration::from_secs(grace)),
                successor: issued.clone(),
            },
        );
    }
    Ok(token_response(&issued, Map::new()))
}

/// The pair a rotated refresh token was exchanged for, when it is presented again within the
/// grace window and that pair's refresh token has not been used yet (once it has, the client
/// evidently received the answer, and a repeat is reuse).
fn regranted(state: &RegionState, store: &Store, rotated: &SecretHash) -> Option<IssuedTokens> {
    let grace = store.rotation_grace.get(rotated)?;
    let successor_unused = store
        .tokens
        .get(&SecretHash::of(&grace.successor.refresh_token))
        .is_some_and(|t| !t.rotated);
    (grace.until > state.now() && successor_unused).then(|| grace.successor.clone())
}

fn user_password(
    state: &RegionState,
    store: &mut Store,
    form: &OAuthForm,
) -> Result<Response, OAuthError> {
    let username = form.require("username")?;
    let password = form.require("password")?;
    let scopes = requested_scopes(form, USER_SCOPES, USER_SCOPES)?;
    let invalid = || OAuthError::invalid_grant("invalid username or password");
    // The tenant's policy is decided by the e-mail domain, before any password is checked, so
    // the answer never tells whether a password was right in a tenant that disallows the grant.
    let domain = username
        .rsplit_once('@')
        .map(|(_, d)| d)
        .ok_or_else(invalid)?;
    let tenant = store
        .tenants
        .values()
        .find(|t| t.domain.eq_ignore_ascii_case(domain))
        .ok_or_else(invalid)?;
    if !tenant.password_grant {
        return Err(OAuthError::new(
            "unauthorized_client",
            "the password grant is not enabled for this tenant; sign in with the browser",
        ));
    }
    let user_id = store
        .user_by_email(username)
        .filter(|u| password.len() <= 1024 && verify_password(password, &u.password_hash))
        .map(|u| u.id.clone())
        .ok_or_else(invalid)?;
    let issued = store.issue_tokens(
        None,
        &state.config.public_client.client_id,
        Subject::User { user_id },
        scopes,
        state.now(),
        &state.config.lifetimes,
    );
    Ok(token_response(&issued, Map::new()))
}

/// Step 2 of the printer login: a printer trades the one-time session credential for tokens
/// that may submit jobs and scan in that session.
fn session_credential(
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
        return Err(OAuthError::invalid_grant(
            "session credentials are for printers",
        ));
    };
    let session_id = form
        .require("username")?
        .strip_prefix(SESSION_USERNAME_PREFIX)
        .ok_or_else(|| {
            OAuthError::invalid_grant("printers sign in with username=session:<roger_session_id>")
        })?
        .to_string();
    let scopes = requested_scopes(form, STEP2_SCOPES, STEP2_SCOPES)?;
    let invalid =
        || OAuthError::invalid_grant("the session credential is invalid, used or expired");
    // Single use: the credential is spent by any presentation, right or wrong session.
    let credential = store
        .session_credentials
        .remove(&SecretHash::of(form.require("password")?))
        .ok_or_else(invalid)?;
    if credential.session_id != session_id || &credential.printer_id != printer_id {
        return Err(invalid());
    }
    let now = state.now();
    let session = store.sessions.get_mut(&session_id).ok_or_else(invalid)?;
    session.rights.extend(scopes.iter().cloned());
    let user_id = session.user_id.clone();
    let issued = store.issue_tokens(
        None,
        client_id,
        Subject::PrinterSession {
            printer_id: printer_id.clone(),
            user_id: user_id.clone(),
            session_id: session_id.clone(),
        },
        scopes,
        now,
        &state.config.lifetimes,
    );
    store.events.push(
        &user_id,
        EventPayload::Session {
            session_id,
            printer_id: printer_id.clone(),
            state: SessionChange::Upgraded,
        },
        now,
    );
    Ok(token_response(&issued, Map::new()))
}
