//! The printer session: approve a printer's login from the phone, follow the session, release
//! jobs, print from OneDrive or a local file, scan to OneDrive, and the event stream that ties
//! them together.
//!
//! [`PrintService`] is the one entry point. It calls the Roger API of the signed-in region
//! with the Roger account's token, and OneDrive with the Microsoft account's.

mod api;
mod error;
mod events;
mod jobs;
mod ledger;
mod model;
mod pairing;
mod print;
mod scan;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::Method;
use tokio::sync::{broadcast, watch};

pub use error::{OptionError, PairingError, PrinterError};
pub use events::{EventSubscription, PrinterEvent, SessionChange};
pub use jobs::{check_against, check_options, ReleaseIntent, Released, ReleasedJob, MAX_COPIES};
pub use model::{
    Capabilities, Duplex, Job, JobSource, JobState, PrintOptions, Printer, PrinterSession, Right,
    Scan, ScanProfile, ScanState,
};
pub use pairing::{PairingPreview, Tenant};
pub use print::LocalFile;
pub use scan::ScannedFile;

use crate::accounts::Accounts;
use crate::onedrive::{AfterPrint, OneDrive};
use crate::pairing::PairingPayload;
use api::{segment, RogerApi};
use ledger::Ledger;

/// How the service behaves; the defaults suit a phone.
#[derive(Debug, Clone)]
pub struct PrintServiceOptions {
    /// The app's private data directory: the after-print actions still to run are kept there,
    /// so they run even if the app restarts before the job prints. `None` keeps them in memory.
    pub data_dir: Option<PathBuf>,
    /// A connection that has carried nothing (no event, no keep-alive) for this long is taken
    /// for dead and reopened. The server sends keep-alives every 15 s.
    pub idle_timeout: Duration,
    /// First reconnection delay; doubled after each failure, with jitter, up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest reconnection delay.
    pub max_backoff: Duration,
    /// How often a running scan is polled when no event arrives.
    pub scan_poll: Duration,
    /// Longest wait for a scan to finish.
    pub scan_timeout: Duration,
}

impl Default for PrintServiceOptions {
    fn default() -> Self {
        Self {
            data_dir: None,
            idle_timeout: Duration::from_secs(45),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            scan_poll: Duration::from_secs(3),
            scan_timeout: Duration::from_secs(10 * 60),
        }
    }
}

/// Name of the after-print ledger in the data directory.
const LEDGER_FILE: &str = "after-print.json";

pub(crate) struct Inner {
    api: RogerApi,
    onedrive: Arc<OneDrive>,
    /// For the event stream: no whole-request timeout (idle time is watched instead).
    stream_http: reqwest::Client,
    options: PrintServiceOptions,
    events: broadcast::Sender<PrinterEvent>,
    session: watch::Sender<Option<PrinterSession>>,
    ledger: Mutex<Ledger>,
    pump: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The last event passed on: the stream resumes after it, even after a restart of the pump.
    last_event_id: std::sync::atomic::AtomicU64,
}

/// The printer session of the signed-in user.
pub struct PrintService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PrintService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrintService")
            .field(
                "session",
                &self.inner.session.borrow().as_ref().map(|s| &s.id),
            )
            .finish_non_exhaustive()
    }
}

impl PrintService {
    /// The service for these accounts and this OneDrive. Reads the after-print ledger; sends
    /// nothing until called.
    pub fn new(
        accounts: Arc<Accounts>,
        onedrive: Arc<OneDrive>,
        options: PrintServiceOptions,
    ) -> Result<Self, crate::error::Error> {
        let stream_http = crate::net::transfer_client(accounts.config())?;
        let ledger = Ledger::open(options.data_dir.as_deref().map(|d| d.join(LEDGER_FILE)));
        let (events, _) = broadcast::channel(1024);
        let (session, _) = watch::channel(None);
        Ok(Self {
            inner: Arc::new(Inner {
                api: RogerApi::new(accounts),
                onedrive,
                stream_http,
                options,
                events,
                session,
                ledger: Mutex::new(ledger),
                pump: Mutex::new(None),
                last_event_id: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    // ----- pairing -----

    /// Looks up a scanned or typed code: what the user is about to approve. A code of another
    /// region than the signed-in account's is refused before any request.
    pub async fn preview(&self, payload: &PairingPayload) -> Result<PairingPreview, PrinterError> {
        pairing::preview(&self.inner.api, payload).await
    }

    /// Approves the previewed printer login: the printer then gets its token and opens the
    /// session (see [`PrintService::session_updates`] and the `session` events).
    pub async fn approve(&self, preview: PairingPreview) -> Result<(), PrinterError> {
        pairing::decide(&self.inner.api, preview, true).await
    }

    /// Denies the previewed printer login: the printer is told `access_denied`.
    pub async fn deny(&self, preview: PairingPreview) -> Result<(), PrinterError> {
        pairing::decide(&self.inner.api, preview, false).await
    }

    // ----- session -----

    /// The current printer session, fetched now (`None` when not logged in at a printer).
    pub async fn session(&self) -> Result<Option<PrinterSession>, PrinterError> {
        self.inner.refresh_session().await
    }

    /// The printer session as last known, updated by fetches and events.
    pub fn session_updates(&self) -> watch::Receiver<Option<PrinterSession>> {
        self.inner.session.subscribe()
    }

    /// Ends the printer session from the phone. Ending a session that is already over is fine.
    pub async fn end_session(&self) -> Result<(), PrinterError> {
        match self
            .inner
            .api
            .send(
                "ending the printer session",
                Method::DELETE,
                "session",
                None,
            )
            .await
        {
            Ok(_) => {}
            Err(e) if api::has_code(&e, &["no_active_session"]) => {}
            Err(e) => return Err(e.into()),
        }
        self.inner.session.send_replace(None);
        Ok(())
    }

    /// The printers of the user's tenant.
    pub async fn printers(&self) -> Result<Vec<Printer>, PrinterError> {
        let list: model::PrinterList = self.inner.api.get("listing printers", "printers").await?;
        Ok(list.printers)
    }

    // ----- events -----

    /// Subscribes to the session's events. The first subscription (or [`PrintService::start_events`])
    /// starts the stream.
    pub fn subscribe(&self) -> EventSubscription {
        let rx = self.inner.events.subscribe();
        self.start_events();
        EventSubscription::new(rx)
    }

    /// Starts following the event stream in the background, if it is not running (it stops by
    /// itself on sign-out; [`PrintService::stop_events`] stops it). Call within a Tokio runtime.
    pub fn start_events(&self) {
        let mut pump = self
            .inner
            .pump
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if pump.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        *pump = Some(tokio::spawn(events::run(self.inner.clone())));
    }

    /// Stops following the event stream.
    pub fn stop_events(&self) {
        if let Some(task) = self
            .inner
            .pump
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }

    // ----- jobs -----

    /// The user's jobs with their states and expiry, newest first.
    pub async fn jobs(&self) -> Result<Vec<Job>, PrinterError> {
        jobs::list(&self.inner.api).await
    }

    /// One job.
    pub async fn job(&self, id: &str) -> Result<Job, PrinterError> {
        jobs::get(&self.inner.api, id).await
    }

    /// Releases the intent's jobs to the printer of the session, checking their options against
    /// it first. Retry a [`PrinterError::ReleaseUnconfirmed`] with the same intent.
    pub async fn release(&self, intent: &ReleaseIntent) -> Result<Released, PrinterError> {
        let session = self
            .inner
            .refresh_session()
            .await?
            .ok_or(PrinterError::NoSession)?;
        let caps = session
            .printer
            .as_ref()
            .and_then(|p| p.capabilities.as_ref());
        jobs::release(&self.inner.api, &self.inner.onedrive, caps, intent).await
    }

    /// An intent to release every waiting job (`None` when none waits).
    pub async fn release_all_intent(&self) -> Result<Option<ReleaseIntent>, PrinterError> {
        let ids: Vec<String> = self
            .jobs()
            .await?
            .into_iter()
            .filter(|j| j.state == JobState::Waiting)
            .map(|j| j.id)
            .collect();
        if ids.is_empty() {
            return Ok(None);
        }
        ReleaseIntent::new(&ids).map(Some)
    }

    /// Cancels a waiting or releasing job.
    pub async fn cancel(&self, id: &str) -> Result<Job, PrinterError> {
        let job = jobs::cancel(&self.inner.api, id).await?;
        self.inner.forget_after_print(id);
        Ok(job)
    }

    // ----- print -----

    /// Queues a job for a file in OneDrive: the job carries its name, size, type and a
    /// short-lived download URL; `after` runs when it has printed.
    pub async fn print_onedrive(
        &self,
        item_id: &str,
        options: &PrintOptions,
        after: AfterPrint,
    ) -> Result<Job, PrinterError> {
        print::print_onedrive(&self.inner, item_id, options, after).await
    }

    /// Uploads a local file to "Print" (resumable, with progress and cancel) and queues it.
    pub async fn print_local(
        &self,
        file: LocalFile<'_>,
        options: &PrintOptions,
        after: AfterPrint,
    ) -> Result<Job, PrinterError> {
        print::print_local(&self.inner, file, options, after).await
    }

    /// Runs the after-print actions of jobs that ended while nobody was listening (e.g. the app
    /// was not running). Returns how many were run or dropped.
    pub async fn reconcile_after_print(&self) -> usize {
        self.inner.reconcile().await
    }

    /// Jobs whose after-print action is still to run.
    pub fn pending_after_print(&self) -> Vec<String> {
        self.inner.ledger().job_ids()
    }

    // ----- scan -----

    /// The tenant's scan profiles.
    pub async fn scan_profiles(&self) -> Result<Vec<ScanProfile>, PrinterError> {
        scan::profiles(&self.inner.api).await
    }

    /// Scans with a profile at the session's printer into OneDrive "Scan"; returns the new file
    /// once the printer has uploaded it.
    pub async fn scan(&self, profile_id: &str) -> Result<ScannedFile, PrinterError> {
        scan::scan(&self.inner, profile_id).await
    }

    /// The user's scans.
    pub async fn scans(&self) -> Result<Vec<Scan>, PrinterError> {
        scan::list(&self.inner.api).await
    }
}

impl Drop for PrintService {
    fn drop(&mut self) {
        self.stop_events();
    }
}

impl Inner {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn forget_after_print(&self, job_id: &str) {
        self.ledger().remove(job_id);
    }

    fn emit(&self, event: PrinterEvent) {
        // No subscriber is fine: events are also state the UI can fetch.
        let _ = self.events.send(event);
    }

    pub(crate) async fn refresh_session(&self) -> Result<Option<PrinterSession>, PrinterError> {
        let session = match self
            .api
            .get::<model::RawSession>("reading the printer session", "session")
            .await
        {
            Ok(raw) => Some(PrinterSession::from(raw)),
            Err(e) if api::has_code(&e, &["no_active_session"]) => None,
            Err(crate::error::Error::Http { status: 404, .. }) => None,
            Err(e) => return Err(e.into()),
        };
        self.session.send_replace(session.clone());
        Ok(session)
    }

    /// Runs (or drops) the after-print action of a job that reached `state`.
    async fn job_changed(&self, job_id: &str, state: JobState) {
        if !state.is_final() {
            return;
        }
        let Some(entry) = self.ledger().get(job_id) else {
            return;
        };
        if state == JobState::Printed {
            if let Err(e) = self
                .onedrive
                .after_print(&entry.item_id, entry.action())
                .await
            {
                // Kept for the next reconcile: a network failure must not lose the action.
                tracing::info!(error = %e, "after-print action failed; will retry");
                return;
            }
        }
        self.forget_after_print(job_id);
    }

    async fn reconcile(&self) -> usize {
        let ids = self.ledger().job_ids();
        let mut done = 0;
        for id in ids {
            let state = match jobs::get(&self.api, &id).await {
                Ok(job) => job.state,
                Err(PrinterError::NotFound { .. }) => JobState::Expired,
                Err(_) => continue,
            };
            if state.is_final() {
                self.job_changed(&id, state).await;
                if self.ledger().get(&id).is_none() {
                    done += 1;
                }
            }
        }
        done
    }

    fn capabilities(&self) -> Option<Capabilities> {
        self.session
            .borrow()
            .as_ref()
            .and_then(|s| s.printer.as_ref())
            .and_then(|p| p.capabilities.clone())
    }

    fn id_segment(id: &str) -> Result<String, PrinterError> {
        segment(id).ok_or_else(|| PrinterError::InvalidId(id.to_owned()))
    }
}
