//! The content host: pre-authenticated upload-session URLs (`/up/{token}`) and download URLs
//! (`/dl/{token}`), on their own origin like OneDrive's storage hosts.
//!
//! It refuses requests carrying an `Authorization` header (and counts them for tests), and it
//! runs its own accept loop so that the fault switch can drop a connection in the middle of a
//! fragment, as a broken network would.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

use super::drive::{session_expiry, FileContent, Item, NewItem, SessionTarget};
use super::error::{GraphError, RequestContext};
use super::items::item_body_for;
use super::names::{encode_segment, mime_type};
use super::{drain, json_response, throttle};
use crate::microsoft::config::FRAGMENT_UNIT;
use crate::microsoft::{MsShared, MsState};
use crate::secret::SecretHash;

type HmacSha256 = Hmac<Sha256>;

/// Lets a handler close the connection it is served on.
#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

/// Serves the content host until shutdown.
pub fn serve(
    listener: TcpListener,
    state: MsShared,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let app = router(state);
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let kill = Arc::new(Notify::new());
                    let service = TowerToHyperService::new(
                        app.clone().layer(Extension(ConnectionKill(kill.clone()))),
                    );
                    connections.spawn(async move {
                        let connection = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        tokio::select! {
                            _ = connection => {}
                            _ = kill.notified() => {}
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
    })
}

fn router(state: MsShared) -> Router {
    Router::new()
        .route(
            "/up/{token}",
            get(upload_status)
                .put(upload_fragment)
                .delete(upload_cancel),
        )
        .route("/dl/{token}", get(download))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(State(state): State<MsShared>, headers: HeaderMap) -> Response {
    let ctx = RequestContext::new(&headers, state.now());
    GraphError::not_found().respond(&ctx)
}

/// Counts the request, refuses an `Authorization` header, applies throttling.
fn gate(state: &MsState, headers: &HeaderMap, label: &'static str) -> Result<(), GraphError> {
    state.graph_stats.count(label);
    let authorized = headers.contains_key(header::AUTHORIZATION);
    if authorized {
        state.graph_stats.count_content_authorization();
    }
    throttle(state)?;
    if authorized {
        tracing::warn!(
            route = label,
            "Authorization header sent to a pre-authenticated URL"
        );
        return Err(GraphError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Upload and download URLs are pre-authenticated: do not send an Authorization header.",
        ));
    }
    Ok(())
}

fn session_not_found() -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "itemNotFound",
        "The upload session was not found or has expired.",
    )
    .inner("uploadSessionNotFound")
}

fn status_body(expires_at: &str, received: u64) -> Value {
    json!({
        "expirationDateTime": expires_at,
        "nextExpectedRanges": [format!("{received}-")],
    })
}

/// `GET` an upload URL: where the session stands (for a resume).
async fn upload_status(
    State(state): State<MsShared>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ctx = RequestContext::new(&headers, state.now());
    let result = gate(&state, &headers, "GET upload").and_then(|()| {
        let drives = state.drives();
        let session = drives
            .sessions
            .get(&SecretHash::of(&token))
            .ok_or_else(session_not_found)?;
        Ok(json_response(
            StatusCode::OK,
            status_body(&session.expires_at.rfc3339(), session.buffer.len() as u64),
        ))
    });
    finish(&ctx, result)
}

/// `DELETE` an upload URL: cancels the session (204).
async fn upload_cancel(
    State(state): State<MsShared>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ctx = RequestContext::new(&headers, state.now());
    let result = gate(&state, &headers, "DELETE upload").and_then(|()| {
        state
            .drives()
            .sessions
            .remove(&SecretHash::of(&token))
            .map(|_| StatusCode::NO_CONTENT.into_response())
            .ok_or_else(session_not_found)
    });
    finish(&ctx, result)
}

fn finish(ctx: &RequestContext, result: Result<Response, GraphError>) -> Response {
    match result {
        Ok(mut response) => {
            ctx.stamp(&mut response);
            response
        }
        Err(error) => error.respond(ctx),
    }
}

/// `bytes {start}-{end}/{total}`.
fn parse_content_range(headers: &HeaderMap) -> Result<(u64, u64, u64), GraphError> {
    let invalid = || {
        GraphError::invalid(
            "Content-Range must be 'bytes {start}-{end}/{total}' with a known total.",
        )
    };
    let value = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(invalid)?;
    let rest = value.trim().strip_prefix("bytes ").ok_or_else(invalid)?;
    let (range, total) = rest.split_once('/').ok_or_else(invalid)?;
    let (start, end) = range.split_once('-').ok_or_else(invalid)?;
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
            .ok_or_else(invalid)
    };
    let (start, end, total) = (number(start)?, number(end)?, number(total)?);
    if start > end || end >= total {
        return Err(invalid());
    }
    Ok((start, end, total))
}

/// `PUT` a fragment to an upload URL: 202 with `nextExpectedRanges`, or the driveItem (201 new,
/// 200 replaced) once the last byte arrived.
async fn upload_fragment(
    State(state): State<MsShared>,
    Path(token): Path<String>,
    Extension(kill): Extension<ConnectionKill>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ctx = RequestContext::new(&headers, state.now());
    let max_fragment = state.ms().max_fragment_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let early = gate(&state, &headers, "PUT upload").and_then(|()| match declared {
        None => Err(GraphError::new(
            StatusCode::LENGTH_REQUIRED,
            "invalidRequest",
            "A Content-Length header is required.",
        )),
        Some(len) if len >= max_fragment => Err(GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalidRequest",
            format!("A fragment must be smaller than {max_fragment} bytes."),
        )
        .inner("maxFragmentLengthExceeded")),
        Some(len) => Ok(len),
    });
    let len = match early {
        Ok(len) => len,
        Err(error) => {
            if declared.is_some_and(|d| d < max_fragment) {
                drain(body, max_fragment).await;
            }
            let mut response = error.respond(&ctx);
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return GraphError::invalid("The fragment was not received completely.").respond(&ctx);
        };
        if state.faults.upload_progress(chunk.len() as u64) {
            state.graph_stats.count_dropped();
            tracing::info!("fault injection: dropping an upload connection mid-fragment");
            kill.0.notify_one();
            std::future::pending::<()>().await;
        }
        data.extend_from_slice(&chunk);
    }
    state.graph_stats.count_fragment_bytes(data.len() as u64);
    if data.len() as u64 != len {
        return GraphError::invalid("The body length differs from Content-Length.").respond(&ctx);
    }
    if let Some(status) = state.faults.fragment_failure() {
        state.graph_stats.count_failed_fragment();
        tracing::info!(status, "fault injection: failing an upload fragment");
        return GraphError::server_fault(status).respond(&ctx);
    }
    let result = accept_fragment(&state, &token, &headers, data).await;
    finish(&ctx, result)
}

async fn accept_fragment(
    state: &MsState,
    token: &str,
    headers: &HeaderMap,
    data: Vec<u8>,
) -> Result<Response, GraphError> {
    let key = SecretHash::of(token);
    let now = state.now();
    let completed = {
        let mut drives = state.drives();
        let session = drives
            .sessions
            .get_mut(&key)
            .ok_or_else(session_not_found)?;
        let (start, end, total) = parse_content_range(headers)?;
        let length = end - start + 1;
        if length != data.len() as u64 {
            return Err(GraphError::invalid(
                "The Content-Range length does not match the provided number of bytes.",
            ));
        }
        match session.total {
            Some(known) if known != total => {
                return Err(GraphError::invalid(
                    "The declared total size differs from that of the upload session.",
                )
                .inner("fragmentLengthMismatch"))
            }
            Some(_) => {}
            None => {
                if session.declared_size.is_some_and(|d| d != total) {
                    return Err(GraphError::invalid(
                        "The declared total size differs from the session's fileSize.",
                    )
                    .inner("fragmentLengthMismatch"));
                }
                if total > state.ms().max_file_bytes {
                    return Err(GraphError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "invalidRequest",
                        format!(
                            "The emulator stores files of at most {} bytes.",
                            state.ms().max_file_bytes
                        ),
                    )
                    .inner("maxFileSizeExceeded"));
                }
                state.faults.check_free_space(total)?;
                session.total = Some(total);
                session
                    .buffer
                    .reserve_exact(usize::try_from(total).unwrap_or(0));
            }
        }
        let received = session.buffer.len() as u64;
        if start != received {
            let inner = if start < received {
                "fragmentOverlap"
            } else {
                "fragmentOutOfOrder"
            };
            return Err(GraphError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "invalidRange",
                if start < received {
                    "The uploaded fragment overlaps with data already received."
                } else {
                    "The uploaded fragment is out of order: upload from nextExpectedRanges."
                },
            )
            .inner(inner));
        }
        let last = end + 1 == total;
        if !last && length % FRAGMENT_UNIT != 0 {
            return Err(GraphError::invalid(
                "Every fragment but the last must be a multiple of 320 KiB (327,680 bytes).",
            ));
        }
        session.buffer.extend_from_slice(&data);
        drop(data);
        session.expires_at = session_expiry(now, state.ms().upload_session_secs);
        if !last {
            return Ok(json_response(
                StatusCode::ACCEPTED,
                status_body(&session.expires_at.rfc3339(), session.buffer.len() as u64),
            ));
        }
        drives.sessions.remove(&key).ok_or_else(session_not_found)?
    };
    // The last byte arrived: hash outside the lock, then commit.
    let user_id = completed.user_id;
    let target = completed.target;
    let content =
        tokio::task::spawn_blocking(move || FileContent::new(Bytes::from(completed.buffer)))
            .await
            .map_err(|_| {
                GraphError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "generalException",
                    "commit failed",
                )
            })?;
    commit(state, &user_id, target, content)
}

fn commit(
    state: &MsState,
    user_id: &str,
    target: SessionTarget,
    content: FileContent,
) -> Result<Response, GraphError> {
    let now = state.now();
    let user = state
        .directory
        .user(user_id)
        .ok_or_else(GraphError::not_found)?;
    state.faults.check_free_space(content.bytes.len() as u64)?;
    let mut drives = state.drives();
    let drive = drives
        .drive_mut(user_id)
        .ok_or_else(GraphError::not_found)?;
    let (id, created) = match target {
        SessionTarget::Existing { item_id } => {
            drive.replace_content(&item_id, content, now)?;
            (item_id, false)
        }
        SessionTarget::New {
            parent_id,
            name,
            conflict,
        } => {
            if drive.get(&parent_id).is_none() {
                return Err(GraphError::new(
                    StatusCode::CONFLICT,
                    "itemNotFound",
                    "The parent folder of the upload no longer exists.",
                ));
            }
            drive.create(&parent_id, &name, NewItem::File(content), conflict, now)?
        }
    };
    let item = drive.get(&id).ok_or_else(GraphError::not_found)?;
    tracing::info!(item = %id, "upload session committed");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(
        status,
        Value::Object(item_body_for(state, user, drive, item)),
    ))
}

fn mac(state: &MsState) -> Option<HmacSha256> {
    HmacSha256::new_from_slice(&state.signing_key).ok()
}

/// The pre-authenticated download URL of a file: bound to the user, the item and its content
/// version, valid for `download_url_secs`.
pub fn download_url(state: &MsState, user_id: &str, item: &Item) -> String {
    let lifetime = state
        .faults
        .download_url_secs_override()
        .unwrap_or(state.ms().download_url_secs);
    let expires = state.now().unix_seconds() + lifetime;
    let payload = URL_SAFE_NO_PAD.encode(format!(
        "{user_id}|{}|{}|{expires}",
        item.id, item.ctag_version
    ));
    let signature = mac(state)
        .map(|mut m| {
            m.update(payload.as_bytes());
            URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
        })
        .unwrap_or_default();
    format!("{}dl/{payload}.{signature}", state.content_url)
}

enum DownloadProblem {
    Invalid,
    Expired,
}

fn verify_download(state: &MsState, token: &str) -> Result<(String, String, u64), DownloadProblem> {
    let (payload, signature) = token.split_once('.').ok_or(DownloadProblem::Invalid)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| DownloadProblem::Invalid)?;
    let mut m = mac(state).ok_or(DownloadProblem::Invalid)?;
    m.update(payload.as_bytes());
    m.verify_slice(&signature)
        .map_err(|_| DownloadProblem::Invalid)?;
    let decoded = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(DownloadProblem::Invalid)?;
    let mut parts = decoded.split('|');
    let (Some(user), Some(item), Some(version), Some(expires), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(DownloadProblem::Invalid);
    };
    let (Ok(version), Ok(expires)) = (version.parse::<u64>(), expires.parse::<u64>()) else {
        return Err(DownloadProblem::Invalid);
    };
    if state.now().unix_seconds() >= expires {
        return Err(DownloadProblem::Expired);
    }
    Ok((user.to_string(), item.to_string(), version))
}

/// A single `Range: bytes=…` over `len` bytes: `Ok(None)` to serve everything (no or ignored
/// header), `Err(())` when unsatisfiable.
fn parse_range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    let range = match (a.is_empty(), b.is_empty()) {
        (false, true) => parse(a).map(|start| (start, len.saturating_sub(1))),
        (false, false) => match (parse(a), parse(b)) {
            (Some(start), Some(end)) if start <= end => {
                Some((start, end.min(len.saturating_sub(1))))
            }
            _ => return Ok(None),
        },
        (true, false) => parse(b)
            .filter(|n| *n > 0)
            .map(|n| (len.saturating_sub(n), len.saturating_sub(1))),
        (true, true) => return Ok(None),
    };
    match range {
        Some((start, _)) if start >= len => Err(()),
        Some(range) => Ok(Some(range)),
        None => Ok(None),
    }
}

/// `GET` (or `HEAD`) a download URL: the bytes, with `Range` support.
async fn download(
    State(state): State<MsShared>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ctx = RequestContext::new(&headers, state.now());
    let result = gate(&state, &headers, "GET download")
        .and_then(|()| match state.faults.throttle_download() {
            None => Ok(()),
            Some(retry_after) => {
                state.graph_stats.count_throttled();
                Err(GraphError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "activityLimitReached",
                    "The request has been throttled.",
                )
                .inner("throttledRequest")
                .header(header::RETRY_AFTER, retry_after.to_string()))
            }
        })
        .and_then(|()| {
            let (user_id, item_id, version) = verify_download(&state, &token).map_err(|p| {
                GraphError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    match p {
                        DownloadProblem::Invalid => "The pre-authenticated URL is not valid.",
                        DownloadProblem::Expired => "The pre-authenticated URL has expired.",
                    },
                )
            })?;
            let drives = state.drives();
            let drive = drives.drive(&user_id).ok_or_else(GraphError::not_found)?;
            let item = drive
                .get(&item_id)
                .filter(|i| i.ctag_version == version)
                .ok_or_else(GraphError::not_found)?;
            let file = item.file().ok_or_else(GraphError::not_found)?;
            let cut = state.faults.take_download_cut();
            Ok(serve_bytes(item, file.bytes.clone(), &headers, cut))
        });
    finish(&ctx, result)
}

/// The body of a download: all of `bytes`, or (a fault) only the first `cut` bytes followed by
/// an I/O error, so the server drops the connection mid-body. The `Content-Length` stays that of
/// the whole body either way.
fn body(bytes: Bytes, cut: Option<u64>) -> (Body, u64) {
    let len = bytes.len() as u64;
    let Some(cut) = cut else {
        return (Body::from(bytes), len);
    };
    let keep = bytes.slice(..usize::try_from(cut.min(len)).unwrap_or(0));
    // The error comes after a pause, so the server has flushed the headers and the first bytes
    // (a real network drops mid-body, not before the status line).
    let stream = futures::stream::iter([Ok(keep)]).chain(futures::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault: download connection dropped",
        ))
    }));
    (Body::from_stream(stream), len)
}

fn serve_bytes(item: &Item, bytes: Bytes, headers: &HeaderMap, cut: Option<u64>) -> Response {
    let len = bytes.len() as u64;
    // RFC 9110 §13.1.5: a Range that comes with an If-Range for another version is ignored.
    let stale = headers
        .get(header::IF_RANGE)
        .is_some_and(|v| v.as_bytes() != item.etag().as_bytes());
    let range = if stale {
        Ok(None)
    } else {
        parse_range(headers, len)
    };
    let (mut response, sent) = match range {
        Err(()) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
        Ok(None) => {
            let (body, sent) = body(bytes, cut);
            ((StatusCode::OK, body).into_response(), sent)
        }
        Ok(Some((start, end))) => {
            let (body, sent) = body(bytes.slice(start as usize..=end as usize), cut);
            let mut r = (StatusCode::PARTIAL_CONTENT, body).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            (r, sent)
        }
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(sent));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime_type(&item.name)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&item.etag()) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename*=UTF-8''{}",
        encode_segment(&item.name)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        let r = |v: &str| parse_range(&headers(header::RANGE, v), 100);
        assert_eq!(r("bytes=0-9"), Ok(Some((0, 9))));
        assert_eq!(r("bytes=90-"), Ok(Some((90, 99))));
        assert_eq!(r("bytes=-10"), Ok(Some((90, 99))));
        assert_eq!(r("bytes=95-200"), Ok(Some((95, 99))));
        assert_eq!(r("bytes=100-"), Err(()));
        assert_eq!(r("bytes=0-1,5-6"), Ok(None), "multiple ranges: whole file");
        assert_eq!(r("bytes=9-0"), Ok(None), "invalid: ignored");
        assert_eq!(parse_range(&HeaderMap::new(), 100), Ok(None));
    }

    #[test]
    fn content_ranges_need_a_known_total() {
        let r = |v: &str| parse_content_range(&headers(header::CONTENT_RANGE, v));
        assert_eq!(r("bytes 0-25/128").unwrap(), (0, 25, 128));
        assert!(r("bytes 0-25/*").is_err());
        assert!(r("bytes 26-25/128").is_err());
        assert!(r("bytes 0-128/128").is_err());
        assert!(r("0-25/128").is_err());
        assert!(r("bytes +0-25/128").is_err());
        assert!(parse_content_range(&HeaderMap::new()).is_err());
    }
}
