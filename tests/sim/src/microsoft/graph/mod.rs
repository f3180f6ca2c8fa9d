//! The emulated Microsoft Graph host: `/v1.0/me` and the OneDrive subset the core uses, with
//! Graph's addressing, error body, throttling answers and bearer-token checks.
//!
//! One fallback handler parses every URL itself: Graph's `root:/path:` addressing does not fit a
//! route table, and path segments must be percent-decoded exactly once.

pub mod content;
pub mod drive;
pub mod error;
pub mod faults;
pub mod items;
pub mod names;
pub mod render;
pub mod route;
pub mod upload;

use std::collections::{BTreeSet, HashMap};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::Value;

use super::identity::store::{AccessProblem, Scope};
use super::{MsShared, MsState};
use error::{GraphError, RequestContext};
use faults::ThrottleStatus;
use route::{Action, Parsed, Resource};

/// Largest JSON request body.
pub const MAX_JSON_BYTES: u64 = 64 * 1024;

/// The Graph host's router.
pub fn router(state: MsShared) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// The signed-in user a bearer token stands for.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: String,
    pub scopes: BTreeSet<Scope>,
}

/// The OData query options of a request (system options keyed in lower case).
#[derive(Debug, Default)]
pub struct QueryOptions {
    map: HashMap<String, String>,
}

/// Options the emulator understands.
const KNOWN_OPTIONS: &[&str] = &[
    "$top",
    "$skiptoken",
    "$select",
    "$orderby",
    "@microsoft.graph.conflictbehavior",
];
/// Options Graph has that the emulator does not implement.
const UNEMULATED_OPTIONS: &[&str] = &[
    "$expand", "$filter", "$count", "$search", "$skip", "$format",
];

impl QueryOptions {
    fn parse(raw: Option<&str>) -> Result<Self, GraphError> {
        let mut map = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let key = name.to_ascii_lowercase();
            if UNEMULATED_OPTIONS.contains(&key.as_str()) {
                return Err(GraphError::not_emulated(&format!("The query option {key}")));
            }
            if !KNOWN_OPTIONS.contains(&key.as_str()) {
                if key.starts_with('$') {
                    return Err(GraphError::invalid(format!(
                        "The query option {} is not a Graph query option.",
                        key.chars().take(32).collect::<String>()
                    ))
                    .inner("invalidQueryOption"));
                }
                continue;
            }
            if map.insert(key, value.into_owned()).is_some() {
                return Err(
                    GraphError::invalid("A query option is repeated.").inner("invalidQueryOption")
                );
            }
        }
        Ok(Self { map })
    }

    /// Refuses options this route does not take.
    pub fn allow(&self, allowed: &[&str]) -> Result<(), GraphError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(GraphError::invalid(format!(
                "The query option {key} is not supported on this request."
            ))
            .inner("invalidQueryOption")),
            None => Ok(()),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }
}

/// Everything a handler gets.
pub struct Call<'a> {
    pub state: &'a MsState,
    pub caller: Caller,
    pub headers: &'a HeaderMap,
    pub query: QueryOptions,
    pub drive_id: Option<String>,
}

/// A JSON response with a status.
pub fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

async fn dispatch(State(state): State<MsShared>, request: Request) -> Response {
    let ctx = RequestContext::new(request.headers(), state.now());
    let method = request.method().clone();
    let parsed = route::parse(request.uri().path());
    let label = route::label(&method, parsed.as_ref().ok().map(|p| &p.resource));
    state.graph_stats.count(label);
    let (parts, body) = request.into_parts();
    let result = match precheck(&state, &parts, parsed) {
        Ok((caller, parsed, query)) => {
            let call = Call {
                state: &state,
                caller,
                headers: &parts.headers,
                query,
                drive_id: parsed.drive_id,
            };
            handle(call, &method, parsed.resource, body).await
        }
        Err(error) => {
            drain(body, state.ms().simple_upload_max_bytes).await;
            Err(error)
        }
    };
    let mut response = result.unwrap_or_else(|e| e.respond(&ctx));
    ctx.stamp(&mut response);
    tracing::debug!(%method, route = label, status = response.status().as_u16(), "graph request");
    response
}

/// Throttling, then the URL, the bearer token, the scope and the query options.
fn precheck(
    state: &MsState,
    parts: &Parts,
    parsed: Result<Parsed, GraphError>,
) -> Result<(Caller, Parsed, QueryOptions), GraphError> {
    throttle(state)?;
    let parsed = parsed?;
    let caller = authenticate(state, &parts.headers)?;
    let needed = match parsed.resource {
        Resource::Me => Scope::UserRead,
        _ => Scope::FilesReadWrite,
    };
    if !caller.scopes.contains(&needed) {
        return Err(match needed {
            Scope::UserRead => GraphError::new(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
            _ => GraphError::new(StatusCode::FORBIDDEN, "accessDenied", "Access denied"),
        });
    }
    let query = QueryOptions::parse(parts.uri.query())?;
    Ok((caller, parsed, query))
}

/// The throttling fault: 429 or 503 with `Retry-After`.
pub fn throttle(state: &MsState) -> Result<(), GraphError> {
    let Some((status, retry_after)) = state.faults.throttle() else {
        return Ok(());
    };
    state.graph_stats.count_throttled();
    let error = match status {
        ThrottleStatus::TooManyRequests => GraphError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "activityLimitReached",
            "The request has been throttled.",
        )
        .inner("throttledRequest"),
        ThrottleStatus::ServiceUnavailable => GraphError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Try again after the delay in Retry-After.",
        ),
    };
    Err(error.header(header::RETRY_AFTER, retry_after.to_string()))
}

fn authenticate(state: &MsState, headers: &HeaderMap) -> Result<Caller, GraphError> {
    let authorization_uri = format!("{}common/oauth2/v2.0/authorize", state.identity_url);
    let fail = |message: &str| GraphError::unauthenticated(message, &authorization_uri);
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(fail("Access token is empty."));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty() && t.len() <= 4096)
        .ok_or_else(|| fail("Access token validation failure."))?;
    let auth = state.auth();
    match auth.access(token, state.now(), state.faults.token_generation()) {
        Ok(record) => Ok(Caller {
            user_id: record.user_id.clone(),
            scopes: record.scopes.clone(),
        }),
        Err(AccessProblem::Expired) => {
            Err(fail("Lifetime validation failed, the token is expired."))
        }
        Err(AccessProblem::Revoked) => Err(fail("Access token has been revoked.")),
        Err(AccessProblem::Unknown) => Err(fail("Access token validation failure.")),
    }
}

async fn handle(
    call: Call<'_>,
    method: &Method,
    resource: Resource,
    body: Body,
) -> Result<Response, GraphError> {
    let needs_body = matches!(*method, Method::PUT | Method::POST | Method::PATCH);
    let body = if needs_body {
        body
    } else {
        drain(body, MAX_JSON_BYTES).await;
        Body::empty()
    };
    match (method.as_str(), resource) {
        ("GET", Resource::Me) => items::me(&call),
        ("GET", Resource::Drive) => items::drive(&call),
        ("GET", Resource::Item(target, Action::Item)) => items::get_item(&call, &target),
        ("PATCH", Resource::Item(target, Action::Item)) => {
            let body = read_json(call.headers, body).await?;
            items::patch_item(&call, &target, body)
        }
        ("DELETE", Resource::Item(target, Action::Item)) => items::delete_item(&call, &target),
        ("GET", Resource::Item(target, Action::Children)) => items::list_children(&call, &target),
        ("POST", Resource::Item(target, Action::Children)) => {
            let body = read_json(call.headers, body).await?;
            items::create_folder(&call, &target, body)
        }
        ("GET", Resource::Item(target, Action::Content)) => items::download(&call, &target),
        ("PUT", Resource::Item(target, Action::Content)) => {
            upload::simple_upload(&call, &target, body).await
        }
        ("POST", Resource::Item(target, Action::CreateUploadSession)) => {
            let body = read_optional_json(call.headers, body).await?;
            upload::create_session(&call, &target, body)
        }
        _ => {
            if needs_body {
                drain(body, call.state.ms().simple_upload_max_bytes).await;
            }
            Err(GraphError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalidRequest",
                "The HTTP method is not allowed on this resource.",
            ))
        }
    }
}

/// Reads a body of at most `limit` bytes (`Err` when larger or broken).
pub async fn read_body(body: Body, limit: u64) -> Result<Bytes, GraphError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalidRequest",
            "The request body is too large.",
        )
        .inner("maxFileSizeExceeded")
    })
}

/// Reads and discards a body, up to `limit` bytes, so that an early answer reaches a client
/// that is still sending.
pub async fn drain(body: Body, limit: u64) {
    let mut seen = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > limit {
            break;
        }
    }
}

/// A JSON object body.
async fn read_json(headers: &HeaderMap, body: Body) -> Result<Value, GraphError> {
    read_optional_json(headers, body)
        .await?
        .ok_or_else(|| GraphError::invalid("A JSON request body is required."))
}

/// A JSON object body, or `None` for an empty body.
async fn read_optional_json(headers: &HeaderMap, body: Body) -> Result<Option<Value>, GraphError> {
    let bytes = read_body(body, MAX_JSON_BYTES).await?;
    if bytes.is_empty() {
        return Ok(None);
    }
    if !crate::extract::content_type_is(headers, "application/json") {
        return Err(GraphError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalidRequest",
            "The request body must be application/json.",
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) if value.is_object() => Ok(Some(value)),
        _ => Err(GraphError::invalid(
            "The request body is not a JSON object.",
        )),
    }
}
