//! `roger-sim`: a reference Roger cloud on loopback, for end-to-end tests over real sockets.
//!
//! It serves region discovery and, per region (each on its own port, origin and issuer), the
//! OAuth 2.0 authorization server (authorization code + PKCE, password for tenants that allow it,
//! refresh with rotation, device authorization for printers, revocation), the pairing API, and
//! the print, scan and session API with Server-Sent Events. The wire contract is described in
//! `docs/protocol.md` and `docs/openapi.yaml`.
//!
//! Beside it run a Microsoft identity platform and Graph OneDrive emulator (sign-in with PKCE and
//! refresh rotation, the OneDrive subset the core uses, upload sessions and pre-authenticated
//! download URLs on their own origin, fault switches): see [`CloudHandle::identity`],
//! [`CloudHandle::graph`] and `docs/protocol.md` §12.
//!
//! ```no_run
//! # async fn demo() -> Result<(), roger_sim::SimError> {
//! let cloud = roger_sim::Cloud::start(roger_sim::SimConfig::default()).await?;
//! let eu = cloud.region("eu").expect("seeded region");
//! println!("discovery: {}regions, EU issuer: {}", cloud.discovery_url, eu.issuer);
//! cloud.clock().advance(std::time::Duration::from_secs(21 * 60)); // access tokens now expired
//! cloud.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
pub mod clock;
pub mod config;
pub mod control;
pub mod discovery;
mod error;
mod events;
mod extract;
mod faults;
mod jobs;
mod me;
pub mod mfp;
mod microsoft;
mod oauth;
mod pairing;
mod printer_side;
mod printers;
mod region;
mod scans;
mod secret;
mod sessions;
mod stats;
mod store;
mod validate;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

pub use clock::{SimClock, SimTime};
pub use config::SimConfig;
pub use error::{ErrorCode, SimError};
pub use faults::RegionFaults;
pub use mfp::{MfpConfig, MfpHandle};
pub use microsoft::graph::faults::{Faults, GraphStats, ThrottleStatus};
pub use microsoft::identity::IdentityStats;
pub use microsoft::{DriveEntry, GraphHandle, IdentityHandle};
pub use stats::Stats;

use discovery::RegionInfo;
use oauth::authorize::{self, Outcome};
use region::RegionState;

/// How long [`CloudHandle::shutdown`] waits for servers to finish before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The reference cloud.
pub struct Cloud;

impl Cloud {
    /// Binds one loopback listener per region plus one for discovery (ports chosen by the OS),
    /// seeds each region from `config` and starts serving.
    pub async fn start(config: SimConfig) -> Result<CloudHandle, SimError> {
        check_config(&config)?;
        let config = Arc::new(config);
        let clock = SimClock::new();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut regions = Vec::new();
        for region in &config.regions {
            let (listener, base) = bind().await?;
            let api_base = base.as_str().trim_end_matches('/').to_string();
            let state = Arc::new(RegionState::new(
                region,
                api_base,
                config.clone(),
                clock.clone(),
                shutdown_rx.clone(),
            ));
            tasks.push(serve(
                listener,
                region::router(state.clone()),
                shutdown_rx.clone(),
            ));
            regions.push(RegionHandle {
                id: region.id.clone(),
                display_name: region.display_name.clone(),
                events_url: join(&base, "api/v1/session/events")?,
                api_url: base,
                issuer: state.issuer.clone(),
                state,
            });
        }
        let (listener, discovery_url) = bind().await?;
        let infos = regions
            .iter()
            .map(|r| RegionInfo {
                id: r.id.clone(),
                display_name: r.display_name.clone(),
                api_url: r.api_url.as_str().trim_end_matches('/').to_owned(),
                issuer: r.issuer.clone(),
                events_url: r.events_url.to_string(),
            })
            .collect();
        tasks.push(serve(
            listener,
            discovery::router(infos),
            shutdown_rx.clone(),
        ));
        let microsoft = microsoft::start(config.clone(), clock.clone(), shutdown_rx).await?;
        tasks.extend(microsoft.tasks);
        let mfps = start_mfps(&config, &regions, &clock)?;
        tracing::info!(discovery = %discovery_url, "reference cloud started");
        Ok(CloudHandle {
            discovery_url,
            regions,
            clock,
            shutdown,
            tasks,
            mfps,
            identity_url: microsoft.identity.url.clone(),
            graph_url: microsoft.graph.url.clone(),
            identity: microsoft.identity,
            graph: microsoft.graph,
        })
    }
}

async fn bind() -> Result<(TcpListener, Url), SimError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(SimError::Bind)?;
    let addr = listener.local_addr().map_err(SimError::Bind)?;
    let url =
        Url::parse(&format!("http://{addr}/")).map_err(|e| SimError::Config(e.to_string()))?;
    Ok((listener, url))
}

fn join(base: &Url, path: &str) -> Result<Url, SimError> {
    base.join(path).map_err(|e| SimError::Config(e.to_string()))
}

fn serve(
    listener: TcpListener,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(%error, "server stopped with an error");
        }
    })
}

/// Starts the simulated MFPs of `config.mfps`, each against its printer's region, on the
/// cloud's clock unless its configuration brings its own.
fn start_mfps(
    config: &SimConfig,
    regions: &[RegionHandle],
    clock: &SimClock,
) -> Result<Vec<MfpHandle>, SimError> {
    let mut mfps: Vec<MfpHandle> = Vec::new();
    for mfp in &config.mfps {
        if mfps.iter().any(|m| m.printer_id() == mfp.printer_id) {
            return Err(SimError::Config(format!(
                "printer `{}` has two simulated MFPs",
                mfp.printer_id
            )));
        }
        let region = config
            .regions
            .iter()
            .find(|r| {
                r.tenants
                    .iter()
                    .any(|t| t.printers.iter().any(|p| p.id == mfp.printer_id))
            })
            .and_then(|r| regions.iter().find(|h| h.id == r.id))
            .ok_or_else(|| {
                SimError::Config(format!(
                    "simulated MFP for unknown printer `{}`",
                    mfp.printer_id
                ))
            })?;
        let mut mfp = mfp.clone();
        mfp.clock.get_or_insert_with(|| clock.clone());
        mfps.push(MfpHandle::start(region.api_url.clone(), mfp)?);
    }
    Ok(mfps)
}

/// Refuses configurations with ambiguous ids.
fn check_config(config: &SimConfig) -> Result<(), SimError> {
    let fail = |what: String| Err(SimError::Config(what));
    if config.regions.is_empty() {
        return fail("at least one region is needed".into());
    }
    let mut region_ids = HashSet::new();
    for region in &config.regions {
        if !region_ids.insert(&region.id) {
            return fail(format!("region `{}` appears twice", region.id));
        }
        let mut printers = HashSet::new();
        let mut clients = HashSet::from([&config.public_client.client_id]);
        let mut emails = HashSet::new();
        let mut domains = HashMap::new();
        for tenant in &region.tenants {
            if domains
                .insert(tenant.domain.to_ascii_lowercase(), &tenant.id)
                .is_some()
            {
                return fail(format!(
                    "domain `{}` appears twice in `{}`",
                    tenant.domain, region.id
                ));
            }
            for user in &tenant.users {
                let domain_ok = user
                    .email
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| d.eq_ignore_ascii_case(&tenant.domain));
                if !emails.insert(user.email.to_ascii_lowercase()) || !domain_ok {
                    return fail(format!(
                        "user `{}` is duplicated or not in its tenant's domain",
                        user.email
                    ));
                }
            }
            for printer in &tenant.printers {
                if !printers.insert(&printer.id) || !clients.insert(&printer.client_id) {
                    return fail(format!(
                        "printer `{}` or its client id is not unique",
                        printer.id
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A running reference cloud. Dropping it leaves the servers running until the runtime ends;
/// call [`CloudHandle::shutdown`] to stop them.
pub struct CloudHandle {
    /// Base URL of discovery, ending with `/`: regions are at `{discovery_url}regions`.
    pub discovery_url: Url,
    /// The regions (the default world has `eu` and `us`).
    pub regions: Vec<RegionHandle>,
    clock: SimClock,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    mfps: Vec<MfpHandle>,
    /// Base URL of the Microsoft identity emulator, ending with `/`: authorities are
    /// `{identity_url}{tenant}/v2.0`.
    pub identity_url: Url,
    /// Base URL of the Graph emulator, including `v1.0/`.
    pub graph_url: Url,
    identity: IdentityHandle,
    graph: GraphHandle,
}

impl CloudHandle {
    /// The region with this id.
    pub fn region(&self, id: &str) -> Option<&RegionHandle> {
        self.regions.iter().find(|r| r.id == id)
    }

    /// The clock every region uses; [`SimClock::advance`] expires codes and tokens at once.
    pub fn clock(&self) -> &SimClock {
        &self.clock
    }

    /// The simulated MFP of this printer, if `SimConfig::mfps` runs one.
    pub fn mfp(&self, printer_id: &str) -> Option<&MfpHandle> {
        self.mfps.iter().find(|m| m.printer_id() == printer_id)
    }

    /// The Microsoft identity platform emulator.
    pub fn identity(&self) -> &IdentityHandle {
        &self.identity
    }

    /// The Graph OneDrive emulator (with its fault switches).
    pub fn graph(&self) -> &GraphHandle {
        &self.graph
    }

    /// Every URL the cloud serves, labelled (`discovery`, `eu api`, `eu events`, ...).
    pub fn urls(&self) -> Vec<(String, Url)> {
        let mut urls = vec![("discovery".to_string(), self.discovery_url.clone())];
        for region in &self.regions {
            urls.push((format!("{} api", region.id), region.api_url.clone()));
            urls.push((format!("{} events", region.id), region.events_url.clone()));
        }
        urls.push(("identity".to_string(), self.identity_url.clone()));
        urls.push(("graph".to_string(), self.graph_url.clone()));
        urls.push(("content".to_string(), self.graph.content_url.clone()));
        urls
    }

    /// Stops every server: event streams end, then connections close.
    pub async fn shutdown(self) {
        for mfp in &self.mfps {
            mfp.stop();
        }
        let _ = self.shutdown.send(true);
        for mut task in self.tasks {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl fmt::Display for CloudHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (label, url) in self.urls() {
            writeln!(f, "{label:<12} {url}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CloudHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudHandle")
            .field("discovery_url", &self.discovery_url.as_str())
            .field("regions", &self.regions)
            .field("identity_url", &self.identity_url.as_str())
            .field("graph_url", &self.graph_url.as_str())
            .finish()
    }
}

/// One running region, with hooks for tests.
#[derive(Clone)]
pub struct RegionHandle {
    /// Region id, e.g. `eu`.
    pub id: String,
    /// Display name, e.g. `Europe`.
    pub display_name: String,
    /// Base URL of the region API (ends with `/`); the issuer is the same without the slash
    /// unless the region has an issuer path.
    pub api_url: Url,
    /// OAuth issuer (`iss`), e.g. `http://127.0.0.1:41234`.
    pub issuer: String,
    /// Server-Sent Events endpoint of the region.
    pub events_url: Url,
    state: Arc<RegionState>,
}

impl RegionHandle {
    /// Request counters of this region's authorization server.
    pub fn stats(&self) -> &Stats {
        &self.state.stats
    }

    /// Everything the region stores, as JSON (collections of records, secrets only as hashes):
    /// what a retention audit inspects.
    pub fn retained_records(&self) -> serde_json::Value {
        self.state.lock().dump()
    }

    /// Plays the browser at the authorization endpoint: takes the authorization URL the client
    /// built, signs in as `username`/`password` and returns the redirect URL the browser would
    /// hand back to the client (with `code`, `state` and `iss`, or with an OAuth `error`).
    /// Wrong credentials or a request that cannot be redirected give [`SimError::Login`].
    pub fn browser_login(
        &self,
        authorize_url: &Url,
        username: &str,
        password: &str,
    ) -> Result<Url, SimError> {
        self.browser_submit(
            authorize_url,
            &[
                ("username", username),
                ("password", password),
                ("action", "approve"),
            ],
        )
    }

    /// Plays the browser refusing the request: returns the `error=access_denied` redirect.
    pub fn browser_deny(&self, authorize_url: &Url) -> Result<Url, SimError> {
        self.browser_submit(authorize_url, &[("action", "deny")])
    }

    fn browser_submit(
        &self,
        authorize_url: &Url,
        fields: &[(&str, &str)],
    ) -> Result<Url, SimError> {
        let endpoint = join(&self.api_url, "oauth/authorize")?;
        if authorize_url.origin() != endpoint.origin() || authorize_url.path() != endpoint.path() {
            return Err(SimError::Login(format!(
                "not this region's authorization endpoint ({endpoint})"
            )));
        }
        let mut params =
            extract::parse_unique_pairs(authorize_url.query().unwrap_or_default().as_bytes())
                .map_err(SimError::Login)?;
        for (name, value) in fields {
            params.insert(name.to_string(), value.to_string());
        }
        match authorize::decide(&self.state, &params) {
            Outcome::Redirect(url) => Ok(url),
            Outcome::Page {
                status, message, ..
            } => Err(SimError::Login(format!("{status}: {message}"))),
        }
    }

    /// The internal id of the user with this e-mail (ids appear in events and records).
    pub fn user_id(&self, email: &str) -> Option<String> {
        self.state.lock().user_by_email(email).map(|u| u.id.clone())
    }

    /// The id of the user's active printer session, if any.
    pub fn active_session(&self, email: &str) -> Option<String> {
        let store = self.state.lock();
        let user = store.user_by_email(email)?;
        store.session_of_user(&user.id).map(|s| s.id.clone())
    }

    /// The region's fault switches (lost release answers, cut event streams, request delay).
    pub fn faults(&self) -> &RegionFaults {
        &self.state.faults
    }

    /// Records a job event for the user with this e-mail without changing any job, and
    /// returns its id: lets a benchmark time event delivery from the moment the server has the
    /// event. `None` if there is no such user.
    pub fn push_job_event(&self, email: &str, job_id: &str) -> Option<u64> {
        let now = self.state.now();
        let mut store = self.state.lock();
        let user_id = store.user_by_email(email)?.id.clone();
        let id = store.events.next_id();
        store.events.push(
            &user_id,
            events::EventPayload::Job {
                job_id: job_id.to_owned(),
                state: store::JobState::Printing,
            },
            now,
        );
        Some(id)
    }

    /// Id of the latest event of this region (0 before any).
    pub fn last_event_id(&self) -> u64 {
        self.state.lock().events.next_id() - 1
    }
}

impl fmt::Debug for RegionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegionHandle")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .finish()
    }
}
