//! Secure storage of secrets: a small trait with a platform-keyring backend, an in-memory backend
//! for tests, and room for the shells' own (Android Keystore, iOS Keychain) through the FFI.

mod keyring;
mod memory;

pub use self::keyring::KeyringStore;
pub use memory::MemoryStore;
#[cfg(test)]
pub(crate) use memory::{stall_meter, BlockingStore};

/// A failure of the secure store. It never carries the stored bytes.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store is locked or access is refused (e.g. device locked, no keyring session).
    #[error("the secure store refused access: {0}")]
    AccessDenied(String),
    /// The store is not available on this device.
    #[error("the secure store is unavailable: {0}")]
    Unavailable(String),
    /// Any other failure of the platform store.
    #[error("the secure store failed: {0}")]
    Platform(String),
    /// A stored record could not be read (corrupt or from an unknown future version).
    #[error("a stored record is unreadable: {0}")]
    Corrupt(String),
}

/// Key-value storage of secret bytes. Implementations must make each `set` atomic: after a
/// failed `set` the previous value is still there.
pub trait SecureStore: Send + Sync {
    /// Reads a value; `Ok(None)` when the key is absent.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes a value, replacing any previous one.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Deletes a value; deleting an absent key is not an error.
    fn delete(&self, key: &str) -> Result<(), StoreError>;
}

impl<T: SecureStore + ?Sized> SecureStore for std::sync::Arc<T> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        (**self).set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key)
    }
}

/// Runs a store call on the blocking pool: platform stores (Keychain, Keystore, a store the
/// shell implements through the FFI) may block, and must not stall the async workers. A panic
/// in the store becomes a store error.
pub(crate) async fn off_runtime<T: Send + 'static>(
    store: &std::sync::Arc<dyn SecureStore>,
    call: impl FnOnce(&dyn SecureStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = std::sync::Arc::clone(store);
    tokio::task::spawn_blocking(move || call(store.as_ref()))
        .await
        .unwrap_or_else(|_| Err(StoreError::Platform("the secure store failed".into())))
}

/// Keys the core stores under. One place, so a wipe can find them all.
pub mod keys {
    /// The Roger account record.
    pub const ROGER_ACCOUNT: &str = "account.roger";
    /// The Microsoft (OneDrive) account record.
    pub const MICROSOFT_ACCOUNT: &str = "account.microsoft";
    /// The last good region list (not secret, but must survive restarts).
    pub const REGIONS: &str = "regions";
    /// The sign-in in progress (OAuth state and PKCE verifier), for a redirect that arrives in a
    /// new process.
    pub const PENDING_SIGN_IN: &str = "sign-in.pending";
    /// Every key the core writes.
    pub const ALL: [&str; 4] = [ROGER_ACCOUNT, MICROSOFT_ACCOUNT, REGIONS, PENDING_SIGN_IN];
}
