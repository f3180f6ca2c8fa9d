//! The core's plain data types as the foreign languages see them. Most are the core's own types,
//! declared here as UniFFI remote types (same fields, no copy of the logic); the rest are small
//! records converted from types that carry URLs or secrets.

use std::time::{Duration, SystemTime};

use roger_core::auth::AuthState;
use roger_core::error::SignOutReason;
use roger_core::onedrive::{AfterPrint, DriveItem, Printability};
use roger_core::printer::{
    Capabilities, Duplex, Job, JobSource, JobState, PrintOptions, Printer, PrinterEvent,
    PrinterSession, Released, ReleasedJob, Right, Scan, ScanProfile, ScanState, SessionChange,
};

/// Why the user is signed out; the UI offers sign-in and can say why.
#[uniffi::remote(Enum)]
pub enum SignOutReason {
    /// Nobody signed in yet (or a fresh install).
    NeverSignedIn,
    /// The user signed out.
    UserSignedOut,
    /// The session ran out after a long time unused.
    SessionExpired,
    /// The server no longer accepts the session (it ran out, or was ended elsewhere): sign in
    /// again.
    SessionEnded,
}

/// Whether an account is signed in.
#[uniffi::remote(Enum)]
pub enum AuthState {
    /// Signed in.
    SignedIn {
        /// The account id, when known.
        account_id: Option<String>,
        /// The user name (e-mail) to show, when known.
        username: Option<String>,
        /// The Roger region, for Roger accounts.
        region: Option<String>,
    },
    /// Not signed in.
    SignedOut {
        /// Why.
        reason: SignOutReason,
    },
}

/// A Roger region the user can sign in to.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RegionInfo {
    /// Short id, e.g. `eu`.
    pub id: String,
    /// Name to show, e.g. `Europe`.
    pub display_name: String,
}

impl From<roger_core::discovery::Region> for RegionInfo {
    fn from(r: roger_core::discovery::Region) -> Self {
        Self {
            id: r.id,
            display_name: r.display_name,
        }
    }
}

/// What a printer can do.
#[uniffi::remote(Record)]
pub struct Capabilities {
    /// Colour printing.
    pub color: bool,
    /// Two-sided printing.
    pub duplex: bool,
    /// Stapling.
    pub staple: bool,
    /// Media sizes, e.g. `A4`.
    pub media_sizes: Vec<String>,
}

/// A printer.
#[uniffi::remote(Record)]
pub struct Printer {
    /// Printer id.
    pub id: String,
    /// Name to show.
    pub name: String,
    /// Model, when known.
    pub model: Option<String>,
    /// Where it stands, when known.
    pub location: Option<String>,
    /// What it can do, when known.
    pub capabilities: Option<Capabilities>,
}

/// A right of a printer session.
#[uniffi::remote(Enum)]
pub enum Right {
    /// Release the user's jobs at the printer.
    Release,
    /// Submit jobs from the printer.
    Submit,
    /// Scan.
    Scan,
}

/// The user's login at a printer.
#[uniffi::remote(Record)]
pub struct PrinterSession {
    /// Session id.
    pub id: String,
    /// The printer, when known.
    pub printer: Option<Printer>,
    /// Since when.
    pub started_at: SystemTime,
    /// What the session allows.
    pub rights: Vec<Right>,
}

/// A print job's state.
#[uniffi::remote(Enum)]
pub enum JobState {
    /// Queued, waiting to be released at a printer.
    Waiting,
    /// Released; the printer has not started it yet.
    Releasing,
    /// Printing.
    Printing,
    /// Printed.
    Printed,
    /// The printer could not print it.
    Failed,
    /// Cancelled by the user.
    Cancelled,
    /// Not released within its lifetime.
    Expired,
    /// A state this version does not know.
    Unknown,
}

/// Two-sided printing.
#[uniffi::remote(Enum)]
pub enum Duplex {
    /// One-sided.
    None,
    /// Flip on the long edge.
    LongEdge,
    /// Flip on the short edge.
    ShortEdge,
}

/// Print options; checked against the printer's capabilities before anything is sent.
#[uniffi::remote(Record)]
pub struct PrintOptions {
    /// Copies (1–999).
    pub copies: u16,
    /// Two-sided printing.
    pub duplex: Duplex,
    /// Colour.
    pub color: bool,
    /// Pages, e.g. `1-3,5`; all when absent.
    pub page_ranges: Option<String>,
    /// Media size, e.g. `A4`; the printer's default when absent.
    pub media: Option<String>,
}

/// Print options of one copy, one-sided, black and white, all pages.
#[uniffi::export]
pub fn default_print_options() -> PrintOptions {
    PrintOptions::default()
}

/// The OneDrive item a job prints.
#[uniffi::remote(Record)]
pub struct JobSource {
    /// The drive, when not the user's own.
    pub drive_id: Option<String>,
    /// The item.
    pub item_id: String,
}

/// A print job.
#[uniffi::remote(Record)]
pub struct Job {
    /// Job id.
    pub id: String,
    /// The document's name.
    pub file_name: String,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
    /// Its content type, when known.
    pub content_type: Option<String>,
    /// The OneDrive item it prints.
    pub source: Option<JobSource>,
    /// Its options.
    pub options: PrintOptions,
    /// Its state.
    pub state: JobState,
    /// When it was queued.
    pub created_at: SystemTime,
    /// Its last change.
    pub updated_at: Option<SystemTime>,
    /// When a waiting job expires.
    pub expires_at: Option<SystemTime>,
    /// The printer it went to.
    pub printer_id: Option<String>,
    /// Why it failed.
    pub failure_reason: Option<String>,
}

/// One released job.
#[uniffi::remote(Record)]
pub struct ReleasedJob {
    /// Job id.
    pub id: String,
    /// Its new state.
    pub state: JobState,
}

/// The outcome of a release.
#[uniffi::remote(Record)]
pub struct Released {
    /// The intent's client request id.
    pub client_request_id: String,
    /// The session they went to.
    pub session_id: String,
    /// The printer they went to.
    pub printer_id: String,
    /// The jobs and their new states.
    pub jobs: Vec<ReleasedJob>,
}

/// What to do with a OneDrive file once its job printed.
#[uniffi::remote(Enum)]
pub enum AfterPrint {
    /// Leave it where it is.
    Keep,
    /// Delete it.
    Delete,
    /// Move it into "Printed".
    MoveToPrinted,
}

/// A scan's state.
#[uniffi::remote(Enum)]
pub enum ScanState {
    /// Asked for; the printer has not started.
    Requested,
    /// The printer is scanning.
    Scanning,
    /// The printer uploaded the file to OneDrive.
    Uploaded,
    /// It did not work.
    Failed,
    /// A state this version does not know.
    Unknown,
}

/// A scan.
#[uniffi::remote(Record)]
pub struct Scan {
    /// Scan id.
    pub id: String,
    /// The profile used.
    pub profile_id: String,
    /// The printer.
    pub printer_id: Option<String>,
    /// Its state.
    pub state: ScanState,
    /// When it was asked for.
    pub requested_at: SystemTime,
    /// Why it failed.
    pub failure_reason: Option<String>,
}

/// A scan profile of the printer.
#[uniffi::remote(Record)]
pub struct ScanProfile {
    /// Profile id.
    pub id: String,
    /// Name to show.
    pub name: String,
    /// File format, e.g. `pdf`.
    pub format: String,
    /// Resolution.
    pub resolution_dpi: Option<u32>,
    /// Colour mode.
    pub color_mode: Option<String>,
    /// Both sides.
    pub duplex: bool,
}

/// What the printer can do with a OneDrive item.
#[uniffi::remote(Enum)]
pub enum Printability {
    /// PDF, images, Office documents, plain text.
    Printable,
    /// Listed, but the printer cannot render it.
    Unsupported,
    /// A folder.
    Folder,
}

/// A file or folder in OneDrive.
#[uniffi::remote(Record)]
pub struct DriveItem {
    /// Graph item id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, RFC 3339.
    pub last_modified: String,
    /// MIME type of a file.
    pub mime_type: Option<String>,
    /// Children of a folder.
    pub child_count: Option<u64>,
    /// What the printer can do with it.
    pub printability: Printability,
}

/// A scan that arrived in "Scan".
#[derive(Debug, Clone, uniffi::Record)]
pub struct ScannedFile {
    /// The scan's id.
    pub scan_id: String,
    /// The new file.
    pub item: DriveItem,
}

impl From<roger_core::printer::ScannedFile> for ScannedFile {
    fn from(s: roger_core::printer::ScannedFile) -> Self {
        Self {
            scan_id: s.scan_id,
            item: s.item,
        }
    }
}

/// A change of the printer session.
#[uniffi::remote(Enum)]
pub enum SessionChange {
    /// The user is logged in at the printer.
    Started,
    /// The printer finished its login: it may now scan and submit.
    Upgraded,
    /// The session ended.
    Ended,
    /// A change this version does not know.
    Unknown,
}

/// What the event listener hears.
#[uniffi::remote(Enum)]
pub enum PrinterEvent {
    /// A job changed state.
    Job {
        /// The server's event id.
        event_id: u64,
        /// The job.
        job_id: String,
        /// Its new state.
        state: JobState,
    },
    /// A scan changed state.
    Scan {
        /// The server's event id.
        event_id: u64,
        /// The scan.
        scan_id: String,
        /// Its new state.
        state: ScanState,
    },
    /// The printer session changed.
    Session {
        /// The server's event id.
        event_id: u64,
        /// The session.
        session_id: String,
        /// Its printer.
        printer_id: String,
        /// What happened.
        change: SessionChange,
    },
    /// Events were missed: the state was fetched afresh and is given whole.
    Resynced {
        /// The printer session.
        session: Option<PrinterSession>,
        /// The jobs, newest first.
        jobs: Vec<Job>,
        /// The scans.
        scans: Vec<Scan>,
    },
    /// The stream is connected (again).
    Connected,
    /// The connection dropped; the next attempt is in `retry_in`.
    Disconnected {
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// The Roger account signed out: the stream has stopped.
    SignedOut,
}
