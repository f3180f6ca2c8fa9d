//! A canary secret used through a full flow with logging at TRACE never reaches the log.
//! (Its own test binary: it installs the process-wide log subscriber.)

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::auth::AccountRecord;
use roger_core::secret::Secret;
use roger_core::store::{keys, MemoryStore, SecureStore};
use roger_e2e::core_config;
use roger_sim::{Cloud, SimConfig};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_appear_in_trace_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let mut sim = SimConfig::default();
    let canary_password = "canary-pw-5d1e9b";
    for region in &mut sim.regions {
        for tenant in &mut region.tenants {
            for user in &mut tenant.users {
                if user.email == "carol@fabrikam.example" {
                    user.password = canary_password.into();
                }
            }
        }
    }
    let cloud = Cloud::start(sim).await.unwrap();
    let store = Arc::new(MemoryStore::new());
    let accounts =
        Accounts::open(core_config(&cloud), store.clone(), OpenOptions::default()).unwrap();
    accounts
        .sign_in_with_password(
            Some("eu"),
            "carol@fabrikam.example",
            Secret::new(canary_password),
        )
        .await
        .unwrap();
    let first_refresh = record(&store).refresh_token.expose().to_owned();
    let first_access = accounts.roger().access_token().await.unwrap();
    cloud.clock().advance(Duration::from_secs(21 * 60));
    let region = accounts.signed_in_region().await.unwrap();
    let url = region.api_url.join("api/v1/printers").unwrap();
    let http = accounts.http().clone();
    let status = accounts
        .roger()
        .send("listing printers", |t| http.get(url.clone()).bearer_auth(t))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let second_refresh = record(&store).refresh_token.expose().to_owned();
    let second_access = accounts.roger().access_token().await.unwrap();
    tracing::debug!(?accounts, record = ?record(&store), "state after the flow");
    accounts.sign_out().await.unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.len() > 1000,
        "TRACE logging was captured ({} bytes)",
        log.len()
    );
    for secret in [
        canary_password,
        &first_refresh,
        &second_refresh,
        first_access.expose(),
        second_access.expose(),
    ] {
        assert!(!log.contains(secret), "a secret leaked into the log");
    }
}

fn record(store: &MemoryStore) -> AccountRecord {
    AccountRecord::from_bytes(&store.get(keys::ROGER_ACCOUNT).unwrap().unwrap()).unwrap()
}
