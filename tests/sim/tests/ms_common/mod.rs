//! Helpers shared by the Microsoft identity and Graph emulator tests.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use roger_sim::config::{MICROSOFT_APP_REDIRECT_URI, MICROSOFT_CLIENT_ID};
use roger_sim::{Cloud, CloudHandle, SimConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

pub const ALICE: (&str, &str) = ("alice@contoso.example", "alice-password");
pub const BOB: (&str, &str) = ("bob@contoso.example", "bob-password");
pub const CAROL: (&str, &str) = ("carol@fabrikam.example", "carol-password");
pub const SCOPES: &str = "Files.ReadWrite offline_access User.Read";
pub const KIB320: usize = 320 * 1024;

pub async fn start() -> CloudHandle {
    start_with(SimConfig::default()).await
}

/// A world without simulated MFPs: these tests only need the Microsoft hosts.
pub async fn start_with(mut config: SimConfig) -> CloudHandle {
    config.mfps.clear();
    config.password_hash_iterations = 1;
    Cloud::start(config).await.expect("cloud starts")
}

/// A client that does not follow redirects.
pub fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `(verifier, challenge)`.
pub fn pkce() -> (String, String) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let verifier = format!("ms-verifier-{:0>40}", N.fetch_add(1, Ordering::Relaxed));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn authorize_url(cloud: &CloudHandle, tenant: &str, challenge: &str, scope: &str) -> Url {
    let mut url = cloud
        .identity_url
        .join(&format!("{tenant}/oauth2/v2.0/authorize"))
        .unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", MICROSOFT_CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", MICROSOFT_APP_REDIRECT_URI)
        .append_pair("scope", scope)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "st-42");
    url
}

pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub async fn token(
    cloud: &CloudHandle,
    tenant: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = http()
        .post(
            cloud
                .identity_url
                .join(&format!("{tenant}/oauth2/v2.0/token"))
                .unwrap(),
        )
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A code for `user` with `scope` through the scripted browser: `(code, verifier)`.
pub fn code_for(cloud: &CloudHandle, user: (&str, &str), scope: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let redirect = cloud
        .identity()
        .browser_login(
            &authorize_url(cloud, "organizations", &challenge, scope),
            user.0,
            user.1,
        )
        .expect("login");
    (query_param(&redirect, "code").expect("code"), verifier)
}

pub async fn redeem(cloud: &CloudHandle, code: &str, verifier: &str) -> (StatusCode, Value) {
    token(
        cloud,
        "organizations",
        &[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", MICROSOFT_APP_REDIRECT_URI),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Signs in with `scope`: the token response.
pub async fn sign_in_with(cloud: &CloudHandle, user: (&str, &str), scope: &str) -> Value {
    let (code, verifier) = code_for(cloud, user, scope);
    let (status, body) = redeem(cloud, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Signs in with the Roger app's scopes: the access token.
pub async fn sign_in(cloud: &CloudHandle, user: (&str, &str)) -> String {
    access(&sign_in_with(cloud, user, SCOPES).await)
}

pub async fn refresh(cloud: &CloudHandle, refresh_token: &str) -> (StatusCode, Value) {
    token(
        cloud,
        "organizations",
        &[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

pub fn access(tokens: &Value) -> String {
    tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub fn rt(tokens: &Value) -> String {
    tokens["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string()
}

/// A Graph answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<none>")
    }

    pub fn inner_code(&self) -> &str {
        self.body["error"]["innerError"]["code"]
            .as_str()
            .unwrap_or("<none>")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// `method {graph_url}{path}` with the bearer token and an optional JSON body.
pub async fn graph(
    cloud: &CloudHandle,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let url = format!("{}{}", cloud.graph_url, path.trim_start_matches('/'));
    graph_url(token, method, &url, body).await
}

/// Like [`graph`] with an absolute URL (e.g. an `@odata.nextLink`).
pub async fn graph_url(token: &str, method: &str, url: &str, body: Option<Value>) -> Answer {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    answer(request.send().await.unwrap()).await
}

/// `PUT …/content` with raw bytes.
pub async fn put_content(cloud: &CloudHandle, token: &str, path: &str, bytes: Vec<u8>) -> Answer {
    let url = format!("{}{}", cloud.graph_url, path.trim_start_matches('/'));
    answer(
        http()
            .put(url)
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A fragment PUT to an upload URL (no Authorization header).
pub async fn put_fragment(upload_url: &str, bytes: &[u8], start: usize, total: usize) -> Answer {
    answer(
        http()
            .put(upload_url)
            .header(
                "content-range",
                format!("bytes {start}-{}/{total}", start + bytes.len() - 1),
            )
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A plain GET of an absolute URL without Authorization (content host).
pub async fn fetch(url: &str) -> reqwest::Response {
    http().get(url).send().await.unwrap()
}

/// Deterministic test bytes.
pub fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

/// Percent-encodes a name for a path segment (what graph-rs-sdk does).
pub fn enc(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Creates a folder under the root: the driveItem.
pub async fn mkdir(cloud: &CloudHandle, token: &str, name: &str) -> Value {
    let answer = graph(
        cloud,
        token,
        "POST",
        "me/drive/root/children",
        Some(serde_json::json!({"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    answer.body
}
