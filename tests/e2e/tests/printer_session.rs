//! The printer session end to end: the real core against the reference cloud and its MFP
//! simulator over real sockets. Pairing by the printer's camera frame, release, print from
//! OneDrive and from a local file, scan, events, and the failures the UI must tell apart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::onedrive::{AfterPrint, CancelFlag, OneDrive};
use roger_core::pairing::{parse_manual_entry, parse_pairing_payload, policy_from_regions};
use roger_core::pairing::{PairingPayload, PairingPolicy};
use roger_core::printer::{
    Duplex, JobState, LocalFile, PairingError, PrintOptions, PrintService, PrintServiceOptions,
    PrinterError, PrinterEvent, ReleaseIntent, Right, SessionChange,
};
use roger_core::qr::{scan, LumaFrame, PipelineOptions};
use roger_core::store::MemoryStore;
use roger_e2e::{core_config, sign_in_microsoft, sign_in_roger};
use roger_sim::mfp::{MfpConfig, MfpHandle};
use roger_sim::{Cloud, CloudHandle, SimConfig};
use sha2::{Digest, Sha256};

const ALICE: (&str, &str) = ("alice@contoso.example", "alice-password");
const RECEPTION: &str = "contoso-reception";
const FLOOR2: &str = "contoso-floor2";
const WAIT: Duration = Duration::from_secs(30);

struct World {
    cloud: CloudHandle,
    accounts: Arc<Accounts>,
    service: PrintService,
    policy: PairingPolicy,
    dir: std::path::PathBuf,
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("roger-printer-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fast_options(dir: &std::path::Path) -> PrintServiceOptions {
    PrintServiceOptions {
        data_dir: Some(dir.to_owned()),
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        scan_poll: Duration::from_millis(200),
        ..PrintServiceOptions::default()
    }
}

impl World {
    async fn start(tag: &str, config: SimConfig) -> World {
        let cloud = Cloud::start(config).await.unwrap();
        let accounts = Arc::new(
            Accounts::open(
                core_config(&cloud),
                Arc::new(MemoryStore::new()),
                OpenOptions::default(),
            )
            .unwrap(),
        );
        sign_in_roger(&cloud, &accounts, "eu", ALICE.0, ALICE.1).await;
        sign_in_microsoft(&cloud, &accounts, ALICE.0, ALICE.1).await;
        let onedrive =
            Arc::new(OneDrive::new(accounts.config(), accounts.microsoft().clone()).unwrap());
        let dir = temp_dir(tag);
        let service =
            PrintService::new(accounts.clone(), onedrive.clone(), fast_options(&dir)).unwrap();
        let policy = policy_from_regions(&accounts.regions().await.unwrap(), true);
        World {
            cloud,
            accounts,
            service,
            policy,
            dir,
        }
    }

    async fn with_printers(tag: &str, printers: &[&str]) -> World {
        let config = SimConfig {
            mfps: printers
                .iter()
                .map(|p| MfpConfig::for_printer(p).fast())
                .collect(),
            ..SimConfig::default()
        };
        World::start(tag, config).await
    }

    fn mfp(&self, id: &str) -> &MfpHandle {
        self.cloud.mfp(id).unwrap()
    }

    /// What the phone's camera reads on the printer's screen, as a checked payload.
    async fn scan_printer(&self, id: &str, previous: Option<&str>) -> (String, PairingPayload) {
        let qr = self.mfp(id).wait_for_new_qr(previous, WAIT).await.unwrap();
        let frame = self.mfp(id).camera_frame(1280, 720);
        let luma = LumaFrame::packed(&frame.pixels, 1280, 720).unwrap();
        let texts: Vec<String> = scan(&luma, &PipelineOptions::default())
            .codes
            .into_iter()
            .map(|c| c.text)
            .collect();
        let text = texts
            .iter()
            .find(|t| parse_pairing_payload(t, &self.policy).is_ok())
            .unwrap_or_else(|| panic!("no pairing code read from the camera frame: {texts:?}"));
        (
            qr.user_code.clone(),
            parse_pairing_payload(text, &self.policy).unwrap(),
        )
    }

    /// Pairs with the printer and waits until its session has the step-2 rights.
    async fn pair(&self, id: &str) {
        let (_, payload) = self.scan_printer(id, None).await;
        let preview = self.service.preview(&payload).await.unwrap();
        self.service.approve(preview).await.unwrap();
        self.mfp(id)
            .wait_for_state(|s| s.is_session_open(), WAIT)
            .await
            .unwrap();
        self.wait_session(|s| s.is_some_and(|s| s.can(Right::Scan)))
            .await;
    }

    async fn wait_session(
        &self,
        pred: impl Fn(Option<&roger_core::printer::PrinterSession>) -> bool,
    ) {
        let mut rx = self.service.session_updates();
        self.service.start_events();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if pred(self.service.session().await.unwrap().as_ref()) {
                return;
            }
            tokio::select! {
                _ = rx.changed() => {}
                () = tokio::time::sleep_until(deadline) => panic!("session never reached the expected state"),
            }
        }
    }

    fn put(&self, path: &str, bytes: &[u8]) -> String {
        self.cloud
            .graph()
            .put_file(ALICE.0, path, bytes.to_vec())
            .unwrap()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn document(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..len).map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed)));
    bytes
}

/// Collects events until `pred` has seen what it waits for.
async fn events_until(
    sub: &mut roger_core::printer::EventSubscription,
    seen: &mut Vec<PrinterEvent>,
    pred: impl Fn(&[PrinterEvent]) -> bool,
) {
    tokio::time::timeout(WAIT, async {
        while !pred(seen) {
            let event = sub.next().await.expect("event stream closed");
            seen.push(event);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("events never arrived; seen {seen:?}"));
}

fn printed(seen: &[PrinterEvent], job_id: &str) -> bool {
    seen.iter().any(|e| {
        matches!(e, PrinterEvent::Job { job_id: j, state: JobState::Printed, .. } if j == job_id)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_at_the_printer() {
    let w = World::with_printers("story", &[RECEPTION]).await;
    let early = document(300_000, 1);
    let late = document(120_000, 2);
    let local = document(5 * 1024 * 1024 + 17, 3);
    let early_id = w.put("Print/early.pdf", &early);
    let late_id = w.put("Print/late.pdf", &late);

    // A job queued now and released hours later, after its download URL (1 h) ran out.
    let early_job = w
        .service
        .print_onedrive(&early_id, &PrintOptions::default(), AfterPrint::Keep)
        .await
        .unwrap();
    assert_eq!(early_job.state, JobState::Waiting);
    let (shown, _) = w.scan_printer(RECEPTION, None).await;
    w.cloud.clock().advance(Duration::from_secs(2 * 3600));

    // At the printer: the camera reads the code, the user sees the preview and approves.
    let mut sub = w.service.subscribe();
    let (_, payload) = w.scan_printer(RECEPTION, Some(&shown)).await;
    let preview = w.service.preview(&payload).await.unwrap();
    assert_eq!(preview.printer().id, RECEPTION);
    assert_eq!(preview.tenant().id, "contoso");
    assert!(!preview.is_expired() && preview.remaining() > Duration::ZERO);
    w.service.approve(preview).await.unwrap();
    w.mfp(RECEPTION)
        .wait_for_state(|s| s.is_session_open(), WAIT)
        .await
        .unwrap();
    w.wait_session(|s| s.is_some_and(|s| s.can(Right::Scan)))
        .await;
    let session = w.service.session().await.unwrap().unwrap();
    assert_eq!(session.printer.as_ref().unwrap().id, RECEPTION);

    // A second job, then both released in one intent.
    let options = PrintOptions {
        copies: 2,
        duplex: Duplex::LongEdge,
        color: true,
        ..PrintOptions::default()
    };
    let late_job = w
        .service
        .print_onedrive(&late_id, &options, AfterPrint::MoveToPrinted)
        .await
        .unwrap();
    let jobs = w.service.jobs().await.unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        [late_job.id.as_str(), early_job.id.as_str()],
        "newest first"
    );
    let intent = w.service.release_all_intent().await.unwrap().unwrap();
    let released = w.service.release(&intent).await.unwrap();
    assert_eq!(released.printer_id, RECEPTION);
    let out = w.mfp(RECEPTION).wait_printed(2, WAIT).await.unwrap();
    let by_id = |id: &str| out.iter().find(|p| p.job_id == id).unwrap().clone();
    assert_eq!(by_id(&early_job.id).sha256, sha(&early));
    assert_eq!(by_id(&late_job.id).sha256, sha(&late));
    assert_eq!(by_id(&late_job.id).copies, 2);

    // A local file goes through "Print" (resumable upload with progress), then the same way.
    let path = w.dir.join("local.pdf");
    std::fs::write(&path, &local).unwrap();
    let progressed = AtomicU64::new(0);
    let file = LocalFile {
        path: &path,
        name: None,
        progress: &|done: u64, _total: u64| progressed.store(done, Ordering::SeqCst),
        cancel: &CancelFlag::new(),
    };
    let local_job = w
        .service
        .print_local(file, &PrintOptions::default(), AfterPrint::Delete)
        .await
        .unwrap();
    assert_eq!(progressed.load(Ordering::SeqCst), local.len() as u64);
    let intent = ReleaseIntent::new(&[local_job.id.as_str()]).unwrap();
    w.service.release(&intent).await.unwrap();
    let out = w.mfp(RECEPTION).wait_printed(3, WAIT).await.unwrap();
    assert_eq!(
        out.iter()
            .find(|p| p.job_id == local_job.id)
            .unwrap()
            .sha256,
        sha(&local)
    );

    // After-print actions ran when the printed events came.
    let mut seen = Vec::new();
    events_until(&mut sub, &mut seen, |s| {
        printed(s, &late_job.id) && printed(s, &local_job.id)
    })
    .await;
    let graph = w.cloud.graph();
    assert!(
        graph.file_bytes(ALICE.0, "Print/local.pdf").is_none(),
        "deleted"
    );
    assert!(
        graph.file_bytes(ALICE.0, "Print/late.pdf").is_none(),
        "moved"
    );
    assert_eq!(graph.file_bytes(ALICE.0, "Printed/late.pdf").unwrap(), late);
    assert_eq!(
        graph.file_bytes(ALICE.0, "Print/early.pdf").unwrap(),
        early,
        "kept"
    );
    assert!(w.service.pending_after_print().is_empty());

    // A scan arrives in "Scan" with the printer's bytes.
    let scanned = w.service.scan("document-pdf").await.unwrap();
    let uploads = w.mfp(RECEPTION).wait_uploaded(1, WAIT).await.unwrap();
    assert_eq!(uploads.len(), 1);
    let stored = graph
        .file_bytes(ALICE.0, &format!("Scan/{}", scanned.item.name))
        .unwrap();
    assert_eq!(sha(&stored), uploads[0].sha256);
    assert_eq!(scanned.item.size, stored.len() as u64);

    // End the session from the phone, then sign out: the stream says so and stops.
    w.service.end_session().await.unwrap();
    w.mfp(RECEPTION)
        .wait_for_state(|s| !s.is_session_open(), WAIT)
        .await
        .unwrap();
    assert!(w.service.session().await.unwrap().is_none());
    events_until(&mut sub, &mut seen, |s| {
        s.iter().any(|e| {
            matches!(
                e,
                PrinterEvent::Session {
                    change: SessionChange::Ended,
                    ..
                }
            )
        })
    })
    .await;
    w.accounts.sign_out().await.unwrap();
    events_until(&mut sub, &mut seen, |s| {
        s.iter().any(|e| matches!(e, PrinterEvent::SignedOut))
    })
    .await;

    // Every event id was seen once, in order.
    let ids: Vec<u64> = seen
        .iter()
        .filter_map(|e| match e {
            PrinterEvent::Job { event_id, .. }
            | PrinterEvent::Scan { event_id, .. }
            | PrinterEvent::Session { event_id, .. } => Some(*event_id),
            _ => None,
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // The server keeps no transfer URL of finished jobs and scans.
    let kept = w.cloud.region("eu").unwrap().retained_records().to_string();
    for marker in ["downloadUrl", "uploadUrl", "download?", "/upload"] {
        assert!(!kept.contains(marker), "the server still keeps `{marker}`");
    }
}

#[tokio::test]
async fn deny_expired_replayed_other_region_and_other_tenant_codes_are_refused() {
    let w = World::with_printers("refusals", &[RECEPTION]).await;

    // Deny: the MFP is told access_denied and shows a new code.
    let (first, payload) = w.scan_printer(RECEPTION, None).await;
    let preview = w.service.preview(&payload).await.unwrap();
    w.service.deny(preview).await.unwrap();
    let (second, payload) = w.scan_printer(RECEPTION, Some(&first)).await;
    assert_ne!(first, second);

    // A decided code replayed: refused.
    let again = parse_manual_entry(&first, "eu", &w.policy).unwrap();
    assert!(matches!(
        w.service.preview(&again).await,
        Err(PrinterError::Pairing(PairingError::AlreadyUsed))
    ));

    // Expired: the code ran out (protocol time) before the user decided.
    let preview = w.service.preview(&payload).await.unwrap();
    w.cloud.clock().advance(Duration::from_secs(3600));
    let refused = w.service.approve(preview).await;
    assert!(
        matches!(refused, Err(PrinterError::Pairing(PairingError::Expired))),
        "{refused:?}"
    );
    assert!(!w.mfp(RECEPTION).state().is_session_open());

    // A code of the other region: refused before any request to either region.
    let us = w.policy.origin_for_region("us").unwrap().clone();
    let foreign = PairingPayload {
        region_id: "us".into(),
        origin: us,
        ..payload.clone()
    };
    let before_eu = w.cloud.region("eu").unwrap().faults().pairing_requests();
    let before_us = w.cloud.region("us").unwrap().faults().pairing_requests();
    assert!(before_eu > 0, "the counter counts");
    assert!(matches!(
        w.service.preview(&foreign).await,
        Err(PrinterError::Pairing(PairingError::WrongRegion { .. }))
    ));
    assert_eq!(
        w.cloud.region("eu").unwrap().faults().pairing_requests(),
        before_eu
    );
    assert_eq!(
        w.cloud.region("us").unwrap().faults().pairing_requests(),
        before_us
    );

    // Unknown code.
    let unknown = parse_manual_entry("BCDF-BCDF", "eu", &w.policy).unwrap();
    assert!(matches!(
        w.service.preview(&unknown).await,
        Err(PrinterError::Pairing(PairingError::UnknownCode))
    ));
}

#[tokio::test]
async fn another_tenants_printer_cannot_be_previewed() {
    let w = World::with_printers("tenant", &["fabrikam-lobby"]).await;
    let (_, payload) = w.scan_printer("fabrikam-lobby", None).await;
    assert!(matches!(
        w.service.preview(&payload).await,
        Err(PrinterError::Pairing(PairingError::OtherTenant))
    ));
}

#[tokio::test]
async fn a_release_whose_answer_was_lost_prints_once() {
    let w = World::with_printers("lost", &[RECEPTION]).await;
    let bytes = document(50_000, 9);
    let id = w.put("Print/once.pdf", &bytes);
    w.pair(RECEPTION).await;
    let job = w
        .service
        .print_onedrive(&id, &PrintOptions::default(), AfterPrint::Keep)
        .await
        .unwrap();
    let faults = w.cloud.region("eu").unwrap().faults();
    faults.drop_release_answers(2);
    let intent = ReleaseIntent::new(&[job.id.as_str()]).unwrap();
    let released = w.service.release(&intent).await.unwrap();
    assert_eq!(released.client_request_id, intent.client_request_id());
    assert_eq!(faults.dropped_release_answers(), 2);
    w.mfp(RECEPTION).wait_printed(1, WAIT).await.unwrap();
    // The printer finished; nothing else was released or printed.
    let job = w.service.job(&job.id).await.unwrap();
    assert_eq!(job.state, JobState::Printed);
    assert_eq!(w.mfp(RECEPTION).printed().len(), 1);

    // Answers that never arrive at all: unconfirmed, with the intent's id to retry with.
    let second = w
        .service
        .print_onedrive(&id, &PrintOptions::default(), AfterPrint::Keep)
        .await
        .unwrap();
    faults.drop_release_answers(100);
    let intent = ReleaseIntent::new(&[second.id.as_str()]).unwrap();
    match w.service.release(&intent).await {
        Err(PrinterError::ReleaseUnconfirmed { client_request_id }) => {
            assert_eq!(client_request_id, intent.client_request_id())
        }
        other => panic!("{other:?}"),
    }
    faults.reset();
    w.service.release(&intent).await.unwrap();
    w.mfp(RECEPTION).wait_printed(2, WAIT).await.unwrap();
    assert_eq!(w.mfp(RECEPTION).printed().len(), 2);
}

#[tokio::test]
async fn options_the_printer_cannot_do_are_refused_before_anything_is_sent() {
    let mut config = SimConfig {
        mfps: vec![MfpConfig::for_printer(FLOOR2).fast()],
        ..SimConfig::default()
    };
    for region in &mut config.regions {
        for tenant in &mut region.tenants {
            for printer in &mut tenant.printers {
                if printer.id == FLOOR2 {
                    printer.capabilities.duplex = false;
                }
            }
        }
    }
    let w = World::start("options", config).await;
    let id = w.put("Print/mono.pdf", &document(1000, 4));
    w.pair(FLOOR2).await;
    let colour = PrintOptions {
        color: true,
        ..PrintOptions::default()
    };
    let duplex = PrintOptions {
        duplex: Duplex::ShortEdge,
        ..PrintOptions::default()
    };
    for (options, name) in [(colour, "color"), (duplex, "duplex")] {
        match w
            .service
            .print_onedrive(&id, &options, AfterPrint::Keep)
            .await
        {
            Err(PrinterError::Option(e)) => assert_eq!(e.option, name),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        w.service.jobs().await.unwrap().is_empty(),
        "no job was created"
    );
}

#[tokio::test]
async fn a_stream_cut_again_and_again_loses_and_doubles_nothing() {
    let w = World::with_printers("cuts", &[RECEPTION]).await;
    let id = w.put("Print/many.pdf", &document(2000, 5));
    w.pair(RECEPTION).await;
    let faults = w.cloud.region("eu").unwrap().faults();
    // Every stream from now on is cut after two events; the one already open is replaced.
    w.service.stop_events();
    faults.cut_event_streams_after(Some(2));
    let mut sub = w.service.subscribe();
    let mut seen = Vec::new();
    let mut jobs = Vec::new();
    for _ in 0..4 {
        let job = w
            .service
            .print_onedrive(&id, &PrintOptions::default(), AfterPrint::Keep)
            .await
            .unwrap();
        jobs.push(job.id);
    }
    let intent = w.service.release_all_intent().await.unwrap().unwrap();
    w.service.release(&intent).await.unwrap();
    // Each job goes waiting → releasing → printing → printed: 16 events over many cut streams.
    events_until(&mut sub, &mut seen, |s| jobs.iter().all(|j| printed(s, j))).await;
    assert!(
        faults.cut_streams() >= 3,
        "cut {} times",
        faults.cut_streams()
    );
    let job_events: Vec<(u64, String, JobState)> = seen
        .iter()
        .filter_map(|e| match e {
            PrinterEvent::Job {
                event_id,
                job_id,
                state,
            } => Some((*event_id, job_id.clone(), *state)),
            _ => None,
        })
        .collect();
    let ids: Vec<u64> = job_events.iter().map(|e| e.0).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, once: {ids:?}"
    );
    for job in &jobs {
        let states: Vec<JobState> = job_events
            .iter()
            .filter(|e| &e.1 == job)
            .map(|e| e.2)
            .collect();
        assert_eq!(
            states,
            [
                JobState::Waiting,
                JobState::Releasing,
                JobState::Printing,
                JobState::Printed
            ],
            "{job}"
        );
    }
}
