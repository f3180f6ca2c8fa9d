//! `GET /api/v1/me`: who the (user) token belongs to.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::region::Shared;

/// `GET /api/v1/me`: the signed-in user's id, e-mail, name and tenant. Any user token.
pub async fn me(State(state): State<Shared>, caller: Caller) -> Result<Json<Value>, ApiError> {
    if caller.printer.is_some() {
        return Err(ApiError::insufficient_scope("pair"));
    }
    let store = state.lock();
    let user = store
        .users
        .get(&caller.user_id)
        .ok_or_else(|| ApiError::not_found(ErrorCode::NotFound, "no such user"))?;
    let tenant = store.tenants.get(&user.tenant_id);
    Ok(Json(json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "tenant": {
            "id": user.tenant_id,
            "name": tenant.map(|t| t.name.as_str()).unwrap_or_default(),
        },
    })))
}
