//! The one error of the foreign API: small, actionable variants, converted here (and only here)
//! from the core's detailed errors. The `detail` texts are for logs and bug reports, never
//! secrets; the UI chooses its words from the variant.

use roger_core::error::{Error, ErrorKind, SignOutReason};
use roger_core::onedrive::{DriveError, OneDriveError, TransferError};
use roger_core::pairing::PayloadError;
use roger_core::printer::{PairingError, PrinterError};
use roger_core::qr::FrameError;

/// What went wrong, as the UI acts on it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum RogerError {
    /// The user must sign in (again).
    #[error("{reason}")]
    SignInRequired {
        /// Why the session ended.
        reason: SignOutReason,
    },
    /// The sign-in attempt was not valid or was refused: start it again.
    #[error("sign-in failed: {detail}")]
    SignInFailed {
        /// What was wrong.
        detail: String,
    },
    /// No connection, or it broke: check the network and retry.
    #[error("network: {detail}")]
    Network {
        /// What the core was doing.
        detail: String,
    },
    /// The service is busy: retry after the given number of seconds.
    #[error("throttled; retry after {retry_after_secs} s")]
    Throttled {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The service misbehaved or refused: retry later or contact support.
    #[error("server: {detail}")]
    Server {
        /// What happened.
        detail: String,
    },
    /// The device's secure storage failed; nothing was half-written.
    #[error("secure storage: {detail}")]
    Storage {
        /// The store's failure.
        detail: String,
    },
    /// A configuration value or URL the security policy refuses (a bug or a tampered setting).
    #[error("configuration: {detail}")]
    Configuration {
        /// Which value, and why.
        detail: String,
    },
    /// A QR code that is not a Roger pairing code.
    #[error("not a Roger code")]
    NotARogerCode,
    /// A pairing code pointing at a host that is not a trusted Roger server: refused.
    #[error("untrusted host")]
    UntrustedHost,
    /// A pairing code of a newer format: the app needs an update.
    #[error("unsupported code version")]
    UnsupportedCodeVersion,
    /// A pairing code on a trusted host, but damaged or mistyped.
    #[error("malformed code: {detail}")]
    MalformedCode {
        /// What was wrong.
        detail: String,
    },
    /// The code expired: scan the new one on the printer.
    #[error("code expired")]
    CodeExpired,
    /// The code was already approved or denied: scan the new one.
    #[error("code already used")]
    CodeAlreadyUsed,
    /// No printer shows this code: check it.
    #[error("unknown code")]
    UnknownCode,
    /// The printer belongs to another organisation.
    #[error("other tenant")]
    OtherTenant,
    /// Too many attempts: wait before trying again.
    #[error("rate limited; retry after {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The printer is in another region than the account; nothing was sent.
    #[error("printer in region {code_region}, account in {account_region}")]
    WrongRegion {
        /// The code's region.
        code_region: String,
        /// The account's region.
        account_region: String,
    },
    /// A print option the printer cannot do, or a value out of range; nothing was sent.
    #[error("option {option}: {reason}")]
    OptionNotSupported {
        /// The option (`copies`, `duplex`, `color`, `pageRanges`, `media`).
        option: String,
        /// Why.
        reason: String,
    },
    /// Not logged in at a printer: scan its code first.
    #[error("no printer session")]
    NoPrinterSession,
    /// The printer session does not allow this (yet).
    #[error("not allowed in this session")]
    NotAllowed,
    /// No such job, scan, profile, printer or item.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for.
        what: String,
        /// Its id.
        id: String,
    },
    /// The job's state does not allow this.
    #[error("job {job_id} cannot be {action} now")]
    JobState {
        /// The job.
        job_id: String,
        /// What was asked.
        action: String,
    },
    /// A folder, or a file type the printers cannot render.
    #[error("not printable")]
    NotPrintable,
    /// The release may or may not have happened: retry with the same intent.
    #[error("release {client_request_id} unconfirmed")]
    ReleaseUnconfirmed {
        /// The intent's client request id.
        client_request_id: String,
    },
    /// The printer reported the scan as failed.
    #[error("scan failed: {reason}")]
    ScanFailed {
        /// The printer's reason.
        reason: String,
    },
    /// Waited longer than allowed.
    #[error("timed out: {detail}")]
    Timeout {
        /// What was awaited.
        detail: String,
    },
    /// A name, id or value given by the app that cannot be one.
    #[error("invalid input: {detail}")]
    InvalidInput {
        /// What was wrong.
        detail: String,
    },
    /// A file or folder with that name is in the way.
    #[error("name conflict")]
    NameConflict,
    /// The user's OneDrive is full: nothing more fits until they free space or get more;
    /// retrying will not help. The upload was refused (before any byte was sent when OneDrive
    /// could tell from the size) and left nothing behind.
    #[error("OneDrive is full")]
    OneDriveFull,
    /// A local file could not be read or written.
    #[error("local file: {detail}")]
    LocalFile {
        /// What failed.
        detail: String,
    },
    /// The operation was cancelled through its [`crate::CancelHandle`].
    #[error("cancelled")]
    Cancelled,
    /// A bug in the core (a panic, caught before it reached the app).
    #[error("internal error: {detail}")]
    Internal {
        /// What failed.
        detail: String,
    },
}

impl From<Error> for RogerError {
    fn from(e: Error) -> Self {
        let detail = e.to_string();
        match e {
            Error::SignedOut(reason) => RogerError::SignInRequired { reason },
            Error::Throttled {
                retry_after_secs, ..
            } => RogerError::Throttled { retry_after_secs },
            Error::SignIn(_) => RogerError::SignInFailed { detail },
            other => match other.kind() {
                ErrorKind::SignInRequired => RogerError::SignInRequired {
                    reason: SignOutReason::SessionEnded,
                },
                ErrorKind::Network => RogerError::Network { detail },
                ErrorKind::Throttled => RogerError::Throttled {
                    retry_after_secs: 60,
                },
                ErrorKind::Server => RogerError::Server { detail },
                ErrorKind::Storage => RogerError::Storage { detail },
                ErrorKind::SignInFailed => RogerError::SignInFailed { detail },
                ErrorKind::Configuration => RogerError::Configuration { detail },
            },
        }
    }
}

impl From<roger_core::error::ConfigError> for RogerError {
    fn from(e: roger_core::error::ConfigError) -> Self {
        RogerError::Configuration {
            detail: e.to_string(),
        }
    }
}

impl From<PayloadError> for RogerError {
    fn from(e: PayloadError) -> Self {
        match e {
            PayloadError::NotARogerCode => RogerError::NotARogerCode,
            PayloadError::UntrustedHost => RogerError::UntrustedHost,
            PayloadError::UnsupportedVersion { .. } => RogerError::UnsupportedCodeVersion,
            PayloadError::Malformed(reason) => RogerError::MalformedCode {
                detail: reason.to_string(),
            },
        }
    }
}

impl From<FrameError> for RogerError {
    fn from(e: FrameError) -> Self {
        RogerError::InvalidInput {
            detail: e.to_string(),
        }
    }
}

impl From<DriveError> for RogerError {
    fn from(e: DriveError) -> Self {
        match e {
            DriveError::NotFound => RogerError::NotFound {
                what: "item".into(),
                id: String::new(),
            },
            DriveError::NameConflict => RogerError::NameConflict,
            DriveError::Full => RogerError::OneDriveFull,
            DriveError::InvalidName(name) => RogerError::InvalidInput {
                detail: name.to_string(),
            },
        }
    }
}

impl From<OneDriveError> for RogerError {
    fn from(e: OneDriveError) -> Self {
        match e {
            OneDriveError::Drive(d) => d.into(),
            OneDriveError::Core(c) => c.into(),
        }
    }
}

impl From<TransferError> for RogerError {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::Cancelled => RogerError::Cancelled,
            TransferError::LocalFile(detail) => RogerError::LocalFile { detail },
            TransferError::Drive(d) => d.into(),
        }
    }
}

impl From<PairingError> for RogerError {
    fn from(e: PairingError) -> Self {
        match e {
            PairingError::Expired => RogerError::CodeExpired,
            PairingError::AlreadyUsed => RogerError::CodeAlreadyUsed,
            PairingError::UnknownCode => RogerError::UnknownCode,
            PairingError::OtherTenant => RogerError::OtherTenant,
            PairingError::RateLimited { retry_after_secs } => {
                RogerError::RateLimited { retry_after_secs }
            }
            PairingError::WrongRegion {
                code_region,
                account_region,
            } => RogerError::WrongRegion {
                code_region,
                account_region,
            },
        }
    }
}

impl From<PrinterError> for RogerError {
    fn from(e: PrinterError) -> Self {
        match e {
            PrinterError::Pairing(p) => p.into(),
            PrinterError::Option(o) => RogerError::OptionNotSupported {
                option: o.option.to_owned(),
                reason: o.reason,
            },
            PrinterError::NoSession => RogerError::NoPrinterSession,
            PrinterError::NotAllowed => RogerError::NotAllowed,
            PrinterError::NotFound { what, id } => RogerError::NotFound {
                what: what.to_owned(),
                id,
            },
            PrinterError::JobState { job_id, action } => RogerError::JobState {
                job_id,
                action: action.to_owned(),
            },
            PrinterError::NotPrintable { .. } => RogerError::NotPrintable,
            PrinterError::InvalidId(id) => RogerError::InvalidInput {
                detail: format!("`{id}` is not a valid id"),
            },
            PrinterError::ReleaseUnconfirmed { client_request_id } => {
                RogerError::ReleaseUnconfirmed { client_request_id }
            }
            PrinterError::ScanFailed { reason } => RogerError::ScanFailed { reason },
            PrinterError::ScanFileMissing => RogerError::Server {
                detail: "the scan was uploaded but its file is not in OneDrive".into(),
            },
            PrinterError::Timeout(what) => RogerError::Timeout {
                detail: what.to_owned(),
            },
            PrinterError::Transfer(t) => t.into(),
            PrinterError::OneDrive(o) => o.into(),
            PrinterError::Core(c) => c.into(),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for RogerError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        RogerError::Internal {
            detail: format!("a host callback failed: {}", e.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_become_actionable_variants() {
        let cases: Vec<(RogerError, &str)> = vec![
            (
                Error::SignedOut(SignOutReason::SessionExpired).into(),
                "SignInRequired",
            ),
            (
                Error::Throttled {
                    context: "x",
                    retry_after_secs: 7,
                }
                .into(),
                "Throttled",
            ),
            (
                Error::Http {
                    context: "x",
                    status: 500,
                    code: None,
                }
                .into(),
                "Server",
            ),
            (PairingError::Expired.into(), "CodeExpired"),
            (PayloadError::UntrustedHost.into(), "UntrustedHost"),
            (TransferError::Cancelled.into(), "Cancelled"),
            (
                TransferError::Drive(OneDriveError::Drive(DriveError::Full)).into(),
                "OneDriveFull",
            ),
            (
                PrinterError::ReleaseUnconfirmed {
                    client_request_id: "rel_1".into(),
                }
                .into(),
                "ReleaseUnconfirmed",
            ),
        ];
        for (error, name) in cases {
            assert!(
                format!("{error:?}").starts_with(name),
                "{error:?} for {name}"
            );
        }
        assert!(matches!(
            RogerError::from(Error::Throttled {
                context: "x",
                retry_after_secs: 7
            }),
            RogerError::Throttled {
                retry_after_secs: 7
            }
        ));
    }
}
