//! The region's OAuth 2.0 authorization server: shared pieces (client authentication, scopes,
//! token issuance) and one module per endpoint.

pub mod authorize;
pub mod browser;
pub mod device;
pub mod metadata;
pub mod revoke;
pub mod token;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::clock::SimTime;
use crate::config::{Lifetimes, SimConfig};
use crate::error::OAuthError;
use crate::extract::OAuthForm;
use crate::secret::{constant_time_eq, new_id, new_token, SecretHash};
use crate::store::{Store, Subject, TokenKind, TokenRecord};

/// Grant type of RFC 8628.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Scopes the public client may ask for; all of them when it asks for none.
pub const USER_SCOPES: &[&str] = &["print", "scan", "pair", "offline_access"];
/// Scope of printer step 1 (device grant).
pub const STEP1_SCOPES: &[&str] = &["jobs.release"];
/// Scopes of printer step 2 (session credential).
pub const STEP2_SCOPES: &[&str] = &["jobs.submit", "scan"];

/// An authenticated client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Client {
    /// The public client (phone app, CLI): identified, not authenticated.
    Public,
    /// A printer (confidential client).
    Printer {
        printer_id: String,
        client_id: String,
    },
}

impl Client {
    /// Its `client_id`.
    pub fn id<'a>(&'a self, config: &'a SimConfig) -> &'a str {
        match self {
            Client::Public => &config.public_client.client_id,
            Client::Printer { client_id, .. } => client_id,
        }
    }
}

/// Authenticates the client of a token, device-authorization or revocation request:
/// `client_secret_basic` or `client_secret_post` for printers, `client_id` alone for the public client.
pub fn authenticate_client(
    headers: &HeaderMap,
    form: &OAuthForm,
    store: &Store,
    config: &SimConfig,
) -> Result<Client, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(parse_basic(value).ok_or_else(|| OAuthError::invalid_client(true))?),
    };
    let used_basic = basic.is_some();
    let (client_id, secret) = match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ))
        }
        (Some((id, secret)), None) => {
            if form.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_client(true));
            }
            (id, Some(secret))
        }
        (None, secret) => {
            let id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client(false))?;
            (id.to_string(), secret.map(str::to_string))
        }
    };
    if client_id == config.public_client.client_id {
        return match secret {
            None => Ok(Client::Public),
            Some(_) => Err(OAuthError::invalid_client(used_basic)),
        };
    }
    let printer = store
        .printer_by_client(&client_id)
        .ok_or_else(|| OAuthError::invalid_client(used_basic))?;
    let secret = secret.ok_or_else(|| OAuthError::invalid_client(used_basic))?;
    let presented = SecretHash::of(&secret).to_string();
    if !constant_time_eq(
        presented.as_bytes(),
        printer.client_secret_hash.to_string().as_bytes(),
    ) {
        return Err(OAuthError::invalid_client(used_basic));
    }
    Ok(Client::Printer {
        printer_id: printer.id.clone(),
        client_id,
    })
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let (scheme, encoded) = value.to_str().ok()?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 1024 {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// The `scope` parameter as a set: `default` when absent, `invalid_scope` when any is not allowed.
pub fn requested_scopes(
    form: &OAuthForm,
    allowed: &[&str],
    default: &[&str],
) -> Result<BTreeSet<String>, OAuthError> {
    parse_scopes(form.get("scope"), allowed, default)
}

/// Parses a space-separated scope string against what is allowed.
pub fn parse_scopes(
    scope: Option<&str>,
    allowed: &[&str],
    default: &[&str],
) -> Result<BTreeSet<String>, OAuthError> {
    let Some(scope) = scope else {
        return Ok(default.iter().map(|s| s.to_string()).collect());
    };
    let scopes: BTreeSet<String> = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if scopes.is_empty() || scopes.len() > allowed.len() {
        return Err(OAuthError::new("invalid_scope", "invalid scope"));
    }
    match scopes.iter().find(|s| !allowed.contains(&s.as_str())) {
        Some(bad) if bad.len() <= 64 => Err(OAuthError::new(
            "invalid_scope",
            format!("scope `{bad}` is not available to this client"),
        )),
        Some(_) => Err(OAuthError::new("invalid_scope", "invalid scope")),
        None => Ok(scopes),
    }
}

/// A freshly minted token pair.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub scopes: BTreeSet<String>,
    pub family_id: String,
}

impl Store {
    /// Mints an access and a refresh token in `family` (a new family when `None`), storing
    /// only their hashes.
    pub fn issue_tokens(
        &mut self,
        family: Option<String>,
        client_id: &str,
        subject: Subject,
        scopes: BTreeSet<String>,
        now: SimTime,
        lifetimes: &Lifetimes,
    ) -> IssuedTokens {
        let family_id = family.unwrap_or_else(|| new_id("fam"));
        let access_token = new_token();
        let refresh_token = new_token();
        let record = |kind, secs| TokenRecord {
            kind,
            family_id: family_id.clone(),
            client_id: client_id.to_string(),
            subject: subject.clone(),
            scopes: scopes.clone(),
            issued_at: now,
            expires_at: now.plus(Duration::from_secs(secs)),
            rotated: false,
        };
        self.tokens.insert(
            SecretHash::of(&access_token),
            record(TokenKind::Access, lifetimes.access_token_secs),
        );
        self.tokens.insert(
            SecretHash::of(&refresh_token),
            record(TokenKind::Refresh, lifetimes.refresh_token_secs),
        );
        tracing::debug!(family = %family_id, "tokens issued");
        IssuedTokens {
            access_token,
            refresh_token,
            expires_in: lifetimes.access_token_secs,
            scopes,
            family_id,
        }
    }
}

/// The RFC 6749 §5.1 token response, plus `extra` members, with `Cache-Control: no-store`.
pub fn token_response(tokens: &IssuedTokens, extra: Map<String, Value>) -> Response {
    let mut body = json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "scope": tokens.scopes.iter().cloned().collect::<Vec<_>>().join(" "),
    });
    if let Some(object) = body.as_object_mut() {
        object.extend(extra);
    }
    no_store(Json(body))
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache`.
pub fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
