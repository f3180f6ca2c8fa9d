//! One refresh at a time per account, across every token manager of the process and across
//! processes sharing the app-data directory (an app and its extensions, two desktop runs).
//!
//! Without it two instances on one store both present the same refresh token; the second is
//! taken for reuse and the server revokes the whole family.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::store::SecureStore;

/// How long to wait for another process's refresh before going ahead without the lock (a
/// crashed holder releases it at once; this bounds a hung one).
const CROSS_PROCESS_WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(20);

/// Held while one account refreshes; released on drop.
pub(crate) struct RefreshLock {
    _local: OwnedMutexGuard<()>,
    _file: Option<File>,
}

fn local(name: &str) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<StdMutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Arc::clone(locks.entry(name.to_owned()).or_default())
}

fn lock_path(dir: &Path, key: &str) -> PathBuf {
    let safe: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    dir.join(format!("{safe}.refresh.lock"))
}

/// Takes the lock of the account stored under `key` in `store`; `dir` (the app-data
/// directory), when given, extends it to other processes (and to other store objects over the
/// same platform store) through an advisory lock on a file there.
pub(crate) async fn acquire(
    key: &str,
    store: &Arc<dyn SecureStore>,
    dir: Option<&Path>,
) -> RefreshLock {
    let path = dir.map(|d| lock_path(d, key));
    let name = match &path {
        Some(p) => p.to_string_lossy().into_owned(),
        // Instances sharing one store object share the lock.
        None => format!("{key}@{:p}", Arc::as_ptr(store).cast::<()>()),
    };
    let local = local(&name).lock_owned().await;
    let file = match path {
        Some(path) => lock_file(&path).await,
        None => None,
    };
    RefreshLock {
        _local: local,
        _file: file,
    }
}

async fn lock_file(path: &Path) -> Option<File> {
    let file = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the refresh lock file; refreshing without it");
            return None;
        }
    };
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < CROSS_PROCESS_WAIT => {
                tokio::time::sleep(POLL).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::warn!("another process holds the refresh lock too long; going ahead");
                return None;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                tracing::warn!(error = %e, "cannot take the refresh lock; refreshing without it");
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lock_held_by_another_process_is_waited_for() {
        let dir = std::env::temp_dir().join(format!("roger-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Another open file description behaves as another process would.
        let other = File::create(lock_path(&dir, "account.t")).unwrap();
        other.lock().unwrap();
        let dir2 = dir.clone();
        let store: Arc<dyn SecureStore> = Arc::new(crate::store::MemoryStore::new());
        let waiter = tokio::spawn(async move { acquire("account.t", &store, Some(&dir2)).await });
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(!waiter.is_finished(), "waits while the other holds it");
        other.unlock().unwrap();
        let held = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(held._file.is_some());
        drop(held);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn the_lock_is_shared_by_every_instance_of_the_process() {
        let store: Arc<dyn SecureStore> = Arc::new(crate::store::MemoryStore::new());
        let other = Arc::clone(&store);
        let first = acquire("account.shared", &store, None).await;
        let second = tokio::spawn(async move { acquire("account.shared", &other, None).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished());
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .unwrap()
            .unwrap();
    }
}
