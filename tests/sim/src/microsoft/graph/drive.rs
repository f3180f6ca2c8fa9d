//! Every user's OneDrive, in memory: the item tree, conflict behaviours, moves, quota, and the
//! open upload sessions.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::error::GraphError;
use super::names::{name_key, rename_candidate, validate_name, MAX_PATH_CHARS};
use crate::clock::SimTime;
use crate::microsoft::directory::random_guid;
use crate::secret::SecretHash;

/// What to do when the name is taken (`@microsoft.graph.conflictBehavior`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    Fail,
    Replace,
    Rename,
}

impl Conflict {
    /// Parses `fail`, `replace` or `rename`.
    pub fn parse(value: &str) -> Result<Self, GraphError> {
        match value {
            "fail" => Ok(Conflict::Fail),
            "replace" => Ok(Conflict::Replace),
            "rename" => Ok(Conflict::Rename),
            _ => Err(GraphError::invalid(
                "@microsoft.graph.conflictBehavior must be fail, replace or rename.",
            )),
        }
    }
}

/// A stored file.
#[derive(Clone, Debug)]
pub struct FileContent {
    pub bytes: Bytes,
    /// SHA-256, upper-case hex as Graph's `sha256Hash`.
    pub sha256: String,
    /// QuickXorHash, base64 as Graph's `quickXorHash` (the hash OneDrive for work or school
    /// reports).
    pub quick_xor_hash: String,
}

impl FileContent {
    /// Wraps bytes, hashing them once.
    pub fn new(bytes: Bytes) -> Self {
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let quick_xor_hash = quick_xor_hash(&bytes);
        Self {
            bytes,
            sha256,
            quick_xor_hash,
        }
    }
}

/// Microsoft's QuickXorHash: a 160-bit register into which byte `i` is XORed at bit
/// `11 * i mod 160` (wrapping), then the length (64-bit little-endian) into its last 8 bytes.
pub fn quick_xor_hash(data: &[u8]) -> String {
    // Bits as three little-endian cells (64, 64 and 32 bits), as in the published snippet.
    let mut cells = [0u64; 3];
    for (i, &byte) in data.iter().enumerate() {
        let bit = (i as u64 * 11 % 160) as usize;
        for k in 0..8 {
            if byte >> k & 1 == 1 {
                let at = (bit + k) % 160;
                cells[at / 64] ^= 1 << (at % 64);
            }
        }
    }
    let mut out = [0u8; 20];
    out[..8].copy_from_slice(&cells[0].to_le_bytes());
    out[8..16].copy_from_slice(&cells[1].to_le_bytes());
    out[16..].copy_from_slice(&cells[2].to_le_bytes()[..4]);
    for (o, l) in out[12..].iter_mut().zip((data.len() as u64).to_le_bytes()) {
        *o ^= l;
    }
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// File or folder.
#[derive(Clone, Debug)]
pub enum ItemKind {
    /// Children by case-insensitive name key.
    Folder {
        children: BTreeMap<String, String>,
    },
    File(FileContent),
}

/// A driveItem.
#[derive(Clone, Debug)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    pub created: SimTime,
    pub modified: SimTime,
    /// Basis of `eTag` and `cTag`.
    pub guid: String,
    pub etag_version: u64,
    /// Content version: `cTag`, and what download URLs are bound to.
    pub ctag_version: u64,
    pub kind: ItemKind,
}

impl Item {
    pub fn is_folder(&self) -> bool {
        matches!(self.kind, ItemKind::Folder { .. })
    }

    pub fn size(&self) -> u64 {
        match &self.kind {
            ItemKind::File(f) => f.bytes.len() as u64,
            ItemKind::Folder { .. } => 0,
        }
    }

    pub fn file(&self) -> Option<&FileContent> {
        match &self.kind {
            ItemKind::File(f) => Some(f),
            ItemKind::Folder { .. } => None,
        }
    }

    pub fn children(&self) -> Option<&BTreeMap<String, String>> {
        match &self.kind {
            ItemKind::Folder { children } => Some(children),
            ItemKind::File(_) => None,
        }
    }

    pub fn etag(&self) -> String {
        format!("\"{{{}}},{}\"", self.guid, self.etag_version)
    }

    pub fn ctag(&self) -> String {
        format!("\"c:{{{}}},{}\"", self.guid, self.ctag_version)
    }
}

/// What to create.
#[derive(Debug)]
pub enum NewItem {
    Folder,
    File(FileContent),
}

/// One user's drive.
#[derive(Debug)]
pub struct Drive {
    pub id: String,
    pub root_id: String,
    pub created: SimTime,
    pub quota: u64,
    items: HashMap<String, Item>,
}

/// Where an upload session's file goes.
#[derive(Clone, Debug)]
pub enum SessionTarget {
    /// A new file `name` in `parent_id`.
    New {
        parent_id: String,
        name: String,
        conflict: Conflict,
    },
    /// New content for an existing file.
    Existing { item_id: String },
}

/// An upload session: the bytes received so far, in order.
#[derive(Debug)]
pub struct UploadSession {
    pub user_id: String,
    pub target: SessionTarget,
    /// `item.fileSize` from the request, if given.
    pub declared_size: Option<u64>,
    /// The total of the first `Content-Range`, which every fragment must repeat.
    pub total: Option<u64>,
    pub buffer: Vec<u8>,
    pub expires_at: SimTime,
}

/// Every drive and upload session.
#[derive(Debug, Default)]
pub struct Drives {
    drives: HashMap<String, Drive>,
    pub sessions: HashMap<SecretHash, UploadSession>,
}

/// A new OneDrive for Business style item id (`01` + 32 base32 characters).
pub fn new_item_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = String::from("01");
    for b in bytes {
        bits = (bits << 8) | u32::from(b);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            out.push(ALPHABET[((bits >> nbits) & 31) as usize] as char);
        }
    }
    out
}

fn new_drive_id() -> String {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    format!("b!{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl Drives {
    /// Creates an empty drive (just the root) for each user.
    pub fn seed<'a>(users: impl Iterator<Item = &'a str>, now: SimTime, quota: u64) -> Self {
        let mut drives = HashMap::new();
        for user in users {
            let root_id = new_item_id();
            let root = Item {
                id: root_id.clone(),
                name: "root".into(),
                parent: None,
                created: now,
                modified: now,
                guid: random_guid().to_uppercase(),
                etag_version: 1,
                ctag_version: 1,
                kind: ItemKind::Folder {
                    children: BTreeMap::new(),
                },
            };
            let drive = Drive {
                id: new_drive_id(),
                root_id: root_id.clone(),
                created: now,
                quota,
                items: HashMap::from([(root_id, root)]),
            };
            drives.insert(user.to_string(), drive);
        }
        Self {
            drives,
            sessions: HashMap::new(),
        }
    }

    /// Drops expired upload sessions.
    pub fn sweep(&mut self, now: SimTime) {
        self.sessions.retain(|_, s| now < s.expires_at);
    }

    pub fn drive(&self, user_id: &str) -> Option<&Drive> {
        self.drives.get(user_id)
    }

    pub fn drive_mut(&mut self, user_id: &str) -> Option<&mut Drive> {
        self.drives.get_mut(user_id)
    }
}

impl Drive {
    /// An item by id (`root` is an alias of the root folder).
    pub fn get(&self, id: &str) -> Option<&Item> {
        let id = if id.eq_ignore_ascii_case("root") {
            &self.root_id
        } else {
            id
        };
        self.items.get(id)
    }

    pub fn root(&self) -> &Item {
        &self.items[&self.root_id]
    }

    /// A child of a folder by name (case-insensitive).
    pub fn child(&self, folder: &Item, name: &str) -> Option<&Item> {
        folder
            .children()?
            .get(&name_key(name))
            .and_then(|id| self.items.get(id))
    }

    /// Follows `segments` from `base`: every step must exist, and all but the last be folders.
    pub fn resolve(&self, base: &str, segments: &[String]) -> Result<&Item, GraphError> {
        let mut item = self.get(base).ok_or_else(GraphError::not_found)?;
        for segment in segments {
            item = self
                .child(item, segment)
                .ok_or_else(GraphError::not_found)?;
        }
        Ok(item)
    }

    /// The names from the root down to `id` (empty for the root).
    pub fn path_names(&self, id: &str) -> Vec<&str> {
        let mut names = Vec::new();
        let mut current = self.items.get(id);
        while let Some(item) = current {
            match &item.parent {
                Some(parent) => {
                    names.push(item.name.as_str());
                    current = self.items.get(parent);
                }
                None => break,
            }
        }
        names.reverse();
        names
    }

    /// Bytes used by files.
    pub fn used(&self) -> u64 {
        self.items.values().map(Item::size).sum()
    }

    /// The direct children of a folder.
    pub fn children_of(&self, folder: &Item) -> Vec<&Item> {
        folder
            .children()
            .map(|c| c.values().filter_map(|id| self.items.get(id)).collect())
            .unwrap_or_default()
    }

    fn is_descendant_or_self(&self, candidate: &str, ancestor: &str) -> bool {
        let mut current = Some(candidate.to_string());
        while let Some(id) = current {
            if id == ancestor {
                return true;
            }
            current = self.items.get(&id).and_then(|i| i.parent.clone());
        }
        false
    }

    fn touch_ancestors(&mut self, mut id: Option<String>, now: SimTime) {
        while let Some(current) = id {
            let Some(item) = self.items.get_mut(&current) else {
                break;
            };
            item.modified = now;
            item.ctag_version += 1;
            id = item.parent.clone();
        }
    }

    fn check_quota(&self, replaced: u64, added: u64) -> Result<(), GraphError> {
        if self.used().saturating_sub(replaced).saturating_add(added) > self.quota {
            return Err(GraphError::quota_limit_reached());
        }
        Ok(())
    }

    fn check_path_length(&self, parent_id: &str, name: &str) -> Result<(), GraphError> {
        let parent_chars: usize = self
            .path_names(parent_id)
            .iter()
            .map(|n| n.chars().count() + 1)
            .sum();
        if parent_chars + 1 + name.chars().count() > MAX_PATH_CHARS {
            return Err(GraphError::invalid(format!(
                "The path is longer than {MAX_PATH_CHARS} characters."
            ))
            .inner("pathIsTooLong"));
        }
        Ok(())
    }

    /// A free name in `parent` for `name` under `conflict`: `Ok(None)` means "replace the item
    /// with this id".
    fn place(
        &self,
        parent: &Item,
        name: &str,
        conflict: Conflict,
        moving: Option<&str>,
    ) -> Result<(String, Option<String>), GraphError> {
        let taken = |n: &str| {
            self.child(parent, n)
                .filter(|i| Some(i.id.as_str()) != moving)
        };
        let Some(existing) = taken(name) else {
            return Ok((name.to_string(), None));
        };
        match conflict {
            Conflict::Fail => Err(GraphError::name_exists()),
            Conflict::Replace => Ok((name.to_string(), Some(existing.id.clone()))),
            Conflict::Rename => (1..=10_000)
                .map(|n| rename_candidate(name, n))
                .find(|candidate| taken(candidate).is_none())
                .map(|candidate| (candidate, None))
                .ok_or_else(GraphError::name_exists),
        }
    }

    /// Creates `new` as `name` in `parent_id`. Returns the item id and whether a new item was
    /// created (`false`: an existing file's content was replaced).
    pub fn create(
        &mut self,
        parent_id: &str,
        name: &str,
        new: NewItem,
        conflict: Conflict,
        now: SimTime,
    ) -> Result<(String, bool), GraphError> {
        validate_name(name)?;
        let parent = self.get(parent_id).ok_or_else(GraphError::not_found)?;
        if !parent.is_folder() {
            return Err(GraphError::invalid("The parent item is not a folder."));
        }
        let parent_id = parent.id.clone();
        self.check_path_length(&parent_id, name)?;
        let (name, replace) = self.place(parent, name, conflict, None)?;
        let added = match &new {
            NewItem::File(f) => f.bytes.len() as u64,
            NewItem::Folder => 0,
        };
        let new = match (replace, new) {
            (None, new) => new,
            (Some(existing_id), NewItem::File(content)) => {
                if self.items[&existing_id].is_folder() {
                    return Err(GraphError::name_exists());
                }
                self.replace_content(&existing_id, content, now)?;
                return Ok((existing_id, false));
            }
            (Some(existing_id), NewItem::Folder) => {
                if !self.items[&existing_id].is_folder() {
                    return Err(GraphError::name_exists());
                }
                self.delete(&existing_id, now)?;
                NewItem::Folder
            }
        };
        self.check_quota(0, added)?;
        let id = new_item_id();
        let kind = match new {
            NewItem::Folder => ItemKind::Folder {
                children: BTreeMap::new(),
            },
            NewItem::File(content) => ItemKind::File(content),
        };
        self.items.insert(
            id.clone(),
            Item {
                id: id.clone(),
                name: name.clone(),
                parent: Some(parent_id.clone()),
                created: now,
                modified: now,
                guid: random_guid().to_uppercase(),
                etag_version: 1,
                ctag_version: 1,
                kind,
            },
        );
        if let Some(ItemKind::Folder { children }) =
            self.items.get_mut(&parent_id).map(|p| &mut p.kind)
        {
            children.insert(name_key(&name), id.clone());
        }
        self.touch_ancestors(Some(parent_id), now);
        Ok((id, true))
    }

    /// New content for an existing file.
    pub fn replace_content(
        &mut self,
        id: &str,
        content: FileContent,
        now: SimTime,
    ) -> Result<(), GraphError> {
        let item = self.get(id).ok_or_else(GraphError::not_found)?;
        if item.is_folder() {
            return Err(GraphError::invalid("A folder has no content."));
        }
        self.check_quota(item.size(), content.bytes.len() as u64)?;
        let id = item.id.clone();
        let parent = item.parent.clone();
        if let Some(item) = self.items.get_mut(&id) {
            item.kind = ItemKind::File(content);
            item.modified = now;
            item.etag_version += 1;
            item.ctag_version += 1;
        }
        self.touch_ancestors(parent, now);
        Ok(())
    }

    /// Deletes an item and everything under it. The root cannot be deleted.
    pub fn delete(&mut self, id: &str, now: SimTime) -> Result<(), GraphError> {
        let item = self.get(id).ok_or_else(GraphError::not_found)?;
        let Some(parent_id) = item.parent.clone() else {
            return Err(GraphError::new(
                StatusCode::FORBIDDEN,
                "accessDenied",
                "The root folder cannot be deleted.",
            ));
        };
        let key = name_key(&item.name);
        let mut stack = vec![item.id.clone()];
        while let Some(current) = stack.pop() {
            if let Some(removed) = self.items.remove(&current) {
                if let ItemKind::Folder { children } = removed.kind {
                    stack.extend(children.into_values());
                }
            }
        }
        if let Some(ItemKind::Folder { children }) =
            self.items.get_mut(&parent_id).map(|p| &mut p.kind)
        {
            children.remove(&key);
        }
        self.touch_ancestors(Some(parent_id), now);
        Ok(())
    }

    /// Moves and/or renames an item (`PATCH` with `parentReference` and/or `name`).
    pub fn move_item(
        &mut self,
        id: &str,
        new_parent: Option<&str>,
        new_name: Option<&str>,
        conflict: Conflict,
        now: SimTime,
    ) -> Result<(), GraphError> {
        let item = self.get(id).ok_or_else(GraphError::not_found)?;
        let Some(old_parent) = item.parent.clone() else {
            return Err(GraphError::invalid(
                "The root folder cannot be moved or renamed.",
            ));
        };
        let id = item.id.clone();
        let old_name = item.name.clone();
        let name = new_name.unwrap_or(&old_name).to_string();
        validate_name(&name)?;
        let parent_id = match new_parent {
            Some(p) => self.get(p).ok_or_else(GraphError::not_found)?.id.clone(),
            None => old_parent.clone(),
        };
        let parent = &self.items[&parent_id];
        if !parent.is_folder() {
            return Err(GraphError::invalid("The destination is not a folder."));
        }
        if self.is_descendant_or_self(&parent_id, &id) {
            return Err(GraphError::invalid(
                "An item cannot be moved into itself or its descendants.",
            ));
        }
        self.check_path_length(&parent_id, &name)?;
        let (name, replace) = self.place(parent, &name, conflict, Some(&id))?;
        if let Some(victim) = replace {
            self.delete(&victim, now)?;
        }
        if let Some(ItemKind::Folder { children }) =
            self.items.get_mut(&old_parent).map(|p| &mut p.kind)
        {
            children.remove(&name_key(&old_name));
        }
        if let Some(ItemKind::Folder { children }) =
            self.items.get_mut(&parent_id).map(|p| &mut p.kind)
        {
            children.insert(name_key(&name), id.clone());
        }
        if let Some(item) = self.items.get_mut(&id) {
            item.name = name;
            item.parent = Some(parent_id.clone());
            item.etag_version += 1;
        }
        self.touch_ancestors(Some(old_parent), now);
        self.touch_ancestors(Some(parent_id), now);
        Ok(())
    }

    /// Sets an item's `lastModifiedDateTime` (a test hook).
    pub fn set_modified(&mut self, id: &str, at: SimTime) -> bool {
        match self.items.get_mut(id) {
            Some(item) => {
                item.modified = at;
                true
            }
            None => false,
        }
    }
}

/// How long an upload session lives after `now`.
pub fn session_expiry(now: SimTime, secs: u64) -> SimTime {
    now.plus(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive() -> (Drives, SimTime) {
        let now = crate::clock::SimClock::new().now();
        (Drives::seed(["u"].into_iter(), now, 1 << 30), now)
    }

    fn file(data: &[u8]) -> NewItem {
        NewItem::File(FileContent::new(Bytes::copy_from_slice(data)))
    }

    #[test]
    fn conflicts_fail_rename_replace() {
        let (mut drives, now) = drive();
        let d = drives.drive_mut("u").unwrap();
        let root = d.root_id.clone();
        let (a, created) = d
            .create(&root, "A.pdf", file(b"1"), Conflict::Fail, now)
            .unwrap();
        assert!(created);
        let err = d
            .create(&root, "a.PDF", file(b"2"), Conflict::Fail, now)
            .unwrap_err();
        assert_eq!(err.code(), "nameAlreadyExists");
        let (b, _) = d
            .create(&root, "a.pdf", file(b"2"), Conflict::Rename, now)
            .unwrap();
        assert_eq!(d.get(&b).unwrap().name, "a 1.pdf");
        let (c, _) = d
            .create(&root, "A.pdf", file(b"3"), Conflict::Rename, now)
            .unwrap();
        assert_eq!(d.get(&c).unwrap().name, "A 2.pdf");
        let (same, created) = d
            .create(&root, "A.pdf", file(b"4"), Conflict::Replace, now)
            .unwrap();
        assert_eq!((same.as_str(), created), (a.as_str(), false));
        assert_eq!(&d.get(&a).unwrap().file().unwrap().bytes[..], b"4");
        assert_eq!(d.get(&a).unwrap().etag_version, 2);
        let err = d
            .create(&root, "a.pdf", NewItem::Folder, Conflict::Replace, now)
            .unwrap_err();
        assert_eq!(
            err.code(),
            "nameAlreadyExists",
            "a folder never replaces a file"
        );
        let (f, _) = d
            .create(&root, "F", NewItem::Folder, Conflict::Fail, now)
            .unwrap();
        let err = d
            .create(&root, "f", file(b"x"), Conflict::Replace, now)
            .unwrap_err();
        assert_eq!(err.code(), "nameAlreadyExists", "nor a file a folder");
        let (g, created) = d
            .create(&root, "F", NewItem::Folder, Conflict::Replace, now)
            .unwrap();
        assert!(created && g != f && d.get(&f).is_none());
    }

    #[test]
    fn moves_refuse_cycles_and_taken_names() {
        let (mut drives, now) = drive();
        let d = drives.drive_mut("u").unwrap();
        let root = d.root_id.clone();
        let (x, _) = d
            .create(&root, "X", NewItem::Folder, Conflict::Fail, now)
            .unwrap();
        let (y, _) = d
            .create(&x, "Y", NewItem::Folder, Conflict::Fail, now)
            .unwrap();
        assert!(d
            .move_item(&x, Some(&y), None, Conflict::Fail, now)
            .is_err());
        d.create(&root, "Y", NewItem::Folder, Conflict::Fail, now)
            .unwrap();
        let err = d
            .move_item(&y, Some(&root), None, Conflict::Fail, now)
            .unwrap_err();
        assert_eq!(err.code(), "nameAlreadyExists");
        d.move_item(&y, Some(&root), Some("Z"), Conflict::Fail, now)
            .unwrap();
        assert_eq!(d.path_names(&y), ["Z"]);
        d.delete(&x, now).unwrap();
        assert!(d.get(&x).is_none());
        assert!(d.delete(&root, now).is_err());
    }

    #[test]
    fn quick_xor_hash_matches_published_values() {
        assert_eq!(
            quick_xor_hash(b"hello world"),
            "aCgDG9jwBhDc4Q1yawMZAAAAAAA="
        );
        assert_eq!(quick_xor_hash(b""), "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    }

    #[test]
    fn item_ids_look_like_onedrive_for_business() {
        let id = new_item_id();
        assert_eq!(id.len(), 34);
        assert!(id.starts_with("01"));
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    }
}
