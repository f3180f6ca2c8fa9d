//! `roger demo`: starts the reference cloud on loopback and walks the flow with the real core.
//!
//! Every step goes over real sockets. The demo keeps its secrets in an in-memory store so it
//! never touches the desktop keyring.

use std::sync::Arc;

use anyhow::{anyhow, Context};
use std::path::Path;
use std::time::Duration;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::auth::AuthState;
use roger_core::onedrive::{CancelFlag, KnownFolder, OneDrive};
use roger_core::pairing::{parse_pairing_payload, policy_from_regions};
use roger_core::qr::{scan, LumaFrame, PipelineOptions, Stage};
use roger_core::store::MemoryStore;
use roger_e2e::core_config;
use roger_sim::{Cloud, MfpConfig, SimConfig};

/// The demo user of the reference cloud (test data, not a real account).
const DEMO_USER: (&str, &str) = ("alice@contoso.example", "alice-password");

/// The printer whose screen the demo scans.
const DEMO_PRINTER: &str = "contoso-reception";
/// Where the demo writes the printer's QR code and camera frame.
const OUT_DIR: &str = "out";

fn save_gray_png(path: &Path, width: u32, height: u32, pixels: Vec<u8>) -> anyhow::Result<()> {
    let image = image::GrayImage::from_raw(width, height, pixels)
        .ok_or_else(|| anyhow!("frame size does not match its pixels"))?;
    image
        .save(path)
        .with_context(|| format!("writing {}", path.display()))
}

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

pub async fn run(serve: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let sim = SimConfig {
        mfps: vec![MfpConfig::for_printer(DEMO_PRINTER)],
        ..SimConfig::default()
    };
    let cloud = Cloud::start(sim)
        .await
        .context("starting the reference cloud")?;
    println!(
        "Reference cloud up on loopback in {} ms:",
        started.elapsed().as_millis()
    );
    for (name, url) in cloud.urls() {
        println!("  {name:<24} {url}");
    }

    let accounts = Accounts::open(
        core_config(&cloud),
        Arc::new(MemoryStore::new()),
        OpenOptions::default(),
    )?;

    step(1, "Region discovery");
    for region in accounts.regions().await? {
        println!(
            "  {:<4} {:<16} api {}  issuer {}",
            region.id, region.display_name, region.api_url, region.issuer
        );
    }

    step(
        2,
        "Sign in to Roger (authorization code + PKCE S256, region eu)",
    );
    let authorize = accounts.begin_sign_in(Some("eu")).await?;
    println!(
        "  open in the system browser: {}{}?…",
        authorize.origin().ascii_serialization(),
        authorize.path()
    );
    let eu = cloud
        .region("eu")
        .ok_or_else(|| anyhow!("the cloud has no eu region"))?;
    let redirect = eu
        .browser_login(&authorize, DEMO_USER.0, DEMO_USER.1)
        .map_err(|e| anyhow!("scripted browser login: {e}"))?;
    println!(
        "  the browser returns to {}:{}?code=…&state=…&iss=…",
        redirect.scheme(),
        redirect.path()
    );
    let state = accounts.complete_sign_in(redirect.as_str()).await?;
    println!("  {}", describe(&state));

    step(3, "An authorised call (printers of the tenant)");
    let region = accounts.signed_in_region().await?;
    let url = region.api_url.join("api/v1/printers")?;
    let http = accounts.http().clone();
    let response = accounts
        .roger()
        .send("listing printers", |token| {
            http.get(url.clone()).bearer_auth(token)
        })
        .await?;
    let body: serde_json::Value = response.error_for_status()?.json().await?;
    for printer in body["printers"].as_array().into_iter().flatten() {
        println!(
            "  {:<20} {:<28} {}",
            printer["id"].as_str().unwrap_or("?"),
            printer["name"].as_str().unwrap_or("?"),
            printer["location"].as_str().unwrap_or("")
        );
    }

    step(4, "The printer shows its login QR code");
    let mfp = cloud
        .mfp(DEMO_PRINTER)
        .ok_or_else(|| anyhow!("no simulated MFP for {DEMO_PRINTER}"))?;
    let qr = mfp
        .wait_for_new_qr(None, Duration::from_secs(10))
        .await
        .map_err(|e| anyhow!("the MFP shows no code: {e:?}"))?;
    std::fs::create_dir_all(OUT_DIR)?;
    let qr_path = Path::new(OUT_DIR).join("mfp-qr.png");
    std::fs::write(&qr_path, &qr.png)?;
    let frame = mfp.camera_frame(1280, 720);
    let frame_path = Path::new(OUT_DIR).join("mfp-camera.png");
    save_gray_png(&frame_path, frame.width, frame.height, frame.pixels.clone())?;
    println!(
        "  {DEMO_PRINTER} shows code {} (QR saved to {})",
        qr.user_code,
        qr_path.display()
    );
    println!(
        "  a 1280x720 camera view of its screen: {}",
        frame_path.display()
    );

    step(
        5,
        "The phone decodes the camera frame and checks the payload",
    );
    let luma = LumaFrame::packed(&frame.pixels, frame.width as usize, frame.height as usize)?;
    let started = std::time::Instant::now();
    let outcome = scan(&luma, &PipelineOptions::default());
    let decoded = outcome
        .codes
        .first()
        .ok_or_else(|| anyhow!("no QR code read from the camera frame ({:?})", outcome.hint))?;
    let by = match outcome.stage {
        Some(Stage::Roi) => "the region carried from the previous frame",
        Some(Stage::Downscaled) => "the downscaled first pass",
        Some(Stage::Locator) => "the full-resolution pass",
        Some(Stage::Dense) => "the dense full-resolution pass",
        Some(Stage::PlainFallback) | None => "rqrr's own detector",
    };
    println!(
        "  read in {:.1} ms by {by}",
        started.elapsed().as_secs_f64() * 1000.0,
    );
    let policy = policy_from_regions(&accounts.regions().await?, true);
    let payload = parse_pairing_payload(&decoded.text, &policy)?;
    println!(
        "  trusted Roger code {} for region {}: checked before any request is sent",
        payload.user_code.display(),
        payload.region_id
    );

    step(
        6,
        "Sign in to Microsoft for OneDrive (PKCE; Files.ReadWrite offline_access User.Read)",
    );
    let authorize = accounts.begin_microsoft_sign_in().await?;
    let redirect = cloud
        .identity()
        .browser_login(&authorize, DEMO_USER.0, DEMO_USER.1)
        .map_err(|e| anyhow!("scripted Microsoft login: {e}"))?;
    println!(
        "  {}",
        describe(&accounts.complete_sign_in(redirect.as_str()).await?)
    );

    step(
        7,
        "OneDrive: ensure Print, upload a local file (upload session), list Print",
    );
    let drive = OneDrive::new(accounts.config(), accounts.microsoft().clone())?;
    let print = drive.folder_id(KnownFolder::Print).await?;
    let local = Path::new(OUT_DIR).join("demo-document.pdf");
    let body: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&local, &body)?;
    let item = drive
        .upload_file(
            &local,
            &print,
            "Quarterly report #3.pdf",
            &|done, total| {
                if done == total {
                    println!("  uploaded {total} bytes");
                }
            },
            &CancelFlag::new(),
            &|_| {},
        )
        .await?;
    for entry in drive.list_print().await? {
        println!(
            "  {:<28} {:>9} bytes  {:?}",
            entry.name, entry.size, entry.printability
        );
    }
    let copy = Path::new(OUT_DIR).join("downloaded-report.pdf");
    let bar = indicatif::ProgressBar::new(item.size).with_style(
        indicatif::ProgressStyle::with_template(
            "  download {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .map_err(|e| anyhow!("progress style: {e}"))?,
    );
    let bytes = drive
        .download_to_file(
            &item.id,
            &copy,
            &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            },
            &CancelFlag::new(),
        )
        .await?;
    bar.finish();
    anyhow::ensure!(std::fs::read(&copy)? == body, "the downloaded copy differs");
    println!(
        "  downloaded {bytes} bytes back to {}: identical",
        copy.display()
    );
    let download = drive.download_url(&item.id).await?;
    println!(
        "  a print job would carry a pre-authenticated URL on {} (no bearer token goes there)",
        download.origin().ascii_serialization()
    );

    step(
        8,
        "Access token expires (reference cloud clock +21 min): silent refresh",
    );
    cloud.clock().advance(Duration::from_secs(21 * 60));
    let response = accounts
        .roger()
        .send("listing printers", |token| {
            http.get(url.clone()).bearer_auth(token)
        })
        .await?;
    println!(
        "  HTTP {} after {} refresh request(s) at the server",
        response.status().as_u16(),
        eu.stats().refresh_requests()
    );

    step(9, "Sign out: revoke and wipe");
    accounts.sign_out().await?;
    println!("  Roger: {}", describe(&accounts.roger().state()));
    println!("  Microsoft: {}", describe(&accounts.microsoft().state()));

    if serve {
        println!("\nServing until Ctrl-C…");
        tokio::signal::ctrl_c().await?;
    }
    cloud.shutdown().await;
    println!("\nDemo finished.");
    Ok(())
}

/// One line for the UI: who is signed in, or why nobody is.
fn describe(state: &AuthState) -> String {
    match state {
        AuthState::SignedIn {
            account_id,
            username,
            region,
        } => {
            let mut line = format!(
                "signed in as {} (account {}",
                username.as_deref().unwrap_or("?"),
                account_id.as_deref().unwrap_or("?")
            );
            if let Some(region) = region {
                line.push_str(&format!(", region {region}"));
            }
            line + ")"
        }
        AuthState::SignedOut { reason } => format!("signed out ({reason:?})"),
    }
}
