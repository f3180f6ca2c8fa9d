//! Scan profiles and scan requests carried out by the printer of the session.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

fn scan_body() -> serde_json::Value {
    json!({"profileId": "document-pdf", "uploadUrl": "https://files.example/upload?session=abc", "fileName": "Scan 2026-05-01.pdf"})
}

#[tokio::test]
async fn profiles_are_listed() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let (status, body) = api(eu, "GET", "/api/v1/scan-profiles", &alice, None).await;
    assert_eq!(status, StatusCode::OK);
    let profiles = body["profiles"].as_array().unwrap();
    assert!(profiles
        .iter()
        .any(|p| p["name"] == "Document PDF" && p["format"] == "pdf"));
    assert!(profiles
        .iter()
        .any(|p| p["name"] == "Photo colour" && p["colorMode"] == "color"));
    assert!(profiles
        .iter()
        .all(|p| p["resolutionDpi"].is_u64() && p["duplex"].is_boolean()));
    cloud.shutdown().await;
}

#[tokio::test]
async fn scanning_needs_a_session_with_step2() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let (status, body) = api(eu, "POST", "/api/v1/scans", &alice, Some(scan_body())).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "no_active_session")
    );

    // Step 1 only: the printer may release but not scan.
    let device = device_authorization(eu, RECEPTION).await;
    let code = device["user_code"].as_str().unwrap();
    api(
        eu,
        "POST",
        &format!("/api/v1/pairings/{code}/approve"),
        &alice,
        None,
    )
    .await;
    let (_, step1) = poll(eu, RECEPTION, device["device_code"].as_str().unwrap()).await;
    let (status, body) = api(eu, "POST", "/api/v1/scans", &alice, Some(scan_body())).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "scan_not_authorized")
    );

    let (status, _) = step2(eu, RECEPTION, &step1).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api(
        eu,
        "POST",
        "/api/v1/scans",
        &alice,
        Some(json!({"profileId": "nope", "uploadUrl": "https://x.example/u"})),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "scan_profile_not_found")
    );
    let (status, body) = api(
        eu,
        "POST",
        "/api/v1/scans",
        &alice,
        Some(json!({"profileId": "document-pdf", "uploadUrl": "javascript:alert(1)"})),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, scan) = api(eu, "POST", "/api/v1/scans", &alice, Some(scan_body())).await;
    assert_eq!(status, StatusCode::CREATED, "{scan}");
    assert_eq!(scan["state"], "requested");
    assert!(scan.get("uploadUrl").is_none());
    cloud.shutdown().await;
}

#[tokio::test]
async fn printer_carries_out_the_scan() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let (step1, step2) = printer_login(eu, RECEPTION, &alice).await;
    let (_, scan) = api(eu, "POST", "/api/v1/scans", &alice, Some(scan_body())).await;
    let id = scan["id"].as_str().unwrap();

    // Scans are the step-2 token's business.
    let (status, _) = api(eu, "GET", "/api/v1/printer/scans", &access(&step1), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let printer = access(&step2);
    let (status, list) = api(eu, "GET", "/api/v1/printer/scans", &printer, None).await;
    assert_eq!(status, StatusCode::OK);
    let job = &list["scans"][0];
    assert_eq!(job["uploadUrl"], "https://files.example/upload?session=abc");
    assert_eq!(job["profile"]["id"], "document-pdf");
    assert_eq!(job["fileName"], "Scan 2026-05-01.pdf");

    let report = |state: &str| json!({"state": state});
    let path = format!("/api/v1/printer/scans/{id}/status");
    assert_eq!(
        api(eu, "POST", &path, &printer, Some(report("uploaded")))
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        api(eu, "POST", &path, &printer, Some(report("scanning")))
            .await
            .0,
        StatusCode::OK
    );
    let (status, done) = api(eu, "POST", &path, &printer, Some(report("uploaded"))).await;
    assert_eq!(
        (status, done["state"].as_str()),
        (StatusCode::OK, Some("uploaded"))
    );
    assert_eq!(
        api(eu, "POST", &path, &printer, Some(report("failed")))
            .await
            .0,
        StatusCode::CONFLICT
    );

    let (_, scan) = api(eu, "GET", &format!("/api/v1/scans/{id}"), &alice, None).await;
    assert_eq!(scan["state"], "uploaded");
    assert!(scan["requestedAt"].as_str().unwrap().ends_with('Z'));
    let (_, list) = api(eu, "GET", "/api/v1/printer/scans", &printer, None).await;
    assert!(
        list["scans"].as_array().unwrap().is_empty(),
        "final scans leave the printer's list"
    );
    let (_, mine) = api(eu, "GET", "/api/v1/scans", &alice, None).await;
    assert_eq!(mine["scans"].as_array().unwrap().len(), 1);

    // Ending the session fails scans still open.
    let (_, open) = api(eu, "POST", "/api/v1/scans", &alice, Some(scan_body())).await;
    api(eu, "DELETE", "/api/v1/session", &alice, None).await;
    let (_, open) = api(
        eu,
        "GET",
        &format!("/api/v1/scans/{}", open["id"].as_str().unwrap()),
        &alice,
        None,
    )
    .await;
    assert_eq!(
        (open["state"].as_str(), open["failureReason"].as_str()),
        (Some("failed"), Some("session ended"))
    );
    cloud.shutdown().await;
}
