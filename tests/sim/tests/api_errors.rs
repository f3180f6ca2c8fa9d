//! Bearer-token errors and malformed input at the API: always the protocol's error bodies.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn bearer_errors() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);

    let response = http()
        .get(url(eu, "/api/v1/printers"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"roger\""
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "invalid_token");

    for header in ["Bearer not-a-token", "Basic abc", "Bearer", "Bearer "] {
        let response = http()
            .get(url(eu, "/api/v1/printers"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert!(response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
    }

    // Never in the query string, even a valid one.
    let response = http()
        .get(format!(
            "{}?access_token={alice}",
            url(eu, "/api/v1/printers")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = http()
        .get(format!(
            "{}?access_token={alice}",
            url(eu, "/api/v1/printers")
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // A printer token on a user endpoint: 403 insufficient_scope naming the scope.
    let (step1, _) = printer_login(eu, RECEPTION, &alice).await;
    let response = api_raw(eu, "GET", "/api/v1/printers", &access(&step1), None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("scope=\"print\""),
        "{challenge}"
    );

    // A narrowed user token lacks the pairing scope.
    let tokens = sign_in(eu, ALICE).await;
    let narrowed: Value = http()
        .post(url(eu, "/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("scope", "print"),
            ("client_id", "roger-mobile"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, body) = api(
        eu,
        "GET",
        "/api/v1/pairings/BCDF-GHJK",
        &access(&narrowed),
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_get_4xx_protocol_errors() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let post = |body: &'static str, content_type: &'static str| {
        http()
            .post(url(eu, "/api/v1/jobs"))
            .bearer_auth(&alice)
            .header("content-type", content_type)
            .body(body)
    };
    for (body, content_type, status, code) in [
        (
            "{not json",
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "[]",
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "",
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "{\"fileName\": 5}",
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "fileName=a",
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "{}",
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ] {
        let response = post(body, content_type).send().await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(error_code(&json), code, "{body}");
    }
    let huge = format!("{{\"fileName\": \"{}\"}}", "x".repeat(100 * 1024));
    let response = http()
        .post(url(eu, "/api/v1/jobs"))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        error_code(&response.json::<Value>().await.unwrap()),
        "payload_too_large"
    );

    // Oversized path parameters and ids are refused, not looked up.
    let long = "j".repeat(200);
    let (status, body) = api(eu, "GET", &format!("/api/v1/jobs/{long}"), &alice, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, _) = api(eu, "GET", "/api/v1/jobs/%FF%FE", &alice, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = api(eu, "GET", &format!("/api/v1/pairings/{long}"), &alice, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_user_code")
    );
    // Malformed authorize query: a page, not a crash.
    let response = http()
        .get(format!(
            "{}?client_id=a&client_id=b",
            url(eu, "/oauth/authorize")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    cloud.shutdown().await;
}
