//! [`FrameScanner`]: the camera-rate front end the mobile shells feed.
//!
//! The shells hand over every analysis frame from a background thread (CameraX analyzer,
//! `AVCaptureVideoDataOutput` queue). The scanner never queues: a frame that arrives while
//! another is being decoded is dropped at once ([`SubmitOutcome::Dropped`]), so latency stays
//! one frame and memory flat. Each distinct pairing code is reported once
//! ([`ScanEvent::Paired`]) until [`FrameScanner::reset`]: the frames after it that show the same
//! code are [`SubmitOutcome::AlreadyReported`], while a new code (the printer's QR expired and
//! it shows a fresh one) is reported at once. Hints for the UI (move closer, low contrast, not
//! a Roger code, ...) are reported when they change, at most once per `hint_interval` each.
//! Every payload goes through [`parse_pairing_payload`]: nothing here sends a request.
//!
//! Each frame is scanned for a pairing code, not for any code ([`scan_until`]): when a step of
//! the pipeline reads only codes that are not a valid pairing payload (an app link next to the
//! pairing code), the later steps still run within the frame's work budget, and "not a Roger
//! code" is reported only when none of them finds one. The region where the previous frame saw
//! the pairing code is tried first on the next frame, which makes steady aiming cheaper than
//! the first frame.
//!
//! The work of one frame is bounded by [`ScannerConfig::pipeline`]`.budget` (a
//! [`WorkBudget`](super::WorkBudget): finder cross-checks, grid placements and decode attempts,
//! counted over all steps), so a frame full of finder-like clutter costs a few unreadable
//! frames' worth of time, not a stall: on a desktop core the worst frames measured cost under
//! 70 ms with the default budget, against 160 to 670 ms before it (see `docs/benchmarks.md`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::frame::LumaFrame;
use super::pipeline::{scan_until, FullResolution, PipelineOptions, ScanHint, Stage};
use super::Work;
use crate::pairing::payload::{parse_pairing_payload, PairingPayload, PairingPolicy, PayloadError};

/// Scanner settings.
#[derive(Debug, Clone)]
pub struct ScannerConfig {
    /// Which origins a pairing code may point at.
    pub policy: PairingPolicy,
    /// Pipeline switches, including the work budget of each frame.
    pub pipeline: PipelineOptions,
    /// Minimum time between two reports of the same hint.
    pub hint_interval: Duration,
    /// Let the full-resolution passes take turns from frame to frame (default `true`; `false`
    /// runs both on every frame, as [`scan_until`] does by default).
    pub alternate_passes: bool,
}

impl ScannerConfig {
    /// Defaults for a policy: full pipeline, hints at most once a second.
    pub fn new(policy: PairingPolicy) -> Self {
        ScannerConfig {
            policy,
            pipeline: PipelineOptions::default(),
            hint_interval: Duration::from_secs(1),
            alternate_passes: true,
        }
    }
}

/// What the UI should tell the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// Something to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEvent {
    /// A valid pairing code (each distinct code reported once until [`FrameScanner::reset`]).
    Paired(PairingPayload),
    /// A hint for the user.
    Hint(ScannerHint),
}

/// What happened to a submitted frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Another frame was being decoded: this one was dropped without work.
    Dropped,
    /// The frame shows only pairing codes already reported since the last reset.
    AlreadyReported,
    /// The frame was decoded; maybe something to show.
    Processed(Option<ScanEvent>),
}

/// What the last decoded frame took (for debug overlays, tuning and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStats {
    /// The pipeline step that read a code ([`Stage::Roi`]: the region carried from the
    /// frame before), or `None`.
    pub stage: Option<Stage>,
    /// The work counted (bounded by the pipeline's work budget).
    pub work: Work,
}

/// Distinct pairing codes remembered as reported (the oldest is forgotten beyond it).
const MAX_REPORTED: usize = 16;

#[derive(Debug, Default)]
struct State {
    /// Codes reported since the last reset, the latest last.
    reported: Vec<PairingPayload>,
    roi: Option<(f32, f32, f32, f32)>,
    /// Frames decoded since the last reset (picks the full-resolution pass).
    frames: u64,
    last_hint: Option<(ScannerHint, Instant)>,
    last_frame: Option<FrameStats>,
}

/// Camera-rate QR scanner for pairing. `Sync`: share it between the camera thread and the UI.
#[derive(Debug)]
pub struct FrameScanner {
    config: ScannerConfig,
    busy: AtomicBool,
    state: Mutex<State>,
    /// Makes the next frame's processing panic, to test the boundary.
    #[cfg(test)]
    panic_next: AtomicBool,
}

impl FrameScanner {
    /// A scanner accepting pairing codes for `config.policy`.
    pub fn new(config: ScannerConfig) -> Self {
        FrameScanner {
            config,
            busy: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            #[cfg(test)]
            panic_next: AtomicBool::new(false),
        }
    }

    /// Decodes one frame unless another is in progress (then it is dropped at once). CPU work:
    /// call it from the camera's background thread, not the UI thread. A panic anywhere in the
    /// frame's processing costs that frame only: it is logged, the region of interest is
    /// forgotten, and the scanner takes the next frame.
    pub fn submit(&self, frame: &LumaFrame<'_>) -> SubmitOutcome {
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return SubmitOutcome::Dropped;
        }
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.process(frame)));
        let out = out.unwrap_or_else(|_| {
            tracing::warn!("a frame's processing panicked; it is skipped");
            self.lock().roi = None;
            SubmitOutcome::Processed(None)
        });
        self.busy.store(false, Ordering::Release);
        out
    }

    /// The pairing code reported last since the last reset, if any.
    pub fn paired(&self) -> Option<PairingPayload> {
        self.lock().reported.last().cloned()
    }

    /// Which step read the last decoded frame and the work it took; `None` before the first
    /// frame and after [`FrameScanner::reset`].
    pub fn last_frame(&self) -> Option<FrameStats> {
        self.lock().last_frame
    }

    /// Forgets the reported codes, the region of interest and the hint history (the user
    /// cancelled, or the approval failed and they scan again).
    pub fn reset(&self) {
        *self.lock() = State::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State inconsistent (plain values).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn process(&self, frame: &LumaFrame<'_>) -> SubmitOutcome {
        #[cfg(test)]
        if self.panic_next.swap(false, Ordering::SeqCst) {
            panic!("injected locator panic");
        }
        let (roi, n) = {
            let mut st = self.lock();
            st.frames += 1;
            (st.roi, st.frames)
        };
        // A stream, not a single frame: the two full-resolution passes take turns, so a frame
        // that shows no readable code costs one of them, and each still runs every other
        // frame (at 30 frames a second, 15 times a second each).
        let mut pipeline = self.config.pipeline;
        if self.config.alternate_passes {
            pipeline.full_resolution = if n % 2 == 1 {
                FullResolution::Sparse
            } else {
                FullResolution::Dense
            };
        }
        // Look for a pairing code, not for any code: a step that reads only an app link or a
        // help page next to the pairing code does not end the frame's scan.
        let policy = &self.config.policy;
        let accept = |t: &str| parse_pairing_payload(t, policy).is_ok();
        let out = scan_until(frame, &pipeline, roi, &accept);
        let mut st = self.lock();
        st.roi = out.region;
        st.last_frame = Some(FrameStats {
            stage: out.stage,
            work: out.work,
        });
        // Among several codes in view, a new valid pairing code wins, then one already
        // reported (nothing to show); otherwise the most telling rejection becomes the hint.
        let mut rejection: Option<ScannerHint> = None;
        let mut repeat = false;
        for code in &out.codes {
            match parse_pairing_payload(&code.text, &self.config.policy) {
                Ok(p) if st.reported.contains(&p) => repeat = true,
                Ok(p) => {
                    if st.reported.len() >= MAX_REPORTED {
                        st.reported.remove(0);
                    }
                    st.reported.push(p.clone());
                    return SubmitOutcome::Processed(Some(ScanEvent::Paired(p)));
                }
                Err(e) => {
                    let h = match e {
                        PayloadError::NotARogerCode => ScannerHint::NotARogerCode,
                        PayloadError::UntrustedHost => ScannerHint::UntrustedHost,
                        PayloadError::UnsupportedVersion { .. } => ScannerHint::UnsupportedVersion,
                        PayloadError::Malformed(_) => ScannerHint::Malformed,
                    };
                    if rejection.is_none_or(|r| rank(h) > rank(r)) {
                        rejection = Some(h);
                    }
                }
            }
        }
        if repeat {
            return SubmitOutcome::AlreadyReported;
        }
        let hint = rejection.or(out.hint.map(|h| match h {
            ScanHint::TooSmall => ScannerHint::MoveCloser,
            ScanHint::LowContrast => ScannerHint::LowContrast,
            ScanHint::Unreadable => ScannerHint::HoldSteady,
        }));
        let Some(hint) = hint else {
            return SubmitOutcome::Processed(None);
        };
        let now = Instant::now();
        let repeat = st
            .last_hint
            .is_some_and(|(h, t)| h == hint && now.duration_since(t) < self.config.hint_interval);
        if repeat {
            return SubmitOutcome::Processed(None);
        }
        st.last_hint = Some((hint, now));
        SubmitOutcome::Processed(Some(ScanEvent::Hint(hint)))
    }
}

/// Which rejection to show when several codes are in view: the closest to a Roger code.
fn rank(h: ScannerHint) -> u8 {
    match h {
        ScannerHint::UnsupportedVersion => 4,
        ScannerHint::UntrustedHost => 3,
        ScannerHint::Malformed => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairing::payload::TrustedOrigin;
    use crate::qr::frame::LumaImage;

    fn policy() -> PairingPolicy {
        PairingPolicy::new(vec![
            TrustedOrigin::https("eu", "eu.roger.myq.cloud"),
            TrustedOrigin::https("us", "us.roger.myq.cloud"),
        ])
    }

    fn frame_with(text: &str) -> LumaImage {
        roger_qr::screens::sharp_screen(400, 300, &[(text, 6, (60, 40))])
    }

    #[test]
    fn the_full_resolution_passes_take_turns_from_frame_to_frame() {
        // A frame without a code runs every pass it is given.
        let blank = LumaImage::new(400, 300, vec![128; 400 * 300]).expect("valid");
        let passes = |alternate: bool| {
            let mut config = ScannerConfig::new(policy());
            config.alternate_passes = alternate;
            let s = FrameScanner::new(config);
            (0..4)
                .map(|_| {
                    s.submit(&blank.as_frame());
                    s.last_frame().map(|f| f.work.passes)
                })
                .collect::<Vec<_>>()
        };
        // Downscaled, then one full-resolution pass; both when alternation is off.
        assert_eq!(passes(true), vec![Some(2); 4]);
        assert_eq!(passes(false), vec![Some(3); 4]);
    }

    #[test]
    fn reports_a_pairing_code_once_until_reset() {
        let s = FrameScanner::new(ScannerConfig::new(policy()));
        let img = frame_with("https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK");
        let first = s.submit(&img.as_frame());
        match first {
            SubmitOutcome::Processed(Some(ScanEvent::Paired(p))) => {
                assert_eq!(p.user_code.display(), "BCDF-GHJK");
                assert_eq!(p.region_id, "eu");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.submit(&img.as_frame()), SubmitOutcome::AlreadyReported);
        assert!(s.paired().is_some());
        s.reset();
        assert!(s.paired().is_none());
        assert!(matches!(
            s.submit(&img.as_frame()),
            SubmitOutcome::Processed(Some(ScanEvent::Paired(_)))
        ));
    }

    #[test]
    fn a_panic_while_processing_costs_one_frame_not_the_scanner() {
        let s = FrameScanner::new(ScannerConfig::new(policy()));
        let img = frame_with("https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK");
        s.panic_next.store(true, Ordering::SeqCst);
        assert_eq!(s.submit(&img.as_frame()), SubmitOutcome::Processed(None));
        assert!(!s.busy.load(Ordering::SeqCst));
        assert!(matches!(
            s.submit(&img.as_frame()),
            SubmitOutcome::Processed(Some(ScanEvent::Paired(_)))
        ));
    }

    #[test]
    fn drops_frames_while_busy() {
        let s = FrameScanner::new(ScannerConfig::new(policy()));
        let img = frame_with("https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK");
        s.busy.store(true, Ordering::SeqCst);
        assert_eq!(s.submit(&img.as_frame()), SubmitOutcome::Dropped);
        s.busy.store(false, Ordering::SeqCst);
        assert!(matches!(
            s.submit(&img.as_frame()),
            SubmitOutcome::Processed(Some(ScanEvent::Paired(_)))
        ));
    }

    #[test]
    fn concurrent_submits_never_queue() {
        let s = std::sync::Arc::new(FrameScanner::new(ScannerConfig::new(policy())));
        let img = std::sync::Arc::new(frame_with("https://example.com/"));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (s, img) = (s.clone(), img.clone());
                std::thread::spawn(move || {
                    (0..5).map(|_| s.submit(&img.as_frame())).fold(
                        (0, 0),
                        |(processed, dropped), o| match o {
                            SubmitOutcome::Dropped => (processed, dropped + 1),
                            SubmitOutcome::Processed(_) | SubmitOutcome::AlreadyReported => {
                                (processed + 1, dropped)
                            }
                        },
                    )
                })
            })
            .collect();
        let (processed, dropped) = handles
            .into_iter()
            .map(|h| h.join().unwrap_or((0, 0)))
            .fold((0, 0), |(p, d), (hp, hd)| (p + hp, d + hd));
        // Whatever the interleaving, every call came back (none queued behind another), at
        // least one frame was decoded, and a busy scanner left nothing busy behind.
        assert_eq!(processed + dropped, 20);
        assert!(processed >= 1, "every frame was dropped");
        assert!(!s.busy.load(Ordering::SeqCst));
    }

    #[test]
    fn hints_for_foreign_and_untrusted_codes_are_debounced() {
        let mut cfg = ScannerConfig::new(policy());
        cfg.hint_interval = Duration::from_secs(60);
        let s = FrameScanner::new(cfg);
        let other = frame_with("https://example.com/menu");
        assert_eq!(
            s.submit(&other.as_frame()),
            SubmitOutcome::Processed(Some(ScanEvent::Hint(ScannerHint::NotARogerCode)))
        );
        // Same hint again within the interval: nothing new to show.
        assert_eq!(s.submit(&other.as_frame()), SubmitOutcome::Processed(None));
        let evil = frame_with("https://eu.roger.myq.cloud.evil.com/pair?v=1&code=BCDF-GHJK");
        assert_eq!(
            s.submit(&evil.as_frame()),
            SubmitOutcome::Processed(Some(ScanEvent::Hint(ScannerHint::UntrustedHost)))
        );
        assert!(s.paired().is_none());
    }
}
