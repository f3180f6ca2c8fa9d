//! Decoding: plain rqrr (the baseline), and rqrr's decoder on grids our locator sampled.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rqrr::BitGrid;

use super::detect::{self, Bin, DetectParams, PointF, ThresholdMap};
use super::frame::LumaFrame;

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
/// Most grids handed to rqrr per pass.
const MAX_DECODES: usize = 48;

/// Locates, samples and decodes all codes our locator finds.
pub(crate) fn decode_located(f: &LumaFrame<'_>, p: &DetectParams) -> LocateReport {
    let t = ThresholdMap::build(f, p.min_range);
    decode_located_with(f, &t, p)
}

pub(crate) fn decode_located_with(
    f: &LumaFrame<'_>,
    t: &ThresholdMap,
    p: &DetectParams,
) -> LocateReport {
    let b = Bin { f: *f, t };
    let finders = detect::find_finders(&b, p);
    let mut rep = LocateReport {
        finders: finders.len(),
        ..Default::default()
    };
    let triples = detect::triples(&finders);
    rep.triples = triples.len();
    let mut used = vec![false; finders.len()];
    let mut decodes = 0;
    for tri in triples.iter().take(MAX_TRIPLES) {
        if decodes >= MAX_DECODES {
            break;
        }
        if tri.idx.iter().any(|&i| used[i]) {
            continue;
        }
        let (dims, mx, my) = detect::dimensions(&b, tri);
        let mut read = None;
        for (dim, variant) in dims.iter().flat_map(|&d| [(d, 0), (d, 1), (d, 2)]) {
            if variant == 1 && dim <= 21 {
                continue;
            }
            let Some(loc) = detect::locate(&b, tri, dim, mx, my, variant) else {
                continue;
            };
            if rep.region.is_none() {
                rep.region = Some(bbox(&loc));
            }
            let Some(samples) = detect::sample(f, &loc) else {
                continue;
            };
            for kind in 0..detect::BIT_GRID_KINDS {
                let bits = detect::bit_grid(kind, &samples, &loc, &b);
                let (errs, n) = detect::function_pattern_errors(&bits, dim);
                if errs * 5 > n {
                    continue;
                }
                decodes += 1;
                if let Some(text) = decode_grid(&bits, dim) {
                    read = Some((text, loc));
                    break;
                }
            }
            if read.is_some() {
                break;
            }
        }
        match read {
            Some((text, loc)) => {
                for &i in &tri.idx {
                    used[i] = true;
                }
                if rep.codes.iter().any(|c| c.text == text) {
                    continue;
                }
                let d = loc.dim as f32;
                let corners =
                    [(0.0, 0.0), (d, 0.0), (d, d), (0.0, d)].map(|(x, y)| loc.h.map(x, y));
                rep.codes.push(DecodedCode {
                    text,
                    corners,
                    modules: loc.dim,
                });
            }
            None => {
                let m = (tri.tl.module + tri.tr.module + tri.bl.module) / 3.0;
                rep.unread_module = Some(rep.unread_module.map_or(m, |u: f32| u.min(m)));
                let c = t.range_at(tri.tl.c.x as usize, tri.tl.c.y as usize);
                rep.unread_contrast = Some(rep.unread_contrast.map_or(c, |u| u.min(c)));
            }
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
