//! The MFP simulator: a multifunction printer's embedded client, driven over real sockets.
//!
//! A simulated MFP is a client of the region API, like a real printer: it authenticates with
//! its own confidential client (`mfp-<printer id>`), runs the device authorization grant and
//! shows `verification_uri_complete` as a QR code (a PNG, and a camera-like grayscale frame of
//! its screen), polls the token endpoint honouring `interval` and `slow_down`, takes a new code
//! when one expires or is denied, and once approved does step 2 of the printer login and opens
//! the session. In the session it polls its jobs and scans: released jobs are downloaded from
//! their pre-authenticated `downloadUrl` (size checked) and marked printed; scan requests get a
//! generated multi-page PDF uploaded in 320 KiB-multiple fragments to their `uploadUrl` (a
//! Microsoft Graph upload session) and are marked uploaded. It refreshes its tokens as they
//! expire and goes back to showing a code when the session ends.
//!
//! Everything it does is observable through [`MfpHandle`]: its state, the current QR, what it
//! printed and uploaded, counters, and waiters so tests never sleep blindly. Timing is scaled:
//! see [`MfpTiming`] and `docs/protocol.md` ("MFP simulator").

mod client;
mod device;
mod jobs;
pub mod qr;
pub mod scan;
mod session;
mod status;
mod time;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use url::Url;

use crate::clock::{SimClock, SimTime};
use crate::error::SimError;

pub use qr::{camera_frame, CameraSettings, GrayFrame, QrModules};
pub use scan::ScanSettings;

/// Graph's upload fragment unit: fragments are multiples of 320 KiB, except the last.
pub const UPLOAD_FRAGMENT_UNIT: usize = 320 * 1024;

/// How the MFP spends time.
#[derive(Clone, Debug, PartialEq)]
pub struct MfpTiming {
    /// Real seconds per protocol second while the MFP waits (device `interval` and `slow_down`,
    /// code lifetime, backoff), in `0.0..=1.0`. `1.0` is a real printer; `0.01` makes a 5 s
    /// interval pass in 50 ms, and the MFP then moves the shared [`SimClock`] on by the rest of
    /// each wait so the server sees its interval honoured (the whole cloud's time runs faster
    /// while such an MFP waits). A test's [`SimClock::advance`] also ends a wait early.
    pub time_scale: f64,
    /// Real-time granularity at which a wait looks at the clock.
    pub tick: Duration,
    /// Real time between two looks at the session's jobs and scans (printers have no event
    /// stream in the protocol, so they poll).
    pub session_poll: Duration,
}

impl MfpTiming {
    /// A real printer: protocol seconds are real seconds; the session is polled every second.
    pub fn real_time() -> Self {
        Self {
            time_scale: 1.0,
            tick: Duration::from_millis(25),
            session_poll: Duration::from_secs(1),
        }
    }

    /// For tests: protocol time runs 100 times faster than real time (a 5 s interval is 50 ms)
    /// and the session is polled every 20 ms.
    pub fn fast() -> Self {
        Self {
            time_scale: 0.01,
            tick: Duration::from_millis(5),
            session_poll: Duration::from_millis(20),
        }
    }
}

impl Default for MfpTiming {
    fn default() -> Self {
        Self::real_time()
    }
}

/// One simulated MFP: which printer it is, its client credentials and its behaviour knobs.
#[derive(Clone)]
pub struct MfpConfig {
    /// The seeded printer it plays (used to find its region when the cloud starts it).
    pub printer_id: String,
    /// Its OAuth client id (`mfp-<printer id>` for seeded printers).
    pub client_id: String,
    /// Its OAuth client secret (`<printer id>-secret` for seeded printers). Never logged.
    pub client_secret: String,
    /// Time scaling, see [`MfpTiming`].
    pub timing: MfpTiming,
    /// The clock protocol time is read from. [`crate::Cloud::start`] sets the cloud's own;
    /// a standalone MFP against a reference cloud should get `cloud.clock().clone()`, else it
    /// has a clock of its own (fine at `time_scale = 1.0` only).
    pub clock: Option<SimClock>,
    /// Polls sent at once after an `authorization_pending`, ignoring `interval` (a misbehaving
    /// client): each provokes a `slow_down`. Spent once per MFP lifetime.
    pub early_polls: u32,
    /// What its scanner produces.
    pub scan: ScanSettings,
    /// How a phone camera sees its screen.
    pub camera: CameraSettings,
    /// Upload fragment size for scans; rounded down to a multiple of 320 KiB (at least one unit).
    pub upload_fragment_bytes: usize,
    /// Largest document it accepts to print; bigger jobs fail.
    pub max_document_bytes: u64,
    /// Transient failures tolerated in a row (polling, a transfer) before giving up on it.
    pub max_retries: u32,
}

impl MfpConfig {
    /// The MFP of a seeded printer: client `mfp-<id>`, secret `<id>-secret`, real-time timing.
    pub fn for_printer(printer_id: &str) -> Self {
        Self {
            printer_id: printer_id.to_string(),
            client_id: format!("mfp-{printer_id}"),
            client_secret: format!("{printer_id}-secret"),
            timing: MfpTiming::default(),
            clock: None,
            early_polls: 0,
            scan: ScanSettings::default(),
            camera: CameraSettings::default(),
            upload_fragment_bytes: UPLOAD_FRAGMENT_UNIT,
            max_document_bytes: 512 * 1024 * 1024,
            max_retries: 5,
        }
    }

    /// The same MFP with [`MfpTiming::fast`].
    pub fn fast(mut self) -> Self {
        self.timing = MfpTiming::fast();
        self
    }

    /// The MFPs of the seeded world's demo printers (`contoso-reception`, `fabrikam-lobby`).
    pub fn seeded() -> Vec<Self> {
        ["contoso-reception", "fabrikam-lobby"]
            .map(Self::for_printer)
            .to_vec()
    }

    fn fragment(&self) -> usize {
        (self.upload_fragment_bytes / UPLOAD_FRAGMENT_UNIT).clamp(1, 192) * UPLOAD_FRAGMENT_UNIT
    }
}

impl fmt::Debug for MfpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfpConfig")
            .field("printer_id", &self.printer_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("timing", &self.timing)
            .field("early_polls", &self.early_polls)
            .field("scan", &self.scan)
            .field("upload_fragment_bytes", &self.upload_fragment_bytes)
            .finish_non_exhaustive()
    }
}

/// What the MFP's screen shows to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct QrDisplay {
    /// The QR payload, `{api}/pair?v=1&code=XXXX-XXXX`.
    pub verification_uri_complete: String,
    /// The code, also printed under the QR for typing.
    pub user_code: String,
    /// When the code expires (protocol time); the MFP then shows a new one.
    pub expires_at: SimTime,
    /// The QR code alone as a PNG (8 px per module, quiet zone of 4 modules).
    pub png: Vec<u8>,
    /// The module matrix (for rendering camera frames).
    pub modules: Arc<QrModules>,
}

impl fmt::Debug for QrDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QrDisplay")
            .field("user_code", &self.user_code)
            .field("expires_at", &self.expires_at)
            .field("png_bytes", &self.png.len())
            .finish_non_exhaustive()
    }
}

/// Where the MFP is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MfpState {
    /// Not yet asked for a code.
    Starting,
    /// A code is shown; the first poll has not been answered yet.
    ShowingCode {
        /// The code on screen.
        user_code: String,
    },
    /// A code is shown and the MFP is polling the token endpoint.
    Polling {
        /// The code on screen.
        user_code: String,
        /// The current polling interval in protocol seconds (grows with `slow_down`).
        interval_secs: u64,
    },
    /// A user is logged in at the printer.
    SessionOpen {
        /// The Roger session id (`roger_session_id`).
        session_id: String,
        /// `jobs.release`, plus `jobs.submit` and `scan` once step 2 succeeded.
        rights: Vec<String>,
    },
    /// Something went wrong; the MFP retries after a pause (protocol time).
    Failed {
        /// What went wrong (no secrets).
        reason: String,
    },
    /// The MFP was stopped.
    Stopped,
}

impl MfpState {
    /// Whether a session is open.
    pub fn is_session_open(&self) -> bool {
        matches!(self, MfpState::SessionOpen { .. })
    }

    /// The code on screen, if any.
    pub fn user_code(&self) -> Option<&str> {
        match self {
            MfpState::ShowingCode { user_code } | MfpState::Polling { user_code, .. } => {
                Some(user_code)
            }
            _ => None,
        }
    }
}

/// A job the MFP printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintedJob {
    /// Job id.
    pub job_id: String,
    /// The job's file name.
    pub file_name: String,
    /// Bytes downloaded (equal to the job's `size`).
    pub size: u64,
    /// SHA-256 of the downloaded bytes, lowercase hex.
    pub sha256: String,
    /// Copies asked for.
    pub copies: u32,
}

/// A scan the MFP uploaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanUpload {
    /// Scan id.
    pub scan_id: String,
    /// The file's name: the drive item's name from the final answer, else the requested name,
    /// else `scan-<id>.pdf`.
    pub file_name: String,
    /// Bytes uploaded.
    pub size: u64,
    /// SHA-256 of the PDF, lowercase hex.
    pub sha256: String,
    /// Fragments accepted by the upload session.
    pub chunks: u32,
    /// Times the upload was resumed after a failed fragment (GET on the upload URL).
    pub resumes: u32,
    /// Pages of the PDF.
    pub pages: u32,
}

/// A job or scan the MFP reported as failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferFailure {
    /// `job` or `scan`.
    pub kind: &'static str,
    /// The job or scan id.
    pub id: String,
    /// The reason reported to the server.
    pub reason: String,
}

/// Counters of one MFP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MfpStats {
    /// Device authorization requests that gave a code (codes shown).
    pub codes_shown: u64,
    /// Token polls with the device code.
    pub polls: u64,
    /// `slow_down` answers.
    pub slow_downs: u64,
    /// `authorization_pending` answers.
    pub pending: u64,
    /// Codes that expired (by `expired_token` or the MFP's own reckoning).
    pub expired_codes: u64,
    /// Codes the user denied.
    pub denied_codes: u64,
    /// Sessions opened.
    pub sessions_opened: u64,
    /// Sessions that ended (ended by the phone, by the MFP, or by another login).
    pub sessions_ended: u64,
    /// Successful token refreshes.
    pub refreshes: u64,
}

/// Everything observable about an MFP at one moment.
#[derive(Clone, Debug)]
pub struct MfpStatus {
    /// Its state.
    pub state: MfpState,
    /// The code on screen, if any.
    pub qr: Option<QrDisplay>,
    /// Jobs printed, oldest first.
    pub printed: Vec<PrintedJob>,
    /// Scans uploaded, oldest first.
    pub uploaded: Vec<ScanUpload>,
    /// Jobs and scans reported failed, oldest first.
    pub failures: Vec<TransferFailure>,
    /// Counters.
    pub stats: MfpStats,
}

impl Default for MfpStatus {
    fn default() -> Self {
        Self {
            state: MfpState::Starting,
            qr: None,
            printed: Vec::new(),
            uploaded: Vec::new(),
            failures: Vec::new(),
            stats: MfpStats::default(),
        }
    }
}

/// Why an [`MfpHandle`] call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum MfpError {
    /// A waiter's condition did not hold in time.
    #[error("timed out after {waited:?}; the MFP is {state:?}")]
    Timeout {
        /// How long it waited.
        waited: Duration,
        /// The MFP's state then.
        state: MfpState,
    },
    /// No session is open at the printer.
    #[error("no session is open at the printer")]
    NoSession,
    /// The server refused to end the session, or could not be reached.
    #[error("ending the session failed: {0}")]
    EndFailed(String),
    /// The MFP has stopped.
    #[error("the MFP has stopped")]
    Stopped,
}

/// Requests from the handle to the MFP's task.
pub(crate) enum Command {
    /// Log out: end the session (`DELETE /api/v1/session`).
    EndSession(oneshot::Sender<Result<(), MfpError>>),
}

/// What the MFP's task shares with its handle.
pub(crate) struct Ctx {
    pub config: MfpConfig,
    pub api: client::Api,
    pub transfer: reqwest::Client,
    pub time: time::Timebase,
    pub status: watch::Sender<MfpStatus>,
}

impl Ctx {
    /// Changes the observable status (and wakes waiters).
    pub(crate) fn update(&self, f: impl FnOnce(&mut MfpStatus)) {
        self.status.send_modify(f);
    }

    pub(crate) fn set_state(&self, state: MfpState) {
        self.update(|s| s.state = state);
    }

    /// Waits `d` of protocol time; an `end()` meanwhile is answered "no session". `false` if
    /// the handle is gone (the task should stop).
    pub(crate) async fn pause(&self, d: Duration, commands: &mut mpsc::Receiver<Command>) -> bool {
        let wait = self.time.wait(d);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => return true,
                command = commands.recv() => match command {
                    Some(Command::EndSession(reply)) => {
                        let _ = reply.send(Err(MfpError::NoSession));
                    }
                    None => return false,
                },
            }
        }
    }
}

/// A running simulated MFP. Dropping the handle stops it.
pub struct MfpHandle {
    printer_id: String,
    camera: CameraSettings,
    status: watch::Receiver<MfpStatus>,
    commands: mpsc::Sender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl MfpHandle {
    /// Starts an MFP against the region API at `region_api_url` (e.g. a region's `api_url`),
    /// as a task on the current Tokio runtime (call it from within one). Fails only on a
    /// configuration it cannot use (bad URL, time scale out of range).
    pub fn start(region_api_url: Url, config: MfpConfig) -> Result<MfpHandle, SimError> {
        let scale = config.timing.time_scale;
        if !(0.0..=1.0).contains(&scale) {
            return Err(SimError::Config(format!(
                "MFP `{}`: time_scale must be within 0..=1",
                config.printer_id
            )));
        }
        let mut base = region_api_url;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(SimError::Config(
                "MFP: region API URL must be http(s)".into(),
            ));
        }
        let api = client::Api::new(base, config.client_id.clone(), config.client_secret.clone())
            .map_err(SimError::Config)?;
        let transfer = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| SimError::Config(format!("HTTP client: {e}")))?;
        let clock = config.clock.clone().unwrap_or_default();
        let (status_tx, status_rx) = watch::channel(MfpStatus::default());
        let (commands_tx, commands_rx) = mpsc::channel(4);
        let ctx = Ctx {
            time: time::Timebase::new(clock, scale, config.timing.tick),
            api,
            transfer,
            status: status_tx,
            config,
        };
        let printer_id = ctx.config.printer_id.clone();
        let camera = ctx.config.camera.clone();
        let task = tokio::spawn(run(ctx, commands_rx));
        Ok(MfpHandle {
            printer_id,
            camera,
            status: status_rx,
            commands: commands_tx,
            task: Mutex::new(Some(task)),
        })
    }

    /// The printer this MFP plays.
    pub fn printer_id(&self) -> &str {
        &self.printer_id
    }

    /// Everything observable, now.
    pub fn status(&self) -> MfpStatus {
        self.status.borrow().clone()
    }

    /// Its state.
    pub fn state(&self) -> MfpState {
        self.status.borrow().state.clone()
    }

    /// The code on screen, if one is shown.
    pub fn current_qr(&self) -> Option<QrDisplay> {
        self.status.borrow().qr.clone()
    }

    /// The screen as a phone camera sees it, `width × height` (each clamped to 16..=4096):
    /// the current code if one is shown, else the screen without a code. Deterministic for the
    /// same code, size and [`MfpConfig::camera`] seed.
    pub fn camera_frame(&self, width: u32, height: u32) -> GrayFrame {
        let modules = self.status.borrow().qr.as_ref().map(|q| q.modules.clone());
        camera_frame(modules.as_deref(), width, height, &self.camera)
    }

    /// Jobs printed, oldest first.
    pub fn printed(&self) -> Vec<PrintedJob> {
        self.status.borrow().printed.clone()
    }

    /// Scans uploaded, oldest first.
    pub fn uploaded(&self) -> Vec<ScanUpload> {
        self.status.borrow().uploaded.clone()
    }

    /// Jobs and scans it reported as failed.
    pub fn failures(&self) -> Vec<TransferFailure> {
        self.status.borrow().failures.clone()
    }

    /// Its counters.
    pub fn stats(&self) -> MfpStats {
        self.status.borrow().stats.clone()
    }

    /// Waits until `pred` holds for the status; returns that status.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&MfpStatus) -> bool,
        timeout: Duration,
    ) -> Result<MfpStatus, MfpError> {
        let mut rx = self.status.clone();
        let result = tokio::time::timeout(timeout, async {
            rx.wait_for(|s| pred(s)).await.map(|s| s.clone())
        })
        .await;
        match result {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(_)) => Err(MfpError::Stopped),
            Err(_) => Err(MfpError::Timeout {
                waited: timeout,
                state: self.state(),
            }),
        }
    }

    /// Waits until `pred` holds for the state; returns that state.
    pub async fn wait_for_state(
        &self,
        pred: impl Fn(&MfpState) -> bool,
        timeout: Duration,
    ) -> Result<MfpState, MfpError> {
        self.wait_for(|s| pred(&s.state), timeout)
            .await
            .map(|s| s.state)
    }

    /// Waits until a code is shown that is not `previous`; returns it.
    pub async fn wait_for_new_qr(
        &self,
        previous: Option<&str>,
        timeout: Duration,
    ) -> Result<QrDisplay, MfpError> {
        let status = self
            .wait_for(
                |s| {
                    s.qr.as_ref()
                        .is_some_and(|q| Some(q.user_code.as_str()) != previous)
                },
                timeout,
            )
            .await?;
        status.qr.ok_or(MfpError::Stopped)
    }

    /// Waits until at least `n` jobs were printed; returns them all.
    pub async fn wait_printed(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<PrintedJob>, MfpError> {
        self.wait_for(|s| s.printed.len() >= n, timeout)
            .await
            .map(|s| s.printed)
    }

    /// Waits until at least `n` scans were uploaded; returns them all.
    pub async fn wait_uploaded(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ScanUpload>, MfpError> {
        self.wait_for(|s| s.uploaded.len() >= n, timeout)
            .await
            .map(|s| s.uploaded)
    }

    /// Logs the user out at the printer: the MFP ends its session (`DELETE /api/v1/session`)
    /// and shows a new code.
    pub async fn end(&self) -> Result<(), MfpError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::EndSession(reply))
            .await
            .map_err(|_| MfpError::Stopped)?;
        answer.await.map_err(|_| MfpError::Stopped)?
    }

    /// Stops the MFP (its session, if any, stays open on the server, as when a printer is
    /// switched off).
    pub fn stop(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }
}

impl Drop for MfpHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for MfpHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfpHandle")
            .field("printer_id", &self.printer_id)
            .field("state", &self.state())
            .finish()
    }
}

/// Backoff after a failure, in protocol time.
const FAILURE_PAUSE: Duration = Duration::from_secs(30);

/// The MFP's life: log in, serve the session, again.
async fn run(ctx: Ctx, mut commands: mpsc::Receiver<Command>) {
    // `early_polls` is spent once per MFP lifetime, not per code.
    let mut early_polls = ctx.config.early_polls;
    loop {
        match device::login(&ctx, &mut commands, &mut early_polls).await {
            Ok(Some(session)) => {
                if !session::serve(&ctx, session, &mut commands).await {
                    break;
                }
            }
            Ok(None) => break,
            Err(reason) => {
                tracing::warn!(printer = %ctx.config.printer_id, %reason, "MFP login failed");
                ctx.update(|s| {
                    s.qr = None;
                    s.state = MfpState::Failed { reason };
                });
                if !ctx.pause(FAILURE_PAUSE, &mut commands).await {
                    break;
                }
            }
        }
    }
    ctx.update(|s| {
        s.qr = None;
        s.state = MfpState::Stopped;
    });
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
