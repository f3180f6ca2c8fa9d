//! Synthetic, reproducible QR test corpus: MFP-touch-screen-like camera frames.
//!
//! Each frame shows a printer screen (a light panel with some UI clutter, or a dark one for
//! light-on-dark codes) holding a Roger pairing QR code, seen by a phone camera: perspective,
//! rotation, distance, then one degradation per condition (blur, noise, low contrast, glare,
//! screen moiré, JPEG artefacts, partial occlusion). Every frame also gets a little of the
//! everyday camera defects (slight tilt, blur and sensor noise), so "clean" is a realistic
//! best case, not a synthetic perfect image. Frames come from a seeded ChaCha RNG: the same
//! seed gives the same corpus on every machine, so no binary blobs live in git.
//!
//! Layout written by [`write_corpus`] (and read by the benchmark, which also reads any outside
//! corpus in the same layout): `manifest.csv` with columns `file,condition,width,height,payload`
//! and the frames as 8-bit grayscale PNG under `corpus/`.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::detect::{Homography, PointF};
use super::frame::LumaImage;

/// The characters of a pairing user code (`roger_core::pairing::payload::USER_CODE_ALPHABET`,
/// which a test there checks against this one): the corpus shows real pairing payloads.
pub const USER_CODE_ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

/// One degradation family of the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    /// Everyday camera conditions only.
    Clean,
    /// Strong perspective (phone not parallel to the screen).
    Tilt,
    /// Any in-plane rotation.
    Rotation,
    /// Small code (far away): about 2 to 5 px per module.
    Scale,
    /// Out of focus / motion blur.
    Blur,
    /// Sensor noise (dim light).
    Noise,
    /// Washed-out screen: small grey-level difference between modules.
    LowContrast,
    /// A bright reflection across part of the code.
    Glare,
    /// Interference between the screen's pixel grid and the sensor.
    Moire,
    /// Light-on-dark code (dark-mode MFP screen).
    Inverted,
    /// Heavy JPEG compression.
    Jpeg,
    /// Part of the code hidden (a finger, a sticker, a screen bezel).
    Occlusion,
}

impl Condition {
    /// All conditions, in report order.
    pub const ALL: [Condition; 12] = [
        Condition::Clean,
        Condition::Tilt,
        Condition::Rotation,
        Condition::Scale,
        Condition::Blur,
        Condition::Noise,
        Condition::LowContrast,
        Condition::Glare,
        Condition::Moire,
        Condition::Inverted,
        Condition::Jpeg,
        Condition::Occlusion,
    ];

    /// Name used in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Condition::Clean => "clean",
            Condition::Tilt => "tilt",
            Condition::Rotation => "rotation",
            Condition::Scale => "scale",
            Condition::Blur => "blur",
            Condition::Noise => "noise",
            Condition::LowContrast => "low_contrast",
            Condition::Glare => "glare",
            Condition::Moire => "moire",
            Condition::Inverted => "inverted",
            Condition::Jpeg => "jpeg",
            Condition::Occlusion => "occlusion",
        }
    }

    /// Parses a manifest name.
    pub fn from_name(s: &str) -> Option<Condition> {
        Condition::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct CorpusSpec {
    /// Frame sizes (width, height).
    pub sizes: Vec<(usize, usize)>,
    /// Frames per condition and size.
    pub per_condition: usize,
    /// RNG seed.
    pub seed: u64,
    /// Conditions to generate.
    pub conditions: Vec<Condition>,
}

impl CorpusSpec {
    /// The benchmark corpus: 640x480, 1280x720 and 1920x1080, `per_condition` frames each.
    pub fn benchmark(per_condition: usize) -> Self {
        CorpusSpec {
            sizes: vec![(640, 480), (1280, 720), (1920, 1080)],
            per_condition,
            seed: 0x005E_ED0F_4047,
            conditions: Condition::ALL.to_vec(),
        }
    }
}

/// One generated frame with its ground truth.
#[derive(Debug, Clone)]
pub struct CorpusFrame {
    /// File name under `corpus/`.
    pub file: String,
    /// Condition.
    pub condition: Condition,
    /// The encoded payload (what a perfect decoder returns).
    pub payload: String,
    /// The frame.
    pub image: LumaImage,
}

/// A random pairing payload of the shape the reference server emits.
pub fn random_payload(rng: &mut impl Rng) -> String {
    let host = if rng.random_bool(0.5) {
        "eu.roger.myq.cloud"
    } else {
        "us.roger.myq.cloud"
    };
    let a = USER_CODE_ALPHABET.as_bytes();
    let code: String = (0..8)
        .map(|_| a[rng.random_range(0..a.len())] as char)
        .collect();
    format!("https://{host}/pair?v=1&code={}-{}", &code[..4], &code[4..])
}

/// Generates the corpus frames, one at a time (1080p frames are 2 MB each).
pub fn generate(spec: &CorpusSpec) -> impl Iterator<Item = CorpusFrame> + '_ {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut jobs = Vec::new();
    for &(w, h) in &spec.sizes {
        for &c in &spec.conditions {
            for i in 0..spec.per_condition {
                jobs.push((w, h, c, i, rng.random::<u64>()));
            }
        }
    }
    jobs.into_iter().map(|(w, h, c, i, seed)| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let payload = random_payload(&mut rng);
        let image = render_frame(w, h, c, &payload, &mut rng);
        CorpusFrame {
            file: format!("{}_{}x{}_{:03}.png", c.name(), w, h, i),
            condition: c,
            payload,
            image,
        }
    })
}

/// Writes `manifest.csv` and `corpus/*.png` under `dir`.
pub fn write_corpus(dir: &Path, spec: &CorpusSpec) -> io::Result<usize> {
    let frames_dir = dir.join("corpus");
    std::fs::create_dir_all(&frames_dir)?;
    let mut manifest = io::BufWriter::new(std::fs::File::create(dir.join("manifest.csv"))?);
    writeln!(manifest, "file,condition,width,height,payload")?;
    let mut n = 0;
    for f in generate(spec) {
        let img =
            image::GrayImage::from_raw(f.image.width as u32, f.image.height as u32, f.image.data)
                .ok_or_else(|| io::Error::other("bad frame buffer"))?;
        img.save_with_format(frames_dir.join(&f.file), image::ImageFormat::Png)
            .map_err(io::Error::other)?;
        writeln!(
            manifest,
            "{},{},{},{},{}",
            f.file, f.condition, f.image.width, f.image.height, f.payload
        )?;
        n += 1;
    }
    manifest.flush()?;
    Ok(n)
}

struct Rect {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
    grey: f32,
}

/// Renders one frame.
pub fn render_frame(
    w: usize,
    h: usize,
    cond: Condition,
    payload: &str,
    rng: &mut impl Rng,
) -> LumaImage {
    let ec = match rng.random_range(0..10) {
        0..=1 => qrcode::EcLevel::L,
        2..=7 => qrcode::EcLevel::M,
        _ => qrcode::EcLevel::Q,
    };
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), ec)
        .or_else(|_| qrcode::QrCode::new(payload.as_bytes()))
        .expect("payload fits a QR code");
    let dim = code.width();
    let modules: Vec<bool> = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    let d = dim as f32;
    let side = w.min(h) as f32;

    // Camera geometry: code size, rotation, tilt, position.
    let frac = match cond {
        Condition::Scale => rng.random_range(0.15..0.28),
        _ => rng.random_range(0.32..0.62),
    };
    let size = side * frac;
    let angle: f32 = match cond {
        Condition::Rotation => rng.random_range(0.0..std::f32::consts::TAU),
        _ => rng.random_range(-12f32..12.0).to_radians(),
    };
    let tilt = match cond {
        Condition::Tilt => rng.random_range(0.15..0.32),
        _ => rng.random_range(0.0..0.06),
    };
    let (sa, ca) = angle.sin_cos();
    // Perspective: shrink one edge (the far side) and grow the opposite one.
    let tilt_dir = rng.random_range(0..4);
    let half = size / 2.0;
    let mut quad = [(-half, -half), (half, -half), (half, half), (-half, half)];
    for (i, q) in quad.iter_mut().enumerate() {
        let far = match tilt_dir {
            0 => i < 2,
            1 => i == 1 || i == 2,
            2 => i >= 2,
            _ => i == 0 || i == 3,
        };
        let s = if far { 1.0 - tilt } else { 1.0 + tilt * 0.5 };
        let jitter = size * 0.01;
        q.0 = q.0 * s + rng.random_range(-jitter..jitter);
        q.1 = q.1 * s + rng.random_range(-jitter..jitter);
    }
    let rel = quad.map(|(x, y)| (x * ca - y * sa, x * sa + y * ca));
    // Keep the whole code in the frame, with a quiet-zone margin.
    let margin = size / d * 5.0;
    let place = |lo: f32, hi: f32, extent: f32, rng: &mut dyn rand::RngCore| {
        let (a, b) = (margin - lo, extent - margin - hi);
        if a < b {
            a + (b - a) * (rng.next_u32() as f32 / u32::MAX as f32)
        } else {
            extent / 2.0
        }
    };
    let (minx, maxx) = rel
        .iter()
        .fold((f32::MAX, f32::MIN), |m, p| (m.0.min(p.0), m.1.max(p.0)));
    let (miny, maxy) = rel
        .iter()
        .fold((f32::MAX, f32::MIN), |m, p| (m.0.min(p.1), m.1.max(p.1)));
    let cx = place(minx, maxx, w as f32, rng);
    let cy = place(miny, maxy, h as f32, rng);
    let dst = rel.map(|(x, y)| PointF {
        x: cx + x,
        y: cy + y,
    });
    let src = [
        PointF { x: 0.0, y: 0.0 },
        PointF { x: d, y: 0.0 },
        PointF { x: d, y: d },
        PointF { x: 0.0, y: d },
    ];
    // Image -> module space.
    let inv = Homography::quad_to_quad(dst, src);

    // Screen and scene colours.
    let inverted = cond == Condition::Inverted;
    let (mut light, mut dark) = if inverted {
        (rng.random_range(20.0..45.0), rng.random_range(190.0..235.0))
    } else {
        (rng.random_range(195.0..240.0), rng.random_range(15.0..55.0))
    };
    if cond == Condition::LowContrast {
        let mid = rng.random_range(90.0..170.0);
        let span: f32 = rng.random_range(18.0..36.0);
        let (lo, hi) = (mid - span / 2.0, mid + span / 2.0);
        (light, dark) = if inverted { (lo, hi) } else { (hi, lo) };
    }
    // The screen extends beyond the code (quiet zone of 4 modules, then UI).
    let (sx0, sy0) = (-rng.random_range(6.0..14.0), -rng.random_range(8.0..14.0));
    let (sx1, sy1) = (
        d + rng.random_range(6.0..14.0),
        d + rng.random_range(5.0..10.0),
    );
    let mut ui = Vec::new();
    for _ in 0..rng.random_range(3..9) {
        // Text-like bars in the margins (at least 5 modules from the code).
        let horizontal = rng.random_bool(0.5);
        let (x0, y0) = if horizontal {
            (
                rng.random_range(sx0..d),
                if rng.random_bool(0.5) {
                    rng.random_range(sy0..-6.0)
                } else {
                    rng.random_range(d + 5.0..sy1.max(d + 5.5))
                },
            )
        } else {
            (
                if rng.random_bool(0.5) {
                    rng.random_range(sx0..-6.0)
                } else {
                    rng.random_range(d + 5.0..sx1.max(d + 5.5))
                },
                rng.random_range(0.0..d),
            )
        };
        let (bw, bh) = if horizontal {
            (rng.random_range(3.0..12.0), rng.random_range(0.6..1.5))
        } else {
            (rng.random_range(0.6..1.5), rng.random_range(3.0..8.0))
        };
        ui.push(Rect {
            x0,
            y0,
            x1: x0 + bw,
            y1: y0 + bh,
            grey: dark * 0.7 + light * 0.3,
        });
    }
    let bezel = rng.random_range(40.0..110.0);
    let bg_a = rng.random_range(90.0..200.0);
    let bg_b = rng.random_range(60.0..220.0);

    let screen = |u: f32, v: f32| -> f32 {
        if u >= 0.0 && v >= 0.0 && u < d && v < d {
            let (mx, my) = (u as usize, v as usize);
            return if modules[my * dim + mx] { dark } else { light };
        }
        if u >= sx0 && v >= sy0 && u < sx1 && v < sy1 {
            for r in &ui {
                if u >= r.x0 && u < r.x1 && v >= r.y0 && v < r.y1 {
                    return r.grey;
                }
            }
            return light;
        }
        // Printer body around the screen, then the room.
        if u >= sx0 - 6.0 && v >= sy0 - 6.0 && u < sx1 + 6.0 && v < sy1 + 12.0 {
            return bezel;
        }
        -1.0
    };

    // Render with 2x2 supersampling (anti-aliasing like a real lens + sensor).
    let mut img = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let p = inv.map(x as f32 + ox, y as f32 + oy);
                let v = screen(p.x, p.y);
                acc += if v < 0.0 {
                    bg_a + (bg_b - bg_a) * (x as f32 / w as f32)
                } else {
                    v
                };
            }
            img[y * w + x] = acc / 4.0;
        }
    }

    let module_px = size / d;
    // Condition-specific degradations.
    match cond {
        Condition::Moire => {
            let amp = rng.random_range(0.2..0.45);
            let period = rng.random_range(5.0..25.0);
            let th: f32 = rng.random_range(0.0..std::f32::consts::PI);
            let (fx, fy) = (th.cos() / period, th.sin() / period);
            let fine = rng.random_range(2.1..3.4);
            for y in 0..h {
                for x in 0..w {
                    let p = inv.map(x as f32, y as f32);
                    if screen(p.x, p.y) < 0.0 {
                        continue;
                    }
                    let beat = (std::f32::consts::TAU * (fx * x as f32 + fy * y as f32)).sin();
                    let grid = (std::f32::consts::TAU * (x as f32 / fine)).sin()
                        * (std::f32::consts::TAU * (y as f32 / fine)).sin();
                    let v = &mut img[y * w + x];
                    *v *= 1.0 - amp * (0.5 + 0.5 * beat) * (0.6 + 0.4 * grid);
                }
            }
        }
        Condition::Glare => {
            let q = dst[rng.random_range(0..4)];
            let gx = cx + (q.x - cx) * rng.random_range(0.0..0.8);
            let gy = cy + (q.y - cy) * rng.random_range(0.0..0.8);
            let r = size * rng.random_range(0.25..0.5);
            let strength = rng.random_range(120.0..230.0);
            for y in 0..h {
                for x in 0..w {
                    let d2 = (x as f32 - gx).powi(2) + (y as f32 - gy).powi(2);
                    let g = strength * (-d2 / (2.0 * r * r)).exp();
                    let v = &mut img[y * w + x];
                    // Reflections add light and wash out: v + g * (1 - v/255).
                    *v += g * (1.0 - *v / 300.0);
                }
            }
        }
        Condition::Occlusion => {
            // A finger-like blob over part of the data area (not over a finder pattern).
            let (u0, v0) = match rng.random_range(0..3) {
                0 => (
                    d * rng.random_range(0.55..0.8),
                    d * rng.random_range(0.55..0.8),
                ),
                1 => (
                    d * rng.random_range(0.35..0.6),
                    d * rng.random_range(0.75..0.95),
                ),
                _ => (
                    d * rng.random_range(0.75..0.95),
                    d * rng.random_range(0.35..0.6),
                ),
            };
            let ru = d * rng.random_range(0.1..0.17);
            let rv = d * rng.random_range(0.1..0.17);
            let skin = rng.random_range(90.0..170.0);
            for y in 0..h {
                for x in 0..w {
                    let p = inv.map(x as f32 + 0.5, y as f32 + 0.5);
                    let e = ((p.x - u0) / ru).powi(2) + ((p.y - v0) / rv).powi(2);
                    if e < 1.0 {
                        img[y * w + x] = skin + 20.0 * e;
                    }
                }
            }
        }
        _ => {}
    }

    // Optics: everyone gets a little blur; the blur condition a lot.
    let sigma = match cond {
        Condition::Blur => module_px * rng.random_range(0.25..0.5),
        _ => rng.random_range(0.4..0.9),
    };
    gaussian_blur(&mut img, w, h, sigma);

    // Sensor noise.
    let noise = match cond {
        Condition::Noise => rng.random_range(14.0..32.0),
        _ => rng.random_range(1.0..4.0),
    };
    let mut out = Vec::with_capacity(w * h);
    for v in img {
        // Sum of uniforms ~ gaussian (variance of U(-1,1) is 1/3; 3 of them: 1).
        let n: f32 = (0..3).map(|_| rng.random_range(-1.0f32..1.0)).sum();
        out.push((v + n * noise).round().clamp(0.0, 255.0) as u8);
    }

    let mut image = LumaImage {
        width: w,
        height: h,
        data: out,
    };
    if cond == Condition::Jpeg {
        let q = rng.random_range(10..30);
        image = jpeg_roundtrip(&image, q).unwrap_or(image);
    }
    image
}

pub(crate) fn jpeg_roundtrip(img: &LumaImage, quality: u8) -> Option<LumaImage> {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality);
    image::ImageEncoder::write_image(
        enc,
        &img.data,
        img.width as u32,
        img.height as u32,
        image::ExtendedColorType::L8,
    )
    .ok()?;
    super::frame::luma_from_encoded(&buf).ok()
}

/// Separable gaussian blur (three box passes), in place.
pub(crate) fn gaussian_blur(img: &mut [f32], w: usize, h: usize, sigma: f32) {
    if sigma < 0.3 {
        return;
    }
    // Box radius for 3 passes approximating the sigma.
    let r = (((12.0 * sigma * sigma / 3.0 + 1.0).sqrt() - 1.0) / 2.0).round() as usize;
    let r = r.max(1);
    let mut tmp = vec![0f32; w.max(h)];
    for _ in 0..3 {
        for y in 0..h {
            box_line(&mut img[y * w..(y + 1) * w], &mut tmp, r);
        }
        let mut col = vec![0f32; h];
        for x in 0..w {
            for y in 0..h {
                col[y] = img[y * w + x];
            }
            box_line(&mut col, &mut tmp, r);
            for y in 0..h {
                img[y * w + x] = col[y];
            }
        }
    }
}

#[allow(clippy::needless_range_loop)]
fn box_line(line: &mut [f32], tmp: &mut [f32], r: usize) {
    let n = line.len();
    let mut acc = 0.0;
    let get = |i: isize| line[i.clamp(0, n as isize - 1) as usize];
    for i in -(r as isize)..=(r as isize) {
        acc += get(i);
    }
    let k = (2 * r + 1) as f32;
    for i in 0..n {
        tmp[i] = acc / k;
        acc += get(i as isize + r as isize + 1) - get(i as isize - r as isize);
    }
    line.copy_from_slice(&tmp[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_frames() {
        let spec = CorpusSpec {
            sizes: vec![(160, 120)],
            per_condition: 1,
            seed: 7,
            conditions: vec![Condition::Clean, Condition::Jpeg],
        };
        let a: Vec<_> = generate(&spec).collect();
        let b: Vec<_> = generate(&spec).collect();
        assert_eq!(a.len(), 2);
        for (x, y) in a.iter().zip(b.iter()) {
            assert_eq!(x.payload, y.payload);
            assert_eq!(x.image, y.image);
        }
    }

    #[test]
    fn condition_names_round_trip() {
        for c in Condition::ALL {
            assert_eq!(Condition::from_name(c.name()), Some(c));
        }
    }
}
