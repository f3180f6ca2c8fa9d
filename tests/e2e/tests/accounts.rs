//! Accounts against the reference cloud: sign-in, refresh rotation, reuse detection, sliding
//! expiry, redirect checks, single-flight refresh under load, and store failures.

use std::sync::Arc;
use std::time::Duration;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::auth::AuthState;
use roger_core::clock::{Clock, OffsetClock};
use roger_core::error::{SignInError, SignOutReason};
use roger_core::secret::Secret;
use roger_core::store::{keys, MemoryStore, SecureStore};
use roger_core::{Error, ErrorKind};
use roger_e2e::core_config;
use roger_sim::{Cloud, CloudHandle, SimConfig};

struct World {
    cloud: CloudHandle,
    store: Arc<MemoryStore>,
    clock: Arc<OffsetClock>,
}

impl World {
    async fn start() -> Self {
        Self::start_with(SimConfig::default()).await
    }

    async fn start_with(config: SimConfig) -> Self {
        Self {
            cloud: Cloud::start(config).await.unwrap(),
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(OffsetClock::new()),
        }
    }

    fn open(&self) -> Accounts {
        self.open_with(self.store.clone())
    }

    fn open_with(&self, store: Arc<dyn SecureStore>) -> Accounts {
        let clock: Arc<dyn Clock> = self.clock.clone();
        Accounts::open(
            core_config(&self.cloud),
            store,
            OpenOptions {
                data_dir: None,
                clock: Some(clock),
            },
        )
        .unwrap()
    }

    /// Both clocks move: the server's (token lifetimes) and the phone's.
    fn advance(&self, by: Duration) {
        self.cloud.clock().advance(by);
        self.clock.advance(by);
    }

    fn eu(&self) -> &roger_sim::RegionHandle {
        self.cloud.region("eu").unwrap()
    }

    async fn sign_in(&self, accounts: &Accounts) {
        let url = accounts.begin_sign_in(Some("eu")).await.unwrap();
        let redirect = self
            .eu()
            .browser_login(&url, "alice@contoso.example", "alice-password")
            .unwrap();
        let state = accounts.complete_sign_in(redirect.as_str()).await.unwrap();
        assert!(matches!(state, AuthState::SignedIn { .. }), "{state:?}");
    }

    /// Starts a Roger sign-in in a process that is then killed (dropped) and plays the browser:
    /// the redirect that relaunches the app.
    async fn redirect_of_a_killed_process(&self) -> url::Url {
        let url = self.open().begin_sign_in(Some("eu")).await.unwrap();
        assert!(self.store.get(keys::PENDING_SIGN_IN).unwrap().is_some());
        self.eu()
            .browser_login(&url, "alice@contoso.example", "alice-password")
            .unwrap()
    }

    /// Completes `redirect` in a new process on the same store.
    async fn complete_in_a_new_process(&self, redirect: &url::Url) -> Result<AuthState, Error> {
        self.open().complete_sign_in(redirect.as_str()).await
    }

    /// A copy of the store as it is now (an attacker's, or a restored backup's).
    fn copy_of_store(&self) -> Arc<MemoryStore> {
        let copy = Arc::new(MemoryStore::new());
        let record = self.store.get(keys::ROGER_ACCOUNT).unwrap().unwrap();
        copy.set(keys::ROGER_ACCOUNT, &record).unwrap();
        copy
    }

    fn stored_refresh_token(&self) -> Option<String> {
        let bytes = self.store.get(keys::ROGER_ACCOUNT).unwrap()?;
        let record = roger_core::auth::AccountRecord::from_bytes(&bytes).unwrap();
        Some(record.refresh_token.expose().to_owned())
    }
}

async fn printers_status(accounts: &Accounts) -> Result<u16, Error> {
    let region = accounts.signed_in_region().await?;
    let url = region.api_url.join("api/v1/printers").unwrap();
    let http = accounts.http().clone();
    let response = accounts
        .roger()
        .send("listing printers", |token| {
            http.get(url.clone()).bearer_auth(token)
        })
        .await?;
    Ok(response.status().as_u16())
}

#[tokio::test]
async fn pkce_sign_in_over_http_then_an_authorised_call() {
    let w = World::start().await;
    let accounts = w.open();
    let url = accounts.begin_sign_in(Some("eu")).await.unwrap();
    assert!(url
        .query_pairs()
        .any(|(k, v)| k == "code_challenge_method" && v == "S256"));
    // Play the browser over real HTTP: the login form posts the query back with credentials.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("username".into(), "alice@contoso.example".into()));
    form.push(("password".into(), "alice-password".into()));
    form.push(("action".into(), "approve".into()));
    let mut endpoint = url.clone();
    endpoint.set_query(None);
    let response = http.post(endpoint).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let state = accounts.complete_sign_in(&location).await.unwrap();
    assert_eq!(
        state,
        AuthState::SignedIn {
            account_id: w.eu().user_id("alice@contoso.example"),
            username: Some("alice@contoso.example".into()),
            region: Some("eu".into())
        }
    );
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    assert_eq!(w.eu().stats().authorization_code_requests(), 1);
    assert!(w.stored_refresh_token().is_some());
}

#[tokio::test]
async fn password_grant_only_where_the_tenant_allows_it() {
    let w = World::start().await;
    let accounts = w.open();
    let state = accounts
        .sign_in_with_password(
            Some("eu"),
            "carol@fabrikam.example",
            Secret::new("carol-password"),
        )
        .await
        .unwrap();
    assert!(matches!(state, AuthState::SignedIn { .. }));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);

    let other = w.open_with(Arc::new(MemoryStore::new()));
    let err = other
        .sign_in_with_password(
            Some("eu"),
            "alice@contoso.example",
            Secret::new("alice-password"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SignInFailed, "{err}");
    let bad = other
        .sign_in_with_password(Some("eu"), "carol@fabrikam.example", Secret::new("wrong"))
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::SignInRequired, "{bad}");
}

#[tokio::test]
async fn refresh_rotation_survives_a_restart_of_the_core() {
    let w = World::start().await;
    let accounts = w.open();
    w.sign_in(&accounts).await;
    let first = w.stored_refresh_token().unwrap();
    drop(accounts);

    // A new instance resumes with the stored access token while it is valid...
    let accounts = w.open();
    assert!(matches!(
        accounts.roger().state(),
        AuthState::SignedIn { .. }
    ));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    assert_eq!(w.eu().stats().refresh_requests(), 0);
    assert_eq!(w.stored_refresh_token().unwrap(), first);
    drop(accounts);

    // ...and, once it is due, refreshes from the stored refresh token.
    w.advance(Duration::from_secs(21 * 60));
    let accounts = w.open();
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    let second = w.stored_refresh_token().unwrap();
    assert_ne!(
        first, second,
        "the refresh token rotates and the new one is stored"
    );
    assert_eq!(w.eu().stats().refresh_requests(), 1);
}

#[tokio::test]
async fn reusing_an_old_refresh_token_signs_everyone_out() {
    let w = World::start().await;
    let accounts = w.open();
    w.sign_in(&accounts).await;
    // Keep a copy of the store as it was (an attacker's or a restored backup's copy).
    let copy = w.copy_of_store();

    w.advance(Duration::from_secs(21 * 60));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200); // rotated once

    // Past the reuse grace window (within it, a repeat of the unused rotation is answered).
    w.advance(Duration::from_secs(60));
    let stale = w.open_with(copy);
    let err = printers_status(&stale).await.unwrap_err();
    assert!(
        matches!(err, Error::SignedOut(SignOutReason::SessionEnded)),
        "{err}"
    );
    // Reuse revoked the whole family: the legitimate instance is signed out at its next refresh.
    w.advance(Duration::from_secs(21 * 60));
    let err = printers_status(&accounts).await.unwrap_err();
    assert!(
        matches!(err, Error::SignedOut(SignOutReason::SessionEnded)),
        "{err}"
    );
    assert_eq!(
        accounts.roger().state(),
        AuthState::SignedOut {
            reason: SignOutReason::SessionEnded
        }
    );
    assert_eq!(w.stored_refresh_token(), None);
}

#[tokio::test]
async fn an_unused_session_expires_after_the_sliding_window() {
    let w = World::start().await;
    let accounts = w.open();
    w.sign_in(&accounts).await;
    // Used within the window: it slides.
    w.advance(Duration::from_secs(80 * 24 * 3600));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    w.advance(Duration::from_secs(80 * 24 * 3600));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    // Unused for more than 90 days: signed out, cleanly.
    w.advance(Duration::from_secs(91 * 24 * 3600));
    let err = printers_status(&accounts).await.unwrap_err();
    assert!(
        matches!(err, Error::SignedOut(SignOutReason::SessionExpired)),
        "{err}"
    );

    // The server agrees: even with the phone's clock behind, the token is refused there.
    let w = World::start().await;
    let accounts = w.open();
    w.sign_in(&accounts).await;
    w.cloud.clock().advance(Duration::from_secs(91 * 24 * 3600));
    drop(accounts);
    let accounts = w.open();
    let err = printers_status(&accounts).await.unwrap_err();
    assert!(
        matches!(err, Error::SignedOut(SignOutReason::SessionEnded)),
        "{err}"
    );
}

#[tokio::test]
async fn a_forged_redirect_is_refused_before_any_token_request() {
    let w = World::start().await;
    let accounts = w.open();
    let url = accounts.begin_sign_in(Some("eu")).await.unwrap();
    let good = w
        .eu()
        .browser_login(&url, "alice@contoso.example", "alice-password")
        .unwrap();
    let with = |name: &str, value: &str| {
        let mut u = good.clone();
        let pairs: Vec<(String, String)> = good
            .query_pairs()
            .into_owned()
            .map(|(k, v)| {
                if k == name {
                    (k, value.to_owned())
                } else {
                    (k, v)
                }
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        u.to_string()
    };
    let us_issuer = w.cloud.region("us").unwrap().issuer.clone();
    let cases = [
        (with("state", "forged"), SignInError::StateMismatch),
        (
            good.as_str().replace("oauth2redirect", "elsewhere"),
            SignInError::RedirectMismatch,
        ),
        // A mix-up ends the attempt: the pending sign-in is dropped.
        (with("iss", &us_issuer), SignInError::IssuerMismatch),
        (good.to_string(), SignInError::NotStarted),
    ];
    for (redirect, want) in cases {
        match accounts.complete_sign_in(&redirect).await {
            Err(Error::SignIn(got)) => assert_eq!(got, want, "{redirect}"),
            other => panic!("{redirect}: {other:?}"),
        }
    }
    assert_eq!(w.eu().stats().authorization_code_requests(), 0);
    assert_eq!(w.stored_refresh_token(), None);

    // A denial at the browser is a typed refusal.
    let other = w.open_with(Arc::new(MemoryStore::new()));
    let url = other.begin_sign_in(Some("eu")).await.unwrap();
    let denied = w.eu().browser_deny(&url).unwrap();
    let err = other.complete_sign_in(denied.as_str()).await.unwrap_err();
    assert!(matches!(err, Error::SignIn(SignInError::Refused(ref e)) if e == "access_denied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_calls_with_an_expired_token_refresh_once() {
    let w = World::start().await;
    let accounts = Arc::new(w.open());
    w.sign_in(&accounts).await;
    w.advance(Duration::from_secs(21 * 60));
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let accounts = accounts.clone();
            tokio::spawn(async move { printers_status(&accounts).await })
        })
        .collect();
    for call in futures::future::join_all(calls).await {
        assert_eq!(call.unwrap().unwrap(), 200);
    }
    assert_eq!(w.eu().stats().refresh_requests(), 1);
}

#[tokio::test]
async fn a_401_from_an_expired_token_is_recovered_with_one_refresh() {
    let w = World::start().await;
    let accounts = w.open();
    w.sign_in(&accounts).await;
    // Only the server's clock moves: the phone still believes its token is fresh.
    w.cloud.clock().advance(Duration::from_secs(21 * 60));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    assert_eq!(w.eu().stats().refresh_requests(), 1);
}

#[tokio::test]
async fn a_phone_clock_hours_off_the_server_still_refreshes_on_time() {
    // Lifetimes are taken relative to the phone's own clock when a token arrives, so a phone
    // six hours ahead of or behind the server neither refreshes in a loop nor sends stale tokens.
    for ahead in [true, false] {
        let w = World::start().await;
        let skew = Duration::from_secs(6 * 3600);
        if ahead {
            w.clock.advance(skew);
        } else {
            w.clock.rewind(skew);
        }
        let accounts = w.open();
        w.sign_in(&accounts).await;
        for _ in 0..3 {
            assert_eq!(printers_status(&accounts).await.unwrap(), 200);
        }
        w.advance(Duration::from_secs(10 * 60));
        assert_eq!(printers_status(&accounts).await.unwrap(), 200);
        assert_eq!(w.eu().stats().refresh_requests(), 0, "ahead: {ahead}");
        // Past the 20-minute access-token life: exactly one refresh, then the new token serves.
        w.advance(Duration::from_secs(11 * 60));
        assert_eq!(printers_status(&accounts).await.unwrap(), 200);
        assert_eq!(printers_status(&accounts).await.unwrap(), 200);
        assert_eq!(w.eu().stats().refresh_requests(), 1, "ahead: {ahead}");
        assert!(matches!(
            accounts.roger().state(),
            AuthState::SignedIn { .. }
        ));
    }
}

#[tokio::test]
async fn a_store_that_fails_on_write_loses_nothing_and_says_so() {
    let w = World::start().await;
    let accounts = w.open();
    let url = accounts.begin_sign_in(Some("eu")).await.unwrap();
    let redirect = w
        .eu()
        .browser_login(&url, "alice@contoso.example", "alice-password")
        .unwrap();
    w.store.set_fail_writes(true);
    let err = accounts
        .complete_sign_in(redirect.as_str())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    let keys = w.store.keys();
    assert!(
        !keys.iter().any(|k| k.starts_with("account.")),
        "no account record was half-written: {keys:?}"
    );
    assert!(matches!(
        accounts.roger().state(),
        AuthState::SignedOut { .. }
    ));

    // Signed in, then the store breaks during a rotation: the stored record stays whole.
    w.store.set_fail_writes(false);
    w.sign_in(&accounts).await;
    let before = w.stored_refresh_token().unwrap();
    w.store.set_fail_writes(true);
    w.advance(Duration::from_secs(21 * 60));
    let err = printers_status(&accounts).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(w.stored_refresh_token().unwrap(), before);
    w.store.set_fail_writes(false);
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    assert_ne!(w.stored_refresh_token().unwrap(), before);
}

#[tokio::test]
async fn discovery_works_offline_after_one_successful_start() {
    let w = World::start().await;
    let accounts = w.open();
    assert_eq!(accounts.regions().await.unwrap().len(), 2);
    drop(accounts);
    let config = core_config(&w.cloud);
    w.cloud.shutdown().await;
    let clock: Arc<dyn Clock> = Arc::new(OffsetClock::new());
    let offline = Accounts::open(
        config,
        w.store.clone(),
        OpenOptions {
            data_dir: None,
            clock: Some(clock),
        },
    )
    .unwrap();
    offline.region_directory().invalidate().await;
    let ids: Vec<String> = offline
        .regions()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["eu", "us"]);
}

#[tokio::test]
async fn sign_out_revokes_and_wipes_every_secret() {
    let w = World::start().await;
    let accounts = w.open();
    w.sign_in(&accounts).await;
    let token = w.stored_refresh_token().unwrap();
    let revocation = accounts.sign_out().await.unwrap();
    assert_eq!(
        w.stored_refresh_token(),
        None,
        "wiped before any revocation"
    );
    revocation.wait(Duration::from_secs(5)).await;
    assert_eq!(w.eu().stats().revocation_requests(), 1);
    // The revoked token no longer works at the server.
    let response = reqwest::Client::new()
        .post(w.eu().api_url.join("oauth/token").unwrap())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token.as_str()),
            ("client_id", "roger-mobile"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_fresh_install_wipes_secrets_left_in_the_platform_store() {
    let w = World::start().await;
    let accounts = w.open();
    w.sign_in(&accounts).await;
    drop(accounts);
    let dir = std::env::temp_dir().join(format!("roger-e2e-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let clock: Arc<dyn Clock> = w.clock.clone();
    let reinstalled = Accounts::open(
        core_config(&w.cloud),
        w.store.clone(),
        OpenOptions {
            data_dir: Some(&dir),
            clock: Some(clock.clone()),
        },
    )
    .unwrap();
    assert!(matches!(
        reinstalled.roger().state(),
        AuthState::SignedOut { .. }
    ));
    assert_eq!(w.stored_refresh_token(), None);
    // An ordinary restart (marker present) keeps the session.
    w.sign_in(&reinstalled).await;
    drop(reinstalled);
    let restarted = Accounts::open(
        core_config(&w.cloud),
        w.store.clone(),
        OpenOptions {
            data_dir: Some(&dir),
            clock: Some(clock),
        },
    )
    .unwrap();
    assert!(matches!(
        restarted.roger().state(),
        AuthState::SignedIn { .. }
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_lost_refresh_answer_keeps_the_user_signed_in() {
    let w = World::start().await;
    let accounts = w.open();
    w.sign_in(&accounts).await;
    let before = w.stored_refresh_token();
    w.eu().faults().drop_refresh_answers(1);
    w.advance(Duration::from_secs(21 * 60));
    // The server rotated, the answer was lost; the core asks again with the same token at once
    // and the reuse grace answers with the same new pair.
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    assert_eq!(w.eu().faults().dropped_refresh_answers(), 1);
    assert_eq!(w.eu().stats().refresh_requests(), 2);
    let after = w.stored_refresh_token();
    assert!(after.is_some() && after != before);
    // The family is intact: the next rotation works as usual.
    w.advance(Duration::from_secs(21 * 60));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    assert_eq!(w.eu().stats().refresh_requests(), 3);
}

#[tokio::test]
async fn without_a_reuse_grace_a_lost_refresh_answer_ends_the_session() {
    // What strict servers do, and why the Roger protocol has the grace window.
    let mut config = SimConfig::default();
    config.lifetimes.refresh_reuse_grace_secs = 0;
    let w = World::start_with(config).await;
    let accounts = w.open();
    w.sign_in(&accounts).await;
    w.eu().faults().drop_refresh_answers(1);
    w.advance(Duration::from_secs(21 * 60));
    let err = printers_status(&accounts).await.unwrap_err();
    assert!(
        matches!(err, Error::SignedOut(SignOutReason::SessionEnded)),
        "{err}"
    );
    assert_eq!(w.eu().stats().refresh_requests(), 2);
}

#[tokio::test]
async fn a_rotated_token_repeated_after_its_successor_was_used_is_reuse() {
    let w = World::start().await;
    let accounts = w.open();
    w.sign_in(&accounts).await;
    let copy = w.copy_of_store();
    w.advance(Duration::from_secs(21 * 60));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    // The successor is used too, seconds later on the server's clock (only the phone's clock
    // moves, so it refreshes again while the first rotation's grace is still open).
    w.clock.advance(Duration::from_secs(21 * 60));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    assert_eq!(w.eu().stats().refresh_requests(), 2);
    // Well within the grace period of the first rotation, but its successor is spent.
    let stale = w.open_with(copy);
    let err = printers_status(&stale).await.unwrap_err();
    assert!(
        matches!(err, Error::SignedOut(SignOutReason::SessionEnded)),
        "{err}"
    );
}

#[tokio::test]
async fn token_lifetimes_sent_as_strings_are_understood() {
    let w = World::start().await;
    w.eu().faults().send_expires_in_as_string(true);
    let accounts = w.open();
    w.sign_in(&accounts).await;
    w.advance(Duration::from_secs(21 * 60));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    assert_eq!(w.eu().stats().refresh_requests(), 1);
    // "1200" was read as 20 minutes: ten minutes later the token is still used as is.
    w.advance(Duration::from_secs(10 * 60));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    assert_eq!(w.eu().stats().refresh_requests(), 1);
}

#[tokio::test]
async fn an_issuer_with_a_path_is_found_at_the_appended_metadata_location() {
    let mut config = SimConfig::default();
    config.regions[0].issuer_path = Some("/o".into());
    let w = World::start_with(config).await;
    assert!(w.eu().issuer.ends_with("/o"), "{}", w.eu().issuer);
    let accounts = w.open();
    w.sign_in(&accounts).await;
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    w.advance(Duration::from_secs(21 * 60));
    assert_eq!(printers_status(&accounts).await.unwrap(), 200);
    assert_eq!(w.eu().stats().refresh_requests(), 1);
}

#[tokio::test]
async fn a_sign_in_started_before_the_app_was_killed_completes_in_the_next_process() {
    let w = World::start().await;
    // The app starts a sign-in, opens the browser, and the OS kills it.
    let redirect = w.redirect_of_a_killed_process().await;

    // The redirect relaunches the app: a new process on the same store completes it.
    let relaunched = w.open();
    let state = relaunched
        .complete_sign_in(redirect.as_str())
        .await
        .unwrap();
    assert!(matches!(state, AuthState::SignedIn { .. }), "{state:?}");
    assert_eq!(printers_status(&relaunched).await.unwrap(), 200);
    assert!(
        w.store.get(keys::PENDING_SIGN_IN).unwrap().is_none(),
        "a finished sign-in leaves nothing to replay"
    );

    // The same redirect again, in yet another process: nothing is pending any more.
    let err = w.complete_in_a_new_process(&redirect).await.unwrap_err();
    assert!(
        matches!(err, Error::SignIn(SignInError::NotStarted)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_microsoft_sign_in_survives_the_process_too() {
    let w = World::start().await;
    let url = w.open().begin_microsoft_sign_in().await.unwrap();
    let redirect = w
        .cloud
        .identity()
        .browser_login(&url, "alice@contoso.example", "alice-password")
        .unwrap();
    let state = w.complete_in_a_new_process(&redirect).await.unwrap();
    assert!(matches!(state, AuthState::SignedIn { .. }), "{state:?}");
}

#[tokio::test]
async fn a_stored_sign_in_expires_and_a_sign_out_forgets_it() {
    let w = World::start().await;
    let redirect = w.redirect_of_a_killed_process().await;
    w.clock.advance(Duration::from_secs(16 * 60));
    let err = w.complete_in_a_new_process(&redirect).await.unwrap_err();
    assert!(
        matches!(err, Error::SignIn(SignInError::NotStarted)),
        "{err:?}"
    );

    let accounts = w.open();
    accounts.begin_sign_in(Some("eu")).await.unwrap();
    assert!(w.store.get(keys::PENDING_SIGN_IN).unwrap().is_some());
    accounts.sign_out().await.unwrap();
    assert!(w.store.get(keys::PENDING_SIGN_IN).unwrap().is_none());
}
