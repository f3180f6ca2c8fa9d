//! Errors: start-up failures of the sim, and the two error bodies of the protocol
//! (RFC 6749 JSON on `/oauth/*`, a typed `{"error":{"code","message"}}` on `/api/v1/*`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Why the reference cloud could not start, or a test hook could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A loopback listener could not be bound.
    #[error("cannot bind a loopback listener: {0}")]
    Bind(#[source] std::io::Error),
    /// The configuration is inconsistent (duplicate ids, no region, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A scripted browser login did not end in a redirect to the client.
    #[error("scripted login failed: {0}")]
    Login(String),
    /// A drive test hook could not do its job (no such user, path or free name).
    #[error("drive hook failed: {0}")]
    Drive(String),
}

/// Error codes of the `/api/v1` error body; the protocol document lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed or invalid request (bad JSON, a field out of bounds).
    InvalidRequest,
    /// Body larger than the limit.
    PayloadTooLarge,
    /// Body not JSON.
    UnsupportedMediaType,
    /// No such route.
    NotFound,
    /// Route exists, method does not.
    MethodNotAllowed,
    /// Missing, unknown, expired or revoked bearer token.
    InvalidToken,
    /// Token lacks the scope, or is the wrong kind (user vs printer).
    InsufficientScope,
    /// User code has a bad format.
    InvalidUserCode,
    /// No pending pairing with this user code.
    CodeNotFound,
    /// The user code expired.
    CodeExpired,
    /// The user code was already approved or denied.
    CodeAlreadyUsed,
    /// The printer belongs to another tenant than the user.
    TenantMismatch,
    /// Too many wrong user codes; see `Retry-After`.
    TooManyAttempts,
    /// The user has no active printer session.
    NoActiveSession,
    /// The printer session lacks the step-2 `scan` right.
    ScanNotAuthorized,
    /// No such printer (in the caller's tenant).
    PrinterNotFound,
    /// No such job (of the caller).
    JobNotFound,
    /// No such scan (of the caller).
    ScanNotFound,
    /// No such scan profile.
    ScanProfileNotFound,
    /// A job in the release request is not waiting.
    JobNotReleasable,
    /// The state change is not allowed from the current state.
    InvalidStateTransition,
    /// A `clientRequestId` was reused with a different body.
    IdempotencyConflict,
    /// Too many open jobs.
    QuotaExceeded,
    /// A job asks for something the session's printer cannot do (colour, duplex, media).
    OptionNotSupported,
}

/// A `/api/v1` error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    retry_after: Option<u64>,
    www_authenticate: Option<String>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            www_authenticate: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
    }

    /// 404 with a typed code.
    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409 with a typed code.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 401 `invalid_token` with the RFC 6750 challenge (`error` omitted when no token was sent).
    pub fn invalid_token(token_sent: bool, message: impl Into<String>) -> Self {
        let challenge = if token_sent {
            r#"Bearer realm="roger", error="invalid_token""#.to_string()
        } else {
            r#"Bearer realm="roger""#.to_string()
        };
        Self {
            www_authenticate: Some(challenge),
            ..Self::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken, message)
        }
    }

    /// 403 `insufficient_scope` naming the scope needed.
    pub fn insufficient_scope(scope: &str) -> Self {
        Self {
            www_authenticate: Some(format!(
                r#"Bearer realm="roger", error="insufficient_scope", scope="{scope}""#
            )),
            ..Self::new(
                StatusCode::FORBIDDEN,
                ErrorCode::InsufficientScope,
                format!("this call needs the `{scope}` scope"),
            )
        }
    }

    /// The same error with another code.
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }

    /// Adds `Retry-After` (seconds).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

#[derive(Serialize)]
struct ApiErrorBody<'a> {
    error: ApiErrorInner<'a>,
}

#[derive(Serialize)]
struct ApiErrorInner<'a> {
    code: ErrorCode,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody {
            error: ApiErrorInner {
                code: self.code,
                message: &self.message,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self
            .www_authenticate
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// An RFC 6749 §5.2 error response of the authorization server.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic_challenge: bool,
}

impl OAuthError {
    /// 400 with this `error` code.
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    /// 401 `invalid_client`; with a `WWW-Authenticate: Basic` challenge when the client used Basic.
    pub fn invalid_client(basic_challenge: bool) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            basic_challenge,
            ..Self::new("invalid_client", "client authentication failed")
        }
    }

    /// Same error with another status (e.g. 413 for an oversized body).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="roger""#),
            );
        }
        response
    }
}
