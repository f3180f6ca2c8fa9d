//! The host's secure store (Android Keystore, iOS Keychain) as the core's `SecureStore`.

use std::sync::Arc;

use roger_core::store::StoreError;

/// Why the host's store failed.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum StoreFailure {
    /// Locked or refused (device locked, key invalidated).
    #[error("access denied: {detail}")]
    AccessDenied {
        /// What the platform said.
        detail: String,
    },
    /// No store on this device.
    #[error("unavailable: {detail}")]
    Unavailable {
        /// What the platform said.
        detail: String,
    },
    /// Any other failure.
    #[error("failed: {detail}")]
    Failed {
        /// What the platform said.
        detail: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for StoreFailure {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        StoreFailure::Failed { detail: e.reason }
    }
}

/// Key-value storage of secret bytes that the host implements on the platform's secure storage.
/// Each `set` must be atomic: after a failed `set` the previous value is still there. Calls come
/// from the core's worker threads, never from the main thread.
#[uniffi::export(with_foreign)]
pub trait SecureStore: Send + Sync {
    /// Reads a value; `None` when the key is absent.
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, StoreFailure>;
    /// Writes a value, replacing any previous one.
    fn set(&self, key: String, value: Vec<u8>) -> Result<(), StoreFailure>;
    /// Deletes a value; deleting an absent key is not an error.
    fn delete(&self, key: String) -> Result<(), StoreFailure>;
}

/// The host's store behind the core's trait.
pub(crate) struct ForeignStore(pub(crate) Arc<dyn SecureStore>);

fn to_core(e: StoreFailure) -> StoreError {
    match e {
        StoreFailure::AccessDenied { detail } => StoreError::AccessDenied(detail),
        StoreFailure::Unavailable { detail } => StoreError::Unavailable(detail),
        StoreFailure::Failed { detail } => StoreError::Platform(detail),
    }
}

impl roger_core::store::SecureStore for ForeignStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key.to_owned()).map_err(to_core)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.0.set(key.to_owned(), value.to_vec()).map_err(to_core)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key.to_owned()).map_err(to_core)
    }
}
