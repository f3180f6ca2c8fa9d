//! The camera-rate QR scanner and the pairing codes it yields.

use std::sync::Arc;

use roger_core::pairing::PairingPayload;
use roger_core::qr::{FrameScanner, LumaFrame, Rotation, ScanEvent, ScannerHint, SubmitOutcome};

use crate::error::RogerError;
use crate::runtime::guard_sync;

/// What the UI should tell the user while scanning.
#[uniffi::remote(Enum)]
pub enum ScannerHint {
    /// A code is visible but too small: move closer.
    MoveCloser,
    /// A code is visible but too faint: reduce glare or raise screen brightness.
    LowContrast,
    /// A code is visible but not readable yet: hold steady.
    HoldSteady,
    /// A QR code was read but it is not a Roger pairing code.
    NotARogerCode,
    /// A pairing code pointing at a host that is not a trusted Roger server (refused).
    UntrustedHost,
    /// A Roger pairing code of a newer format: the app needs an update.
    UnsupportedVersion,
    /// A Roger pairing code on a trusted host, but damaged or incomplete.
    Malformed,
}

/// A checked pairing code (from the camera or typed): pass it to `PrinterApi.preview`.
#[derive(uniffi::Object)]
pub struct PairingCode {
    pub(crate) payload: PairingPayload,
}

#[uniffi::export]
impl PairingCode {
    /// The code as printed under the QR, e.g. `KVTG-VQSZ` (show it while previewing).
    pub fn display_code(&self) -> String {
        self.payload.user_code.display()
    }

    /// The region the code belongs to.
    pub fn region_id(&self) -> String {
        self.payload.region_id.clone()
    }
}

/// What happened to a submitted frame.
#[derive(uniffi::Enum)]
pub enum ScanResult {
    /// Another frame was being decoded: this one was dropped without work.
    Dropped,
    /// Nothing new to show.
    Nothing,
    /// A hint for the user.
    Hint {
        /// What to show.
        hint: ScannerHint,
    },
    /// A valid pairing code (each distinct code is reported once until `reset`).
    Paired {
        /// The code.
        code: Arc<PairingCode>,
    },
}

/// Decodes camera frames until a trusted pairing code is seen. CPU work: call `submit` from
/// the camera's background thread, never the main thread. Frames submitted while one is being
/// decoded are dropped at once.
#[derive(uniffi::Object)]
pub struct QrScanner {
    scanner: FrameScanner,
}

impl QrScanner {
    pub(crate) fn new(scanner: FrameScanner) -> Self {
        Self { scanner }
    }
}

#[uniffi::export]
impl QrScanner {
    /// Decodes one 8-bit luma plane (`Y` of YUV_420_888 or of a bi-planar 420 buffer):
    /// `row_stride` is the bytes between two row starts, `rotation_degrees` the clockwise
    /// rotation that makes the image upright (0, 90, 180, 270).
    pub fn submit(
        &self,
        luma: Vec<u8>,
        width: u32,
        height: u32,
        row_stride: u32,
        rotation_degrees: i32,
    ) -> Result<ScanResult, RogerError> {
        guard_sync(|| {
            let rotation =
                Rotation::from_degrees(rotation_degrees).ok_or(RogerError::InvalidInput {
                    detail: format!("rotation {rotation_degrees} is not 0, 90, 180 or 270"),
                })?;
            let frame = LumaFrame::new(
                &luma,
                width as usize,
                height as usize,
                row_stride as usize,
                rotation,
            )?;
            Ok(match self.scanner.submit(&frame) {
                SubmitOutcome::Dropped => ScanResult::Dropped,
                SubmitOutcome::AlreadyReported | SubmitOutcome::Processed(None) => {
                    ScanResult::Nothing
                }
                SubmitOutcome::Processed(Some(ScanEvent::Hint(hint))) => ScanResult::Hint { hint },
                SubmitOutcome::Processed(Some(ScanEvent::Paired(payload))) => ScanResult::Paired {
                    code: Arc::new(PairingCode { payload }),
                },
            })
        })
    }

    /// Forgets the codes reported so far (the user scans again after a failed approval).
    pub fn reset(&self) {
        self.scanner.reset();
    }
}
