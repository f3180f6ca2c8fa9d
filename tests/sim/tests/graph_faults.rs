//! Fault switches of the Graph emulator, flipped while a test runs: throttling (429/503 with
//! Retry-After) on both hosts, tiny pages, token expiry. (The dropped connection is in
//! `graph_upload.rs`.)

mod ms_common;

use std::time::Duration;

use ms_common::*;
use reqwest::StatusCode;
use roger_sim::ThrottleStatus;

#[tokio::test]
async fn throttling_answers_429_or_503_with_retry_after() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let faults = cloud.graph().faults();
    faults.throttle_every(2, ThrottleStatus::TooManyRequests, 3);
    let answers: Vec<_> =
        futures::future::join_all((0..4).map(|_| graph(&cloud, &token, "GET", "me", None))).await;
    let throttled: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(throttled.len(), 2);
    for answer in throttled {
        assert_eq!(answer.header("retry-after"), Some("3"));
        assert_eq!(answer.code(), "activityLimitReached");
        assert_eq!(answer.inner_code(), "throttledRequest");
    }

    faults.throttle_every(1, ThrottleStatus::ServiceUnavailable, 7);
    let answer = graph(&cloud, &token, "GET", "me/drive/root", None).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "serviceNotAvailable")
    );
    assert_eq!(answer.header("retry-after"), Some("7"));
    // The content host is throttled too, and a throttled upload keeps the session intact.
    faults.stop_throttling();
    let url = graph(
        &cloud,
        &token,
        "POST",
        "me/drive/root:/t.bin:/createUploadSession",
        None,
    )
    .await
    .body["uploadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    faults.throttle_every(1, ThrottleStatus::ServiceUnavailable, 1);
    let refused = put_fragment(&url, &bytes(KIB320), 0, KIB320 + 1).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    faults.stop_throttling();
    assert_eq!(
        put_fragment(&url, &bytes(KIB320), 0, KIB320 + 1)
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        graph(&cloud, &token, "GET", "me", None).await.status,
        StatusCode::OK
    );
    assert_eq!(cloud.graph().stats().throttled_responses(), 4);
    cloud.shutdown().await;
}

#[tokio::test]
async fn tiny_pages_override_top() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    for i in 0..5 {
        cloud
            .graph()
            .put_file(ALICE.0, &format!("Print/{i}.pdf"), b"x".to_vec())
            .unwrap();
    }
    cloud.graph().faults().page_size_override(2);
    let mut url = format!("{}me/drive/root:/Print:/children?$top=100", cloud.graph_url);
    let mut sizes = Vec::new();
    loop {
        let page = graph_url(&token, "GET", &url, None).await;
        sizes.push(page.body["value"].as_array().unwrap().len());
        match page.body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    cloud.graph().faults().clear_page_size_override();
    let all = graph(
        &cloud,
        &token,
        "GET",
        "me/drive/root:/Print:/children",
        None,
    )
    .await;
    assert_eq!(all.body["value"].as_array().unwrap().len(), 5);
    cloud.shutdown().await;
}

#[tokio::test]
async fn tokens_expire_on_demand_and_a_refresh_recovers() {
    let cloud = start().await;
    let tokens = sign_in_with(&cloud, ALICE, SCOPES).await;
    assert_eq!(
        graph(&cloud, &access(&tokens), "GET", "me", None)
            .await
            .status,
        StatusCode::OK
    );
    cloud.graph().faults().expire_tokens_now();
    let expired = graph(&cloud, &access(&tokens), "GET", "me/drive", None).await;
    assert_eq!(
        (expired.status, expired.code()),
        (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken")
    );
    assert_eq!(
        expired.body["error"]["message"],
        "Lifetime validation failed, the token is expired."
    );
    let (status, fresh) = refresh(&cloud, &rt(&tokens)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        graph(&cloud, &access(&fresh), "GET", "me/drive", None)
            .await
            .status,
        StatusCode::OK
    );

    // Short-lived tokens from now on.
    cloud.graph().faults().access_token_lifetime(Some(5));
    let (_, short) = refresh(&cloud, &rt(&fresh)).await;
    assert_eq!(short["expires_in"], 5);
    cloud.clock().advance(Duration::from_secs(6));
    assert_eq!(
        graph(&cloud, &access(&short), "GET", "me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    cloud.graph().faults().reset();
    let (_, normal) = refresh(&cloud, &rt(&short)).await;
    assert_eq!(normal["expires_in"], 4500);
    cloud.shutdown().await;
}
