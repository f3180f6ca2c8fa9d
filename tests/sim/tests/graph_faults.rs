//! Fault switches of the Graph emulator, flipped while a test runs: throttling (429/503 with
//! Retry-After) on both hosts, tiny pages, token expiry, 5xx on chosen fragments, short-lived
//! download URLs with throttled downloads, and a full drive (507). (The dropped connection is in
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

async fn answer_of(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn chosen_fragments_fail_with_5xx_and_the_session_survives() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let url = graph(
        &cloud,
        &token,
        "POST",
        "me/drive/root:/f.bin:/createUploadSession",
        None,
    )
    .await
    .body["uploadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let data = bytes(2 * KIB320);
    cloud.graph().faults().fail_upload_fragments(502, &[0, 2]);
    let first = put_fragment(&url, &data[..KIB320], 0, data.len()).await;
    assert_eq!(
        (first.status, first.code()),
        (StatusCode::BAD_GATEWAY, "badGateway")
    );
    // Nothing was stored: the session still asks for the start.
    let status = answer_of(fetch(&url).await).await;
    assert_eq!(status.body["nextExpectedRanges"], serde_json::json!(["0-"]));
    let again = put_fragment(&url, &data[..KIB320], 0, data.len()).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    let failed = put_fragment(&url, &data[KIB320..], KIB320, data.len()).await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
    let last = put_fragment(&url, &data[KIB320..], KIB320, data.len()).await;
    assert_eq!(last.status, StatusCode::CREATED);
    assert_eq!(cloud.graph().file_bytes(ALICE.0, "/f.bin"), Some(data));
    let stats = cloud.graph().stats();
    assert_eq!(stats.failed_fragments(), 2);
    assert_eq!(stats.upload_fragment_bytes(), 4 * KIB320 as u64);
    for (status, code) in [(500, "generalException"), (504, "gatewayTimeout")] {
        let url = graph(
            &cloud,
            &token,
            "POST",
            "me/drive/root:/g.bin:/createUploadSession",
            None,
        )
        .await
        .body["uploadUrl"]
            .as_str()
            .unwrap()
            .to_string();
        cloud.graph().faults().fail_upload_fragments(status, &[0]);
        let answer = put_fragment(&url, &bytes(10), 0, 10).await;
        assert_eq!((answer.status.as_u16(), answer.code()), (status, code));
    }
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_short_lived_download_url_expires_during_a_throttle_wait() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    cloud
        .graph()
        .put_file(ALICE.0, "/d.pdf", b"%PDF-1.7 d".to_vec())
        .unwrap();
    let faults = cloud.graph().faults();
    faults.download_url_lifetime(Some(1));
    faults.throttle_next_downloads(1, 2);
    let item = graph(&cloud, &token, "GET", "me/drive/root:/d.pdf", None).await;
    let url = item.body["@microsoft.graph.downloadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let throttled = answer_of(fetch(&url).await).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.header("retry-after"), Some("2"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let expired = answer_of(fetch(&url).await).await;
    assert_eq!(
        (expired.status, expired.code()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    // A fresh URL from the item works (and the default lifetime comes back on reset).
    faults.reset();
    let item = graph(&cloud, &token, "GET", "me/drive/root:/d.pdf", None).await;
    let fresh = fetch(item.body["@microsoft.graph.downloadUrl"].as_str().unwrap()).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    assert_eq!(&fresh.bytes().await.unwrap()[..], b"%PDF-1.7 d");
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_full_drive_answers_507_quota_limit_reached() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    cloud.graph().faults().limit_free_space(Some(1000));
    // Refused from the declared size, before any byte.
    let session = graph(
        &cloud,
        &token,
        "POST",
        "me/drive/root:/big.bin:/createUploadSession",
        Some(serde_json::json!({ "item": { "fileSize": 5000 } })),
    )
    .await;
    assert_eq!(
        (session.status, session.code()),
        (StatusCode::INSUFFICIENT_STORAGE, "quotaLimitReached")
    );
    assert!(session.body["error"]["message"].is_string());
    // Without a declared size: the first fragment names the total, and is refused.
    let url = graph(
        &cloud,
        &token,
        "POST",
        "me/drive/root:/big.bin:/createUploadSession",
        None,
    )
    .await
    .body["uploadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let fragment = put_fragment(&url, &bytes(KIB320), 0, KIB320 + 1).await;
    assert_eq!(fragment.status, StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(fragment.code(), "quotaLimitReached");
    // A simple upload too; a small one fits.
    let simple = put_content(&cloud, &token, "me/drive/root:/s.bin:/content", bytes(1001)).await;
    assert_eq!(simple.status, StatusCode::INSUFFICIENT_STORAGE);
    let small = put_content(&cloud, &token, "me/drive/root:/s.bin:/content", bytes(1000)).await;
    assert_eq!(small.status, StatusCode::CREATED);
    cloud.shutdown().await;
}
