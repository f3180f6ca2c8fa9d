//! QR decoding for printer pairing.
//!
//! - [`frame`]: what cameras and files give (luma planes with stride and rotation, RGBA/BGRA,
//!   PNG/JPEG bytes), validated.
//! - [`decode`]: plain rqrr (the baseline) and rqrr's decoder fed by our own locator.
//! - [`pipeline`]: the robustness pipeline in front of the decoder, its work per frame
//!   bounded by a [`WorkBudget`].
//! - [`scanner`]: [`FrameScanner`], the camera-rate front end the mobile shells call.
//! - `corpus` (feature `corpus`): the synthetic test corpus generator; `camera`: the
//!   camera-model corpus (the panel through a pinhole camera, sensor and ISP), two splits.
//!
//! All entry points are synchronous CPU work: call them from a background thread or queue.

mod budget;
pub mod decode;
mod detect;
pub mod frame;
pub mod pipeline;
mod reed_solomon;
pub mod scanner;

#[cfg(any(test, feature = "corpus"))]
pub mod camera;
#[cfg(any(test, feature = "corpus"))]
pub mod corpus;

pub use budget::{Work, WorkBudget};
pub use decode::{decode_plain, DecodedCode};
pub use detect::PointF;
pub use frame::{
    luma_from_encoded, luma_from_rgba, FrameError, LumaFrame, LumaImage, PixelOrder, Rotation,
};
pub use pipeline::{
    scan, scan_until, scan_with_roi, FullResolution, PipelineOptions, ScanHint, ScanOutcome, Stage,
};
pub use scanner::{FrameScanner, FrameStats, ScanEvent, ScannerConfig, ScannerHint, SubmitOutcome};

#[cfg(test)]
mod tests;
