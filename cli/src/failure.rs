//! What a failed command tells the person and the script that ran it: one sentence saying what
//! to do next, and an exit code from a small documented set.

use roger_core::error::{Error, ErrorKind, SignInError};
use roger_core::onedrive::{DriveError, OneDriveError, TransferError};
use roger_core::pairing::PayloadError;
use roger_core::printer::{PairingError, PrinterError};
use roger_core::store::StoreError;

/// The exit codes scripts can rely on (also in `roger --help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: the service failed or answered something unexpected; retry later.
    Failure = 1,
    /// 2: bad command line or settings file.
    Usage = 2,
    /// 3: not signed in, or the session ended: run `roger login` (or `roger onedrive link`).
    SignIn = 3,
    /// 4: the network or the service cannot be reached.
    Network = 4,
    /// 5: the service is busy (throttling); retry after the time given.
    Busy = 5,
    /// 6: no such job, file, folder or region.
    NotFound = 6,
    /// 7: an input that cannot work: unreadable image, no QR code, not a Roger code, a print
    /// option the printer lacks, a file type that cannot print.
    BadInput = 7,
    /// 8: the printer side refused: no printer session, code expired or used, other organisation.
    Printer = 8,
    /// 9: the system keyring failed.
    Storage = 9,
    /// 10: stopped by the person (declined, Ctrl-C, cancelled transfer).
    Cancelled = 10,
}

/// A failed command: the exit code and one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What happened and what to do next, as one sentence.
    pub message: String,
}

impl Failure {
    /// A failure with this exit code and message.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Makes `text` one sentence: capital first letter, final full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return "Something went wrong.".to_owned(),
    };
    if !out.ends_with(['.', '?', '!']) {
        out.push('.');
    }
    out
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match &e {
            Error::SignedOut(reason) => Failure::new(
                Exit::SignIn,
                format!(
                    "Not signed in ({reason}): run `roger login` (and `roger onedrive link` for OneDrive)."
                ),
            ),
            Error::UnknownRegion(id) if id.is_empty() => Failure::new(
                Exit::Usage,
                "Choose a region with --region (see `roger regions`).",
            ),
            Error::UnknownRegion(id) => Failure::new(
                Exit::NotFound,
                format!("There is no region `{id}`; see `roger regions` for the list."),
            ),
            Error::SignIn(SignInError::Refused(why)) => Failure::new(
                Exit::SignIn,
                format!("Sign-in was refused ({why}); run `roger login` to try again."),
            ),
            Error::SignIn(inner) => Failure::new(
                Exit::SignIn,
                sentence(&format!("{inner}; run `roger login` to start again")),
            ),
            Error::Store(inner) => Failure::from(inner.clone()),
            _ => match e.kind() {
                ErrorKind::SignInRequired => Failure::new(
                    Exit::SignIn,
                    "The session has ended: run `roger login` to sign in again.",
                ),
                ErrorKind::Network => Failure::new(
                    Exit::Network,
                    "Cannot reach the service: check the network connection and try again.",
                ),
                ErrorKind::Throttled => {
                    let secs = match &e {
                        Error::Throttled {
                            retry_after_secs, ..
                        } => *retry_after_secs,
                        _ => 60,
                    };
                    Failure::new(
                        Exit::Busy,
                        format!("The service is busy: try again in {secs} s."),
                    )
                }
                ErrorKind::Storage => Failure::new(
                    Exit::Storage,
                    "The system keyring failed: unlock it, or use --store memory.",
                ),
                ErrorKind::SignInFailed => Failure::new(
                    Exit::SignIn,
                    "Sign-in did not complete: run `roger login` to start again.",
                ),
                ErrorKind::Configuration => Failure::new(
                    Exit::Usage,
                    sentence(&format!(
                        "The deployment settings are refused ({e}); check --discovery-url and the settings file"
                    )),
                ),
                ErrorKind::Server => Failure::new(
                    Exit::Failure,
                    sentence(&format!(
                        "The service answered unexpectedly ({e}); try again later"
                    )),
                ),
            },
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::new(
            Exit::Storage,
            format!("The system keyring failed ({e}): unlock it, or run with --store memory."),
        )
    }
}

impl From<PayloadError> for Failure {
    fn from(e: PayloadError) -> Self {
        let next = match e {
            PayloadError::NotARogerCode | PayloadError::UntrustedHost => {
                "scan the code on a Roger printer's screen"
            }
            PayloadError::Malformed(_) => "scan the code again or type the code shown under it",
            PayloadError::UnsupportedVersion { .. } => "update roger to read it",
        };
        Failure::new(Exit::BadInput, sentence(&format!("{e}: {next}")))
    }
}

impl From<OneDriveError> for Failure {
    fn from(e: OneDriveError) -> Self {
        match e {
            OneDriveError::Drive(DriveError::NotFound) => Failure::new(
                Exit::NotFound,
                "That OneDrive item does not exist: see `roger ls print` or `roger ls scan`.",
            ),
            OneDriveError::Drive(DriveError::NameConflict) => Failure::new(
                Exit::Failure,
                "A file with that name already exists in OneDrive: rename the file and try again.",
            ),
            // Not the keyring's "storage" (9): the service refuses, and retrying will not help.
            OneDriveError::Drive(DriveError::Full) => Failure::new(
                Exit::Failure,
                "OneDrive is full: free some space in OneDrive (or get more), then try again.",
            ),
            OneDriveError::Drive(DriveError::InvalidName(why)) => Failure::new(
                Exit::BadInput,
                sentence(&format!(
                    "OneDrive cannot take that file name ({why}); rename the file"
                )),
            ),
            OneDriveError::Core(Error::SignedOut(_)) => Failure::new(
                Exit::SignIn,
                "OneDrive is not linked: run `roger onedrive link`.",
            ),
            OneDriveError::Core(core) => Failure::from(core),
        }
    }
}

impl From<TransferError> for Failure {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::Cancelled => {
                Failure::new(Exit::Cancelled, "Cancelled; nothing was kept.")
            }
            TransferError::LocalFile(why) => Failure::new(
                Exit::BadInput,
                sentence(&format!(
                    "Cannot use the local file ({why}); check the path"
                )),
            ),
            TransferError::Drive(drive) => Failure::from(drive),
        }
    }
}

impl From<PairingError> for Failure {
    fn from(e: PairingError) -> Self {
        let exit = match e {
            PairingError::RateLimited { .. } => Exit::Busy,
            PairingError::UnknownCode => Exit::NotFound,
            PairingError::WrongRegion { .. } => Exit::BadInput,
            _ => Exit::Printer,
        };
        let text = match &e {
            PairingError::WrongRegion { .. } => {
                format!("{e}; sign in to that region with `roger login --region`")
            }
            _ => e.to_string(),
        };
        Failure::new(exit, sentence(&text))
    }
}

impl From<PrinterError> for Failure {
    fn from(e: PrinterError) -> Self {
        match e {
            PrinterError::Pairing(p) => Failure::from(p),
            PrinterError::Option(o) => Failure::new(
                Exit::BadInput,
                sentence(&format!("{o}; choose another option")),
            ),
            PrinterError::NoSession => Failure::new(
                Exit::Printer,
                "Not logged in at a printer: run `roger pair` with a photo of the printer's code.",
            ),
            PrinterError::NotAllowed => Failure::new(
                Exit::Printer,
                "The printer has not finished logging you in: wait a moment and try again.",
            ),
            PrinterError::NotFound { what, id } => Failure::new(
                Exit::NotFound,
                format!("There is no {what} `{id}`: see `roger jobs`."),
            ),
            PrinterError::InvalidId(id) => Failure::new(
                Exit::NotFound,
                format!("`{id}` is not a job id: see `roger jobs`."),
            ),
            PrinterError::JobState { job_id, action } => Failure::new(
                Exit::Failure,
                format!("Job `{job_id}` cannot be {action} now: see its state with `roger jobs`."),
            ),
            PrinterError::NotPrintable { .. } => Failure::new(
                Exit::BadInput,
                "This file cannot be printed: printers take PDF, images, Office documents and text.",
            ),
            PrinterError::ReleaseUnconfirmed { client_request_id } => Failure::new(
                Exit::Network,
                format!(
                    "The release was sent but not confirmed (request {client_request_id}): check `roger jobs` before releasing again."
                ),
            ),
            PrinterError::ScanFailed { reason } => Failure::new(
                Exit::Printer,
                sentence(&format!("The printer could not scan ({reason}); check the document and try again")),
            ),
            PrinterError::ScanFileMissing => Failure::new(
                Exit::Failure,
                "The scan was uploaded but its file is not in OneDrive \"Scan\": check `roger ls scan`.",
            ),
            PrinterError::Timeout(what) => Failure::new(
                Exit::Network,
                format!("Timed out while {what}: check the printer and try again."),
            ),
            PrinterError::Transfer(t) => Failure::from(t),
            PrinterError::OneDrive(d) => Failure::from(d),
            PrinterError::Core(c) => Failure::from(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roger_core::error::SignOutReason;

    #[test]
    fn every_message_is_one_sentence_with_a_next_step() {
        let failures = [
            Failure::from(Error::SignedOut(SignOutReason::SessionEnded)),
            Failure::from(PrinterError::NoSession),
            Failure::from(PayloadError::NotARogerCode),
            Failure::from(TransferError::LocalFile("no such file".into())),
            Failure::from(OneDriveError::Drive(DriveError::NotFound)),
            Failure::from(PairingError::Expired),
            Failure::from(Error::Throttled {
                context: "x",
                retry_after_secs: 7,
            }),
            Failure::from(OneDriveError::Drive(DriveError::Full)),
        ];
        for f in &failures {
            let m = &f.message;
            assert!(m.ends_with('.'), "{m}");
            assert!(m.chars().next().unwrap().is_uppercase(), "{m}");
            assert!(!m.contains('\n'), "{m}");
        }
        assert_eq!(failures[0].exit, Exit::SignIn);
        assert_eq!(failures[1].exit, Exit::Printer);
        assert_eq!(failures[2].exit, Exit::BadInput);
        assert_eq!(failures[4].exit, Exit::NotFound);
        assert_eq!(failures[6].exit, Exit::Busy);
        assert_eq!(
            failures[7].exit,
            Exit::Failure,
            "a full OneDrive is not the keyring"
        );
        assert!(failures[6].message.contains("7 s"));
    }

    #[test]
    fn sentence_capitalises_and_ends() {
        assert_eq!(sentence("the code"), "The code.");
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "Something went wrong.");
    }
}
