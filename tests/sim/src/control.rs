//! A control API for tests written in other languages (the Kotlin and Swift bindings' tests):
//! the hooks `CloudHandle` offers in Rust, over loopback HTTP with JSON. It plays the browser
//! step of a sign-in, shows what an MFP displays and printed, seeds OneDrive files, moves the
//! clock and pushes events for delivery benchmarks. It is a test harness: it binds to
//! 127.0.0.1 only and is off unless asked for.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::CloudHandle;

type Shared = Arc<CloudHandle>;

fn bad(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The control API's routes over a running cloud.
pub fn router(cloud: Shared) -> Router {
    Router::new()
        .route("/browser-login", post(browser_login))
        .route("/mfp/{id}/qr", get(mfp_qr))
        .route("/mfp/{id}/camera", get(mfp_camera))
        .route("/mfp/{id}/status", get(mfp_status))
        .route("/graph/files", put(put_file).get(get_file))
        .route("/clock/advance", post(advance_clock))
        .route("/events/push", post(push_events))
        .with_state(cloud)
}

#[derive(Deserialize)]
struct Login {
    url: String,
    username: String,
    password: String,
}

/// `POST /browser-login {url, username, password}` → `{redirect}`: the user signs in on the
/// authorization page at `url` (a Roger region's or the Microsoft emulator's).
async fn browser_login(State(cloud): State<Shared>, Json(login): Json<Login>) -> Response {
    let Ok(url) = Url::parse(&login.url) else {
        return bad(StatusCode::BAD_REQUEST, "url is not a URL");
    };
    let same_origin = |base: &Url| base.origin() == url.origin();
    let redirect = if same_origin(&cloud.identity_url) {
        cloud
            .identity()
            .browser_login(&url, &login.username, &login.password)
    } else if let Some(region) = cloud.regions.iter().find(|r| same_origin(&r.api_url)) {
        region.browser_login(&url, &login.username, &login.password)
    } else {
        return bad(
            StatusCode::BAD_REQUEST,
            "no authorization server at that URL",
        );
    };
    match redirect {
        Ok(to) => Json(json!({ "redirect": to.as_str() })).into_response(),
        Err(e) => bad(StatusCode::FORBIDDEN, e.to_string()),
    }
}

#[derive(Deserialize)]
struct QrQuery {
    previous: Option<String>,
}

/// `GET /mfp/{id}/qr?previous=CODE` → `{userCode, payload}`: waits (up to 30 s) for a code on
/// screen other than `previous`.
async fn mfp_qr(
    State(cloud): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<QrQuery>,
) -> Response {
    let Some(mfp) = cloud.mfp(&id) else {
        return bad(StatusCode::NOT_FOUND, "no such MFP");
    };
    match mfp
        .wait_for_new_qr(q.previous.as_deref(), Duration::from_secs(30))
        .await
    {
        Ok(qr) => Json(json!({
            "userCode": qr.user_code,
            "payload": qr.verification_uri_complete,
        }))
        .into_response(),
        Err(e) => bad(StatusCode::GATEWAY_TIMEOUT, format!("{e:?}")),
    }
}

#[derive(Deserialize)]
struct Size {
    width: u32,
    height: u32,
}

/// `GET /mfp/{id}/camera?width=&height=`: what a phone camera sees of its screen, as packed
/// 8-bit luma (`width × height` bytes).
async fn mfp_camera(
    State(cloud): State<Shared>,
    Path(id): Path<String>,
    Query(size): Query<Size>,
) -> Response {
    let Some(mfp) = cloud.mfp(&id) else {
        return bad(StatusCode::NOT_FOUND, "no such MFP");
    };
    if !(16..=4096).contains(&size.width) || !(16..=4096).contains(&size.height) {
        return bad(
            StatusCode::BAD_REQUEST,
            "width and height must be 16 to 4096",
        );
    }
    mfp.camera_frame(size.width, size.height)
        .pixels
        .into_response()
}

/// `GET /mfp/{id}/status` → `{sessionOpen, userCode, printed: [...], uploaded: [...]}`.
async fn mfp_status(State(cloud): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(mfp) = cloud.mfp(&id) else {
        return bad(StatusCode::NOT_FOUND, "no such MFP");
    };
    let status = mfp.status();
    let printed: Vec<_> = status
        .printed
        .iter()
        .map(|p| {
            json!({ "jobId": p.job_id, "fileName": p.file_name, "size": p.size,
                    "sha256": p.sha256, "copies": p.copies })
        })
        .collect();
    let uploaded: Vec<_> = status
        .uploaded
        .iter()
        .map(|u| json!({ "scanId": u.scan_id, "fileName": u.file_name, "size": u.size, "sha256": u.sha256 }))
        .collect();
    Json(json!({
        "sessionOpen": status.state.is_session_open(),
        "userCode": status.state.user_code(),
        "printed": printed,
        "uploaded": uploaded,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct FileQuery {
    user: String,
    path: String,
}

/// `PUT /graph/files?user=&path=` with the bytes → `{id}`: a file in the user's OneDrive.
async fn put_file(
    State(cloud): State<Shared>,
    Query(q): Query<FileQuery>,
    body: Bytes,
) -> Response {
    match cloud.graph().put_file(&q.user, &q.path, body.to_vec()) {
        Ok(id) => Json(json!({ "id": id })).into_response(),
        Err(e) => bad(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// `GET /graph/files?user=&path=`: the file's bytes, or 404.
async fn get_file(State(cloud): State<Shared>, Query(q): Query<FileQuery>) -> Response {
    match cloud.graph().file_bytes(&q.user, &q.path) {
        Some(bytes) => bytes.into_response(),
        None => bad(StatusCode::NOT_FOUND, "no such file"),
    }
}

#[derive(Deserialize)]
struct Advance {
    secs: u64,
}

/// `POST /clock/advance?secs=N`: protocol time jumps forward.
async fn advance_clock(State(cloud): State<Shared>, Query(a): Query<Advance>) -> StatusCode {
    cloud
        .clock()
        .advance(Duration::from_secs(a.secs.min(365 * 24 * 3600)));
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Push {
    user: String,
    count: u32,
    #[serde(default)]
    every_us: u64,
}

/// `POST /events/push?user=&count=&every_us=` → `{first, last}`: records `count` (at most
/// 100,000) job events for the user, one every `every_us` microseconds (0: all at once), and
/// answers when all are recorded. Each job id is `bench-<n>-<unix µs when recorded>`, so a
/// subscriber in another process can time delivery from the moment the server had the event.
async fn push_events(State(cloud): State<Shared>, Query(p): Query<Push>) -> Response {
    if p.count == 0 || p.count > 100_000 || p.every_us > 1_000_000 {
        return bad(
            StatusCode::BAD_REQUEST,
            "count must be 1 to 100000 and every_us at most 1000000",
        );
    }
    let Some(region) = cloud.regions.iter().find(|r| r.user_id(&p.user).is_some()) else {
        return bad(StatusCode::NOT_FOUND, "no such user");
    };
    let start = tokio::time::Instant::now();
    let (mut first, mut last) = (None, 0);
    for n in 0..p.count {
        if p.every_us > 0 {
            tokio::time::sleep_until(start + Duration::from_micros(p.every_us * u64::from(n)))
                .await;
        }
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        let Some(id) = region.push_job_event(&p.user, &format!("bench-{n}-{micros}")) else {
            return bad(StatusCode::NOT_FOUND, "no such user");
        };
        first.get_or_insert(id);
        last = id;
    }
    Json(json!({ "first": first, "last": last })).into_response()
}
