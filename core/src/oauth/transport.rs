//! How token requests travel: the core's HTTP client with a bounded answer, and the answer
//! sorted before `oauth2` reads it. A non-200 status without an OAuth error body (a proxy's 502
//! page, a load balancer's 504) is reported as that status, so the caller can tell "the server
//! said no" from "the answer was lost"; a JSON answer is passed on as JSON whatever content type
//! the server labelled it with.

use std::future::Future;
use std::pin::Pin;

use oauth2::http::{self, header};
use oauth2::{HttpRequest, HttpResponse};

use crate::error::Error;
use crate::net::read_limited;

/// Token, error and device answers are small; anything larger is refused unread.
const MAX_ANSWER: usize = 64 * 1024;

/// Why a token request produced no answer that `oauth2` can read.
#[derive(Debug, thiserror::Error)]
pub(super) enum Transport {
    /// DNS, connect, TLS, timeout or a broken connection.
    #[error("transport: {0}")]
    Network(#[source] reqwest::Error),
    /// A status other than 200 whose body is not an OAuth error response.
    #[error("HTTP {0} without an OAuth error body")]
    Status(u16),
    /// The answer could not be read (too large, or not an HTTP answer `oauth2` accepts).
    #[error("{0}")]
    Unreadable(String),
}

/// The core's HTTP client as `oauth2` calls it (a named type rather than a closure, so the
/// request future is `Send` for any borrow).
pub(super) struct TokenHttp<'a>(pub &'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = Transport;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Transport>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

/// Sends one token request; see the module documentation.
async fn send(http: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, Transport> {
    let request = reqwest::Request::try_from(request).map_err(Transport::Network)?;
    let response = http.execute(request).await.map_err(Transport::Network)?;
    let status = response.status();
    let body = read_limited(response, MAX_ANSWER, "reading a token answer")
        .await
        .map_err(|e| match e {
            Error::Network { source, .. } => Transport::Network(source),
            other => Transport::Unreadable(other.to_string()),
        })?;
    let json = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .filter(serde_json::Value::is_object);
    let oauth_error = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .is_some_and(serde_json::Value::is_string);
    if status != http::StatusCode::OK && !oauth_error {
        return Err(Transport::Status(status.as_u16()));
    }
    let mut answer = http::Response::builder().status(status.as_u16());
    if json.is_some() {
        answer = answer.header(header::CONTENT_TYPE, "application/json");
    }
    answer
        .body(body)
        .map_err(|e| Transport::Unreadable(e.to_string()))
}
