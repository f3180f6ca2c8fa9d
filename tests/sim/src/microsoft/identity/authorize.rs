//! `GET|POST /{tenant}/oauth2/v2.0/authorize`: the sign-in page and the code redirect.
//!
//! Problems with the client or its redirect URI are shown on the page (never redirected); the
//! others go back to the client as `error`/`error_description` (with an AADSTS code) and `state`.
//! The emulator requires PKCE with S256 from the public client.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use url::Url;

use crate::oauth::browser::{page, LoginPage};

use super::store::{parse_scopes, AuthCode, Scope};
use super::{parse_form, IdentityCounter};
use crate::extract::parse_unique_pairs;
use crate::microsoft::directory::{random_guid, Authority};
use crate::microsoft::{MsShared, MsState};
use crate::oauth::authorize::{escape, redirect_allowed};
use crate::secret::{new_token, verify_password, SecretHash};

/// A validated authorization request (also the hidden fields of the form).
#[derive(Debug)]
pub struct AuthRequest {
    tenant_segment: String,
    authority: Authority,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    state: Option<String>,
    scope: String,
    scopes: BTreeSet<Scope>,
    login_hint: Option<String>,
}

/// How an authorization request ends.
pub type Outcome = crate::oauth::browser::Outcome<AuthRequest>;

impl LoginPage for AuthRequest {
    fn render(message: &str, form: Option<&Self>) -> String {
        render_page(message, form)
    }
}

fn error_redirect(
    redirect: &str,
    request_state: Option<&str>,
    error: &str,
    code: u32,
    description: &str,
) -> Outcome {
    let Ok(mut url) = Url::parse(redirect) else {
        return page(StatusCode::BAD_REQUEST, "AADSTS50011: invalid redirect_uri");
    };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("error", error);
        query.append_pair("error_description", &format!("AADSTS{code}: {description}"));
        if let Some(s) = request_state {
            query.append_pair("state", s);
        }
    }
    Outcome::Redirect(url)
}

fn validate(
    state: &MsState,
    tenant: &str,
    params: &HashMap<String, String>,
) -> Result<AuthRequest, Outcome> {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let Some(authority) = state.directory.authority(tenant) else {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "AADSTS90002: Tenant not found.",
        ));
    };
    let app = &state.ms().client_id;
    if get("client_id") != Some(app.as_str()) {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "AADSTS700016: Application with the given identifier was not found in the directory.",
        ));
    }
    let Some(redirect_uri) = get("redirect_uri")
        .filter(|r| r.len() <= 2048 && redirect_allowed(&state.ms().redirect_uris, r))
    else {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured for the application.",
        ));
    };
    let request_state = get("state");
    let fail = |error: &str, code: u32, description: &str| {
        Err(error_redirect(
            redirect_uri,
            request_state,
            error,
            code,
            description,
        ))
    };
    if request_state.is_some_and(|s| s.len() > 2048) {
        return fail("invalid_request", 90014, "state is too long.");
    }
    if get("response_type") != Some("code") {
        return fail(
            "unsupported_response_type",
            700054,
            "Only response_type 'code' is enabled for this application.",
        );
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return fail(
            "invalid_request",
            90014,
            "The emulator supports response_mode=query only.",
        );
    }
    let Some(scope) = get("scope") else {
        return fail(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    let scopes = match parse_scopes(scope) {
        Ok(scopes) => scopes,
        Err(message) => return fail("invalid_scope", 70011, &message),
    };
    let Some(code_challenge) = get("code_challenge") else {
        return fail(
            "invalid_request",
            9002325,
            "Proof Key for Code Exchange is required: send code_challenge with code_challenge_method=S256.",
        );
    };
    if get("code_challenge_method") != Some("S256") {
        return fail(
            "invalid_request",
            9002325,
            "code_challenge_method must be S256.",
        );
    }
    let well_formed = code_challenge.len() == 43
        && code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return fail(
            "invalid_request",
            9002325,
            "code_challenge must be a base64url SHA-256 (43 characters).",
        );
    }
    Ok(AuthRequest {
        tenant_segment: tenant.to_string(),
        authority,
        client_id: app.clone(),
        redirect_uri: redirect_uri.to_string(),
        code_challenge: code_challenge.to_string(),
        state: request_state.map(String::from),
        scope: scope.to_string(),
        scopes,
        login_hint: get("login_hint")
            .filter(|h| h.len() <= 254)
            .map(String::from),
    })
}

/// Decides a submitted sign-in: the path of the form post and of
/// [`crate::IdentityHandle::browser_login`].
pub fn decide(state: &MsState, tenant: &str, params: &HashMap<String, String>) -> Outcome {
    let request = match validate(state, tenant, params) {
        Ok(request) => request,
        Err(outcome) => return outcome,
    };
    if params.get("action").map(String::as_str) == Some("deny") {
        return error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            65004,
            "User declined to consent to access the app.",
        );
    }
    state.identity_stats.count(IdentityCounter::Login);
    let username = params
        .get("username")
        .map(String::as_str)
        .unwrap_or_default();
    let password = params
        .get("password")
        .map(String::as_str)
        .unwrap_or_default();
    let Some(user) = state
        .directory
        .user_by_upn(username)
        .filter(|_| username.len() <= 254 && password.len() <= 1024)
    else {
        return retry_page(
            "AADSTS50034: The user account does not exist in this directory.",
            request,
        );
    };
    if !verify_password(password, &user.password_hash) {
        return retry_page(
            "AADSTS50126: Error validating credentials due to invalid username or password.",
            request,
        );
    }
    if !state.directory.admits(&request.authority, user) {
        return retry_page(
            "AADSTS50020: The user account does not exist in this tenant.",
            request,
        );
    }
    let code = new_token();
    let now = state.now();
    state.auth().codes.insert(
        SecretHash::of(&code),
        AuthCode {
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            user_id: user.id.clone(),
            scopes: request.scopes.clone(),
            expires_at: now.plus(Duration::from_secs(state.ms().authorization_code_secs)),
            redeemed_family: None,
        },
    );
    tracing::info!(user = %user.id, "Microsoft authorization code issued");
    let Ok(mut url) = Url::parse(&request.redirect_uri) else {
        return page(StatusCode::BAD_REQUEST, "AADSTS50011: invalid redirect_uri");
    };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("code", &code);
        if let Some(s) = &request.state {
            query.append_pair("state", s);
        }
        query.append_pair("session_state", &random_guid());
    }
    Outcome::Redirect(url)
}

/// The sign-in page again (401) with `message` and the request's fields kept.
fn retry_page(message: &str, request: AuthRequest) -> Outcome {
    Outcome::Page {
        status: StatusCode::UNAUTHORIZED,
        message: message.to_string(),
        form: Some(Box::new(request)),
    }
}

/// `GET`: the sign-in page.
pub async fn show_form(
    State(state): State<MsShared>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Outcome {
    let params = match parse_unique_pairs(query.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(message) => return page(StatusCode::BAD_REQUEST, message),
    };
    match validate(&state, &tenant, &params) {
        Ok(request) => Outcome::Page {
            status: StatusCode::OK,
            message: String::new(),
            form: Some(Box::new(request)),
        },
        Err(outcome) => outcome,
    }
}

/// `POST`: the form with credentials (or a refusal) and the request in hidden fields.
pub async fn submit_form(
    State(state): State<MsShared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Outcome {
    match parse_form(&headers, &body) {
        Ok(params) => decide(&state, &tenant, &params),
        Err(_) => page(StatusCode::BAD_REQUEST, "AADSTS90014: malformed form"),
    }
}

fn render_page(message: &str, form: Option<&AuthRequest>) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head><body><h1>Microsoft (emulated) sign-in</h1>",
    );
    if !message.is_empty() {
        html.push_str(&format!("<p role=\"alert\">{}</p>", escape(message)));
    }
    if let Some(request) = form {
        html.push_str(&format!(
            "<form method=\"post\" action=\"/{}/oauth2/v2.0/authorize\">",
            escape(&request.tenant_segment)
        ));
        let hidden = [
            ("response_type", Some("code")),
            ("client_id", Some(request.client_id.as_str())),
            ("redirect_uri", Some(request.redirect_uri.as_str())),
            ("scope", Some(request.scope.as_str())),
            ("code_challenge", Some(request.code_challenge.as_str())),
            ("code_challenge_method", Some("S256")),
            ("state", request.state.as_deref()),
        ];
        for (name, value) in hidden {
            if let Some(value) = value {
                html.push_str(&format!(
                    "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                    escape(value)
                ));
            }
        }
        html.push_str(&format!(
            "<label>Email <input name=\"username\" type=\"email\" autocomplete=\"username\" value=\"{}\"></label>\
             <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\
             <button name=\"action\" value=\"approve\">Sign in</button>\
             <button name=\"action\" value=\"deny\">Cancel</button></form>",
            escape(request.login_hint.as_deref().unwrap_or_default())
        ));
    }
    html.push_str("</body></html>");
    html
}
