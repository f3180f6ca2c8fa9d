//! Graph's error body: `{"error": {"code", "message", "innerError": {...}}}`.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::clock::SimTime;
use crate::microsoft::directory::random_guid;

/// Per-request diagnostics Graph puts in `innerError` and in response headers.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub client_request_id: String,
    pub now: SimTime,
}

impl RequestContext {
    /// A fresh request id; `client-request-id` is echoed when the client sent a sane one.
    pub fn new(headers: &HeaderMap, now: SimTime) -> Self {
        let request_id = random_guid();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= 64
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            .map_or_else(|| request_id.clone(), str::to_string);
        Self {
            request_id,
            client_request_id,
            now,
        }
    }

    /// Adds `request-id` and `client-request-id` to a response.
    pub fn stamp(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            headers.insert("request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.client_request_id) {
            headers.insert("client-request-id", v);
        }
    }
}

/// A Graph error answer.
#[derive(Debug)]
pub struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
    inner_code: Option<&'static str>,
    headers: Vec<(header::HeaderName, String)>,
}

impl GraphError {
    /// An error with this status, top-level code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            inner_code: None,
            headers: Vec::new(),
        }
    }

    /// 400 `invalidRequest`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalidRequest", message)
    }

    /// 404 `itemNotFound`.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "The resource could not be found.",
        )
    }

    /// 409 `nameAlreadyExists`.
    pub fn name_exists() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "nameAlreadyExists",
            "The specified item name already exists.",
        )
    }

    /// 507 `quotaLimitReached`: the drive has no room for the write.
    pub fn quota_limit_reached() -> Self {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "quotaLimitReached",
            "Insufficient Space Available: the user has reached their quota limit.",
        )
    }

    /// A 5xx as a failing storage node answers it: 500 `generalException`, 502 `badGateway`,
    /// 504 `gatewayTimeout` (anything else is a 500).
    pub fn server_fault(status: u16) -> Self {
        match status {
            502 => Self::new(StatusCode::BAD_GATEWAY, "badGateway", "Bad gateway."),
            504 => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "gatewayTimeout",
                "The gateway timed out.",
            ),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "generalException",
                "An unspecified error has occurred.",
            ),
        }
    }

    /// 401 `InvalidAuthenticationToken` with Graph's challenge.
    pub fn unauthenticated(message: impl Into<String>, authorization_uri: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
        .header(
            header::WWW_AUTHENTICATE,
            format!(
                r#"Bearer realm="", authorization_uri="{authorization_uri}", client_id="00000003-0000-0000-c000-000000000000""#
            ),
        )
    }

    /// 501 `notSupported`: Graph has it, the emulator does not.
    pub fn not_emulated(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "notSupported",
            format!("{what} is not supported by the emulator."),
        )
    }

    /// Adds a more specific code in `innerError`.
    pub fn inner(mut self, code: &'static str) -> Self {
        self.inner_code = Some(code);
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: header::HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The top-level code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The response for this request.
    pub fn respond(self, ctx: &RequestContext) -> Response {
        let mut inner = Map::new();
        if let Some(code) = self.inner_code {
            inner.insert("code".into(), json!(code));
        }
        inner.insert("date".into(), json!(ctx.now.rfc3339()));
        inner.insert("request-id".into(), json!(ctx.request_id));
        inner.insert("client-request-id".into(), json!(ctx.client_request_id));
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": Value::Object(inner),
            }
        });
        let mut response = (self.status, Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        ctx.stamp(&mut response);
        response
    }
}
