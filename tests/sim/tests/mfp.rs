//! The MFP simulator: device grant cycle with a QR code on screen, session life, printing and
//! scanning, all over real sockets against the reference cloud.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::*;
use reqwest::StatusCode;
use roger_sim::mfp::{scan, MfpConfig, MfpHandle, MfpState, UPLOAD_FRAGMENT_UNIT};
use roger_sim::{CloudHandle, RegionHandle, SimConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const WAIT: Duration = Duration::from_secs(20);
const PRINTER: &str = "contoso-reception";

/// A world with one simulated MFP at the reception (configured by `tune`), lifetimes long enough
/// that the accelerated clock does not expire the test user's token mid-test.
async fn world(tune: impl FnOnce(&mut MfpConfig), codes_secs: u64) -> CloudHandle {
    let mut config = SimConfig::default();
    config.lifetimes.device_code_secs = codes_secs;
    config.lifetimes.access_token_secs = 24 * 3600;
    let mut mfp = MfpConfig::for_printer(PRINTER).fast();
    tune(&mut mfp);
    config.mfps = vec![mfp];
    start_with(config).await
}

fn mfp(cloud: &CloudHandle) -> &MfpHandle {
    cloud
        .mfp(PRINTER)
        .expect("the reception runs a simulated MFP")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The phone's part: look the code up (what the user is about to approve), then `verb` it.
/// Retries with the MFP's next code if the code rotated in between.
async fn decide_on_screen_code(
    eu: &RegionHandle,
    mfp: &MfpHandle,
    user: &str,
    verb: &str,
) -> String {
    let mut previous: Option<String> = None;
    for _ in 0..5 {
        let qr = mfp
            .wait_for_new_qr(previous.as_deref(), WAIT)
            .await
            .unwrap();
        let path = format!("/api/v1/pairings/{}", qr.user_code);
        let (status, lookup) = api(eu, "GET", &path, user, None).await;
        if status == StatusCode::OK {
            assert_eq!(lookup["printer"]["id"], PRINTER);
            let (status, body) = api(eu, "POST", &format!("{path}/{verb}"), user, None).await;
            if status == StatusCode::OK {
                return qr.user_code;
            }
            assert_eq!(status, StatusCode::GONE, "{body}");
        }
        previous = Some(qr.user_code);
    }
    panic!("could not {verb} a code in time");
}

async fn log_in_at_mfp(eu: &RegionHandle, mfp: &MfpHandle, user: &str) -> String {
    decide_on_screen_code(eu, mfp, user, "approve").await;
    match mfp
        .wait_for_state(MfpState::is_session_open, WAIT)
        .await
        .unwrap()
    {
        MfpState::SessionOpen { session_id, .. } => session_id,
        other => panic!("{other:?}"),
    }
}

fn decode_gray(width: u32, height: u32, pixels: &[u8]) -> Vec<String> {
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
            pixels[y * width as usize + x]
        });
    image
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, content)| content))
        .collect()
}

#[tokio::test]
async fn full_device_grant_cycle_pending_slow_down_approved() {
    // One deliberate early poll provokes a slow_down.
    let cloud = world(|m| m.early_polls = 1, 600).await;
    let eu = cloud.region("eu").unwrap();
    let mfp = mfp(&cloud);

    // pending, then the early poll is told to slow down, then pending again at the new pace.
    let status = mfp
        .wait_for(|s| s.stats.slow_downs == 1 && s.stats.pending >= 2, WAIT)
        .await
        .unwrap();
    assert!(
        matches!(
            status.state,
            MfpState::Polling {
                interval_secs: 10,
                ..
            }
        ),
        "slow_down adds 5 s to the 5 s interval: {:?}",
        status.state
    );
    assert_eq!(status.stats.codes_shown, 1);
    let qr = status.qr.expect("a code is on screen");
    assert_eq!(
        qr.verification_uri_complete,
        format!("{}/pair?v=1&code={}", eu.issuer, qr.user_code)
    );

    let alice = access(&sign_in(eu, ALICE).await);
    let code = decide_on_screen_code(eu, mfp, &alice, "approve").await;
    assert_eq!(code, qr.user_code);
    let state = mfp
        .wait_for_state(MfpState::is_session_open, WAIT)
        .await
        .unwrap();
    let MfpState::SessionOpen { session_id, rights } = state else {
        unreachable!()
    };
    assert_eq!(eu.active_session(ALICE.0).as_deref(), Some(&*session_id));
    assert_eq!(rights, ["jobs.release", "jobs.submit", "scan"]);
    assert!(mfp.current_qr().is_none(), "no code on screen in a session");

    // Honouring the interval: only the deliberate early poll was too fast, and every poll the
    // MFP counted reached the server.
    let stats = mfp.stats();
    assert_eq!((stats.slow_downs, stats.sessions_opened), (1, 1));
    assert_eq!(eu.stats().device_code_requests(), stats.polls);
    let (_, session) = api(eu, "GET", "/api/v1/session", &alice, None).await;
    assert_eq!(session["printer"]["id"], PRINTER);
    assert_eq!(
        session["rights"],
        json!(["jobs.release", "jobs.submit", "scan"])
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn an_expired_code_is_replaced_by_a_new_qr() {
    // 120 s codes at a 100× time scale: the first code expires after about 1.2 s.
    let cloud = world(|_| {}, 120).await;
    let eu = cloud.region("eu").unwrap();
    let mfp = mfp(&cloud);
    let first = mfp.wait_for_new_qr(None, WAIT).await.unwrap();
    let second = mfp
        .wait_for_new_qr(Some(&first.user_code), WAIT)
        .await
        .unwrap();
    assert_ne!(
        first.verification_uri_complete,
        second.verification_uri_complete
    );
    assert_ne!(first.png, second.png);
    assert!(second.expires_at > first.expires_at);
    let stats = mfp.stats();
    assert!(
        stats.expired_codes >= 1 && stats.codes_shown >= 2,
        "{stats:?}"
    );
    assert_eq!(stats.sessions_opened, 0);

    // The phone can no longer use the old code.
    let alice = access(&sign_in(eu, ALICE).await);
    let (status, body) = api(
        eu,
        "GET",
        &format!("/api/v1/pairings/{}", first.user_code),
        &alice,
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GONE, "code_expired")
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn advancing_the_clock_expires_a_real_time_mfps_code() {
    // A real-time MFP (5 s interval in real seconds) follows the sim clock: a test moving it
    // on by the code's lifetime gets a new code at once, without waiting.
    let cloud = world(|m| m.timing = roger_sim::mfp::MfpTiming::real_time(), 120).await;
    let mfp = mfp(&cloud);
    let first = mfp.wait_for_new_qr(None, WAIT).await.unwrap();
    cloud.clock().advance(Duration::from_secs(121));
    let second = mfp
        .wait_for_new_qr(Some(&first.user_code), Duration::from_secs(3))
        .await
        .unwrap();
    assert_ne!(first.user_code, second.user_code);
    assert_eq!(mfp.stats().expired_codes, 1);
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_denied_code_is_replaced_and_no_session_opens() {
    let cloud = world(|_| {}, 600).await;
    let eu = cloud.region("eu").unwrap();
    let mfp = mfp(&cloud);
    let alice = access(&sign_in(eu, ALICE).await);
    let denied = decide_on_screen_code(eu, mfp, &alice, "deny").await;
    let next = mfp.wait_for_new_qr(Some(&denied), WAIT).await.unwrap();
    assert_ne!(next.user_code, denied);
    let stats = mfp.stats();
    assert_eq!((stats.denied_codes, stats.sessions_opened), (1, 0));
    assert!(!mfp.state().is_session_open());
    assert!(eu.active_session(ALICE.0).is_none());
    cloud.shutdown().await;
}

#[tokio::test]
async fn the_qr_png_decodes_to_the_verification_uri_and_camera_frames_look_like_a_camera() {
    let cloud = world(|m| m.timing = roger_sim::mfp::MfpTiming::real_time(), 600).await;
    let eu = cloud.region("eu").unwrap();
    let mfp = mfp(&cloud);
    let qr = mfp.wait_for_new_qr(None, WAIT).await.unwrap();
    assert!(qr
        .verification_uri_complete
        .starts_with(&format!("{}/pair?v=1&code=", eu.issuer)));

    let png = image::load_from_memory(&qr.png).unwrap().to_luma8();
    let decoded = decode_gray(png.width(), png.height(), png.as_raw());
    assert_eq!(decoded, [qr.verification_uri_complete.as_str()]);

    for (w, h) in [(640, 480), (1280, 720), (480, 640)] {
        let frame = mfp.camera_frame(w, h);
        assert_eq!((frame.width, frame.height), (w, h));
        assert_eq!(frame.pixels.len(), (w * h) as usize);
        assert_eq!(frame, mfp.camera_frame(w, h), "deterministic");
        // Reading these frames is the phone's job: the core's scanner is tested on them end to
        // end (tests/e2e/tests/printer_screen.rs). Plain rqrr misses about one 640x480 view in
        // thirty, depending on the code shown, so it only checks the clean render here.
        // Not a clean render: noise and blur leave many distinct gray levels.
        let mut levels = [false; 256];
        frame.pixels.iter().for_each(|&p| levels[p as usize] = true);
        assert!(levels.iter().filter(|&&l| l).count() > 64);
        let png = image::load_from_memory(&frame.to_png()).unwrap().to_luma8();
        assert_eq!(png.as_raw(), &frame.pixels);
    }

    // Once logged in the screen shows no code.
    let alice = access(&sign_in(eu, ALICE).await);
    decide_on_screen_code(eu, mfp, &alice, "approve").await;
    cloud.clock().advance(Duration::from_secs(5));
    mfp.wait_for_state(MfpState::is_session_open, WAIT)
        .await
        .unwrap();
    let blank = mfp.camera_frame(640, 480);
    assert!(decode_gray(640, 480, &blank.pixels).is_empty());
    cloud.shutdown().await;
}

#[tokio::test]
async fn sessions_end_from_the_mfp_and_from_the_phone() {
    let cloud = world(|_| {}, 600).await;
    let eu = cloud.region("eu").unwrap();
    let mfp = mfp(&cloud);
    let alice = access(&sign_in(eu, ALICE).await);

    log_in_at_mfp(eu, mfp, &alice).await;
    mfp.end().await.unwrap();
    assert!(eu.active_session(ALICE.0).is_none());
    let (status, _) = api(eu, "GET", "/api/v1/session", &alice, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    mfp.wait_for_new_qr(None, WAIT).await.unwrap();
    assert!(matches!(
        mfp.end().await,
        Err(roger_sim::mfp::MfpError::NoSession)
    ));

    // The phone ends the next session: the MFP notices its tokens are gone, shows a new code.
    log_in_at_mfp(eu, mfp, &alice).await;
    let (status, _) = api(eu, "DELETE", "/api/v1/session", &alice, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    mfp.wait_for(|s| s.qr.is_some() && s.stats.sessions_ended == 2, WAIT)
        .await
        .unwrap();
    assert_eq!(mfp.stats().sessions_opened, 2);
    cloud.shutdown().await;
}

#[tokio::test]
async fn tokens_refresh_as_they_expire_and_the_printer_is_disconnected_after_90_idle_days() {
    let mut config = SimConfig::default();
    config.lifetimes.device_code_secs = 600;
    config.lifetimes.access_token_secs = 20 * 60;
    config.mfps = vec![MfpConfig::for_printer(PRINTER).fast()];
    let cloud = start_with(config).await;
    let eu = cloud.region("eu").unwrap();
    let mfp = mfp(&cloud);
    let alice = sign_in(eu, ALICE).await;
    log_in_at_mfp(eu, mfp, &access(&alice)).await;

    // In a session the MFP does not move the clock; the test does. Both token families
    // (step 1 and step 2) are refreshed, and the session goes on.
    cloud.clock().advance(Duration::from_secs(25 * 60));
    mfp.wait_for(|s| s.stats.refreshes >= 2, WAIT)
        .await
        .unwrap();
    assert!(mfp.state().is_session_open());
    let refreshes = eu.stats().refresh_requests();
    assert!(refreshes >= 2, "{refreshes}");

    // 91 days without use: the sliding refresh tokens have expired, the printer is
    // disconnected and shows a code again.
    cloud.clock().advance(Duration::from_secs(91 * 24 * 3600));
    mfp.wait_for(|s| s.qr.is_some() && s.stats.sessions_ended == 1, WAIT)
        .await
        .unwrap();
    cloud.shutdown().await;
}

#[tokio::test]
async fn wrong_client_secret_is_a_visible_failure() {
    let cloud = world(|m| m.client_secret = "not-the-secret".into(), 600).await;
    let state = mfp(&cloud)
        .wait_for_state(|s| matches!(s, MfpState::Failed { .. }), WAIT)
        .await
        .unwrap();
    let MfpState::Failed { reason } = state else {
        unreachable!()
    };
    assert!(reason.contains("invalid_client"), "{reason}");
    assert!(!reason.contains("not-the-secret"));
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_standalone_mfp_against_a_region() {
    let mut config = SimConfig::default();
    config.mfps.clear();
    config.lifetimes.device_code_secs = 600;
    let cloud = start_with(config).await;
    let eu = cloud.region("eu").unwrap();
    assert!(cloud.mfp(PRINTER).is_none());
    let mut mfp_config = MfpConfig::for_printer("contoso-floor2").fast();
    mfp_config.clock = Some(cloud.clock().clone());
    let mfp = MfpHandle::start(eu.api_url.clone(), mfp_config).unwrap();
    let qr = mfp.wait_for_new_qr(None, WAIT).await.unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let (status, lookup) = api(
        eu,
        "GET",
        &format!("/api/v1/pairings/{}", qr.user_code),
        &alice,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lookup["printer"]["id"], "contoso-floor2");
    mfp.stop();
    cloud.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Printing and scanning against a minimal storage server (pre-authenticated download and
// Graph-style upload-session URLs).

#[derive(Default)]
struct Storage {
    files: BTreeMap<String, Vec<u8>>,
    uploads: BTreeMap<String, Upload>,
}

#[derive(Default)]
struct Upload {
    total: Option<usize>,
    bytes: Vec<u8>,
    fragments: Vec<(usize, usize)>,
    /// Fail the fragment with this index once (503), to exercise resumption.
    fail_fragment: Option<usize>,
    done: bool,
}

type Shared = Arc<Mutex<Storage>>;

async fn start_storage() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route("/files/{name}", get(download))
        .route("/redirect/{name}", get(redirect))
        .route("/upload/{id}", get(upload_status).put(upload_fragment))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, shared)
}

async fn download(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    assert!(
        headers.get(header::AUTHORIZATION).is_none(),
        "pre-authenticated URLs get no Authorization header"
    );
    match shared.lock().unwrap().files.get(&name) {
        Some(bytes) => bytes.clone().into_response(),
        None => AxumStatus::NOT_FOUND.into_response(),
    }
}

async fn redirect(Path(name): Path<String>) -> Response {
    (
        AxumStatus::FOUND,
        [(header::LOCATION, format!("/files/{name}"))],
    )
        .into_response()
}

fn ranges(upload: &Upload) -> Value {
    json!({ "expirationDateTime": "2099-01-01T00:00:00Z",
            "nextExpectedRanges": [format!("{}-", upload.bytes.len())] })
}

async fn upload_status(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    match shared.lock().unwrap().uploads.get(&id) {
        Some(u) if !u.done => axum::Json(ranges(u)).into_response(),
        _ => AxumStatus::NOT_FOUND.into_response(),
    }
}

async fn upload_fragment(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut storage = shared.lock().unwrap();
    let Some(upload) = storage.uploads.get_mut(&id).filter(|u| !u.done) else {
        return AxumStatus::NOT_FOUND.into_response();
    };
    assert!(headers.get(header::AUTHORIZATION).is_none());
    let range = headers[header::CONTENT_RANGE].to_str().unwrap();
    let (span, total) = range
        .strip_prefix("bytes ")
        .unwrap()
        .split_once('/')
        .unwrap();
    let (start, end) = span.split_once('-').unwrap();
    let (start, end, total): (usize, usize, usize) = (
        start.parse().unwrap(),
        end.parse().unwrap(),
        total.parse().unwrap(),
    );
    assert_eq!(body.len(), end - start + 1);
    assert_eq!(*upload.total.get_or_insert(total), total);
    if upload.fail_fragment == Some(upload.fragments.len()) {
        upload.fail_fragment = None;
        return AxumStatus::SERVICE_UNAVAILABLE.into_response();
    }
    if start != upload.bytes.len() {
        return AxumStatus::RANGE_NOT_SATISFIABLE.into_response();
    }
    upload.bytes.extend_from_slice(&body);
    upload.fragments.push((start, end));
    if upload.bytes.len() == total {
        upload.done = true;
        (
            AxumStatus::CREATED,
            axum::Json(json!({ "id": "item-1", "name": "Scan 1.pdf", "size": total })),
        )
            .into_response()
    } else {
        (AxumStatus::ACCEPTED, axum::Json(ranges(upload))).into_response()
    }
}

fn test_document(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0])
        .collect()
}

#[tokio::test]
async fn released_jobs_are_downloaded_checked_and_printed() {
    let (storage_url, storage) = start_storage().await;
    let document = test_document(700_000);
    storage
        .lock()
        .unwrap()
        .files
        .insert("report.pdf".into(), document.clone());
    let cloud = world(|_| {}, 600).await;
    let eu = cloud.region("eu").unwrap();
    let mfp = mfp(&cloud);
    let alice = access(&sign_in(eu, ALICE).await);
    log_in_at_mfp(eu, mfp, &alice).await;

    let mut job_ids = Vec::new();
    for (name, url, size) in [
        // Straight from the content host, and through one redirect.
        (
            "Report Q3.pdf",
            format!("{storage_url}/files/report.pdf"),
            document.len(),
        ),
        (
            "Via redirect.pdf",
            format!("{storage_url}/redirect/report.pdf"),
            document.len(),
        ),
        // The job announces another size than the file has: refused.
        (
            "Wrong size.pdf",
            format!("{storage_url}/files/report.pdf"),
            1234,
        ),
        // Gone from storage.
        (
            "Missing.pdf",
            format!("{storage_url}/files/missing.pdf"),
            10,
        ),
    ] {
        let body = json!({ "fileName": name, "size": size, "contentType": "application/pdf",
                           "downloadUrl": url, "options": { "copies": 2 } });
        let (status, job) = api(eu, "POST", "/api/v1/jobs", &alice, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{job}");
        job_ids.push(job["id"].as_str().unwrap().to_string());
    }
    let (status, body) = api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(json!({ "jobIds": job_ids, "clientRequestId": "release-1" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The printer takes released jobs in the order the server lists them.
    let mut printed = mfp.wait_printed(2, WAIT).await.unwrap();
    printed.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    for (job, name) in printed.iter().zip(["Report Q3.pdf", "Via redirect.pdf"]) {
        assert_eq!(job.file_name, name);
        assert_eq!(job.size, document.len() as u64);
        assert_eq!(job.sha256, sha256(&document));
        assert_eq!(job.copies, 2);
    }
    let failures = mfp
        .wait_for(|s| s.failures.len() == 2, WAIT)
        .await
        .unwrap()
        .failures;
    let reason = |id: &str| {
        let failure = failures.iter().find(|f| f.id == id).expect("reported");
        assert_eq!(failure.kind, "job");
        failure.reason.clone()
    };
    assert!(
        reason(&job_ids[2]).contains("size mismatch"),
        "{failures:?}"
    );
    assert!(reason(&job_ids[3]).contains("HTTP 404"), "{failures:?}");
    for (id, state) in job_ids
        .iter()
        .zip(["printed", "printed", "failed", "failed"])
    {
        let (_, job) = api(eu, "GET", &format!("/api/v1/jobs/{id}"), &alice, None).await;
        assert_eq!(job["state"], state, "{job}");
    }
    cloud.shutdown().await;
}

#[tokio::test]
async fn scans_are_uploaded_in_fragments_and_resumed_after_a_failure() {
    let (storage_url, storage) = start_storage().await;
    storage.lock().unwrap().uploads.insert(
        "session-1".into(),
        Upload {
            fail_fragment: Some(2),
            ..Upload::default()
        },
    );
    let cloud = world(|_| {}, 600).await;
    let eu = cloud.region("eu").unwrap();
    let mfp = mfp(&cloud);
    let alice = access(&sign_in(eu, ALICE).await);
    log_in_at_mfp(eu, mfp, &alice).await;

    let body = json!({ "profileId": "document-pdf",
                       "uploadUrl": format!("{storage_url}/upload/session-1"),
                       "fileName": "Scan.pdf" });
    let (status, scan_request) = api(eu, "POST", "/api/v1/scans", &alice, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{scan_request}");
    let scan_id = scan_request["id"].as_str().unwrap();

    let uploaded = mfp.wait_uploaded(1, WAIT).await.unwrap();
    let upload = &uploaded[0];
    assert_eq!(upload.scan_id, scan_id);
    assert_eq!(upload.file_name, "Scan 1.pdf", "the drive item's name");
    assert_eq!(upload.resumes, 1);

    let stored = storage.lock().unwrap().uploads.remove("session-1").unwrap();
    assert!(stored.done);
    // The generated PDF, reassembled exactly from several fragments.
    let expected = scan::generate_pdf(&MfpConfig::for_printer(PRINTER).scan, scan_id, PRINTER);
    assert_eq!(stored.bytes, expected);
    assert_eq!(sha256(&stored.bytes), upload.sha256);
    assert_eq!(upload.size, expected.len() as u64);
    assert!(stored.fragments.len() >= 4, "{:?}", stored.fragments);
    assert_eq!(upload.chunks as usize, stored.fragments.len());
    let (last, rest) = stored.fragments.split_last().unwrap();
    for (start, end) in rest {
        assert_eq!((end - start + 1) % UPLOAD_FRAGMENT_UNIT, 0);
    }
    assert_eq!(last.1 + 1, expected.len());

    let (_, scan_now) = api(eu, "GET", &format!("/api/v1/scans/{scan_id}"), &alice, None).await;
    assert_eq!(scan_now["state"], "uploaded");
    cloud.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Printing from and scanning into the emulated OneDrive (Microsoft identity + Graph emulator).

/// The phone's Microsoft sign-in (authorization code + PKCE through the scripted browser): a
/// Graph access token with the app's scopes.
async fn graph_token(cloud: &CloudHandle, user: (&str, &str)) -> String {
    use roger_sim::config::{MICROSOFT_APP_REDIRECT_URI, MICROSOFT_CLIENT_ID};
    let (verifier, challenge) = pkce();
    let endpoint = |path: &str| {
        cloud
            .identity_url
            .join(&format!("organizations/oauth2/v2.0/{path}"))
            .unwrap()
    };
    let mut authorize = endpoint("authorize");
    authorize
        .query_pairs_mut()
        .append_pair("client_id", MICROSOFT_CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", MICROSOFT_APP_REDIRECT_URI)
        .append_pair("scope", "Files.ReadWrite offline_access User.Read")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "st-mfp");
    let redirect = cloud
        .identity()
        .browser_login(&authorize, user.0, user.1)
        .expect("Microsoft login");
    let code = query_param(&redirect, "code").expect("code");
    let response = http()
        .post(endpoint("token"))
        .form(&[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", MICROSOFT_APP_REDIRECT_URI),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    access(&response.json().await.unwrap())
}

/// A Graph call as the phone makes it: `(status, JSON body)`.
async fn graph(
    cloud: &CloudHandle,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http()
        .request(method, cloud.graph_url.join(path).unwrap())
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn prints_a_onedrive_file_from_its_graph_download_url() {
    let cloud = world(|_| {}, 600).await;
    let eu = cloud.region("eu").unwrap();
    let mfp = mfp(&cloud);
    let document = test_document(900_000);
    cloud
        .graph()
        .put_file(ALICE.0, "Print/Report Q3.pdf", document.clone())
        .unwrap();

    // The phone picks the file in "Print": Graph gives its pre-authenticated download URL.
    let graph_token = graph_token(&cloud, ALICE).await;
    let (status, item) = graph(
        &cloud,
        &graph_token,
        reqwest::Method::GET,
        "me/drive/root:/Print/Report%20Q3.pdf",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{item}");
    let download_url = item["@microsoft.graph.downloadUrl"].as_str().unwrap();

    let alice = access(&sign_in(eu, ALICE).await);
    log_in_at_mfp(eu, mfp, &alice).await;
    let body = json!({ "fileName": item["name"], "size": item["size"],
                       "contentType": "application/pdf", "downloadUrl": download_url });
    let (status, job) = api(eu, "POST", "/api/v1/jobs", &alice, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let job_id = job["id"].as_str().unwrap();
    let release = json!({ "jobIds": [job_id], "clientRequestId": "release-graph" });
    let (status, body) = api(eu, "POST", "/api/v1/jobs/release", &alice, Some(release)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let printed = mfp.wait_printed(1, WAIT).await.unwrap();
    let onedrive = cloud
        .graph()
        .file_bytes(ALICE.0, "Print/Report Q3.pdf")
        .unwrap();
    assert_eq!(printed[0].job_id, job_id);
    assert_eq!(printed[0].file_name, "Report Q3.pdf");
    assert_eq!(printed[0].size, onedrive.len() as u64);
    assert_eq!(printed[0].sha256, sha256(&onedrive));
    assert_eq!(
        cloud
            .graph()
            .stats()
            .authorization_headers_on_content_host(),
        0,
        "the MFP never sends a bearer token to the content host"
    );
    let (_, job) = api(eu, "GET", &format!("/api/v1/jobs/{job_id}"), &alice, None).await;
    assert_eq!(job["state"], "printed");
    cloud.shutdown().await;
}

#[tokio::test]
async fn scans_into_onedrive_in_fragments_and_resumes_after_a_dropped_connection() {
    let cloud = world(|_| {}, 600).await;
    let eu = cloud.region("eu").unwrap();
    let mfp = mfp(&cloud);
    // A file of the same name is already there: the upload session renames.
    cloud
        .graph()
        .put_file(ALICE.0, "Scan/Scan.pdf", b"an earlier scan".to_vec())
        .unwrap();

    // The phone creates the upload session in "Scan" (conflict behaviour rename).
    let graph_token = graph_token(&cloud, ALICE).await;
    let (status, session) = graph(
        &cloud,
        &graph_token,
        reqwest::Method::POST,
        "me/drive/root:/Scan/Scan.pdf:/createUploadSession",
        Some(json!({ "item": { "@microsoft.graph.conflictBehavior": "rename" } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let upload_url = session["uploadUrl"].as_str().unwrap();

    let alice = access(&sign_in(eu, ALICE).await);
    log_in_at_mfp(eu, mfp, &alice).await;
    // The connection carrying the third fragment drops mid-way.
    cloud
        .graph()
        .faults()
        .drop_upload_connection_after(2 * UPLOAD_FRAGMENT_UNIT as u64 + 1000);
    let body = json!({ "profileId": "document-pdf", "uploadUrl": upload_url,
                       "fileName": "Scan.pdf" });
    let (status, scan_request) = api(eu, "POST", "/api/v1/scans", &alice, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{scan_request}");
    let scan_id = scan_request["id"].as_str().unwrap();

    let uploaded = mfp.wait_uploaded(1, WAIT).await.unwrap();
    let upload = &uploaded[0];
    assert_eq!(upload.scan_id, scan_id);
    assert_eq!(
        upload.file_name, "Scan 1.pdf",
        "renamed by the upload session"
    );
    assert_eq!(upload.resumes, 1);
    assert_eq!(cloud.graph().stats().dropped_connections(), 1);
    let expected = scan::generate_pdf(&MfpConfig::for_printer(PRINTER).scan, scan_id, PRINTER);
    // Six fragments: five of 320 KiB and a shorter last one.
    assert_eq!(
        upload.chunks as usize,
        expected.len().div_ceil(UPLOAD_FRAGMENT_UNIT)
    );
    let onedrive = cloud
        .graph()
        .file_bytes(ALICE.0, "Scan/Scan 1.pdf")
        .expect("the scan is in OneDrive");
    assert_eq!(onedrive, expected, "reassembled exactly");
    assert_eq!(sha256(&onedrive), upload.sha256);
    assert_eq!(
        cloud.graph().file_bytes(ALICE.0, "Scan/Scan.pdf").unwrap(),
        b"an earlier scan"
    );
    assert_eq!(
        cloud
            .graph()
            .stats()
            .authorization_headers_on_content_host(),
        0
    );
    let (_, scan_now) = api(eu, "GET", &format!("/api/v1/scans/{scan_id}"), &alice, None).await;
    assert_eq!(scan_now["state"], "uploaded");
    cloud.shutdown().await;
}
