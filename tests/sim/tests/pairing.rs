//! The phone's pairing API: lookups, normalisation, tenant checks, rate limit, single use.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use roger_sim::SimConfig;

#[tokio::test]
async fn lookup_shows_what_will_be_authorized_and_codes_normalise() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let device = device_authorization(eu, RECEPTION).await;
    let code = device["user_code"].as_str().unwrap();

    for form in [
        code.to_string(),
        code.to_lowercase(),
        code.replace('-', ""),
        code.replace('-', " ").to_lowercase(),
    ] {
        let path = format!("/api/v1/pairings/{}", form.replace(' ', "%20"));
        let (status, body) = api(eu, "GET", &path, &alice, None).await;
        assert_eq!(status, StatusCode::OK, "{form}: {body}");
        assert_eq!(body["userCode"], code);
        assert_eq!(body["printer"]["id"], "contoso-reception");
        assert_eq!(body["printer"]["name"], "Reception MFP");
        assert!(body["printer"]["location"]
            .as_str()
            .unwrap()
            .contains("reception"));
        assert!(body["printer"]["model"].is_string());
        assert_eq!(body["tenant"]["id"], "contoso");
        assert_eq!(body["tenant"]["name"], "Contoso Ltd");
        assert!(body["clientName"].is_string());
        assert!(body["expiresAt"].as_str().unwrap().ends_with('Z'));
        assert!(body["expiresIn"].as_u64().unwrap() <= 120);
    }
    cloud.shutdown().await;
}

#[tokio::test]
async fn codes_are_single_use_and_expire() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let device = device_authorization(eu, RECEPTION).await;
    let code = device["user_code"].as_str().unwrap();
    let (status, body) = api(
        eu,
        "POST",
        &format!("/api/v1/pairings/{code}/approve"),
        &alice,
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("approved"))
    );
    for path in [
        format!("/api/v1/pairings/{code}/approve"),
        format!("/api/v1/pairings/{code}/deny"),
    ] {
        let (status, body) = api(eu, "POST", &path, &alice, None).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::GONE, "code_already_used")
        );
    }
    let (status, _) = api(eu, "GET", &format!("/api/v1/pairings/{code}"), &alice, None).await;
    assert_eq!(status, StatusCode::GONE);

    let device = device_authorization(eu, RECEPTION).await;
    cloud.clock().advance(Duration::from_secs(121));
    let code = device["user_code"].as_str().unwrap();
    let (status, body) = api(eu, "GET", &format!("/api/v1/pairings/{code}"), &alice, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GONE, "code_expired")
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn another_tenants_printer_is_refused() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let carol = access(&sign_in(eu, CAROL).await);
    let device = device_authorization(eu, RECEPTION).await;
    let code = device["user_code"].as_str().unwrap();
    for (method, path) in [
        ("GET", format!("/api/v1/pairings/{code}")),
        ("POST", format!("/api/v1/pairings/{code}/approve")),
    ] {
        let (status, body) = api(eu, method, &path, &carol, None).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::FORBIDDEN, "tenant_mismatch")
        );
    }
    // Still pending for its own tenant.
    let alice = access(&sign_in(eu, ALICE).await);
    assert_eq!(
        api(eu, "GET", &format!("/api/v1/pairings/{code}"), &alice, None)
            .await
            .0,
        StatusCode::OK
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn wrong_codes_are_rate_limited_per_user() {
    let mut config = SimConfig::default();
    config.rate_limits.pairing_misses = 5;
    config.rate_limits.pairing_window_secs = 60;
    let cloud = start_with(config).await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let bob = access(&sign_in(eu, BOB).await);
    let device = device_authorization(eu, RECEPTION).await;
    let real = device["user_code"].as_str().unwrap();

    let (status, body) = api(eu, "GET", "/api/v1/pairings/AEIOU123", &alice, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_user_code")
    );
    for _ in 0..4 {
        let (status, body) = api(eu, "GET", "/api/v1/pairings/BBBB-BBBB", &alice, None).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "code_not_found")
        );
    }
    let response = api_raw(eu, "GET", &format!("/api/v1/pairings/{real}"), &alice, None).await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right code, once limited"
    );
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "too_many_attempts");

    // Other users are not affected; the limit lifts after the window.
    assert_eq!(
        api(eu, "GET", &format!("/api/v1/pairings/{real}"), &bob, None)
            .await
            .0,
        StatusCode::OK
    );
    cloud.clock().advance(Duration::from_secs(61));
    assert_eq!(
        api(eu, "GET", "/api/v1/pairings/BBBB-BBBB", &alice, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn pairing_needs_the_pair_scope_and_a_user_token() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = sign_in(eu, ALICE).await;
    let (step1, _) = printer_login(eu, RECEPTION, &access(&alice)).await;
    let device = device_authorization(eu, FLOOR2).await;
    let code = device["user_code"].as_str().unwrap();
    let (status, body) = api(
        eu,
        "GET",
        &format!("/api/v1/pairings/{code}"),
        &access(&step1),
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    cloud.shutdown().await;
}
