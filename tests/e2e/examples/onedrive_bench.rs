//! OneDrive transfer benchmark: our upload (upload session, fragments streamed from disk) and
//! download (pre-authenticated URL, streamed to a file and synced) against a plain HTTP PUT/GET
//! of the same bytes to the same Graph emulator, plus this process's peak RSS. The plain
//! download is timed twice: into a synced file (like ours) and into memory (the network alone).
//!
//! The emulator keeps files in memory, so it runs in a child process (this binary with
//! `--serve-cloud`): the peak RSS printed is the client's alone.
//!
//! Run one line of the table per invocation (a fresh process, so peak RSS is per mode and size):
//! `cargo run --release -p roger-e2e --example onedrive_bench -- <size-MiB> <ours|plain>`

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::onedrive::{CancelFlag, KnownFolder, OneDrive, FRAGMENT_SIZE};
use roger_core::store::MemoryStore;
use roger_core::Config;
use roger_sim::{Cloud, SimConfig};
use url::Url;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Child mode: start the cloud, print its URLs as one JSON line, serve until stdin closes.
async fn serve_cloud() -> Res<()> {
    let cloud = Cloud::start(SimConfig::default()).await?;
    let urls = serde_json::json!({
        "discovery": cloud.discovery_url,
        "identity": cloud.identity_url,
        "authority": cloud.identity().authority("organizations"),
        "client_id": cloud.identity().client_id(),
        "graph": cloud.graph_url,
    });
    println!("{urls}");
    std::io::stdout().flush()?;
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin()
            .read_line(&mut sink)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await?;
    cloud.shutdown().await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-cloud") {
        return serve_cloud().await;
    }
    let size_mib: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(256);
    let mode = args.get(1).cloned().unwrap_or_else(|| "ours".into());
    let size = size_mib * 1024 * 1024;

    let mut child = Command::new(std::env::current_exe()?)
        .arg("--serve-cloud")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no child stdout")?).read_line(&mut line)?;
    let urls: serde_json::Value = serde_json::from_str(&line)?;
    let url = |k: &str| Url::parse(urls[k].as_str().unwrap_or_default());

    let mut config = Config::production();
    config.allow_insecure_loopback = true;
    config.discovery_url = url("discovery")?;
    config.microsoft.authority = url("authority")?;
    config.microsoft.expected_issuer = format!("{}{{tenantid}}/v2.0", url("identity")?);
    config.microsoft.client.client_id = urls["client_id"].as_str().unwrap_or_default().into();
    config.graph_url = url("graph")?;
    let accounts = Accounts::open(config, Arc::new(MemoryStore::new()), OpenOptions::default())?;

    // The browser step, over HTTP: post the login form back to the authorize endpoint.
    let authorize = accounts.begin_microsoft_sign_in().await?;
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.extend([
        ("username".into(), "alice@contoso.example".into()),
        ("password".into(), "alice-password".into()),
        ("action".into(), "approve".into()),
    ]);
    let mut endpoint = authorize.clone();
    endpoint.set_query(None);
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = raw.post(endpoint).form(&form).send().await?;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("login did not redirect")?
        .to_owned();
    accounts.complete_sign_in(&location).await?;

    let drive = OneDrive::new(accounts.config(), accounts.microsoft().clone())?;
    let folder = drive.folder_id(KnownFolder::Print).await?;
    let dir = std::env::temp_dir().join(format!("roger-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let source = dir.join("source.bin");
    {
        // Written in 1 MiB blocks so the benchmark itself does not hold the file in memory.
        let mut f = std::io::BufWriter::new(std::fs::File::create(&source)?);
        let block: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        for _ in 0..size_mib {
            f.write_all(&block)?;
        }
    }
    let rss_before = peak_rss_mib();

    let t = Instant::now();
    let item_id = if mode == "plain" {
        plain_upload(&accounts, &source, size).await?
    } else {
        drive
            .upload_file(
                &source,
                &folder,
                "bench.bin",
                &|_, _| {},
                &CancelFlag::new(),
                &|_| {},
            )
            .await?
            .id
    };
    let up = t.elapsed().as_secs_f64();

    let dest = dir.join("download.bin");
    let mut to_memory = None;
    let t = Instant::now();
    let down = if mode == "plain" {
        // The network ceiling first: the same GET with the bytes only counted.
        let link = drive.download_url(&item_id).await?;
        let mut response = raw.get(link.clone()).send().await?.error_for_status()?;
        let mut n = 0u64;
        while let Some(chunk) = response.chunk().await? {
            n += chunk.len() as u64;
        }
        assert_eq!(n, size);
        to_memory = Some(t.elapsed().as_secs_f64());
        // Then the plain way to a file: each chunk written as it comes, synced at the end.
        let t = Instant::now();
        let mut response = raw.get(link).send().await?.error_for_status()?;
        let mut file = std::fs::File::create(&dest)?;
        while let Some(chunk) = response.chunk().await? {
            file.write_all(&chunk)?;
        }
        file.sync_all()?;
        assert_eq!(file.metadata()?.len(), size);
        t.elapsed().as_secs_f64()
    } else {
        let n = drive
            .download_to_file(&item_id, &dest, &|_, _| {}, &CancelFlag::new())
            .await?;
        assert_eq!(n, size);
        t.elapsed().as_secs_f64()
    };
    report(&mode, size_mib, up, down, to_memory, rss_before);
    std::fs::remove_dir_all(&dir)?;
    drop(child.stdin.take());
    child.wait()?;
    Ok(())
}

/// One line of the table: throughputs in MiB/s and this process's peak RSS.
fn report(mode: &str, size_mib: u64, up: f64, down: f64, to_memory: Option<f64>, rss_before: f64) {
    let mib = size_mib as f64;
    let memory = to_memory.map_or(String::new(), |s| {
        format!("  (download to memory {:>7.1} MiB/s)", mib / s)
    });
    println!(
        "{mode:<5} {size_mib:>4} MiB  upload {:>7.1} MiB/s  download to file {:>7.1} MiB/s  peak RSS {:>6.1} MiB (before transfers {:>5.1}){memory}",
        mib / up,
        mib / down,
        peak_rss_mib(),
        rss_before
    );
}

/// The baseline: a plain reqwest upload session, fragments of the same size PUT from one
/// in-memory copy of the file, no retry or progress layers.
async fn plain_upload(accounts: &Accounts, source: &std::path::Path, size: u64) -> Res<String> {
    let token = accounts.microsoft().access_token().await?;
    let graph = &accounts.config().graph_url;
    let http = reqwest::Client::new();
    let session: serde_json::Value = http
        .post(graph.join("me/drive/root:/Print/bench.bin:/createUploadSession")?)
        .bearer_auth(token.expose())
        .json(&serde_json::json!({"item": {"@microsoft.graph.conflictBehavior": "replace"}}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let upload_url = session["uploadUrl"]
        .as_str()
        .ok_or("no uploadUrl")?
        .to_owned();
    let bytes = std::fs::read(source)?;
    let mut offset = 0u64;
    let mut last = serde_json::Value::Null;
    while offset < size {
        let end = (offset + FRAGMENT_SIZE).min(size);
        let response = http
            .put(&upload_url)
            .header(
                "Content-Range",
                format!("bytes {offset}-{}/{size}", end - 1),
            )
            .body(bytes[offset as usize..end as usize].to_vec())
            .send()
            .await?
            .error_for_status()?;
        if end == size {
            last = response.json().await?;
        }
        offset = end;
    }
    Ok(last["id"].as_str().ok_or("no item id")?.to_owned())
}
