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

    /// Where to look, in order. For an issuer with a path, RFC 8414 §3.1 inserts the well-known
    /// segment before the path, but many deployed servers publish only the appended form that
    /// OpenID discovery uses; RFC 8414 §5 expects clients to cope, so both are tried, then
    /// OpenID's own document. Each candidate must still name the exact issuer.
    fn candidates(&self) -> Result<Vec<Url>, Error> {
        let refused = |reason: String| Error::RefusedUrl {
            context: "authorization-server metadata",
            reason,
        };
        let appended = |base: &Url, suffix: &str| {
            let mut url = base.clone();
            let path = url.path().trim_end_matches('/').to_owned();
            url.set_path(&format!("{path}/.well-known/{suffix}"));
            url
        };
        match self {
            MetadataLocation::Rfc8414 { issuer } => {
                let base = Url::parse(issuer).map_err(|e| refused(e.to_string()))?;
                if base.query().is_some() || base.fragment().is_some() {
                    return Err(refused("an issuer has no query or fragment".into()));
                }
                let path = base.path().trim_end_matches('/').to_owned();
                let mut inserted = base.clone();
                inserted.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
                let mut all = vec![inserted];
                for url in [
                    appended(&base, "oauth-authorization-server"),
                    appended(&base, "openid-configuration"),
                ] {
                    if !all.contains(&url) {
                        all.push(url);
                    }
                }
                Ok(all)
            }
            MetadataLocation::OpenId { authority, .. } => {
                Ok(vec![appended(authority, "openid-configuration")])
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

    /// Tries each candidate location in turn. A candidate that is absent or serves something
    /// else (a 4xx, a document that does not parse or names another issuer) moves on to the
    /// next; a transport failure, throttling or a 5xx stops, since the other locations are on
    /// the same server. When every candidate fails, the most telling error is returned: a
    /// document that was found but wrong beats "not found".
    async fn fetch(&self, location: &MetadataLocation) -> Result<AuthServerMetadata, Error> {
        let mut failure: Option<Error> = None;
        for url in location.candidates()? {
            self.policy.check(&url).map_err(|why| Error::RefusedUrl {
                context: "authorization-server metadata",
                reason: why.into(),
            })?;
            let result = get_json::<AuthServerMetadata>(&self.http, url, MAX_BODY, CTX)
                .await
                .and_then(|meta| {
                    meta.validate(location.expected_issuer(), self.policy)
                        .map(|()| meta)
                });
            let error = match result {
                Ok(meta) => return Ok(meta),
                Err(e) => e,
            };
            let found_but_wrong = matches!(error, Error::InvalidResponse { .. });
            let absent = matches!(
                error,
                Error::Http {
                    status: 400..=499,
                    ..
                }
            );
            if !(found_but_wrong || absent) {
                return Err(error);
            }
            // Keep the first failure, unless a later candidate was found but wrong.
            match failure {
                None => failure = Some(error),
                Some(Error::Http { .. }) if found_but_wrong => failure = Some(error),
                Some(_) => {}
            }
        }
        Err(failure.unwrap_or_else(|| Error::invalid(CTX, "no metadata location")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(location: &MetadataLocation) -> Vec<String> {
        let urls = location.candidates().unwrap();
        urls.into_iter().map(String::from).collect()
    }

    #[test]
    fn rfc8414_inserts_the_well_known_segment_then_tries_the_appended_forms() {
        let at = |issuer: &str| {
            candidates(&MetadataLocation::Rfc8414 {
                issuer: issuer.into(),
            })
        };
        assert_eq!(
            at("https://eu.roger.myq.cloud"),
            [
                "https://eu.roger.myq.cloud/.well-known/oauth-authorization-server",
                "https://eu.roger.myq.cloud/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            at("https://as.example/tenant1"),
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/tenant1/.well-known/oauth-authorization-server",
                "https://as.example/tenant1/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn openid_appends_to_the_authority() {
        let loc = MetadataLocation::OpenId {
            authority: Url::parse("https://login.microsoftonline.com/organizations/v2.0").unwrap(),
            expected_issuer: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
        };
        assert_eq!(
            candidates(&loc),
            ["https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"]
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

    /// A server whose issuer has the path `/o`; `docs` maps a request path to (status, issuer
    /// named by the document, or `None` for a body that is not metadata).
    async fn path_issuer(docs: &[(&str, u16, Option<&str>)]) -> (wiremock::MockServer, String) {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        let issuer = format!("{}/o", server.uri());
        for (at, status, names) in docs {
            let template = ResponseTemplate::new(*status);
            let template = match names {
                Some(named) => {
                    let named = named.replace("{issuer}", &issuer);
                    template.set_body_json(serde_json::json!({
                        "issuer": named,
                        "token_endpoint": format!("{named}/token"),
                        "code_challenge_methods_supported": ["S256"],
                    }))
                }
                None => template.set_body_string("<html>sign in</html>"),
            };
            Mock::given(method("GET"))
                .and(path(*at))
                .respond_with(template)
                .mount(&server)
                .await;
        }
        (server, issuer)
    }

    const INSERTED: &str = "/.well-known/oauth-authorization-server/o";
    const APPENDED: &str = "/o/.well-known/oauth-authorization-server";
    const OPENID: &str = "/o/.well-known/openid-configuration";

    async fn get(issuer: &str) -> Result<Arc<AuthServerMetadata>, Error> {
        cache()
            .get(&MetadataLocation::Rfc8414 {
                issuer: issuer.into(),
            })
            .await
    }

    #[tokio::test]
    async fn metadata_published_only_at_the_appended_location_is_found() {
        let (_server, issuer) = path_issuer(&[(APPENDED, 200, Some("{issuer}"))]).await;
        assert_eq!(get(&issuer).await.unwrap().issuer, issuer);
        // OpenID's document is the last resort, and an HTML page at the inserted form is skipped.
        let (_server, issuer) =
            path_issuer(&[(INSERTED, 200, None), (OPENID, 200, Some("{issuer}"))]).await;
        assert_eq!(get(&issuer).await.unwrap().issuer, issuer);
    }

    #[tokio::test]
    async fn a_document_for_another_issuer_is_skipped_and_never_accepted() {
        // Some servers answer every well-known suffix with the host's root issuer.
        let root = "http://127.0.0.1:9";
        let (_server, issuer) = path_issuer(&[
            (INSERTED, 200, Some(root)),
            (APPENDED, 200, Some("{issuer}")),
        ])
        .await;
        assert_eq!(get(&issuer).await.unwrap().issuer, issuer);
        let (_server, issuer) = path_issuer(&[(INSERTED, 200, Some(root))]).await;
        let err = get(&issuer).await.unwrap_err();
        assert!(err.to_string().contains("another issuer"), "{err}");
    }

    #[tokio::test]
    async fn nothing_anywhere_is_not_found_and_a_server_error_stops_the_search() {
        let (server, issuer) = path_issuer(&[]).await;
        let err = get(&issuer).await.unwrap_err();
        assert!(matches!(err, Error::Http { status: 404, .. }), "{err}");
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
        let (server, issuer) =
            path_issuer(&[(INSERTED, 503, None), (APPENDED, 200, Some("{issuer}"))]).await;
        assert!(get(&issuer).await.is_err());
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}
