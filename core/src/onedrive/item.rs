//! Drive items as the core uses them, parsed strictly from Graph's `driveItem` JSON.

use serde::Deserialize;

/// Whether the printer can print a file, judged by MIME type and extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printability {
    /// PDF, images, Office documents, plain text.
    Printable,
    /// Listed, but the printer cannot render it.
    Unsupported,
    /// A folder (navigable, not printable).
    Folder,
}

/// A file or folder in OneDrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveItem {
    /// Graph item id.
    pub id: String,
    /// File or folder name.
    pub name: String,
    /// Size in bytes (folders: total of their contents).
    pub size: u64,
    /// Last modification, RFC 3339 as Graph sends it.
    pub last_modified: String,
    /// MIME type of a file.
    pub mime_type: Option<String>,
    /// Number of children of a folder.
    pub child_count: Option<u64>,
    /// What the printer can do with it.
    pub printability: Printability,
}

impl DriveItem {
    /// Whether this is a folder.
    pub fn is_folder(&self) -> bool {
        self.printability == Printability::Folder
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawItem {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub last_modified_date_time: String,
    #[serde(default)]
    pub file: Option<RawFile>,
    #[serde(default)]
    pub folder: Option<RawFolder>,
    #[serde(rename = "@microsoft.graph.downloadUrl", default)]
    pub download_url: Option<String>,
    /// Changes whenever the content changes.
    #[serde(rename = "cTag", default)]
    pub c_tag: Option<String>,
    /// Changes whenever the item (content or metadata) changes.
    #[serde(rename = "eTag", default)]
    pub e_tag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawFile {
    #[serde(default)]
    pub mime_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawFolder {
    #[serde(default)]
    pub child_count: Option<u64>,
}

const PRINTABLE_MIME: [&str; 6] = [
    "application/pdf",
    "text/plain",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/rtf",
];

const PRINTABLE_EXT: [&str; 16] = [
    "pdf", "txt", "jpg", "jpeg", "png", "tif", "tiff", "bmp", "gif", "doc", "docx", "xls", "xlsx",
    "ppt", "pptx", "rtf",
];

/// Classifies a file by MIME type, falling back to the extension (Graph's MIME types are
/// sometimes generic, e.g. `application/octet-stream`).
pub fn printability(name: &str, mime: Option<&str>) -> Printability {
    let mime = mime.unwrap_or_default().to_ascii_lowercase();
    let by_mime = PRINTABLE_MIME.contains(&mime.as_str())
        || mime.starts_with("image/")
        || mime.starts_with("application/vnd.openxmlformats-officedocument.");
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if by_mime || PRINTABLE_EXT.contains(&ext.as_str()) {
        Printability::Printable
    } else {
        Printability::Unsupported
    }
}

impl RawItem {
    /// Checks bounds (ids and names are untrusted server data) and converts.
    pub(crate) fn into_item(self) -> Result<DriveItem, String> {
        let bounded = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control)
        };
        if !bounded(&self.id, 256) {
            return Err("item id out of bounds".into());
        }
        if !bounded(&self.name, 1024) {
            return Err("item name out of bounds".into());
        }
        if self.last_modified_date_time.len() > 64 {
            return Err("item timestamp out of bounds".into());
        }
        let mime_type = self
            .file
            .as_ref()
            .and_then(|f| f.mime_type.clone())
            .filter(|m| m.len() <= 255);
        let printability = if self.folder.is_some() {
            Printability::Folder
        } else {
            printability(&self.name, mime_type.as_deref())
        };
        Ok(DriveItem {
            id: self.id,
            name: self.name,
            size: self.size,
            last_modified: self.last_modified_date_time,
            child_count: self.folder.and_then(|f| f.child_count),
            mime_type,
            printability,
        })
    }
}

/// Sorts for display: folders first, then by name (case-insensitive), then id — stable across
/// pages and refreshes.
pub fn sort_for_browsing(items: &mut [DriveItem]) {
    items.sort_by(|a, b| {
        b.is_folder()
            .cmp(&a.is_folder())
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.id.cmp(&b.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_mime_then_extension() {
        assert_eq!(
            printability("a.pdf", Some("application/pdf")),
            Printability::Printable
        );
        assert_eq!(
            printability("photo", Some("image/heic")),
            Printability::Printable
        );
        assert_eq!(
            printability("b.docx", Some("application/octet-stream")),
            Printability::Printable
        );
        assert_eq!(
            printability("c.zip", Some("application/zip")),
            Printability::Unsupported
        );
        assert_eq!(printability("noext", None), Printability::Unsupported);
    }

    #[test]
    fn parses_graph_items_and_bounds_them() {
        let json = serde_json::json!({
            "id": "01ABC", "name": "Report.pdf", "size": 1234,
            "lastModifiedDateTime": "2026-11-24T10:00:00Z",
            "file": {"mimeType": "application/pdf"}
        });
        let item = serde_json::from_value::<RawItem>(json)
            .unwrap()
            .into_item()
            .unwrap();
        assert_eq!(item.printability, Printability::Printable);
        assert_eq!(item.size, 1234);
        let folder = serde_json::json!({"id": "01F", "name": "Sub", "folder": {"childCount": 3}});
        let folder = serde_json::from_value::<RawItem>(folder)
            .unwrap()
            .into_item()
            .unwrap();
        assert!(folder.is_folder());
        assert_eq!(folder.child_count, Some(3));
        let bad = serde_json::json!({"id": "", "name": "x"});
        assert!(serde_json::from_value::<RawItem>(bad)
            .unwrap()
            .into_item()
            .is_err());
    }

    #[test]
    fn browsing_order_is_folders_then_names() {
        let item = |id: &str, name: &str, folder: bool| DriveItem {
            id: id.into(),
            name: name.into(),
            size: 0,
            last_modified: String::new(),
            mime_type: None,
            child_count: None,
            printability: if folder {
                Printability::Folder
            } else {
                Printability::Printable
            },
        };
        let mut items = vec![
            item("3", "b.pdf", false),
            item("1", "Z", true),
            item("2", "a.pdf", false),
        ];
        sort_for_browsing(&mut items);
        let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["Z", "a.pdf", "b.pdf"]);
    }
}
