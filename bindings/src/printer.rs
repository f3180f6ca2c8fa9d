//! The printer session: pairing by code, the session, jobs, printing, scanning and events.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use roger_core::accounts::Accounts;
use roger_core::onedrive::AfterPrint;
use roger_core::pairing::{parse_manual_entry, policy_from_regions};
use roger_core::printer::{
    Job, PrintOptions, PrintService, Printer, PrinterEvent, PrinterSession, Released, Scan,
    ScanProfile,
};
use roger_core::qr::{FrameScanner, ScannerConfig};

use crate::cancel::{CancelHandle, Progress, ProgressListener};
use crate::error::RogerError;
use crate::model::ScannedFile;
use crate::runtime::{enter, run};
use crate::scanner::{PairingCode, QrScanner};

/// Hears the printer session's events. Called from a worker thread, in order.
#[uniffi::export(with_foreign)]
pub trait EventListener: Send + Sync {
    /// One event.
    fn on_event(&self, event: PrinterEvent);
}

/// A running subscription; events stop after [`EventSubscription::cancel`] (or when the
/// stream ends at sign-out).
#[derive(uniffi::Object)]
pub struct EventSubscription {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl EventSubscription {
    pub(crate) fn new(task: tokio::task::JoinHandle<()>) -> Arc<Self> {
        Arc::new(Self {
            task: Mutex::new(Some(task)),
        })
    }
}

#[uniffi::export]
impl EventSubscription {
    /// Stops delivering events. Safe to call more than once.
    pub fn cancel(&self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// What the user is about to approve: show it with a countdown to `expires_at`. It is used up
/// by `approve` or `deny`.
#[derive(uniffi::Object)]
pub struct PairingPreview {
    preview: Mutex<Option<roger_core::printer::PairingPreview>>,
    printer: Printer,
    tenant_id: String,
    tenant_name: String,
    client_id: String,
    client_name: Option<String>,
    scopes: Vec<String>,
    display_code: String,
    expires_at: Option<SystemTime>,
}

#[uniffi::export]
impl PairingPreview {
    /// The printer that asks for the login.
    pub fn printer(&self) -> Printer {
        self.printer.clone()
    }
    /// The printer's organisation id.
    pub fn tenant_id(&self) -> String {
        self.tenant_id.clone()
    }
    /// The printer's organisation, to show.
    pub fn tenant_name(&self) -> String {
        self.tenant_name.clone()
    }
    /// The OAuth client the printer logs in with.
    pub fn client_id(&self) -> String {
        self.client_id.clone()
    }
    /// Its name to show, when the server gave one.
    pub fn client_name(&self) -> Option<String> {
        self.client_name.clone()
    }
    /// What the printer asks for.
    pub fn scopes(&self) -> Vec<String> {
        self.scopes.clone()
    }
    /// The code, e.g. `KVTG-VQSZ`.
    pub fn display_code(&self) -> String {
        self.display_code.clone()
    }
    /// When the code expires.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
    /// Seconds left before the code expires (0 when it has).
    pub fn remaining_secs(&self) -> u64 {
        self.preview
            .lock()
            .ok()
            .and_then(|p| p.as_ref().map(|p| p.remaining().as_secs()))
            .unwrap_or(0)
    }
}

impl PairingPreview {
    fn new(p: roger_core::printer::PairingPreview) -> Self {
        Self {
            printer: p.printer().clone(),
            tenant_id: p.tenant().id.clone(),
            tenant_name: p.tenant().name.clone(),
            client_id: p.client_id().to_owned(),
            client_name: p.client_name().map(str::to_owned),
            scopes: p.scopes().to_vec(),
            display_code: p.display_code().to_owned(),
            expires_at: p.expires_at(),
            preview: Mutex::new(Some(p)),
        }
    }

    fn take(&self) -> Result<roger_core::printer::PairingPreview, RogerError> {
        self.preview
            .lock()
            .ok()
            .and_then(|mut p| p.take())
            .ok_or(RogerError::CodeAlreadyUsed)
    }
}

/// One user intent to release jobs. Retry a failed release with the same intent (it carries
/// the same client request id), so a release whose answer was lost never prints twice.
#[derive(uniffi::Object)]
pub struct ReleaseIntent {
    intent: roger_core::printer::ReleaseIntent,
}

#[uniffi::export]
impl ReleaseIntent {
    /// An intent to release these jobs, with a fresh client request id.
    #[uniffi::constructor]
    pub fn new(job_ids: Vec<String>) -> Result<Arc<Self>, RogerError> {
        Ok(Arc::new(Self {
            intent: roger_core::printer::ReleaseIntent::new(&job_ids)?,
        }))
    }

    /// An intent saved earlier (e.g. across an app restart), with its client request id.
    #[uniffi::constructor]
    pub fn resume(
        client_request_id: String,
        job_ids: Vec<String>,
    ) -> Result<Arc<Self>, RogerError> {
        Ok(Arc::new(Self {
            intent: roger_core::printer::ReleaseIntent::resume(&client_request_id, &job_ids)?,
        }))
    }

    /// The client request id sent with every attempt (save it with the job ids to resume).
    pub fn client_request_id(&self) -> String {
        self.intent.client_request_id().to_owned()
    }

    /// The jobs, sorted.
    pub fn job_ids(&self) -> Vec<String> {
        self.intent.job_ids().to_vec()
    }
}

/// The printer session and everything done at the printer.
#[derive(uniffi::Object)]
pub struct PrinterApi {
    accounts: Arc<Accounts>,
    service: Arc<PrintService>,
}

impl PrinterApi {
    pub(crate) fn new(accounts: Arc<Accounts>, service: Arc<PrintService>) -> Self {
        Self { accounts, service }
    }

    async fn policy(accounts: &Accounts) -> Result<roger_core::pairing::PairingPolicy, RogerError> {
        let regions = accounts.regions().await?;
        Ok(policy_from_regions(
            &regions,
            accounts.config().allow_insecure_loopback,
        ))
    }
}

#[uniffi::export]
impl PrinterApi {
    /// A camera scanner that accepts pairing codes of the known regions only.
    pub async fn scanner(&self) -> Result<Arc<QrScanner>, RogerError> {
        let accounts = self.accounts.clone();
        run(async move {
            let policy = Self::policy(&accounts).await?;
            Ok(Arc::new(QrScanner::new(FrameScanner::new(
                ScannerConfig::new(policy),
            ))))
        })
        .await
    }

    /// A code the user typed (`KVTG-VQSZ`, any case, with or without the dash) for a printer in
    /// `region_id`, or a pasted pairing URL.
    pub async fn typed_code(
        &self,
        text: String,
        region_id: String,
    ) -> Result<Arc<PairingCode>, RogerError> {
        let accounts = self.accounts.clone();
        run(async move {
            let policy = Self::policy(&accounts).await?;
            let payload = parse_manual_entry(&text, &region_id, &policy)?;
            Ok(Arc::new(PairingCode { payload }))
        })
        .await
    }

    /// Looks the code up: what the user is about to approve.
    pub async fn preview(&self, code: Arc<PairingCode>) -> Result<Arc<PairingPreview>, RogerError> {
        let service = self.service.clone();
        run(async move {
            let preview = service.preview(&code.payload).await?;
            Ok(Arc::new(PairingPreview::new(preview)))
        })
        .await
    }

    /// Approves the previewed login: the printer then logs the user in.
    pub async fn approve(&self, preview: Arc<PairingPreview>) -> Result<(), RogerError> {
        let service = self.service.clone();
        let preview = preview.take()?;
        run(async move { Ok(service.approve(preview).await?) }).await
    }

    /// Denies the previewed login: the printer is told and shows a new code.
    pub async fn deny(&self, preview: Arc<PairingPreview>) -> Result<(), RogerError> {
        let service = self.service.clone();
        let preview = preview.take()?;
        run(async move { Ok(service.deny(preview).await?) }).await
    }

    /// The printer session, if the user is logged in at a printer.
    pub async fn session(&self) -> Result<Option<PrinterSession>, RogerError> {
        let service = self.service.clone();
        run(async move { Ok(service.session().await?) }).await
    }

    /// Ends the printer session from the phone.
    pub async fn end_session(&self) -> Result<(), RogerError> {
        let service = self.service.clone();
        run(async move { Ok(service.end_session().await?) }).await
    }

    /// The tenant's printers.
    pub async fn printers(&self) -> Result<Vec<Printer>, RogerError> {
        let service = self.service.clone();
        run(async move { Ok(service.printers().await?) }).await
    }

    /// The user's jobs, newest first.
    pub async fn jobs(&self) -> Result<Vec<Job>, RogerError> {
        let service = self.service.clone();
        run(async move { Ok(service.jobs().await?) }).await
    }

    /// One job.
    pub async fn job(&self, id: String) -> Result<Job, RogerError> {
        let service = self.service.clone();
        run(async move { Ok(service.job(&id).await?) }).await
    }

    /// An intent to release every waiting job; `None` when none waits.
    pub async fn release_all_intent(&self) -> Result<Option<Arc<ReleaseIntent>>, RogerError> {
        let service = self.service.clone();
        run(async move {
            Ok(service
                .release_all_intent()
                .await?
                .map(|intent| Arc::new(ReleaseIntent { intent })))
        })
        .await
    }

    /// Releases the intent's jobs to the printer of the session. After
    /// `RogerError.ReleaseUnconfirmed`, retry with the same intent.
    pub async fn release(&self, intent: Arc<ReleaseIntent>) -> Result<Released, RogerError> {
        let service = self.service.clone();
        run(async move { Ok(service.release(&intent.intent).await?) }).await
    }

    /// Cancels a waiting job.
    pub async fn cancel_job(&self, id: String) -> Result<Job, RogerError> {
        let service = self.service.clone();
        run(async move { Ok(service.cancel(&id).await?) }).await
    }

    /// Queues a job for a file in OneDrive "Print"; `after_print` runs once it printed.
    pub async fn print_onedrive(
        &self,
        item_id: String,
        options: PrintOptions,
        after_print: AfterPrint,
    ) -> Result<Job, RogerError> {
        let service = self.service.clone();
        run(async move {
            Ok(service
                .print_onedrive(&item_id, &options, after_print)
                .await?)
        })
        .await
    }

    /// Uploads a local file to "Print" (resumable, with progress) and queues its job. `name`
    /// is its name in OneDrive (the file's own when absent). Cancelled through `cancel`,
    /// nothing is queued.
    pub async fn print_local(
        &self,
        path: String,
        name: Option<String>,
        options: PrintOptions,
        after_print: AfterPrint,
        progress: Option<Arc<dyn ProgressListener>>,
        cancel: Arc<CancelHandle>,
    ) -> Result<Job, RogerError> {
        let service = self.service.clone();
        run(async move {
            let path = PathBuf::from(path);
            let progress = Progress(progress);
            let file = roger_core::printer::LocalFile {
                path: &path,
                name: name.as_deref(),
                progress: &progress,
                cancel: cancel.flag(),
            };
            Ok(service.print_local(file, &options, after_print).await?)
        })
        .await
    }

    /// Runs the after-print actions whose jobs printed while the app was not running; returns
    /// how many ran.
    pub async fn reconcile_after_print(&self) -> Result<u64, RogerError> {
        let service = self.service.clone();
        run(async move { Ok(service.reconcile_after_print().await as u64) }).await
    }

    /// The printer's scan profiles.
    pub async fn scan_profiles(&self) -> Result<Vec<ScanProfile>, RogerError> {
        let service = self.service.clone();
        run(async move { Ok(service.scan_profiles().await?) }).await
    }

    /// Scans with a profile into OneDrive "Scan" and waits until the file is there.
    pub async fn scan(
        &self,
        profile_id: String,
        cancel: Arc<CancelHandle>,
    ) -> Result<ScannedFile, RogerError> {
        let service = self.service.clone();
        run(async move {
            tokio::select! {
                scanned = service.scan(&profile_id) => Ok(scanned?.into()),
                () = cancel.cancelled() => Err(RogerError::Cancelled),
            }
        })
        .await
    }

    /// The user's scans.
    pub async fn scans(&self) -> Result<Vec<Scan>, RogerError> {
        let service = self.service.clone();
        run(async move { Ok(service.scans().await?) }).await
    }

    /// Delivers the session's events to `listener` until the subscription is cancelled, and
    /// starts following the server's event stream if it is not followed yet.
    pub fn subscribe(
        &self,
        listener: Arc<dyn EventListener>,
    ) -> Result<Arc<EventSubscription>, RogerError> {
        let _guard = enter()?;
        let mut events = self.service.subscribe();
        self.service.start_events();
        let task = tokio::spawn(async move {
            while let Some(event) = events.next().await {
                let last = matches!(event, PrinterEvent::SignedOut);
                listener.on_event(event);
                if last {
                    return;
                }
            }
        });
        Ok(EventSubscription::new(task))
    }

    /// Stops following the server's event stream (e.g. when the app goes to the background).
    pub fn stop_events(&self) -> Result<(), RogerError> {
        let _guard = enter()?;
        self.service.stop_events();
        Ok(())
    }
}
