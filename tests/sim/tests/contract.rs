//! What the contract fuzzer (`scripts/contract_fuzz`) found where the server and
//! `docs/openapi.yaml` disagreed, pinned down: the server refuses what the contract forbids
//! (`null` members, repeated parameters, unknown values) and accepts what it allows (integers
//! written `3.0`), and discovery and a region are separate origins.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn regions_are_served_on_the_discovery_origin_only() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let response = http().get(url(eu, "/regions")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "not_found");

    let discovery = cloud.discovery_url.join("regions").unwrap();
    let response = http().get(discovery).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for path in [
        "/api/v1/me",
        "/oauth/token",
        "/.well-known/oauth-authorization-server",
    ] {
        let response = http()
            .get(cloud.discovery_url.join(path).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn null_request_members_are_refused() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let carol = access(&sign_in(eu, CAROL).await);

    let mut nulls = Vec::new();
    for member in ["pageRanges", "media", "copies", "duplex", "color"] {
        let mut body = job_body("a.pdf");
        body["options"][member] = Value::Null;
        nulls.push(("/api/v1/jobs", body));
    }
    let mut body = job_body("a.pdf");
    body["source"] = Value::Null;
    nulls.push(("/api/v1/jobs", body));
    let mut body = job_body("a.pdf");
    body["source"] = json!({ "itemId": "item-1", "driveId": null });
    nulls.push(("/api/v1/jobs", body));
    nulls.push((
        "/api/v1/scans",
        json!({ "profileId": "document-pdf", "uploadUrl": "https://files.example/up", "fileName": null }),
    ));
    for (path, body) in nulls {
        let (status, answer) = api(eu, "POST", path, &carol, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_eq!(error_code(&answer), "invalid_request", "{body}");
    }

    // Left out, the same members are fine.
    let (status, answer) = api(eu, "POST", "/api/v1/jobs", &carol, Some(job_body("a.pdf"))).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn a_null_status_reason_is_refused() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let carol = access(&sign_in(eu, CAROL).await);
    let (step1, _) = printer_login(eu, FABRIKAM, &carol).await;
    let printer = access(&step1);
    let job = create_job(eu, &carol, "a.pdf").await;
    let release = json!({ "jobIds": [job], "clientRequestId": "r-1" });
    let (status, answer) = api(eu, "POST", "/api/v1/jobs/release", &carol, Some(release)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let path = format!("/api/v1/printer/jobs/{job}/status");
    let report = json!({ "state": "printing", "reason": null });
    let (status, answer) = api(eu, "POST", &path, &printer, Some(report)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = api(
        eu,
        "POST",
        &path,
        &printer,
        Some(json!({ "state": "printing" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn integers_may_be_written_with_a_zero_fraction() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let carol = access(&sign_in(eu, CAROL).await);

    let mut body = job_body("a.pdf");
    body["size"] = json!(12345.0);
    body["options"]["copies"] = json!(3.0);
    let (status, answer) = api(eu, "POST", "/api/v1/jobs", &carol, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["size"], 12345);
    assert_eq!(answer["options"]["copies"], 3);

    for (member, value) in [
        ("size", json!(1.5)),
        ("size", json!(-1)),
        ("size", json!(1e300)),
        ("copies", json!(2.5)),
        ("copies", json!(1000.0)),
    ] {
        let mut body = job_body("a.pdf");
        if member == "size" {
            body["size"] = value.clone();
        } else {
            body["options"]["copies"] = value.clone();
        }
        let (status, answer) = api(eu, "POST", "/api/v1/jobs", &carol, Some(body)).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{member}={value}: {answer}"
        );
    }
}

#[tokio::test]
async fn the_pairing_page_refuses_malformed_queries() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    for (query, expected) in [
        ("v=1&code=BCDF-GHJK", StatusCode::OK),
        ("v=1&code=not-a-code", StatusCode::OK),
        ("", StatusCode::OK),
        ("v=1&v=1&code=BCDF-GHJK", StatusCode::BAD_REQUEST),
        ("v=1&code=BCDF-GHJK&code=BCDF-GHJK", StatusCode::BAD_REQUEST),
        ("v=2&code=BCDF-GHJK", StatusCode::BAD_REQUEST),
    ] {
        let response = http()
            .get(url(eu, &format!("/pair?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{query}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
}

#[tokio::test]
async fn an_unknown_login_form_action_is_an_error_redirect() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let (_, challenge) = pkce();
    let redirect = "http://127.0.0.1:53682/callback";
    let form = |action: &'static str| {
        vec![
            ("response_type", "code".to_string()),
            ("client_id", "roger-mobile".to_string()),
            ("redirect_uri", redirect.to_string()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".to_string()),
            ("username", CAROL.0.to_string()),
            ("password", CAROL.1.to_string()),
            ("action", action.to_string()),
        ]
    };
    for (action, error) in [
        ("approve", None),
        ("", None),
        ("deny", Some("access_denied")),
        ("sure", Some("invalid_request")),
    ] {
        let response = http()
            .post(url(eu, "/oauth/authorize"))
            .form(&form(action))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND, "{action}");
        let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(
            query_param(&location, "error").as_deref(),
            error,
            "{action}"
        );
        assert_eq!(
            query_param(&location, "code").is_some(),
            error.is_none(),
            "{action}"
        );
    }
}
