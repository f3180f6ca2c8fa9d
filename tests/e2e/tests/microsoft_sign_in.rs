//! Sign-in to Microsoft (OneDrive) with PKCE against the identity emulator, kept apart from Roger.

use std::sync::Arc;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::auth::{AccountRecord, AuthState, Provider};
use roger_core::error::SignInError;
use roger_core::store::{keys, MemoryStore, SecureStore};
use roger_core::{Error, ErrorKind};
use roger_e2e::core_config;
use roger_sim::{Cloud, CloudHandle, SimConfig, ThrottleStatus};

const ALICE: (&str, &str) = ("alice@contoso.example", "alice-password");

/// Alice's signed-in state as Graph names her: her object id and principal name.
fn alice_signed_in(cloud: &CloudHandle) -> AuthState {
    AuthState::SignedIn {
        account_id: cloud.identity().user_id(ALICE.0),
        username: Some(ALICE.0.into()),
        region: None,
    }
}

/// Starts a Microsoft sign-in and plays Alice's browser: the redirect back to the app.
async fn alice_redirect(cloud: &CloudHandle, accounts: &Accounts) -> url::Url {
    let url = accounts.begin_microsoft_sign_in().await.unwrap();
    cloud
        .identity()
        .browser_login(&url, ALICE.0, ALICE.1)
        .unwrap()
}

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
        .browser_login(&url, ALICE.0, ALICE.1)
        .unwrap();
    let state = accounts.complete_sign_in(redirect.as_str()).await.unwrap();
    // Who signed in is read from Graph `/me` once, before anything is stored.
    assert_eq!(state, alice_signed_in(&cloud));
    assert_eq!(accounts.microsoft().state(), alice_signed_in(&cloud));
    assert_eq!(cloud.graph().stats().requests("GET /me"), 1);
    let stored =
        AccountRecord::from_bytes(&store.get(keys::MICROSOFT_ACCOUNT).unwrap().unwrap()).unwrap();
    assert_eq!(stored.provider, Provider::Microsoft);
    assert_eq!(stored.account_id, cloud.identity().user_id(ALICE.0));
    assert_eq!(stored.username.as_deref(), Some(ALICE.0));
    // The Microsoft session is its own: Roger stays signed out, and the records are apart.
    assert!(matches!(
        accounts.roger().state(),
        AuthState::SignedOut { .. }
    ));
    assert!(store.get(keys::ROGER_ACCOUNT).unwrap().is_none());
    assert!(accounts.microsoft().access_token().await.is_ok());

    // Survives a restart: a new instance knows who is signed in without a request, and uses
    // the stored access token while it is valid (no refresh).
    drop(accounts);
    let again = Accounts::open(core_config(&cloud), store.clone(), OpenOptions::default()).unwrap();
    assert_eq!(again.microsoft().state(), alice_signed_in(&cloud));
    assert!(again.microsoft().access_token().await.is_ok());
    assert_eq!(cloud.identity().stats().refresh_requests(), 0);
    assert_eq!(cloud.graph().stats().requests("GET /me"), 1);

    // Sign-out wipes it (Microsoft has no revocation endpoint: local wipe only).
    again.sign_out().await.unwrap();
    assert!(store.get(keys::MICROSOFT_ACCOUNT).unwrap().is_none());
}

#[tokio::test]
async fn a_failed_graph_me_fails_the_sign_in_and_stores_nothing() {
    let cloud = Cloud::start(SimConfig::default()).await.unwrap();
    let store = Arc::new(MemoryStore::new());
    let accounts =
        Accounts::open(core_config(&cloud), store.clone(), OpenOptions::default()).unwrap();
    let redirect = alice_redirect(&cloud, &accounts).await;
    // The code is redeemed, but Graph is unavailable when the core asks who signed in.
    cloud
        .graph()
        .faults()
        .throttle_every(1, ThrottleStatus::ServiceUnavailable, 30);
    let err = accounts
        .complete_sign_in(redirect.as_str())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Throttled {
                retry_after_secs: 30,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(cloud.graph().stats().requests("GET /me"), 1);
    // No half sign-in: nothing stored, still signed out, no token handed out.
    assert!(store.get(keys::MICROSOFT_ACCOUNT).unwrap().is_none());
    assert!(matches!(
        accounts.microsoft().state(),
        AuthState::SignedOut { .. }
    ));
    assert!(matches!(
        accounts.microsoft().access_token().await,
        Err(Error::SignedOut(_))
    ));
    // The redirect was spent with the attempt: a fresh sign-in works once Graph is back.
    cloud.graph().faults().stop_throttling();
    assert!(matches!(
        accounts.complete_sign_in(redirect.as_str()).await,
        Err(Error::SignIn(SignInError::NotStarted))
    ));
    let redirect = alice_redirect(&cloud, &accounts).await;
    assert_eq!(
        accounts.complete_sign_in(redirect.as_str()).await.unwrap(),
        alice_signed_in(&cloud)
    );
    assert!(store.get(keys::MICROSOFT_ACCOUNT).unwrap().is_some());
}
