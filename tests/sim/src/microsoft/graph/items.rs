//! Item routes of the Graph host: `/me`, the drive, item metadata, children (paging, ordering,
//! folder creation), update/move, delete and the download redirect.

use std::cmp::Ordering;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::content::download_url;
use super::drive::{Conflict, Drive, Item, NewItem};
use super::error::GraphError;
use super::render::{drive_json, item_json, parse_select, parse_user_select, select, user_json};
use super::route::{Base, Target};
use super::{json_response, Call};
use crate::microsoft::directory::User;
use crate::microsoft::MsState;

/// Property names accepted in a `POST …/children` body.
const CREATE_FOLDER_KEYS: &[&str] = &["name", "folder", "@microsoft.graph.conflictBehavior"];
/// Property names accepted in a `PATCH` body.
const PATCH_KEYS: &[&str] = &[
    "name",
    "parentReference",
    "@microsoft.graph.conflictBehavior",
];

/// The caller's directory entry.
pub fn caller_user<'a>(call: &Call<'a>) -> Result<&'a User, GraphError> {
    call.state
        .directory
        .user(&call.caller.user_id)
        .ok_or_else(GraphError::not_found)
}

/// Runs `f` on the caller's drive (after checking a `/drives/{id}` URL names it).
pub fn with_drive<T>(
    call: &Call<'_>,
    f: impl FnOnce(&mut Drive, &User) -> Result<T, GraphError>,
) -> Result<T, GraphError> {
    let user = caller_user(call)?;
    let mut drives = call.state.drives();
    let drive = drives
        .drive_mut(&user.id)
        .ok_or_else(GraphError::not_found)?;
    if call.drive_id.as_ref().is_some_and(|id| *id != drive.id) {
        return Err(GraphError::not_found());
    }
    f(drive, user)
}

/// The item a target names.
pub fn resolve<'d>(drive: &'d Drive, target: &Target) -> Result<&'d Item, GraphError> {
    let base = match &target.base {
        Base::Root => drive.root_id.clone(),
        Base::Id(id) => id.clone(),
    };
    drive.resolve(&base, &target.segments)
}

/// For creation by path: the parent folder's id and the new name (the last segment).
pub fn parent_and_name(drive: &Drive, target: &Target) -> Result<(String, String), GraphError> {
    let Some((name, parents)) = target.segments.split_last() else {
        return Err(GraphError::invalid("The path must name the new item."));
    };
    let parent = resolve(
        drive,
        &Target {
            base: target.base.clone(),
            segments: parents.to_vec(),
        },
    )?;
    if !parent.is_folder() {
        return Err(GraphError::invalid("The parent item is not a folder."));
    }
    Ok((parent.id.clone(), name.clone()))
}

/// The driveItem JSON with its `@odata.context`.
pub fn item_body(call: &Call<'_>, user: &User, drive: &Drive, item: &Item) -> Map<String, Value> {
    item_body_for(call.state, user, drive, item)
}

/// [`item_body`] outside a Graph call (the content host's commit answer).
pub fn item_body_for(
    state: &MsState,
    user: &User,
    drive: &Drive,
    item: &Item,
) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "@odata.context".into(),
        json!(format!(
            "{}$metadata#users('{}')/drive/items/$entity",
            state.graph_url, user.id
        )),
    );
    map.extend(item_json(state, user, drive, item));
    map
}

fn if_match(call: &Call<'_>, item: &Item) -> Result<(), GraphError> {
    let Some(value) = call.headers.get(header::IF_MATCH) else {
        return Ok(());
    };
    let value = value.to_str().unwrap_or_default().trim();
    if value == "*" || value == item.etag() || value == item.ctag() {
        return Ok(());
    }
    Err(GraphError::new(
        StatusCode::PRECONDITION_FAILED,
        "resourceModified",
        "The resource has changed since the caller last read it.",
    )
    .inner("entityTagDoesNotMatch"))
}

fn not_modified(call: &Call<'_>, item: &Item) -> bool {
    call.headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .is_some_and(|v| v == item.etag() || v == item.ctag())
}

fn conflict_option(call: &Call<'_>, body: Option<&Value>) -> Result<Option<Conflict>, GraphError> {
    let in_body = body
        .and_then(|b| b.get("@microsoft.graph.conflictBehavior"))
        .map(|v| {
            v.as_str()
                .ok_or_else(|| GraphError::invalid("conflictBehavior must be a string."))
        })
        .transpose()?;
    let in_query = call.query.get("@microsoft.graph.conflictbehavior");
    match (in_body, in_query) {
        (Some(a), Some(b)) if a != b => Err(GraphError::invalid(
            "The conflict behaviour differs between the body and the URL.",
        )),
        (Some(v), _) | (None, Some(v)) => Conflict::parse(v).map(Some),
        (None, None) => Ok(None),
    }
}

fn refuse_other_keys(body: &Value, allowed: &[&str]) -> Result<(), GraphError> {
    let Some(object) = body.as_object() else {
        return Err(GraphError::invalid("The body must be a JSON object."));
    };
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(GraphError::invalid(format!(
            "The property '{}' is not supported here by the emulator.",
            key.chars().take(64).collect::<String>()
        ))),
        None => Ok(()),
    }
}

/// `GET /me`.
pub fn me(call: &Call<'_>) -> Result<Response, GraphError> {
    call.query.allow(&["$select"])?;
    let selected = call
        .query
        .get("$select")
        .map(parse_user_select)
        .transpose()?;
    let user = caller_user(call)?;
    Ok(json_response(
        StatusCode::OK,
        user_json(call.state, user, selected.as_deref()),
    ))
}

/// `GET /me/drive`.
pub fn drive(call: &Call<'_>) -> Result<Response, GraphError> {
    call.query.allow(&[])?;
    with_drive(call, |drive, user| {
        Ok(json_response(
            StatusCode::OK,
            drive_json(call.state, user, drive),
        ))
    })
}

/// `GET` an item's metadata.
pub fn get_item(call: &Call<'_>, target: &Target) -> Result<Response, GraphError> {
    call.query.allow(&["$select"])?;
    let selected = call.query.get("$select").map(parse_select).transpose()?;
    with_drive(call, |drive, user| {
        let item = resolve(drive, target)?;
        if not_modified(call, item) {
            return Ok(StatusCode::NOT_MODIFIED.into_response());
        }
        let body = item_body(call, user, drive, item);
        Ok(json_response(
            StatusCode::OK,
            select(body, selected.as_deref()),
        ))
    })
}

/// `GET …/content`: 302 to the pre-authenticated download URL.
pub fn download(call: &Call<'_>, target: &Target) -> Result<Response, GraphError> {
    call.query.allow(&[])?;
    with_drive(call, |drive, user| {
        let item = resolve(drive, target)?;
        if item.is_folder() {
            return Err(GraphError::invalid(
                "Only driveItems with the file property can be downloaded.",
            ));
        }
        if not_modified(call, item) {
            return Ok(StatusCode::NOT_MODIFIED.into_response());
        }
        let location = download_url(call.state, &user.id, item);
        let mut response = StatusCode::FOUND.into_response();
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        Ok(response)
    })
}

/// `DELETE` an item (and everything under it): 204.
pub fn delete_item(call: &Call<'_>, target: &Target) -> Result<Response, GraphError> {
    call.query.allow(&[])?;
    let now = call.state.now();
    with_drive(call, |drive, _| {
        let item = resolve(drive, target)?;
        if_match(call, item)?;
        let id = item.id.clone();
        drive.delete(&id, now)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `POST …/children`: creates a folder (`{"name", "folder": {}, "@microsoft.graph.conflictBehavior"}`).
pub fn create_folder(
    call: &Call<'_>,
    target: &Target,
    body: Value,
) -> Result<Response, GraphError> {
    call.query.allow(&["@microsoft.graph.conflictbehavior"])?;
    refuse_other_keys(&body, CREATE_FOLDER_KEYS)?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid("The property 'name' is required."))?
        .to_string();
    if !body.get("folder").is_some_and(Value::is_object) {
        return Err(GraphError::invalid(
            "The emulator creates folders only: send a 'folder' facet.",
        ));
    }
    let conflict = conflict_option(call, Some(&body))?.unwrap_or(Conflict::Fail);
    let now = call.state.now();
    with_drive(call, |drive, user| {
        let parent = resolve(drive, target)?;
        if !parent.is_folder() {
            return Err(GraphError::invalid("The parent item is not a folder."));
        }
        let parent = parent.id.clone();
        let (id, _) = drive.create(&parent, &name, NewItem::Folder, conflict, now)?;
        let item = drive.get(&id).ok_or_else(GraphError::not_found)?;
        Ok(json_response(
            StatusCode::CREATED,
            Value::Object(item_body(call, user, drive, item)),
        ))
    })
}

/// `PATCH` an item: rename (`name`) and/or move (`parentReference.id`).
pub fn patch_item(call: &Call<'_>, target: &Target, body: Value) -> Result<Response, GraphError> {
    call.query.allow(&["@microsoft.graph.conflictbehavior"])?;
    refuse_other_keys(&body, PATCH_KEYS)?;
    let name = match body.get("name") {
        None => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(GraphError::invalid("The property 'name' must be a string.")),
    };
    let parent = match body.get("parentReference") {
        None => None,
        Some(Value::Object(reference)) => {
            if reference.contains_key("path") {
                return Err(GraphError::not_emulated("Moving by parentReference.path"));
            }
            let id = reference
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| GraphError::invalid("parentReference needs an 'id'."))?;
            if id.eq_ignore_ascii_case("root") {
                return Err(GraphError::invalid(
                    "Use the actual id of the root folder in parentReference, not 'root'.",
                ));
            }
            Some((
                id.to_string(),
                reference
                    .get("driveId")
                    .and_then(Value::as_str)
                    .map(String::from),
            ))
        }
        Some(_) => return Err(GraphError::invalid("parentReference must be an object.")),
    };
    let conflict = conflict_option(call, Some(&body))?.unwrap_or(Conflict::Fail);
    let now = call.state.now();
    with_drive(call, |drive, user| {
        let item = resolve(drive, target)?;
        if_match(call, item)?;
        let id = item.id.clone();
        if let Some((_, Some(drive_id))) = &parent {
            if *drive_id != drive.id {
                return Err(GraphError::invalid("Items cannot be moved between drives."));
            }
        }
        let parent_id = parent.as_ref().map(|(id, _)| id.as_str());
        drive.move_item(&id, parent_id, name.as_deref(), conflict, now)?;
        let item = drive.get(&id).ok_or_else(GraphError::not_found)?;
        Ok(json_response(
            StatusCode::OK,
            Value::Object(item_body(call, user, drive, item)),
        ))
    })
}

/// Orders a children listing may take (`$orderby`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Order {
    NameAsc,
    NameDesc,
    ModifiedAsc,
    ModifiedDesc,
    SizeAsc,
    SizeDesc,
}

impl Order {
    fn parse(text: Option<&str>) -> Result<Self, GraphError> {
        let Some(text) = text else {
            return Ok(Order::NameAsc);
        };
        let mut words = text.split_whitespace();
        let (property, direction) = (words.next(), words.next().map(str::to_ascii_lowercase));
        let descending = match (direction.as_deref(), words.next()) {
            (None | Some("asc"), None) => false,
            (Some("desc"), None) => true,
            _ => return Err(bad_orderby()),
        };
        Ok(match (property, descending) {
            (Some("name"), false) => Order::NameAsc,
            (Some("name"), true) => Order::NameDesc,
            (Some("lastModifiedDateTime"), false) => Order::ModifiedAsc,
            (Some("lastModifiedDateTime"), true) => Order::ModifiedDesc,
            (Some("size"), false) => Order::SizeAsc,
            (Some("size"), true) => Order::SizeDesc,
            _ => return Err(bad_orderby()),
        })
    }
}

fn bad_orderby() -> GraphError {
    GraphError::invalid("$orderby supports name, lastModifiedDateTime and size, each asc or desc.")
        .inner("invalidQueryOption")
}

/// Where a page ends: the sort key of its last item (the opaque `$skiptoken`).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Cursor {
    /// Folder id.
    f: String,
    /// Order.
    o: Order,
    /// Lower-case name, modification time, size and id of the last item.
    n: String,
    m: String,
    s: u64,
    i: String,
}

impl Cursor {
    fn of(folder: &str, order: Order, item: &Item) -> Self {
        Cursor {
            f: folder.to_string(),
            o: order,
            n: item.name.to_lowercase(),
            m: item.modified.rfc3339(),
            s: item.size(),
            i: item.id.clone(),
        }
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(token: &str) -> Result<Self, GraphError> {
        URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| {
                GraphError::invalid("The $skiptoken is not valid.").inner("invalidStartIndex")
            })
    }

    fn compare(&self, order: Order, other: &Cursor) -> Ordering {
        let primary = match order {
            Order::NameAsc | Order::NameDesc => self.n.cmp(&other.n),
            Order::ModifiedAsc | Order::ModifiedDesc => self.m.cmp(&other.m),
            Order::SizeAsc | Order::SizeDesc => self.s.cmp(&other.s),
        };
        let primary = match order {
            Order::NameDesc | Order::ModifiedDesc | Order::SizeDesc => primary.reverse(),
            _ => primary,
        };
        primary
            .then_with(|| self.n.cmp(&other.n))
            .then_with(|| self.i.cmp(&other.i))
    }
}

fn parse_top(call: &Call<'_>) -> Result<Option<usize>, GraphError> {
    let Some(text) = call.query.get("$top") else {
        return Ok(None);
    };
    let max = call.state.ms().max_page_size;
    match text.trim().parse::<i64>() {
        Ok(n) if n <= 0 => {
            Err(GraphError::invalid("$top must be positive.").inner("zeroOrFewerResultsRequested"))
        }
        Ok(n) if n as u64 > max as u64 => Err(GraphError::invalid(format!(
            "The limit of '{max}' for Top query has been exceeded."
        ))
        .inner("tooManyResultsRequested")),
        Ok(n) => Ok(Some(n as usize)),
        Err(_) => Err(GraphError::invalid("$top must be an integer.").inner("invalidQueryOption")),
    }
}

/// `GET …/children`: one page, with `@odata.nextLink` (an absolute URL carrying an opaque
/// `$skiptoken`) when more items follow.
pub fn list_children(call: &Call<'_>, target: &Target) -> Result<Response, GraphError> {
    call.query
        .allow(&["$top", "$skiptoken", "$select", "$orderby"])?;
    let top = parse_top(call)?;
    let order = Order::parse(call.query.get("$orderby"))?;
    let selected = call.query.get("$select").map(parse_select).transpose()?;
    let after = call
        .query
        .get("$skiptoken")
        .map(Cursor::decode)
        .transpose()?;
    let page_size = call
        .state
        .faults
        .page_size(top.unwrap_or(call.state.ms().default_page_size));
    with_drive(call, |drive, user| {
        let folder = resolve(drive, target)?;
        if !folder.is_folder() {
            return Err(GraphError::invalid("Only folders have children."));
        }
        if let Some(after) = &after {
            if after.f != folder.id || after.o != order {
                return Err(
                    GraphError::invalid("The $skiptoken belongs to another listing.")
                        .inner("invalidStartIndex"),
                );
            }
        }
        let mut children: Vec<(Cursor, &Item)> = drive
            .children_of(folder)
            .into_iter()
            .map(|item| (Cursor::of(&folder.id, order, item), item))
            .filter(|(key, _)| {
                after
                    .as_ref()
                    .is_none_or(|a| key.compare(order, a) == Ordering::Greater)
            })
            .collect();
        children.sort_by(|a, b| a.0.compare(order, &b.0));
        let more = children.len() > page_size;
        children.truncate(page_size);
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            json!(format!(
                "{}$metadata#users('{}')/drive/items('{}')/children",
                call.state.graph_url, user.id, folder.id
            )),
        );
        let value: Vec<Value> = children
            .iter()
            .map(|(_, item)| {
                select(
                    item_json(call.state, user, drive, item),
                    selected.as_deref(),
                )
            })
            .collect();
        body.insert("value".into(), Value::Array(value));
        if let (true, Some((last, _))) = (more, children.last()) {
            body.insert(
                "@odata.nextLink".into(),
                json!(next_link(call, &folder.id, top, last)),
            );
        }
        Ok(json_response(StatusCode::OK, Value::Object(body)))
    })
}

fn next_link(call: &Call<'_>, folder_id: &str, top: Option<usize>, last: &Cursor) -> String {
    let encode = |v: &str| {
        url::form_urlencoded::byte_serialize(v.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let mut link = format!(
        "{}me/drive/items/{}/children?",
        call.state.graph_url, folder_id
    );
    let mut options = Vec::new();
    if let Some(top) = top {
        options.push(format!("$top={top}"));
    }
    for name in ["$select", "$orderby"] {
        if let Some(value) = call.query.get(name) {
            options.push(format!("{name}={}", encode(value)));
        }
    }
    options.push(format!("$skiptoken={}", last.encode()));
    link.push_str(&options.join("&"));
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orderby_parses_graph_syntax() {
        assert_eq!(Order::parse(None).unwrap(), Order::NameAsc);
        assert_eq!(
            Order::parse(Some("lastModifiedDateTime desc")).unwrap(),
            Order::ModifiedDesc
        );
        assert_eq!(Order::parse(Some("name ASC")).unwrap(), Order::NameAsc);
        assert!(Order::parse(Some("createdDateTime")).is_err());
        assert!(Order::parse(Some("name desc extra")).is_err());
    }

    #[test]
    fn skiptokens_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            f: "01F".into(),
            o: Order::SizeDesc,
            n: "a".into(),
            m: "2026-01-01T00:00:00.000Z".into(),
            s: 3,
            i: "01X".into(),
        };
        let decoded = Cursor::decode(&cursor.encode()).unwrap();
        assert_eq!(decoded.compare(Order::SizeDesc, &cursor), Ordering::Equal);
        assert!(Cursor::decode("not a token!").is_err());
    }
}
