//! Downloads from the content host: ranges (RFC 9110) for resuming, and the dropped-connection
//! fault that announces the whole body but cuts it short.

mod ms_common;

use ms_common::*;
use reqwest::StatusCode;

async fn uploaded(cloud: &roger_sim::CloudHandle, data: &[u8]) -> String {
    let token = sign_in(cloud, ALICE).await;
    let created = put_content(
        cloud,
        &token,
        "me/drive/root:/Report.pdf:/content",
        data.to_vec(),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["@microsoft.graph.downloadUrl"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_range_resumes_where_an_earlier_download_stopped() {
    let cloud = start().await;
    let data = bytes(100_000);
    let url = uploaded(&cloud, &data).await;
    let response = http()
        .get(&url)
        .header("range", "bytes=60000-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.headers()["content-range"],
        "bytes 60000-99999/100000"
    );
    assert_eq!(response.headers()["accept-ranges"], "bytes");
    assert_eq!(response.bytes().await.unwrap(), &data[60_000..]);
    let beyond = http()
        .get(&url)
        .header("range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.headers()["content-range"], "bytes */100000");

    // If-Range: the range only for the version named; another version gets the whole body.
    let etag = http().get(&url).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let same = http()
        .get(&url)
        .header("range", "bytes=60000-")
        .header("if-range", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), StatusCode::PARTIAL_CONTENT);
    let other = http()
        .get(&url)
        .header("range", "bytes=60000-")
        .header("if-range", "\"{00000000-0000-0000-0000-000000000000},9\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(other.bytes().await.unwrap(), data);
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_dropped_download_announces_the_whole_body_and_fires_once() {
    let cloud = start().await;
    let data = bytes(200_000);
    let url = uploaded(&cloud, &data).await;
    cloud
        .graph()
        .faults()
        .drop_download_connection_after(50_000);

    let mut response = http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(200_000));
    let mut got = Vec::new();
    let failure = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(failure.is_some(), "the body must end in an error");
    assert_eq!(got, &data[..50_000], "the bytes before the cut are intact");

    // The switch fired once: the next download is whole, and a range picks up at the cut.
    let rest = http()
        .get(&url)
        .header("range", "bytes=50000-")
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(rest.bytes().await.unwrap(), &data[50_000..]);
    let whole = http().get(&url).send().await.unwrap();
    assert_eq!(whole.bytes().await.unwrap(), data);
    cloud.shutdown().await;
}
