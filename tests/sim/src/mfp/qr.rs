//! What the MFP's touch screen shows: the QR code of `verification_uri_complete` as a PNG, and
//! the screen as a phone camera might see it (a grayscale frame with margin, mild perspective,
//! scale and rotation, slight blur and sensor noise, deterministic per seed).

use std::io::Cursor;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module in [`QrModules::to_png`].
const PNG_MODULE_PX: usize = 8;
/// Quiet zone around the code, in modules (ISO/IEC 18004 asks for 4).
const QUIET_ZONE: usize = 4;
/// Largest camera frame side, in pixels.
pub const MAX_FRAME_SIDE: u32 = 4096;

/// The module matrix of a QR code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrModules {
    width: usize,
    dark: Vec<bool>,
}

impl QrModules {
    /// Encodes `data` at error correction level M (the usual choice for screens).
    pub fn encode(data: &str) -> Result<Self, String> {
        let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
            .map_err(|e| format!("cannot encode the QR code: {e}"))?;
        Ok(Self {
            width: code.width(),
            dark: code
                .to_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect(),
        })
    }

    /// Modules per side (without quiet zone).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether module (`x`, `y`) is dark; outside the code (the quiet zone) is light.
    pub fn is_dark(&self, x: i64, y: i64) -> bool {
        let w = self.width as i64;
        (0..w).contains(&x) && (0..w).contains(&y) && self.dark[(y * w + x) as usize]
    }

    /// Black on white, 8 pixels per module, 4-module quiet zone, as PNG bytes.
    pub fn to_png(&self) -> Vec<u8> {
        let side = (self.width + 2 * QUIET_ZONE) * PNG_MODULE_PX;
        let mut pixels = vec![255u8; side * side];
        for (y, row) in pixels.chunks_exact_mut(side).enumerate() {
            let my = (y / PNG_MODULE_PX) as i64 - QUIET_ZONE as i64;
            for (x, pixel) in row.iter_mut().enumerate() {
                let mx = (x / PNG_MODULE_PX) as i64 - QUIET_ZONE as i64;
                if self.is_dark(mx, my) {
                    *pixel = 0;
                }
            }
        }
        encode_png(side as u32, side as u32, &pixels)
    }
}

/// An 8-bit grayscale image, row-major, `width × height` bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct GrayFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Luma, one byte per pixel, rows top to bottom.
    pub pixels: Vec<u8>,
}

impl GrayFrame {
    /// The luma at (`x`, `y`); 0 outside the frame.
    pub fn get(&self, x: u32, y: u32) -> u8 {
        if x >= self.width || y >= self.height {
            return 0;
        }
        self.pixels[y as usize * self.width as usize + x as usize]
    }

    /// The frame as PNG bytes (empty only if the frame is empty).
    pub fn to_png(&self) -> Vec<u8> {
        encode_png(self.width, self.height, &self.pixels)
    }
}

impl std::fmt::Debug for GrayFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrayFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

fn encode_png(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    match PngEncoder::new(&mut out).write_image(pixels, width, height, ExtendedColorType::L8) {
        Ok(()) => out.into_inner(),
        Err(error) => {
            tracing::warn!(%error, "PNG encoding failed");
            Vec::new()
        }
    }
}

/// How the simulated phone camera sees the printer's screen.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraSettings {
    /// Seed of every random choice (pose, noise): same seed, size and code, same frame.
    pub seed: u64,
    /// Largest in-plane rotation, degrees.
    pub max_rotation_deg: f64,
    /// Largest displacement of each screen corner, as a fraction of the screen size (perspective).
    pub perspective: f64,
    /// Smallest scale of the screen relative to the largest that fits the frame (scale is drawn
    /// between this and 1).
    pub min_scale: f64,
    /// Box blur passes of radius 1 (0: sharp).
    pub blur_passes: u32,
    /// Standard deviation of the sensor noise, in gray levels.
    pub noise_sigma: f64,
}

impl Default for CameraSettings {
    fn default() -> Self {
        Self {
            seed: 0x5eed_c0de,
            max_rotation_deg: 8.0,
            perspective: 0.04,
            min_scale: 0.75,
            blur_passes: 1,
            noise_sigma: 4.0,
        }
    }
}

/// SplitMix64: small, fast and stable across versions (frames must not change with a crate bump).
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1).
    fn signed(&mut self) -> f64 {
        self.unit() * 2.0 - 1.0
    }

    /// Approximately standard normal (Irwin–Hall with 4 terms, rescaled).
    fn normal(&mut self) -> f64 {
        let sum: f64 = (0..4).map(|_| self.unit()).sum();
        (sum - 2.0) * 3f64.sqrt()
    }
}

/// Screen layout in screen units: a 4:3 display with the code on the left and "text" on the
/// right.
const SCREEN_W: f64 = 4.0;
const SCREEN_H: f64 = 3.0;
const CODE_X: f64 = 0.2;
const CODE_Y: f64 = 0.3;
const CODE_SIDE: f64 = 2.4;

/// Luma of the scene at screen coordinates (`sx`, `sy`) (screen units; outside is the bezel and
/// the printer's body).
fn scene(modules: Option<&QrModules>, sx: f64, sy: f64) -> f64 {
    let bezel = 0.12;
    if sx < -bezel || sy < -bezel || sx > SCREEN_W + bezel || sy > SCREEN_H + bezel {
        // The printer's light-grey body, a little darker towards the bottom.
        return 150.0 - 10.0 * (sy / SCREEN_H).clamp(-1.0, 2.0);
    }
    if sx < 0.0 || sy < 0.0 || sx > SCREEN_W || sy > SCREEN_H {
        return 38.0; // black bezel
    }
    // The backlit screen, with a faint glare towards the top right.
    let glare = 12.0 * (1.0 - ((SCREEN_W - sx) / SCREEN_W + sy / SCREEN_H) / 2.0);
    let screen = 200.0 + glare;
    if let Some(modules) = modules {
        let n = (modules.width() + 2 * QUIET_ZONE) as f64;
        let u = (sx - CODE_X) / CODE_SIDE;
        let v = (sy - CODE_Y) / CODE_SIDE;
        if (0.0..1.0).contains(&u) && (0.0..1.0).contains(&v) {
            let mx = (u * n).floor() as i64 - QUIET_ZONE as i64;
            let my = (v * n).floor() as i64 - QUIET_ZONE as i64;
            return if modules.is_dark(mx, my) {
                42.0
            } else {
                screen
            };
        }
    }
    // A title bar and a few lines of "text" on the right-hand side.
    let in_title = (0.0..0.22).contains(&sy);
    if in_title {
        return 90.0;
    }
    let text_x = CODE_X + CODE_SIDE + 0.2;
    if sx > text_x && sx < SCREEN_W - 0.2 {
        let line = (sy - 0.6) / 0.35;
        if (0.0..5.0).contains(&line) && line.fract() < 0.35 {
            let words = ((sx - text_x) * 7.0 + line.floor() * 3.0).sin();
            if words > -0.6 {
                return 70.0;
            }
        }
    }
    screen
}

/// A projective map from screen units to frame pixels, and its inverse.
struct Homography {
    inverse: [[f64; 3]; 3],
}

impl Homography {
    /// Maps the unit square to the quad `corners` (top-left, top-right, bottom-right,
    /// bottom-left), after Heckbert's square-to-quad construction.
    fn from_unit_square(c: [(f64, f64); 4]) -> Option<Self> {
        let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = c;
        let (dx1, dx2, dx3) = (x1 - x2, x3 - x2, x0 - x1 + x2 - x3);
        let (dy1, dy2, dy3) = (y1 - y2, y3 - y2, y0 - y1 + y2 - y3);
        let den = dx1 * dy2 - dx2 * dy1;
        if den.abs() < 1e-9 {
            return None;
        }
        let g = (dx3 * dy2 - dx2 * dy3) / den;
        let h = (dx1 * dy3 - dx3 * dy1) / den;
        let m = [
            [x1 - x0 + g * x1, x3 - x0 + h * x3, x0],
            [y1 - y0 + g * y1, y3 - y0 + h * y3, y0],
            [g, h, 1.0],
        ];
        Some(Self {
            inverse: invert(m)?,
        })
    }

    /// Frame pixel → unit-square coordinates.
    fn unproject(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.inverse;
        let w = m[2][0] * x + m[2][1] * y + m[2][2];
        (
            (m[0][0] * x + m[0][1] * y + m[0][2]) / w,
            (m[1][0] * x + m[1][1] * y + m[1][2]) / w,
        )
    }
}

fn invert(m: [[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if det.abs() < 1e-12 {
        return None;
    }
    let c =
        |r0: usize, c0: usize, r1: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    Some([
        [
            c(1, 1, 2, 2) / det,
            -c(0, 1, 2, 2) / det,
            c(0, 1, 1, 2) / det,
        ],
        [
            -c(1, 0, 2, 2) / det,
            c(0, 0, 2, 2) / det,
            -c(0, 0, 1, 2) / det,
        ],
        [
            c(1, 0, 2, 1) / det,
            -c(0, 0, 2, 1) / det,
            c(0, 0, 1, 1) / det,
        ],
    ])
}

/// The printer's screen (showing `modules`, or no code) as a phone camera would see it in a
/// `width × height` frame (each side clamped to 16..=4096 pixels). Deterministic for equal
/// inputs.
pub fn camera_frame(
    modules: Option<&QrModules>,
    width: u32,
    height: u32,
    settings: &CameraSettings,
) -> GrayFrame {
    let width = width.clamp(16, MAX_FRAME_SIDE);
    let height = height.clamp(16, MAX_FRAME_SIDE);
    let (w, h) = (f64::from(width), f64::from(height));
    let mut rng = SplitMix::new(
        settings.seed ^ (u64::from(width) << 32 | u64::from(height)).wrapping_mul(0x2545_f491),
    );

    // Pose: the largest 4:3 screen that fits 85 % of the frame, scaled, rotated, shifted a
    // little, with each corner nudged for perspective.
    let fit = (0.85 * w / SCREEN_W).min(0.85 * h / SCREEN_H);
    let min_scale = settings.min_scale.clamp(0.1, 1.0);
    let scale = fit * (min_scale + (1.0 - min_scale) * rng.unit());
    let angle = settings.max_rotation_deg.clamp(0.0, 45.0).to_radians() * rng.signed();
    let (sin, cos) = angle.sin_cos();
    let (half_w, half_h) = (SCREEN_W * scale / 2.0, SCREEN_H * scale / 2.0);
    let slack_x = (w / 2.0 - half_w).max(0.0) * 0.3;
    let slack_y = (h / 2.0 - half_h).max(0.0) * 0.3;
    let (cx, cy) = (
        w / 2.0 + slack_x * rng.signed(),
        h / 2.0 + slack_y * rng.signed(),
    );
    let jitter = settings.perspective.clamp(0.0, 0.2) * SCREEN_W * scale;
    let mut corners = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)].map(|(sx, sy)| {
        let (px, py) = (sx * half_w, sy * half_h);
        (
            cx + px * cos - py * sin + jitter * rng.signed(),
            cy + px * sin + py * cos + jitter * rng.signed(),
        )
    });
    let homography = Homography::from_unit_square(corners).or_else(|| {
        // Degenerate only for absurd settings: fall back to the unrotated pose.
        corners = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
            .map(|(sx, sy)| (cx + sx * half_w, cy + sy * half_h));
        Homography::from_unit_square(corners)
    });

    // Render with 2×2 supersampling.
    let mut luma = vec![0f64; (width * height) as usize];
    for y in 0..height {
        for x in 0..width {
            let mut sum = 0.0;
            for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let (u, v) = match &homography {
                    Some(hm) => hm.unproject(f64::from(x) + ox, f64::from(y) + oy),
                    None => (-1.0, -1.0),
                };
                sum += scene(modules, u * SCREEN_W, v * SCREEN_H);
            }
            luma[(y * width + x) as usize] = sum / 4.0;
        }
    }
    for _ in 0..settings.blur_passes.min(8) {
        luma = box_blur(&luma, width as usize, height as usize);
    }
    let sigma = settings.noise_sigma.clamp(0.0, 64.0);
    let pixels = luma
        .into_iter()
        .map(|l| (l + sigma * rng.normal()).round().clamp(0.0, 255.0) as u8)
        .collect();
    GrayFrame {
        width,
        height,
        pixels,
    }
}

/// One 3×3 box blur pass (edges clamped).
fn box_blur(src: &[f64], w: usize, h: usize) -> Vec<f64> {
    let mut horizontal = vec![0f64; src.len()];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for x in 0..w {
            let l = row[x.saturating_sub(1)];
            let r = row[(x + 1).min(w - 1)];
            horizontal[y * w + x] = (l + row[x] + r) / 3.0;
        }
    }
    let mut out = vec![0f64; src.len()];
    for y in 0..h {
        let up = y.saturating_sub(1);
        let down = (y + 1).min(h - 1);
        for x in 0..w {
            out[y * w + x] =
                (horizontal[up * w + x] + horizontal[y * w + x] + horizontal[down * w + x]) / 3.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_deterministic_and_bounded() {
        let modules = QrModules::encode("http://127.0.0.1:1/pair?v=1&code=BCDF-GHJK").unwrap();
        let settings = CameraSettings::default();
        let a = camera_frame(Some(&modules), 320, 240, &settings);
        let b = camera_frame(Some(&modules), 320, 240, &settings);
        assert_eq!(a, b);
        let other = CameraSettings {
            seed: 7,
            ..settings.clone()
        };
        assert_ne!(a, camera_frame(Some(&modules), 320, 240, &other));
        let tiny = camera_frame(None, 0, 100_000, &settings);
        assert_eq!((tiny.width, tiny.height), (16, MAX_FRAME_SIDE));
        assert_eq!(tiny.pixels.len(), 16 * MAX_FRAME_SIDE as usize);
    }

    #[test]
    fn png_has_signature_and_quiet_zone() {
        let modules = QrModules::encode("hello").unwrap();
        let png = modules.to_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(!modules.is_dark(-1, 0) && !modules.is_dark(0, modules.width() as i64));
        assert!(modules.is_dark(0, 0), "finder pattern corner");
    }

    #[test]
    fn homography_maps_corners() {
        let corners = [(10.0, 20.0), (110.0, 25.0), (105.0, 90.0), (12.0, 95.0)];
        let hm = Homography::from_unit_square(corners).unwrap();
        for ((x, y), (u, v)) in corners
            .iter()
            .zip([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
        {
            let (pu, pv) = hm.unproject(*x, *y);
            assert!((pu - u).abs() < 1e-9 && (pv - v).abs() < 1e-9, "{pu},{pv}");
        }
    }
}
