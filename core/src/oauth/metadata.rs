//! Authorization-server metadata (RFC 8414, or OpenID Connect discovery), fetched and cached per
//! issuer, with the issuer checked exactly (mix-up defence, RFC 9700 §4.4).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use crate::clock::Clock;
use crate::error::Error;
use crate::net::{get_json, UrlPolicy};

const MAX_BODY: usize = 64 * 1024;
const CTX: &str = "fetching authorization-server metadata";

/// Where an issuer publishes its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetadataLocation {
    /// RFC 8414: `/.well-known/oauth-authorization-server` inserted before the issuer's path.
    Rfc8414 {
        /// The issuer identifier.
        issuer: String,
    },
    /// OpenID Connect discovery: `{authority}/.well-known/openid-configuration`, naming
    /// `expected_issuer` (may be Microsoft's `{tenantid}` template).
    OpenId {
        /// The authority URL.
        authority: Url,
        /// The issuer the document must name.
        expected_issuer: String,
    },
}

impl MetadataLocation {
    fn expected_issuer(&self) -> &str {
        match self {
            MetadataLocation::Rfc8414 { issuer } => issuer,
            MetadataLocation::OpenId {
                expected_issuer, ..
            } => expected_issuer,
        }
    }

    fn url(&self) -> Result<Url, Error> {
        let refused = |reason: String| Error::RefusedUrl {
            context: "authorization-server metadata",
            reason,
        };
        match self {
            MetadataLocation::Rfc8414 { issuer } => {
                let mut url = Url::parse(issuer).map_err(|e| refused(e.to_string()))?;
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(refused("an issuer has no query or fragment".into()));
                }
                let path = url.path().trim_end_matches('/').to_owned();
                url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
                Ok(url)
            }
            MetadataLocation::OpenId { authority, .. } => {
                let mut url = authority.clone();
                let path = url.path().trim_end_matches('/').to_owned();
                url.set_path(&format!("{path}/.well-known/openid-configuration"));
                Ok(url)
            }
        }
    }
}

/// The parts of the metadata the core uses.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AuthServerMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// Where the browser is sent for the authorization code flow.
    pub authorization_endpoint: Option<Url>,
    /// The token endpoint.
    pub token_endpoint: Url,
    /// RFC 8628 device authorization endpoint.
    #[serde(default)]
    pub device_authorization_endpoint: Option<Url>,
    /// RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    /// PKCE methods; absent means unknown.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Whether the issuer adds `iss` to authorization responses (RFC 9207).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl AuthServerMetadata {
    fn validate(&self, expected_issuer: &str, policy: UrlPolicy) -> Result<(), Error> {
        if self.issuer != expected_issuer {
            return Err(Error::invalid(
                CTX,
                "the metadata names another issuer (possible mix-up attack)",
            ));
        }
        let endpoints = [
            Some(&self.token_endpoint),
            self.authorization_endpoint.as_ref(),
            self.device_authorization_endpoint.as_ref(),
            self.revocation_endpoint.as_ref(),
        ];
        for url in endpoints.into_iter().flatten() {
            policy
                .check(url)
                .map_err(|why| Error::invalid(CTX, format!("endpoint refused: {why}")))?;
        }
        if let Some(methods) = &self.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(Error::invalid(CTX, "the issuer does not support PKCE S256"));
            }
        }
        Ok(())
    }
}

/// Fetches and caches metadata per location.
pub struct MetadataCache {
    http: reqwest::Client,
    policy: UrlPolicy,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    /// One slot per location; a slot's lock is held across its fetch, so concurrent callers for
    /// one issuer share a single request while other issuers are not held up.
    entries: std::sync::Mutex<HashMap<MetadataLocation, Arc<Mutex<Option<Entry>>>>>,
}

/// A fetched document and when (Unix seconds).
type Entry = (Arc<AuthServerMetadata>, u64);

impl std::fmt::Debug for MetadataCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataCache").finish_non_exhaustive()
    }
}

impl MetadataCache {
    /// An empty cache.
    pub fn new(
        http: reqwest::Client,
        policy: UrlPolicy,
        ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            http,
            policy,
            ttl,
            clock,
            entries: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The metadata at `location`, fetched when absent or older than the TTL. A failed refresh
    /// of a known issuer keeps serving the previous document.
    pub async fn get(&self, location: &MetadataLocation) -> Result<Arc<AuthServerMetadata>, Error> {
        let slot = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(location.clone())
            .or_default()
            .clone();
        let mut entry = slot.lock().await;
        let now = self.clock.unix_now();
        if let Some((meta, at)) = entry.as_ref() {
            if now.saturating_sub(*at) < self.ttl.as_secs() {
                return Ok(meta.clone());
            }
        }
        match self.fetch(location).await {
            Ok(meta) => {
                let meta = Arc::new(meta);
                *entry = Some((meta.clone(), now));
                Ok(meta)
            }
            Err(e) => match entry.as_ref() {
                Some((meta, _)) => {
                    tracing::warn!(error = %e, "metadata refresh failed; using the cached copy");
                    Ok(meta.clone())
                }
                None => Err(e),
            },
        }
    }

    async fn fetch(&self, location: &MetadataLocation) -> Result<AuthServerMetadata, Error> {
        let url = location.url()?;
        self.policy.check(&url).map_err(|why| Error::RefusedUrl {
            context: "authorization-server metadata",
            reason: why.into(),
        })?;
        let meta: AuthServerMetadata = get_json(&self.http, url, MAX_BODY, CTX).await?;
        meta.validate(location.expected_issuer(), self.policy)?;
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_inserts_the_well_known_segment_before_the_issuer_path() {
        let at = |issuer: &str| {
            MetadataLocation::Rfc8414 {
                issuer: issuer.into(),
            }
            .url()
            .unwrap()
            .to_string()
        };
        assert_eq!(
            at("https://eu.roger.myq.cloud"),
            "https://eu.roger.myq.cloud/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            at("https://as.example/tenant1"),
            "https://as.example/.well-known/oauth-authorization-server/tenant1"
        );
    }

    #[test]
    fn openid_appends_to_the_authority() {
        let loc = MetadataLocation::OpenId {
            authority: Url::parse("https://login.microsoftonline.com/organizations/v2.0").unwrap(),
            expected_issuer: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
        };
        assert_eq!(
            loc.url().unwrap().as_str(),
            "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
        );
    }

    fn meta(issuer: &str) -> AuthServerMetadata {
        AuthServerMetadata {
            issuer: issuer.into(),
            authorization_endpoint: Some(Url::parse("https://as.example/authorize").unwrap()),
            token_endpoint: Url::parse("https://as.example/token").unwrap(),
            device_authorization_endpoint: None,
            revocation_endpoint: None,
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            authorization_response_iss_parameter_supported: true,
        }
    }

    #[test]
    fn issuer_must_match_exactly() {
        let p = UrlPolicy::default();
        assert!(meta("https://as.example")
            .validate("https://as.example", p)
            .is_ok());
        assert!(meta("https://as.example/")
            .validate("https://as.example", p)
            .is_err());
        assert!(meta("https://evil.example")
            .validate("https://as.example", p)
            .is_err());
    }

    #[test]
    fn plain_pkce_only_or_http_endpoints_are_refused() {
        let p = UrlPolicy::default();
        let mut m = meta("https://as.example");
        m.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(m.validate("https://as.example", p).is_err());
        let mut m = meta("https://as.example");
        m.token_endpoint = Url::parse("http://as.example/token").unwrap();
        assert!(m.validate("https://as.example", p).is_err());
    }

    async fn issuer_server(delay: Duration) -> (wiremock::MockServer, MetadataLocation) {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        let issuer = server.uri();
        let body = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "code_challenge_methods_supported": ["S256"],
        });
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(body)
                    .set_delay(delay),
            )
            .mount(&server)
            .await;
        (server, MetadataLocation::Rfc8414 { issuer })
    }

    fn cache() -> Arc<MetadataCache> {
        Arc::new(MetadataCache::new(
            reqwest::Client::new(),
            UrlPolicy {
                allow_insecure_loopback: true,
            },
            Duration::from_secs(3600),
            Arc::new(crate::clock::OffsetClock::new()),
        ))
    }

    #[tokio::test]
    async fn a_slow_issuer_does_not_hold_up_another_and_one_issuer_is_fetched_once() {
        let (slow_server, slow) = issuer_server(Duration::from_secs(60)).await;
        let (fast_server, fast) = issuer_server(Duration::ZERO).await;
        let cache = cache();
        let pending = tokio::spawn({
            let cache = cache.clone();
            async move { cache.get(&slow).await }
        });
        while slow_server.received_requests().await.unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        // The slow issuer's fetch is in flight; five concurrent callers of the other issuer
        // are answered, by one request.
        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..5 {
            let (cache, fast) = (cache.clone(), fast.clone());
            callers.spawn(async move { cache.get(&fast).await });
        }
        while let Some(meta) = callers.join_next().await {
            assert_eq!(meta.unwrap().unwrap().issuer, fast_server.uri());
        }
        assert!(!pending.is_finished());
        assert_eq!(fast_server.received_requests().await.unwrap().len(), 1);
        pending.abort();
    }
}
