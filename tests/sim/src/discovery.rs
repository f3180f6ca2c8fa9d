//! Region discovery (`GET /regions`), served on its own origin like `discovery.myq.cloud`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::error::{ApiError, ErrorCode};

/// One entry of the discovery document.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionInfo {
    /// Short id, e.g. `eu`.
    pub id: String,
    /// Name shown to users.
    pub display_name: String,
    /// Base URL of the region API (no trailing slash).
    pub api_url: String,
    /// OAuth issuer of the region (`api_url`, unless the region has an issuer path).
    pub issuer: String,
    /// Event endpoint: SSE here; production uses an AMQPS bus such as `amqps://eu.amqp.myq.cloud`.
    pub events_url: String,
}

/// The discovery router.
pub fn router(regions: Vec<RegionInfo>) -> Router {
    Router::new()
        .route("/regions", get(regions_handler))
        .fallback(|| async { ApiError::not_found(ErrorCode::NotFound, "no such endpoint") })
        .with_state(Arc::new(regions))
}

async fn regions_handler(State(regions): State<Arc<Vec<RegionInfo>>>) -> Response {
    let mut response = Json(serde_json::json!({ "regions": *regions })).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
