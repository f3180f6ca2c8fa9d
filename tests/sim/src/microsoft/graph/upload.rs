//! Uploads on the Graph host: simple upload (`PUT …/content`, up to 250 MB) and
//! `createUploadSession` (the fragments go to the content host).

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::drive::{session_expiry, Conflict, FileContent, NewItem, SessionTarget, UploadSession};
use super::error::GraphError;
use super::items::{item_body, parent_and_name, resolve, with_drive};
use super::names::validate_name;
use super::route::Target;
use super::{json_response, read_body, Call};
use crate::secret::{new_token, SecretHash};

fn conflict_from_query(call: &Call<'_>) -> Result<Option<Conflict>, GraphError> {
    call.query
        .get("@microsoft.graph.conflictbehavior")
        .map(Conflict::parse)
        .transpose()
}

/// `PUT …/content`: the body is the whole file. 201 for a new file, 200 when an existing
/// file's content was replaced (the default conflict behaviour of PUT is `replace`).
pub async fn simple_upload(
    call: &Call<'_>,
    target: &Target,
    body: Body,
) -> Result<Response, GraphError> {
    let ms = call.state.ms();
    let limit = ms.simple_upload_max_bytes.min(ms.max_file_bytes);
    let bytes = read_body(body, limit).await?;
    call.query.allow(&["@microsoft.graph.conflictbehavior"])?;
    let conflict = conflict_from_query(call)?.unwrap_or(Conflict::Replace);
    call.state.faults.check_free_space(bytes.len() as u64)?;
    let content = FileContent::new(bytes);
    let now = call.state.now();
    let response = with_drive(call, |drive, user| {
        let (id, created) = if target.segments.is_empty() {
            let item = resolve(drive, target)?;
            let id = item.id.clone();
            drive.replace_content(&id, content, now)?;
            (id, false)
        } else {
            let (parent, name) = parent_and_name(drive, target)?;
            drive.create(&parent, &name, NewItem::File(content), conflict, now)?
        };
        let item = drive.get(&id).ok_or_else(GraphError::not_found)?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(json_response(
            status,
            serde_json::Value::Object(item_body(call, user, drive, item)),
        ))
    })?;
    if call.state.faults.take_lost_simple_upload() {
        // Stored; the answer never comes (the client gives up first).
        call.state.graph_stats.count_lost_response();
        tracing::info!("fault injection: withholding a simple upload's response");
        tokio::time::sleep(LOST_RESPONSE_HOLD).await;
    }
    Ok(response)
}

/// How long a lost response is held back: far past any client's patience, short enough not to
/// keep a test's server busy forever.
const LOST_RESPONSE_HOLD: std::time::Duration = std::time::Duration::from_secs(120);

/// `POST …/createUploadSession`: an upload URL on the content host. The optional body is
/// `{"item": {"@microsoft.graph.conflictBehavior", "name", "fileSize"}, "deferCommit"}`; the
/// conflict behaviour defaults to `fail`.
pub fn create_session(
    call: &Call<'_>,
    target: &Target,
    body: Option<Value>,
) -> Result<Response, GraphError> {
    call.query.allow(&["@microsoft.graph.conflictbehavior"])?;
    let empty = json!({});
    let body = body.unwrap_or(empty);
    let object = body
        .as_object()
        .ok_or_else(|| GraphError::invalid("The body must be a JSON object."))?;
    if let Some(key) = object
        .keys()
        .find(|k| !["item", "deferCommit"].contains(&k.as_str()))
    {
        return Err(GraphError::invalid(format!(
            "The parameter '{}' is not a createUploadSession parameter.",
            key.chars().take(64).collect::<String>()
        )));
    }
    if object.get("deferCommit").and_then(Value::as_bool) == Some(true) {
        return Err(GraphError::not_emulated("deferCommit"));
    }
    let item = match object.get("item") {
        None => None,
        Some(Value::Object(item)) => Some(item),
        Some(_) => return Err(GraphError::invalid("'item' must be an object.")),
    };
    let allowed_item_keys = [
        "@microsoft.graph.conflictBehavior",
        "name",
        "fileSize",
        "description",
        "@odata.type",
    ];
    if let Some(key) =
        item.and_then(|i| i.keys().find(|k| !allowed_item_keys.contains(&k.as_str())))
    {
        return Err(GraphError::invalid(format!(
            "The property '{}' is not supported here by the emulator.",
            key.chars().take(64).collect::<String>()
        )));
    }
    let field = |name: &str| item.and_then(|i| i.get(name));
    let body_conflict = field("@microsoft.graph.conflictBehavior")
        .map(|v| {
            v.as_str()
                .ok_or_else(|| GraphError::invalid("conflictBehavior must be a string."))
                .and_then(Conflict::parse)
        })
        .transpose()?;
    let query_conflict = conflict_from_query(call)?;
    if let (Some(a), Some(b)) = (body_conflict, query_conflict) {
        if a != b {
            return Err(GraphError::invalid(
                "The conflict behaviour differs between the body and the URL.",
            ));
        }
    }
    let conflict = body_conflict.or(query_conflict).unwrap_or(Conflict::Fail);
    let declared_size = match field("fileSize") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| GraphError::invalid("fileSize must be a non-negative integer."))?,
        ),
    };
    let ms = call.state.ms();
    if declared_size.is_some_and(|s| s > ms.max_file_bytes) {
        return Err(GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalidRequest",
            format!(
                "The emulator stores files of at most {} bytes.",
                ms.max_file_bytes
            ),
        )
        .inner("maxFileSizeExceeded"));
    }
    let body_name = match field("name") {
        None => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(GraphError::invalid("'name' must be a string.")),
    };
    let now = call.state.now();
    let token = new_token();
    let expires_at = session_expiry(now, ms.upload_session_secs);
    with_drive(call, |drive, user| {
        let session_target = if target.segments.is_empty() {
            let item = resolve(drive, target)?;
            if item.is_folder() {
                return Err(GraphError::invalid(
                    "Name the new file in the path: …/items/{parent-id}:/{filename}:/createUploadSession.",
                ));
            }
            SessionTarget::Existing {
                item_id: item.id.clone(),
            }
        } else {
            let (parent_id, name) = parent_and_name(drive, target)?;
            if body_name.as_ref().is_some_and(|n| *n != name) {
                return Err(GraphError::invalid(
                    "The item name in the body differs from the one in the path.",
                ));
            }
            validate_name(&name)?;
            let parent = drive.get(&parent_id).ok_or_else(GraphError::not_found)?;
            if conflict == Conflict::Fail && drive.child(parent, &name).is_some() {
                return Err(GraphError::name_exists());
            }
            SessionTarget::New {
                parent_id,
                name,
                conflict,
            }
        };
        if let Some(size) = declared_size {
            if drive.used().saturating_add(size) > drive.quota {
                return Err(GraphError::quota_limit_reached());
            }
            call.state.faults.check_free_space(size)?;
        }
        Ok((user.id.clone(), session_target))
    })
    .map(|(user_id, session_target)| {
        call.state.drives().sessions.insert(
            SecretHash::of(&token),
            UploadSession {
                user_id,
                target: session_target,
                declared_size,
                total: None,
                buffer: Vec::new(),
                expires_at,
            },
        );
        json_response(
            StatusCode::OK,
            json!({
                "@odata.context": format!("{}$metadata#microsoft.graph.uploadSession", call.state.graph_url),
                "uploadUrl": format!("{}up/{token}", call.state.content_url),
                "expirationDateTime": expires_at.rfc3339(),
                "nextExpectedRanges": ["0-"],
            }),
        )
    })
}
