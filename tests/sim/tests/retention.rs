//! Retention audit: after a full flow, everything the server keeps is within the allowed
//! fields (seed: e-mail, name, password hash, file names of printed documents, scan times),
//! secrets only as hashes, and no document byte or transfer URL anywhere. The server never
//! fetches a document URL.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use reqwest::StatusCode;
use roger_sim::config::PUBLIC_CLIENT_ID;
use serde_json::{json, Value};

const CANARY: &str = "CANARY-DOCUMENT-CONTENT-7f3a91";

/// Fields each collection's records may hold (nested objects are walked too).
fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let set = |fields: &[&'static str]| fields.iter().copied().collect::<BTreeSet<_>>();
    BTreeMap::from([
        ("tenants", set(&["id", "name", "domain", "passwordGrant"])),
        (
            "users",
            set(&["id", "tenantId", "email", "name", "passwordHash"]),
        ),
        (
            "printers",
            set(&[
                "id",
                "tenantId",
                "name",
                "model",
                "location",
                "clientId",
                "clientSecretHash",
                "capabilities",
                "color",
                "duplex",
                "staple",
                "mediaSizes",
            ]),
        ),
        (
            "tokens",
            set(&[
                "kind",
                "familyId",
                "clientId",
                "subject",
                "type",
                "userId",
                "printerId",
                "sessionId",
                "scopes",
                "issuedAt",
                "expiresAt",
                "rotated",
            ]),
        ),
        (
            "authCodes",
            set(&[
                "clientId",
                "redirectUri",
                "codeChallenge",
                "userId",
                "scopes",
                "expiresAt",
                "redeemedFamily",
            ]),
        ),
        (
            "deviceGrants",
            set(&[
                "printerId",
                "clientId",
                "userCode",
                "scopes",
                "expiresAt",
                "intervalSecs",
                "lastPoll",
                "status",
                "userId",
            ]),
        ),
        (
            "sessionCredentials",
            set(&["sessionId", "printerId", "expiresAt"]),
        ),
        (
            "sessions",
            set(&["id", "userId", "printerId", "startedAt", "rights"]),
        ),
        (
            "jobs",
            set(&[
                "id",
                "ownerId",
                "fileName",
                "options",
                "copies",
                "duplex",
                "color",
                "pageRanges",
                "state",
                "createdAt",
                "updatedAt",
                "expiresAt",
                "printerId",
                "sessionId",
                "failureReason",
                "transfer",
            ]),
        ),
        (
            "releases",
            set(&[
                "jobIds",
                "response",
                "at",
                "clientRequestId",
                "sessionId",
                "printerId",
                "jobs",
                "id",
                "state",
            ]),
        ),
        (
            "scans",
            set(&[
                "id",
                "ownerId",
                "printerId",
                "sessionId",
                "profileId",
                "state",
                "requestedAt",
                "updatedAt",
                "failureReason",
                "transfer",
            ]),
        ),
        ("pairingMisses", set(&[])),
        (
            "events",
            set(&[
                "id",
                "userId",
                "at",
                "type",
                "jobId",
                "scanId",
                "sessionId",
                "printerId",
                "state",
            ]),
        ),
    ])
}

/// Walks a record, collecting object keys that are not map keys of id-keyed collections.
fn keys(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.insert(k.clone());
            keys(v, out);
        }),
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out);
        }),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// A document host that counts every connection: the server must never open one.
async fn document_host() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (format!("http://127.0.0.1:{port}"), hits)
}

#[tokio::test]
async fn server_retains_only_the_allowed_fields() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let (host, hits) = document_host().await;
    let download_url = format!("{host}/print/Payslip.pdf?sig=DOWNLOAD-SIG-123");
    let upload_url = format!("{host}/scan/upload?sig=UPLOAD-SIG-456");
    let mut secrets: Vec<String> = vec![
        ALICE.1.into(),
        CAROL.1.into(),
        RECEPTION.1.into(),
        CANARY.into(),
    ];

    // Phone sign-ins (browser and legacy password), a printer login, a refresh.
    let alice_tokens = sign_in(eu, ALICE).await;
    let (_, carol_tokens) = token(
        eu,
        &[
            ("grant_type", "password"),
            ("username", CAROL.0),
            ("password", CAROL.1),
            ("client_id", PUBLIC_CLIENT_ID),
        ],
    )
    .await;
    let (_, refreshed) = token(
        eu,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                alice_tokens["refresh_token"].as_str().unwrap(),
            ),
            ("client_id", PUBLIC_CLIENT_ID),
        ],
    )
    .await;
    let alice = access(&refreshed);
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
    let (_, step2) = step2(eu, RECEPTION, &step1).await;
    for t in [&alice_tokens, &carol_tokens, &refreshed, &step1, &step2] {
        secrets.push(t["access_token"].as_str().unwrap().into());
        secrets.push(t["refresh_token"].as_str().unwrap().into());
    }
    secrets.push(step1["session_credential"].as_str().unwrap().into());
    secrets.push(device["device_code"].as_str().unwrap().into());

    // Print: the job carries only a URL to the document, never its bytes.
    let (status, job) = api(
        eu,
        "POST",
        "/api/v1/jobs",
        &alice,
        Some(json!({"fileName": "Payslip.pdf", "size": CANARY.len(), "contentType": "application/pdf", "downloadUrl": download_url})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let job_id = job["id"].as_str().unwrap();
    api(
        eu,
        "POST",
        "/api/v1/jobs/release",
        &alice,
        Some(json!({"jobIds": [job_id], "clientRequestId": "rel-1"})),
    )
    .await;
    let printer = access(&step1);
    for state in ["printing", "printed"] {
        let (status, _) = api(
            eu,
            "POST",
            &format!("/api/v1/printer/jobs/{job_id}/status"),
            &printer,
            Some(json!({"state": state})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    // Scan: the printer uploads straight to the URL; the server learns the time only.
    let (_, scan) = api(
        eu,
        "POST",
        "/api/v1/scans",
        &alice,
        Some(json!({"profileId": "document-pdf", "uploadUrl": upload_url, "fileName": "Contract-signed.pdf"})),
    )
    .await;
    let scan_id = scan["id"].as_str().unwrap();
    for state in ["scanning", "uploaded"] {
        let (status, _) = api(
            eu,
            "POST",
            &format!("/api/v1/printer/scans/{scan_id}/status"),
            &access(&step2),
            Some(json!({"state": state})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    api(eu, "DELETE", "/api/v1/session", &alice, None).await;

    let dump = eu.retained_records();
    let allowed = allowed();
    let collections = dump.as_object().unwrap();
    let names: BTreeSet<&str> = collections.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        allowed.keys().copied().collect(),
        "every collection is audited"
    );
    for (name, records) in collections {
        let mut found = BTreeSet::new();
        let items: Vec<&Value> = match records {
            Value::Object(by_key) if name == "releases" => by_key
                .values()
                .flat_map(|per_user| per_user.as_object().unwrap().values())
                .collect(),
            Value::Object(by_key) => by_key.values().collect(),
            Value::Array(items) => items.iter().collect(),
            other => panic!("{name}: unexpected {other}"),
        };
        items.iter().for_each(|r| keys(r, &mut found));
        let extra: Vec<&String> = found
            .iter()
            .filter(|k| !allowed[name.as_str()].contains(k.as_str()))
            .collect();
        assert!(extra.is_empty(), "{name} retains {extra:?}");
    }

    // Personal data: e-mail, name and a salted hash only.
    for user in collections["users"].as_object().unwrap().values() {
        assert!(user["passwordHash"]
            .as_str()
            .unwrap()
            .starts_with("pbkdf2-sha256$"));
    }
    let job = &collections["jobs"][job_id];
    assert_eq!(
        (job["fileName"].as_str(), job["state"].as_str()),
        (Some("Payslip.pdf"), Some("printed"))
    );
    assert!(
        job["transfer"].is_null(),
        "download URL dropped once printed"
    );
    let scan = &collections["scans"][scan_id];
    assert!(
        scan["transfer"].is_null(),
        "upload URL and scan file name dropped once uploaded"
    );
    assert!(scan["requestedAt"].is_string() && scan["updatedAt"].is_string());

    let mut all = Vec::new();
    strings(&dump, &mut all);
    for forbidden in secrets.iter().map(String::as_str).chain([
        download_url.as_str(),
        upload_url.as_str(),
        "DOWNLOAD-SIG-123",
        "UPLOAD-SIG-456",
        "Contract-signed.pdf",
    ]) {
        assert!(
            !all.iter().any(|s| s.contains(forbidden)),
            "the server retains {forbidden:?}"
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the server never fetched a document URL"
    );
    cloud.shutdown().await;
}
