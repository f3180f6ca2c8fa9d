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
    screens::sharp_screen(w, h, &[(text, scale, at)])
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

#[test]
fn hint_when_a_code_is_seen_but_not_read() {
    let out = scan(
        &screens::wiped_code_screen().as_frame(),
        &PipelineOptions::default(),
    );
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
    assert!(out.work.fits(&budget), "{:?} over {budget:?}", out.work);
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
            assert!(out.work.fits(&budget), "{:?} over {budget:?}", out.work);
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
