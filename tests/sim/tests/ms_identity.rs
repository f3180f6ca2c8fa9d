//! The emulated Microsoft identity platform: OpenID metadata, authorization code with PKCE,
//! scopes, refresh rotation and reuse, inactivity expiry, and Microsoft's error shape.

mod ms_common;

use std::time::Duration;

use ms_common::*;
use reqwest::StatusCode;
use roger_sim::config::{MICROSOFT_APP_REDIRECT_URI, MICROSOFT_CLIENT_ID};
use roger_sim::SimConfig;
use serde_json::Value;

#[tokio::test]
async fn metadata_follows_microsofts_shape_per_authority() {
    let cloud = start().await;
    let base = cloud.identity_url.as_str();
    assert!(base.ends_with('/'));
    assert!(cloud.graph_url.as_str().ends_with("/v1.0/"));
    let urls: Vec<String> = cloud.urls().into_iter().map(|(label, _)| label).collect();
    assert!(urls.contains(&"identity".to_string()) && urls.contains(&"graph".to_string()));

    for tenant in ["organizations", "common"] {
        let url = cloud.identity().metadata_url(tenant);
        assert_eq!(
            url.as_str(),
            format!("{base}{tenant}/v2.0/.well-known/openid-configuration")
        );
        let meta: Value = http().get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(
            meta["issuer"],
            format!("{base}{{tenantid}}/v2.0"),
            "template issuer"
        );
        assert_eq!(
            meta["authorization_endpoint"],
            format!("{base}{tenant}/oauth2/v2.0/authorize")
        );
        assert_eq!(
            meta["token_endpoint"],
            format!("{base}{tenant}/oauth2/v2.0/token")
        );
        assert!(meta["code_challenge_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&"S256".into()));
        assert!(
            meta.get("revocation_endpoint").is_none(),
            "Microsoft has none"
        );
    }

    let contoso = cloud.identity().tenant_id("contoso").unwrap();
    for segment in [contoso.clone(), "contoso.example".to_string()] {
        let meta: Value = http()
            .get(cloud.identity().metadata_url(&segment))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(meta["issuer"], format!("{base}{contoso}/v2.0"));
        assert_eq!(
            meta["token_endpoint"],
            format!("{base}{contoso}/oauth2/v2.0/token")
        );
    }
    let keys: Value = http()
        .get(format!("{base}organizations/discovery/v2.0/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["keys"], serde_json::json!([]));

    for unknown in ["consumers", "nowhere.example"] {
        let response = http()
            .get(cloud.identity().metadata_url(unknown))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_tenant");
        assert_eq!(body["error_codes"], serde_json::json!([90002]));
    }
    cloud.shutdown().await;
}

#[tokio::test]
async fn code_flow_with_pkce_returns_microsofts_token_response() {
    let cloud = start().await;
    let (code, verifier) = code_for(&cloud, ALICE, SCOPES);
    let response = http()
        .post(
            cloud
                .identity_url
                .join("organizations/oauth2/v2.0/token")
                .unwrap(),
        )
        .form(&[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", MICROSOFT_APP_REDIRECT_URI),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("no-store"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "Files.ReadWrite User.Read");
    assert_eq!(body["expires_in"], 4500);
    assert_eq!(body["ext_expires_in"], 4500);
    assert!(body["access_token"].as_str().unwrap().len() >= 43);
    assert!(body["refresh_token"].is_string());
    assert!(body.get("id_token").is_none());
    assert_eq!(
        graph(&cloud, &access(&body), "GET", "me", None).await.body["mail"],
        ALICE.0
    );

    // Resource-prefixed scopes are the same permissions; no offline_access, no refresh token.
    let body = sign_in_with(
        &cloud,
        BOB,
        "https://graph.microsoft.com/Files.ReadWrite https://graph.microsoft.com/User.Read",
    )
    .await;
    assert_eq!(body["scope"], "Files.ReadWrite User.Read");
    assert!(body.get("refresh_token").is_none());
    let stats = cloud.identity().stats();
    assert_eq!(stats.authorization_code_requests(), 2);
    assert_eq!(stats.login_attempts(), 2);
    cloud.shutdown().await;
}

#[tokio::test]
async fn authorize_refuses_unregistered_clients_weak_pkce_and_broad_scopes() {
    let cloud = start().await;
    let (_, challenge) = pkce();
    let good = authorize_url(&cloud, "organizations", &challenge, SCOPES);
    let with = |name: &str, value: Option<&str>| {
        let mut url = good.clone();
        let pairs: Vec<(String, String)> = good
            .query_pairs()
            .filter(|(k, _)| k != name)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        {
            let mut query = url.query_pairs_mut();
            query.clear();
            for (k, v) in &pairs {
                query.append_pair(k, v);
            }
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        url
    };
    let login = |url: &url::Url| cloud.identity().browser_login(url, ALICE.0, ALICE.1);

    // Client and redirect problems stay on the page.
    let err = login(&with("client_id", Some("roger-mobile"))).unwrap_err();
    assert!(err.to_string().contains("AADSTS700016"), "{err}");
    let err = login(&with("redirect_uri", Some("https://evil.example/cb"))).unwrap_err();
    assert!(err.to_string().contains("AADSTS50011"), "{err}");

    // Others are redirected with an AADSTS description.
    let cases = [
        (
            with("code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (with("code_challenge", None), "invalid_request"),
        (with("scope", None), "invalid_request"),
        (
            with("scope", Some("Files.ReadWrite.All offline_access")),
            "invalid_scope",
        ),
        (
            with("scope", Some("openid Files.ReadWrite")),
            "invalid_scope",
        ),
        (
            with("scope", Some("https://graph.microsoft.com/.default")),
            "invalid_scope",
        ),
        (
            with("response_type", Some("token")),
            "unsupported_response_type",
        ),
    ];
    for (url, error) in cases {
        let redirect = login(&url).unwrap();
        assert_eq!(
            query_param(&redirect, "error").as_deref(),
            Some(error),
            "{url}"
        );
        assert!(query_param(&redirect, "error_description")
            .unwrap()
            .starts_with("AADSTS"));
        assert_eq!(query_param(&redirect, "state").as_deref(), Some("st-42"));
    }

    // The loopback redirect of the CLI, any port.
    let loopback = with("redirect_uri", Some("http://127.0.0.1:53682/callback"));
    let redirect = login(&loopback).unwrap();
    assert_eq!(redirect.port(), Some(53682));
    assert!(query_param(&redirect, "code").is_some());
    assert!(query_param(&redirect, "session_state").is_some());

    let denied = cloud.identity().browser_deny(&good).unwrap();
    assert_eq!(
        query_param(&denied, "error").as_deref(),
        Some("access_denied")
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn the_sign_in_form_posts_like_a_browser() {
    let cloud = start().await;
    let (_, challenge) = pkce();
    let url = authorize_url(&cloud, "organizations", &challenge, SCOPES);
    let page = http().get(url.clone()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"code_challenge\""));
    assert!(html.contains("action=\"/organizations/oauth2/v2.0/authorize\""));

    let mut form: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    form.push(("username".into(), ALICE.0.into()));
    let endpoint = cloud
        .identity_url
        .join("organizations/oauth2/v2.0/authorize")
        .unwrap();
    let mut wrong = form.clone();
    wrong.push(("password".into(), "nope".into()));
    let response = http()
        .post(endpoint.clone())
        .form(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("AADSTS50126"));

    form.push(("password".into(), ALICE.1.into()));
    let response = http().post(endpoint).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(MICROSOFT_APP_REDIRECT_URI));
    assert!(query_param(&location, "code").is_some());
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-42"));
    assert_eq!(cloud.identity().stats().login_attempts(), 2);
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_tenant_authority_admits_only_its_own_users() {
    let cloud = start().await;
    let contoso = cloud.identity().tenant_id("contoso").unwrap();
    let (_, challenge) = pkce();
    let url = authorize_url(&cloud, &contoso, &challenge, SCOPES);
    assert!(cloud
        .identity()
        .browser_login(&url, ALICE.0, ALICE.1)
        .is_ok());
    let err = cloud
        .identity()
        .browser_login(&url, CAROL.0, CAROL.1)
        .unwrap_err();
    assert!(err.to_string().contains("AADSTS50020"), "{err}");
    let err = cloud
        .identity()
        .browser_login(&url, "nobody@contoso.example", "x")
        .unwrap_err();
    assert!(err.to_string().contains("AADSTS50034"), "{err}");
    cloud.shutdown().await;
}

#[tokio::test]
async fn token_errors_carry_microsofts_diagnostics() {
    let cloud = start().await;
    let (code, verifier) = code_for(&cloud, ALICE, SCOPES);

    let (status, body) = redeem(&cloud, &code, &"x".repeat(43)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_codes"], serde_json::json!([501481]));
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with("AADSTS501481: "));
    assert!(description.contains("Trace ID: ") && description.contains("Correlation ID: "));
    let timestamp = body["timestamp"].as_str().unwrap();
    assert_eq!(timestamp.len(), "2016-01-09 02:02:12Z".len(), "{timestamp}");
    assert_eq!(body["trace_id"].as_str().unwrap().len(), 36);
    assert_eq!(body["correlation_id"].as_str().unwrap().len(), 36);
    assert!(body["error_uri"]
        .as_str()
        .unwrap()
        .ends_with("error?code=501481"));

    // The correlation id echoes client-request-id (MSAL sends one).
    let response = http()
        .post(
            cloud
                .identity_url
                .join("organizations/oauth2/v2.0/token")
                .unwrap(),
        )
        .header("client-request-id", "11111111-2222-3333-4444-555555555555")
        .form(&[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("grant_type", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["correlation_id"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(
        body["error_codes"],
        serde_json::json!([900144]),
        "missing refresh_token"
    );

    let (status, tokens) = redeem(&cloud, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK);
    // A replayed code is refused and revokes what it minted.
    let (_, body) = redeem(&cloud, &code, &verifier).await;
    assert_eq!(body["error_codes"], serde_json::json!([54005]));
    let me = graph(&cloud, &access(&tokens), "GET", "me", None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&cloud, &rt(&tokens)).await.1["error_codes"],
        serde_json::json!([50173])
    );

    // Redirect mismatch, expiry.
    let (code, verifier) = code_for(&cloud, ALICE, SCOPES);
    let (_, body) = token(
        &cloud,
        "organizations",
        &[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(body["error_codes"], serde_json::json!([50011]));
    cloud.clock().advance(Duration::from_secs(601));
    assert_eq!(
        redeem(&cloud, &code, &verifier).await.1["error_codes"],
        serde_json::json!([70008])
    );

    // Grant types and client authentication.
    let (_, body) = token(
        &cloud,
        "organizations",
        &[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("grant_type", "password"),
        ],
    )
    .await;
    assert_eq!(body["error"], "unsupported_grant_type");
    let (status, body) = token(
        &cloud,
        "organizations",
        &[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("client_secret", "s"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (_, body) = token(
        &cloud,
        "organizations",
        &[
            ("client_id", "roger-mobile"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(body["error"], "unauthorized_client");
    let (_, body) = token(
        &cloud,
        "nowhere.example",
        &[("grant_type", "refresh_token")],
    )
    .await;
    assert_eq!(body["error_codes"], serde_json::json!([90002]));
    assert!(cloud.identity().stats().token_errors() >= 9);
    cloud.shutdown().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let cloud = start().await;
    let first = sign_in_with(&cloud, ALICE, SCOPES).await;
    let (status, second) = refresh(&cloud, &rt(&first)).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(rt(&first), rt(&second), "rotated");
    assert_eq!(second["scope"], "Files.ReadWrite User.Read");
    let (status, third) = refresh(&cloud, &rt(&second)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        graph(&cloud, &access(&third), "GET", "me", None)
            .await
            .status,
        StatusCode::OK
    );

    // The spent first token comes back: the whole family dies.
    let (status, body) = refresh(&cloud, &rt(&first)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(body["error_codes"], serde_json::json!([50173]));
    assert_eq!(
        refresh(&cloud, &rt(&third)).await.1["error_codes"],
        serde_json::json!([50173])
    );
    let me = graph(&cloud, &access(&third), "GET", "me", None).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken")
    );
    let stats = cloud.identity().stats();
    assert_eq!(stats.refresh_requests(), 4);
    assert_eq!(stats.reuse_detections(), 1);

    // Another sign-in is a separate family.
    let other = sign_in_with(&cloud, ALICE, SCOPES).await;
    assert_eq!(refresh(&cloud, &rt(&other)).await.0, StatusCode::OK);
    cloud.shutdown().await;
}

#[tokio::test]
async fn refresh_tokens_slide_and_expire_after_inactivity() {
    let mut config = SimConfig::default();
    config.microsoft.refresh_token_secs = 100;
    let cloud = start_with(config).await;
    let mut tokens = sign_in_with(&cloud, ALICE, SCOPES).await;
    for _ in 0..3 {
        cloud.clock().advance(Duration::from_secs(60));
        let (status, next) = refresh(&cloud, &rt(&tokens)).await;
        assert_eq!(status, StatusCode::OK, "used within 100 s: {next}");
        tokens = next;
    }
    cloud.clock().advance(Duration::from_secs(101));
    let (_, body) = refresh(&cloud, &rt(&tokens)).await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_codes"], serde_json::json!([700082]));
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_never_widen_it() {
    let cloud = start().await;
    let tokens = sign_in_with(&cloud, ALICE, "User.Read offline_access").await;
    let (_, body) = token(
        &cloud,
        "organizations",
        &[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt(&tokens)),
            ("scope", "Files.ReadWrite offline_access"),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_scope");
    let drive = graph(&cloud, &access(&tokens), "GET", "me/drive", None).await;
    assert_eq!(
        (drive.status, drive.code()),
        (StatusCode::FORBIDDEN, "accessDenied")
    );

    let full = sign_in_with(&cloud, BOB, SCOPES).await;
    let (status, narrowed) = token(
        &cloud,
        "organizations",
        &[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt(&full)),
            ("scope", "https://graph.microsoft.com/User.Read"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(narrowed["scope"], "User.Read");
    assert!(narrowed["refresh_token"].is_string(), "offline access kept");
    cloud.shutdown().await;
}

#[tokio::test]
async fn an_administrator_can_revoke_a_users_sessions() {
    let cloud = start().await;
    let tokens = sign_in_with(&cloud, ALICE, SCOPES).await;
    assert_eq!(cloud.identity().revoke_user_sessions(ALICE.0), 2);
    assert_eq!(
        refresh(&cloud, &rt(&tokens)).await.1["error_codes"],
        serde_json::json!([50173])
    );
    let me = graph(&cloud, &access(&tokens), "GET", "me", None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    cloud.shutdown().await;
}

#[tokio::test]
async fn there_is_no_revocation_endpoint() {
    let cloud = start().await;
    let response = http()
        .post(
            cloud
                .identity_url
                .join("organizations/oauth2/v2.0/revoke")
                .unwrap(),
        )
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    cloud.shutdown().await;
}
