//! The Roger region API (`/api/v1`) as the phone calls it: the signed-in region's base URL,
//! the Roger bearer token (refreshed on a 401), bounded JSON bodies, typed status errors.

use std::sync::Arc;

use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use crate::accounts::Accounts;
use crate::error::Error;
use crate::net::{check_status, read_json};

/// Largest JSON answer accepted from the API (a job list of a few hundred jobs fits easily).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// A caller of the signed-in region's API.
#[derive(Clone)]
pub(crate) struct RogerApi {
    accounts: Arc<Accounts>,
}

impl RogerApi {
    pub(crate) fn new(accounts: Arc<Accounts>) -> Self {
        Self { accounts }
    }

    pub(crate) fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// `{api_url}/api/v1/{path}` of the signed-in region; every segment of `path` that comes
    /// from outside is percent-encoded by the caller through [`segment`].
    pub(crate) async fn url(&self, path: &str) -> Result<Url, Error> {
        let region = self.accounts.signed_in_region().await?;
        let mut base = region.api_url.clone();
        let joined = format!("{}/api/v1/{path}", base.path().trim_end_matches('/'));
        base.set_path(&joined);
        base.set_query(None);
        Ok(base)
    }

    /// Sends a request with the Roger token; returns the response when its status is a success.
    pub(crate) async fn send(
        &self,
        context: &'static str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, Error> {
        let url = self.url(path).await?;
        let http = self.accounts.http().clone();
        let response = self
            .accounts
            .roger()
            .send(context, |token| {
                let request = http
                    .request(method.clone(), url.clone())
                    .bearer_auth(token)
                    .header(reqwest::header::ACCEPT, "application/json");
                match body {
                    Some(b) => request.json(b),
                    None => request,
                }
            })
            .await?;
        check_status(context, response).await
    }

    /// Sends a request and parses its JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        context: &'static str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, Error> {
        let response = self.send(context, method, path, body).await?;
        read_json(response, MAX_BODY, context).await
    }

    /// `GET`s a JSON document.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        context: &'static str,
        path: &str,
    ) -> Result<T, Error> {
        self.json(context, Method::GET, path, None).await
    }
}

/// A path segment from outside (an id, a user code), percent-encoded so it cannot add segments,
/// a query or a fragment; `None` for what cannot be a segment at all (empty, longer than 256
/// bytes, control characters, or only dots, which URL parsers resolve even when encoded).
pub(crate) fn segment(value: &str) -> Option<String> {
    if value.is_empty()
        || value.len() > 256
        || value.chars().any(char::is_control)
        || value.bytes().all(|b| b == b'.')
    {
        return None;
    }
    Some(
        url::form_urlencoded::byte_serialize(value.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
            .replace('.', "%2E"),
    )
}

/// Whether `e` is the API's error `code` (with any status).
pub(crate) fn has_code(e: &Error, wanted: &[&str]) -> bool {
    matches!(e, Error::Http { code: Some(c), .. } if wanted.contains(&c.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_escape_their_place() {
        assert_eq!(segment("job_1").unwrap(), "job_1");
        assert_eq!(segment("../x?y#z").unwrap(), "%2E%2E%2Fx%3Fy%23z");
        assert_eq!(segment("a b").unwrap(), "a%20b");
        for bad in ["", ".", "..", "a\nb"] {
            assert_eq!(segment(bad), None, "{bad:?}");
        }
    }
}
