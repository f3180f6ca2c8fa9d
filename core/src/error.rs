//! Errors: detailed inside the core, reduced to an actionable [`ErrorKind`] for the UI.

use crate::store::StoreError;

/// Why the user is signed out; the UI shows "sign in again" with this reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SignOutReason {
    /// Nobody signed in yet (or a fresh install).
    NeverSignedIn,
    /// The user signed out.
    UserSignedOut,
    /// The refresh token's sliding window ran out (unused for about 90 days).
    SessionExpired,
    /// The server no longer accepts the session. OAuth's `invalid_grant` does not say why (it
    /// ran out on the server's clock, the user signed out elsewhere, an administrator ended
    /// it, or it was revoked), so the UI asks the user to sign in again without suggesting more.
    SessionEnded,
}

impl std::fmt::Display for SignOutReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignOutReason::NeverSignedIn => "not signed in",
            SignOutReason::UserSignedOut => "signed out",
            SignOutReason::SessionExpired => {
                "the session ran out after a long time unused; please sign in again"
            }
            SignOutReason::SessionEnded => "the session has ended; please sign in again",
        })
    }
}

/// A configuration mistake, found before any request is sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A URL that is not HTTPS (or loopback HTTP when allowed).
    #[error("{field}: {reason}")]
    InsecureUrl {
        /// The config field.
        field: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A required value is empty.
    #[error("{field} is required")]
    Missing {
        /// The config field.
        field: &'static str,
    },
    /// A value that cannot work.
    #[error("{field}: {reason}")]
    Invalid {
        /// The config field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// An OAuth 2.0 error response (RFC 6749 §5.2) or a protocol violation by the server.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("OAuth error `{code}`{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct OAuthError {
    /// The `error` code, e.g. `invalid_grant`.
    pub code: String,
    /// The `error_description`, if any (server text, never shown raw to users).
    pub description: Option<String>,
}

/// Problems with the sign-in redirect the shell hands back.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// No sign-in was started, or it was already completed.
    #[error("no sign-in is in progress")]
    NotStarted,
    /// The redirect does not go to the registered redirect URI.
    #[error("the redirect does not match the registered redirect URI")]
    RedirectMismatch,
    /// The `state` parameter is missing or differs (possible CSRF).
    #[error("the sign-in response does not belong to this sign-in (state mismatch)")]
    StateMismatch,
    /// The `iss` parameter names another issuer (mix-up attack, RFC 9207).
    #[error("the sign-in response comes from another issuer")]
    IssuerMismatch,
    /// The redirect carries no authorization code.
    #[error("the sign-in response has no authorization code")]
    MissingCode,
    /// The user or the server refused (`error=access_denied` and the like).
    #[error("sign-in was refused: {0}")]
    Refused(String),
}

/// Every error of the core, with the detail needed to debug it. Never contains secrets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// A URL the security policy refuses (not HTTPS, untrusted host).
    #[error("refused URL for {context}: {reason}")]
    RefusedUrl {
        /// What the URL was for.
        context: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Transport failure: DNS, connect, TLS, timeout, broken connection. Made only through
    /// [`Error::network`], which strips the request URL: a pre-authenticated OneDrive URL is a
    /// credential and must not reach a log line, an error string or a crash report.
    #[error("network error while {context}: {source}")]
    Network {
        /// What the core was doing.
        context: &'static str,
        /// The transport error, without its URL.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with a status the operation does not accept.
    #[error("unexpected HTTP {status} while {context}{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Http {
        /// What the core was doing.
        context: &'static str,
        /// The status code.
        status: u16,
        /// The error code from the body, if the body had one.
        code: Option<String>,
    },
    /// The server is throttling; retry after the given number of seconds.
    #[error("throttled while {context}; retry after {retry_after_secs} s")]
    Throttled {
        /// What the core was doing.
        context: &'static str,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The server answered something that does not follow the protocol.
    #[error("invalid response while {context}: {reason}")]
    InvalidResponse {
        /// What the core was doing.
        context: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// An OAuth error response.
    #[error("{context}: {source}")]
    OAuth {
        /// What the core was doing.
        context: &'static str,
        /// The error response.
        #[source]
        source: OAuthError,
    },
    /// The sign-in redirect was rejected; no token request was sent.
    #[error("sign-in: {0}")]
    SignIn(#[from] SignInError),
    /// No valid session: the user must sign in (again).
    #[error("{0}")]
    SignedOut(SignOutReason),
    /// The secure store failed.
    #[error("secure storage: {0}")]
    Store(#[from] StoreError),
    /// A region id that discovery does not list.
    #[error("unknown region `{0}`")]
    UnknownRegion(String),
    /// No region list could be obtained (offline on first start).
    #[error("no region list available: {0}")]
    NoRegions(String),
}

/// What the UI should do about an error; the small, stable shape shown at the FFI edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Ask the user to sign in again.
    SignInRequired,
    /// Check the connection and retry.
    Network,
    /// The service is busy: retry later.
    Throttled,
    /// The service misbehaved or refused: retry later or contact support.
    Server,
    /// The device's secure storage failed: the user must be told; nothing was half-written.
    Storage,
    /// The sign-in attempt was not valid (restart it).
    SignInFailed,
    /// A refused URL or configuration: a bug or a tampered setting.
    Configuration,
}

impl Error {
    /// The action-oriented category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) | Error::RefusedUrl { .. } => ErrorKind::Configuration,
            Error::Network { .. } | Error::NoRegions(_) => ErrorKind::Network,
            Error::Throttled { .. } => ErrorKind::Throttled,
            Error::Http { status: 401, .. } | Error::SignedOut(_) => ErrorKind::SignInRequired,
            Error::Http { .. } | Error::InvalidResponse { .. } | Error::UnknownRegion(_) => {
                ErrorKind::Server
            }
            Error::OAuth { source, .. } if source.code == "invalid_grant" => {
                ErrorKind::SignInRequired
            }
            Error::OAuth { .. } | Error::SignIn(_) => ErrorKind::SignInFailed,
            Error::Store(_) => ErrorKind::Storage,
        }
    }

    /// The error for a failed transport call, with the request URL removed.
    pub(crate) fn network(context: &'static str) -> impl FnOnce(reqwest::Error) -> Error {
        move |source| Error::Network {
            context,
            source: source.without_url(),
        }
    }

    pub(crate) fn invalid(context: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidResponse {
            context,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn transport_errors_never_carry_the_request_url() {
        // A closed loopback port: the connect fails, and reqwest's error names the URL.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/up/canary-4b2e?tempauth=canary-4b2e");
        let raw = reqwest::get(&url).await.unwrap_err();
        assert!(
            format!("{raw}").contains("canary"),
            "the raw error names it"
        );
        let err = Error::network("uploading")(raw);
        let shown = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
        assert!(!shown.contains("canary"), "{shown}");
        assert_eq!(err.kind(), ErrorKind::Network);
    }
}
