//! One region's server: its shared state and its routes.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;

use crate::clock::{SimClock, SimTime};
use crate::config::{RegionConfig, SimConfig};
use crate::error::{ApiError, ErrorCode};
use crate::faults::{delay_layer, RegionFaults};
use crate::stats::Stats;
use crate::store::Store;
use crate::{events, jobs, me, oauth, pairing, printer_side, printers, scans, sessions};

/// State shared by a region's handlers.
pub type Shared = Arc<RegionState>;

/// A region: its identity, configuration, clock, store and counters.
pub struct RegionState {
    /// The OAuth issuer: the API base, or the API base with the configured issuer path.
    pub issuer: String,
    /// The API base URL, without a trailing slash.
    pub api_base: String,
    pub config: Arc<SimConfig>,
    pub clock: SimClock,
    pub stats: Stats,
    pub shutdown: watch::Receiver<bool>,
    /// Fault switches (all off unless a test turns one on).
    pub faults: RegionFaults,
    store: Mutex<Store>,
}

impl RegionState {
    /// A region seeded from its configuration.
    pub fn new(
        region: &RegionConfig,
        api_base: String,
        config: Arc<SimConfig>,
        clock: SimClock,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let issuer = match &region.issuer_path {
            Some(path) => format!("{api_base}/{}", path.trim_matches('/')),
            None => api_base.clone(),
        };
        Self {
            issuer,
            api_base,
            store: Mutex::new(Store::seed(region, &config)),
            config,
            clock,
            stats: Stats::default(),
            shutdown,
            faults: RegionFaults::default(),
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.clock.now()
    }

    /// Locks the store after expiring whatever is due. Never held across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.sweep(self.now(), &self.config);
        store
    }
}

/// All routes of a region.
pub fn router(state: Shared) -> Router {
    // With an issuer path, the metadata is only at the appended location (see `issuer_path`).
    let metadata_at = match state.issuer.strip_prefix(&state.api_base) {
        Some(path) if !path.is_empty() => format!("{path}/.well-known/oauth-authorization-server"),
        _ => "/.well-known/oauth-authorization-server".to_owned(),
    };
    Router::new()
        .route(&metadata_at, get(oauth::metadata::metadata))
        .route(
            "/oauth/authorize",
            get(oauth::authorize::show_form).post(oauth::authorize::submit_form),
        )
        .route("/oauth/token", post(oauth::token::token))
        .route(
            "/oauth/device_authorization",
            post(oauth::device::device_authorization),
        )
        .route("/oauth/revoke", post(oauth::revoke::revoke))
        .route("/pair", get(pairing::pair_page))
        .route("/api/v1/pairings/{code}", get(pairing::lookup))
        .route("/api/v1/pairings/{code}/approve", post(pairing::approve))
        .route("/api/v1/pairings/{code}/deny", post(pairing::deny))
        .route("/api/v1/me", get(me::me))
        .route("/api/v1/printers", get(printers::list))
        .route("/api/v1/printers/{id}", get(printers::get_one))
        .route(
            "/api/v1/session",
            get(sessions::current).delete(sessions::end),
        )
        .route("/api/v1/session/events", get(events::stream_events))
        .route("/api/v1/jobs", get(jobs::list).post(jobs::create))
        .route("/api/v1/jobs/release", post(jobs::release))
        .route("/api/v1/jobs/{id}", get(jobs::get_one))
        .route("/api/v1/jobs/{id}/cancel", post(jobs::cancel))
        .route("/api/v1/printer/jobs", get(printer_side::jobs))
        .route(
            "/api/v1/printer/jobs/{id}/status",
            post(printer_side::job_status),
        )
        .route("/api/v1/printer/scans", get(printer_side::scans))
        .route(
            "/api/v1/printer/scans/{id}/status",
            post(printer_side::scan_status),
        )
        .route("/api/v1/scan-profiles", get(scans::profiles))
        .route("/api/v1/scans", get(scans::list).post(scans::create))
        .route("/api/v1/scans/{id}", get(scans::get_one))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn_with_state(state.clone(), delay_layer))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found(ErrorCode::NotFound, "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "method not allowed on this endpoint",
    )
}

/// Logs method, route pattern (never the concrete path: it may hold a user code) and status.
pub async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await.into_response();
    tracing::debug!(%method, %route, status = response.status().as_u16(), "request");
    response
}
