//! Typed outcomes of the printer session that the UI acts on.

use crate::error::{Error, ErrorKind};
use crate::onedrive::{OneDriveError, TransferError};

/// Why a pairing code cannot be approved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    /// The code ran out; the printer shows a new one.
    #[error("the code has expired; scan the new code on the printer")]
    Expired,
    /// The code was already approved or denied.
    #[error("the code was already used; scan the new code on the printer")]
    AlreadyUsed,
    /// No printer waits for this code.
    #[error("no printer shows this code; check it and try again")]
    UnknownCode,
    /// The printer belongs to another organisation than the signed-in account.
    #[error("this printer belongs to another organisation")]
    OtherTenant,
    /// Too many wrong codes: wait before trying again.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The code belongs to another region than the signed-in account; nothing was sent.
    #[error("this printer is in region `{code_region}`, the account in `{account_region}`")]
    WrongRegion {
        /// The region of the code.
        code_region: String,
        /// The signed-in account's region.
        account_region: String,
    },
}

/// A print option the printer cannot do, or a value out of bounds; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("print option `{option}`: {reason}")]
pub struct OptionError {
    /// The option, as named in the protocol: `copies`, `duplex`, `color`, `pageRanges`, `media`.
    pub option: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// Every failure of the printer session.
#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    /// Pairing refused.
    #[error(transparent)]
    Pairing(#[from] PairingError),
    /// A print option that cannot work.
    #[error(transparent)]
    Option(#[from] OptionError),
    /// The user is not logged in at a printer.
    #[error("not logged in at a printer; scan the printer's code first")]
    NoSession,
    /// The session does not allow this (e.g. scanning before the printer finished its login).
    #[error("the printer session does not allow this yet")]
    NotAllowed,
    /// No such job, scan, profile or printer.
    #[error("{what} `{id}` does not exist")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// A job is not in a state that allows this (released, printed, ...).
    #[error("job `{job_id}` cannot be {action} now")]
    JobState {
        /// The job.
        job_id: String,
        /// What was asked.
        action: &'static str,
    },
    /// A folder, or a file type the printers cannot render.
    #[error("this file cannot be printed (PDF, images, Office documents and text can)")]
    NotPrintable {
        /// The file's name (not in the message: names stay out of logs).
        name: String,
    },
    /// An id given by the caller that cannot be one.
    #[error("`{0}` is not a valid id")]
    InvalidId(String),
    /// The release may or may not have happened: the answer never arrived. Retry with the same
    /// intent (the same client request id), never with a new one.
    #[error("the release was sent but not confirmed (request {client_request_id}); retry it")]
    ReleaseUnconfirmed {
        /// The intent's client request id.
        client_request_id: String,
    },
    /// The printer reported the scan as failed.
    #[error("the scan failed: {reason}")]
    ScanFailed {
        /// The printer's reason.
        reason: String,
    },
    /// The scan was uploaded but its file is not in "Scan".
    #[error("the scan was uploaded but its file was not found in OneDrive")]
    ScanFileMissing,
    /// Waiting took longer than allowed.
    #[error("timed out while {0}")]
    Timeout(&'static str),
    /// A local file or transfer problem (upload of a local file to print).
    #[error(transparent)]
    Transfer(#[from] TransferError),
    /// A OneDrive problem.
    #[error(transparent)]
    OneDrive(#[from] OneDriveError),
    /// Network, sign-in, throttling, server.
    #[error(transparent)]
    Core(#[from] Error),
}

impl PrinterError {
    /// The action-oriented category of this error, where it is one of the core's general kinds.
    pub fn core_kind(&self) -> Option<ErrorKind> {
        match self {
            PrinterError::Core(e) => Some(e.kind()),
            PrinterError::OneDrive(OneDriveError::Core(e))
            | PrinterError::Transfer(TransferError::Drive(OneDriveError::Core(e))) => {
                Some(e.kind())
            }
            _ => None,
        }
    }
}

/// The core error as a pairing outcome, when it is one: the Roger API's codes and RFC 8628's.
pub(crate) fn pairing_outcome(e: Error) -> PrinterError {
    let code = match &e {
        Error::Throttled {
            retry_after_secs, ..
        } => {
            return PairingError::RateLimited {
                retry_after_secs: *retry_after_secs,
            }
            .into()
        }
        Error::Http { code, status, .. } => (code.as_deref(), *status),
        _ => return e.into(),
    };
    let outcome = match code {
        (Some("code_expired" | "expired_token"), _) | (None, 410) => PairingError::Expired,
        (Some("code_already_used"), _) => PairingError::AlreadyUsed,
        (Some("code_not_found" | "invalid_user_code"), _) | (None, 404) => {
            PairingError::UnknownCode
        }
        (Some("tenant_mismatch"), _) => PairingError::OtherTenant,
        (Some("too_many_attempts"), _) => PairingError::RateLimited {
            retry_after_secs: 60,
        },
        _ => return e.into(),
    };
    outcome.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, code: Option<&str>) -> Error {
        Error::Http {
            context: "test",
            status,
            code: code.map(str::to_owned),
        }
    }

    #[test]
    fn server_codes_become_pairing_outcomes() {
        let cases = [
            (http(410, Some("code_expired")), Some(PairingError::Expired)),
            (
                http(400, Some("expired_token")),
                Some(PairingError::Expired),
            ),
            (
                http(409, Some("code_already_used")),
                Some(PairingError::AlreadyUsed),
            ),
            (
                http(404, Some("code_not_found")),
                Some(PairingError::UnknownCode),
            ),
            (http(404, None), Some(PairingError::UnknownCode)),
            (
                http(403, Some("tenant_mismatch")),
                Some(PairingError::OtherTenant),
            ),
            (http(500, None), None),
        ];
        for (error, expected) in cases {
            match (pairing_outcome(error), expected) {
                (PrinterError::Pairing(got), Some(want)) => assert_eq!(got, want),
                (PrinterError::Core(_), None) => {}
                (other, want) => panic!("{other:?} for {want:?}"),
            }
        }
        let throttled = Error::Throttled {
            context: "t",
            retry_after_secs: 30,
        };
        assert!(matches!(
            pairing_outcome(throttled),
            PrinterError::Pairing(PairingError::RateLimited {
                retry_after_secs: 30
            })
        ));
    }
}
