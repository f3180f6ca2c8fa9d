//! QR decoding for printer pairing: the decoding itself is the `roger-qr` crate, re-exported
//! here; this module adds [`scanner`]: [`FrameScanner`], the camera-rate front end the mobile
//! shells call, which accepts only codes that are valid pairing payloads.
//!
//! - [`frame`]: what cameras and files give (luma planes with stride and rotation, RGBA/BGRA,
//!   PNG/JPEG bytes), validated.
//! - [`decode`]: plain rqrr (the baseline) and the grids our own locator samples, corrected
//!   and parsed here (rqrr's decoder only for Kanji).
//! - [`pipeline`]: the robustness pipeline in front of the decoder, its work per frame
//!   bounded by a [`WorkBudget`].
//! - `corpus` and `camera` (feature `corpus`): the test corpus generators.
//!
//! All entry points are synchronous CPU work: call them from a background thread or queue.

pub use roger_qr::*;

pub mod scanner;

pub use scanner::{FrameScanner, FrameStats, ScanEvent, ScannerConfig, ScannerHint, SubmitOutcome};

#[cfg(test)]
mod tests;
