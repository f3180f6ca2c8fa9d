//! The authorization endpoint: authorization code with PKCE S256 only (RFC 6749 §4.1, RFC 7636,
//! RFC 9207 `iss`), exact redirect matching with any port for the loopback redirect (RFC 8252 §7.3).
//!
//! `GET /oauth/authorize` shows a login form; `POST /oauth/authorize` with the same parameters
//! plus `username`, `password` (and `action=deny` to refuse) is the browser step that tests drive.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use url::Url;

use crate::oauth::browser::{page, LoginPage};

use super::{parse_scopes, USER_SCOPES};
use crate::extract::{parse_unique_pairs, OAuthForm};
use crate::region::{RegionState, Shared};
use crate::secret::{new_token, verify_password, SecretHash};
use crate::stats::Counter;
use crate::store::AuthCode;

/// The parameters of a valid authorization request.
#[derive(Clone, Debug)]
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    state: Option<String>,
    scope: Option<String>,
    scopes: BTreeSet<String>,
}

/// Hidden fields the login form carries over.
#[derive(Debug)]
pub struct FormFields(AuthRequest);

/// How an authorization request ends.
pub type Outcome = crate::oauth::browser::Outcome<FormFields>;

impl LoginPage for FormFields {
    fn render(message: &str, form: Option<&Self>) -> String {
        render_page(message, form)
    }
}

/// Whether `candidate` is registered: an exact match, or the loopback URI with any port.
pub(crate) fn redirect_allowed(registered: &[String], candidate: &str) -> bool {
    if registered.iter().any(|r| r == candidate) {
        return true;
    }
    let Ok(mut url) = Url::parse(candidate) else {
        return false;
    };
    let is_loopback_ip = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    if url.scheme() != "http" || !is_loopback_ip || url.as_str() != candidate {
        return false;
    }
    if url.set_port(None).is_err() {
        return false;
    }
    registered.iter().any(|r| r == url.as_str())
}

fn error_redirect(
    state: &RegionState,
    request_state: Option<&str>,
    redirect: &str,
    error: &str,
    description: &str,
) -> Outcome {
    match Url::parse(redirect) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("error", error);
                query.append_pair("error_description", description);
                if let Some(s) = request_state {
                    query.append_pair("state", s);
                }
                query.append_pair("iss", &state.issuer);
            }
            Outcome::Redirect(url)
        }
        Err(_) => page(StatusCode::BAD_REQUEST, "invalid redirect_uri"),
    }
}

/// Validates an authorization request: errors about the client or redirect are shown, others
/// are redirected to the client (RFC 6749 §4.1.2.1).
fn validate(state: &RegionState, params: &HashMap<String, String>) -> Result<AuthRequest, Outcome> {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let client = &state.config.public_client;
    if get("client_id") != Some(client.client_id.as_str()) {
        return Err(page(StatusCode::BAD_REQUEST, "unknown client_id"));
    }
    let Some(redirect_uri) =
        get("redirect_uri").filter(|r| redirect_allowed(&client.redirect_uris, r))
    else {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "redirect_uri is missing or not registered for this client",
        ));
    };
    let request_state = get("state");
    let fail = |error: &str, description: &str| {
        Err(error_redirect(
            state,
            request_state,
            redirect_uri,
            error,
            description,
        ))
    };
    if request_state.is_some_and(|s| s.chars().count() > 512) {
        return fail("invalid_request", "state is longer than 512 characters");
    }
    if get("response_type") != Some("code") {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    let Some(code_challenge) = get("code_challenge") else {
        return fail(
            "invalid_request",
            "PKCE is required: send code_challenge with S256",
        );
    };
    if get("code_challenge_method") != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    let well_formed = code_challenge.len() == 43
        && code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return fail(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 (43 characters)",
        );
    }
    let scopes = match parse_scopes(get("scope"), USER_SCOPES, USER_SCOPES) {
        Ok(scopes) => scopes,
        Err(_) => return fail("invalid_scope", "a requested scope is not available"),
    };
    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        code_challenge: code_challenge.to_string(),
        state: request_state.map(String::from),
        scope: get("scope").map(String::from),
        scopes,
    })
}

/// Decides a submitted login form: the shared path of `POST /oauth/authorize` and of
/// [`crate::RegionHandle::browser_login`].
pub fn decide(state: &RegionState, params: &HashMap<String, String>) -> Outcome {
    let request = match validate(state, params) {
        Ok(request) => request,
        Err(outcome) => return outcome,
    };
    let action = params
        .get("action")
        .map(String::as_str)
        .filter(|a| !a.is_empty());
    let (error, description) = match action {
        None | Some("approve") => ("", ""),
        Some("deny") => ("access_denied", "the user denied the request"),
        Some(_) => ("invalid_request", "action must be approve or deny"),
    };
    if !error.is_empty() {
        return error_redirect(
            state,
            request.state.as_deref(),
            &request.redirect_uri,
            error,
            description,
        );
    }
    state.stats.count(Counter::Login);
    let username = params
        .get("username")
        .map(String::as_str)
        .unwrap_or_default();
    let password = params
        .get("password")
        .map(String::as_str)
        .unwrap_or_default();
    let mut store = state.lock();
    let user_id = store
        .user_by_email(username)
        .filter(|_| username.len() <= 254 && password.len() <= 1024)
        .filter(|u| verify_password(password, &u.password_hash))
        .map(|u| u.id.clone());
    let Some(user_id) = user_id else {
        return Outcome::Page {
            status: StatusCode::UNAUTHORIZED,
            message: "Wrong e-mail or password.".into(),
            form: Some(Box::new(FormFields(request))),
        };
    };
    let code = new_token();
    let now = state.now();
    store.auth_codes.insert(
        SecretHash::of(&code),
        AuthCode {
            client_id: request.client_id,
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge,
            user_id: user_id.clone(),
            scopes: request.scopes,
            expires_at: now.plus(Duration::from_secs(
                state.config.lifetimes.authorization_code_secs,
            )),
            redeemed_family: None,
        },
    );
    tracing::info!(user = %user_id, "authorization code issued");
    let Ok(mut url) = Url::parse(&request.redirect_uri) else {
        return page(StatusCode::BAD_REQUEST, "invalid redirect_uri");
    };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("code", &code);
        if let Some(s) = &request.state {
            query.append_pair("state", s);
        }
        query.append_pair("iss", &state.issuer);
    }
    Outcome::Redirect(url)
}

/// `GET /oauth/authorize`: the login form.
pub async fn show_form(State(state): State<Shared>, RawQuery(query): RawQuery) -> Outcome {
    let params = match parse_unique_pairs(query.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(message) => return page(StatusCode::BAD_REQUEST, message),
    };
    match validate(&state, &params) {
        Ok(request) => Outcome::Page {
            status: StatusCode::OK,
            message: String::new(),
            form: Some(Box::new(FormFields(request))),
        },
        Err(outcome) => outcome,
    }
}

/// `POST /oauth/authorize`: credentials (or a refusal) for the request in the hidden fields.
pub async fn submit_form(State(state): State<Shared>, form: OAuthForm) -> Outcome {
    decide(&state, &form.0)
}

pub(crate) fn escape(text: &str) -> String {
    text.chars()
        .fold(String::with_capacity(text.len()), |mut out, c| {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
            out
        })
}

fn render_page(message: &str, form: Option<&FormFields>) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Roger sign-in</title></head><body><h1>Sign in to Roger</h1>",
    );
    if !message.is_empty() {
        html.push_str(&format!("<p role=\"alert\">{}</p>", escape(message)));
    }
    if let Some(FormFields(request)) = form {
        html.push_str("<form method=\"post\" action=\"/oauth/authorize\">");
        let hidden = [
            ("response_type", Some("code")),
            ("client_id", Some(request.client_id.as_str())),
            ("redirect_uri", Some(request.redirect_uri.as_str())),
            ("code_challenge", Some(request.code_challenge.as_str())),
            ("code_challenge_method", Some("S256")),
            ("state", request.state.as_deref()),
            ("scope", request.scope.as_deref()),
        ];
        for (name, value) in hidden {
            if let Some(value) = value {
                html.push_str(&format!(
                    "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                    escape(value)
                ));
            }
        }
        html.push_str(
            "<label>E-mail <input name=\"username\" type=\"email\" autocomplete=\"username\"></label>\
             <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\
             <button name=\"action\" value=\"approve\">Sign in</button>\
             <button name=\"action\" value=\"deny\">Cancel</button></form>",
        );
    }
    html.push_str("</body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirect_matches_any_port_only() {
        let registered = vec![
            "com.myq.roger:/oauth2redirect".to_string(),
            "http://127.0.0.1/callback".to_string(),
        ];
        assert!(redirect_allowed(
            &registered,
            "com.myq.roger:/oauth2redirect"
        ));
        assert!(redirect_allowed(&registered, "http://127.0.0.1/callback"));
        assert!(redirect_allowed(
            &registered,
            "http://127.0.0.1:53682/callback"
        ));
        assert!(!redirect_allowed(
            &registered,
            "http://127.0.0.1:53682/callback/x"
        ));
        assert!(!redirect_allowed(
            &registered,
            "http://127.0.0.1:53682/callback?x=1"
        ));
        assert!(!redirect_allowed(
            &registered,
            "http://localhost:53682/callback"
        ));
        assert!(!redirect_allowed(
            &registered,
            "https://127.0.0.1:53682/callback"
        ));
        assert!(!redirect_allowed(
            &registered,
            "com.myq.roger:/oauth2redirect/"
        ));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
