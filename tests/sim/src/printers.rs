//! `GET /api/v1/printers[/{id}]`: the printers of the caller's tenant.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::extract::PathParam;
use crate::region::Shared;
use crate::store::Printer;
use crate::validate;

/// A printer as the API shows it: identity, location and capabilities.
pub fn printer_json(printer: &Printer) -> Value {
    json!({
        "id": printer.id,
        "name": printer.name,
        "model": printer.model,
        "location": printer.location,
        "capabilities": printer.capabilities,
    })
}

/// `GET /api/v1/printers`.
pub async fn list(State(state): State<Shared>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_user_scope("print")?;
    let store = state.lock();
    let printers: Vec<Value> = store
        .printers
        .values()
        .filter(|p| p.tenant_id == caller.tenant_id)
        .map(printer_json)
        .collect();
    Ok(Json(json!({ "printers": printers })))
}

/// `GET /api/v1/printers/{id}`.
pub async fn get_one(
    State(state): State<Shared>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    caller.require_user_scope("print")?;
    let id = validate::id("id", &id)?;
    let store = state.lock();
    store
        .printers
        .get(id)
        .filter(|p| p.tenant_id == caller.tenant_id)
        .map(|p| Json(printer_json(p)))
        .ok_or_else(|| ApiError::not_found(ErrorCode::PrinterNotFound, "no such printer"))
}
