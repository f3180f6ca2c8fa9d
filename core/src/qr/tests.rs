//! Decode-rate and robustness tests on a small generated corpus (the full corpus is the
//! benchmark's job: `scripts/qr_bench`). Sizes are reduced so the debug-build test run stays fast.

use super::corpus::{generate, Condition, CorpusSpec};
use super::*;

fn small_corpus(per: usize, seed: u64) -> Vec<super::corpus::CorpusFrame> {
    let spec = CorpusSpec {
        sizes: vec![(640, 480)],
        per_condition: per,
        seed,
        conditions: Condition::ALL.to_vec(),
    };
    generate(&spec).collect()
}

/// Minimum share of frames our pipeline must read per condition on the small test corpus
/// (the harshest severities are unreadable by any decoder; the benchmark compares with the
/// best open decoder on the full corpus).
fn floor(c: Condition) -> f64 {
    match c {
        Condition::Scale | Condition::Blur | Condition::Occlusion | Condition::Tilt => 0.5,
        Condition::LowContrast | Condition::Glare => 0.6,
        _ => 0.75,
    }
}

#[test]
fn decode_rate_per_condition() {
    let frames = small_corpus(3, 11);
    let opts = PipelineOptions::default();
    let mut failures = Vec::new();
    for c in Condition::ALL {
        let of_c: Vec<_> = frames.iter().filter(|f| f.condition == c).collect();
        let ok = of_c
            .iter()
            .filter(|f| {
                let out = scan(&f.image.as_frame(), &opts);
                let read = out.codes.iter().any(|d| d.text == f.payload);
                // A frame that reads needs a fraction of the work budget.
                assert!(
                    !read || (!out.work.cut_short && out.work.decodes * 2 <= opts.budget.decodes),
                    "{}: {:?}",
                    f.file,
                    out.work
                );
                read
            })
            .count();
        let rate = ok as f64 / of_c.len() as f64;
        if rate < floor(c) {
            failures.push(format!("{c}: {ok}/{}", of_c.len()));
        }
    }
    assert!(failures.is_empty(), "below the floor: {failures:?}");
}

#[test]
fn plain_rqrr_cannot_read_light_on_dark_but_we_can() {
    let spec = CorpusSpec {
        sizes: vec![(400, 300)],
        per_condition: 2,
        seed: 3,
        conditions: vec![Condition::Inverted],
    };
    for f in generate(&spec) {
        let frame = f.image.as_frame();
        assert!(decode_plain(&frame).iter().all(|d| d.text != f.payload));
        let out = scan(&frame, &PipelineOptions::default());
        assert!(out.codes.iter().any(|d| d.text == f.payload), "{}", f.file);
    }
}

fn two_codes_frame() -> (LumaImage, [String; 2]) {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let a = corpus::random_payload(&mut rng);
    let b = corpus::random_payload(&mut rng);
    let (w, h) = (480, 240);
    let mut data = vec![235u8; w * h];
    for (i, p) in [&a, &b].iter().enumerate() {
        let code = qrcode::QrCode::new(p.as_bytes()).expect("fits");
        let dim = code.width();
        let colors = code.to_colors();
        let scale = 5;
        let (ox, oy) = (20 + i * 240, 20);
        for y in 0..dim * scale {
            for x in 0..dim * scale {
                if colors[(y / scale) * dim + x / scale] == qrcode::Color::Dark {
                    data[(oy + y) * w + ox + x] = 25;
                }
            }
        }
    }
    (LumaImage::new(w, h, data).expect("valid"), [a, b])
}

/// A light frame with `text` drawn as a QR code, `scale` px per module, top-left at `at`.
fn frame_with_code(w: usize, h: usize, text: &str, scale: usize, at: (usize, usize)) -> LumaImage {
    let code = qrcode::QrCode::new(text.as_bytes()).expect("fits");
    let dim = code.width();
    let colors = code.to_colors();
    let mut data = vec![225u8; w * h];
    for y in 0..dim * scale {
        for x in 0..dim * scale {
            if colors[(y / scale) * dim + x / scale] == qrcode::Color::Dark {
                data[(at.1 + y) * w + at.0 + x] = 30;
            }
        }
    }
    LumaImage::new(w, h, data).expect("valid")
}

#[test]
fn a_4k_frame_is_read_from_its_downscaled_view() {
    // 3840x2160 comes down 6x to 640x360 (a 2x2 average per pixel, a ninth of the frame read);
    // 18 px per module there are 3 px, enough for the first, cheap pass.
    let text = "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK";
    let img = frame_with_code(3840, 2160, text, 18, (1500, 700));
    let out = scan(&img.as_frame(), &PipelineOptions::default());
    assert!(out.codes.iter().any(|c| c.text == text), "{out:?}");
    assert_eq!(out.stage, Some(Stage::Downscaled));
    // Corners come back in full-frame pixels.
    let (x0, y0, _, _) = out.codes[0].bounds();
    assert!(
        (x0 - 1500.0).abs() < 30.0 && (y0 - 700.0).abs() < 30.0,
        "{x0} {y0}"
    );
}

#[test]
fn frames_with_several_codes_return_all() {
    let (img, payloads) = two_codes_frame();
    let out = scan(&img.as_frame(), &PipelineOptions::default());
    for p in &payloads {
        assert!(
            out.codes.iter().any(|c| &c.text == p),
            "{p} missing: {out:?}"
        );
    }
}

#[test]
fn strided_rotated_rgba_and_encoded_inputs_decode() {
    let (img, payloads) = two_codes_frame();
    let (w, h) = (img.width, img.height);
    let opts = PipelineOptions::default();
    // A luma plane with row padding (Android rowStride > width), rotated 90°.
    let stride = w + 17;
    let mut padded = vec![0u8; stride * h];
    for y in 0..h {
        padded[y * stride..y * stride + w].copy_from_slice(&img.data[y * w..(y + 1) * w]);
    }
    let f = LumaFrame::new(&padded, w, h, stride, Rotation::Deg90).expect("valid");
    let out = scan(&f, &opts);
    assert_eq!(out.codes.len(), 2);
    // Corners are reported in the upright (rotated) image: inside its bounds.
    let (uw, uh) = Rotation::Deg90.upright_size(w, h);
    for c in &out.codes {
        let (x0, y0, x1, y1) = c.bounds();
        assert!(
            x0 >= 0.0 && y0 >= 0.0 && x1 <= uw as f32 && y1 <= uh as f32,
            "{c:?}"
        );
    }
    // BGRA buffer (iOS).
    let bgra: Vec<u8> = img.data.iter().flat_map(|&v| [v, v, v, 255]).collect();
    let luma = luma_from_rgba(&bgra, w, h, w * 4, PixelOrder::Bgra).expect("valid");
    assert_eq!(luma.data, img.data);
    // PNG and JPEG bytes.
    let gray = image::GrayImage::from_raw(w as u32, h as u32, img.data.clone()).expect("size");
    for fmt in [image::ImageFormat::Png, image::ImageFormat::Jpeg] {
        let mut bytes = std::io::Cursor::new(Vec::new());
        gray.write_to(&mut bytes, fmt).expect("encode");
        let decoded = luma_from_encoded(bytes.get_ref()).expect("decode");
        let out = scan(&decoded.as_frame(), &opts);
        for p in &payloads {
            assert!(out.codes.iter().any(|c| &c.text == p), "{fmt:?}");
        }
    }
}

#[test]
fn garbage_frames_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let opts = PipelineOptions::default();
    for i in 0..12 {
        let w = rng.random_range(1..200);
        let h = rng.random_range(1..200);
        let data: Vec<u8> = match i % 3 {
            0 => (0..w * h).map(|_| rng.random()).collect(),
            1 => (0..w * h)
                .map(|j| if (j / 3) % 2 == 0 { 0 } else { 255 })
                .collect(),
            _ => vec![rng.random(); w * h],
        };
        let f = LumaFrame::packed(&data, w, h).expect("valid");
        let _ = scan(&f, &opts);
        let _ = decode_plain(&f);
    }
}

/// A 320x320 frame with a clean code whose data area is wiped: finder patterns present,
/// nothing decodable.
fn wiped_code_frame() -> LumaImage {
    let code =
        qrcode::QrCode::new(b"https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK").expect("fits");
    let dim = code.width();
    let colors = code.to_colors();
    let scale = 6;
    let (w, h) = (320, 320);
    let mut data = vec![230u8; w * h];
    for y in 0..dim * scale {
        for x in 0..dim * scale {
            let (mx, my) = (x / scale, y / scale);
            let in_finder = (mx < 8 || my < 8)
                && !(mx >= dim - 8 && my >= dim - 8)
                && (mx < 8 || mx >= dim - 8)
                && (my < 8 || my >= dim - 8);
            let dark = if in_finder {
                colors[my * dim + mx] == qrcode::Color::Dark
            } else {
                (mx + my) % 3 == 0
            };
            if dark {
                data[(30 + y) * w + 30 + x] = 20;
            }
        }
    }
    LumaImage::new(w, h, data).expect("valid")
}

#[test]
fn hint_when_a_code_is_seen_but_not_read() {
    let out = scan(&wiped_code_frame().as_frame(), &PipelineOptions::default());
    assert!(out.codes.is_empty());
    assert_eq!(out.hint, Some(ScanHint::Unreadable));
}

/// A sheet of real version-2 codes, `module` px per module, the centre of each data area
/// scrambled: every probe, placement and function-pattern check passes and rqrr then fails in
/// error correction, so each code asks for the most work a code can.
fn damaged_sheet(w: usize, h: usize, module: usize) -> LumaImage {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let code = qrcode::QrCode::with_version(
        b"https://eu.roger.myq.cloud/p",
        qrcode::Version::Normal(2),
        qrcode::EcLevel::L,
    )
    .expect("fits version 2");
    let dim = code.width();
    let colors = code.to_colors();
    let mut data = vec![230u8; w * h];
    let pitch = (dim + 6) * module;
    let mut oy = 3 * module;
    while oy + dim * module < h {
        let mut ox = 3 * module;
        while ox + dim * module < w {
            for my in 0..dim {
                for mx in 0..dim {
                    let scrambled = (9..16).contains(&mx) && (9..16).contains(&my);
                    let dark = if scrambled {
                        rng.random_bool(0.5)
                    } else {
                        colors[my * dim + mx] == qrcode::Color::Dark
                    };
                    if dark {
                        for y in 0..module {
                            let row = (oy + my * module + y) * w + ox + mx * module;
                            data[row..row + module].fill(25);
                        }
                    }
                }
            }
            ox += pitch;
        }
        oy += pitch;
    }
    LumaImage::new(w, h, data).expect("valid")
}

/// Random light and dark runs of 1 to 6 px, each row repeated 1 to 4 times: finder-pattern
/// ratios everywhere, thousands of cross-checks.
fn run_noise(w: usize, h: usize) -> LumaImage {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut data = vec![0u8; w * h];
    let mut y = 0;
    while y < h {
        let mut row = vec![0u8; w];
        let (mut x, mut v) = (0, 30u8);
        while x < w {
            let end = (x + rng.random_range(1..7)).min(w);
            row[x..end].fill(v);
            x = end;
            v = if v == 30 { 220 } else { 30 };
        }
        for _ in 0..rng.random_range(1..5) {
            if y < h {
                data[y * w..(y + 1) * w].copy_from_slice(&row);
                y += 1;
            }
        }
    }
    LumaImage::new(w, h, data).expect("valid")
}

const UNBOUNDED: WorkBudget = WorkBudget {
    cross_checks: usize::MAX,
    placements: usize::MAX,
    decodes: usize::MAX,
};

fn within(w: &Work, b: &WorkBudget) -> bool {
    w.cross_checks <= b.cross_checks && w.placements <= b.placements && w.decodes <= b.decodes
}

#[test]
fn a_sheet_of_damaged_codes_costs_at_most_the_budget() {
    let img = damaged_sheet(640, 480, 6);
    let budget = WorkBudget::default();
    // Left alone, the frame asks for more placements and decodes than the budget allows.
    let free = scan(
        &img.as_frame(),
        &PipelineOptions {
            budget: UNBOUNDED,
            ..Default::default()
        },
    );
    assert!(free.codes.is_empty() && !free.work.cut_short);
    assert!(
        free.work.placements > budget.placements,
        "not pathological enough: {:?}",
        free.work
    );
    // With the default budget the frame stops there, and says so.
    let out = scan(&img.as_frame(), &PipelineOptions::default());
    assert!(out.codes.is_empty());
    assert!(out.work.cut_short, "{:?}", out.work);
    assert!(within(&out.work, &budget), "{:?} over {budget:?}", out.work);
    assert_eq!(out.work.placements, budget.placements);
    // The codes are still seen: the user is told to hold steady.
    assert_eq!(out.hint, Some(ScanHint::Unreadable));
    // Probes are bounded by the pipeline's shape: at most 5 grid sizes for each of at most
    // 12 triples per pass.
    assert!(out.work.probes <= 60 * out.work.passes, "{:?}", out.work);
}

#[test]
fn any_budget_is_honoured_to_the_unit() {
    let sheet = damaged_sheet(640, 480, 6);
    let noise = run_noise(640, 480);
    for budget in [
        WorkBudget {
            cross_checks: 500,
            placements: 4,
            decodes: 2,
        },
        WorkBudget {
            cross_checks: 3000,
            placements: 1,
            decodes: 0,
        },
        WorkBudget {
            cross_checks: 0,
            placements: 10,
            decodes: 10,
        },
    ] {
        let opts = PipelineOptions {
            budget,
            ..Default::default()
        };
        for img in [&sheet, &noise] {
            let out = scan(&img.as_frame(), &opts);
            assert!(within(&out.work, &budget), "{:?} over {budget:?}", out.work);
            assert!(out.work.cut_short, "{:?} under {budget:?}", out.work);
        }
    }
    // Finder-like noise: thousands of cross-checks, cut at the budget.
    let free = scan(
        &noise.as_frame(),
        &PipelineOptions {
            budget: UNBOUNDED,
            ..Default::default()
        },
    );
    assert!(free.work.cross_checks > 3000, "{:?}", free.work);
}

/// `img` moved by `(dx, dy)` pixels (a hand shaking between frames), edges repeated.
fn shifted(img: &LumaImage, dx: isize, dy: isize) -> LumaImage {
    let (w, h) = (img.width, img.height);
    let mut data = vec![0u8; w * h];
    for y in 0..h {
        let sy = (y as isize - dy).clamp(0, h as isize - 1) as usize;
        for x in 0..w {
            let sx = (x as isize - dx).clamp(0, w as isize - 1) as usize;
            data[y * w + x] = img.data[sy * w + sx];
        }
    }
    LumaImage::new(w, h, data).expect("valid")
}

/// `img` under a box blur of radius `r` (badly out of focus), done twice, each separably.
fn defocused(img: &LumaImage, r: usize) -> LumaImage {
    let (w, h) = (img.width, img.height);
    // One 1-D pass along `n` lines of `len` pixels, `step` apart within a line.
    let pass = |src: &[u8], n: usize, len: usize, line: usize, step: usize| {
        let mut out = vec![0u8; w * h];
        for l in 0..n {
            for i in 0..len {
                let (i0, i1) = (i.saturating_sub(r), (i + r + 1).min(len));
                let sum: u32 = (i0..i1).map(|j| src[l * line + j * step] as u32).sum();
                out[l * line + i * step] = (sum / (i1 - i0) as u32) as u8;
            }
        }
        out
    };
    let mut cur = img.data.clone();
    for _ in 0..2 {
        cur = pass(&cur, h, w, w, 1);
        cur = pass(&cur, w, h, 1, w);
    }
    LumaImage::new(w, h, cur).expect("valid")
}

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
    let wiped = wiped_code_frame();
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

/// A light screen showing each `(text, px per module, top-left)` as a QR code, under a
/// slight defocus (a camera, not a screenshot).
fn screen_with_codes(w: usize, h: usize, codes: &[(&str, usize, (usize, usize))]) -> LumaImage {
    let mut data = vec![225u8; w * h];
    for &(text, scale, at) in codes {
        let code = qrcode::QrCode::new(text.as_bytes()).expect("fits");
        let dim = code.width();
        let colors = code.to_colors();
        for y in 0..dim * scale {
            for x in 0..dim * scale {
                if colors[(y / scale) * dim + x / scale] == qrcode::Color::Dark {
                    data[(at.1 + y) * w + at.0 + x] = 30;
                }
            }
        }
    }
    defocused(&LumaImage::new(w, h, data).expect("valid"), 1)
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
            within(&out.work, &opts.budget) && !out.work.cut_short,
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
    assert!(
        within(&stats.work, &WorkBudget::default()),
        "{:?}",
        stats.work
    );
}
