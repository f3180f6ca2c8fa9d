//! Request-body extractors that answer bad input with the protocol's own errors:
//! [`OAuthForm`] for `/oauth/*` (RFC 6749 JSON), [`ApiJson`] for `/api/v1/*` (typed error body).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode, OAuthError};
use crate::region::Shared;

/// Most parameters accepted in one form.
const MAX_FORM_PARAMS: usize = 32;

/// An `application/x-www-form-urlencoded` body: each parameter at most once (RFC 6749 §3.2).
#[derive(Debug)]
pub struct OAuthForm(pub HashMap<String, String>);

impl OAuthForm {
    /// A parameter, if present and non-empty (RFC 6749 §3.1: empty means absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A required parameter.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }
}

/// Parses URL-encoded pairs, refusing repeated names and too many parameters.
pub fn parse_unique_pairs(input: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(input) {
        if params.len() >= MAX_FORM_PARAMS {
            return Err("too many parameters".into());
        }
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(format!("parameter `{name}` repeated"));
        }
    }
    Ok(params)
}

/// Whether the request's media type (parameters ignored) is `expected`.
pub(crate) fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// Reads the body up to `limit` bytes; `Err` when larger (or unreadable).
async fn read_body(request: Request, limit: usize) -> Result<Bytes, ()> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(());
    }
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| ())
}

impl FromRequest<Shared> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &Shared) -> Result<Self, Self::Rejection> {
        if !content_type_is(request.headers(), "application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let limit = state.config.limits.max_body_bytes;
        let body = read_body(request, limit).await.map_err(|_| {
            OAuthError::invalid_request(format!("the body exceeds {limit} bytes"))
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        })?;
        parse_unique_pairs(&body)
            .map(OAuthForm)
            .map_err(OAuthError::invalid_request)
    }
}

/// A JSON body deserialised into `T` (unknown fields refused by `T`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Shared> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Shared) -> Result<Self, Self::Rejection> {
        if !content_type_is(request.headers(), "application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "the body must be application/json",
            ));
        }
        let limit = state.config.limits.max_body_bytes;
        let body = read_body(request, limit).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!("the body exceeds {limit} bytes"),
            )
        })?;
        serde_json::from_slice(&body)
            .map(ApiJson)
            .map_err(|e| ApiError::invalid(format!("malformed JSON body: {e}")))
    }
}

/// The single path parameter of a route, with a protocol error for undecodable input.
#[derive(Debug)]
pub struct PathParam(pub String);

impl FromRequestParts<Shared> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParam(value))
            .map_err(|_| ApiError::invalid("malformed path parameter"))
    }
}
