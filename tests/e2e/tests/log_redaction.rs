//! A canary secret used through a full flow with logging at TRACE never reaches the log.
//! (Its own test binary: it installs the process-wide log subscriber.)

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::auth::AccountRecord;
use roger_core::onedrive::{CancelFlag, KnownFolder, OneDrive};
use roger_core::secret::Secret;
use roger_core::store::{keys, MemoryStore, SecureStore};
use roger_e2e::{core_config, fast_retry, sign_in_microsoft};
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

    // OneDrive: an upload and a download that each lose their connection (so the transfer
    // errors are logged), and a scan destination, all with pre-authenticated URLs.
    sign_in_microsoft(&cloud, &accounts, "alice@contoso.example", "alice-password").await;
    let mut drive = OneDrive::new(accounts.config(), accounts.microsoft().clone()).unwrap();
    drive.set_retry_policy(fast_retry());
    let folder = drive.folder_id(KnownFolder::Print).await.unwrap();
    let dir = std::env::temp_dir().join(format!("roger-redaction-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("source.pdf");
    std::fs::write(&source, vec![7u8; 12 * 1024 * 1024]).unwrap();
    let graph = cloud.graph();
    graph.faults().drop_upload_connection_after(5 * 1024 * 1024);
    let item = drive
        .upload_file(
            &source,
            &folder,
            "doc.pdf",
            &|_, _| {},
            &CancelFlag::new(),
            &|_| {},
        )
        .await
        .unwrap();
    graph
        .faults()
        .drop_download_connection_after(3 * 1024 * 1024);
    let dest = dir.join("copy.pdf");
    drive
        .download_to_file(&item.id, &dest, &|_, _| {}, &CancelFlag::new())
        .await
        .unwrap();
    assert_eq!(graph.stats().dropped_connections(), 1, "the upload was cut");
    assert_eq!(
        graph.stats().requests("GET download"),
        2,
        "the download was cut and resumed"
    );
    let scan = drive
        .scan_destination("Document", "pdf", std::time::SystemTime::now())
        .await
        .unwrap();
    tracing::debug!(?scan, "scan destination");
    std::fs::remove_dir_all(&dir).unwrap();

    accounts.sign_out().await.unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.len() > 1000,
        "TRACE logging was captured ({} bytes)",
        log.len()
    );
    let content = graph.content_url.as_str();
    for capability in [format!("{content}up/"), format!("{content}dl/")] {
        assert!(
            !log.contains(&capability),
            "a pre-authenticated OneDrive URL leaked into the log"
        );
    }
    assert!(!log.contains(scan.upload_url.as_str()));
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
