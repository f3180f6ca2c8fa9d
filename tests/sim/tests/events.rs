//! Server-Sent Events: live delivery, Last-Event-ID resumption, keep-alives, resync.

mod common;

use std::time::Duration;

use common::*;
use reqwest::{Response, StatusCode};
use roger_sim::SimConfig;
use serde_json::{json, Value};

/// One parsed SSE event: `(id, event, data)`.
type SseEvent = (u64, String, Value);

/// Reads from an open event stream until `count` events arrived (or 5 s passed). Also returns
/// whether a comment line was seen.
async fn read_events(response: &mut Response, count: usize) -> (Vec<SseEvent>, bool) {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let mut comment = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await;
        let Ok(Ok(Some(bytes))) = chunk else { break };
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut id, mut name, mut data) = (None, String::from("message"), String::new());
            for line in block.lines() {
                if line.starts_with(':') {
                    comment = true;
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if !data.is_empty() {
                events.push((
                    id.unwrap_or(0),
                    name,
                    serde_json::from_str(&data).unwrap_or(Value::Null),
                ));
            }
        }
    }
    (events, comment)
}

async fn open(
    region: &roger_sim::RegionHandle,
    token: &str,
    last_event_id: Option<u64>,
) -> Response {
    let mut request = http().get(region.events_url.clone()).bearer_auth(token);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    response
}

#[tokio::test]
async fn live_events_then_resume_after_last_event_id() {
    let config = SimConfig {
        sse_keep_alive: Duration::from_millis(100),
        ..SimConfig::default()
    };
    let cloud = start_with(config).await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let bob = access(&sign_in(eu, BOB).await);
    let mut stream = open(eu, &alice, None).await;

    create_job(eu, &bob, "bob.pdf").await; // someone else's: never shown to Alice
    let job = create_job(eu, &alice, "a.pdf").await;
    let (step1, _) = printer_login(eu, RECEPTION, &alice).await;
    api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(json!({"jobIds": [job], "clientRequestId": "r"})),
    )
    .await;

    let (events, _) = read_events(&mut stream, 4).await;
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|(_, name, data)| (name.as_str(), data["state"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        kinds,
        [
            ("job", "waiting"),
            ("session", "started"),
            ("session", "upgraded"),
            ("job", "releasing")
        ]
    );
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0), "ids increase");
    assert_eq!(events[0].2["jobId"], job.as_str());
    assert!(
        events.iter().all(|(_, _, d)| d.get("fileName").is_none()),
        "no document names in events"
    );

    // Disconnect; things happen; reconnect with the last id seen.
    let last_seen = events[1].0;
    drop(stream);
    let path = format!("/api/v1/printer/jobs/{job}/status");
    api(
        eu,
        "POST",
        &path,
        &access(&step1),
        Some(json!({"state": "printing"})),
    )
    .await;
    let mut resumed = open(eu, &alice, Some(last_seen)).await;
    let (events, _) = read_events(&mut resumed, 3).await;
    let states: Vec<&str> = events
        .iter()
        .map(|(_, _, d)| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["upgraded", "releasing", "printing"]);
    assert!(events[0].0 > last_seen);

    // Keep-alive comments flow while nothing happens; new events still arrive.
    tokio::time::sleep(Duration::from_millis(250)).await;
    api(
        eu,
        "POST",
        &path,
        &access(&step1),
        Some(json!({"state": "printed"})),
    )
    .await;
    let (events, comment) = read_events(&mut resumed, 1).await;
    assert!(comment, "keep-alive comment seen");
    assert_eq!(events[0].2["state"], "printed");
    assert_eq!(events[0].0, eu.last_event_id());
    cloud.shutdown().await;
}

#[tokio::test]
async fn resync_when_the_backlog_no_longer_reaches_back() {
    let mut config = SimConfig::default();
    config.limits.event_backlog = 2;
    let cloud = start_with(config).await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    for name in ["1.pdf", "2.pdf", "3.pdf", "4.pdf"] {
        create_job(eu, &alice, name).await;
    }
    let mut stream = open(eu, &alice, Some(1)).await;
    let mut raw = String::new();
    while !raw.contains("event: job") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        raw.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(raw.starts_with("event: resync"), "{raw}");

    // An id from the future (e.g. from before a server restart) also means: resync.
    let mut future = open(eu, &alice, Some(u64::MAX)).await;
    let chunk = tokio::time::timeout(Duration::from_secs(5), future.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&chunk).starts_with("event: resync"));

    let response = http()
        .get(eu.events_url.clone())
        .bearer_auth(&alice)
        .header("Last-Event-ID", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    cloud.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = access(&sign_in(eu, ALICE).await);
    let mut stream = open(eu, &alice, None).await;
    let started = std::time::Instant::now();
    cloud.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let end = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(end.is_ok(), "stream ended");
}
