//! The Graph client: graph-rs-sdk builds each request (URL, path encoding, bearer token from our
//! token manager); we send it with the bounded retry policy, one forced refresh on a 401, and
//! our own status mapping.

use std::sync::Arc;

use async_trait::async_trait;
use graph_core::identity::ForceTokenRefresh;
use graph_http::api_impl::RequestHandler;
use graph_rs_sdk::error::AuthExecutionResult;
use graph_rs_sdk::identity::ClientApplication;
use graph_rs_sdk::{GraphClient, GraphClientConfiguration};
use url::Url;

use super::retry::RetryPolicy;
use crate::auth::TokenManager;
use crate::config::Config;
use crate::error::Error;
use crate::net::is_loopback;
use crate::secret::Secret;

/// Largest Graph JSON response read (a page of 200 items is well under this).
pub(crate) const MAX_JSON: usize = 4 * 1024 * 1024;

/// Hands graph-rs-sdk the current Microsoft access token before every request.
#[derive(Clone)]
struct TokenSource(Arc<TokenManager>);

#[async_trait]
impl ClientApplication for TokenSource {
    fn get_token_silent(&mut self) -> AuthExecutionResult<String> {
        // The core only uses the async client; a blocking caller gets an explicit error.
        Err(graph_rs_sdk::error::AuthExecutionError::Other(
            "blocking token access is not supported".into(),
        ))
    }

    async fn get_token_silent_async(&mut self) -> AuthExecutionResult<String> {
        match self.0.access_token().await {
            Ok(token) => Ok(token.expose().to_owned()),
            Err(e) => Err(graph_rs_sdk::error::AuthExecutionError::Other(
                e.to_string().into(),
            )),
        }
    }

    fn with_force_token_refresh(&mut self, _force: ForceTokenRefresh) {}
}

/// Graph access for one signed-in Microsoft account.
pub(crate) struct Graph {
    /// Builds the requests (paths, query, bearer token); never sends them.
    client: GraphClient,
    /// Sends them: the core's client, with the platform's certificate verifier and no redirects
    /// (graph-rs-sdk's own client trusts only bundled roots and cannot be given ours).
    http: reqwest::Client,
    base: Url,
    tokens: Arc<TokenManager>,
    policy: crate::net::UrlPolicy,
    pub(crate) retry: RetryPolicy,
}

impl Graph {
    /// A Graph client at `config.graph_url`, sending on `http` (the core's API client). A
    /// plain-HTTP loopback Graph (the emulator) is only reachable in builds with the
    /// `test-util` feature and with `allow_insecure_loopback`.
    pub(crate) fn new(
        config: &Config,
        tokens: Arc<TokenManager>,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let base = config.graph_url.clone();
        config
            .url_policy()
            .check(&base)
            .map_err(|why| Error::RefusedUrl {
                context: "Microsoft Graph",
                reason: why.into(),
            })?;
        let configuration = GraphClientConfiguration::new()
            .client_application(TokenSource(tokens.clone()))
            .timeout(config.timeouts.request)
            .connect_timeout(config.timeouts.connect);
        let client = Self::client_for(configuration, &base)?;
        Ok(Self {
            client,
            http,
            base,
            tokens,
            policy: config.url_policy(),
            retry: RetryPolicy::default(),
        })
    }

    #[cfg(feature = "test-util")]
    fn client_for(
        configuration: GraphClientConfiguration,
        base: &Url,
    ) -> Result<GraphClient, Error> {
        if base.scheme() == "http" && is_loopback(base) {
            let mut client = GraphClient::from(configuration.https_only(false));
            // graph-rs-sdk appends paths with their leading '/': give it the base without one.
            let endpoint = Url::parse(base.as_str().trim_end_matches('/'))
                .map_err(|e| Error::invalid("configuring Microsoft Graph", e.to_string()))?;
            client.use_test_endpoint(&endpoint);
            Ok(client)
        } else {
            Self::production_client(configuration, base)
        }
    }

    #[cfg(not(feature = "test-util"))]
    fn client_for(
        configuration: GraphClientConfiguration,
        base: &Url,
    ) -> Result<GraphClient, Error> {
        if is_loopback(base) {
            return Err(Error::RefusedUrl {
                context: "Microsoft Graph",
                reason: "a loopback Graph needs a build with the test-util feature".into(),
            });
        }
        Self::production_client(configuration, base)
    }

    fn production_client(
        configuration: GraphClientConfiguration,
        base: &Url,
    ) -> Result<GraphClient, Error> {
        let client = GraphClient::from(configuration);
        if base.host_str() != Some("graph.microsoft.com") || base.path() != "/v1.0/" {
            return Err(Error::RefusedUrl {
                context: "Microsoft Graph",
                reason: "Graph must be https://graph.microsoft.com/v1.0/".into(),
            });
        }
        Ok(client)
    }

    /// Whether `url` (e.g. an `@odata.nextLink`) is on this Graph endpoint.
    pub(crate) fn owns(&self, url: &Url) -> bool {
        url.origin() == self.base.origin() && url.path().starts_with(self.base.path())
    }

    /// Sends the request `make` builds, with retries; on 401 forces one token refresh and retries
    /// once. Non-success statuses are returned for the caller to map (see [`crate::net::check_status`]).
    pub(crate) async fn send(
        &self,
        context: &'static str,
        idempotent: bool,
        make: impl Fn(&GraphClient) -> RequestHandler,
    ) -> Result<reqwest::Response, Error> {
        self.send_with(context, idempotent, &self.http, None, &make)
            .await
    }

    /// [`Graph::send`] on `http`, with `deadline` as the whole-request timeout when given.
    async fn send_with(
        &self,
        context: &'static str,
        idempotent: bool,
        http: &reqwest::Client,
        deadline: Option<std::time::Duration>,
        make: &impl Fn(&GraphClient) -> RequestHandler,
    ) -> Result<reqwest::Response, Error> {
        self.retry
            .run(context, idempotent, || async {
                let (response, sent_token) = self.send_once(context, http, deadline, make).await?;
                if response.status() != reqwest::StatusCode::UNAUTHORIZED {
                    return Ok(response);
                }
                self.tokens.token_after_rejection(&sent_token).await?;
                Ok(self.send_once(context, http, deadline, make).await?.0)
            })
            .await
    }

    /// Builds and sends one request; returns the response and the bearer token it carried, so a
    /// 401 refreshes exactly the token the server rejected. A request outside this Graph
    /// endpoint (a bug, or a link taken from an answer) is refused: the token stays on Graph.
    async fn send_once(
        &self,
        context: &'static str,
        http: &reqwest::Client,
        deadline: Option<std::time::Duration>,
        make: &impl Fn(&GraphClient) -> RequestHandler,
    ) -> Result<(reqwest::Response, Secret), Error> {
        let builder = match make(&self.client).build().await {
            Ok(builder) => builder,
            Err(e) => {
                // graph-rs-sdk asks our token manager for the token while building; when that is
                // what failed, surface the token manager's typed error (signed out, re-auth...).
                self.tokens.access_token().await?;
                return Err(Error::invalid(
                    context,
                    format!("building the Graph request: {e}"),
                ));
            }
        };
        let (_, request) = builder.build_split();
        let mut request =
            request.map_err(|e| Error::invalid(context, format!("building the request: {e}")))?;
        if !self.owns(request.url()) {
            return Err(Error::RefusedUrl {
                context,
                reason: "a Graph request outside the configured Graph endpoint".into(),
            });
        }
        if let Some(deadline) = deadline {
            *request.timeout_mut() = Some(deadline);
        }
        let sent_token = request
            .headers()
            .get(reqwest::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(Secret::new)
            .unwrap_or_else(|| Secret::new(""));
        let response = http
            .execute(request)
            .await
            .map_err(Error::network(context))?;
        Ok((response, sent_token))
    }

    /// Sends and parses a JSON success body.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        context: &'static str,
        idempotent: bool,
        make: impl Fn(&GraphClient) -> RequestHandler,
    ) -> Result<T, Error> {
        let response =
            crate::net::check_status(context, self.send(context, idempotent, make).await?).await?;
        crate::net::read_json(response, MAX_JSON, context).await
    }
}

impl Graph {
    /// Checks a pre-authenticated URL handed out by Graph: HTTPS (or loopback in tests), no
    /// credentials in it. The bearer token is never sent to it.
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), String> {
        self.policy.check(url).map_err(str::to_owned)
    }
}

impl Graph {
    /// Sends a request that carries file content, as [`Graph::send`] does (throttling waited
    /// out, one forced token refresh on a 401) but never retrying a transport failure: the
    /// caller decides what a lost answer means. It goes out on `http` with `deadline` as its
    /// whole-request timeout instead of the client's fixed one (see [`super::deadline`]).
    pub(crate) async fn send_content(
        &self,
        context: &'static str,
        http: &reqwest::Client,
        deadline: std::time::Duration,
        make: impl Fn(&GraphClient) -> RequestHandler,
    ) -> Result<reqwest::Response, Error> {
        self.send_with(context, false, http, Some(deadline), &make)
            .await
    }
}
