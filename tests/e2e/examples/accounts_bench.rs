//! Benchmark of the accounts layer against the reference cloud on loopback:
//! - the authorised-request fast path: what the token manager adds per call when the access
//!   token is valid (in-memory lookup under the single-flight lock), alone and under 8-way
//!   contention;
//! - a full authorised call (token + HTTP GET to the loopback API) for scale;
//! - a cold start: config validation + store read + region list from the persisted cache.
//!
//! Run: `cargo run --release -p roger-e2e --example accounts_bench`

use std::sync::Arc;
use std::time::{Duration, Instant};

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::secret::Secret;
use roger_core::store::MemoryStore;
use roger_e2e::core_config;
use roger_sim::{Cloud, SimConfig};

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name:<44} n={:<7} median {:>10.3?}  p95 {:>10.3?}  p99 {:>10.3?}",
        samples.len(),
        pick(0.5),
        pick(0.95),
        pick(0.99)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cloud = Cloud::start(SimConfig::default()).await?;
    let store = Arc::new(MemoryStore::new());
    let accounts = Arc::new(Accounts::open(
        core_config(&cloud),
        store.clone(),
        OpenOptions::default(),
    )?);
    accounts
        .sign_in_with_password(
            Some("eu"),
            "carol@fabrikam.example",
            Secret::new("carol-password"),
        )
        .await?;

    // Fast path: valid token, batches of 1,000 calls timed together (per-call figure).
    let mut samples = Vec::new();
    for _ in 0..2_000 {
        let t = Instant::now();
        for _ in 0..1_000 {
            std::hint::black_box(accounts.roger().access_token().await?);
        }
        samples.push(t.elapsed() / 1_000);
    }
    summary("access_token() fast path, 1 caller", samples);

    let mut samples = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let a = accounts.clone();
                tokio::spawn(async move {
                    for _ in 0..1_000 {
                        let _ = std::hint::black_box(a.roger().access_token().await);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await?;
        }
        samples.push(t.elapsed() / 8_000);
    }
    summary("access_token() fast path, 8 callers (per call)", samples);

    let region = accounts.signed_in_region().await?;
    let url = region.api_url.join("api/v1/printers")?;
    let http = accounts.http().clone();
    let mut samples = Vec::new();
    for _ in 0..2_000 {
        let t = Instant::now();
        let r = accounts
            .roger()
            .send("bench", |tok| http.get(url.clone()).bearer_auth(tok))
            .await?;
        std::hint::black_box(r.bytes().await?);
        samples.push(t.elapsed());
    }
    summary("authorised GET /api/v1/printers (loopback)", samples);

    let mut samples = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        let cold = Accounts::open(core_config(&cloud), store.clone(), OpenOptions::default())?;
        std::hint::black_box(cold.regions().await?);
        samples.push(t.elapsed());
    }
    summary("cold start: open + store read + cached regions", samples);
    cloud.shutdown().await;
    Ok(())
}
