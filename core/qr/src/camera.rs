//! Camera-model QR corpus: the MFP's panel seen through a phone camera, not a screenshot with
//! noise.
//!
//! Each frame renders the printer's touch panel (its UI, the pairing code at 3 to 16 screen
//! pixels per module, sometimes a non-integer scale, sometimes a second code such as an app
//! link) and photographs it:
//!
//! 1. **geometry**: a pinhole camera (horizontal field of view 55 to 80°) tilted up to 50°
//!    about a random in-plane axis, any roll, at a distance where the code spans 8 to 70 % of
//!    the frame height;
//! 2. **sensor sampling**: every camera pixel is the area average of a supersampled grid of
//!    points on the panel, whose own pixels have RGB stripes and a black matrix, so the
//!    screen's pixel grid aliases into moiré as on a real sensor;
//! 3. **light and optics**: the panel's black glows at an angle, ambient light on the glass
//!    lifts it, a ceiling light's specular glare (a clipped core and a halo), a finger, lens
//!    vignetting, defocus or motion blur;
//! 4. **sensor and ISP**: exposure from dim to washed out, shot noise and read noise in
//!    electrons, the ISP's denoise or sharpening, a tone curve, 8-bit quantisation, JPEG.
//!
//! Every frame gets everyday amounts of all of these; its condition pushes one of them to
//! one of three severities. Frames are seeded and reproducible. Two splits draw their
//! parameters differently ([`Split::Tuning`] to tune on, [`Split::HeldOut`] to report on: other
//! seeds, other panel styles, lenses, sensors and ISP settings, and other distributions of
//! each condition's parameter within its range), so a gain tuned on one and absent on the
//! other shows.
//!
//! [`write_camera_corpus`] writes the same layout as the synthetic corpus (`manifest.csv`,
//! frames under `corpus/`), with more columns: `severity`, `other_payloads` (the other codes
//! shown), and the drawn `tilt_deg` and `code_frac` (share of the frame height).

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::corpus::{gaussian_blur, jpeg_roundtrip, random_payload};
use super::frame::LumaImage;

/// What a frame's condition pushes beyond everyday amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CameraCondition {
    /// Everyday amounts of everything.
    Everyday,
    /// Perspective tilt of 28 to 50° about a random in-plane axis.
    Tilt,
    /// A code spanning 8 to 16 % of the frame height (about 2 to 3 camera pixels per module).
    Small,
    /// Screen pixels about one camera pixel wide: strong moiré.
    Moire,
    /// Dim screen: white at 18 to 60 grey levels, shot and read noise, the ISP's denoise.
    Dim,
    /// Washed-out screen: ambient light on the glass lifts the black, the white clips.
    WashedOut,
    /// Specular glare with a halo clipping 8 to 16 % of the code.
    Glare,
    /// Defocus or motion blur.
    Blur,
    /// A finger over part of the code.
    Finger,
    /// The pairing code next to another code (an app link) of another size.
    TwoCodes,
    /// Heavy ISP processing: strong sharpening or denoise and low JPEG quality.
    Isp,
}

impl CameraCondition {
    /// All conditions, in report order.
    pub const ALL: [CameraCondition; 11] = [
        CameraCondition::Everyday,
        CameraCondition::Tilt,
        CameraCondition::Small,
        CameraCondition::Moire,
        CameraCondition::Dim,
        CameraCondition::WashedOut,
        CameraCondition::Glare,
        CameraCondition::Blur,
        CameraCondition::Finger,
        CameraCondition::TwoCodes,
        CameraCondition::Isp,
    ];

    /// The conditions of the handheld streams: those where a decoder misses one frame in ten
    /// or more on a split.
    pub const HARD: [CameraCondition; 7] = [
        CameraCondition::Tilt,
        CameraCondition::Small,
        CameraCondition::Dim,
        CameraCondition::Glare,
        CameraCondition::Blur,
        CameraCondition::Finger,
        CameraCondition::TwoCodes,
    ];

    /// Name used in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            CameraCondition::Everyday => "everyday",
            CameraCondition::Tilt => "tilt",
            CameraCondition::Small => "small",
            CameraCondition::Moire => "moire",
            CameraCondition::Dim => "dim",
            CameraCondition::WashedOut => "washed_out",
            CameraCondition::Glare => "glare",
            CameraCondition::Blur => "blur",
            CameraCondition::Finger => "finger",
            CameraCondition::TwoCodes => "two_codes",
            CameraCondition::Isp => "isp",
        }
    }

    /// Parses a manifest name.
    pub fn from_name(s: &str) -> Option<CameraCondition> {
        CameraCondition::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for CameraCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which parameter draws a corpus uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The split to tune on.
    Tuning,
    /// The split to report on: other seeds and other parameter draws.
    HeldOut,
}

impl Split {
    /// Name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Split::Tuning => "tuning",
            Split::HeldOut => "held-out",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(s: &str) -> Option<Split> {
        [Split::Tuning, Split::HeldOut]
            .into_iter()
            .find(|x| x.name() == s)
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct CameraSpec {
    /// Frame sizes (width, height).
    pub sizes: Vec<(usize, usize)>,
    /// Frames per condition and size (severities 1, 2, 3 in turn).
    pub per_condition: usize,
    /// Conditions to generate.
    pub conditions: Vec<CameraCondition>,
    /// Parameter draws.
    pub split: Split,
}

impl CameraSpec {
    /// The benchmark corpus of a split: 640x480, 1280x720 and 1920x1080, every condition.
    pub fn benchmark(split: Split, per_condition: usize) -> Self {
        CameraSpec {
            sizes: vec![(640, 480), (1280, 720), (1920, 1080)],
            per_condition,
            conditions: CameraCondition::ALL.to_vec(),
            split,
        }
    }

    /// The handheld streams of a split: the three frame sizes, the [hard
    /// conditions](CameraCondition::HARD), `per_condition` streams per condition and size.
    pub fn streams(split: Split, per_condition: usize) -> Self {
        CameraSpec {
            conditions: CameraCondition::HARD.to_vec(),
            ..CameraSpec::benchmark(split, per_condition)
        }
    }

    fn seed(&self) -> u64 {
        match self.split {
            Split::Tuning => 0x7A11_0001,
            Split::HeldOut => 0x4E1D_0002,
        }
    }
}

/// One generated frame with its ground truth.
#[derive(Debug, Clone)]
pub struct CameraFrame {
    /// File name under `corpus/`.
    pub file: String,
    /// Condition.
    pub condition: CameraCondition,
    /// 1 (mild) to 3 (severe).
    pub severity: u8,
    /// The pairing code shown.
    pub payload: String,
    /// Other codes shown (an app link).
    pub others: Vec<String>,
    /// Tilt of the panel against the sensor, degrees.
    pub tilt_deg: f32,
    /// Height of the code's bounding box over the frame height.
    pub code_frac: f32,
    /// The frame.
    pub image: LumaImage,
}

/// One frame (or stream) to render: size, condition, index, severity and its own generator,
/// for every size, condition and index of `spec` in turn.
#[allow(clippy::type_complexity)]
fn jobs(
    spec: &CameraSpec,
    seed: u64,
) -> impl Iterator<Item = (usize, usize, CameraCondition, usize, u8, ChaCha8Rng)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut jobs = Vec::new();
    for &(w, h) in &spec.sizes {
        for &c in &spec.conditions {
            for i in 0..spec.per_condition {
                jobs.push((w, h, c, i, rng.random::<u64>()));
            }
        }
    }
    jobs.into_iter().map(|(w, h, c, i, seed)| {
        let severity = (i % 3) as u8 + 1;
        (w, h, c, i, severity, ChaCha8Rng::seed_from_u64(seed))
    })
}

/// Generates the frames one at a time.
pub fn generate_camera(spec: &CameraSpec) -> impl Iterator<Item = CameraFrame> + '_ {
    jobs(spec, spec.seed()).map(move |(w, h, c, i, severity, mut rng)| {
        let mut f = render_camera_frame(w, h, c, severity, spec.split, &mut rng);
        f.file = format!("{}_s{}_{}x{}_{:03}.png", c.name(), severity, w, h, i);
        f
    })
}

/// Writes `manifest.csv` and `corpus/*.png` under `dir`; returns the number of frames.
pub fn write_camera_corpus(dir: &Path, spec: &CameraSpec) -> io::Result<usize> {
    let mut out = CorpusWriter::create(dir, "")?;
    for f in generate_camera(spec) {
        out.write(f, "")?;
    }
    out.finish()
}

/// A corpus folder being written: the manifest and the frames.
struct CorpusWriter {
    frames_dir: std::path::PathBuf,
    manifest: io::BufWriter<std::fs::File>,
    n: usize,
}

impl CorpusWriter {
    /// Creates `dir/corpus/` and `dir/manifest.csv`, whose header ends in `extra_columns`.
    fn create(dir: &Path, extra_columns: &str) -> io::Result<CorpusWriter> {
        let frames_dir = dir.join("corpus");
        std::fs::create_dir_all(&frames_dir)?;
        let mut manifest = io::BufWriter::new(std::fs::File::create(dir.join("manifest.csv"))?);
        writeln!(
            manifest,
            "file,condition,severity,width,height,payload,other_payloads,tilt_deg,code_frac{extra_columns}"
        )?;
        Ok(CorpusWriter {
            frames_dir,
            manifest,
            n: 0,
        })
    }

    /// Writes one frame and its manifest line (ending in `extra`).
    fn write(&mut self, f: CameraFrame, extra: &str) -> io::Result<()> {
        let (w, h) = (f.image.width, f.image.height);
        let img = image::GrayImage::from_raw(w as u32, h as u32, f.image.data)
            .ok_or_else(|| io::Error::other("bad frame buffer"))?;
        img.save_with_format(self.frames_dir.join(&f.file), image::ImageFormat::Png)
            .map_err(io::Error::other)?;
        // Payloads are URLs without commas, quotes or spaces: no CSV quoting needed.
        writeln!(
            self.manifest,
            "{},{},{},{},{},{},{},{:.1},{:.3}{extra}",
            f.file,
            f.condition,
            f.severity,
            w,
            h,
            f.payload,
            f.others.join(" "),
            f.tilt_deg,
            f.code_frac
        )?;
        self.n += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<usize> {
        self.manifest.flush()?;
        Ok(self.n)
    }
}

/// Frames in one handheld stream (the stream benchmark's target: a read within them).
pub const STREAM_FRAMES: usize = 10;

/// Generates handheld streams, one `Vec` of `frames` frames per stream: each stream is one
/// scene (condition, severity, geometry, panel) seen by a hand that shakes (a random walk of
/// position, roll and distance, with the motion blur of each step) while auto-exposure
/// drifts; sensor noise is new in every frame. File names end in `_fNN`; the stream's name is
/// the file name without it. Seeded apart from [`generate_camera`].
pub fn generate_camera_streams(
    spec: &CameraSpec,
    frames: usize,
) -> impl Iterator<Item = (String, Vec<CameraFrame>)> + '_ {
    jobs(spec, spec.seed() ^ 0x5354_5245_414D).map(move |(w, h, c, i, severity, mut rng)| {
        let name = format!("{}_s{}_{}x{}_{:03}", c.name(), severity, w, h, i);
        let mut stream = render_handheld_stream(w, h, c, severity, spec.split, frames, &mut rng);
        for (k, f) in stream.iter_mut().enumerate() {
            f.file = format!("{name}_f{k:02}.png");
        }
        (name, stream)
    })
}

/// Renders `frames` frames of one scene held by hand.
pub fn render_handheld_stream(
    w: usize,
    h: usize,
    cond: CameraCondition,
    severity: u8,
    split: Split,
    frames: usize,
    rng: &mut impl Rng,
) -> Vec<CameraFrame> {
    let sc = render_scene(w, h, cond, severity, split, rng);
    let tone = Tone::draw(&sc, rng);
    let isp = Isp::draw(&sc, rng);
    // Shake between two frames at 30 fps: a few pixels, a quarter of a degree, a fraction of
    // a percent of distance; exposure hunts by several percent.
    let step = 0.004 * w as f32;
    let (mut dx, mut dy, mut roll, mut zoom) = (0f32, 0f32, 0f32, 0f32);
    let (mut gain, mut level) = (0f32, 0f32);
    let mut out = Vec::with_capacity(frames);
    for k in 0..frames {
        // The first frame is the scene as rendered; the next ones are shaken copies of it.
        let moved;
        let light: &[f32] = if k == 0 {
            &sc.light
        } else {
            let (sx, sy) = (gauss(rng) * step, gauss(rng) * step);
            dx += sx;
            dy += sy;
            roll += gauss(rng) * 0.25f32.to_radians();
            zoom += gauss(rng) * 0.004;
            gain = (gain + gauss(rng) * 0.08).clamp(-0.3, 0.3);
            level = (level + gauss(rng) * 0.04).clamp(-0.12, 0.12);
            let mut l = shaken(&sc.light, w, h, (dx, dy), roll, zoom.exp());
            // The exposure lasts about half the time between frames.
            let len = sx.hypot(sy) * 0.5;
            if len >= 1.0 {
                motion_blur(&mut l, w, h, len, sy.atan2(sx));
            }
            moved = l;
            &moved
        };
        let t = Tone {
            white_e: tone.white_e * gain.exp(),
            white_out: tone.white_out * level.exp(),
            ..tone
        };
        let g = sense(&sc, light, &t, rng);
        out.push(sc.frame(isp.apply(&sc, g)));
    }
    out
}

/// `light` moved by `shift` pixels, rolled by `roll` radians and scaled by `zoom` about the
/// frame's centre (bilinear; the border repeats).
fn shaken(light: &[f32], w: usize, h: usize, shift: (f32, f32), roll: f32, zoom: f32) -> Vec<f32> {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (sin, cos) = roll.sin_cos();
    let mut out = vec![0f32; w * h];
    let (wm, hm) = ((w - 1) as f32, (h - 1) as f32);
    for y in 0..h {
        for x in 0..w {
            // Inverse map: undo the shift, the roll and the zoom.
            let (px, py) = (x as f32 - cx - shift.0, y as f32 - cy - shift.1);
            let sx = ((cos * px + sin * py) / zoom + cx).clamp(0.0, wm);
            let sy = ((-sin * px + cos * py) / zoom + cy).clamp(0.0, hm);
            let (x0, y0) = (sx as usize, sy as usize);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let top = light[y0 * w + x0] * (1.0 - fx) + light[y0 * w + x1] * fx;
            let bottom = light[y1 * w + x0] * (1.0 - fx) + light[y1 * w + x1] * fx;
            out[y * w + x] = top * (1.0 - fy) + bottom * fy;
        }
    }
    out
}

/// Writes the handheld streams of `spec` (`manifest.csv` with `stream` and `frame` columns,
/// `corpus/*.png`) under `dir`; returns the number of frames.
pub fn write_camera_streams(dir: &Path, spec: &CameraSpec, frames: usize) -> io::Result<usize> {
    let mut out = CorpusWriter::create(dir, ",stream,frame")?;
    for (name, stream) in generate_camera_streams(spec, frames) {
        for (k, f) in stream.into_iter().enumerate() {
            out.write(f, &format!(",{name},{k}"))?;
        }
    }
    out.finish()
}

/// A uniform draw in `[lo, hi)`; the held-out split draws the same range with another
/// distribution (skewed towards its upper end), so the two splits do not share their draws.
fn draw(rng: &mut impl Rng, split: Split, lo: f32, hi: f32) -> f32 {
    let u: f32 = rng.random_range(0.0..1.0);
    let u = match split {
        Split::Tuning => u,
        Split::HeldOut => u.powf(0.7),
    };
    lo + (hi - lo) * u
}

/// The sub-range of `[lo, hi)` of a severity (1: lowest third ... 3: highest third).
fn severe(rng: &mut impl Rng, split: Split, sev: u8, lo: f32, hi: f32) -> f32 {
    let s = (sev.clamp(1, 3) - 1) as f32;
    let third = (hi - lo) / 3.0;
    draw(rng, split, lo + third * s, lo + third * (s + 1.0))
}

/// 3x3 matrix, row-major.
#[derive(Debug, Clone, Copy)]
struct M3([f64; 9]);

impl M3 {
    fn mul(&self, o: &M3) -> M3 {
        let (a, b) = (&self.0, &o.0);
        let mut r = [0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                r[i * 3 + j] = (0..3).map(|k| a[i * 3 + k] * b[k * 3 + j]).sum();
            }
        }
        M3(r)
    }

    fn inverse(&self) -> Option<M3> {
        let [a, b, c, d, e, f, g, h, i] = self.0;
        let adj = [
            e * i - f * h,
            c * h - b * i,
            b * f - c * e,
            f * g - d * i,
            a * i - c * g,
            c * d - a * f,
            d * h - e * g,
            b * g - a * h,
            a * e - b * d,
        ];
        let det = a * adj[0] + b * adj[3] + c * adj[6];
        if det.abs() < 1e-12 {
            return None;
        }
        Some(M3(adj.map(|v| v / det)))
    }

    /// Maps `(x, y)`; `None` behind the camera (or at infinity).
    fn map(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let m = &self.0;
        let z = m[6] * x + m[7] * y + m[8];
        if z <= 1e-9 {
            return None;
        }
        Some((
            (m[0] * x + m[1] * y + m[2]) / z,
            (m[3] * x + m[4] * y + m[5]) / z,
        ))
    }
}

/// Rotation by `angle` about the unit axis `(ax, ay, az)` (Rodrigues).
fn rotation(ax: f64, ay: f64, az: f64, angle: f64) -> M3 {
    let (s, c) = angle.sin_cos();
    let t = 1.0 - c;
    M3([
        c + ax * ax * t,
        ax * ay * t - az * s,
        ax * az * t + ay * s,
        ay * ax * t + az * s,
        c + ay * ay * t,
        ay * az * t - ax * s,
        az * ax * t - ay * s,
        az * ay * t + ax * s,
        c + az * az * t,
    ])
}

/// The printer's panel in screen pixels, linear light (1.0 = the panel's white).
struct Panel {
    w: usize,
    h: usize,
    px: Vec<f32>,
    /// Where the pairing code sits, screen pixels: `(x0, y0, side)`.
    code: (f32, f32, f32),
    /// Black-matrix fill of each screen pixel (share lit, per axis).
    fill: (f32, f32),
    /// Luma weights of the three sub-pixel stripes (sum 3).
    stripes: [f32; 3],
}

impl Panel {
    /// Emitted light at panel point `(u, v)` (screen pixels), `None` off the panel.
    #[inline]
    fn at(&self, u: f64, v: f64) -> Option<f32> {
        if u < 0.0 || v < 0.0 {
            return None;
        }
        let (x, y) = (u as usize, v as usize);
        if x >= self.w || y >= self.h {
            return None;
        }
        let (fx, fy) = ((u - x as f64) as f32, (v - y as f64) as f32);
        if fx > self.fill.0 || fy > self.fill.1 {
            return Some(0.0);
        }
        let stripe = ((fx / self.fill.0) * 3.0).min(2.0) as usize;
        Some(self.px[y * self.w + x] * self.stripes[stripe] / (self.fill.0 * self.fill.1))
    }
}

fn qr_modules(text: &str, rng: &mut impl Rng) -> (usize, Vec<bool>) {
    let ec = match rng.random_range(0..10) {
        0..=1 => qrcode::EcLevel::L,
        2..=7 => qrcode::EcLevel::M,
        _ => qrcode::EcLevel::Q,
    };
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), ec)
        .or_else(|_| qrcode::QrCode::new(text.as_bytes()))
        .expect("payload fits a QR code");
    let dim = code.width();
    let m = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    (dim, m)
}

/// Draws a code into the panel, `ppm` screen pixels per module (may be non-integer: modules
/// then come out one pixel wider or narrower, as a scaled UI renders them).
#[allow(clippy::too_many_arguments)]
fn draw_code(
    px: &mut [f32],
    pw: usize,
    dim: usize,
    modules: &[bool],
    x0: f32,
    y0: f32,
    ppm: f32,
    dark: f32,
) {
    let side = (dim as f32 * ppm).ceil() as usize;
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = ((x as f32 / ppm) as usize, (y as f32 / ppm) as usize);
            if mx < dim && my < dim && modules[my * dim + mx] {
                let (px_x, px_y) = (x0 as usize + x, y0 as usize + y);
                if let Some(p) = px.get_mut(px_y * pw + px_x) {
                    *p = dark;
                }
            }
        }
    }
}

/// The panel: background, header bar, text lines, buttons, the pairing code and maybe another.
fn build_panel(
    rng: &mut impl Rng,
    split: Split,
    cond: CameraCondition,
    payload: &str,
    other: Option<&str>,
) -> Panel {
    let (dim, modules) = qr_modules(payload, rng);
    // Screen pixels per module: 3 to 16, a third of the panels at a non-integer UI scale.
    let mut ppm = draw(rng, split, 3.0, 16.0);
    if cond == CameraCondition::Moire {
        // Screen pixels close to the camera's: the distance step below makes them ~1 px.
        ppm = draw(rng, split, 6.0, 14.0);
    }
    if rng.random_bool(0.67) {
        ppm = ppm.round();
    }
    let side = dim as f32 * ppm;
    let quiet = 4.0 * ppm;
    let (odim, omods, oppm) = match other {
        Some(t) => {
            let (d, m) = qr_modules(t, rng);
            // The other code is 0.45 to 2.2 times the pairing code's size.
            let ratio = if rng.random_bool(0.5) {
                draw(rng, split, 0.45, 0.8)
            } else {
                draw(rng, split, 1.3, 2.2)
            };
            (d, m, (side * ratio / d as f32).max(2.0))
        }
        None => (0, Vec::new(), 0.0),
    };
    let oside = odim as f32 * oppm;
    // Panel: the code with its quiet zone, UI around it, the other code beside it.
    let ui = draw(rng, split, 0.25, 0.9) * side;
    let pw = (side
        + 2.0 * quiet
        + ui * 1.6
        + if other.is_some() {
            oside + quiet * 2.0
        } else {
            0.0
        })
    .ceil() as usize;
    let ph = (side.max(oside) + 2.0 * quiet + ui).ceil() as usize + 8;
    let dark_mode = match split {
        Split::Tuning => rng.random_bool(0.2),
        Split::HeldOut => rng.random_bool(0.3),
    };
    // Panel styles: the held-out split uses other greys.
    let (bg, ink) = match (dark_mode, split) {
        (false, Split::Tuning) => (rng.random_range(0.85..1.0), rng.random_range(0.0..0.06)),
        (false, Split::HeldOut) => (rng.random_range(0.75..0.95), rng.random_range(0.02..0.1)),
        (true, Split::Tuning) => (rng.random_range(0.03..0.1), rng.random_range(0.8..1.0)),
        (true, Split::HeldOut) => (rng.random_range(0.06..0.15), rng.random_range(0.7..0.95)),
    };
    let mut px = vec![bg; pw * ph];
    // A header bar, text lines and buttons in the UI margins.
    let header_h = (ui * 0.25).max(4.0) as usize;
    let header = if dark_mode {
        0.25
    } else {
        rng.random_range(0.3..0.6)
    };
    for y in 0..header_h.min(ph) {
        px[y * pw..(y + 1) * pw].fill(header);
    }
    // The pairing code's quiet zone: light modules for a light panel, dark for dark mode.
    let (qx0, qy0) = (ui * 0.8, header_h as f32 + 4.0);
    let code_x0 = qx0 + quiet;
    let code_y0 = qy0 + quiet;
    let text_grey = bg * 0.4 + ink * 0.6;
    let mut lines = rng.random_range(3..9);
    while lines > 0 {
        lines -= 1;
        let lh = rng.random_range(2.0..6.0f32).min(ui * 0.2).max(1.0);
        let lw = rng.random_range(0.2..0.8) * ui;
        let x0 = rng.random_range(2.0..(ui * 0.7).max(3.0));
        let y0 = rng.random_range(qy0..(qy0 + side + 2.0 * quiet).max(qy0 + 1.0));
        for y in y0 as usize..((y0 + lh) as usize).min(ph) {
            for x in x0 as usize..((x0 + lw) as usize).min((qx0 - 2.0).max(0.0) as usize) {
                px[y * pw + x] = text_grey;
            }
        }
    }
    // Modules in the panel's ink on its background: a dark-mode panel shows a light-on-dark
    // code. The quiet zone is cleared of UI.
    let (code_dark, code_light) = (ink, bg);
    for y in qy0 as usize..((qy0 + side + 2.0 * quiet) as usize).min(ph) {
        for x in qx0 as usize..((qx0 + side + 2.0 * quiet) as usize).min(pw) {
            px[y * pw + x] = code_light;
        }
    }
    draw_code(&mut px, pw, dim, &modules, code_x0, code_y0, ppm, code_dark);
    if other.is_some() {
        let ox = qx0 + side + 2.0 * quiet + quiet;
        let oy = qy0 + quiet + rng.random_range(0.0..(side - oside).abs().max(1.0)) * 0.5;
        for y in (oy - quiet).max(0.0) as usize..((oy + oside + quiet) as usize).min(ph) {
            for x in (ox - quiet) as usize..((ox + oside + quiet) as usize).min(pw) {
                px[y * pw + x] = code_light;
            }
        }
        draw_code(&mut px, pw, odim, &omods, ox, oy, oppm, code_dark);
    }
    let fill = match split {
        Split::Tuning => (rng.random_range(0.75..0.92), rng.random_range(0.8..0.95)),
        Split::HeldOut => (rng.random_range(0.65..0.88), rng.random_range(0.7..0.9)),
    };
    // RGB stripes' luma weights (0.30, 0.59, 0.11 of white), a little off per panel.
    let jit = |rng: &mut dyn rand::RngCore| 0.9 + 0.2 * (rng.next_u32() as f32 / u32::MAX as f32);
    let mut stripes = [0.30 * jit(rng), 0.59 * jit(rng), 0.11 * jit(rng)];
    let s: f32 = stripes.iter().sum();
    stripes = stripes.map(|v| v * 3.0 / s);
    Panel {
        w: pw,
        h: ph,
        px,
        code: (code_x0, code_y0, side),
        fill,
        stripes,
    }
}

/// Renders one frame of `cond` at `severity` (1 to 3).
pub fn render_camera_frame(
    w: usize,
    h: usize,
    cond: CameraCondition,
    severity: u8,
    split: Split,
    rng: &mut impl Rng,
) -> CameraFrame {
    let sc = render_scene(w, h, cond, severity, split, rng);
    let image = expose(&sc, &sc.light, rng);
    sc.frame(image)
}

/// A scene as light on the sensor, before exposure (what a handheld stream re-exposes).
struct Scene {
    w: usize,
    h: usize,
    cond: CameraCondition,
    sev: u8,
    split: Split,
    payload: String,
    others: Vec<String>,
    tilt_deg: f32,
    code_frac: f32,
    /// Light per pixel, 1.0 = the panel's white.
    light: Vec<f32>,
    /// The panel's black glow and the ambient light on it (the panel's white is 1 + both).
    black_glow: f32,
    ambient: f32,
}

impl Scene {
    /// A frame of this scene (the scene stays, for the next frame of a stream).
    fn frame(&self, image: LumaImage) -> CameraFrame {
        CameraFrame {
            file: String::new(),
            condition: self.cond,
            severity: self.sev,
            payload: self.payload.clone(),
            others: self.others.clone(),
            tilt_deg: self.tilt_deg,
            code_frac: self.code_frac,
            image,
        }
    }
}

/// Geometry, panel, light and optics of one frame.
fn render_scene(
    w: usize,
    h: usize,
    cond: CameraCondition,
    severity: u8,
    split: Split,
    rng: &mut impl Rng,
) -> Scene {
    use CameraCondition as C;
    let sev = severity.clamp(1, 3);
    let payload = random_payload(rng);
    let other = (cond == C::TwoCodes).then(|| {
        let links = [
            "https://www.myq-solution.com/roger/app",
            "https://apps.apple.com/app/myq-roger/id1543227591",
            "https://play.google.com/store/apps/details?id=com.myq.roger.mobile",
            "https://docs.myq-solution.com/roger/en/mobile-app/pairing-with-a-printer.html",
        ];
        links[rng.random_range(0..links.len())].to_string()
    });
    let panel = build_panel(rng, split, cond, &payload, other.as_deref());
    let (cx0, cy0, side) = panel.code;

    // Camera geometry.
    let fov = match split {
        Split::Tuning => rng.random_range(60.0f64..75.0),
        Split::HeldOut => rng.random_range(55.0f64..80.0),
    }
    .to_radians();
    let f = (w as f64 / 2.0) / (fov / 2.0).tan();
    let tilt = match cond {
        C::Tilt => severe(rng, split, sev, 28.0, 50.0),
        _ => draw(rng, split, 0.0, 22.0),
    } as f64;
    let axis = rng.random_range(0.0..std::f64::consts::TAU);
    let roll = rng.random_range(0.0..std::f64::consts::TAU);
    let frac = match cond {
        // Small: 16 % down to 8 % of the frame height as severity grows.
        C::Small => 0.16 - severe(rng, split, sev, 0.0, 0.08),
        C::TwoCodes => draw(rng, split, 0.12, 0.45),
        C::Moire => 0.0, // set from the screen pixel size below
        _ => draw(rng, split, 0.18, 0.7),
    } as f64;
    let r = rotation(0.0, 0.0, 1.0, roll).mul(&rotation(
        axis.cos(),
        axis.sin(),
        0.0,
        tilt.to_radians(),
    ));
    // Code centre at the panel origin; distance from the code's apparent size.
    let (ccx, ccy) = (
        cx0 as f64 + side as f64 / 2.0,
        cy0 as f64 + side as f64 / 2.0,
    );
    let frac = if cond == C::Moire {
        // Screen pixels 0.7 to 1.5 camera pixels wide.
        let spx = severe(rng, split, 4 - sev, 0.7, 1.5) as f64;
        (side as f64 * spx / h as f64).clamp(0.08, 0.8)
    } else {
        frac
    };
    let z = f * side as f64 / (frac * h as f64);
    // Keep the code in the frame: try positions, shrinking the code if it does not fit.
    let k = M3([
        f,
        0.0,
        w as f64 / 2.0,
        0.0,
        f,
        h as f64 / 2.0,
        0.0,
        0.0,
        1.0,
    ]);
    let m = r.0;
    // Panel (u, v) -> frame for a translation t: K * (R * (u - ccx, v - ccy, 0) + t).
    let pose = |t: (f64, f64, f64)| {
        k.mul(&M3([
            m[0],
            m[1],
            t.0 - m[0] * ccx - m[1] * ccy,
            m[3],
            m[4],
            t.1 - m[3] * ccx - m[4] * ccy,
            m[6],
            m[7],
            t.2 - m[6] * ccx - m[7] * ccy,
        ]))
    };
    let mut hom = None;
    let mut zz = z;
    'place: for attempt in 0..40 {
        if attempt % 10 == 9 {
            zz *= 1.15;
        }
        let (px, py) = (
            rng.random_range(-0.35..0.35) * w as f64,
            rng.random_range(-0.35..0.35) * h as f64,
        );
        let hm = pose((px * zz / f, py * zz / f, zz));
        let q = 2.0 * side as f64 / 33.0; // ~2 modules of quiet zone
        let corners = [
            (cx0 as f64 - q, cy0 as f64 - q),
            (cx0 as f64 + side as f64 + q, cy0 as f64 - q),
            (cx0 as f64 + side as f64 + q, cy0 as f64 + side as f64 + q),
            (cx0 as f64 - q, cy0 as f64 + side as f64 + q),
        ];
        for (u, v) in corners {
            match hm.map(u, v) {
                Some((x, y))
                    if x >= 1.0 && y >= 1.0 && x < w as f64 - 1.0 && y < h as f64 - 1.0 => {}
                _ => continue 'place,
            }
        }
        hom = Some(hm);
        break;
    }
    let hom = hom.unwrap_or_else(|| {
        // Fallback: centred and far enough (never happens with the ranges above).
        pose((0.0, 0.0, z * 3.0))
    });
    let inv = hom
        .inverse()
        .unwrap_or(M3([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]));
    // The code's bounding box in the frame.
    let pts: Vec<(f64, f64)> = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
        .iter()
        .filter_map(|(a, b)| hom.map(cx0 as f64 + a * side as f64, cy0 as f64 + b * side as f64))
        .collect();
    let (bx0, by0, bx1, by1) = pts
        .iter()
        .fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |b, p| {
            (b.0.min(p.0), b.1.min(p.1), b.2.max(p.0), b.3.max(p.1))
        });
    // Mean apparent side of the code over the frame height.
    let sides: f64 = (0..pts.len())
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
        })
        .sum::<f64>()
        / pts.len().max(1) as f64;
    let code_frac = (sides / h as f64) as f32;

    // Light: the panel's black glows more at an angle; ambient light on the glass.
    let black_glow = 0.01 + 0.05 * (tilt / 50.0) as f32;
    let ambient = match cond {
        C::WashedOut => severe(rng, split, sev, 0.3, 0.9),
        _ => draw(rng, split, 0.0, 0.08),
    };
    let (bezel, room_a, room_b) = (
        rng.random_range(0.05..0.3f32),
        rng.random_range(0.1..0.8f32),
        rng.random_range(0.1..0.8f32),
    );
    let n = match split {
        Split::Tuning => 3,
        Split::HeldOut => 4,
    };
    let mut img = vec![0f32; w * h];
    let (pwf, phf) = (panel.w as f64, panel.h as f64);
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0f32;
            for sy in 0..n {
                for sx in 0..n {
                    let (fx, fy) = (
                        x as f64 + (sx as f64 + 0.5) / n as f64,
                        y as f64 + (sy as f64 + 0.5) / n as f64,
                    );
                    let v = match inv.map(fx, fy) {
                        Some((u, v)) => match panel.at(u, v) {
                            Some(e) => e + black_glow + ambient,
                            None if u > -40.0 && v > -40.0 && u < pwf + 40.0 && v < phf + 60.0 => {
                                bezel + ambient * 0.5
                            }
                            None => room_a + (room_b - room_a) * (x as f32 / w as f32),
                        },
                        None => room_a,
                    };
                    acc += v;
                }
            }
            img[y * w + x] = acc / (n * n) as f32;
        }
    }

    // A finger over part of the code (near the camera: blurred edge, skin-toned).
    let code_c = ((bx0 + bx1) / 2.0, (by0 + by1) / 2.0);
    let code_r = ((bx1 - bx0).max(by1 - by0) / 2.0) as f32;
    if cond == C::Finger {
        let cover = severe(rng, split, sev, 0.05, 0.22);
        let ang = rng.random_range(0.0..std::f32::consts::TAU);
        let width = code_r * rng.random_range(0.5..0.8);
        // A half-plane-ended band from outside the code reaching `cover` into it.
        let (dx, dy) = (ang.cos(), ang.sin());
        let reach = code_r * (1.0 - 2.0 * cover);
        let skin = rng.random_range(0.25..0.6f32);
        for y in 0..h {
            for x in 0..w {
                let (ox, oy) = (x as f32 - code_c.0 as f32, y as f32 - code_c.1 as f32);
                let along = ox * dx + oy * dy;
                let across = (-ox * dy + oy * dx).abs();
                // A band ending in a round fingertip.
                let tip = along - reach - width;
                if (tip > 0.0 && across < width) || tip * tip + across * across < width * width {
                    let shade = 1.0 - 0.3 * (across / width).powi(2);
                    img[y * w + x] = skin * shade;
                }
            }
        }
    }

    // Specular glare: a clipped core and a wide halo.
    let glare_share = match cond {
        C::Glare => severe(rng, split, sev, 0.08, 0.16),
        _ => {
            if rng.random_bool(0.25) {
                draw(rng, split, 0.0, 0.04)
            } else {
                0.0
            }
        }
    };
    if glare_share > 0.0 {
        // The code's own area (its bounding box is larger when rolled).
        let area = (code_frac * h as f32).powi(2);
        let core = (glare_share * area / std::f32::consts::PI).sqrt();
        let gx = code_c.0 as f32 + rng.random_range(-0.6..0.6) * code_r;
        let gy = code_c.1 as f32 + rng.random_range(-0.6..0.6) * code_r;
        let halo = core * rng.random_range(2.0..3.5);
        let halo_amp = rng.random_range(0.15..0.45f32);
        for y in 0..h {
            for x in 0..w {
                let d = ((x as f32 - gx).powi(2) + (y as f32 - gy).powi(2)).sqrt();
                let v = &mut img[y * w + x];
                if d < core {
                    *v += 3.0;
                } else {
                    *v += halo_amp * (-(d * d) / (2.0 * halo * halo)).exp();
                }
            }
        }
    }

    // Lens vignetting.
    let vig = draw(rng, split, 0.1, 0.45);
    let (hw, hh) = (w as f32 / 2.0, h as f32 / 2.0);
    let rmax2 = hw * hw + hh * hh;
    for y in 0..h {
        for x in 0..w {
            let r2 = ((x as f32 - hw).powi(2) + (y as f32 - hh).powi(2)) / rmax2;
            img[y * w + x] *= 1.0 - vig * r2;
        }
    }

    // Defocus and motion blur (pixels of the frame).
    let module_px = code_frac * h as f32 / 33.0;
    let (sigma, motion) = match cond {
        C::Blur => {
            let s = severe(rng, split, sev, 0.2, 0.55) * module_px.max(2.0);
            if rng.random_bool(0.5) {
                (s, 0.0)
            } else {
                (draw(rng, split, 0.4, 0.9), s * 2.5)
            }
        }
        _ => (draw(rng, split, 0.35, 1.0), draw(rng, split, 0.0, 1.0)),
    };
    gaussian_blur(&mut img, w, h, sigma);
    if motion >= 1.0 {
        motion_blur(
            &mut img,
            w,
            h,
            motion,
            rng.random_range(0.0..std::f32::consts::PI),
        );
    }

    Scene {
        w,
        h,
        cond,
        sev,
        split,
        payload,
        others: other.into_iter().collect(),
        tilt_deg: tilt as f32,
        code_frac,
        light: img,
        black_glow,
        ambient,
    }
}

/// Exposure, shot and read noise, the ISP, 8 bits and JPEG, of `light` (the scene's, or a
/// shaken copy of it), with settings drawn from `rng` within the scene's condition.
fn expose(sc: &Scene, light: &[f32], rng: &mut impl Rng) -> LumaImage {
    let tone = Tone::draw(sc, rng);
    let g = sense(sc, light, &tone, rng);
    let isp = Isp::draw(sc, rng);
    isp.apply(sc, g)
}

/// Auto-exposure and the sensor's response: what a handheld stream lets drift.
#[derive(Debug, Clone, Copy)]
struct Tone {
    /// Electrons at the panel's white.
    white_e: f32,
    /// Grey level the panel's white comes out at.
    white_out: f32,
    /// Read noise (electrons).
    read_e: f32,
    gamma: f32,
}

impl Tone {
    fn draw(sc: &Scene, rng: &mut impl Rng) -> Tone {
        use CameraCondition as C;
        let (cond, sev, split) = (sc.cond, sc.sev, sc.split);
        let (white_e, white_out) = match cond {
            // Dim: white comes out at 18 to 60 grey levels (60 for severity 1, 18 for 3).
            C::Dim => (
                draw(rng, split, 40.0, 300.0),
                60.0 - severe(rng, split, sev, 0.0, 42.0),
            ),
            C::WashedOut => (
                draw(rng, split, 2000.0, 6000.0),
                draw(rng, split, 225.0, 262.0),
            ),
            _ => (
                draw(rng, split, 600.0, 5000.0),
                draw(rng, split, 170.0, 245.0),
            ),
        };
        let read_e = match split {
            Split::Tuning => rng.random_range(1.5..4.0f32),
            Split::HeldOut => rng.random_range(2.0..6.0f32),
        };
        // Linear level (1.0 = white) that the tone curve maps to `white_out`.
        let gamma = match split {
            Split::Tuning => 2.2f32,
            Split::HeldOut => rng.random_range(1.9..2.5f32),
        };
        Tone {
            white_e,
            white_out,
            read_e,
            gamma,
        }
    }
}

/// Exposure, shot and read noise and the tone curve: grey levels before the ISP.
fn sense(sc: &Scene, light: &[f32], t: &Tone, rng: &mut impl Rng) -> Vec<f32> {
    let white_lin = (t.white_out / 255.0).powf(t.gamma);
    let peak = 1.0 + sc.black_glow + sc.ambient;
    let mut g = vec![0f32; sc.w * sc.h];
    for (o, &v) in g.iter_mut().zip(light) {
        // Auto-exposure meters the panel: its white (with the ambient light on it) is
        // `white_e` electrons and comes out at `white_out`; glare above it clips.
        let e = v.max(0.0) / peak * t.white_e;
        let noisy = e + gauss(rng) * (e + t.read_e * t.read_e).sqrt();
        let lin = (noisy / t.white_e * white_lin).clamp(0.0, 1.0);
        *o = 255.0 * lin.powf(1.0 / t.gamma);
    }
    g
}

/// The ISP's denoise or sharpening and its JPEG quality.
#[derive(Debug, Clone, Copy)]
struct Isp {
    denoise: f32,
    sharpen: f32,
    jpeg_quality: u8,
}

impl Isp {
    fn draw(sc: &Scene, rng: &mut impl Rng) -> Isp {
        use CameraCondition as C;
        let (cond, sev, split) = (sc.cond, sc.sev, sc.split);
        // Denoise (dim and some everyday frames) or sharpening.
        let (denoise, sharpen) = match cond {
            C::Dim => (draw(rng, split, 0.5, 1.0), 0.0),
            C::Isp if rng.random_bool(0.5) => (draw(rng, split, 0.7, 1.0), 0.0),
            C::Isp => (0.0, severe(rng, split, sev, 0.8, 2.0)),
            _ => {
                if rng.random_bool(0.5) {
                    (draw(rng, split, 0.0, 0.5), 0.0)
                } else {
                    (0.0, draw(rng, split, 0.0, 0.8))
                }
            }
        };
        let jpeg_quality = match cond {
            C::Isp => 55 - (severe(rng, split, sev, 0.0, 30.0) as u8),
            _ => match split {
                Split::Tuning => rng.random_range(70..95),
                Split::HeldOut => rng.random_range(60..92),
            },
        };
        Isp {
            denoise,
            sharpen,
            jpeg_quality,
        }
    }

    /// Denoise or sharpening, then 8 bits and JPEG.
    fn apply(&self, sc: &Scene, mut g: Vec<f32>) -> LumaImage {
        let (w, h) = (sc.w, sc.h);
        if self.denoise > 0.0 {
            let mut smooth = g.clone();
            gaussian_blur(&mut smooth, w, h, 1.2);
            for (v, s) in g.iter_mut().zip(&smooth) {
                *v = *v * (1.0 - self.denoise) + s * self.denoise;
            }
        }
        if self.sharpen > 0.0 {
            let mut smooth = g.clone();
            gaussian_blur(&mut smooth, w, h, 1.0);
            for (v, s) in g.iter_mut().zip(&smooth) {
                *v += (*v - s) * self.sharpen;
            }
        }
        let data: Vec<u8> = g
            .iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect();
        let image = LumaImage {
            width: w,
            height: h,
            data,
        };
        jpeg_roundtrip(&image, self.jpeg_quality).unwrap_or(image)
    }
}

/// A standard normal draw (sum of 4 uniforms, variance matched).
fn gauss(rng: &mut impl Rng) -> f32 {
    let s: f32 = (0..4).map(|_| rng.random_range(-1.0f32..1.0)).sum();
    s * (3.0f32 / 4.0).sqrt()
}

/// Motion blur: the mean of the image shifted along `angle` over `len` pixels.
fn motion_blur(img: &mut [f32], w: usize, h: usize, len: f32, angle: f32) {
    let steps = len.ceil() as usize + 1;
    let (dx, dy) = (angle.cos(), angle.sin());
    let src = img.to_vec();
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for s in 0..steps {
                let t = s as f32 / (steps - 1) as f32 * len - len / 2.0;
                let sx = (x as f32 + dx * t).round().clamp(0.0, (w - 1) as f32) as usize;
                let sy = (y as f32 + dy * t).round().clamp(0.0, (h - 1) as f32) as usize;
                acc += src[sy * w + sx];
            }
            img[y * w + x] = acc / steps as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_frames_and_the_splits_differ() {
        let spec = |split| CameraSpec {
            sizes: vec![(320, 240)],
            per_condition: 1,
            conditions: vec![CameraCondition::Tilt, CameraCondition::TwoCodes],
            split,
        };
        let a: Vec<_> = generate_camera(&spec(Split::Tuning)).collect();
        let b: Vec<_> = generate_camera(&spec(Split::Tuning)).collect();
        let c: Vec<_> = generate_camera(&spec(Split::HeldOut)).collect();
        assert_eq!(a.len(), 2);
        for ((x, y), z) in a.iter().zip(&b).zip(&c) {
            assert_eq!((&x.payload, &x.image), (&y.payload, &y.image));
            assert_ne!(x.payload, z.payload);
        }
        assert!(a[0].tilt_deg >= 28.0 && a[0].tilt_deg <= 50.0);
        assert_eq!(a[1].others.len(), 1);
    }

    #[test]
    fn a_handheld_stream_moves_and_changes_exposure_but_keeps_its_scene() {
        let spec = CameraSpec {
            sizes: vec![(320, 240)],
            per_condition: 1,
            conditions: vec![CameraCondition::Glare],
            split: Split::Tuning,
        };
        let streams: Vec<_> = generate_camera_streams(&spec, 4).collect();
        assert_eq!(streams.len(), 1);
        let (name, frames) = &streams[0];
        assert_eq!(name, "glare_s1_320x240_000");
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[3].file, "glare_s1_320x240_000_f03.png");
        let mean = |f: &CameraFrame| {
            f.image.data.iter().map(|&v| v as f64).sum::<f64>() / f.image.data.len() as f64
        };
        for pair in frames.windows(2) {
            assert_eq!(pair[0].payload, pair[1].payload);
            assert_ne!(pair[0].image, pair[1].image);
        }
        // Shake and exposure drift: the frames differ by more than sensor noise.
        let spread = frames
            .iter()
            .map(mean)
            .fold((f64::MAX, f64::MIN), |(lo, hi), m| (lo.min(m), hi.max(m)));
        assert!(spread.1 - spread.0 > 0.5, "{spread:?}");
        let again: Vec<_> = generate_camera_streams(&spec, 4).collect();
        assert_eq!(again[0].1[2].image, frames[2].image);
    }

    #[test]
    fn condition_and_split_names_round_trip() {
        for c in CameraCondition::ALL {
            assert_eq!(CameraCondition::from_name(c.name()), Some(c));
        }
        for s in [Split::Tuning, Split::HeldOut] {
            assert_eq!(Split::from_name(s.name()), Some(s));
        }
    }
}
