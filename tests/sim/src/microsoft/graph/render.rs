//! driveItem, drive and user JSON in Graph's wire format, and `$select`.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::content::download_url;
use super::drive::{Drive, Item, ItemKind};
use super::error::GraphError;
use super::names::{encode_segment, mime_type};
use crate::microsoft::directory::User;
use crate::microsoft::MsState;

/// Properties a driveItem may be `$select`ed on.
const SELECTABLE: &[&str] = &[
    "id",
    "name",
    "size",
    "createdDateTime",
    "lastModifiedDateTime",
    "eTag",
    "cTag",
    "webUrl",
    "createdBy",
    "lastModifiedBy",
    "parentReference",
    "file",
    "folder",
    "root",
    "fileSystemInfo",
    "@microsoft.graph.downloadUrl",
];

/// Parses `$select`: property names separated by commas, each one Graph has on a driveItem.
pub fn parse_select(text: &str) -> Result<Vec<String>, GraphError> {
    select_names(text, SELECTABLE, |bad| {
        GraphError::invalid(format!(
            "Could not find a property named '{bad}' on type 'microsoft.graph.driveItem'."
        ))
        .inner("invalidQueryOption")
    })
}

/// Splits a `$select` list; the first name not in `allowed` (cut to 64 characters) is `refused`.
fn select_names(
    text: &str,
    allowed: &[&str],
    refused: impl FnOnce(&str) -> GraphError,
) -> Result<Vec<String>, GraphError> {
    let names: Vec<String> = text.split(',').map(|s| s.trim().to_string()).collect();
    match names.iter().find(|n| !allowed.contains(&n.as_str())) {
        Some(bad) => Err(refused(&bad.chars().take(64).collect::<String>())),
        None => Ok(names),
    }
}

/// Keeps only the selected properties (all of them without `$select`).
pub fn select(map: Map<String, Value>, selected: Option<&[String]>) -> Value {
    match selected {
        None => Value::Object(map),
        Some(keep) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| keep.iter().any(|s| s == k))
                .collect(),
        ),
    }
}

/// `/drive/root:` followed by the encoded path of a folder.
pub fn api_path(drive: &Drive, folder_id: &str) -> String {
    let mut path = String::from("/drive/root:");
    for name in drive.path_names(folder_id) {
        path.push('/');
        path.push_str(&encode_segment(name));
    }
    path
}

fn identity(user: &User) -> Value {
    json!({ "user": { "email": user.upn, "id": user.id, "displayName": user.display_name } })
}

/// The driveItem resource of `item`.
pub fn item_json(state: &MsState, user: &User, drive: &Drive, item: &Item) -> Map<String, Value> {
    let mut map = Map::new();
    if let Some(file) = item.file() {
        map.insert(
            "@microsoft.graph.downloadUrl".into(),
            json!(download_url(state, &user.id, item)),
        );
        map.insert("cTag".into(), json!(item.ctag()));
        map.insert(
            "file".into(),
            json!({
                "mimeType": mime_type(&item.name),
                "hashes": { "quickXorHash": file.quick_xor_hash, "sha256Hash": file.sha256 },
            }),
        );
    }
    map.insert("createdDateTime".into(), json!(item.created.rfc3339()));
    map.insert("eTag".into(), json!(item.etag()));
    map.insert("id".into(), json!(item.id));
    map.insert(
        "lastModifiedDateTime".into(),
        json!(item.modified.rfc3339()),
    );
    map.insert("name".into(), json!(item.name));
    let mut web = format!("{}personal/{}/Documents", state.content_url, user.id);
    for name in drive.path_names(&item.id) {
        web.push('/');
        web.push_str(&encode_segment(name));
    }
    map.insert("webUrl".into(), json!(web));
    map.insert("size".into(), json!(item.size()));
    map.insert("createdBy".into(), identity(user));
    map.insert("lastModifiedBy".into(), identity(user));
    let mut parent = json!({ "driveType": "business", "driveId": drive.id });
    if let (Some(parent_id), Some(object)) = (&item.parent, parent.as_object_mut()) {
        object.insert("id".into(), json!(parent_id));
        object.insert("path".into(), json!(api_path(drive, parent_id)));
    }
    map.insert("parentReference".into(), parent);
    map.insert(
        "fileSystemInfo".into(),
        json!({
            "createdDateTime": item.created.rfc3339(),
            "lastModifiedDateTime": item.modified.rfc3339(),
        }),
    );
    if let ItemKind::Folder { children } = &item.kind {
        map.insert("folder".into(), json!({ "childCount": children.len() }));
    }
    if item.parent.is_none() {
        map.insert("root".into(), json!({}));
    }
    map
}

/// The drive resource.
pub fn drive_json(state: &MsState, user: &User, drive: &Drive) -> Value {
    let used = drive.used();
    json!({
        "@odata.context": format!("{}$metadata#drives/$entity", state.graph_url),
        "createdDateTime": drive.created.rfc3339(),
        "description": "",
        "id": drive.id,
        "lastModifiedDateTime": drive.root().modified.rfc3339(),
        "name": "OneDrive",
        "webUrl": format!("{}personal/{}/Documents", state.content_url, user.id),
        "driveType": "business",
        "createdBy": { "user": { "displayName": "System Account" } },
        "lastModifiedBy": identity(user),
        "owner": identity(user),
        "quota": {
            "deleted": 0,
            "remaining": drive.quota.saturating_sub(used),
            "state": "normal",
            "total": drive.quota,
            "used": used,
        },
    })
}

/// The user properties Graph returns by default, the ones the emulator models: `$select` on
/// `/me` may name these.
const USER_SELECTABLE: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

/// Parses `$select` on a user: property names separated by commas. A name the emulator does not
/// model is refused as Graph's directory refuses a property the user type does not have.
pub fn parse_user_select(text: &str) -> Result<Vec<String>, GraphError> {
    select_names(text, USER_SELECTABLE, |bad| {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            format!(
                "Could not find a property named '{bad}' on type 'Microsoft.DirectoryServices.User'."
            ),
        )
    })
}

/// The user resource of `/me`: the default properties, or only the `selected` ones (then
/// `@odata.context` names them, as Graph does).
pub fn user_json(state: &MsState, user: &User, selected: Option<&[String]>) -> Value {
    let context = match selected {
        None => format!("{}$metadata#users/$entity", state.graph_url),
        Some(names) => format!(
            "{}$metadata#users({})/$entity",
            state.graph_url,
            names.join(",")
        ),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context));
    if let Value::Object(properties) = select(user_properties(user), selected) {
        body.extend(properties);
    }
    Value::Object(body)
}

/// The default properties of a user.
fn user_properties(user: &User) -> Map<String, Value> {
    let (given, surname) = user
        .display_name
        .split_once(' ')
        .map_or((user.display_name.as_str(), ""), |(g, s)| (g, s));
    [
        ("businessPhones", json!([])),
        ("displayName", json!(user.display_name)),
        ("givenName", json!(given)),
        ("jobTitle", Value::Null),
        ("mail", json!(user.upn)),
        ("mobilePhone", Value::Null),
        ("officeLocation", Value::Null),
        ("preferredLanguage", Value::Null),
        ("surname", json!(surname)),
        ("userPrincipalName", json!(user.upn)),
        ("id", json!(user.id)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}
