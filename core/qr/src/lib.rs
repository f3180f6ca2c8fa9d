//! QR decoding for printer pairing: camera frames in, decoded codes out, the work per frame
//! bounded. The pairing logic on top (the payload check, the camera-rate scanner) is in
//! `roger-core`, which re-exports this crate as `roger_core::qr`.
//!
//! - [`frame`]: what cameras and files give (luma planes with stride and rotation, RGBA/BGRA,
//!   PNG/JPEG bytes), validated.
//! - [`decode`]: plain rqrr (the baseline) and the grids our own locator samples, corrected
//!   and parsed here (rqrr's decoder only for Kanji).
//! - [`pipeline`]: the robustness pipeline in front of the decoder, its work per frame
//!   bounded by a [`WorkBudget`].
//! - `corpus` (feature `corpus`): the synthetic test corpus generator; `camera`: the
//!   camera-model corpus (the panel through a pinhole camera, sensor and ISP), two splits;
//!   `screens`: hand-made screens for tests.
//!
//! It is a crate of its own so that the size-optimised mobile build can still compile this
//! hot path for speed (`[profile.release.package.roger-qr]` in the workspace manifest).
//! All entry points are synchronous CPU work: call them from a background thread or queue.

mod budget;
pub mod decode;
mod detect;
pub mod frame;
pub mod pipeline;
mod reed_solomon;
mod segments;

#[cfg(any(test, feature = "corpus"))]
pub mod camera;
#[cfg(any(test, feature = "corpus"))]
pub mod corpus;
#[cfg(any(test, feature = "corpus"))]
pub mod screens;

pub use budget::{Work, WorkBudget};
pub use decode::{decode_plain, DecodedCode};
pub use detect::PointF;
pub use frame::{
    luma_from_encoded, luma_from_rgba, FrameError, LumaFrame, LumaImage, PixelOrder, Rotation,
};
pub use pipeline::{
    scan, scan_until, scan_with_roi, FullResolution, PipelineOptions, ScanHint, ScanOutcome, Stage,
};

#[cfg(test)]
mod tests;
