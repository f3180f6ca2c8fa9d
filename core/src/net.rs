//! The HTTP side: which URLs the core may talk to, and the one HTTP client it uses.

use std::net::IpAddr;
use url::{Host, Url};

use crate::config::Config;
use crate::error::Error;

/// Which URLs the core is allowed to contact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Allow plain `http` to 127.0.0.1 / ::1 (tests and the demo only).
    pub allow_insecure_loopback: bool,
}

impl UrlPolicy {
    /// Accepts `https` URLs with a host, and `http` to a loopback IP when allowed.
    /// Rejects userinfo (credentials in URLs) everywhere.
    pub fn check(&self, url: &Url) -> Result<(), &'static str> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in a URL are not allowed");
        }
        match url.scheme() {
            "https" if url.host().is_some() => Ok(()),
            "https" => Err("URL has no host"),
            "http" if self.allow_insecure_loopback && is_loopback(url) => Ok(()),
            "http" if is_loopback(url) => {
                Err("plain HTTP to loopback needs allow_insecure_loopback")
            }
            "http" => Err("plain HTTP is not allowed; use HTTPS"),
            _ => Err("only https URLs are allowed"),
        }
    }
}

/// Whether the URL's host is a loopback IP literal (names like `localhost` are not trusted).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        _ => false,
    }
}

/// The settings every client of the core shares: rustls with TLS 1.2 or newer, HTTPS only (but
/// for loopback when allowed), no automatic redirects (OAuth responses must not be followed, and
/// bearer tokens must never travel to another host), a connect timeout, connection reuse.
fn builder(config: &Config) -> Result<reqwest::ClientBuilder, Error> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls_config()?)
        .https_only(!config.allow_insecure_loopback)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.timeouts.connect)
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .user_agent(concat!("roger-core/", env!("CARGO_PKG_VERSION"))))
}

/// The TLS settings of every client: rustls (ring) with TLS 1.2 or 1.3, and the platform's
/// certificate verifier: the OS trust store and policy (Keychain trust on iOS and macOS, the
/// Android trust store with user and MDM-installed CAs, the system roots on Linux and Windows),
/// so enterprise phones behind a TLS-inspecting proxy connect, and a CA the OS distrusts is
/// distrusted here too. A Linux machine without any system CA file falls back, with a warning,
/// to the bundled Mozilla roots. Built once per process (the verifier loads its roots once).
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    static CONFIG: std::sync::OnceLock<Result<rustls::ClientConfig, String>> =
        std::sync::OnceLock::new();
    let built = CONFIG.get_or_init(|| build_tls_config().map_err(|e| e.to_string()));
    built.clone().map_err(|detail| {
        tracing::error!(%detail, "TLS could not be set up");
        Error::Config(crate::error::ConfigError::Invalid {
            field: "TLS",
            reason: "the platform's certificate verifier could not be set up",
        })
    })
}

fn build_tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)?;
    match builder.with_platform_verifier() {
        Ok(builder) => Ok(builder.with_no_client_auth()),
        Err(error) => {
            tracing::warn!(%error, "no platform certificate verifier; using the bundled roots");
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            Ok(rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(&versions)?
                .with_root_certificates(roots)
                .with_no_client_auth())
        }
    }
}

/// Builds the core's HTTP client for API calls: the shared settings plus a whole-request timeout.
pub fn http_client(config: &Config) -> Result<reqwest::Client, Error> {
    builder(config)?
        .timeout(config.timeouts.request)
        .build()
        .map_err(Error::network("building the HTTP client"))
}

/// Builds the client for transfers to pre-authenticated URLs: the shared settings, with a
/// timeout per read instead of per request (a large upload or download may take minutes).
pub fn transfer_client(config: &Config) -> Result<reqwest::Client, Error> {
    builder(config)?
        .read_timeout(config.timeouts.request)
        .build()
        .map_err(Error::network("building the transfer client"))
}

/// Longest `Retry-After` honoured; a server asking for more is treated as asking for this.
const MAX_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// The `Retry-After` delay of a response, capped at an hour: delta-seconds or an HTTP-date
/// (RFC 9110 §10.2.3; a date in the past means "now"). Anything else counts as absent.
pub(crate) fn retry_after(response: &reqwest::Response) -> Option<std::time::Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    parse_retry_after(value.to_str().ok()?, std::time::SystemTime::now())
}

/// Parses a `Retry-After` value against `now`; see [`retry_after`].
fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<std::time::Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: a huge number saturates rather than failing to parse.
        std::time::Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX).min(3600))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or_default()
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// Largest error body read for its code.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The `{"error": {"code": …}}` body that Graph (and the Roger API) send with an error status.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorCode,
}

#[derive(serde::Deserialize)]
struct ErrorCode {
    code: String,
}

/// Passes a success response through; maps 429 and 503 to [`Error::Throttled`] (with the
/// `Retry-After` delay, at least a second), and any other status to [`Error::Http`] carrying
/// the body's `error.code` when there is one (at most 64 characters, never control characters).
pub(crate) async fn check_status(
    context: &'static str,
    response: reqwest::Response,
) -> Result<reqwest::Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if matches!(status.as_u16(), 429 | 503) {
        return Err(Error::Throttled {
            context,
            retry_after_secs: retry_after(&response).map_or(0, |d| d.as_secs()).max(1),
        });
    }
    let code = read_limited(response, MAX_ERROR_BODY, context)
        .await
        .ok()
        .and_then(|body| serde_json::from_slice::<ErrorBody>(&body).ok())
        .map(|b| b.error.code)
        .filter(|c| !c.chars().any(char::is_control))
        .map(|c| c.chars().take(64).collect());
    Err(Error::Http {
        context,
        status: status.as_u16(),
        code,
    })
}

/// The error for a response whose status the caller cannot use: as [`check_status`] maps it,
/// or an invalid response for a success status the caller did not expect.
pub(crate) async fn unexpected_status(context: &'static str, response: reqwest::Response) -> Error {
    match check_status(context, response).await {
        Err(e) => e,
        Ok(r) => Error::invalid(
            context,
            format!("unexpected status {}", r.status().as_u16()),
        ),
    }
}

/// Reads a response body of at most `limit` bytes; a longer body is an error, not a truncation.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    context: &'static str,
) -> Result<Vec<u8>, Error> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(Error::invalid(
            context,
            format!("body larger than {limit} bytes"),
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Error::network(context))? {
        if body.len() + chunk.len() > limit {
            return Err(Error::invalid(
                context,
                format!("body larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads and parses a JSON body of at most `limit` bytes.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    limit: usize,
    context: &'static str,
) -> Result<T, Error> {
    let body = read_limited(response, limit, context).await?;
    serde_json::from_slice(&body).map_err(|e| Error::invalid(context, format!("bad JSON: {e}")))
}

/// `GET`s a JSON document (unauthenticated) of at most `limit` bytes; a non-2xx status is an
/// error (see [`check_status`]).
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: url::Url,
    limit: usize,
    context: &'static str,
) -> Result<T, Error> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(Error::network(context))?;
    read_json(check_status(context, response).await?, limit, context).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates_within_an_hour() {
        use std::time::{Duration, SystemTime};
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_784_000_000);
        let date = |secs| httpdate::fmt_http_date(now + Duration::from_secs(secs));
        let cases = [
            ("120".to_owned(), Some(120)),
            (" 7 ".to_owned(), Some(7)),
            ("0".to_owned(), Some(0)),
            ("18446744073709551616000".to_owned(), Some(3600)),
            (date(90), Some(90)),
            (date(86_400), Some(3600)),
            (
                httpdate::fmt_http_date(now - Duration::from_secs(30)),
                Some(0),
            ),
            ("-5".to_owned(), None),
            ("1.5".to_owned(), None),
            ("soon".to_owned(), None),
            (String::new(), None),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_retry_after(&value, now),
                want.map(Duration::from_secs),
                "{value:?}"
            );
        }
    }

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn https_is_always_allowed() {
        let p = UrlPolicy::default();
        assert!(p.check(&u("https://eu.roger.myq.cloud/x")).is_ok());
    }

    #[test]
    fn http_only_to_loopback_ips_and_only_when_allowed() {
        let strict = UrlPolicy::default();
        let lax = UrlPolicy {
            allow_insecure_loopback: true,
        };
        for url in ["http://127.0.0.1:1234/", "http://[::1]:80/"] {
            assert!(strict.check(&u(url)).is_err(), "{url}");
            assert!(lax.check(&u(url)).is_ok(), "{url}");
        }
        for url in [
            "http://localhost/",
            "http://127.0.0.1.evil.com/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
        ] {
            assert!(lax.check(&u(url)).is_err(), "{url}");
        }
    }

    #[test]
    fn userinfo_is_rejected() {
        let p = UrlPolicy::default();
        assert!(p.check(&u("https://user:pw@eu.roger.myq.cloud/")).is_err());
    }
}
