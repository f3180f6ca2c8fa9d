//! Discovery and per-region authorization server metadata.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn discovery_lists_regions_with_their_own_origins() {
    let started = std::time::Instant::now();
    let cloud = start().await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "start-up is quick"
    );
    assert!(cloud.discovery_url.as_str().ends_with('/'));
    let response = http()
        .get(cloud.discovery_url.join("regions").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let regions = body["regions"].as_array().unwrap();
    let ids: Vec<&str> = regions.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["eu", "us"]);
    for entry in regions {
        let handle = cloud.region(entry["id"].as_str().unwrap()).unwrap();
        assert_eq!(entry["apiUrl"], handle.issuer.as_str());
        assert_eq!(entry["issuer"], handle.issuer.as_str());
        assert_eq!(entry["eventsUrl"], handle.events_url.as_str());
        assert!(entry["displayName"].as_str().is_some_and(|n| !n.is_empty()));
        assert!(!handle.issuer.ends_with('/'));
    }
    assert_ne!(
        cloud.region("eu").unwrap().api_url.origin(),
        cloud.region("us").unwrap().api_url.origin()
    );
    let listing = cloud.to_string();
    assert!(listing.contains("discovery") && listing.contains("eu api"));
    cloud.shutdown().await;
}

#[tokio::test]
async fn metadata_names_each_region_as_its_own_issuer() {
    let cloud = start().await;
    let mut issuers = Vec::new();
    for region in &cloud.regions {
        let response = http()
            .get(url(region, "/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let meta: Value = response.json().await.unwrap();
        assert_eq!(meta["issuer"], region.issuer.as_str());
        for (field, path) in [
            ("authorization_endpoint", "/oauth/authorize"),
            ("token_endpoint", "/oauth/token"),
            (
                "device_authorization_endpoint",
                "/oauth/device_authorization",
            ),
            ("revocation_endpoint", "/oauth/revoke"),
        ] {
            assert_eq!(meta[field], format!("{}{path}", region.issuer));
        }
        assert_eq!(
            meta["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
        let grants = meta["grant_types_supported"].as_array().unwrap();
        for grant in [
            "authorization_code",
            "refresh_token",
            "password",
            DEVICE_GRANT,
        ] {
            assert!(grants.iter().any(|g| g == grant), "{grant}");
        }
        assert!(meta["scopes_supported"].as_array().unwrap().len() >= 6);
        assert!(meta["token_endpoint_auth_methods_supported"].is_array());
        assert!(meta["response_types_supported"].is_array());
        issuers.push(meta["issuer"].as_str().unwrap().to_string());
    }
    assert_ne!(issuers[0], issuers[1]);
    cloud.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_get_typed_errors() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let response = http().get(url(eu, "/api/v1/nothing")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "not_found");
    let response = http().put(url(eu, "/oauth/token")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "method_not_allowed");
    let response = http()
        .get(cloud.discovery_url.join("nope").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    cloud.shutdown().await;
}
