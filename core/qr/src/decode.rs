//! Decoding: plain rqrr (the baseline), and the grids our locator sampled, corrected and parsed.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rqrr::BitGrid;

use super::budget::Meter;
use super::detect::{self, Bin, DetectParams, PointF, ThresholdMap};
use super::frame::LumaFrame;
use super::{reed_solomon, segments};

/// Largest decoded text we keep (QR version 40 holds under 3 KB).
pub const MAX_TEXT_LEN: usize = 4096;

/// One decoded QR code.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedCode {
    /// The text content.
    pub text: String,
    /// Corners in the upright image (camera rotation applied), in pixels of the frame given:
    /// top-left, top-right, bottom-right, bottom-left of the code as printed.
    pub corners: [PointF; 4],
    /// Grid size in modules (21 for version 1 ... 177 for version 40).
    pub modules: usize,
}

impl DecodedCode {
    /// Axis-aligned bounding box of the corners, in upright image pixels:
    /// `(min_x, min_y, max_x, max_y)`.
    pub fn bounds(&self) -> (f32, f32, f32, f32) {
        let mut b = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for p in &self.corners {
            b = (b.0.min(p.x), b.1.min(p.y), b.2.max(p.x), b.3.max(p.y));
        }
        b
    }
}

/// Runs rqrr's decoder on a module grid (`true` = dark), catching any panic inside rqrr so that
/// no input can unwind through us.
pub(crate) fn decode_grid(bits: &[bool], dim: usize) -> Option<String> {
    if bits.len() != dim * dim {
        return None;
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        let grid = rqrr::SimpleGrid::from_func(dim, |x, y| bits[y * dim + x]);
        rqrr::Grid::new(grid).decode()
    }));
    match r {
        Ok(Ok((_, text))) if text.len() <= MAX_TEXT_LEN => Some(text),
        _ => None,
    }
}

/// The text of a corrected grid (`bits` as sampled): its data segments parsed, or rqrr's
/// decoder on the corrected grid for the segments left to it.
pub(crate) fn read_corrected(fixed: &reed_solomon::Corrected, bits: &[bool]) -> Option<String> {
    match segments::parse(fixed.version, &fixed.data) {
        segments::Parsed::Text(text) => (text.len() <= MAX_TEXT_LEN).then_some(text),
        segments::Parsed::Unsupported => decode_grid(&fixed.grid(bits), 17 + 4 * fixed.version),
        segments::Parsed::Invalid => None,
    }
}

fn to_upright(f: &LumaFrame<'_>, p: PointF) -> PointF {
    let (x, y) = f.rotation().to_upright(p.x, p.y, f.width(), f.height());
    PointF { x, y }
}

/// Plain rqrr over the whole frame: the baseline the pipeline is measured against. Corners are
/// in the upright image.
pub fn decode_plain(f: &LumaFrame<'_>) -> Vec<DecodedCode> {
    decode_plain_sensor(f)
        .into_iter()
        .map(|c| code_to_upright(f, c, 1.0))
        .collect()
}

/// Maps a code found in sensor coordinates of a frame `scale` times smaller than `f` to the
/// upright image of `f`.
pub(crate) fn code_to_upright(f: &LumaFrame<'_>, mut c: DecodedCode, scale: f32) -> DecodedCode {
    c.corners = c.corners.map(|p| {
        to_upright(
            f,
            PointF {
                x: p.x * scale,
                y: p.y * scale,
            },
        )
    });
    c
}

/// Plain rqrr; corners in sensor coordinates.
pub(crate) fn decode_plain_sensor(f: &LumaFrame<'_>) -> Vec<DecodedCode> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut img =
            rqrr::PreparedImage::prepare_from_greyscale(f.width(), f.height(), |x, y| f.px(x, y));
        let mut out = Vec::new();
        for g in img.detect_grids() {
            if let Ok((_, text)) = g.decode() {
                if text.len() > MAX_TEXT_LEN {
                    continue;
                }
                let c = g.bounds.map(|p| PointF {
                    x: p.x as f32,
                    y: p.y as f32,
                });
                out.push(DecodedCode {
                    text,
                    corners: c,
                    modules: g.grid.size(),
                });
            }
        }
        out
    }));
    r.unwrap_or_default()
}

/// What the locator saw in a frame, for hints and statistics.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocateReport {
    pub codes: Vec<DecodedCode>,
    /// Finder candidates seen.
    pub finders: usize,
    /// Triples that looked like a code.
    pub triples: usize,
    /// Smallest module size (px) of a plausible but unread triple.
    pub unread_module: Option<f32>,
    /// Local contrast (grey levels) at an unread triple.
    pub unread_contrast: Option<u8>,
    /// Bounding box (sensor pixels) of the first triple seen, read or not.
    pub region: Option<(f32, f32, f32, f32)>,
}

/// Most triples tried per pass (bounds the work on frames full of finder-like clutter).
const MAX_TRIPLES: usize = 12;
/// Share of wrong function-pattern modules above which a probe rejects a grid size (every
/// grid that decoded on the benchmark corpus probed at about 20 % at most, tilted codes the
/// worst).
const PROBE_MISFIT: f32 = 0.35;

/// Locates, samples and decodes all codes our locator finds, within what `meter` allows.
pub(crate) fn decode_located(
    f: &LumaFrame<'_>,
    p: &DetectParams,
    meter: &mut Meter,
) -> LocateReport {
    let t = ThresholdMap::build(f, p.min_range, p.mean);
    let b = Bin { f: *f, t: &t };
    let finders = detect::find_finders(&b, p, meter);
    let mut rep = LocateReport {
        finders: finders.len(),
        ..Default::default()
    };
    let triples = detect::triples(&finders);
    rep.triples = triples.len();
    let triples = &triples[..triples.len().min(MAX_TRIPLES)];
    // Each triple's grid sizes, best estimate first, and its module sizes along both axes.
    let plans: Vec<(Vec<usize>, f32, f32)> = triples
        .iter()
        .map(|tri| detect::dimensions(&b, tri))
        .collect();
    let rounds = plans.iter().map(|p| p.0.len()).max().unwrap_or(0);
    let mut used = vec![false; finders.len()];
    let mut tried = vec![false; triples.len()];
    let mut read = vec![false; triples.len()];
    // Round by round: every triple's best size estimate before any triple's second, so a code
    // ranked behind clutter costs one probe per clutter triple, not all their guesses.
    'rounds: for round in 0..rounds {
        for (ti, tri) in triples.iter().enumerate() {
            if read[ti] || tri.idx.iter().any(|&i| used[i]) {
                continue;
            }
            let (dims, mx, my) = &plans[ti];
            let Some(&dim) = dims.get(round) else {
                continue;
            };
            tried[ti] = true;
            meter.probe();
            // Probe without the alignment pattern (perspective from the finder sizes, affine
            // for version 1): if even the finder and timing patterns are not where this size
            // puts them, skip the alignment search, the sampling and the decoding.
            let plain = if dim > 21 { 1 } else { 2 };
            let Some(probe) = detect::locate(&b, tri, dim, *mx, *my, plain) else {
                continue;
            };
            if rep.region.is_none() {
                rep.region = Some(bbox(&probe));
            }
            if detect::function_pattern_misfit(&probe, &b) > PROBE_MISFIT {
                continue;
            }
            // The placement with the fewest wrong function-pattern modules so far: the start
            // of the corner refinement (variant 3).
            let mut fittest: Option<(f32, detect::Located)> = None;
            for variant in 0..detect::VARIANTS {
                if variant == 1 && dim <= 21 {
                    continue;
                }
                if variant == 3 && fittest.is_none() {
                    continue;
                }
                if !meter.place() {
                    break 'rounds;
                }
                let loc = match variant {
                    v if v == plain => Some(probe),
                    3 => fittest.and_then(|(_, l)| detect::refine_corner(&b, tri, &l)),
                    v => detect::locate(&b, tri, dim, *mx, *my, v),
                };
                let Some(loc) = loc else {
                    continue;
                };
                if variant < 3 && dim > 21 {
                    let m = detect::function_pattern_misfit(&loc, &b);
                    if fittest.is_none_or(|(fm, _)| m < fm) {
                        fittest = Some((m, loc));
                    }
                }
                let Some(samples) = detect::sample(f, &loc) else {
                    continue;
                };
                let mut text = None;
                // Computed once per grid, and only if a block needs erasures.
                let confidence = std::cell::OnceCell::new();
                let confidence = || {
                    confidence
                        .get_or_init(|| detect::module_confidence(&samples, dim))
                        .as_slice()
                };
                for kind in 0..detect::BIT_GRID_KINDS {
                    let bits = detect::bit_grid(kind, &samples, &loc, &b);
                    let (errs, n) = detect::function_pattern_errors(&bits, dim);
                    if errs * 5 > n || meter.failed_before(&bits, dim) {
                        continue;
                    }
                    // Corrected (errors, then the least sure codewords erased), then parsed.
                    let Some(fixed) = reed_solomon::correct(&bits, Some(&confidence), dim) else {
                        meter.remember_failure(&bits, dim);
                        continue;
                    };
                    if !meter.decode() {
                        break 'rounds;
                    }
                    text = read_corrected(&fixed, &bits);
                    if text.is_some() {
                        break;
                    }
                    meter.remember_failure(&bits, dim);
                }
                let Some(text) = text else {
                    continue;
                };
                read[ti] = true;
                for &i in &tri.idx {
                    used[i] = true;
                }
                if !rep.codes.iter().any(|c| c.text == text) {
                    let d = loc.dim as f32;
                    let corners =
                        [(0.0, 0.0), (d, 0.0), (d, d), (0.0, d)].map(|(x, y)| loc.h.map(x, y));
                    rep.codes.push(DecodedCode {
                        text,
                        corners,
                        modules: loc.dim,
                    });
                }
                break;
            }
        }
    }
    for (ti, tri) in triples.iter().enumerate() {
        if tried[ti] && !read[ti] {
            let m = (tri.tl.module + tri.tr.module + tri.bl.module) / 3.0;
            rep.unread_module = Some(rep.unread_module.map_or(m, |u: f32| u.min(m)));
            let c = b.t.range_at(tri.tl.c.x as usize, tri.tl.c.y as usize);
            rep.unread_contrast = Some(rep.unread_contrast.map_or(c, |u| u.min(c)));
        }
    }
    rep
}

fn bbox(loc: &detect::Located) -> (f32, f32, f32, f32) {
    let d = loc.dim as f32;
    let mut b = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (x, y) in [(0.0, 0.0), (d, 0.0), (d, d), (0.0, d)] {
        let p = loc.h.map(x, y);
        b = (b.0.min(p.x), b.1.min(p.y), b.2.max(p.x), b.3.max(p.y));
    }
    b
}
