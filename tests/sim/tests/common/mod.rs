//! Helpers shared by the protocol tests: a client, PKCE, sign-in, printer login, API calls.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Client, Response, StatusCode};
use roger_sim::config::{APP_REDIRECT_URI, PUBLIC_CLIENT_ID};
use roger_sim::{Cloud, CloudHandle, RegionHandle, SimConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

pub const ALICE: (&str, &str) = ("alice@contoso.example", "alice-password");
pub const BOB: (&str, &str) = ("bob@contoso.example", "bob-password");
pub const CAROL: (&str, &str) = ("carol@fabrikam.example", "carol-password");
pub const DAVE: (&str, &str) = ("dave@northwind.example", "dave-password");
pub const RECEPTION: (&str, &str) = ("mfp-contoso-reception", "contoso-reception-secret");
pub const FLOOR2: (&str, &str) = ("mfp-contoso-floor2", "contoso-floor2-secret");
pub const FABRIKAM: (&str, &str) = ("mfp-fabrikam-lobby", "fabrikam-lobby-secret");
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub async fn start() -> CloudHandle {
    start_with(SimConfig::default()).await
}

pub async fn start_with(config: SimConfig) -> CloudHandle {
    Cloud::start(config).await.expect("cloud starts")
}

/// A client that does not follow redirects (the redirect is the answer).
pub fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn url(region: &RegionHandle, path: &str) -> String {
    format!("{}{}", region.issuer, path)
}

/// `(verifier, challenge)`.
pub fn pkce() -> (String, String) {
    let verifier = format!("verifier-{:0>40}", rand_suffix());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}", N.fetch_add(1, Ordering::Relaxed) + 1000)
}

pub fn authorize_url(region: &RegionHandle, challenge: &str, redirect: &str) -> Url {
    let mut url = Url::parse(&url(region, "/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", PUBLIC_CLIENT_ID)
        .append_pair("redirect_uri", redirect)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "st-123");
    url
}

pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub async fn post_form(
    region: &RegionHandle,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = http()
        .post(url(region, path))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn token(region: &RegionHandle, form: &[(&str, &str)]) -> (StatusCode, Value) {
    post_form(region, "/oauth/token", form).await
}

/// Signs in through the browser step and exchanges the code: the token response.
pub async fn sign_in(region: &RegionHandle, user: (&str, &str)) -> Value {
    let (verifier, challenge) = pkce();
    let redirect = region
        .browser_login(
            &authorize_url(region, &challenge, APP_REDIRECT_URI),
            user.0,
            user.1,
        )
        .expect("login");
    let code = query_param(&redirect, "code").expect("code");
    let (status, body) = token(
        region,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", PUBLIC_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub fn access(tokens: &Value) -> String {
    tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub async fn api(
    region: &RegionHandle,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let response = api_raw(region, method, path, token, body).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn api_raw(
    region: &RegionHandle,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http().request(method, url(region, path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

/// Starts a device authorization as a printer: the response.
pub async fn device_authorization(region: &RegionHandle, printer: (&str, &str)) -> Value {
    let (status, body) = post_form(
        region,
        "/oauth/device_authorization",
        &[("client_id", printer.0), ("client_secret", printer.1)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub async fn poll(
    region: &RegionHandle,
    printer: (&str, &str),
    device_code: &str,
) -> (StatusCode, Value) {
    token(
        region,
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", printer.0),
            ("client_secret", printer.1),
        ],
    )
    .await
}

/// Printer step 2 with the credential of a step-1 response.
pub async fn step2(
    region: &RegionHandle,
    printer: (&str, &str),
    step1: &Value,
) -> (StatusCode, Value) {
    let username = format!("session:{}", step1["roger_session_id"].as_str().unwrap());
    token(
        region,
        &[
            ("grant_type", "password"),
            ("username", &username),
            ("password", step1["session_credential"].as_str().unwrap()),
            ("scope", "jobs.submit scan"),
            ("client_id", printer.0),
            ("client_secret", printer.1),
        ],
    )
    .await
}

/// The whole printer login: device authorization, approval by `user_token`, poll, step 2.
/// Returns `(step1, step2)` token responses.
pub async fn printer_login(
    region: &RegionHandle,
    printer: (&str, &str),
    user_token: &str,
) -> (Value, Value) {
    let device = device_authorization(region, printer).await;
    let code = device["user_code"].as_str().unwrap();
    let (status, body) = api(
        region,
        "POST",
        &format!("/api/v1/pairings/{code}/approve"),
        user_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, step1) = poll(region, printer, device["device_code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{step1}");
    let (status, step2) = step2(region, printer, &step1).await;
    assert_eq!(status, StatusCode::OK, "{step2}");
    (step1, step2)
}

pub fn job_body(file_name: &str) -> Value {
    json!({
        "fileName": file_name,
        "size": 12345,
        "contentType": "application/pdf",
        "downloadUrl": "https://files.example/download?sig=pre-authenticated",
        "options": { "copies": 2, "duplex": "longEdge", "color": true, "pageRanges": "1-3,5" }
    })
}

pub async fn create_job(region: &RegionHandle, token: &str, file_name: &str) -> String {
    let (status, body) = api(
        region,
        "POST",
        "/api/v1/jobs",
        token,
        Some(job_body(file_name)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}
