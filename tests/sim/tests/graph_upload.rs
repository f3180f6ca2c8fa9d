//! Upload sessions: ranged PUTs in multiples of 320 KiB, nextExpectedRanges, 416 on overlap or
//! disorder, status and cancel, expiry, conflicts at commit, the Authorization-free upload URL,
//! a dropped connection and a 256 MiB file.

mod ms_common;

use std::time::{Duration, Instant};

use ms_common::*;
use reqwest::StatusCode;
use roger_sim::SimConfig;
use serde_json::{json, Value};

async fn session(
    cloud: &roger_sim::CloudHandle,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> Answer {
    graph(cloud, token, "POST", path, body).await
}

async fn open(
    cloud: &roger_sim::CloudHandle,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> String {
    let answer = session(cloud, token, path, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body["uploadUrl"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn fragments_in_order_complete_the_file() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    mkdir(&cloud, &token, "Scan").await;
    let created = session(
        &cloud,
        &token,
        "me/drive/root:/Scan/scan.pdf:/createUploadSession",
        Some(json!({"item": {"@microsoft.graph.conflictBehavior": "rename", "name": "scan.pdf"}})),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK);
    let upload_url = created.body["uploadUrl"].as_str().unwrap().to_string();
    assert!(upload_url.starts_with(cloud.graph().content_url.as_str()));
    assert_ne!(
        url::Url::parse(&upload_url).unwrap().origin(),
        cloud.graph_url.origin(),
        "a separate origin"
    );
    assert_eq!(created.body["nextExpectedRanges"], json!(["0-"]));
    assert!(created.body["expirationDateTime"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    let data = bytes(2 * KIB320 + 1000);
    let first = put_fragment(&upload_url, &data[..KIB320], 0, data.len()).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(first.body["nextExpectedRanges"], json!(["327680-"]));
    let status = answer_of(fetch(&upload_url).await).await;
    assert_eq!(status.body["nextExpectedRanges"], json!(["327680-"]));
    let second = put_fragment(&upload_url, &data[KIB320..2 * KIB320], KIB320, data.len()).await;
    assert_eq!(second.body["nextExpectedRanges"], json!(["655360-"]));
    let last = put_fragment(&upload_url, &data[2 * KIB320..], 2 * KIB320, data.len()).await;
    assert_eq!(last.status, StatusCode::CREATED, "{:?}", last.body);
    assert_eq!(last.body["name"], "scan.pdf");
    assert_eq!(last.body["size"], data.len());
    assert_eq!(
        cloud.graph().file_bytes(ALICE.0, "Scan/scan.pdf").unwrap(),
        data
    );
    let after = answer_of(fetch(&upload_url).await).await;
    assert_eq!(
        (after.status, after.inner_code()),
        (StatusCode::NOT_FOUND, "uploadSessionNotFound")
    );
    assert_eq!(cloud.graph().open_upload_sessions(ALICE.0), 0);

    // The same name again with rename: OneDrive's "name 1.ext".
    let url = open(
        &cloud,
        &token,
        "me/drive/root:/Scan/scan.pdf:/createUploadSession",
        Some(json!({"item": {"@microsoft.graph.conflictBehavior": "rename"}})),
    )
    .await;
    let done = put_fragment(&url, b"small", 0, 5).await;
    assert_eq!(
        (done.status, done.body["name"].as_str()),
        (StatusCode::CREATED, Some("scan 1.pdf"))
    );
    assert_eq!(
        cloud
            .graph()
            .stats()
            .authorization_headers_on_content_host(),
        0
    );
    cloud.shutdown().await;
}

async fn answer_of(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn ranges_must_be_sequential_multiples_of_320_kib() {
    let mut config = SimConfig::default();
    config.microsoft.max_fragment_bytes = 4 * 320 * 1024;
    let cloud = start_with(config).await;
    let token = sign_in(&cloud, ALICE).await;
    let url = open(
        &cloud,
        &token,
        "me/drive/root:/big.bin:/createUploadSession",
        None,
    )
    .await;
    let data = bytes(6 * KIB320 + 7);
    let total = data.len();

    let odd = put_fragment(&url, &data[..KIB320 + 1], 0, total).await;
    assert_eq!(
        odd.status,
        StatusCode::BAD_REQUEST,
        "not a multiple of 320 KiB"
    );
    let big = put_fragment(&url, &data[..4 * KIB320], 0, total).await;
    assert_eq!(
        (big.status, big.inner_code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "maxFragmentLengthExceeded")
    );
    assert_eq!(
        put_fragment(&url, &data[..2 * KIB320], 0, total)
            .await
            .status,
        StatusCode::ACCEPTED
    );

    let overlap = put_fragment(&url, &data[KIB320..3 * KIB320], KIB320, total).await;
    assert_eq!(
        (overlap.status, overlap.code(), overlap.inner_code()),
        (
            StatusCode::RANGE_NOT_SATISFIABLE,
            "invalidRange",
            "fragmentOverlap"
        )
    );
    let again = put_fragment(&url, &data[..KIB320], 0, total).await;
    assert_eq!(
        again.status,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "already received"
    );
    let gap = put_fragment(&url, &data[3 * KIB320..4 * KIB320], 3 * KIB320, total).await;
    assert_eq!(
        (gap.status, gap.inner_code()),
        (StatusCode::RANGE_NOT_SATISFIABLE, "fragmentOutOfOrder")
    );
    let other_total =
        put_fragment(&url, &data[2 * KIB320..3 * KIB320], 2 * KIB320, total + 1).await;
    assert_eq!(
        (other_total.status, other_total.inner_code()),
        (StatusCode::BAD_REQUEST, "fragmentLengthMismatch")
    );

    let response = http()
        .put(&url)
        .body(data[2 * KIB320..3 * KIB320].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "no Content-Range"
    );
    let response = http()
        .put(&url)
        .header(
            "content-range",
            format!("bytes {}-{}/*", 2 * KIB320, 3 * KIB320 - 1),
        )
        .body(data[2 * KIB320..3 * KIB320].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "unknown total");
    let response = http()
        .put(&url)
        .header(
            "content-range",
            format!("bytes {}-{}/{total}", 2 * KIB320, 3 * KIB320),
        )
        .body(data[2 * KIB320..3 * KIB320].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "range longer than the body"
    );

    // Nothing of the refused fragments was kept.
    let status = answer_of(fetch(&url).await).await;
    assert_eq!(status.body["nextExpectedRanges"], json!(["655360-"]));
    assert_eq!(
        put_fragment(&url, &data[2 * KIB320..5 * KIB320], 2 * KIB320, total)
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let last = put_fragment(&url, &data[5 * KIB320..], 5 * KIB320, total).await;
    assert_eq!(last.status, StatusCode::CREATED);
    assert_eq!(cloud.graph().file_bytes(ALICE.0, "big.bin").unwrap(), data);
    cloud.shutdown().await;
}

#[tokio::test]
async fn upload_urls_refuse_an_authorization_header() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let url = open(
        &cloud,
        &token,
        "me/drive/root:/x.pdf:/createUploadSession",
        None,
    )
    .await;
    let response = http()
        .put(&url)
        .bearer_auth(&token)
        .header("content-range", "bytes 0-2/3")
        .body(b"abc".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        cloud
            .graph()
            .stats()
            .authorization_headers_on_content_host(),
        1
    );
    let done = put_fragment(&url, b"abc", 0, 3).await;
    assert_eq!(
        done.status,
        StatusCode::CREATED,
        "the session was not harmed"
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn sessions_cancel_and_expire() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let url = open(
        &cloud,
        &token,
        "me/drive/root:/c.pdf:/createUploadSession",
        None,
    )
    .await;
    assert_eq!(cloud.graph().open_upload_sessions(ALICE.0), 1);
    let cancelled = http().delete(&url).send().await.unwrap();
    assert_eq!(cancelled.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        http().delete(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        put_fragment(&url, b"abc", 0, 3).await.status,
        StatusCode::NOT_FOUND
    );

    // Each fragment extends the expiry (an hour by default).
    let url = open(
        &cloud,
        &token,
        "me/drive/root:/e.pdf:/createUploadSession",
        None,
    )
    .await;
    let data = bytes(3 * KIB320);
    cloud.clock().advance(Duration::from_secs(40 * 60));
    assert_eq!(
        put_fragment(&url, &data[..KIB320], 0, data.len())
            .await
            .status,
        StatusCode::ACCEPTED
    );
    cloud.clock().advance(Duration::from_secs(40 * 60));
    assert_eq!(
        put_fragment(&url, &data[KIB320..2 * KIB320], KIB320, data.len())
            .await
            .status,
        StatusCode::ACCEPTED
    );
    cloud.clock().advance(Duration::from_secs(61 * 60));
    let expired = put_fragment(&url, &data[2 * KIB320..], 2 * KIB320, data.len()).await;
    assert_eq!(
        (expired.status, expired.inner_code()),
        (StatusCode::NOT_FOUND, "uploadSessionNotFound")
    );
    assert!(cloud.graph().file_bytes(ALICE.0, "e.pdf").is_none());
    cloud.shutdown().await;
}

#[tokio::test]
async fn conflicts_are_checked_again_at_commit() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    mkdir(&cloud, &token, "Scan").await;
    // The default conflict behaviour of an upload session is fail.
    let url = open(
        &cloud,
        &token,
        "me/drive/root:/Scan/s.pdf:/createUploadSession",
        None,
    )
    .await;
    let early = session(
        &cloud,
        &token,
        "me/drive/root:/Scan/s.pdf:/createUploadSession",
        None,
    )
    .await;
    assert_eq!(early.status, StatusCode::OK, "the name is still free");
    cloud
        .graph()
        .put_file(ALICE.0, "Scan/s.pdf", b"first".to_vec())
        .unwrap();
    let late = session(
        &cloud,
        &token,
        "me/drive/root:/Scan/s.pdf:/createUploadSession",
        None,
    )
    .await;
    assert_eq!(
        (late.status, late.code()),
        (StatusCode::CONFLICT, "nameAlreadyExists")
    );
    let commit = put_fragment(&url, b"second", 0, 6).await;
    assert_eq!(
        (commit.status, commit.code()),
        (StatusCode::CONFLICT, "nameAlreadyExists")
    );
    assert_eq!(
        cloud.graph().file_bytes(ALICE.0, "Scan/s.pdf").unwrap(),
        b"first"
    );

    // The folder vanishes during the upload.
    let url = open(
        &cloud,
        &token,
        "me/drive/root:/Scan/t.pdf:/createUploadSession",
        Some(json!({"item": {"@microsoft.graph.conflictBehavior": "rename"}})),
    )
    .await;
    assert!(cloud.graph().delete(ALICE.0, "Scan"));
    let commit = put_fragment(&url, b"third", 0, 5).await;
    assert_eq!(commit.status, StatusCode::CONFLICT);

    // Parent must exist; names are validated up front; the body name must match the path.
    let missing = session(
        &cloud,
        &token,
        "me/drive/root:/Nowhere/x.pdf:/createUploadSession",
        None,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let invalid = session(
        &cloud,
        &token,
        &format!("me/drive/root:/{}:/createUploadSession", enc("x?.pdf")),
        None,
    )
    .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    let other_name = session(
        &cloud,
        &token,
        "me/drive/root:/x.pdf:/createUploadSession",
        Some(json!({"item": {"name": "y.pdf"}})),
    )
    .await;
    assert_eq!(other_name.status, StatusCode::BAD_REQUEST);
    let deferred = session(
        &cloud,
        &token,
        "me/drive/root:/x.pdf:/createUploadSession",
        Some(json!({"deferCommit": true})),
    )
    .await;
    assert_eq!(deferred.status, StatusCode::NOT_IMPLEMENTED);
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_session_can_replace_an_existing_file_and_check_its_declared_size() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let id = cloud
        .graph()
        .put_file(ALICE.0, "Print/doc.pdf", b"old".to_vec())
        .unwrap();
    let url = open(
        &cloud,
        &token,
        &format!("me/drive/items/{id}/createUploadSession"),
        None,
    )
    .await;
    let done = put_fragment(&url, b"new content", 0, 11).await;
    assert_eq!(
        (done.status, done.body["id"].as_str()),
        (StatusCode::OK, Some(id.as_str()))
    );
    assert_eq!(
        cloud.graph().file_bytes(ALICE.0, "Print/doc.pdf").unwrap(),
        b"new content"
    );

    let parent = cloud.graph().item_id(ALICE.0, "Print").unwrap();
    let url = open(
        &cloud,
        &token,
        &format!("me/drive/items/{parent}:/sized.pdf:/createUploadSession"),
        Some(json!({"item": {"fileSize": 10}})),
    )
    .await;
    let wrong = put_fragment(&url, b"123456789", 0, 9).await;
    assert_eq!(
        (wrong.status, wrong.inner_code()),
        (StatusCode::BAD_REQUEST, "fragmentLengthMismatch")
    );
    assert_eq!(
        put_fragment(&url, b"0123456789", 0, 10).await.status,
        StatusCode::CREATED
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_mid_fragment_is_resumed() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let url = open(
        &cloud,
        &token,
        "me/drive/root:/resume.bin:/createUploadSession",
        None,
    )
    .await;
    let data = bytes(4 * KIB320);
    assert_eq!(
        put_fragment(&url, &data[..KIB320], 0, data.len())
            .await
            .status,
        StatusCode::ACCEPTED
    );

    cloud
        .graph()
        .faults()
        .drop_upload_connection_after(KIB320 as u64 / 2);
    let broken = http()
        .put(&url)
        .header(
            "content-range",
            format!("bytes {}-{}/{}", KIB320, 3 * KIB320 - 1, data.len()),
        )
        .body(data[KIB320..3 * KIB320].to_vec())
        .send()
        .await;
    assert!(broken.is_err(), "the connection was dropped: {broken:?}");
    assert_eq!(cloud.graph().stats().dropped_connections(), 1);

    // The interrupted fragment left nothing; resume from nextExpectedRanges.
    let status = answer_of(fetch(&url).await).await;
    assert_eq!(status.body["nextExpectedRanges"], json!(["327680-"]));
    assert_eq!(
        put_fragment(&url, &data[KIB320..3 * KIB320], KIB320, data.len())
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let done = put_fragment(&url, &data[3 * KIB320..], 3 * KIB320, data.len()).await;
    assert_eq!(done.status, StatusCode::CREATED);
    assert_eq!(
        cloud.graph().file_bytes(ALICE.0, "resume.bin").unwrap(),
        data
    );
    assert_eq!(
        cloud.graph().stats().dropped_connections(),
        1,
        "the switch fires once"
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_256_mib_file_uploads_in_large_fragments() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let url = open(
        &cloud,
        &token,
        "me/drive/root:/huge.bin:/createUploadSession",
        Some(json!({"item": {"fileSize": 256u64 << 20}})),
    )
    .await;
    let total = 256usize << 20;
    let data = axum::body::Bytes::from(vec![0x5a_u8; total]);
    let fragment = 191 * KIB320; // the largest multiple of 320 KiB under 60 MiB
    let started = Instant::now();
    let mut start = 0;
    while start < total {
        let end = (start + fragment).min(total);
        let response = http()
            .put(&url)
            .header(
                "content-range",
                format!("bytes {start}-{}/{total}", end - 1),
            )
            .body(data.slice(start..end))
            .send()
            .await
            .unwrap();
        let expected = if end == total {
            StatusCode::CREATED
        } else {
            StatusCode::ACCEPTED
        };
        assert_eq!(response.status(), expected);
        start = end;
    }
    eprintln!("256 MiB upload took {:?}", started.elapsed());
    let item = graph(&cloud, &token, "GET", "me/drive/root:/huge.bin:", None).await;
    assert_eq!(item.body["size"], total);
    let download = item.body["@microsoft.graph.downloadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let tail = http()
        .get(&download)
        .header("range", "bytes=-4")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tail.headers()["content-range"],
        format!("bytes {}-{}/{total}", total - 4, total - 1)
    );
    assert_eq!(tail.bytes().await.unwrap().to_vec(), vec![0x5a; 4]);
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_simple_upload_whose_response_is_lost_is_stored_once() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    cloud.graph().faults().lose_simple_upload_responses(1);
    let url = format!(
        "{}me/drive/root:/lost.pdf:/content?@microsoft.graph.conflictBehavior=fail",
        cloud.graph_url
    );
    let lost = http()
        .put(&url)
        .bearer_auth(&token)
        .timeout(Duration::from_millis(500))
        .body(bytes(1000))
        .send()
        .await;
    assert!(lost.unwrap_err().is_timeout(), "no answer comes");
    // The file is there all the same, and its hash says it is ours.
    let item = graph(&cloud, &token, "GET", "me/drive/root:/lost.pdf", None).await;
    assert_eq!(item.status, StatusCode::OK);
    assert_eq!(item.body["size"], 1000);
    assert!(item.body["file"]["hashes"]["quickXorHash"]
        .as_str()
        .is_some());
    // Sending it again with `fail` is refused, not duplicated; the switch fired once.
    let again = answer_of(
        http()
            .put(&url)
            .bearer_auth(&token)
            .body(bytes(1000))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "nameAlreadyExists")
    );
    assert_eq!(cloud.graph().stats().lost_responses(), 1);
    assert_eq!(cloud.graph().list(ALICE.0, "/").unwrap().len(), 1);
    cloud.shutdown().await;
}
