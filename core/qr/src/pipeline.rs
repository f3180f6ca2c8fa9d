//! The robustness pipeline: cheap first, stop at the first success, bounded work per frame.

use super::budget::{Meter, Work, WorkBudget};
use super::decode::{self, DecodedCode, LocateReport};
use super::detect::{DetectParams, PointF};
use super::frame::{LumaFrame, LumaImage};

/// Which step of the pipeline read the code (for measurements and tuning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Our locator on the region where the previous frame saw the code.
    Roi,
    /// Our locator on a downscaled frame (the fast path).
    Downscaled,
    /// Our locator on the full frame, sparse rows.
    Locator,
    /// Our locator again with every row scanned and a lower contrast floor.
    Dense,
    /// rqrr's own detector on a downscaled frame, both polarities.
    PlainFallback,
}

/// Why nothing was read, when we can tell (for the UI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanHint {
    /// A code is there but its modules are too small: move closer.
    TooSmall,
    /// A code is there but the contrast is too low: reduce glare, raise screen brightness.
    LowContrast,
    /// A code is there but could not be read: hold steady.
    Unreadable,
}

/// Which full-resolution passes a frame runs after the downscaled one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FullResolution {
    /// Sparse rows, then every row with a lower contrast floor (a single frame's best).
    #[default]
    Both,
    /// Sparse rows only (small codes).
    Sparse,
    /// Every row with the lower contrast floor only (faint codes).
    Dense,
}

/// Pipeline switches (the default is what the benchmark measures).
#[derive(Debug, Clone, Copy, Default)]
pub struct PipelineOptions {
    /// Run rqrr's own detector as a last resort (bounded: on a frame downscaled to at most
    /// 640 px wide, both polarities). Off by default: on the benchmark corpus it read no frame
    /// our locator missed and only made unreadable frames slower.
    pub plain_fallback: bool,
    /// Most work one frame may cost, over all steps (see [`WorkBudget`]).
    pub budget: WorkBudget,
    /// The full-resolution passes to run (roger-core's `FrameScanner` alternates them
    /// from frame to frame).
    pub full_resolution: FullResolution,
}

/// Result of scanning one frame.
#[derive(Debug, Clone, Default)]
pub struct ScanOutcome {
    /// Every code read in the frame.
    pub codes: Vec<DecodedCode>,
    /// The step that read them.
    pub stage: Option<Stage>,
    /// When nothing was read but a code seemed to be there: why.
    pub hint: Option<ScanHint>,
    /// Where the code (read or not) is, in sensor pixels `(x0, y0, x1, y1)`: the region of
    /// interest to try first on the next frame of the stream.
    pub region: Option<(f32, f32, f32, f32)>,
    /// The work the frame took (at most [`PipelineOptions::budget`]).
    pub work: Work,
}

/// Module size (px) under which we tell the user to move closer.
const TOO_SMALL_MODULE: f32 = 2.2;
/// Local contrast (grey levels) under which we tell the user about contrast.
const LOW_CONTRAST: u8 = 40;

fn row_step(h: usize) -> usize {
    (h / 200).clamp(2, 6)
}

/// Largest downscale factor: a 2160-px (4K) short side still comes down to 360 px.
const MAX_FACTOR: usize = 6;

/// Downscale factor of the first, cheap pass: about 360 px on the short side.
fn first_pass_factor(f: &LumaFrame<'_>) -> usize {
    (f.width().min(f.height()) / 360).clamp(1, MAX_FACTOR)
}

/// Decodes every QR code in a frame, trying first the region of interest `roi` (sensor pixels
/// `(x0, y0, x1, y1)`, e.g. [`ScanOutcome::region`] of the previous frame) grown by half its
/// size: a code that was there a frame ago is usually still there, and the crop is a fraction
/// of the frame. Falls back to [`scan`] on the whole frame.
pub fn scan_with_roi(
    f: &LumaFrame<'_>,
    opts: &PipelineOptions,
    roi: Option<(f32, f32, f32, f32)>,
) -> ScanOutcome {
    scan_until(f, opts, roi, &|_| true)
}

/// Like [`scan_with_roi`], but looks for a code whose text `accept` takes (the pairing code),
/// not for any code: a step that reads only codes `accept` refuses (an app link or a help
/// page next to the pairing code) does not end the scan, the next steps (full resolution,
/// denser rows) run within the same work budget. The outcome holds every code read; its
/// [`ScanOutcome::stage`] and [`ScanOutcome::region`] are those of the first accepted code,
/// or of the first code read when none was accepted.
pub fn scan_until(
    f: &LumaFrame<'_>,
    opts: &PipelineOptions,
    roi: Option<(f32, f32, f32, f32)>,
    accept: &dyn Fn(&str) -> bool,
) -> ScanOutcome {
    let mut meter = Meter::new(opts.budget);
    let mut got = Collected::new(accept);
    if let Some((x0, y0, x1, y1)) = roi {
        let (w, h) = ((x1 - x0).max(1.0), (y1 - y0).max(1.0));
        let cx0 = (x0 - w / 2.0).max(0.0) as usize;
        let cy0 = (y0 - h / 2.0).max(0.0) as usize;
        let cw = (w * 2.0) as usize + 1;
        let ch = (h * 2.0) as usize + 1;
        let big_enough = cw >= 64 && ch >= 64;
        let crop = f.crop(cx0, cy0, cw, ch).filter(|_| big_enough);
        if let Some(c) = crop.filter(|_| meter.pass()) {
            // The crop is about twice the code: a code of ~33 modules stays >= 3 px per module.
            let factor = (c.width().min(c.height()) / 200).clamp(1, 4);
            let rep = if factor >= 2 {
                downscale(&c, factor).map(|small| {
                    let mut r =
                        decode::decode_located(&small.as_frame(), &fast_params(), &mut meter);
                    for code in &mut r.codes {
                        code.corners = code.corners.map(|p| PointF {
                            x: p.x * factor as f32,
                            y: p.y * factor as f32,
                        });
                    }
                    r
                })
            } else {
                Some(decode::decode_located(&c, &fast_params(), &mut meter))
            };
            if let Some(rep) = rep {
                let codes = rep
                    .codes
                    .into_iter()
                    .map(|mut code| {
                        code.corners = code.corners.map(|p| PointF {
                            x: p.x + cx0 as f32,
                            y: p.y + cy0 as f32,
                        });
                        code
                    })
                    .collect();
                if got.add(f, codes, 1.0, Stage::Roi) {
                    return got.finish(None, meter.work);
                }
            }
        }
    }
    scan_metered(f, opts, meter, got)
}

fn fast_params() -> DetectParams {
    DetectParams {
        row_step: 2,
        min_range: 20,
        mean: false,
    }
}

/// Decodes every QR code in a frame.
///
/// Steps, cheapest first, stopping at the first that reads a code:
/// 1. our locator on a downscaled copy (about 360 px on the short side, each pixel a 2x2
///    average): a quarter or less of the pixels to search, read from at most a quarter of the
///    frame, and the averaging removes most sensor noise, moiré and JPEG blocks;
/// 2. our locator at full resolution (small codes);
/// 3. again with twice the scanned rows, a lower contrast floor (faint or tiny codes) and the
///    threshold at the local mean rather than the mid-point of min and max (defocus: a finder's
///    black centre drags the mid-point under its faded outer ring);
/// 4. optionally rqrr's own detector on a copy at most 640 px wide, both polarities.
///
/// Each step runs only while [`PipelineOptions::budget`] lasts: a frame full of finder-like
/// clutter stops early, with the work done in [`ScanOutcome::work`]. To look for one kind of
/// code (the pairing code) rather than stop at any code, use [`scan_until`].
pub fn scan(f: &LumaFrame<'_>, opts: &PipelineOptions) -> ScanOutcome {
    scan_until(f, opts, None, &|_| true)
}

/// The codes read so far over the steps of one frame, in the upright image of the frame.
struct Collected<'a> {
    accept: &'a dyn Fn(&str) -> bool,
    codes: Vec<DecodedCode>,
    /// Sensor-pixel bounds of each code of `codes`.
    regions: Vec<(f32, f32, f32, f32)>,
    /// Step of the first code read, then of the first accepted one.
    stage: Option<Stage>,
    /// Index of the first accepted code.
    accepted: Option<usize>,
}

impl<'a> Collected<'a> {
    fn new(accept: &'a dyn Fn(&str) -> bool) -> Self {
        Collected {
            accept,
            codes: Vec::new(),
            regions: Vec::new(),
            stage: None,
            accepted: None,
        }
    }

    /// Adds the codes a step read (sensor coordinates of a frame `scale` times smaller than
    /// `f`), skipping texts already read; `true` once an accepted code is among them.
    fn add(
        &mut self,
        f: &LumaFrame<'_>,
        codes: Vec<DecodedCode>,
        scale: f32,
        stage: Stage,
    ) -> bool {
        for c in codes {
            if self.codes.iter().any(|k| k.text == c.text) {
                continue;
            }
            let (x0, y0, x1, y1) = c.bounds();
            let ok = self.accepted.is_none() && (self.accept)(&c.text);
            if self.stage.is_none() || ok {
                self.stage = Some(stage);
            }
            if ok {
                self.accepted = Some(self.codes.len());
            }
            self.regions
                .push((x0 * scale, y0 * scale, x1 * scale, y1 * scale));
            self.codes.push(decode::code_to_upright(f, c, scale));
        }
        self.accepted.is_some()
    }

    fn finish(self, seen: Option<&LocateReport>, work: Work) -> ScanOutcome {
        if self.codes.is_empty() {
            return ScanOutcome {
                codes: Vec::new(),
                stage: None,
                hint: seen.and_then(hint),
                region: seen.and_then(|s| s.region),
                work,
            };
        }
        let at = self.accepted.unwrap_or(0);
        ScanOutcome {
            region: self.regions.get(at).copied(),
            codes: self.codes,
            stage: self.stage,
            hint: None,
            work,
        }
    }
}

fn scan_metered(
    f: &LumaFrame<'_>,
    opts: &PipelineOptions,
    mut meter: Meter,
    mut got: Collected<'_>,
) -> ScanOutcome {
    let mut seen = LocateReport::default();
    let k = first_pass_factor(f).max(2);
    if let Some(small) = downscale(f, k).filter(|_| meter.pass()) {
        let mut rep = decode::decode_located(&small.as_frame(), &fast_params(), &mut meter);
        if got.add(
            f,
            std::mem::take(&mut rep.codes),
            k as f32,
            Stage::Downscaled,
        ) {
            return got.finish(None, meter.work);
        }
        merge(&mut seen, &rep, k as f32);
        if let Some((a, b, c, d)) = rep.region {
            let k = k as f32;
            seen.region = Some((a * k, b * k, c * k, d * k));
        }
    }

    let sparse = DetectParams {
        row_step: row_step(f.height()),
        min_range: 24,
        mean: false,
    };
    let dense = DetectParams {
        row_step: (row_step(f.height()) / 2).max(1),
        min_range: 8,
        mean: true,
    };
    for (p, stage) in [(sparse, Stage::Locator), (dense, Stage::Dense)] {
        let wanted = match opts.full_resolution {
            FullResolution::Both => true,
            FullResolution::Sparse => stage == Stage::Locator,
            FullResolution::Dense => stage == Stage::Dense,
        };
        if !wanted {
            continue;
        }
        if !meter.pass() {
            break;
        }
        let mut rep = decode::decode_located(f, &p, &mut meter);
        if got.add(f, std::mem::take(&mut rep.codes), 1.0, stage) {
            return got.finish(None, meter.work);
        }
        merge(&mut seen, &rep, 1.0);
    }

    if opts.plain_fallback && meter.pass() {
        let (codes, s) = plain_fallback(f);
        if got.add(f, codes, s, Stage::PlainFallback) {
            return got.finish(None, meter.work);
        }
    }
    got.finish(Some(&seen), meter.work)
}

fn merge(a: &mut LocateReport, b: &LocateReport, scale: f32) {
    if a.region.is_none() {
        a.region = b.region;
    }
    a.finders = a.finders.max(b.finders);
    a.triples = a.triples.max(b.triples);
    if let Some(m) = b.unread_module {
        // Keep the full-resolution estimate (the largest seen).
        let m = m * scale;
        a.unread_module = Some(a.unread_module.map_or(m, |u: f32| u.max(m)));
    }
    if a.unread_contrast.is_none() {
        a.unread_contrast = b.unread_contrast;
    }
}

fn hint(r: &LocateReport) -> Option<ScanHint> {
    if r.triples == 0 {
        return None;
    }
    if r.unread_module.is_some_and(|m| m < TOO_SMALL_MODULE) {
        Some(ScanHint::TooSmall)
    } else if r.unread_contrast.is_some_and(|c| c < LOW_CONTRAST) {
        Some(ScanHint::LowContrast)
    } else {
        Some(ScanHint::Unreadable)
    }
}

/// Downscales by `k`: each output pixel is the mean of the 2x2 pixels at the centre of its
/// `k`x`k` block. At `k` = 2 that is a box average of every pixel; above it only 4 / `k`² of
/// the frame is read (44 % at 3x, 25 % at 4x), which is what makes large frames cheap: the
/// whole-frame 3x3 average of a 1080p frame cost more than all the locating after it. Two by
/// two still halves sensor noise and blurs away moiré and JPEG blocks finer than a module of
/// the downscaled frame; codes too small for this view are read at full resolution.
///
/// Written with slices and plain loops: the crate is built size-optimised (`opt-level = "z"`),
/// where `Vec` indexing, `push` and iterator adapters in a hot loop are not reliably inlined.
fn downscale(f: &LumaFrame<'_>, k: usize) -> Option<LumaImage> {
    let (w, h) = (f.width() / k, f.height() / k);
    if !(2..=MAX_FACTOR).contains(&k) || w < 48 || h < 48 {
        return None;
    }
    // Rows and columns off .. off + 2 of each block: the centre pair (k = 3 leans by half a
    // pixel). off + 1 < k keeps every read inside the w*k x h*k part of the frame.
    let off = (k - 1) / 2;
    let mut data = vec![0u8; w * h];
    let out: &mut [u8] = &mut data;
    let mut y = 0;
    while y < h {
        let r0 = &f.row(y * k + off)[..w * k];
        let r1 = &f.row(y * k + off + 1)[..w * k];
        let o = &mut out[y * w..(y + 1) * w];
        let mut x = 0;
        let mut i = off;
        while x < w {
            let s = r0[i] as u32 + r0[i + 1] as u32 + r1[i] as u32 + r1[i + 1] as u32;
            o[x] = ((s + 2) >> 2) as u8;
            x += 1;
            i += k;
        }
        y += 1;
    }
    LumaImage::new(w, h, data).ok()
}

/// rqrr's own detector, bounded: on a copy at most 640 px wide, then on its inverse.
fn plain_fallback(f: &LumaFrame<'_>) -> (Vec<DecodedCode>, f32) {
    let mut scale = 1usize;
    while f.width() / scale > 640 {
        scale += 1;
    }
    let (w, h) = (f.width() / scale, f.height() / scale);
    if w == 0 || h == 0 {
        return (Vec::new(), 1.0);
    }
    let mut data = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let mut s = 0u32;
            for dy in 0..scale {
                let row = f.row(y * scale + dy);
                for dx in 0..scale {
                    s += row[x * scale + dx] as u32;
                }
            }
            data.push((s / (scale * scale) as u32) as u8);
        }
    }
    let Ok(img) = LumaImage::new(w, h, data) else {
        return (Vec::new(), 1.0);
    };
    let mut codes = decode::decode_plain_sensor(&img.as_frame());
    if codes.is_empty() {
        let inv: Vec<u8> = img.data.iter().map(|v| 255 - v).collect();
        if let Ok(img) = LumaImage::new(w, h, inv) {
            codes = decode::decode_plain_sensor(&img.as_frame());
        }
    }
    (codes, scale as f32)
}
