//! Graph URL addressing: `/v1.0/me`, `/v1.0/me/drive`, items by id (`/items/{id}`) or by path
//! (`/root:/Print/a%20b.pdf:`), relative paths (`/items/{id}:/name:`) and the `children`,
//! `content` and `createUploadSession` segments. Path segments are percent-decoded exactly once.

use axum::http::{Method, StatusCode};

use super::error::GraphError;
use super::names::decode_segment;

/// Where an item address starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base {
    Root,
    Id(String),
}

/// An item address: a base and decoded names below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub base: Base,
    pub segments: Vec<String>,
}

/// What is asked of the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Item,
    Children,
    Content,
    CreateUploadSession,
}

/// A parsed Graph URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    Me,
    Drive,
    Item(Target, Action),
}

/// The resource and, for `/drives/{id}`, the drive id named in the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub resource: Resource,
    pub drive_id: Option<String>,
}

fn unknown_segment() -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "Resource not found for the segment.",
    )
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn action(suffix: &str) -> Result<Action, GraphError> {
    match suffix.to_ascii_lowercase().as_str() {
        "" | "/" => Ok(Action::Item),
        "/children" => Ok(Action::Children),
        "/content" => Ok(Action::Content),
        "/createuploadsession" => Ok(Action::CreateUploadSession),
        _ => Err(unknown_segment()),
    }
}

/// Parses the raw (still percent-encoded) path of a request to the Graph host.
pub fn parse(raw: &str) -> Result<Parsed, GraphError> {
    let Some(rest) = strip_prefix_ci(raw, "/v1.0") else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid version: the emulator serves /v1.0 only.",
        ));
    };
    if rest.eq_ignore_ascii_case("/me") || rest.eq_ignore_ascii_case("/me/") {
        return Ok(Parsed {
            resource: Resource::Me,
            drive_id: None,
        });
    }
    let (rest, drive_id) = if let Some(r) = strip_prefix_ci(rest, "/me/drive") {
        (r, None)
    } else if let Some(r) = strip_prefix_ci(rest, "/drives/") {
        let end = r.find('/').unwrap_or(r.len());
        (&r[end..], Some(decode_segment(&r[..end])?))
    } else {
        return Err(unknown_segment());
    };
    if rest.is_empty() || rest == "/" {
        return Ok(Parsed {
            resource: Resource::Drive,
            drive_id,
        });
    }
    let (base, tail) = if let Some(t) = strip_prefix_ci(rest, "/root") {
        (Base::Root, t)
    } else if let Some(t) = strip_prefix_ci(rest, "/items/") {
        let end = t.find(['/', ':']).unwrap_or(t.len());
        let id = decode_segment(&t[..end])?;
        if id.is_empty() || id.len() > 256 {
            return Err(GraphError::invalid("Invalid item id."));
        }
        (Base::Id(id), &t[end..])
    } else {
        return Err(unknown_segment());
    };
    let (segments, suffix) = match tail.strip_prefix(':') {
        None => (Vec::new(), tail),
        Some(addressed) => {
            let (path, suffix) = match addressed.find(':') {
                Some(k) => (&addressed[..k], &addressed[k + 1..]),
                None => (addressed, ""),
            };
            (split_path(path)?, suffix)
        }
    };
    Ok(Parsed {
        resource: Resource::Item(Target { base, segments }, action(suffix)?),
        drive_id,
    })
}

/// `/a/b%20c` → `["a", "b c"]`; empty and `/` mean the base itself.
fn split_path(path: &str) -> Result<Vec<String>, GraphError> {
    if path.is_empty() || path == "/" {
        return Ok(Vec::new());
    }
    let Some(path) = path.strip_prefix('/') else {
        return Err(GraphError::invalid("A path must start with '/'."));
    };
    path.split('/')
        .map(|raw| {
            if raw.is_empty() {
                return Err(GraphError::invalid("The path has an empty segment."));
            }
            decode_segment(raw)
        })
        .collect()
}

/// The label a request is counted under in `GraphStats`.
pub fn label(method: &Method, resource: Option<&Resource>) -> &'static str {
    let Some(resource) = resource else {
        return "other";
    };
    match (method.as_str(), resource) {
        ("GET", Resource::Me) => "GET /me",
        ("GET", Resource::Drive) => "GET /me/drive",
        ("GET", Resource::Item(_, Action::Item)) => "GET item",
        ("PATCH", Resource::Item(_, Action::Item)) => "PATCH item",
        ("DELETE", Resource::Item(_, Action::Item)) => "DELETE item",
        ("GET", Resource::Item(_, Action::Children)) => "GET children",
        ("POST", Resource::Item(_, Action::Children)) => "POST children",
        ("GET", Resource::Item(_, Action::Content)) => "GET content",
        ("PUT", Resource::Item(_, Action::Content)) => "PUT content",
        ("POST", Resource::Item(_, Action::CreateUploadSession)) => "POST createUploadSession",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(raw: &str) -> (Target, Action) {
        match parse(raw).unwrap().resource {
            Resource::Item(t, a) => (t, a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_graph_addressing() {
        assert_eq!(parse("/v1.0/me").unwrap().resource, Resource::Me);
        assert_eq!(parse("/v1.0/me/drive").unwrap().resource, Resource::Drive);
        assert_eq!(
            item("/v1.0/me/drive/root"),
            (
                Target {
                    base: Base::Root,
                    segments: vec![]
                },
                Action::Item
            )
        );
        assert_eq!(
            item("/v1.0/me/drive/root:/Print:"),
            (
                Target {
                    base: Base::Root,
                    segments: vec!["Print".into()]
                },
                Action::Item
            )
        );
        assert_eq!(
            item("/v1.0/me/drive/root:/Print"),
            (
                Target {
                    base: Base::Root,
                    segments: vec!["Print".into()]
                },
                Action::Item
            )
        );
        assert_eq!(
            item("/v1.0/me/drive/root:/Print/50%25%20%231.pdf:/content"),
            (
                Target {
                    base: Base::Root,
                    segments: vec!["Print".into(), "50% #1.pdf".into()]
                },
                Action::Content
            )
        );
        assert_eq!(
            item("/v1.0/me/drive/items/01ABC:/new.pdf:/createUploadSession"),
            (
                Target {
                    base: Base::Id("01ABC".into()),
                    segments: vec!["new.pdf".into()]
                },
                Action::CreateUploadSession
            )
        );
        assert_eq!(
            item("/v1.0/me/drive/items/01ABC/children"),
            (
                Target {
                    base: Base::Id("01ABC".into()),
                    segments: vec![]
                },
                Action::Children
            )
        );
        let parsed = parse("/v1.0/drives/b!x/root/children").unwrap();
        assert_eq!(parsed.drive_id.as_deref(), Some("b!x"));
    }

    #[test]
    fn refuses_what_graph_does_not_have() {
        assert!(parse("/beta/me").is_err());
        assert!(parse("/v1.0/users").is_err());
        assert!(parse("/v1.0/me/drive/root:/a//b:").is_err());
        assert!(parse("/v1.0/me/drive/root:/a:/thumbnails").is_err());
        assert!(parse("/v1.0/me/drive/root:/bad%zz:").is_err());
        assert!(parse("/v1.0/me/drive/special/documents").is_err());
    }
}
