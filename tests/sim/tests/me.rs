//! `GET /api/v1/me`: the user a token belongs to; printer tokens and bad tokens are refused.

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn me_names_the_user_of_the_token() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let tokens = sign_in(eu, ALICE).await;
    let (status, body) = api(eu, "GET", "/api/v1/me", &access(&tokens), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "alice@contoso.example");
    assert_eq!(body["name"], "Alice Martin");
    assert_eq!(body["id"], eu.user_id("alice@contoso.example").unwrap());
    assert_eq!(body["tenant"]["id"], "contoso");

    let (status, _) = api(eu, "GET", "/api/v1/me", "not-a-token", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_printer_session_token_is_not_a_user() {
    let cloud = start().await;
    let eu = cloud.region("eu").unwrap();
    let user = sign_in(eu, ALICE).await;
    let (_step1, step2) = printer_login(eu, RECEPTION, &access(&user)).await;
    let (status, body) = api(eu, "GET", "/api/v1/me", &access(&step2), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
