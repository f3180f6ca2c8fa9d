//! Printer session benchmarks against the reference cloud over real sockets:
//!
//! 1. pairing latency: `preview` and `approve` with a fixed delay on every request of the
//!    region, as a ratio to a bare HTTP GET on the same server in the same run (the floor of one
//!    round trip), and how many requests each sends;
//! 2. event delivery: latency from the moment the server records an event to the moment a
//!    subscriber of the core has it, median and p99 over 1,000 events, as a ratio to a bare SSE
//!    reader (reqwest + the same SSE parser, no reconnection logic) on the same stream;
//! 3. 1,000 more events in 20 batches of 50 with every stream cut after 50 events (20 forced
//!    disconnects, each batch pushed as soon as the last one arrived): events lost and doubled,
//!    and the latency that reconnecting costs.
//!
//! Run: `cargo bench -p roger-e2e --bench printer_session`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::onedrive::OneDrive;
use roger_core::pairing::{parse_pairing_payload, policy_from_regions};
use roger_core::printer::{PrintService, PrintServiceOptions, PrinterEvent};
use roger_core::store::MemoryStore;
use roger_e2e::{core_config, sign_in_microsoft, sign_in_roger};
use roger_sim::{Cloud, MfpConfig, SimConfig};

const ALICE: (&str, &str) = ("alice@contoso.example", "alice-password");
const PRINTER: &str = "contoso-reception";
const WAIT: Duration = Duration::from_secs(30);
const DELAY: Duration = Duration::from_millis(50);
const PAIRINGS: usize = 10;
const EVENTS: usize = 1_000;
const CUT_AFTER: u32 = 50;

type Received = Arc<Mutex<Vec<(u64, Instant)>>>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cloud = Cloud::start(SimConfig {
        mfps: vec![MfpConfig::for_printer(PRINTER).fast()],
        ..SimConfig::default()
    })
    .await
    .expect("reference cloud");
    let accounts = Arc::new(
        Accounts::open(
            core_config(&cloud),
            Arc::new(MemoryStore::new()),
            OpenOptions::default(),
        )
        .expect("accounts"),
    );
    sign_in_roger(&cloud, &accounts, "eu", ALICE.0, ALICE.1).await;
    sign_in_microsoft(&cloud, &accounts, ALICE.0, ALICE.1).await;
    let drive = Arc::new(OneDrive::new(accounts.config(), accounts.microsoft().clone()).unwrap());
    // The phone's defaults: a reconnection first waits 250–500 ms (500 ms with jitter).
    let service =
        PrintService::new(accounts.clone(), drive, PrintServiceOptions::default()).unwrap();
    let eu = cloud.region("eu").unwrap();
    let mfp = cloud.mfp(PRINTER).unwrap();
    let policy = policy_from_regions(&accounts.regions().await.unwrap(), true);
    let api = accounts.signed_in_region().await.unwrap().api_url;

    // 1. Pairing latency.
    println!("pairing: {PAIRINGS} pairings, every request of the region delayed {DELAY:?}");
    let bare = reqwest::Client::new();
    let bare_url = api.join(".well-known/oauth-authorization-server").unwrap();
    let (mut previews, mut approves, mut bares, mut opened) = (vec![], vec![], vec![], vec![]);
    let (mut preview_requests, mut approve_requests) = (0, 0);
    let mut previous: Option<String> = None;
    for _ in 0..PAIRINGS {
        let qr = mfp
            .wait_for_new_qr(previous.as_deref(), WAIT)
            .await
            .unwrap();
        previous = Some(qr.user_code.clone());
        let payload = parse_pairing_payload(&qr.verification_uri_complete, &policy).unwrap();
        // Warm the bare client's connection, as the core's pool is warm.
        bare.get(bare_url.clone()).send().await.unwrap();
        eu.faults().delay_requests(DELAY);
        let t = Instant::now();
        let status = bare.get(bare_url.clone()).send().await.unwrap().status();
        assert!(status.is_success());
        bares.push(t.elapsed());
        let before = eu.faults().pairing_requests();
        let decoded = Instant::now();
        let t = decoded;
        let preview = service.preview(&payload).await.unwrap();
        previews.push(t.elapsed());
        let middle = eu.faults().pairing_requests();
        let t = Instant::now();
        service.approve(preview).await.unwrap();
        approves.push(t.elapsed());
        preview_requests += middle - before;
        approve_requests += eu.faults().pairing_requests() - middle;
        mfp.wait_for_state(|s| s.is_session_open(), WAIT)
            .await
            .unwrap();
        opened.push((t.elapsed(), decoded.elapsed()));
        eu.faults().reset();
        service.end_session().await.unwrap();
        mfp.wait_for_state(|s| !s.is_session_open(), WAIT)
            .await
            .unwrap();
    }
    let bare_median = median(&mut bares);
    for (name, times, requests) in [
        ("preview", &mut previews, preview_requests),
        ("approve", &mut approves, approve_requests),
    ] {
        let m = median(times);
        println!(
            "  {name:<8} median {:>6.1} ms = {:.2}× a bare GET ({:.1} ms) = {:.2}× the delay; {:.1} pairing requests each",
            ms(m),
            m.as_secs_f64() / bare_median.as_secs_f64(),
            ms(bare_median),
            m.as_secs_f64() / DELAY.as_secs_f64(),
            requests as f64 / PAIRINGS as f64
        );
    }
    let mut after_approve: Vec<Duration> = opened.iter().map(|o| o.0).collect();
    let mut total: Vec<Duration> = opened.iter().map(|o| o.1).collect();
    let (after_approve, total) = (median(&mut after_approve), median(&mut total));
    println!(
        "  decoded frame → printer session open: median {:.1} ms = {:.2}× the delay, of which {:.1} ms ({:.2}×) from the approve call on (approve, then the MFP's next poll and its step 2)",
        ms(total),
        total.as_secs_f64() / DELAY.as_secs_f64(),
        ms(after_approve),
        after_approve.as_secs_f64() / DELAY.as_secs_f64()
    );

    // 2. Event delivery, with a bare SSE reader on the same stream as the peer.
    let core_rx: Received = Arc::default();
    let bare_rx: Received = Arc::default();
    let mut sub = service.subscribe();
    service.start_events();
    let collector = {
        let core_rx = core_rx.clone();
        tokio::spawn(async move {
            let (mut disconnects, mut resyncs) = (0u32, 0u32);
            while let Some(event) = sub.next().await {
                match event {
                    PrinterEvent::Job {
                        event_id, job_id, ..
                    } if job_id.starts_with("bench-") => {
                        core_rx.lock().unwrap().push((event_id, Instant::now()));
                    }
                    PrinterEvent::Disconnected { .. } => disconnects += 1,
                    PrinterEvent::Resynced { .. } => resyncs += 1,
                    PrinterEvent::SignedOut => break,
                    _ => {}
                }
            }
            (disconnects, resyncs)
        })
    };
    let http = accounts.http().clone();
    let events_url = api.join("api/v1/session/events").unwrap();
    let response = accounts
        .roger()
        .send("bare event stream", |token| {
            http.get(events_url.clone())
                .bearer_auth(token)
                .header("Last-Event-ID", eu.last_event_id().to_string())
        })
        .await
        .unwrap();
    let peer = {
        let bare_rx = bare_rx.clone();
        tokio::spawn(async move {
            let mut stream = response.bytes_stream().eventsource();
            while let Some(Ok(event)) = stream.next().await {
                if event.data.contains("\"bench-") {
                    if let Ok(id) = event.id.parse::<u64>() {
                        bare_rx.lock().unwrap().push((id, Instant::now()));
                    }
                }
            }
        })
    };
    // Both readers connected before the first event.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = push_events(eu, 0, EVENTS).await;
    wait_count(&core_rx, EVENTS).await;
    wait_count(&bare_rx, EVENTS).await;
    peer.abort();
    let (core_med, core_p99) = latencies(&sent, &core_rx.lock().unwrap());
    let (bare_med, bare_p99) = latencies(&sent, &bare_rx.lock().unwrap());
    println!("events: {EVENTS} job events, one per millisecond");
    println!(
        "  core subscriber  median {:.3} ms  p99 {:.3} ms",
        ms(core_med),
        ms(core_p99)
    );
    println!(
        "  bare SSE reader  median {:.3} ms  p99 {:.3} ms",
        ms(bare_med),
        ms(bare_p99)
    );
    println!(
        "  ratio core / bare: median {:.2}×, p99 {:.2}×",
        core_med.as_secs_f64() / bare_med.as_secs_f64(),
        core_p99.as_secs_f64() / bare_p99.as_secs_f64()
    );

    // 3. Forced disconnects: every stream opened from now on is cut after 50 events.
    core_rx.lock().unwrap().clear();
    eu.faults().cut_event_streams_after(Some(CUT_AFTER));
    // The current stream was opened before the switch: cut it by a cut-free reconnect first.
    let cuts_before = eu.faults().cut_streams();
    service.stop_events();
    service.start_events();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Batches of 50 (one per stream), each pushed once the last one arrived, so the server's
    // backlog (512 events) always reaches back and the stream never needs a resync.
    let mut sent = HashMap::new();
    for round in 0..EVENTS / CUT_AFTER as usize {
        sent.extend(push_events(eu, EVENTS + round * CUT_AFTER as usize, CUT_AFTER as usize).await);
        wait_count(&core_rx, (round + 1) * CUT_AFTER as usize).await;
    }
    // Anything doubled would arrive late: give it time to show.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = core_rx.lock().unwrap().clone();
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (id, _) in &got {
        *seen.entry(*id).or_default() += 1;
    }
    let lost = sent.keys().filter(|id| !seen.contains_key(id)).count();
    let doubled: usize = seen.values().map(|n| n.saturating_sub(1)).sum();
    let cuts = eu.faults().cut_streams() - cuts_before;
    let (cut_med, cut_p99) = latencies(&sent, &got);
    println!(
        "disconnects: {EVENTS} events, streams cut after {CUT_AFTER} events: {cuts} forced disconnects"
    );
    println!("  lost {lost}, doubled {doubled}");
    println!(
        "  core subscriber  median {:.3} ms  p99 {:.1} ms (the first events of each batch wait for the reconnection: 250–500 ms)",
        ms(cut_med),
        ms(cut_p99)
    );
    eu.faults().reset();
    accounts.sign_out().await.unwrap();
    let (disconnects, resyncs) = tokio::time::timeout(WAIT, collector)
        .await
        .unwrap()
        .unwrap();
    println!("  the core reported {disconnects} disconnections and {resyncs} resyncs in all");
    cloud.shutdown().await;
}

/// Pushes `count` synthetic job events, one per millisecond; returns when each was recorded.
async fn push_events(
    region: &roger_sim::RegionHandle,
    offset: usize,
    count: usize,
) -> HashMap<u64, Instant> {
    let mut sent = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    for n in 0..count {
        tick.tick().await;
        let at = Instant::now();
        let id = region
            .push_job_event(ALICE.0, &format!("bench-{}", offset + n))
            .unwrap();
        sent.insert(id, at);
    }
    sent
}

async fn wait_count(received: &Received, n: usize) {
    let deadline = Instant::now() + WAIT;
    while received.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} events arrived",
            received.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn latencies(sent: &HashMap<u64, Instant>, got: &[(u64, Instant)]) -> (Duration, Duration) {
    let mut all: Vec<Duration> = got
        .iter()
        .filter_map(|(id, at)| sent.get(id).map(|s| at.saturating_duration_since(*s)))
        .collect();
    all.sort();
    (all[all.len() / 2], all[(all.len() * 99) / 100])
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
