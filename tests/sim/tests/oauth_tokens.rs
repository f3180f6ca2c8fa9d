//! Password grant, refresh rotation and reuse detection, sliding expiry, revocation, client
//! authentication and form errors at the token endpoint.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use roger_sim::config::PUBLIC_CLIENT_ID;
use roger_sim::SimConfig;
use serde_json::Value;

async fn password(region: &roger_sim::RegionHandle, user: (&str, &str)) -> (StatusCode, Value) {
    token(
        region,
        &[
            ("grant_type", "password"),
            ("username", user.0),
            ("password", user.1),
            ("client_id", PUBLIC_CLIENT_ID),
        ],
    )
    .await
}

async fn refresh(region: &roger_sim::RegionHandle, refresh_token: &str) -> (StatusCode, Value) {
    token(
        region,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", PUBLIC_CLIENT_ID),
        ],
    )
    .await
}

fn rt(tokens: &Value) -> &str {
    tokens["refresh_token"].as_str().unwrap()
}

#[tokio::test]
async fn password_grant_only_where_the_tenant_allows_it() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let (status, body) = password(eu, CAROL).await;
    assert_eq!(status, StatusCode::OK, "fabrikam allows it: {body}");
    assert!(body["access_token"].is_string());

    let (status, body) = password(eu, ALICE).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    // The refusal does not depend on the password being right.
    let (_, wrong) = password(eu, (ALICE.0, "nope")).await;
    assert_eq!(wrong["error"], "unauthorized_client");

    let (_, wrong) = password(eu, (CAROL.0, "nope")).await;
    assert_eq!(wrong["error"], "invalid_grant");
    let (_, unknown) = password(eu, ("nobody@unknown.example", "x")).await;
    assert_eq!(unknown["error"], "invalid_grant");
    assert_eq!(eu.stats().password_requests(), 5);
    cloud.shutdown().await;
}

#[tokio::test]
async fn password_grant_switch_is_per_tenant_config() {
    let mut config = SimConfig::default();
    config.tenant_mut("contoso").unwrap().password_grant = true;
    config.tenant_mut("fabrikam").unwrap().password_grant = false;
    let cloud = start_with(config).await;
    let eu = cloud.region("eu").unwrap();
    assert_eq!(password(eu, ALICE).await.0, StatusCode::OK);
    assert_eq!(password(eu, CAROL).await.1["error"], "unauthorized_client");
    cloud.shutdown().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let first = sign_in(eu, ALICE).await;
    let (status, second) = refresh(eu, rt(&first)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(rt(&first), rt(&second), "rotated");
    let (status, third) = refresh(eu, rt(&second)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api(eu, "GET", "/api/v1/printers", &access(&third), None)
            .await
            .0,
        StatusCode::OK
    );

    // An attacker replays the first (rotated) refresh token: the whole family dies.
    let (status, body) = refresh(eu, rt(&first)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        refresh(eu, rt(&third)).await.1["error"],
        "invalid_grant",
        "descendant revoked"
    );
    assert_eq!(
        api(eu, "GET", "/api/v1/printers", &access(&third), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(eu.stats().refresh_requests(), 4);

    // Other sign-ins are untouched.
    let other = sign_in(eu, ALICE).await;
    assert_eq!(refresh(eu, rt(&other)).await.0, StatusCode::OK);
    cloud.shutdown().await;
}

#[tokio::test]
async fn refresh_can_narrow_but_not_widen_scope() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let first = sign_in(eu, ALICE).await;
    let form = |scope: &'static str, token: String| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", token),
            ("scope", scope.to_string()),
            ("client_id", PUBLIC_CLIENT_ID.to_string()),
        ]
    };
    let response = http()
        .post(url(eu, "/oauth/token"))
        .form(&form("print", rt(&first).into()))
        .send()
        .await
        .unwrap();
    let narrowed: Value = response.json().await.unwrap();
    assert_eq!(narrowed["scope"], "print");
    let response = http()
        .post(url(eu, "/oauth/token"))
        .form(&form("print scan", rt(&narrowed).into()))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope");
    cloud.shutdown().await;
}

#[tokio::test]
async fn access_tokens_expire_and_refresh_expiry_slides() {
    let mut config = SimConfig::default();
    config.lifetimes.access_token_secs = 60;
    config.lifetimes.refresh_token_secs = 3600;
    let cloud = start_with(config).await;
    let eu = cloud.region("eu").unwrap();
    let clock = cloud.clock();
    let mut tokens = sign_in(eu, ALICE).await;
    assert_eq!(tokens["expires_in"], 60);

    clock.advance(Duration::from_secs(61));
    let response = api_raw(eu, "GET", "/api/v1/printers", &access(&tokens), None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    // Used every 50 minutes, a one-hour refresh token lives on well past its first hour.
    for _ in 0..4 {
        clock.advance(Duration::from_secs(50 * 60));
        let (status, next) = refresh(eu, rt(&tokens)).await;
        assert_eq!(status, StatusCode::OK, "{next}");
        tokens = next;
    }
    // Idle for longer than its lifetime, it is gone.
    clock.advance(Duration::from_secs(3601));
    assert_eq!(refresh(eu, rt(&tokens)).await.1["error"], "invalid_grant");
    cloud.shutdown().await;
}

#[tokio::test]
async fn revocation() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let tokens = sign_in(eu, ALICE).await;
    let (status, _) = post_form(
        eu,
        "/oauth/revoke",
        &[("token", "never-issued"), ("client_id", PUBLIC_CLIENT_ID)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "unknown tokens: 200");

    // Revoking the access token alone leaves the refresh token usable.
    let (status, _) = post_form(
        eu,
        "/oauth/revoke",
        &[("token", &access(&tokens)), ("client_id", PUBLIC_CLIENT_ID)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api(eu, "GET", "/api/v1/printers", &access(&tokens), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, next) = refresh(eu, rt(&tokens)).await;
    assert_eq!(status, StatusCode::OK);

    // Revoking a refresh token revokes its family, access tokens included.
    let (status, _) = post_form(
        eu,
        "/oauth/revoke",
        &[
            ("token", rt(&next)),
            ("token_type_hint", "refresh_token"),
            ("client_id", PUBLIC_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api(eu, "GET", "/api/v1/printers", &access(&next), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(refresh(eu, rt(&next)).await.1["error"], "invalid_grant");
    assert_eq!(eu.stats().revocation_requests(), 3);

    let (status, body) = post_form(eu, "/oauth/revoke", &[("client_id", PUBLIC_CLIENT_ID)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn tokens_are_bound_to_their_region() {
    let cloud = start().await;
    let (eu, us) = (cloud.region("eu").unwrap(), cloud.region("us").unwrap());
    let tokens = sign_in(eu, ALICE).await;
    assert_eq!(
        api(us, "GET", "/api/v1/printers", &access(&tokens), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(refresh(us, rt(&tokens)).await.1["error"], "invalid_grant");
    cloud.shutdown().await;
}

#[tokio::test]
async fn client_authentication_and_form_errors() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    // Unknown grant type.
    let (status, body) = token(
        eu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", PUBLIC_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    // Wrong printer secret, in the body and with Basic.
    let (status, body) = post_form(
        eu,
        "/oauth/device_authorization",
        &[("client_id", RECEPTION.0), ("client_secret", "wrong")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let response = http()
        .post(url(eu, "/oauth/device_authorization"))
        .basic_auth(RECEPTION.0, Some("wrong"))
        .form(&[("scope", "jobs.release")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    // Basic with the right secret works.
    let response = http()
        .post(url(eu, "/oauth/device_authorization"))
        .basic_auth(RECEPTION.0, Some(RECEPTION.1))
        .form(&[("scope", "jobs.release")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Unknown client, missing client.
    let (status, _) = token(eu, &[("grant_type", "password"), ("client_id", "who")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = token(eu, &[("grant_type", "password")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The public client cannot use the device grant; printers cannot use authorization codes.
    let (_, body) = post_form(
        eu,
        "/oauth/device_authorization",
        &[("client_id", PUBLIC_CLIENT_ID)],
    )
    .await;
    assert_eq!(body["error"], "unauthorized_client");
    let (_, body) = token(
        eu,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", "x"),
            ("code_verifier", "x"),
            ("client_id", RECEPTION.0),
            ("client_secret", RECEPTION.1),
        ],
    )
    .await;
    assert_eq!(body["error"], "unauthorized_client");
    // Repeated parameters, wrong content type, oversized body, unknown scope.
    let response = http()
        .post(url(eu, "/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&grant_type=refresh_token&client_id=roger-mobile")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let response = http()
        .post(url(eu, "/oauth/token"))
        .json(&serde_json::json!({"grant_type": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let big = "x".repeat(100 * 1024);
    let response = http()
        .post(url(eu, "/oauth/token"))
        .form(&[("grant_type", "password"), ("password", &big)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let (_, body) = token(
        eu,
        &[
            ("grant_type", "password"),
            ("username", CAROL.0),
            ("password", CAROL.1),
            ("scope", "print admin"),
            ("client_id", PUBLIC_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_scope");
    cloud.shutdown().await;
}
