//! The after-print actions still to run, by job: kept in a small JSON file in the app's data
//! directory (written whole to a temporary file, then renamed over the old one), so an action
//! chosen at submit time still runs when the job prints after an app restart.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::onedrive::AfterPrint;

/// Most pending actions kept (jobs live 7 days; nobody queues this many).
const MAX_ENTRIES: usize = 10_000;
/// Largest ledger file read.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// What to do to a job's OneDrive file once it printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Action {
    Delete,
    MoveToPrinted,
}

/// One pending action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    pub item_id: String,
    action: Action,
}

impl Entry {
    pub(crate) fn action(&self) -> AfterPrint {
        match self.action {
            Action::Delete => AfterPrint::Delete,
            Action::MoveToPrinted => AfterPrint::MoveToPrinted,
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct File {
    version: u32,
    jobs: BTreeMap<String, Entry>,
}

/// The pending actions, in memory and (when a path is set) on disk.
pub(crate) struct Ledger {
    path: Option<PathBuf>,
    jobs: BTreeMap<String, Entry>,
}

impl Ledger {
    /// Loads the ledger at `path`; a missing or unreadable file is an empty ledger (the
    /// unreadable one is logged and replaced at the next write).
    pub(crate) fn open(path: Option<PathBuf>) -> Self {
        let jobs = path
            .as_deref()
            .and_then(|p| {
                let meta = std::fs::metadata(p).ok()?;
                if meta.len() > MAX_FILE {
                    tracing::warn!("after-print ledger too large; starting afresh");
                    return None;
                }
                let bytes = std::fs::read(p).ok()?;
                match serde_json::from_slice::<File>(&bytes) {
                    Ok(f) if f.version == 1 => Some(f.jobs),
                    _ => {
                        tracing::warn!("after-print ledger unreadable; starting afresh");
                        None
                    }
                }
            })
            .unwrap_or_default();
        Self { path, jobs }
    }

    pub(crate) fn get(&self, job_id: &str) -> Option<Entry> {
        self.jobs.get(job_id).cloned()
    }

    pub(crate) fn job_ids(&self) -> Vec<String> {
        self.jobs.keys().cloned().collect()
    }

    /// Records the action for a job (`Keep` records nothing).
    pub(crate) fn insert(&mut self, job_id: &str, item_id: &str, choice: AfterPrint) {
        let action = match choice {
            AfterPrint::Keep => return,
            AfterPrint::Delete => Action::Delete,
            AfterPrint::MoveToPrinted => Action::MoveToPrinted,
        };
        if self.jobs.len() >= MAX_ENTRIES {
            tracing::warn!("after-print ledger full; action not recorded");
            return;
        }
        self.jobs.insert(
            job_id.to_owned(),
            Entry {
                item_id: item_id.to_owned(),
                action,
            },
        );
        self.save();
    }

    pub(crate) fn remove(&mut self, job_id: &str) {
        if self.jobs.remove(job_id).is_some() {
            self.save();
        }
    }

    fn save(&self) {
        let Some(path) = &self.path else { return };
        let file = File {
            version: 1,
            jobs: self.jobs.clone(),
        };
        let result = serde_json::to_vec(&file)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let tmp = path.with_extension("json.tmp");
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, path)
            });
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot write the after-print ledger");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("roger-ledger-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn actions_survive_a_restart_and_keep_is_not_recorded() {
        let dir = temp_dir("restart");
        let path = dir.join("after-print.json");
        let mut ledger = Ledger::open(Some(path.clone()));
        ledger.insert("job_1", "item_1", AfterPrint::Delete);
        ledger.insert("job_2", "item_2", AfterPrint::MoveToPrinted);
        ledger.insert("job_3", "item_3", AfterPrint::Keep);
        let reopened = Ledger::open(Some(path.clone()));
        assert_eq!(reopened.job_ids(), ["job_1", "job_2"]);
        assert_eq!(
            reopened.get("job_2").unwrap().action(),
            AfterPrint::MoveToPrinted
        );
        let mut reopened = reopened;
        reopened.remove("job_1");
        assert_eq!(Ledger::open(Some(path)).job_ids(), ["job_2"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_damaged_file_is_an_empty_ledger() {
        let dir = temp_dir("damaged");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("after-print.json");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(Ledger::open(Some(path)).job_ids().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
