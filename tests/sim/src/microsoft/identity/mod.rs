//! The emulated Microsoft identity platform (v2.0 endpoints): OpenID discovery metadata,
//! authorization code with PKCE, and refresh with rotation, for the Roger public client.

pub mod authorize;
pub mod metadata;
pub mod store;
pub mod token;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::json;

use super::directory::random_guid;
use super::{MsShared, MsState};
use crate::extract::parse_unique_pairs;

/// Largest accepted form body.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Routes of the identity host.
pub fn router(state: MsShared) -> Router {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(metadata::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(metadata::keys))
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::show_form).post(authorize::submit_form),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .fallback(not_found)
        .layer(middleware::from_fn(crate::region::log_request))
        .with_state(state)
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "not_found", "error_description": "no such endpoint"})),
    )
        .into_response()
}

/// An error of the token endpoint (or of metadata), shaped as Microsoft sends it.
#[derive(Debug)]
pub struct AadError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    message: String,
}

impl AadError {
    /// 400 with this OAuth `error`, AADSTS code and message.
    pub fn new(error: &'static str, code: u32, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            code,
            message: message.into(),
        }
    }

    /// `invalid_request` AADSTS900144: a required parameter is missing.
    pub fn missing(name: &str) -> Self {
        Self::new(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// `invalid_grant`.
    pub fn invalid_grant(code: u32, message: impl Into<String>) -> Self {
        Self::new("invalid_grant", code, message)
    }

    /// The same error with another status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The `error` code.
    pub fn error(&self) -> &'static str {
        self.error
    }

    /// The response, with Microsoft's diagnostics (`error_codes`, `timestamp`, `trace_id`,
    /// `correlation_id`, `error_uri`). The correlation id echoes `client-request-id` when sent.
    pub fn respond(self, state: &MsState, headers: &HeaderMap) -> Response {
        let trace_id = random_guid();
        let correlation_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
            .map_or_else(random_guid, str::to_string);
        let rfc3339 = state.now().rfc3339();
        let timestamp = format!("{} {}Z", &rfc3339[..10], &rfc3339[11..19]);
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("{}error?code={}", state.identity_url, self.code),
        });
        no_store((self.status, Json(body)))
    }
}

/// Adds `Cache-Control: no-store, no-cache` and `Pragma: no-cache`.
pub fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Parses an `application/x-www-form-urlencoded` body (each parameter at most once).
pub fn parse_form(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<std::collections::HashMap<String, String>, AadError> {
    let form_type = crate::extract::content_type_is(headers, "application/x-www-form-urlencoded");
    if !form_type {
        return Err(AadError::new(
            "invalid_request",
            900144,
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    if body.len() > MAX_FORM_BYTES {
        return Err(
            AadError::new("invalid_request", 90014, "The request body is too large.")
                .with_status(StatusCode::PAYLOAD_TOO_LARGE),
        );
    }
    parse_unique_pairs(body).map_err(|e| AadError::new("invalid_request", 90014, e))
}

/// Request counters of the identity platform.
#[derive(Debug, Default)]
pub struct IdentityStats {
    authorization_code: AtomicU64,
    refresh_token: AtomicU64,
    logins: AtomicU64,
    reuse_detected: AtomicU64,
    token_errors: AtomicU64,
}

/// Which counter to bump.
#[derive(Clone, Copy, Debug)]
pub(crate) enum IdentityCounter {
    AuthorizationCode,
    RefreshToken,
    Login,
    ReuseDetected,
    TokenError,
}

impl IdentityStats {
    pub(crate) fn count(&self, counter: IdentityCounter) {
        self.counter(counter).fetch_add(1, Ordering::Relaxed);
    }

    fn counter(&self, counter: IdentityCounter) -> &AtomicU64 {
        match counter {
            IdentityCounter::AuthorizationCode => &self.authorization_code,
            IdentityCounter::RefreshToken => &self.refresh_token,
            IdentityCounter::Login => &self.logins,
            IdentityCounter::ReuseDetected => &self.reuse_detected,
            IdentityCounter::TokenError => &self.token_errors,
        }
    }

    /// Token requests with `grant_type=authorization_code`.
    pub fn authorization_code_requests(&self) -> u64 {
        self.counter(IdentityCounter::AuthorizationCode)
            .load(Ordering::Relaxed)
    }

    /// Token requests with `grant_type=refresh_token`.
    pub fn refresh_requests(&self) -> u64 {
        self.counter(IdentityCounter::RefreshToken)
            .load(Ordering::Relaxed)
    }

    /// Credential submissions at the authorization endpoint (form posts and scripted logins).
    pub fn login_attempts(&self) -> u64 {
        self.counter(IdentityCounter::Login).load(Ordering::Relaxed)
    }

    /// Spent refresh tokens (or codes) presented again, each of which revoked its family.
    pub fn reuse_detections(&self) -> u64 {
        self.counter(IdentityCounter::ReuseDetected)
            .load(Ordering::Relaxed)
    }

    /// Token requests answered with an error.
    pub fn token_errors(&self) -> u64 {
        self.counter(IdentityCounter::TokenError)
            .load(Ordering::Relaxed)
    }
}
