//! `roger demo`: starts the reference cloud on loopback and walks the whole story at the printer
//! with the real core, narrating each step with its time.
//!
//! Every step goes over real sockets. The demo keeps its secrets in an in-memory store so it
//! never touches the desktop keyring, and its files under `out/`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context};
use sha2::{Digest, Sha256};

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::auth::AuthState;
use roger_core::onedrive::{AfterPrint, CancelFlag, OneDrive};
use roger_core::pairing::{parse_pairing_payload, policy_from_regions, PairingPayload};
use roger_core::printer::{
    Duplex, EventSubscription, LocalFile, PrintOptions, PrintService, PrintServiceOptions,
    PrinterEvent, PrinterSession, ReleaseIntent, Right,
};
use roger_core::qr::{scan, LumaFrame, PipelineOptions, Stage};
use roger_core::store::MemoryStore;
use roger_e2e::core_config;
use roger_sim::mfp::QrModules;
use roger_sim::{Cloud, CloudHandle, MfpConfig, MfpHandle, SimConfig};

/// The demo user of the reference cloud (test data, not a real account).
const DEMO_USER: (&str, &str) = ("alice@contoso.example", "alice-password");
/// The printer the demo walks up to.
const DEMO_PRINTER: &str = "contoso-reception";
/// Where the demo writes the printer's QR code, its camera frame and the local document.
const OUT_DIR: &str = "out";
/// How long the demo waits for the printer or the cloud before it calls a step failed.
const WAIT: Duration = Duration::from_secs(30);

/// Starts the reference cloud, walks the story, and shuts the cloud down again. A failing step
/// ends the walk with its number, its title and the error.
pub async fn run(serve: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let sim = SimConfig {
        // The MFP answers at once instead of at a person's pace; the protocol is the same.
        mfps: vec![MfpConfig::for_printer(DEMO_PRINTER).fast()],
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

    let mut story = Story::new();
    let walked = walk(&cloud, &mut story).await;
    if walked.is_ok() && serve {
        serve_until_ctrl_c(&cloud).await?;
    }
    cloud.shutdown().await;
    match walked {
        Ok(()) => {
            story.summary();
            Ok(())
        }
        Err(error) => Err(error.context(format!(
            "the demo stopped at step {} ({})",
            story.steps.len(),
            story.steps.last().map_or("start", |s| s.title.as_str())
        ))),
    }
}

/// Keeps the cloud up for trying every command by hand: writes a settings file naming it and
/// keeps the printer's current QR code in `out/` as a PNG (a new one after every login there).
async fn serve_until_ctrl_c(cloud: &CloudHandle) -> anyhow::Result<()> {
    let settings_path = Path::new(OUT_DIR).join("reference-cloud.toml");
    crate::settings::Settings::for_reference_cloud(cloud)
        .write(&settings_path)
        .with_context(|| format!("writing {}", settings_path.display()))?;
    let qr_path = Path::new(OUT_DIR).join(format!("{DEMO_PRINTER}-qr.png"));
    let mfp = cloud
        .mfp(DEMO_PRINTER)
        .ok_or_else(|| anyhow!("no simulated MFP for {DEMO_PRINTER}"))?;
    let keep_png = async {
        let mut shown: Option<String> = None;
        while let Ok(qr) = mfp
            .wait_for_new_qr(shown.as_deref(), Duration::from_secs(3600))
            .await
        {
            if std::fs::write(&qr_path, &qr.png).is_err() {
                break;
            }
            shown = Some(qr.user_code);
        }
        std::future::pending::<()>().await
    };
    let config = settings_path.display();
    println!("\nThe reference cloud stays up until Ctrl-C. Try the client against it:");
    println!("  export ROGER_CONFIG={config}");
    println!(
        "  echo {} | roger login --password --username {} --region eu --store keyring",
        DEMO_USER.1, DEMO_USER.0
    );
    println!("  roger onedrive link            # prints the sign-in address to open");
    println!("  roger print some.pdf && roger jobs");
    println!(
        "  roger pair {} --yes && roger release --all --wait",
        qr_path.display()
    );
    println!(
        "  (or without the file: roger --discovery-url {} --allow-insecure-loopback regions)",
        cloud.discovery_url
    );
    tokio::select! {
        stopped = tokio::signal::ctrl_c() => stopped?,
        () = keep_png => {}
    }
    Ok(())
}

async fn walk(cloud: &CloudHandle, story: &mut Story) -> anyhow::Result<()> {
    std::fs::create_dir_all(OUT_DIR).with_context(|| format!("creating {OUT_DIR}/"))?;
    let out = Path::new(OUT_DIR);
    // The print service's after-print ledger belongs to this run's cloud only.
    let state_dir = out.join("state");
    let _ = std::fs::remove_dir_all(&state_dir);
    let accounts = Arc::new(Accounts::open(
        core_config(cloud),
        Arc::new(MemoryStore::new()),
        OpenOptions::default(),
    )?);

    story.step("Region discovery");
    let regions = accounts.regions().await?;
    for region in &regions {
        println!(
            "  {:<4} {:<16} api {}  issuer {}",
            region.id, region.display_name, region.api_url, region.issuer
        );
    }
    let policy = policy_from_regions(&regions, true);

    story.step("Sign in to Roger (authorization code + PKCE S256, region eu)");
    let authorize = accounts.begin_sign_in(Some("eu")).await?;
    println!(
        "  the system browser opens {}{}?…",
        authorize.origin().ascii_serialization(),
        authorize.path()
    );
    let redirect = cloud
        .region("eu")
        .ok_or_else(|| anyhow!("the cloud has no eu region"))?
        .browser_login(&authorize, DEMO_USER.0, DEMO_USER.1)
        .map_err(|e| anyhow!("scripted browser login: {e}"))?;
    let state = accounts.complete_sign_in(redirect.as_str()).await?;
    println!("  {}", describe(&state));

    story.step("Sign in to Microsoft for OneDrive (PKCE; Files.ReadWrite offline_access)");
    let authorize = accounts.begin_microsoft_sign_in().await?;
    let redirect = cloud
        .identity()
        .browser_login(&authorize, DEMO_USER.0, DEMO_USER.1)
        .map_err(|e| anyhow!("scripted Microsoft login: {e}"))?;
    println!(
        "  {}",
        describe(&accounts.complete_sign_in(redirect.as_str()).await?)
    );
    let drive = Arc::new(OneDrive::new(
        accounts.config(),
        accounts.microsoft().clone(),
    )?);
    let service = PrintService::new(
        accounts.clone(),
        drive.clone(),
        PrintServiceOptions {
            data_dir: Some(state_dir),
            ..PrintServiceOptions::default()
        },
    )?;
    let mut events = service.subscribe();
    service.start_events();

    story.step("Queue a document from OneDrive \"Print\" (before walking to the printer)");
    let report = document(420_000, 7);
    cloud
        .graph()
        .put_file(DEMO_USER.0, "Print/Quarterly report.pdf", report.clone())
        .map_err(|e| anyhow!("putting the document into OneDrive: {e}"))?;
    let listing = drive.list_print().await?;
    for entry in &listing {
        println!(
            "  Print/{:<28} {:>9} bytes  {:?}",
            entry.name, entry.size, entry.printability
        );
    }
    let item = listing
        .iter()
        .find(|i| i.name == "Quarterly report.pdf")
        .ok_or_else(|| anyhow!("the document is not listed in \"Print\""))?;
    let options = PrintOptions {
        copies: 2,
        duplex: Duplex::LongEdge,
        ..PrintOptions::default()
    };
    let queued = service
        .print_onedrive(&item.id, &options, AfterPrint::MoveToPrinted)
        .await?;
    println!(
        "  job {} queued: {} copies, duplex, {:?}; moves to \"Printed\" once printed",
        queued.id, queued.options.copies, queued.state
    );

    story.step("At the printer: it shows its login QR code");
    let mfp = cloud
        .mfp(DEMO_PRINTER)
        .ok_or_else(|| anyhow!("no simulated MFP for {DEMO_PRINTER}"))?;
    let qr = mfp
        .wait_for_new_qr(None, WAIT)
        .await
        .map_err(|e| anyhow!("the printer shows no code: {e:?}"))?;
    let qr_path = out.join("mfp-qr.png");
    std::fs::write(&qr_path, &qr.png).with_context(|| format!("writing {}", qr_path.display()))?;
    if std::io::stdout().is_terminal() {
        draw_qr(&qr.modules);
    }
    println!(
        "  {DEMO_PRINTER} shows code {} (QR saved to {})",
        qr.user_code,
        qr_path.display()
    );

    story.step("The phone's camera reads the screen; the core decodes and checks the code");
    let payload = read_camera(mfp, &policy, out)?;
    println!(
        "  trusted Roger code {} for region {}: checked before any request is sent",
        payload.user_code.display(),
        payload.region_id
    );

    story.step("Preview: what the person is about to approve");
    let preview = service.preview(&payload).await?;
    let printer = preview.printer();
    println!(
        "  printer  {} ({}), {}",
        printer.name,
        printer.model.as_deref().unwrap_or("model unknown"),
        printer.location.as_deref().unwrap_or("no location")
    );
    println!(
        "  tenant   {} ({})",
        preview.tenant().name,
        preview.tenant().id
    );
    println!(
        "  client   {} asks for {}",
        preview.client_name().unwrap_or(preview.client_id()),
        preview.scopes().join(" ")
    );
    let left = preview.remaining().as_secs();
    println!(
        "  code {} expires in {}:{:02}",
        preview.display_code(),
        left / 60,
        left % 60
    );

    story.step("Approve: the printer logs the person in");
    service.approve(preview).await?;
    mfp.wait_for_state(|s| s.is_session_open(), WAIT)
        .await
        .map_err(|e| anyhow!("the printer did not open a session: {e:?}"))?;
    let session = wait_session(&service, |s| s.can(Right::Scan)).await?;
    println!("  {}", describe_session(&session));
    show_events(&mut events).await;

    story.step("Release every waiting job (one intent, one client request id)");
    let intent = service
        .release_all_intent()
        .await?
        .ok_or_else(|| anyhow!("no job is waiting"))?;
    let released = service.release(&intent).await?;
    println!(
        "  {} job(s) released to {} with client request id {}",
        released.jobs.len(),
        released.printer_id,
        released.client_request_id
    );
    let printed = mfp
        .wait_printed(1, WAIT)
        .await
        .map_err(|e| anyhow!("the printer printed nothing: {e:?}"))?;
    let out_job = printed
        .iter()
        .find(|p| p.job_id == queued.id)
        .ok_or_else(|| anyhow!("the printer printed another job"))?;
    ensure!(out_job.sha256 == sha(&report), "the printed bytes differ");
    println!(
        "  printed {} × {} ({} bytes, SHA-256 matches the OneDrive file)",
        out_job.copies, out_job.file_name, out_job.size
    );
    wait_events(&mut events, |e| is_printed(e, &queued.id)).await?;

    story.step("Print a local file (resumable upload to \"Print\", then release)");
    let local_bytes = document(5 * 1024 * 1024 + 17, 3);
    let local_path = out.join("Travel expenses.pdf");
    std::fs::write(&local_path, &local_bytes)
        .with_context(|| format!("writing {}", local_path.display()))?;
    let bar = indicatif::ProgressBar::new(local_bytes.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "  upload {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .map_err(|e| anyhow!("progress style: {e}"))?,
    );
    let local_job = service
        .print_local(
            LocalFile {
                path: &local_path,
                name: None,
                progress: &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
                cancel: &CancelFlag::new(),
            },
            &PrintOptions::default(),
            AfterPrint::Delete,
        )
        .await?;
    bar.finish();
    println!(
        "  job {} queued for {}; deleted from \"Print\" once printed",
        local_job.id, local_job.file_name
    );
    service
        .release(&ReleaseIntent::new(&[local_job.id.as_str()])?)
        .await?;
    let printed = mfp
        .wait_printed(2, WAIT)
        .await
        .map_err(|e| anyhow!("the printer did not print the local file: {e:?}"))?;
    let out_job = printed
        .iter()
        .find(|p| p.job_id == local_job.id)
        .ok_or_else(|| anyhow!("the printer printed another job"))?;
    ensure!(
        out_job.sha256 == sha(&local_bytes),
        "the printed bytes differ"
    );
    println!(
        "  printed {} ({} bytes, SHA-256 matches the local file)",
        out_job.file_name, out_job.size
    );
    wait_events(&mut events, |e| is_printed(e, &local_job.id)).await?;
    let remaining: Vec<String> = drive
        .list_print()
        .await?
        .into_iter()
        .map(|i| i.name)
        .collect();
    ensure!(
        service.pending_after_print().is_empty(),
        "after-print actions are still pending"
    );
    println!("  \"Print\" now holds {remaining:?} (the after-print actions ran)");

    story.step("Scan to OneDrive \"Scan\"");
    let profiles = service.scan_profiles().await?;
    let profile = profiles
        .first()
        .ok_or_else(|| anyhow!("the printer offers no scan profile"))?;
    println!(
        "  profile {} ({}, {} dpi)",
        profile.name,
        profile.format,
        profile
            .resolution_dpi
            .map_or_else(|| "?".to_owned(), |d| d.to_string())
    );
    let spinner = indicatif::ProgressBar::new_spinner().with_message("waiting for the scan");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let scanned = service.scan(&profile.id).await;
    spinner.finish_and_clear();
    let scanned = scanned?;
    let landed = drive
        .list_scans()
        .await?
        .into_iter()
        .find(|i| i.id == scanned.item.id)
        .ok_or_else(|| anyhow!("the scan is not listed in \"Scan\""))?;
    println!(
        "  Scan/{} ({} bytes) from scan {}",
        landed.name, landed.size, scanned.scan_id
    );
    show_events(&mut events).await;

    story.step("End the printer session from the phone");
    service.end_session().await?;
    mfp.wait_for_state(|s| !s.is_session_open(), WAIT)
        .await
        .map_err(|e| anyhow!("the printer kept its session: {e:?}"))?;
    ensure!(
        service.session().await?.is_none(),
        "the session is still open"
    );
    println!("  logged out at {DEMO_PRINTER}; it shows a new code");

    story.step("Sign out: revoke and wipe");
    let revocation = accounts.sign_out().await?;
    wait_events(&mut events, |e| matches!(e, PrinterEvent::SignedOut)).await?;
    println!("  Roger: {}", describe(&accounts.roger().state()));
    println!("  Microsoft: {}", describe(&accounts.microsoft().state()));
    revocation.wait(Duration::from_secs(5)).await;
    story.end();
    Ok(())
}

/// The steps walked so far, with their times.
struct Story {
    started: Instant,
    steps: Vec<Step>,
}

struct Step {
    title: String,
    started: Instant,
    took: Option<Duration>,
}

impl Story {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            steps: Vec::new(),
        }
    }

    /// Ends the current step and announces the next.
    fn step(&mut self, title: &str) {
        self.end();
        self.steps.push(Step {
            title: title.to_owned(),
            started: Instant::now(),
            took: None,
        });
        println!("\n[{}] {title}", self.steps.len());
    }

    fn end(&mut self) {
        if let Some(last) = self.steps.last_mut() {
            if last.took.is_none() {
                let took = last.started.elapsed();
                last.took = Some(took);
                println!("  ({} ms)", took.as_millis());
            }
        }
    }

    fn summary(&self) {
        println!("\nThe whole story, step by step:");
        for (n, step) in self.steps.iter().enumerate() {
            let ms = step.took.map_or(0, |t| t.as_millis());
            println!("  {:>2}. {:<78} {ms:>6} ms", n + 1, step.title);
        }
        println!(
            "Demo finished in {:.1} s.",
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// Takes a 1280×720 camera view of the printer's screen, saves it, and decodes it with the
/// core's scanner, keeping the code that is a trusted Roger pairing code.
fn read_camera(
    mfp: &MfpHandle,
    policy: &roger_core::pairing::PairingPolicy,
    out: &Path,
) -> anyhow::Result<PairingPayload> {
    let frame = mfp.camera_frame(1280, 720);
    let frame_path: PathBuf = out.join("mfp-camera.png");
    image::GrayImage::from_raw(frame.width, frame.height, frame.pixels.clone())
        .ok_or_else(|| anyhow!("frame size does not match its pixels"))?
        .save(&frame_path)
        .with_context(|| format!("writing {}", frame_path.display()))?;
    println!("  camera frame 1280x720 saved to {}", frame_path.display());
    let luma = LumaFrame::packed(&frame.pixels, frame.width as usize, frame.height as usize)?;
    let started = Instant::now();
    let outcome = scan(&luma, &PipelineOptions::default());
    let took = started.elapsed();
    let by = match outcome.stage {
        Some(Stage::Roi) => "the region carried from the previous frame",
        Some(Stage::Downscaled) => "the downscaled first pass",
        Some(Stage::Locator) => "the full-resolution pass",
        Some(Stage::Dense) => "the dense full-resolution pass",
        Some(Stage::PlainFallback) | None => "rqrr's own detector",
    };
    let mut last_error = None;
    for code in &outcome.codes {
        match parse_pairing_payload(&code.text, policy) {
            Ok(payload) => {
                println!("  decoded in {:.1} ms by {by}", took.as_secs_f64() * 1000.0);
                return Ok(payload);
            }
            Err(error) => last_error = Some(error),
        }
    }
    match last_error {
        Some(error) => Err(error.into()),
        None => Err(anyhow!(
            "no QR code read from the camera frame ({:?})",
            outcome.hint
        )),
    }
}

/// Waits until the printer session satisfies `pred`, following the core's session updates.
async fn wait_session(
    service: &PrintService,
    pred: impl Fn(&PrinterSession) -> bool,
) -> anyhow::Result<PrinterSession> {
    let mut updates = service.session_updates();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(session) = service.session().await? {
            if pred(&session) {
                return Ok(session);
            }
        }
        tokio::select! {
            changed = updates.changed() => changed.context("the print service stopped")?,
            () = tokio::time::sleep_until(deadline) => {
                return Err(anyhow!("the printer session never got its rights"));
            }
        }
    }
}

/// Prints events as they arrive until one satisfies `pred`.
async fn wait_events(
    events: &mut EventSubscription,
    pred: impl Fn(&PrinterEvent) -> bool,
) -> anyhow::Result<()> {
    tokio::time::timeout(WAIT, async {
        while let Some(event) = events.next().await {
            print_event(&event);
            if pred(&event) {
                return Ok(());
            }
        }
        Err(anyhow!("the event stream closed"))
    })
    .await
    .map_err(|_| anyhow!("the expected event never arrived"))?
}

/// Prints the events that have already arrived.
async fn show_events(events: &mut EventSubscription) {
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(50), events.next()).await
    {
        print_event(&event);
    }
}

fn print_event(event: &PrinterEvent) {
    let line = match event {
        PrinterEvent::Job { job_id, state, .. } => format!("job {job_id} {state:?}"),
        PrinterEvent::Scan { scan_id, state, .. } => format!("scan {scan_id} {state:?}"),
        PrinterEvent::Session {
            printer_id, change, ..
        } => format!("session at {printer_id} {change:?}"),
        PrinterEvent::Resynced { jobs, .. } => format!("resynced ({} jobs)", jobs.len()),
        PrinterEvent::Connected => "stream connected".to_owned(),
        PrinterEvent::Disconnected { retry_in } => {
            format!("stream dropped, retry in {} ms", retry_in.as_millis())
        }
        PrinterEvent::SignedOut => "signed out: stream stopped".to_owned(),
    };
    println!("  event: {line}");
}

fn is_printed(event: &PrinterEvent, id: &str) -> bool {
    matches!(event, PrinterEvent::Job { job_id, state, .. }
        if job_id == id && *state == roger_core::printer::JobState::Printed)
}

/// Draws the QR code with half blocks, two module rows per line, dark on light.
fn draw_qr(modules: &QrModules) {
    let quiet = 2i64;
    let width = modules.width() as i64;
    let mut y = -quiet;
    while y < width + quiet {
        let mut line = String::from("  \x1b[30;107m");
        for x in -quiet..width + quiet {
            line.push(match (modules.is_dark(x, y), modules.is_dark(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        line.push_str("\x1b[0m");
        println!("{line}");
        y += 2;
    }
}

/// A PDF-looking document of `len` bytes after the header.
fn document(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn describe_session(session: &PrinterSession) -> String {
    let at = session
        .printer
        .as_ref()
        .map_or("a printer", |p| p.name.as_str());
    let rights: Vec<String> = session.rights.iter().map(|r| format!("{r:?}")).collect();
    format!(
        "logged in at {at} (session {}), rights: {}",
        session.id,
        rights.join(", ")
    )
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
