//! Sign-in to Microsoft (OneDrive) with PKCE against the identity emulator, kept apart from Roger.

use std::sync::Arc;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::auth::AuthState;
use roger_core::store::{keys, MemoryStore, SecureStore};
use roger_e2e::core_config;
use roger_sim::{Cloud, SimConfig};

#[tokio::test]
async fn microsoft_sign_in_with_pkce_least_privilege_and_separate_tokens() {
    let cloud = Cloud::start(SimConfig::default()).await.unwrap();
    let store = Arc::new(MemoryStore::new());
    let accounts =
        Accounts::open(core_config(&cloud), store.clone(), OpenOptions::default()).unwrap();
    let url = accounts.begin_microsoft_sign_in().await.unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(
        param("scope"),
        Some("Files.ReadWrite offline_access User.Read")
    );
    assert_eq!(param("code_challenge_method"), Some("S256"));

    let redirect = cloud
        .identity()
        .browser_login(&url, "alice@contoso.example", "alice-password")
        .unwrap();
    let state = accounts.complete_sign_in(redirect.as_str()).await.unwrap();
    assert!(matches!(state, AuthState::SignedIn { .. }), "{state:?}");
    // The Microsoft session is its own: Roger stays signed out, and the records are apart.
    assert!(matches!(
        accounts.roger().state(),
        AuthState::SignedOut { .. }
    ));
    assert!(store.get(keys::MICROSOFT_ACCOUNT).unwrap().is_some());
    assert!(store.get(keys::ROGER_ACCOUNT).unwrap().is_none());
    assert!(accounts.microsoft().access_token().await.is_ok());

    // Survives a restart: a new instance refreshes from the stored token.
    drop(accounts);
    let again = Accounts::open(core_config(&cloud), store.clone(), OpenOptions::default()).unwrap();
    assert!(again.microsoft().access_token().await.is_ok());
    assert_eq!(cloud.identity().stats().refresh_requests(), 1);

    // Sign-out wipes it (Microsoft has no revocation endpoint: local wipe only).
    again.sign_out().await.unwrap();
    assert!(store.get(keys::MICROSOFT_ACCOUNT).unwrap().is_none());
}
