//! Jobs: create, list, validation, release (idempotent), cancel, printer-side transitions, expiry.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn create_list_get_and_validate() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let response = api_raw(
        eu,
        "POST",
        "/api/v1/jobs",
        &alice,
        Some(job_body("Report Q3.pdf")),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let job: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/jobs/{}", job["id"].as_str().unwrap())
    );
    assert_eq!(job["state"], "waiting");
    assert_eq!(job["fileName"], "Report Q3.pdf");
    assert_eq!(
        job["options"],
        json!({"copies": 2, "duplex": "longEdge", "color": true, "pageRanges": "1-3,5"})
    );
    assert!(
        job.get("downloadUrl").is_none(),
        "the user API never echoes the URL"
    );
    create_job(eu, &alice, "second.pdf").await;

    let (_, list) = api(eu, "GET", "/api/v1/jobs", &alice, None).await;
    let names: Vec<&str> = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["fileName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    let (_, waiting) = api(eu, "GET", "/api/v1/jobs?state=waiting", &alice, None).await;
    assert_eq!(waiting["jobs"].as_array().unwrap().len(), 2);
    let (status, _) = api(eu, "GET", "/api/v1/jobs?state=nonsense", &alice, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, got) = api(eu, "GET", &location, &alice, None).await;
    assert_eq!((status, &got["id"]), (StatusCode::OK, &job["id"]));

    // Bob sees none of them.
    let bob = access(&sign_in(eu, BOB).await);
    let (_, list) = api(eu, "GET", "/api/v1/jobs", &bob, None).await;
    assert!(list["jobs"].as_array().unwrap().is_empty());
    let (status, body) = api(eu, "GET", &location, &bob, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "job_not_found")
    );

    let defaults = json!({"fileName": "a.pdf", "size": 1, "contentType": "application/pdf", "downloadUrl": "https://x.example/a"});
    let (status, job) = api(eu, "POST", "/api/v1/jobs", &alice, Some(defaults.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        job["options"],
        json!({"copies": 1, "duplex": "none", "color": false})
    );

    let mut bad_cases = vec![];
    for (field, value) in [
        ("fileName", json!("")),
        ("fileName", json!("../../etc/passwd")),
        ("fileName", json!("x".repeat(300))),
        ("size", json!(0)),
        ("size", json!(-1)),
        ("contentType", json!("pdf")),
        ("downloadUrl", json!("http://files.example/a")),
        ("downloadUrl", json!("ftp://x.example/a")),
        ("options", json!({"copies": 0})),
        ("options", json!({"copies": 1000})),
        ("options", json!({"duplex": "sideways"})),
        ("options", json!({"pageRanges": "3-1"})),
        ("options", json!({"pageRanges": "0"})),
        ("options", json!({"staple": true})),
        ("unexpected", json!(1)),
    ] {
        let mut body = defaults.clone();
        body[field] = value.clone();
        let (status, response) = api(eu, "POST", "/api/v1/jobs", &alice, Some(body)).await;
        if status != StatusCode::BAD_REQUEST || error_code(&response) != "invalid_request" {
            bad_cases.push(format!("{field}={value}: {status} {response}"));
        }
    }
    assert!(bad_cases.is_empty(), "{bad_cases:#?}");
    cloud.shutdown().await;
}

#[tokio::test]
async fn release_needs_a_session_and_is_idempotent() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let a = create_job(eu, &alice, "a.pdf").await;
    let b = create_job(eu, &alice, "b.pdf").await;
    let c = create_job(eu, &alice, "c.pdf").await;
    let release =
        |ids: Vec<&str>, request: &str| json!({"jobIds": ids, "clientRequestId": request});

    let (status, body) = api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(release(vec![&a], "r-1")),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "no_active_session")
    );

    let (step1, _) = printer_login(eu, RECEPTION, &alice).await;
    let (status, first) = api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(release(vec![&a, &b], "r-1")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["printerId"], "contoso-reception");
    assert_eq!(first["sessionId"], step1["roger_session_id"]);
    assert!(first["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["state"] == "releasing"));

    // The same request again (ids in another order): the same answer, nothing released twice.
    let (status, replay) = api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(release(vec![&b, &a], "r-1")),
    )
    .await;
    assert_eq!((status, &replay), (StatusCode::OK, &first));
    let (_, printer_jobs) = api(eu, "GET", "/api/v1/printer/jobs", &access(&step1), None).await;
    assert_eq!(printer_jobs["jobs"].as_array().unwrap().len(), 2);

    // Same id, other jobs: conflict. A new id for an already released job: not releasable.
    let (status, body) = api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(release(vec![&c], "r-1")),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "idempotency_conflict")
    );
    let (status, body) = api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(release(vec![&a], "r-2")),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "job_not_releasable")
    );
    let (status, body) = api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(release(vec!["job_nope"], "r-3")),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "job_not_found")
    );
    for bad in [
        release(vec![], "r-4"),
        release(vec![&c], ""),
        release(vec![&c], &"x".repeat(65)),
        json!({"jobIds": [c]}),
    ] {
        let (status, _) = api(eu, "POST", "/api/v1/jobs/release", &alice, Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    // The printer may release for its user too (MFP "print all").
    let (status, body) = api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &access(&step1),
        Some(release(vec![&c], "mfp-1")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    cloud.shutdown().await;
}

#[tokio::test]
async fn printer_side_transitions_and_cancel() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let (step1, _) = printer_login(eu, RECEPTION, &alice).await;
    let printer = access(&step1);
    let a = create_job(eu, &alice, "a.pdf").await;
    let b = create_job(eu, &alice, "b.pdf").await;
    let c = create_job(eu, &alice, "c.pdf").await;
    let (status, _) = api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(json!({"jobIds": [a, b], "clientRequestId": "r"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, list) = api(eu, "GET", "/api/v1/printer/jobs", &printer, None).await;
    assert_eq!(status, StatusCode::OK);
    let job = &list["jobs"][0];
    assert_eq!(
        job["downloadUrl"],
        "https://files.example/download?sig=pre-authenticated"
    );
    assert_eq!(job["contentType"], "application/pdf");
    assert_eq!(job["size"], 12345);

    let status_of = |id: &str, state: &str| {
        (
            format!("/api/v1/printer/jobs/{id}/status"),
            json!({"state": state}),
        )
    };
    let (path, body) = status_of(&a, "printed");
    let (status, response) = api(eu, "POST", &path, &printer, Some(body)).await;
    assert_eq!(
        (status, error_code(&response)),
        (StatusCode::CONFLICT, "invalid_state_transition"),
        "releasing → printed skips printing"
    );
    for state in ["printing", "printed"] {
        let (path, body) = status_of(&a, state);
        let (status, response) = api(eu, "POST", &path, &printer, Some(body)).await;
        assert_eq!(
            (status, response["state"].as_str()),
            (StatusCode::OK, Some(state))
        );
    }
    let (path, body) = status_of(&a, "printing");
    assert_eq!(
        api(eu, "POST", &path, &printer, Some(body)).await.0,
        StatusCode::CONFLICT
    );
    let (status, failed) = api(
        eu,
        "POST",
        &format!("/api/v1/printer/jobs/{b}/status"),
        &printer,
        Some(json!({"state": "failed", "reason": "paper jam"})),
    )
    .await;
    assert_eq!(
        (status, failed["failureReason"].as_str()),
        (StatusCode::OK, Some("paper jam"))
    );
    // A job not released to this printer is not its business; users cannot use printer endpoints.
    let (path, body) = status_of(&c, "printing");
    assert_eq!(
        api(eu, "POST", &path, &printer, Some(body.clone())).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, response) = api(eu, "POST", &path, &alice, Some(body)).await;
    assert_eq!(
        (status, error_code(&response)),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );

    // Cancel: waiting → cancelled (twice is fine); printed cannot be cancelled.
    let (status, cancelled) = api(
        eu,
        "POST",
        &format!("/api/v1/jobs/{c}/cancel"),
        &alice,
        None,
    )
    .await;
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    assert_eq!(
        api(
            eu,
            "POST",
            &format!("/api/v1/jobs/{c}/cancel"),
            &alice,
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    let (status, body) = api(
        eu,
        "POST",
        &format!("/api/v1/jobs/{a}/cancel"),
        &alice,
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "invalid_state_transition")
    );
    // Final jobs keep their file name but drop the transfer data.
    let (_, printed) = api(eu, "GET", &format!("/api/v1/jobs/{a}"), &alice, None).await;
    assert_eq!(
        (printed["state"].as_str(), printed["fileName"].as_str()),
        (Some("printed"), Some("a.pdf"))
    );
    assert!(printed["size"].is_null());
    cloud.shutdown().await;
}

#[tokio::test]
async fn ending_the_session_returns_unstarted_jobs_to_the_queue() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let (step1, _) = printer_login(eu, RECEPTION, &alice).await;
    let a = create_job(eu, &alice, "a.pdf").await;
    api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(json!({"jobIds": [a], "clientRequestId": "r"})),
    )
    .await;
    // The printer logs the user out itself.
    assert_eq!(
        api(eu, "DELETE", "/api/v1/session", &access(&step1), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, job) = api(eu, "GET", &format!("/api/v1/jobs/{a}"), &alice, None).await;
    assert_eq!(job["state"], "waiting");
    assert!(job["printerId"].is_null());
    cloud.shutdown().await;
}

#[tokio::test]
async fn waiting_jobs_expire() {
    let mut config = roger_sim::SimConfig::default();
    config.lifetimes.access_token_secs = 30 * 24 * 3600;
    let cloud = start_with(config).await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let a = create_job(eu, &alice, "old.pdf").await;
    cloud.clock().advance(Duration::from_secs(6 * 24 * 3600));
    let (_, job) = api(eu, "GET", &format!("/api/v1/jobs/{a}"), &alice, None).await;
    assert_eq!(job["state"], "waiting");
    cloud.clock().advance(Duration::from_secs(24 * 3600));
    let (_, job) = api(eu, "GET", &format!("/api/v1/jobs/{a}"), &alice, None).await;
    assert_eq!(job["state"], "expired");
    let (_, body) = api(
        eu,
        "POST",
        &format!("/api/v1/jobs/{a}/cancel"),
        &alice,
        None,
    )
    .await;
    assert_eq!(error_code(&body), "invalid_state_transition");
    cloud.shutdown().await;
}

#[tokio::test]
async fn open_jobs_are_bounded() {
    let mut config = roger_sim::SimConfig::default();
    config.limits.max_open_jobs_per_user = 2;
    let cloud = start_with(config).await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    create_job(eu, &alice, "1.pdf").await;
    create_job(eu, &alice, "2.pdf").await;
    let (status, body) = api(eu, "POST", "/api/v1/jobs", &alice, Some(job_body("3.pdf"))).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "quota_exceeded")
    );
    cloud.shutdown().await;
}
