//! OneDrive "Print" and "Scan" against the Graph emulator, faults included.

use std::sync::Arc;
use std::time::Duration;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::onedrive::{
    AfterPrint, CancelFlag, DriveError, KnownFolder, OneDrive, OneDriveError, PendingUpload,
    Printability, TransferError,
};
use roger_core::store::MemoryStore;
use roger_e2e::{core_config, fast_retry, sign_in_microsoft};
use roger_sim::{Cloud, CloudHandle, SimConfig, ThrottleStatus};
use sha2::{Digest, Sha256};

const ALICE: (&str, &str) = ("alice@contoso.example", "alice-password");

struct World {
    cloud: CloudHandle,
    accounts: Accounts,
}

async fn signed_in() -> World {
    signed_in_with(|_| {}).await
}

/// Signed in with a core configuration `adjust` changes first.
async fn signed_in_with(adjust: impl FnOnce(&mut roger_core::Config)) -> World {
    let cloud = Cloud::start(SimConfig::default()).await.unwrap();
    let mut config = core_config(&cloud);
    adjust(&mut config);
    let accounts =
        Accounts::open(config, Arc::new(MemoryStore::new()), OpenOptions::default()).unwrap();
    sign_in_microsoft(&cloud, &accounts, ALICE.0, ALICE.1).await;
    World { cloud, accounts }
}

impl World {
    fn drive(&self) -> OneDrive {
        let mut drive =
            OneDrive::new(self.accounts.config(), self.accounts.microsoft().clone()).unwrap();
        drive.set_retry_policy(fast_retry());
        drive
    }
}

fn sha(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("roger-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn two_clients_creating_print_at_once_end_with_the_same_folder() {
    let w = signed_in().await;
    let (a, b) = (w.drive(), w.drive());
    let (x, y) = tokio::join!(
        a.folder_id(KnownFolder::Print),
        b.folder_id(KnownFolder::Print)
    );
    assert_eq!(x.unwrap(), y.unwrap());
    assert_eq!(
        w.cloud
            .graph()
            .list(ALICE.0, "/")
            .unwrap()
            .iter()
            .filter(|e| e.name == "Print")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_deleted_or_renamed_folder_is_recovered() {
    let w = signed_in().await;
    let drive = w.drive();
    let first = drive.folder_id(KnownFolder::Print).await.unwrap();
    assert!(w.cloud.graph().delete(ALICE.0, "/Print"));
    let second = drive.folder_id(KnownFolder::Print).await.unwrap();
    assert_ne!(first, second);
    w.cloud
        .graph()
        .rename(ALICE.0, "/Print", "Old print")
        .unwrap();
    let third = drive.folder_id(KnownFolder::Print).await.unwrap();
    assert_ne!(second, third);
    assert!(w.cloud.graph().item_id(ALICE.0, "/Print").is_some());
}

#[tokio::test]
async fn listing_print_costs_one_request_and_follows_renames() {
    let w = signed_in().await;
    let drive = w.drive();
    // No Print folder yet: the listing creates it and is empty.
    assert!(drive.list_print().await.unwrap().is_empty());
    assert!(w.cloud.graph().item_id(ALICE.0, "/Print").is_some());
    w.cloud
        .graph()
        .put_file(ALICE.0, "/Print/a.pdf", b"a".to_vec())
        .unwrap();
    let stats = w.cloud.graph().stats();
    let before = stats.all_requests().values().sum::<u64>();
    let names = |items: Vec<roger_core::onedrive::DriveItem>| {
        items.into_iter().map(|i| i.name).collect::<Vec<_>>()
    };
    assert_eq!(names(drive.list_print().await.unwrap()), ["a.pdf"]);
    assert_eq!(stats.all_requests().values().sum::<u64>() - before, 1);
    // The user renames the folder and makes a new Print: the listing shows the new one at once.
    w.cloud
        .graph()
        .rename(ALICE.0, "/Print", "Old print")
        .unwrap();
    w.cloud
        .graph()
        .put_file(ALICE.0, "/Print/b.pdf", b"b".to_vec())
        .unwrap();
    assert_eq!(names(drive.list_print().await.unwrap()), ["b.pdf"]);
}

#[tokio::test]
async fn a_thousand_items_over_tiny_pages_are_listed_once_each() {
    let w = signed_in().await;
    let drive = w.drive();
    drive.folder_id(KnownFolder::Print).await.unwrap();
    for i in 0..1000 {
        w.cloud
            .graph()
            .put_file(
                ALICE.0,
                &format!("/Print/doc-{i:04}.pdf"),
                b"%PDF-1.4 x".to_vec(),
            )
            .unwrap();
    }
    w.cloud.graph().faults().page_size_override(7);
    let items = drive.list_print().await.unwrap();
    assert_eq!(items.len(), 1000);
    let mut names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), 1000);
    assert_eq!(items[0].name, "doc-0000.pdf");
    assert!(items
        .iter()
        .all(|i| i.printability == Printability::Printable));
    assert!(w.cloud.graph().stats().requests("GET children") >= 143);
}

#[tokio::test]
async fn awkward_names_round_trip() {
    let w = signed_in().await;
    let drive = w.drive();
    let folder = drive.folder_id(KnownFolder::Print).await.unwrap();
    for name in [
        "Été #1 100%.pdf",
        "a b  c.txt",
        "日本語の文書.docx",
        "x+y=z;&.pdf",
    ] {
        let bytes = pattern(1000, 7);
        let path = temp_file("awkward.bin", &bytes);
        let item = drive
            .upload_file(
                &path,
                &folder,
                name,
                &|_, _| {},
                &CancelFlag::new(),
                &|_| {},
            )
            .await
            .unwrap();
        assert_eq!(item.name, name);
        assert_eq!(
            w.cloud
                .graph()
                .file_bytes(ALICE.0, &format!("/Print/{name}")),
            Some(bytes)
        );
    }
    let listed: Vec<String> = drive
        .list_print()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert!(
        listed.contains(&"Été #1 100%.pdf".to_string()),
        "{listed:?}"
    );
    // A name OneDrive refuses is a typed error and sends nothing.
    let path = temp_file("bad.bin", b"x");
    let err = drive
        .upload_file(
            &path,
            &folder,
            "a:b.pdf",
            &|_, _| {},
            &CancelFlag::new(),
            &|_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransferError::Drive(OneDriveError::Drive(_))),
        "{err}"
    );
}

#[tokio::test]
async fn a_50_mib_upload_survives_a_dropped_connection_and_matches_its_source() {
    let w = signed_in().await;
    let drive = w.drive();
    let folder = drive.folder_id(KnownFolder::Print).await.unwrap();
    let bytes = pattern(50 * 1024 * 1024, 3);
    let path = temp_file("big.bin", &bytes);
    w.cloud
        .graph()
        .faults()
        .drop_upload_connection_after(20 * 1024 * 1024);
    let progress = std::sync::Mutex::new(Vec::new());
    let item = drive
        .upload_file(
            &path,
            &folder,
            "big.pdf",
            &|done, total| progress.lock().unwrap().push((done, total)),
            &CancelFlag::new(),
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(item.size, bytes.len() as u64);
    assert_eq!(w.cloud.graph().stats().dropped_connections(), 1);
    let stored = w
        .cloud
        .graph()
        .file_bytes(ALICE.0, "/Print/big.pdf")
        .unwrap();
    assert_eq!(sha(&stored), sha(&bytes));
    let progress = progress.into_inner().unwrap();
    assert_eq!(
        progress.last(),
        Some(&(bytes.len() as u64, bytes.len() as u64))
    );
}

#[tokio::test]
async fn an_upload_resumes_after_an_app_restart() {
    let w = signed_in().await;
    let folder = w.drive().folder_id(KnownFolder::Print).await.unwrap();
    let bytes = pattern(24 * 1024 * 1024, 9);
    let path = temp_file("resume.bin", &bytes);
    // The app persists the session record, then dies in the middle of the upload.
    let saved: Arc<std::sync::Mutex<Option<PendingUpload>>> = Arc::default();
    let halfway = Arc::new(tokio::sync::Notify::new());
    let (drive, task_path, task_saved, task_halfway) =
        (w.drive(), path.clone(), saved.clone(), halfway.clone());
    let upload = tokio::spawn(async move {
        drive
            .upload_file(
                &task_path,
                &folder,
                "resume.pdf",
                &move |done, _| {
                    if done >= 8 * 1024 * 1024 {
                        task_halfway.notify_one();
                    }
                },
                &CancelFlag::new(),
                &move |p| *task_saved.lock().unwrap() = Some(p.clone()),
            )
            .await
    });
    halfway.notified().await;
    upload.abort();
    let _ = upload.await;
    assert_eq!(
        w.cloud.graph().file_bytes(ALICE.0, "/Print/resume.pdf"),
        None
    );
    let pending = saved
        .lock()
        .unwrap()
        .clone()
        .expect("the session was reported");

    // After the restart a new client continues from nextExpectedRanges, not from zero.
    let first_progress = std::sync::Mutex::new(None);
    let item = w
        .drive()
        .resume_upload(
            &pending,
            &|done, _| {
                first_progress.lock().unwrap().get_or_insert(done);
            },
            &CancelFlag::new(),
        )
        .await
        .unwrap();
    assert_eq!(item.size, bytes.len() as u64);
    let resumed_from = first_progress.into_inner().unwrap().unwrap();
    assert!(resumed_from > 8 * 1024 * 1024, "resumed at {resumed_from}");
    assert_eq!(
        sha(&w
            .cloud
            .graph()
            .file_bytes(ALICE.0, "/Print/resume.pdf")
            .unwrap()),
        sha(&bytes)
    );
    // A changed local file is not resumed.
    std::fs::write(&path, b"changed").unwrap();
    let err = w
        .drive()
        .resume_upload(&pending, &|_, _| {}, &CancelFlag::new())
        .await
        .unwrap_err();
    assert!(matches!(err, TransferError::LocalFile(_)), "{err}");
}

#[tokio::test]
async fn cancel_leaves_no_partial_file() {
    let w = signed_in().await;
    let drive = w.drive();
    let folder = drive.folder_id(KnownFolder::Print).await.unwrap();
    let bytes = pattern(16 * 1024 * 1024, 5);
    let path = temp_file("cancel.bin", &bytes);
    let cancel = CancelFlag::new();
    let err = drive
        .upload_file(
            &path,
            &folder,
            "cancel.pdf",
            &|done, _| {
                if done > 4 * 1024 * 1024 {
                    cancel.cancel();
                }
            },
            &cancel,
            &|_| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransferError::Cancelled), "{err}");
    assert_eq!(
        w.cloud.graph().file_bytes(ALICE.0, "/Print/cancel.pdf"),
        None
    );
    assert_eq!(w.cloud.graph().open_upload_sessions(ALICE.0), 0);
}

#[tokio::test]
async fn throttling_on_every_third_call_still_completes() {
    let w = signed_in().await;
    let drive = w.drive();
    drive.folder_id(KnownFolder::Print).await.unwrap();
    for i in 0..30 {
        w.cloud
            .graph()
            .put_file(ALICE.0, &format!("/Print/t{i}.pdf"), b"x".to_vec())
            .unwrap();
    }
    w.cloud.graph().faults().page_size_override(5);
    w.cloud
        .graph()
        .faults()
        .throttle_every(3, ThrottleStatus::TooManyRequests, 0);
    assert_eq!(drive.list_print().await.unwrap().len(), 30);
    let after_listing = w.cloud.graph().stats().throttled_responses();
    assert!(after_listing >= 2, "{after_listing}");
    w.cloud
        .graph()
        .faults()
        .throttle_every(3, ThrottleStatus::ServiceUnavailable, 0);
    let folder = drive.folder_id(KnownFolder::Print).await.unwrap();
    let path = temp_file("throttled.bin", &pattern(6 * 1024 * 1024, 1));
    drive
        .upload_file(
            &path,
            &folder,
            "throttled.pdf",
            &|_, _| {},
            &CancelFlag::new(),
            &|_| {},
        )
        .await
        .unwrap();
    assert!(w.cloud.graph().stats().throttled_responses() > after_listing);
}

#[tokio::test]
async fn endless_throttling_mid_upload_ends_in_a_typed_error_and_the_upload_resumes_later() {
    let w = signed_in().await;
    let drive = w.drive();
    let folder = drive.folder_id(KnownFolder::Print).await.unwrap();
    let bytes = pattern(6 * 1024 * 1024, 9);
    let path = temp_file("throttled-forever.bin", &bytes);
    let pending = std::sync::Mutex::new(None::<PendingUpload>);
    // Every request is throttled from the moment the upload session exists.
    let throttle_from_now = |session: &PendingUpload| {
        *pending.lock().unwrap() = Some(session.clone());
        w.cloud
            .graph()
            .faults()
            .throttle_every(1, ThrottleStatus::ServiceUnavailable, 0);
    };
    let cancel = CancelFlag::new();
    let upload = drive.upload_file(
        &path,
        &folder,
        "throttled-forever.pdf",
        &|_, _| {},
        &cancel,
        &throttle_from_now,
    );
    let err = tokio::time::timeout(Duration::from_secs(30), upload)
        .await
        .expect("a throttled upload gives up within the retry budget")
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransferError::Drive(OneDriveError::Core(roger_core::Error::Throttled { .. }))
        ),
        "{err}"
    );
    assert_eq!(
        w.cloud.graph().stats().throttled_responses(),
        8,
        "every attempt the policy allows, and no more"
    );
    // The session is kept: once the service recovers, the upload finishes from where it was.
    w.cloud.graph().faults().stop_throttling();
    assert_eq!(w.cloud.graph().open_upload_sessions(ALICE.0), 1);
    let pending = pending.lock().unwrap().take().unwrap();
    drive
        .resume_upload(&pending, &|_, _| {}, &CancelFlag::new())
        .await
        .unwrap();
    assert_eq!(
        sha(&w
            .cloud
            .graph()
            .file_bytes(ALICE.0, "/Print/throttled-forever.pdf")
            .unwrap()),
        sha(&bytes)
    );
}

#[tokio::test]
async fn a_drive_used_after_sign_out_asks_the_user_to_sign_in() {
    let w = signed_in().await;
    let drive = w.drive();
    drive.folder_id(KnownFolder::Print).await.unwrap();
    w.accounts.sign_out().await.unwrap();
    let err = drive.list_print().await.unwrap_err();
    match err {
        OneDriveError::Core(e) => {
            assert_eq!(e.kind(), roger_core::ErrorKind::SignInRequired, "{e}")
        }
        other => panic!("expected a sign-in error, got {other}"),
    }
}

#[tokio::test]
async fn an_expired_token_mid_listing_recovers_with_one_refresh() {
    let w = signed_in().await;
    let drive = w.drive();
    drive.folder_id(KnownFolder::Print).await.unwrap();
    for i in 0..20 {
        w.cloud
            .graph()
            .put_file(ALICE.0, &format!("/Print/e{i}.pdf"), b"x".to_vec())
            .unwrap();
    }
    w.cloud.graph().faults().page_size_override(4);
    w.cloud.graph().faults().expire_tokens_now();
    assert_eq!(drive.list_print().await.unwrap().len(), 20);
    assert_eq!(w.cloud.identity().stats().refresh_requests(), 1);
}

#[tokio::test]
async fn downloads_never_carry_the_bearer_token_and_after_print_choices_apply() {
    let w = signed_in().await;
    let drive = w.drive();
    drive.folder_id(KnownFolder::Print).await.unwrap();
    let bytes = pattern(700_000, 2);
    let id = w
        .cloud
        .graph()
        .put_file(ALICE.0, "/Print/report.pdf", bytes.clone())
        .unwrap();
    let url = drive.download_url(&id).await.unwrap();
    assert_ne!(
        url.origin(),
        w.cloud.graph_url.origin(),
        "a pre-authenticated content host"
    );
    let dest = std::env::temp_dir().join(format!("roger-e2e-dl-{}.pdf", std::process::id()));
    let n = drive
        .download_to_file(&id, &dest, &|_, _| {}, &CancelFlag::new())
        .await
        .unwrap();
    assert_eq!(n, bytes.len() as u64);
    assert_eq!(sha(&std::fs::read(&dest).unwrap()), sha(&bytes));
    std::fs::remove_file(&dest).unwrap();
    assert_eq!(
        w.cloud
            .graph()
            .stats()
            .authorization_headers_on_content_host(),
        0
    );

    drive
        .after_print(&id, AfterPrint::MoveToPrinted)
        .await
        .unwrap();
    assert!(w
        .cloud
        .graph()
        .file_bytes(ALICE.0, "/Printed/report.pdf")
        .is_some());
    drive.after_print(&id, AfterPrint::Delete).await.unwrap();
    assert!(w
        .cloud
        .graph()
        .file_bytes(ALICE.0, "/Printed/report.pdf")
        .is_none());
}

#[tokio::test]
async fn scans_land_in_scan_newest_first() {
    let w = signed_in().await;
    let drive = w.drive();
    let dest = drive
        .scan_destination("Document PDF", "pdf", std::time::SystemTime::now())
        .await
        .unwrap();
    assert!(dest.file_name.starts_with("Document PDF "));
    // The printer uploads to the URL without any token.
    let body = pattern(100_000, 4);
    let response = reqwest::Client::new()
        .put(dest.upload_url.clone())
        .header(
            "Content-Range",
            format!("bytes 0-{}/{}", body.len() - 1, body.len()),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    w.cloud
        .graph()
        .put_file(ALICE.0, "/Scan/older.pdf", b"old".to_vec())
        .unwrap();
    let scans = drive.list_scans().await.unwrap();
    assert_eq!(scans.len(), 2);
    assert_eq!(
        w.cloud
            .graph()
            .file_bytes(ALICE.0, &format!("/Scan/{}", dest.file_name)),
        Some(body)
    );
}

#[tokio::test]
async fn parallel_uploads_are_bounded() {
    let w = signed_in().await;
    let mut drive = w.drive();
    drive.set_parallel_uploads(1);
    let drive = Arc::new(drive);
    let folder = drive.folder_id(KnownFolder::Print).await.unwrap();
    let events: Arc<std::sync::Mutex<Vec<usize>>> = Arc::default();
    let uploads: Vec<_> = (0..3)
        .map(|i| {
            let (drive, folder, events) = (drive.clone(), folder.clone(), events.clone());
            let path = temp_file(&format!("par{i}.bin"), &pattern(7 * 1024 * 1024, i as u8));
            tokio::spawn(async move {
                drive
                    .upload_file(
                        &path,
                        &folder,
                        &format!("par{i}.pdf"),
                        &move |_, _| events.lock().unwrap().push(i),
                        &CancelFlag::new(),
                        &|_| {},
                    )
                    .await
            })
        })
        .collect();
    for upload in uploads {
        upload.await.unwrap().unwrap();
    }
    // With one slot, each upload's progress events come in one unbroken run.
    let mut events = events.lock().unwrap().clone();
    let runs = {
        events.dedup();
        events.len()
    };
    assert_eq!(runs, 3, "uploads interleaved: {events:?}");
}

#[tokio::test]
async fn a_dropped_download_resumes_from_where_it_stopped() {
    let w = signed_in().await;
    let drive = w.drive();
    let bytes = pattern(20 * 1024 * 1024, 9);
    let id = w
        .cloud
        .graph()
        .put_file(ALICE.0, "/Print/big.pdf", bytes.clone())
        .unwrap();
    // The first response is cut after 7 MiB, the first resume after 3 MiB more.
    let faults = w.cloud.graph().faults();
    faults.drop_download_connection_after(7 * 1024 * 1024);
    faults.drop_download_connection_after(3 * 1024 * 1024);
    let dest = std::env::temp_dir().join(format!("roger-e2e-resume-{}.pdf", std::process::id()));
    let seen = std::sync::Mutex::new(Vec::new());
    let n = drive
        .download_to_file(
            &id,
            &dest,
            &|done, total| seen.lock().unwrap().push((done, total)),
            &CancelFlag::new(),
        )
        .await
        .unwrap();
    assert_eq!(n, bytes.len() as u64);
    assert_eq!(sha(&std::fs::read(&dest).unwrap()), sha(&bytes));
    std::fs::remove_file(&dest).unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(
        seen.windows(2).all(|p| p[0].0 <= p[1].0),
        "progress never goes back: nothing was downloaded twice"
    );
    assert_eq!(seen.last(), Some(&(n, n)));
    assert_eq!(w.cloud.graph().stats().requests("GET download"), 3);
}

#[tokio::test]
async fn a_download_that_keeps_dropping_fails_cleanly() {
    let w = signed_in().await;
    let drive = w.drive();
    let bytes = pattern(2 * 1024 * 1024, 4);
    let id = w
        .cloud
        .graph()
        .put_file(ALICE.0, "/Print/flaky.pdf", bytes)
        .unwrap();
    let faults = w.cloud.graph().faults();
    faults.drop_download_connection_after(1024 * 1024);
    for _ in 0..10 {
        faults.drop_download_connection_after(0);
    }
    let dest = std::env::temp_dir().join(format!("roger-e2e-flaky-{}.pdf", std::process::id()));
    let err = drive
        .download_to_file(&id, &dest, &|_, _| {}, &CancelFlag::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("keeps dropping"), "{err}");
    assert!(!dest.exists(), "no file under the real name");
    assert!(
        !dest
            .with_file_name(format!("roger-e2e-flaky-{}.pdf.part", std::process::id()))
            .exists(),
        "no partial file left behind"
    );
    // One first request, then the bounded resumes that brought nothing.
    assert_eq!(w.cloud.graph().stats().requests("GET download"), 1 + 5);
}

#[tokio::test]
async fn a_download_whose_caller_goes_away_leaves_no_file() {
    // A Kotlin coroutine or Swift task cancelled mid-download drops the future.
    let w = signed_in().await;
    let drive = Arc::new(w.drive());
    let bytes = pattern(48 * 1024 * 1024, 6);
    let id = w
        .cloud
        .graph()
        .put_file(ALICE.0, "/Print/dropped.pdf", bytes)
        .unwrap();
    let name = format!("roger-e2e-gone-{}.pdf", std::process::id());
    let dest = std::env::temp_dir().join(&name);
    let partial = std::env::temp_dir().join(format!("{name}.part"));
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let started_tx = std::sync::Mutex::new(Some(started_tx));
    let task = {
        let (drive, dest) = (drive.clone(), dest.clone());
        tokio::spawn(async move {
            drive
                .download_to_file(
                    &id,
                    &dest,
                    &move |done, _| {
                        if done >= 2 * 1024 * 1024 {
                            if let Some(tx) = started_tx.lock().unwrap().take() {
                                let _ = tx.send(());
                            }
                        }
                    },
                    &CancelFlag::new(),
                )
                .await
        })
    };
    started.await.unwrap();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    for _ in 0..300 {
        if !partial.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!partial.exists(), "the partial file is deleted");
    assert!(!dest.exists(), "nothing under the real name");
}

async fn upload(
    drive: &OneDrive,
    folder: &str,
    name: &str,
    bytes: &[u8],
) -> Result<roger_core::onedrive::DriveItem, TransferError> {
    let path = temp_file(&format!("{name}.bin"), bytes);
    drive
        .upload_file(&path, folder, name, &|_, _| {}, &CancelFlag::new(), &|_| {})
        .await
}

fn names_in(w: &World, folder: &str) -> Vec<String> {
    let mut names: Vec<String> = w
        .cloud
        .graph()
        .list(ALICE.0, folder)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn an_upload_survives_5xx_on_fragments() {
    let w = signed_in().await;
    let drive = w.drive();
    let folder = drive.folder_id(KnownFolder::Print).await.unwrap();
    for (i, status) in [500u16, 502, 504].into_iter().enumerate() {
        // Three fragments; the second fails once, and for 500 the third as well.
        let bytes = pattern(7 * 1024 * 1024, i as u8);
        let failing: &[u64] = if status == 500 { &[1, 3] } else { &[1] };
        w.cloud
            .graph()
            .faults()
            .fail_upload_fragments(status, failing);
        let name = format!("flaky-{status}.pdf");
        let item = upload(&drive, &folder, &name, &bytes).await.unwrap();
        assert_eq!(
            (item.name.as_str(), item.size),
            (name.as_str(), bytes.len() as u64)
        );
        let stored = w
            .cloud
            .graph()
            .file_bytes(ALICE.0, &format!("/Print/{name}"))
            .unwrap();
        assert_eq!(sha(&stored), sha(&bytes), "{status}");
    }
    assert_eq!(w.cloud.graph().stats().failed_fragments(), 4);
    assert_eq!(w.cloud.graph().open_upload_sessions(ALICE.0), 0);
}

#[tokio::test]
async fn a_download_whose_url_expires_during_a_throttle_wait_completes() {
    let w = signed_in().await;
    let drive = w.drive();
    let bytes = pattern(3 * 1024 * 1024, 8);
    let id = w
        .cloud
        .graph()
        .put_file(ALICE.0, "/Print/slow.pdf", bytes.clone())
        .unwrap();
    // URLs live a second; the first download is told to come back in two.
    let faults = w.cloud.graph().faults();
    faults.download_url_lifetime(Some(1));
    faults.throttle_next_downloads(1, 2);
    let dest = std::env::temp_dir().join(format!("roger-e2e-expiry-{}.pdf", std::process::id()));
    let n = drive
        .download_to_file(&id, &dest, &|_, _| {}, &CancelFlag::new())
        .await
        .unwrap();
    assert_eq!(n, bytes.len() as u64);
    assert_eq!(sha(&std::fs::read(&dest).unwrap()), sha(&bytes));
    std::fs::remove_file(&dest).unwrap();
    let stats = w.cloud.graph().stats();
    // Throttled, refused as expired, then served from a renewed URL.
    assert_eq!(stats.requests("GET download"), 3);
    assert_eq!(stats.throttled_responses(), 1);
}

#[tokio::test]
async fn a_too_large_upload_is_refused_as_onedrive_full_before_any_fragment() {
    let w = signed_in().await;
    let drive = w.drive();
    let folder = drive.folder_id(KnownFolder::Print).await.unwrap();
    w.cloud.graph().faults().limit_free_space(Some(1024 * 1024));
    for len in [6 * 1024 * 1024, 2 * 1024 * 1024] {
        let err = upload(&drive, &folder, "big.pdf", &pattern(len, 1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                TransferError::Drive(OneDriveError::Drive(DriveError::Full))
            ),
            "{len}: {err}"
        );
    }
    let stats = w.cloud.graph().stats();
    assert_eq!(
        stats.upload_fragment_bytes(),
        0,
        "refused before any byte was sent"
    );
    assert_eq!(stats.requests("PUT upload"), 0);
    assert_eq!(w.cloud.graph().open_upload_sessions(ALICE.0), 0);
    assert!(names_in(&w, "/Print").is_empty());
    // What fits still goes in.
    w.cloud
        .graph()
        .faults()
        .limit_free_space(Some(8 * 1024 * 1024));
    upload(&drive, &folder, "big.pdf", &pattern(6 * 1024 * 1024, 1))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_simple_upload_whose_response_is_lost_leaves_exactly_one_file() {
    // A lost answer shows as a second without progress.
    let w = signed_in_with(|c| c.timeouts.request = Duration::from_secs(1)).await;
    let drive = w.drive();
    let folder = drive.folder_id(KnownFolder::Print).await.unwrap();
    let bytes = pattern(300_000, 5);
    w.cloud.graph().faults().lose_simple_upload_responses(1);
    let item = upload(&drive, &folder, "lost.pdf", &bytes).await.unwrap();
    assert_eq!(item.name, "lost.pdf");
    assert_eq!(names_in(&w, "/Print"), ["lost.pdf"]);
    assert_eq!(
        w.cloud.graph().file_bytes(ALICE.0, "/Print/lost.pdf"),
        Some(bytes.clone())
    );
    assert_eq!(w.cloud.graph().stats().lost_responses(), 1);

    // With the name already taken by another file, the upload is renamed once, not twice.
    w.cloud
        .graph()
        .put_file(ALICE.0, "/Print/taken.pdf", b"someone else's".to_vec())
        .unwrap();
    w.cloud.graph().faults().lose_simple_upload_responses(1);
    let item = upload(&drive, &folder, "taken.pdf", &bytes).await.unwrap();
    assert_eq!(item.name, "taken 1.pdf");
    assert_eq!(
        names_in(&w, "/Print"),
        ["lost.pdf", "taken 1.pdf", "taken.pdf"]
    );
    assert_eq!(w.cloud.graph().stats().lost_responses(), 2);
}
