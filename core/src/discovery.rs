//! Region discovery: which Roger regions exist and where their APIs and issuers are.
//!
//! The list is fetched from `{discovery_url}regions`, validated strictly, cached in memory for
//! [`Config::region_cache_ttl`](crate::config::Config::region_cache_ttl) and persisted in the
//! secure store, so a cold start offline still knows the trusted hosts. When a refresh fails
//! (network down, malformed list), the last good list keeps being served.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use url::Url;

use crate::clock::Clock;
use crate::error::Error;
use crate::net::{get_json, UrlPolicy};
use crate::store::{keys, SecureStore};

/// Largest region list body accepted.
const MAX_BODY: usize = 64 * 1024;
/// Most regions accepted in one list.
const MAX_REGIONS: usize = 64;

/// One Roger region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    /// Short id, e.g. `eu`.
    pub id: String,
    /// Name to show, e.g. `Europe`.
    pub display_name: String,
    /// Base URL of the region's API (also the origin its QR codes point at).
    pub api_url: Url,
    /// The OAuth issuer of the region.
    pub issuer: String,
    /// Where the region publishes events.
    pub events_url: Url,
}

#[derive(Debug, Deserialize)]
struct RegionList {
    regions: Vec<Region>,
}

/// What is persisted: the list and when it was fetched.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedRegions {
    version: u32,
    fetched_at: u64,
    regions: Vec<Region>,
}

/// Checks a region list: non-empty, bounded, unique well-formed ids, allowed URLs, issuers that
/// are URLs on the region's own origin.
pub fn validate_regions(regions: &[Region], policy: UrlPolicy) -> Result<(), String> {
    if regions.is_empty() {
        return Err("the list is empty".into());
    }
    if regions.len() > MAX_REGIONS {
        return Err(format!("more than {MAX_REGIONS} regions"));
    }
    let mut seen = std::collections::HashSet::new();
    for r in regions {
        let id_ok = (1..=32).contains(&r.id.len())
            && r.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err("a region id is not 1-32 of [a-z0-9-]".into());
        }
        if !seen.insert(r.id.as_str()) {
            return Err(format!("region `{}` is listed twice", r.id));
        }
        if r.display_name.trim().is_empty() || r.display_name.chars().count() > 64 {
            return Err(format!("region `{}` has a bad display name", r.id));
        }
        policy
            .check(&r.api_url)
            .map_err(|why| format!("region `{}` apiUrl: {why}", r.id))?;
        if r.api_url.query().is_some() || r.api_url.fragment().is_some() {
            return Err(format!("region `{}` apiUrl has a query or fragment", r.id));
        }
        let issuer =
            Url::parse(&r.issuer).map_err(|_| format!("region `{}` issuer is not a URL", r.id))?;
        policy
            .check(&issuer)
            .map_err(|why| format!("region `{}` issuer: {why}", r.id))?;
        if issuer.origin() != r.api_url.origin() {
            return Err(format!("region `{}` issuer is not on its API origin", r.id));
        }
        match r.events_url.scheme() {
            "amqps" => {}
            _ => policy
                .check(&r.events_url)
                .map_err(|why| format!("region `{}` eventsUrl: {why}", r.id))?,
        }
    }
    Ok(())
}

struct Cache {
    regions: Vec<Region>,
    fetched_at: u64,
}

/// Fetches, validates, caches and persists the region list.
pub struct RegionDirectory {
    http: reqwest::Client,
    url: Url,
    policy: UrlPolicy,
    ttl: Duration,
    store: Arc<dyn SecureStore>,
    clock: Arc<dyn Clock>,
    cache: Mutex<Option<Cache>>,
}

impl std::fmt::Debug for RegionDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionDirectory")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RegionDirectory {
    /// A directory reading `{discovery_url}regions`.
    pub fn new(
        http: reqwest::Client,
        discovery_url: &Url,
        policy: UrlPolicy,
        ttl: Duration,
        store: Arc<dyn SecureStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let url = discovery_url
            .join("regions")
            .map_err(|e| Error::RefusedUrl {
                context: "region discovery",
                reason: e.to_string(),
            })?;
        policy.check(&url).map_err(|why| Error::RefusedUrl {
            context: "region discovery",
            reason: why.into(),
        })?;
        Ok(Self {
            http,
            url,
            policy,
            ttl,
            store,
            clock,
            cache: Mutex::new(None),
        })
    }

    /// The regions: from memory while fresh, else fetched; on a failed fetch, the last good list
    /// (memory, then the persisted copy). Fails only when no list was ever obtained.
    pub async fn regions(&self) -> Result<Vec<Region>, Error> {
        let mut cache = self.cache.lock().await;
        if cache.is_none() {
            *cache = self.load_persisted().await;
        }
        let now = self.clock.unix_now();
        if let Some(c) = cache.as_ref() {
            if now.saturating_sub(c.fetched_at) < self.ttl.as_secs() {
                return Ok(c.regions.clone());
            }
        }
        match self.fetch().await {
            Ok(regions) => {
                self.persist(&regions, now).await;
                *cache = Some(Cache {
                    regions: regions.clone(),
                    fetched_at: now,
                });
                Ok(regions)
            }
            Err(e) => match cache.as_ref() {
                Some(c) => {
                    tracing::warn!(error = %e, "region discovery failed; serving the last good list");
                    Ok(c.regions.clone())
                }
                None => Err(Error::NoRegions(e.to_string())),
            },
        }
    }

    /// Drops the freshness of the cached list, so the next call fetches (keeps it as fallback).
    /// Works on a cold start too: the persisted list is loaded first, then marked stale.
    pub async fn invalidate(&self) {
        let mut cache = self.cache.lock().await;
        if cache.is_none() {
            *cache = self.load_persisted().await;
        }
        if let Some(c) = cache.as_mut() {
            c.fetched_at = 0;
        }
    }

    /// One region by id.
    pub async fn region(&self, id: &str) -> Result<Region, Error> {
        self.regions()
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| Error::UnknownRegion(id.to_owned()))
    }

    async fn fetch(&self) -> Result<Vec<Region>, Error> {
        const CTX: &str = "fetching the region list";
        let list: RegionList = get_json(&self.http, self.url.clone(), MAX_BODY, CTX).await?;
        validate_regions(&list.regions, self.policy).map_err(|why| Error::invalid(CTX, why))?;
        Ok(list.regions)
    }

    async fn load_persisted(&self) -> Option<Cache> {
        let read = crate::store::off_runtime(&self.store, |store| store.get(keys::REGIONS)).await;
        let bytes = match read {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the persisted region list");
                return None;
            }
        };
        let cached: CachedRegions = serde_json::from_slice(&bytes).ok()?;
        if cached.version != 1 || validate_regions(&cached.regions, self.policy).is_err() {
            return None;
        }
        Some(Cache {
            regions: cached.regions,
            fetched_at: cached.fetched_at,
        })
    }

    async fn persist(&self, regions: &[Region], fetched_at: u64) {
        let record = CachedRegions {
            version: 1,
            fetched_at,
            regions: regions.to_vec(),
        };
        let written = match serde_json::to_vec(&record) {
            Ok(bytes) => crate::store::off_runtime(&self.store, move |store| {
                store.set(keys::REGIONS, &bytes)
            })
            .await
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = written {
            // The list still works from memory; only an offline cold start loses it.
            tracing::warn!(error = %e, "could not persist the region list");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OffsetClock;
    use crate::store::MemoryStore;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const LOOPBACK: UrlPolicy = UrlPolicy {
        allow_insecure_loopback: true,
    };

    fn list(server: &MockServer) -> serde_json::Value {
        let base = server.uri();
        serde_json::json!({"regions": [
            {"id": "eu", "displayName": "Europe", "apiUrl": format!("{base}/eu/"),
             "issuer": format!("{base}/eu"), "eventsUrl": "amqps://eu.amqp.myq.cloud"},
            {"id": "us", "displayName": "United States", "apiUrl": format!("{base}/us/"),
             "issuer": format!("{base}/us"), "eventsUrl": format!("{base}/us/events")}
        ]})
    }

    fn directory(
        server: &MockServer,
        store: Arc<dyn SecureStore>,
        clock: Arc<OffsetClock>,
    ) -> RegionDirectory {
        let url = Url::parse(&format!("{}/", server.uri())).unwrap();
        RegionDirectory::new(
            reqwest::Client::new(),
            &url,
            LOOPBACK,
            Duration::from_secs(3600),
            store,
            clock,
        )
        .unwrap()
    }

    async fn serve(server: &MockServer, body: serde_json::Value) {
        server.reset().await;
        Mock::given(method("GET"))
            .and(path("/regions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(server)
            .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_blocking_store_never_stalls_the_async_runtime() {
        let server = MockServer::start().await;
        serve(&server, list(&server)).await;
        let store = Arc::new(MemoryStore::new());
        let blocking = Arc::new(crate::store::BlockingStore(store.clone()));
        let dir = directory(&server, blocking, Arc::new(OffsetClock::new()));
        // On the runtime's only thread, a ticker keeps running while the directory reads the
        // persisted list and writes the fetched one (two blocking calls of 300 ms).
        let ticker = crate::store::stall_meter(50);
        assert_eq!(dir.regions().await.unwrap().len(), 2);
        let worst = ticker.await.unwrap();
        assert!(
            worst < Duration::from_millis(250),
            "the runtime stalled {worst:?}"
        );
        assert!(store.get(keys::REGIONS).unwrap().is_some());
    }

    #[tokio::test]
    async fn fetches_caches_and_refetches_after_the_ttl() {
        let server = MockServer::start().await;
        serve(&server, list(&server)).await;
        let clock = Arc::new(OffsetClock::new());
        let dir = directory(&server, Arc::new(MemoryStore::new()), clock.clone());
        assert_eq!(dir.regions().await.unwrap().len(), 2);
        assert_eq!(
            dir.region("us").await.unwrap().display_name,
            "United States"
        );
        assert!(matches!(
            dir.region("xx").await,
            Err(Error::UnknownRegion(_))
        ));
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
        clock.advance(Duration::from_secs(3601));
        dir.regions().await.unwrap();
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn cold_start_offline_uses_the_persisted_list() {
        let server = MockServer::start().await;
        serve(&server, list(&server)).await;
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(OffsetClock::new());
        directory(&server, store.clone(), clock.clone())
            .regions()
            .await
            .unwrap();
        let url = Url::parse(&format!("{}/", server.uri())).unwrap();
        drop(server); // the network is gone
        clock.advance(Duration::from_secs(7200)); // and the cache is stale
        let dir = RegionDirectory::new(
            reqwest::Client::new(),
            &url,
            LOOPBACK,
            Duration::from_secs(3600),
            store,
            clock,
        )
        .unwrap();
        let regions = dir.regions().await.unwrap();
        assert_eq!(regions[0].id, "eu");
    }

    #[tokio::test]
    async fn invalidate_on_a_cold_start_fetches_and_falls_back_to_the_persisted_list() {
        let server = MockServer::start().await;
        serve(&server, list(&server)).await;
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(OffsetClock::new());
        let good = directory(&server, store.clone(), clock.clone())
            .regions()
            .await
            .unwrap();
        // A new process: the persisted list is fresh, but the caller asks for a refetch.
        let cold = directory(&server, store.clone(), clock.clone());
        cold.invalidate().await;
        server.reset().await;
        Mock::given(method("GET"))
            .and(path("/regions"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        assert_eq!(cold.regions().await.unwrap(), good);
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "invalidate made the directory ask the server, then it fell back"
        );
    }

    #[tokio::test]
    async fn first_start_offline_is_a_typed_error() {
        let server = MockServer::start().await;
        let url = Url::parse(&format!("{}/", server.uri())).unwrap();
        drop(server);
        let dir = RegionDirectory::new(
            reqwest::Client::new(),
            &url,
            LOOPBACK,
            Duration::from_secs(3600),
            Arc::new(MemoryStore::new()),
            Arc::new(OffsetClock::new()),
        )
        .unwrap();
        let err = dir.regions().await.unwrap_err();
        assert!(matches!(err, Error::NoRegions(_)));
        assert_eq!(err.kind(), crate::ErrorKind::Network);
    }

    #[tokio::test]
    async fn a_malformed_or_insecure_list_is_rejected_and_the_old_one_kept() {
        let server = MockServer::start().await;
        serve(&server, list(&server)).await;
        let clock = Arc::new(OffsetClock::new());
        let dir = directory(&server, Arc::new(MemoryStore::new()), clock.clone());
        let good = dir.regions().await.unwrap();
        let mut insecure = list(&server);
        insecure["regions"][0]["apiUrl"] = "http://eu.roger.example/".into();
        let mut foreign_issuer = list(&server);
        foreign_issuer["regions"][1]["issuer"] = "https://evil.example".into();
        let mut duplicate = list(&server);
        duplicate["regions"][1]["id"] = "eu".into();
        for bad in [
            serde_json::json!({"regions": "nope"}),
            serde_json::json!({"regions": []}),
            insecure,
            foreign_issuer,
            duplicate,
        ] {
            serve(&server, bad.clone()).await;
            clock.advance(Duration::from_secs(3601));
            assert_eq!(dir.regions().await.unwrap(), good, "{bad}");
        }
    }

    #[test]
    fn http_regions_are_refused_without_the_loopback_switch() {
        let r = Region {
            id: "eu".into(),
            display_name: "Europe".into(),
            api_url: Url::parse("http://127.0.0.1:9/").unwrap(),
            issuer: "http://127.0.0.1:9".into(),
            events_url: Url::parse("http://127.0.0.1:9/events").unwrap(),
        };
        assert!(validate_regions(std::slice::from_ref(&r), UrlPolicy::default()).is_err());
        assert!(validate_regions(&[r], LOOPBACK).is_ok());
    }
}
