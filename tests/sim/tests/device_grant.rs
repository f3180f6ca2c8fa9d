//! Printer login: device authorization grant (RFC 8628) and step 2 (session credential).

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use roger_sim::SimConfig;
use serde_json::Value;

const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

async fn approve(
    eu: &roger_sim::RegionHandle,
    user_token: &str,
    device: &Value,
    verb: &str,
) -> StatusCode {
    let code = device["user_code"].as_str().unwrap();
    api(
        eu,
        "POST",
        &format!("/api/v1/pairings/{code}/{verb}"),
        user_token,
        None,
    )
    .await
    .0
}

#[tokio::test]
async fn device_authorization_response_shape() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let device = device_authorization(eu, RECEPTION).await;
    let user_code = device["user_code"].as_str().unwrap();
    let (a, b) = user_code.split_once('-').unwrap();
    assert_eq!((a.len(), b.len()), (4, 4));
    assert!(
        format!("{a}{b}").chars().all(|c| ALPHABET.contains(c)),
        "{user_code}"
    );
    assert_eq!(device["verification_uri"], format!("{}/pair", eu.issuer));
    assert_eq!(
        device["verification_uri_complete"],
        format!("{}/pair?v=1&code={user_code}", eu.issuer)
    );
    assert_eq!(device["expires_in"], 120);
    assert_eq!(device["interval"], 5);
    assert!(device["device_code"].as_str().unwrap().len() >= 22);
    // The QR's target exists for a browser without the app.
    let page = http()
        .get(device["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(user_code));
    // Printers may ask only for jobs.release here.
    let (_, body) = post_form(
        eu,
        "/oauth/device_authorization",
        &[
            ("client_id", RECEPTION.0),
            ("client_secret", RECEPTION.1),
            ("scope", "jobs.release scan"),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_scope");
    assert_eq!(eu.stats().device_authorization_requests(), 2);
    cloud.shutdown().await;
}

#[tokio::test]
async fn full_cycle_pending_slow_down_approved_once() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let clock = cloud.clock();
    let alice = access(&sign_in(eu, ALICE).await);
    let device = device_authorization(eu, RECEPTION).await;
    let device_code = device["device_code"].as_str().unwrap();

    let (status, body) = poll(eu, RECEPTION, device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("authorization_pending"))
    );
    // Polling again at once is too fast: slow_down, and the interval grows by 5 s.
    let (_, body) = poll(eu, RECEPTION, device_code).await;
    assert_eq!(body["error"], "slow_down");
    clock.advance(Duration::from_secs(6));
    let (_, body) = poll(eu, RECEPTION, device_code).await;
    assert_eq!(
        body["error"], "slow_down",
        "6 s is too fast once the interval is 10 s"
    );
    clock.advance(Duration::from_secs(16));
    let (_, body) = poll(eu, RECEPTION, device_code).await;
    assert_eq!(body["error"], "authorization_pending");

    assert_eq!(
        approve(eu, &alice, &device, "approve").await,
        StatusCode::OK
    );
    clock.advance(Duration::from_secs(16));
    let (status, tokens) = poll(eu, RECEPTION, device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "jobs.release");
    assert!(tokens["refresh_token"].is_string());
    assert!(tokens["roger_session_id"]
        .as_str()
        .unwrap()
        .starts_with("ses_"));
    assert!(tokens["session_credential"].as_str().unwrap().len() >= 22);
    assert_eq!(tokens["session_credential_expires_in"], 60);
    assert_eq!(
        eu.active_session(ALICE.0).as_deref(),
        tokens["roger_session_id"].as_str()
    );

    clock.advance(Duration::from_secs(16));
    let (_, body) = poll(eu, RECEPTION, device_code).await;
    assert_eq!(
        body["error"], "invalid_grant",
        "device codes are single use"
    );
    assert_eq!(eu.stats().device_code_requests(), 6);

    // The user sees the session; the printer sees it too.
    let (status, session) = api(eu, "GET", "/api/v1/session", &alice, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["printer"]["id"], "contoso-reception");
    assert_eq!(session["rights"], serde_json::json!(["jobs.release"]));
    let (status, _) = api(eu, "GET", "/api/v1/session", &access(&tokens), None).await;
    assert_eq!(status, StatusCode::OK);
    cloud.shutdown().await;
}

#[tokio::test]
async fn expired_and_denied_and_foreign_device_codes() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);

    let expiring = device_authorization(eu, RECEPTION).await;
    cloud.clock().advance(Duration::from_secs(121));
    let (_, body) = poll(eu, RECEPTION, expiring["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "expired_token");
    assert_eq!(
        approve(eu, &alice, &expiring, "approve").await,
        StatusCode::GONE
    );

    let denied = device_authorization(eu, RECEPTION).await;
    assert_eq!(approve(eu, &alice, &denied, "deny").await, StatusCode::OK);
    let (_, body) = poll(eu, RECEPTION, denied["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "access_denied");
    assert!(eu.active_session(ALICE.0).is_none());

    // Another printer cannot redeem this printer's device code.
    let other = device_authorization(eu, RECEPTION).await;
    let (_, body) = poll(eu, FLOOR2, other["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "invalid_grant");
    cloud.shutdown().await;
}

#[tokio::test]
async fn interval_is_configurable() {
    let mut config = SimConfig::default();
    config.lifetimes.device_poll_interval_secs = 1;
    config.lifetimes.device_code_secs = 30;
    let cloud = start_with(config).await;
    let eu = cloud.region("eu").unwrap();
    let device = device_authorization(eu, RECEPTION).await;
    assert_eq!(
        (device["interval"].as_u64(), device["expires_in"].as_u64()),
        (Some(1), Some(30))
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn step2_gives_submit_and_scan_rights_once() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let device = device_authorization(eu, RECEPTION).await;
    assert_eq!(
        approve(eu, &alice, &device, "approve").await,
        StatusCode::OK
    );
    let (_, step1) = poll(eu, RECEPTION, device["device_code"].as_str().unwrap()).await;

    // Step-1 tokens cannot submit jobs or scan.
    let (status, body) = api(
        eu,
        "POST",
        "/api/v1/jobs",
        &access(&step1),
        Some(job_body("a.pdf")),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );

    // The credential belongs to this printer and this session.
    let (_, body) = step2(eu, FLOOR2, &step1).await;
    assert_eq!(body["error"], "invalid_grant", "other printer");
    // That presentation spent it (single use, whoever presents it).
    let (_, body) = step2(eu, RECEPTION, &step1).await;
    assert_eq!(body["error"], "invalid_grant");

    // A fresh login, then the right sequence.
    let device = device_authorization(eu, RECEPTION).await;
    assert_eq!(
        approve(eu, &alice, &device, "approve").await,
        StatusCode::OK
    );
    let (_, step1) = poll(eu, RECEPTION, device["device_code"].as_str().unwrap()).await;
    let mut wrong = step1.clone();
    wrong["session_credential"] = "not-the-credential".into();
    assert_eq!(
        step2(eu, RECEPTION, &wrong).await.1["error"],
        "invalid_grant"
    );
    let (status, tokens) = step2(eu, RECEPTION, &step1).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "jobs.submit scan");
    let (_, again) = step2(eu, RECEPTION, &step1).await;
    assert_eq!(again["error"], "invalid_grant", "used credential");

    let (status, _) = api(
        eu,
        "POST",
        "/api/v1/jobs",
        &access(&tokens),
        Some(job_body("from-mfp.pdf")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, session) = api(eu, "GET", "/api/v1/session", &alice, None).await;
    assert_eq!(
        session["rights"],
        serde_json::json!(["jobs.release", "jobs.submit", "scan"])
    );

    // A user name that is not a session is refused; so is a printer using a user's password.
    let (_, body) = token(
        eu,
        &[
            ("grant_type", "password"),
            ("username", ALICE.0),
            ("password", ALICE.1),
            ("client_id", RECEPTION.0),
            ("client_secret", RECEPTION.1),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    cloud.shutdown().await;
}

#[tokio::test]
async fn credential_expires() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let device = device_authorization(eu, RECEPTION).await;
    assert_eq!(
        approve(eu, &alice, &device, "approve").await,
        StatusCode::OK
    );
    let (_, step1) = poll(eu, RECEPTION, device["device_code"].as_str().unwrap()).await;
    cloud.clock().advance(Duration::from_secs(61));
    assert_eq!(
        step2(eu, RECEPTION, &step1).await.1["error"],
        "invalid_grant"
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn one_session_per_user_and_ending_it_revokes_printer_tokens() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let (first1, first2) = printer_login(eu, RECEPTION, &alice).await;
    let (second1, _) = printer_login(eu, FLOOR2, &alice).await;
    assert_ne!(first1["roger_session_id"], second1["roger_session_id"]);
    // The first session ended: its printer tokens no longer work, refresh included.
    for t in [&first1, &first2] {
        assert_eq!(
            api(eu, "GET", "/api/v1/session", &access(t), None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (_, body) = token(
        eu,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first1["refresh_token"].as_str().unwrap()),
            ("client_id", RECEPTION.0),
            ("client_secret", RECEPTION.1),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    let (_, session) = api(eu, "GET", "/api/v1/session", &alice, None).await;
    assert_eq!(session["printer"]["id"], "contoso-floor2");

    // The printer refreshes its session tokens while the session lives.
    let (status, refreshed) = token(
        eu,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second1["refresh_token"].as_str().unwrap()),
            ("client_id", FLOOR2.0),
            ("client_secret", FLOOR2.1),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Bob logging in at the same printer ends Alice's session there.
    let bob = access(&sign_in(eu, BOB).await);
    printer_login(eu, FLOOR2, &bob).await;
    assert!(eu.active_session(ALICE.0).is_none());
    assert_eq!(
        api(eu, "GET", "/api/v1/session", &alice, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api(eu, "GET", "/api/v1/session", &access(&refreshed), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // Bob ends his session from the phone.
    assert_eq!(
        api(eu, "DELETE", "/api/v1/session", &bob, None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = api(eu, "DELETE", "/api/v1/session", &bob, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "no_active_session")
    );
    cloud.shutdown().await;
}
