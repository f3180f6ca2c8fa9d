//! Authorization code + PKCE: the browser step, the code exchange and its failure modes.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use roger_sim::config::{APP_REDIRECT_URI, PUBLIC_CLIENT_ID};
use url::Url;

fn exchange<'a>(
    code: &'a str,
    verifier: &'a str,
    redirect: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
        ("client_id", PUBLIC_CLIENT_ID),
    ]
}

#[tokio::test]
async fn pkce_happy_path_over_http_form() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let (verifier, challenge) = pkce();
    let authorize = authorize_url(eu, &challenge, APP_REDIRECT_URI);

    let page = http().get(authorize.clone()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("<form") && html.contains("name=\"username\""));

    // The browser posts the form: the query parameters plus the credentials.
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.push(("username".into(), ALICE.0.into()));
    form.push(("password".into(), ALICE.1.into()));
    let response = http()
        .post(url(eu, "/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(APP_REDIRECT_URI));
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(eu.issuer.as_str())
    );
    let code = query_param(&location, "code").unwrap();
    assert!(code.len() >= 22);

    let (status, body) = token(eu, &exchange(&code, &verifier, APP_REDIRECT_URI)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1200);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 22);
    assert_eq!(body["scope"], "offline_access pair print scan");
    assert_eq!(eu.stats().authorization_code_requests(), 1);
    assert_eq!(eu.stats().login_attempts(), 1);

    let (status, printers) = api(eu, "GET", "/api/v1/printers", &access(&body), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        printers["printers"].as_array().unwrap().len(),
        2,
        "contoso's printers only"
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn token_responses_are_not_cacheable() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let response = http()
        .post(url(eu, "/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"].is_string());
    cloud.shutdown().await;
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let (_, challenge) = pkce();
    let (other_verifier, _) = pkce();
    let redirect = eu
        .browser_login(
            &authorize_url(eu, &challenge, APP_REDIRECT_URI),
            ALICE.0,
            ALICE.1,
        )
        .unwrap();
    let code = query_param(&redirect, "code").unwrap();
    let (status, body) = token(eu, &exchange(&code, &other_verifier, APP_REDIRECT_URI)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    cloud.shutdown().await;
}

#[tokio::test]
async fn plain_or_missing_challenge_is_refused_by_redirect() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let (verifier, _) = pkce();
    let mut plain = authorize_url(eu, &verifier, APP_REDIRECT_URI);
    let pairs: Vec<(String, String)> = plain
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "code_challenge_method" {
                (k, "plain".into())
            } else {
                (k, v)
            }
        })
        .collect();
    plain.query_pairs_mut().clear().extend_pairs(pairs);
    let redirect = eu.browser_login(&plain, ALICE.0, ALICE.1).unwrap();
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&redirect, "code"), None);

    let mut missing = Url::parse(&url(eu, "/oauth/authorize")).unwrap();
    missing
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", PUBLIC_CLIENT_ID)
        .append_pair("redirect_uri", APP_REDIRECT_URI);
    let response = http().get(missing).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(eu.issuer.as_str())
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn redirect_uri_must_match_exactly_except_loopback_port() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let (verifier, challenge) = pkce();
    for bad in [
        "com.myq.roger:/other",
        "https://evil.example/cb",
        "http://127.0.0.1:8080/callback/x",
    ] {
        let response = http()
            .get(authorize_url(eu, &challenge, bad))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{bad}: shown, never redirected"
        );
        assert!(response.headers().get("location").is_none());
        assert!(eu
            .browser_login(&authorize_url(eu, &challenge, bad), ALICE.0, ALICE.1)
            .is_err());
    }
    // RFC 8252 §7.3: the CLI's loopback redirect with any port.
    let loopback = "http://127.0.0.1:53682/callback";
    let redirect = eu
        .browser_login(&authorize_url(eu, &challenge, loopback), ALICE.0, ALICE.1)
        .unwrap();
    assert!(redirect.as_str().starts_with(loopback));
    let code = query_param(&redirect, "code").unwrap();
    // The exchange must repeat the same redirect_uri.
    let (status, body) = token(
        eu,
        &exchange(&code, &verifier, "http://127.0.0.1:1/callback"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = token(eu, &exchange(&code, &verifier, loopback)).await;
    assert_eq!(status, StatusCode::OK);
    cloud.shutdown().await;
}

#[tokio::test]
async fn reused_code_fails_and_revokes_what_it_minted() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let (verifier, challenge) = pkce();
    let redirect = eu
        .browser_login(
            &authorize_url(eu, &challenge, APP_REDIRECT_URI),
            ALICE.0,
            ALICE.1,
        )
        .unwrap();
    let code = query_param(&redirect, "code").unwrap();
    let (status, first) = token(eu, &exchange(&code, &verifier, APP_REDIRECT_URI)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api(eu, "GET", "/api/v1/printers", &access(&first), None).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = token(eu, &exchange(&code, &verifier, APP_REDIRECT_URI)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = api(eu, "GET", "/api/v1/printers", &access(&first), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the first exchange's tokens are revoked"
    );
    let (status, body) = token(
        eu,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ("client_id", PUBLIC_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn codes_expire() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let (verifier, challenge) = pkce();
    let redirect = eu
        .browser_login(
            &authorize_url(eu, &challenge, APP_REDIRECT_URI),
            ALICE.0,
            ALICE.1,
        )
        .unwrap();
    let code = query_param(&redirect, "code").unwrap();
    cloud.clock().advance(Duration::from_secs(61));
    let (status, body) = token(eu, &exchange(&code, &verifier, APP_REDIRECT_URI)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_show_the_form_again_and_deny_redirects_access_denied() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let (_, challenge) = pkce();
    let authorize = authorize_url(eu, &challenge, APP_REDIRECT_URI);
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.push(("username".into(), ALICE.0.into()));
    form.push(("password".into(), "wrong".into()));
    let response = http()
        .post(url(eu, "/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("<form"));
    assert!(matches!(
        eu.browser_login(&authorize, ALICE.0, "wrong"),
        Err(roger_sim::SimError::Login(_))
    ));

    let denied = eu.browser_deny(&authorize).unwrap();
    assert!(denied.as_str().starts_with(APP_REDIRECT_URI));
    assert_eq!(
        query_param(&denied, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&denied, "state").as_deref(), Some("st-123"));
    cloud.shutdown().await;
}

#[tokio::test]
async fn code_from_one_region_is_unknown_in_another() {
    let cloud = start().await;
    let (eu, us) = (cloud.region("eu").unwrap(), cloud.region("us").unwrap());
    let (verifier, challenge) = pkce();
    let redirect = eu
        .browser_login(
            &authorize_url(eu, &challenge, APP_REDIRECT_URI),
            ALICE.0,
            ALICE.1,
        )
        .unwrap();
    let code = query_param(&redirect, "code").unwrap();
    let (status, _) = token(us, &exchange(&code, &verifier, APP_REDIRECT_URI)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // And a login URL built for the EU is not the US's to answer.
    assert!(us
        .browser_login(
            &authorize_url(eu, &challenge, APP_REDIRECT_URI),
            DAVE.0,
            DAVE.1
        )
        .is_err());
    cloud.shutdown().await;
}
