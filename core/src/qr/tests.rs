//! The camera-rate scanner on hand-made screens: a hand-held stream, the pairing code next to
//! other codes, other codes alone (the decoding itself is tested in `roger-qr`).

use super::*;
use roger_qr::screens::{defocused, screen_with_codes, shifted, wiped_code_screen};

#[test]
fn a_camera_stream_reports_each_code_once_and_carries_the_region() {
    use crate::pairing::payload::{PairingPolicy, TrustedOrigin};
    use rand::SeedableRng;

    let code_a = "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK";
    let code_b = "https://eu.roger.myq.cloud/pair?v=1&code=LMNP-QRST";
    // The printer's screen seen by the phone; the same seed gives the same screen and camera
    // pose, so the code that replaces an expired one sits where the old one was.
    let screen = |payload: &str| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
        corpus::render_frame(640, 480, corpus::Condition::Clean, payload, &mut rng)
    };
    let a = screen(code_a);
    let b = screen(code_b);
    let menu = {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(22);
        let payload = "https://example.com/menu";
        corpus::render_frame(640, 480, corpus::Condition::Clean, payload, &mut rng)
    };
    let nothing = LumaImage::new(640, 480, vec![200u8; 640 * 480]).expect("valid");

    let mut config = ScannerConfig::new(PairingPolicy::new(vec![TrustedOrigin::https(
        "eu",
        "eu.roger.myq.cloud",
    )]));
    config.hint_interval = std::time::Duration::from_secs(60);
    let s = FrameScanner::new(config);
    let mut paired = Vec::new();
    let mut submit = |img: &LumaImage| {
        let out = s.submit(&img.as_frame());
        if let SubmitOutcome::Processed(Some(ScanEvent::Paired(p))) = &out {
            paired.push(p.user_code.display());
        }
        let stats = s.last_frame().expect("the frame was decoded");
        (out, stats)
    };
    let stage = |stats: FrameStats| stats.stage;

    // Aiming: nothing in view, then the code out of focus, a damaged code, another QR code.
    let (out, stats) = submit(&nothing);
    assert_eq!(out, SubmitOutcome::Processed(None));
    // Downscaled, then this frame's turn of the full-resolution passes.
    assert_eq!((stats.stage, stats.work.passes), (None, 2));
    let (out, _) = submit(&defocused(&a, 6));
    assert!(
        matches!(
            out,
            SubmitOutcome::Processed(None | Some(ScanEvent::Hint(_)))
        ),
        "{out:?}"
    );
    let wiped = wiped_code_screen();
    let hold_steady = SubmitOutcome::Processed(Some(ScanEvent::Hint(ScannerHint::HoldSteady)));
    assert_eq!(submit(&wiped).0, hold_steady);
    // The same hint again within the interval: nothing new to show.
    assert_eq!(submit(&wiped).0, SubmitOutcome::Processed(None));
    let not_roger = SubmitOutcome::Processed(Some(ScanEvent::Hint(ScannerHint::NotARogerCode)));
    assert_eq!(submit(&menu).0, not_roger);

    // The code comes into focus: reported once, then the shaking frames after it are read in
    // the region the frame before reported, and not reported again.
    let (out, _) = submit(&a);
    assert!(
        matches!(out, SubmitOutcome::Processed(Some(ScanEvent::Paired(_)))),
        "{out:?}"
    );
    for (dx, dy) in [(4, 3), (-3, 2), (2, -4)] {
        let (out, stats) = submit(&shifted(&a, dx, dy));
        assert_eq!(out, SubmitOutcome::AlreadyReported);
        assert_eq!((stage(stats), stats.work.passes), (Some(Stage::Roi), 1));
    }

    // The printer's code expires and it shows a new one in the same place: reported at once,
    // still through the carried region; then debounced like the first.
    let (out, stats) = submit(&b);
    assert!(
        matches!(out, SubmitOutcome::Processed(Some(ScanEvent::Paired(_)))),
        "{out:?}"
    );
    assert_eq!(stage(stats), Some(Stage::Roi));
    assert_eq!(
        submit(&shifted(&b, -2, 1)).0,
        SubmitOutcome::AlreadyReported
    );
    // A code reported before stays reported, even after another one.
    assert_eq!(submit(&a).0, SubmitOutcome::AlreadyReported);
    assert_eq!(
        s.paired().map(|p| p.user_code.display()),
        Some("LMNP-QRST".to_string())
    );

    // Reset (the approval failed, the user scans again): the region and the reported codes
    // are forgotten, so the same code is reported again, found by a whole-frame scan.
    s.reset();
    assert!(s.paired().is_none() && s.last_frame().is_none());
    let (out, stats) = submit(&b);
    assert!(
        matches!(out, SubmitOutcome::Processed(Some(ScanEvent::Paired(_)))),
        "{out:?}"
    );
    assert_eq!(stage(stats), Some(Stage::Downscaled));

    assert_eq!(paired, ["BCDF-GHJK", "LMNP-QRST", "LMNP-QRST"]);
}

const APP_LINK: &str = "https://www.myq-solution.com/roger/app";
const HELP_LINK: &str =
    "https://docs.myq-solution.com/roger/en/mobile-app/pairing-with-a-printer.html";

fn roger_eu() -> crate::pairing::payload::PairingPolicy {
    use crate::pairing::payload::{PairingPolicy, TrustedOrigin};
    PairingPolicy::new(vec![TrustedOrigin::https("eu", "eu.roger.myq.cloud")])
}

#[test]
fn the_pairing_code_is_found_next_to_other_codes_of_several_sizes() {
    let pairing = "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK";
    let policy = roger_eu();
    let is_pairing = |t: &str| crate::pairing::payload::parse_pairing_payload(t, &policy).is_ok();
    let opts = PipelineOptions::default();
    // (screen, whether the first step alone misses the pairing code)
    let screens = [
        // A large app link and a small pairing code: the downscaled first step reads only the
        // link; stopping there would tell the user "not a Roger code".
        (
            screen_with_codes(
                1280,
                720,
                &[(APP_LINK, 12, (80, 120)), (pairing, 3, (800, 300))],
            ),
            true,
        ),
        // Two other codes, a large and a middle one, then the small pairing code.
        (
            screen_with_codes(
                1280,
                720,
                &[
                    (HELP_LINK, 8, (40, 40)),
                    (APP_LINK, 6, (520, 60)),
                    (pairing, 3, (900, 420)),
                ],
            ),
            true,
        ),
        // The pairing code is the large one: read at once, the small link does not matter.
        (
            screen_with_codes(
                640,
                480,
                &[(pairing, 6, (40, 60)), (APP_LINK, 3, (420, 300))],
            ),
            false,
        ),
        // Same sizes side by side.
        (
            screen_with_codes(
                640,
                480,
                &[(APP_LINK, 5, (20, 100)), (pairing, 5, (330, 100))],
            ),
            false,
        ),
    ];
    for (i, (img, first_step_misses)) in screens.iter().enumerate() {
        let f = img.as_frame();
        let any = scan(&f, &opts);
        assert_eq!(
            *first_step_misses,
            !any.codes.iter().any(|c| c.text == pairing),
            "screen {i}: {any:?}"
        );
        let out = scan_until(&f, &opts, None, &is_pairing);
        assert!(
            out.codes.iter().any(|c| c.text == pairing),
            "screen {i}: {out:?}"
        );
        assert!(
            out.work.fits(&opts.budget) && !out.work.cut_short,
            "{:?}",
            out.work
        );
        // Every code returned is one the screen shows.
        assert!(out
            .codes
            .iter()
            .all(|c| [pairing, APP_LINK, HELP_LINK].contains(&c.text.as_str())));
        // The region carried to the next frame is the pairing code's: the next frame reads it
        // from the region of interest alone.
        let next = scan_until(&f, &opts, out.region, &is_pairing);
        assert_eq!(next.stage, Some(Stage::Roi), "screen {i}");
        assert!(next.codes.iter().any(|c| c.text == pairing));
        // The phone's scanner reports the pairing code, not "not a Roger code".
        let s = FrameScanner::new(ScannerConfig::new(policy.clone()));
        match s.submit(&f) {
            SubmitOutcome::Processed(Some(ScanEvent::Paired(p))) => {
                assert_eq!(p.user_code.display(), "BCDF-GHJK")
            }
            other => panic!("screen {i}: {other:?}"),
        }
    }
}

#[test]
fn other_codes_alone_are_not_a_roger_code_after_every_step() {
    let policy = roger_eu();
    let img = screen_with_codes(
        1280,
        720,
        &[(APP_LINK, 12, (80, 120)), (HELP_LINK, 4, (700, 200))],
    );
    let mut config = ScannerConfig::new(policy);
    config.alternate_passes = false;
    let s = FrameScanner::new(config);
    assert_eq!(
        s.submit(&img.as_frame()),
        SubmitOutcome::Processed(Some(ScanEvent::Hint(ScannerHint::NotARogerCode)))
    );
    // Every step ran (nothing accepted), within the budget.
    let stats = s.last_frame().expect("decoded");
    assert_eq!(stats.work.passes, 3);
    assert!(stats.work.fits(&WorkBudget::default()), "{:?}", stats.work);
}
