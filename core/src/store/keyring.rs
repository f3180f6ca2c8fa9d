//! The platform keyring (keyring 4 family): Keychain on iOS/macOS, Keystore-backed storage on
//! Android, the kernel keyring on desktop Linux, the Credential Manager on Windows.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};

use super::{SecureStore, StoreError};

/// A [`SecureStore`] over a keyring credential store; each key is one credential of `service`.
pub struct KeyringStore {
    store: Arc<CredentialStore>,
    service: String,
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl KeyringStore {
    /// Wraps a keyring credential store (e.g. `keyring_core::mock::Store::new()` in tests).
    pub fn new(store: Arc<CredentialStore>, service: impl Into<String>) -> Self {
        Self {
            store,
            service: service.into(),
        }
    }

    /// The platform's native store for this target.
    pub fn platform(service: impl Into<String>) -> Result<Self, StoreError> {
        Ok(Self::new(platform_store()?, service))
    }

    fn entry(&self, key: &str) -> Result<Entry, StoreError> {
        Entry::new_in_store(&self.store, &self.service, key).map_err(map_err)
    }
}

#[cfg(all(target_os = "linux", not(target_os = "android")))]
fn platform_store() -> Result<Arc<CredentialStore>, StoreError> {
    let store: Arc<CredentialStore> =
        linux_keyutils_keyring_store::Store::new().map_err(map_err)?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<Arc<CredentialStore>, StoreError> {
    let store: Arc<CredentialStore> =
        apple_native_keyring_store::keychain::Store::new().map_err(map_err)?;
    Ok(store)
}

#[cfg(target_os = "ios")]
fn platform_store() -> Result<Arc<CredentialStore>, StoreError> {
    let store: Arc<CredentialStore> =
        apple_native_keyring_store::protected::Store::new().map_err(map_err)?;
    Ok(store)
}

#[cfg(target_os = "android")]
fn platform_store() -> Result<Arc<CredentialStore>, StoreError> {
    let store: Arc<CredentialStore> =
        android_native_keyring_store::Store::new().map_err(map_err)?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<Arc<CredentialStore>, StoreError> {
    let store: Arc<CredentialStore> =
        windows_native_keyring_store::Store::new().map_err(map_err)?;
    Ok(store)
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "windows"
)))]
fn platform_store() -> Result<Arc<CredentialStore>, StoreError> {
    Err(StoreError::Unavailable(
        "no platform keyring on this target".into(),
    ))
}

fn map_err(e: KeyringError) -> StoreError {
    match e {
        KeyringError::NoStorageAccess(inner) => StoreError::AccessDenied(inner.to_string()),
        KeyringError::NoDefaultStore => StoreError::Unavailable("no default keyring store".into()),
        KeyringError::NotSupportedByStore(what) => StoreError::Unavailable(what),
        // Never echo stored bytes (BadEncoding/BadDataFormat carry them).
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => {
            StoreError::Corrupt("undecodable credential".into())
        }
        other => StoreError::Platform(other.to_string()),
    }
}

impl SecureStore for KeyringStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.entry(key)?.get_secret() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.entry(key)?.set_secret(value).map_err(map_err)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_the_keyring_api() {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let s = KeyringStore::new(store, "roger-test");
        assert_eq!(s.get("a").unwrap(), None);
        s.set("a", b"\x00\xffbinary").unwrap();
        assert_eq!(s.get("a").unwrap().as_deref(), Some(&b"\x00\xffbinary"[..]));
        s.delete("a").unwrap();
        s.delete("a").unwrap();
        assert_eq!(s.get("a").unwrap(), None);
    }
}
