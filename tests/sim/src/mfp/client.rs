//! The MFP's HTTP client of the region API: OAuth requests with its client credentials, bearer
//! calls, bounded reads, and tokens that never reach a log.

use std::fmt;
use std::time::Duration;

use reqwest::{Client, Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::clock::SimTime;

/// Largest JSON body the MFP reads from the region API.
const MAX_JSON_BYTES: usize = 1024 * 1024;
/// Largest token, credential or code the MFP accepts.
const MAX_TOKEN_LEN: usize = 4096;
/// Timeout of one API request.
const API_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a call to the region API did not give the expected answer.
#[derive(Debug)]
pub(crate) enum CallError {
    /// No answer: connection refused or reset, timeout, body cut.
    Transport(String),
    /// An RFC 6749 error from `/oauth/*`.
    OAuth { status: u16, error: String },
    /// 401 from `/api/v1/*`: the access token is no longer valid.
    Unauthorized,
    /// Another unexpected status from `/api/v1/*`, with the error `code` if the body had one.
    Status { status: u16, code: String },
    /// An answer the MFP cannot use (not JSON, missing or oversized fields).
    Invalid(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Transport(e) => write!(f, "no answer from the server: {e}"),
            CallError::OAuth { status, error } => write!(f, "OAuth error {error} (HTTP {status})"),
            CallError::Unauthorized => f.write_str("access token refused (401)"),
            CallError::Status { status, code } => write!(f, "HTTP {status} {code}"),
            CallError::Invalid(e) => write!(f, "unusable answer: {e}"),
        }
    }
}

/// Reads at most `cap` bytes of a body; more is an error, never a truncation.
pub(crate) async fn read_bounded(mut response: Response, cap: usize) -> Result<Vec<u8>, String> {
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(format!("body larger than {cap} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
        if body.len() + chunk.len() > cap {
            return Err(format!("body larger than {cap} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport error without its URL (transfer URLs are pre-authenticated, hence secret).
pub(crate) fn transport(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "body interrupted"
    } else {
        "request failed"
    };
    kind.to_string()
}

/// A token response of the printer's client.
#[derive(Deserialize)]
struct RawTokens {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    scope: Option<String>,
    roger_session_id: Option<String>,
    session_credential: Option<String>,
}

/// One token family held by the MFP (step 1 or step 2 of the printer login).
pub(crate) struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
    pub expires_at: SimTime,
    pub scope: String,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("scope", &self.scope)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A successful token response: the tokens, plus the session fields of a device-grant success.
pub(crate) struct Granted {
    pub tokens: Tokens,
    pub session_id: Option<String>,
    pub session_credential: Option<String>,
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(Deserialize)]
pub(crate) struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri_complete: Option<String>,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: Option<u64>,
}

/// The region API as the printer's client sees it.
pub(crate) struct Api {
    base: Url,
    client_id: String,
    client_secret: String,
    http: Client,
}

impl Api {
    pub(crate) fn new(base: Url, client_id: String, client_secret: String) -> Result<Self, String> {
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(API_TIMEOUT)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            base,
            client_id,
            client_secret,
            http,
        })
    }

    fn url(&self, path: &str) -> Result<Url, CallError> {
        self.base
            .join(path)
            .map_err(|e| CallError::Invalid(format!("bad path: {e}")))
    }

    /// `POST /oauth/{endpoint}` with the printer's credentials (`client_secret_basic`).
    async fn oauth(&self, endpoint: &str, form: &[(&str, &str)]) -> Result<Value, CallError> {
        let response = self
            .http
            .post(self.url(&format!("oauth/{endpoint}"))?)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(form)
            .send()
            .await
            .map_err(|e| CallError::Transport(transport(&e)))?;
        let status = response.status();
        let body = read_bounded(response, MAX_JSON_BYTES)
            .await
            .map_err(CallError::Transport)?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|_| CallError::Invalid("token endpoint answered no JSON".into()));
        }
        let error = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .filter(|e| e.len() <= 64 && e.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| "unknown_error".to_string());
        Err(CallError::OAuth {
            status: status.as_u16(),
            error,
        })
    }

    /// Starts a device authorization for `jobs.release`.
    pub(crate) async fn device_authorization(&self) -> Result<DeviceAuthorization, CallError> {
        let value = self
            .oauth("device_authorization", &[("scope", "jobs.release")])
            .await?;
        let auth: DeviceAuthorization = serde_json::from_value(value)
            .map_err(|_| CallError::Invalid("malformed device authorization".into()))?;
        let too_long = [&auth.device_code, &auth.user_code, &auth.verification_uri]
            .iter()
            .any(|s| s.is_empty() || s.len() > MAX_TOKEN_LEN)
            || auth
                .verification_uri_complete
                .as_ref()
                .is_some_and(|s| s.len() > MAX_TOKEN_LEN);
        if too_long {
            return Err(CallError::Invalid(
                "device authorization fields out of bounds".into(),
            ));
        }
        Ok(auth)
    }

    /// `POST /oauth/token` with `form` plus the printer's credentials.
    pub(crate) async fn token(
        &self,
        form: &[(&str, &str)],
        now: SimTime,
    ) -> Result<Granted, CallError> {
        let value = self.oauth("token", form).await?;
        let raw: RawTokens = serde_json::from_value(value)
            .map_err(|_| CallError::Invalid("malformed token response".into()))?;
        let bounded = |s: &String| !s.is_empty() && s.len() <= MAX_TOKEN_LEN;
        if !raw.token_type.eq_ignore_ascii_case("bearer")
            || !bounded(&raw.access_token)
            || raw.refresh_token.as_ref().is_some_and(|r| !bounded(r))
            || raw.session_credential.as_ref().is_some_and(|c| !bounded(c))
            || raw
                .roger_session_id
                .as_ref()
                .is_some_and(|s| s.is_empty() || s.len() > 64)
        {
            return Err(CallError::Invalid("token response out of bounds".into()));
        }
        // Without `expires_in` the token is refreshed after a minute (cautious).
        let lifetime = raw.expires_in.unwrap_or(60).min(365 * 24 * 3600);
        Ok(Granted {
            tokens: Tokens {
                access: raw.access_token,
                refresh: raw.refresh_token,
                expires_at: now.plus(Duration::from_secs(lifetime)),
                scope: raw.scope.unwrap_or_default(),
            },
            session_id: raw.roger_session_id,
            session_credential: raw.session_credential,
        })
    }

    /// A bearer call to `/api/v1/...`; `Ok(None)` for an empty success (204).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        access: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, CallError> {
        let mut request = self
            .http
            .request(method, self.url(path)?)
            .bearer_auth(access);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CallError::Transport(transport(&e)))?;
        let status = response.status();
        let bytes = read_bounded(response, MAX_JSON_BYTES)
            .await
            .map_err(CallError::Transport)?;
        if status == StatusCode::UNAUTHORIZED {
            return Err(CallError::Unauthorized);
        }
        if !status.is_success() {
            let code = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
                .filter(|c| c.len() <= 64)
                .unwrap_or_default();
            return Err(CallError::Status {
                status: status.as_u16(),
                code,
            });
        }
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| CallError::Invalid("API answered no JSON".into()))
    }
}

/// A pre-authenticated transfer URL the MFP is willing to fetch: `https`, or plain `http` to a
/// loopback host (the reference cloud's storage emulator), no credentials in it.
pub(crate) fn transfer_url(raw: &str) -> Result<Url, String> {
    if raw.len() > 4096 {
        return Err("transfer URL too long".into());
    }
    let url = Url::parse(raw).map_err(|_| "transfer URL is not an absolute URL".to_string())?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok || !url.username().is_empty() || url.password().is_some() {
        return Err("transfer URL must be https (plain http only to loopback)".into());
    }
    Ok(url)
}
