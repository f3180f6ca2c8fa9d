//! In-memory secure store for tests, with failure injection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{SecureStore, StoreError};

/// A store that keeps values in memory. `fail_writes` makes every `set` and `delete` fail (and
/// leave the old value untouched), to test what the core does when the platform store breaks.
#[derive(Default)]
pub struct MemoryStore {
    values: Mutex<HashMap<String, Vec<u8>>>,
    fail_writes: AtomicBool,
    writes: AtomicUsize,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes subsequent writes fail (`true`) or succeed (`false`).
    pub fn set_fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// How many successful writes happened.
    pub fn write_count(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// The keys currently stored, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().keys().cloned().collect();
        keys.sort();
        keys
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        // A panic while holding this lock cannot leave the map inconsistent (single insert/remove).
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

impl SecureStore for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Platform("injected write failure".into()));
        }
        self.lock().insert(key.to_owned(), value.to_vec());
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Platform("injected delete failure".into()));
        }
        self.lock().remove(key);
        Ok(())
    }
}

/// A platform store whose calls block their thread for 300 ms, as a Keychain call can (tests of
/// the async boundary).
#[cfg(test)]
pub(crate) struct BlockingStore(pub std::sync::Arc<MemoryStore>);

#[cfg(test)]
impl SecureStore for BlockingStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        std::thread::sleep(std::time::Duration::from_millis(300));
        self.0.get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        std::thread::sleep(std::time::Duration::from_millis(300));
        self.0.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        std::thread::sleep(std::time::Duration::from_millis(300));
        self.0.delete(key)
    }
}

/// Starts a ticker on the current runtime that sleeps 10 ms `ticks` times; its result is the
/// longest gap it saw between two ticks (how long the runtime was stalled).
#[cfg(test)]
pub(crate) fn stall_meter(ticks: u32) -> tokio::task::JoinHandle<std::time::Duration> {
    tokio::spawn(async move {
        let (mut last, mut worst) = (std::time::Instant::now(), std::time::Duration::ZERO);
        for _ in 0..ticks {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            worst = worst.max(last.elapsed());
            last = std::time::Instant::now();
        }
        worst
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_failed_write_keeps_old_value() {
        let s = MemoryStore::new();
        assert_eq!(s.get("k").unwrap(), None);
        s.set("k", b"v1").unwrap();
        s.set_fail_writes(true);
        assert!(s.set("k", b"v2").is_err());
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"v1"[..]));
        assert!(s.delete("k").is_err());
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"v1"[..]));
        s.set_fail_writes(false);
        s.delete("k").unwrap();
        s.delete("k").unwrap();
        assert_eq!(s.get("k").unwrap(), None);
        assert!(!format!("{s:?}").contains("v1"));
    }
}
