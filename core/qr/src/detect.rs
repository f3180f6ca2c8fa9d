//! Our own QR locator and sampler.
//!
//! rqrr binarises and flood-fills the whole frame before it finds anything (about 14 ms per 720p
//! frame), needs about 6 px per module, and reads only dark-on-light codes. This module does the
//! detection and sampling itself, the way the fast decoders do, and hands on only the sampled
//! module grid (corrected by `reed_solomon`, parsed by `segments`):
//!
//! 1. a block threshold map from local min/max (or mean) over a subsampled frame (adaptive
//!    binarisation: copes with glare, low contrast and uneven light);
//! 2. a scan of every few rows for the 1:1:3:1:1 finder-pattern runs, in both polarities at
//!    once (light-on-dark screens cost nothing extra), each hit cross-checked vertically and
//!    re-centred;
//! 3. triples of finder patterns that form a plausible code corner, the module size measured
//!    along the code's own axes, the alignment pattern searched near where the affine estimate
//!    puts it, and a perspective transform from module space to the image;
//! 4. sampling each module (a few pixels averaged: blur, noise, moiré) and thresholding the
//!    samples in a few ways, each tried until one passes error correction.
//!
//! All work is bounded: a fixed number of scanned rows, a cap on candidates and on triples.

use super::budget::Meter;
use super::frame::LumaFrame;

/// A point in sensor-image pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PointF {
    /// Horizontal position, pixels.
    pub x: f32,
    /// Vertical position, pixels.
    pub y: f32,
}

impl PointF {
    fn dist(self, o: PointF) -> f32 {
        ((self.x - o.x).powi(2) + (self.y - o.y).powi(2)).sqrt()
    }
}

/// Tunables of the locator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DetectParams {
    /// Distance between scanned rows, in pixels.
    pub row_step: usize,
    /// Smallest local (max - min) that counts as an edge, in grey levels.
    pub min_range: u8,
    /// Threshold at the local mean instead of the mid-point of min and max.
    pub mean: bool,
}

/// Block threshold map: for each block, the mid-point of the min and max grey level over a 5x5
/// block window, or the window's mean grey level (0 where the window is flat: everything there
/// reads as light).
pub(crate) struct ThresholdMap {
    bs: usize,
    shift: u32,
    bw: usize,
    bh: usize,
    thr: Vec<u8>,
    /// Local dynamic range (max - min) per block, for the contrast hint.
    range: Vec<u8>,
}

impl ThresholdMap {
    pub(crate) fn build(f: &LumaFrame<'_>, min_range: u8, mean: bool) -> ThresholdMap {
        let (w, h) = (f.width(), f.height());
        // Power-of-two blocks: 8 px, 16 px from about 1440 px on the short side.
        let shift = if w.min(h) >= 1440 { 4 } else { 3 };
        let bs = 1usize << shift;
        let bw = w.div_ceil(bs);
        let bh = h.div_ceil(bs);
        let mut bsum_v = vec![0u32; if mean { bw * bh } else { 0 }];
        let mut bmin_v = vec![255u8; bw * bh];
        let mut bmax_v = vec![0u8; bw * bh];
        let bmin: &mut [u8] = &mut bmin_v;
        let bmax: &mut [u8] = &mut bmax_v;
        // Subsample every other row and column: 4x less work, same statistics for our purpose.
        // Slices and plain loops: written when this code was built size-optimised, where `Vec`
        // indexing and iterator adapters in hot loops were not reliably inlined.
        let mut y = 0;
        while y < h {
            let row: &[u8] = f.row(y);
            let brow = (y / bs) * bw;
            let bmin_r = &mut bmin[brow..brow + bw];
            let bmax_r = &mut bmax[brow..brow + bw];
            let mut bx = 0;
            while bx < bw {
                let x0 = bx * bs;
                let x1 = if x0 + bs < w { x0 + bs } else { w };
                let (mut lo, mut hi) = (bmin_r[bx], bmax_r[bx]);
                let mut sum = 0u32;
                let mut x = x0;
                while x < x1 {
                    let p = row[x];
                    if p < lo {
                        lo = p;
                    }
                    if p > hi {
                        hi = p;
                    }
                    sum += p as u32;
                    x += 2;
                }
                bmin_r[bx] = lo;
                bmax_r[bx] = hi;
                if mean {
                    bsum_v[brow + bx] += sum;
                }
                bx += 1;
            }
            y += 2;
        }
        // 5x5 window min / max, separably.
        let wmin = window_min(bmin, bw, bh);
        let wmax = window_max(bmax, bw, bh);
        let wmean = mean.then(|| window_mean(&bsum_v, w, h, bs, bw, bh));
        let mut thr = vec![0u8; bw * bh];
        let mut range = vec![0u8; bw * bh];
        {
            let (t, r): (&mut [u8], &mut [u8]) = (&mut thr, &mut range);
            let (lo, hi): (&[u8], &[u8]) = (&wmin, &wmax);
            let mut i = 0;
            while i < bw * bh {
                let d = hi[i] - lo[i];
                r[i] = d;
                if d >= min_range {
                    t[i] = match &wmean {
                        Some(m) => m[i],
                        None => (lo[i] as u16 + hi[i] as u16).div_ceil(2) as u8,
                    };
                }
                i += 1;
            }
        }
        ThresholdMap {
            bs,
            shift,
            bw,
            bh,
            thr,
            range,
        }
    }

    #[inline(always)]
    fn at(&self, x: usize, y: usize) -> u8 {
        let mut bx = x >> self.shift;
        if bx >= self.bw {
            bx = self.bw - 1;
        }
        let mut by = y >> self.shift;
        if by >= self.bh {
            by = self.bh - 1;
        }
        let t: &[u8] = &self.thr;
        t[by * self.bw + bx]
    }

    /// Local dynamic range around a pixel.
    pub(crate) fn range_at(&self, x: usize, y: usize) -> u8 {
        let bx = (x / self.bs).min(self.bw - 1);
        let by = (y / self.bs).min(self.bh - 1);
        self.range[by * self.bw + bx]
    }
}

/// Mean grey level over each block's 5x5 block window, from the blocks' sums of the pixels
/// sampled (every other row and column of a `w` x `h` frame in `bs` px blocks).
fn window_mean(sums: &[u32], w: usize, h: usize, bs: usize, bw: usize, bh: usize) -> Vec<u8> {
    const R: usize = 2;
    // Pixels sampled per block: edge blocks are smaller.
    let samples = |i: usize, len: usize| (((i + 1) * bs).min(len) - i * bs).div_ceil(2);
    let mut out = vec![0u8; bw * bh];
    for by in 0..bh {
        let (y0, y1) = (by.saturating_sub(R), (by + R + 1).min(bh));
        for bx in 0..bw {
            let (x0, x1) = (bx.saturating_sub(R), (bx + R + 1).min(bw));
            let (mut sum, mut n) = (0u64, 0u64);
            for yy in y0..y1 {
                let rows = samples(yy, h) as u64;
                for xx in x0..x1 {
                    sum += sums[yy * bw + xx] as u64;
                    n += rows * samples(xx, w) as u64;
                }
            }
            out[by * bw + bx] = (sum / n.max(1)) as u8;
        }
    }
    out
}

/// 5x5 window minimum over a `w`x`h` grid (separable).
fn window_min(v: &[u8], w: usize, h: usize) -> Vec<u8> {
    window(v, w, h, false)
}

/// 5x5 window maximum over a `w`x`h` grid (separable).
fn window_max(v: &[u8], w: usize, h: usize) -> Vec<u8> {
    window(v, w, h, true)
}

#[allow(clippy::needless_range_loop)] // index loops on purpose: see `ThresholdMap::build`
fn window(v: &[u8], w: usize, h: usize, max: bool) -> Vec<u8> {
    const R: usize = 2;
    let mut tmp_v = vec![0u8; w * h];
    let mut out_v = vec![0u8; w * h];
    let tmp: &mut [u8] = &mut tmp_v;
    let out: &mut [u8] = &mut out_v;
    for y in 0..h {
        let src = &v[y * w..(y + 1) * w];
        let dst = &mut tmp[y * w..(y + 1) * w];
        for x in 0..w {
            let x0 = x.saturating_sub(R);
            let x1 = if x + R + 1 < w { x + R + 1 } else { w };
            let mut acc = src[x0];
            let mut xx = x0 + 1;
            while xx < x1 {
                let p = src[xx];
                if max {
                    if p > acc {
                        acc = p;
                    }
                } else if p < acc {
                    acc = p;
                }
                xx += 1;
            }
            dst[x] = acc;
        }
    }
    for y in 0..h {
        let y0 = y.saturating_sub(R);
        let y1 = if y + R + 1 < h { y + R + 1 } else { h };
        let dst = &mut out[y * w..(y + 1) * w];
        dst.copy_from_slice(&tmp[y0 * w..(y0 + 1) * w]);
        let mut yy = y0 + 1;
        while yy < y1 {
            let src = &tmp[yy * w..(yy + 1) * w];
            let mut x = 0;
            while x < w {
                let p = src[x];
                if max {
                    if p > dst[x] {
                        dst[x] = p;
                    }
                } else if p < dst[x] {
                    dst[x] = p;
                }
                x += 1;
            }
            yy += 1;
        }
    }
    out_v
}

/// Mismatches between a sampled grid and the fixed patterns every QR code has (the three
/// finder patterns and the two timing lines), out of how many modules checked. A grid that
/// fails these is not worth handing to the decoder.
pub(crate) fn function_pattern_errors(bits: &[bool], dim: usize) -> (usize, usize) {
    let mut errs = 0;
    let mut n = 0;
    for (x, y, dark) in function_modules(dim) {
        n += 1;
        if bits.get(y * dim + x) != Some(&dark) {
            errs += 1;
        }
    }
    (errs, n)
}

/// The modules of the patterns every code of `dim` modules has, and their colour (`true` =
/// dark): the three finder patterns, then the two timing lines between them.
fn function_modules(dim: usize) -> impl Iterator<Item = (usize, usize, bool)> {
    let corners = [
        (0, 0),
        (dim.saturating_sub(7), 0),
        (0, dim.saturating_sub(7)),
    ];
    let finders = corners.into_iter().flat_map(|(ox, oy)| {
        (0..49usize).map(move |i| {
            let (x, y) = (i % 7, i / 7);
            // Dark except the ring two modules out from the centre.
            (ox + x, oy + y, x.abs_diff(3).max(y.abs_diff(3)) != 2)
        })
    });
    let timing = (8..dim.saturating_sub(8)).flat_map(|i| [(i, 6, i % 2 == 0), (6, i, i % 2 == 0)]);
    finders.chain(timing)
}

/// A finder pattern candidate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finder {
    pub c: PointF,
    /// Estimated module size (pixels).
    pub module: f32,
    /// How many scan rows confirmed it.
    pub count: u32,
    /// `true` for the usual dark-centred pattern, `false` for light-on-dark codes.
    pub dark: bool,
}

/// The binarised view of a frame: pixel, threshold map, polarity.
pub(crate) struct Bin<'a> {
    pub f: LumaFrame<'a>,
    pub t: &'a ThresholdMap,
}

impl Bin<'_> {
    /// `true` if the pixel is dark.
    #[inline(always)]
    fn dark(&self, x: usize, y: usize) -> bool {
        self.f.px(x, y) < self.t.at(x, y)
    }
}

/// Finder candidates kept while scanning, and the best of them used to form triples.
const MAX_CANDIDATES: usize = 160;
const MAX_FINDERS: usize = 40;
/// Smallest module size (px) worth locating: below it noise makes most of the hits.
const MIN_MODULE: f32 = 1.5;

fn finder_ratio_ok(r: &[u32; 5]) -> Option<f32> {
    let total: u32 = r.iter().sum();
    let m = total as f32 / 7.0;
    if m < MIN_MODULE {
        return None;
    }
    let v = m * 0.6;
    // Blur or foreshortening (a strongly tilted code) thins the dark ring and widens the light
    // ring around it; allow the light ring more.
    let gap = m * 0.8;
    let ok = (m - r[0] as f32).abs() < v
        && (m - r[1] as f32).abs() < gap
        && (3.0 * m - r[2] as f32).abs() < 3.0 * v
        && (m - r[3] as f32).abs() < gap
        && (m - r[4] as f32).abs() < v;
    ok.then_some(m)
}

/// Walks from `(x, y)` along `(dx, dy)` and returns the run lengths of the three runs on that
/// side: centre colour (including the start pixel), opposite colour, centre colour again.
/// Stops after `max` pixels per run; `None` if a run is cut by the border or too long.
fn runs_one_way(
    b: &Bin<'_>,
    x: usize,
    y: usize,
    dx: isize,
    dy: isize,
    center_dark: bool,
    max: u32,
) -> Option<[u32; 3]> {
    let (w, h) = (b.f.width() as isize, b.f.height() as isize);
    let mut runs = [0u32; 3];
    let (mut cx, mut cy) = (x as isize, y as isize);
    let mut i = 0;
    let mut want = center_dark;
    while i < 3 {
        if cx < 0 || cy < 0 || cx >= w || cy >= h {
            return if i == 2 && runs[2] > 0 {
                Some(runs)
            } else {
                None
            };
        }
        if b.dark(cx as usize, cy as usize) == want {
            runs[i] += 1;
            if runs[i] > max {
                return None;
            }
            cx += dx;
            cy += dy;
        } else {
            if runs[i] == 0 {
                return None;
            }
            i += 1;
            want = !want;
        }
    }
    Some(runs)
}

/// Largest ratio between a finder pattern's extents along the two image axes. A code tilted
/// by `a` about an axis the code's edges make any angle with, then rolled, is an affine image
/// of the square whose axis-aligned extents differ by up to 1.74 at 50° and 1.99 at 55°; the
/// perspective across the pattern and whole-pixel runs on a small code add about 10 % each.
const MAX_ASPECT: f32 = 2.4;

/// Checks a finder pattern through `(x, y)` along one axis; returns the refined centre coordinate
/// along that axis and the total pattern length.
fn cross_check(
    b: &Bin<'_>,
    x: usize,
    y: usize,
    vertical: bool,
    center_dark: bool,
    expect_total: f32,
) -> Option<(f32, f32)> {
    // A run along the other axis may be up to MAX_ASPECT times longer (strong tilt).
    let max = (expect_total * 3.0 / 7.0 * MAX_ASPECT) as u32 + 2;
    let (dx, dy) = if vertical { (0, 1) } else { (1, 0) };
    let fwd = runs_one_way(b, x, y, dx, dy, center_dark, max)?;
    let back = runs_one_way(b, x, y, -dx, -dy, center_dark, max)?;
    // The start pixel is counted on both sides.
    let r = [back[2], back[1], back[0] + fwd[0] - 1, fwd[1], fwd[2]];
    finder_ratio_ok(&r)?;
    let total: u32 = r.iter().sum();
    let t = total as f32;
    if t * MAX_ASPECT < expect_total || t > expect_total * MAX_ASPECT {
        return None;
    }
    let pos = if vertical { y } else { x } as f32;
    // Centre of the middle run.
    let start = pos - (back[0] as f32 - 1.0);
    let center = start + (r[2] as f32) / 2.0;
    Some((center, total as f32))
}

/// Finds finder pattern candidates in both polarities; stops early when the meter's
/// cross-check budget runs out.
pub(crate) fn find_finders(b: &Bin<'_>, p: &DetectParams, meter: &mut Meter) -> Vec<Finder> {
    let (w, h) = (b.f.width(), b.f.height());
    let mut found: Vec<Finder> = Vec::new();
    let mut edges: Vec<u32> = Vec::with_capacity(256);
    let step = p.row_step.max(1);
    let mut y = step / 2;
    'rows: while y < h {
        let row = b.f.row(y);
        let by = (y / b.t.bs).min(b.t.bh - 1) * b.t.bw;
        let thr = &b.t.thr[by..by + b.t.bw];
        // Hot loop: just the colour changes of the row.
        edges.clear();
        let mut cur = row[0] < thr[0];
        let bs = b.t.bs;
        for (bx, &t) in thr.iter().enumerate() {
            let x1 = ((bx + 1) * bs).min(w);
            let mut x = bx * bs;
            while x < x1 {
                let d = row[x] < t;
                if d != cur {
                    edges.push(x as u32);
                    cur = d;
                }
                x += 1;
            }
        }
        edges.push(w as u32);
        // Runs between edges; the first run starts at 0 with the colour of pixel 0.
        let first_dark = row[0] < thr[0];
        let mut start = 0u32;
        let mut runs = [0u32; 5];
        for (k, &e) in edges.iter().enumerate() {
            runs.copy_within(1..5, 0);
            runs[4] = e - start;
            start = e;
            if k >= 4 {
                if let Some(m) = finder_ratio_ok(&runs) {
                    // Colour of run k is first_dark flipped k times; runs[2] is run k - 2.
                    let dark = first_dark ^ (k % 2 == 1);
                    let end2 = e - runs[4] - runs[3];
                    let cx = end2 as f32 - runs[2] as f32 / 2.0;
                    if found.len() >= MAX_CANDIDATES {
                        // Full (a screen of moiré or text makes many): drop the hits that can
                        // no longer be confirmed, rows above the pattern's reach, which the
                        // end of the scan would drop anyway.
                        found.retain(|f| f.count >= 2 || !stale(f, y, step));
                        if found.len() >= MAX_CANDIDATES {
                            break 'rows;
                        }
                    }
                    if !meter.cross_check() {
                        break 'rows;
                    }
                    consider(b, &mut found, cx, y, dark, m * 7.0);
                }
            }
        }
        y += step;
    }
    // A real finder pattern spans 7 modules of rows: expect several hits when rows are close.
    found.retain(|f| f.count >= 2 || !needs_rows(f, step));
    found.sort_by_key(|f| std::cmp::Reverse(f.count));
    found.truncate(MAX_FINDERS);
    found
}

/// Whether a finder this size spans enough scanned rows that a real one is hit more than once.
fn needs_rows(f: &Finder, step: usize) -> bool {
    f.module * 7.0 / (step as f32) >= 4.0
}

/// Whether a candidate seen once will stay so: the scan at row `y` is past its lower edge, and
/// it is large enough that a real pattern would have been hit again.
fn stale(f: &Finder, y: usize, step: usize) -> bool {
    needs_rows(f, step) && y as f32 - f.c.y > f.module * 4.0
}

/// Cross-checks a hit and merges it into `found` (caller keeps `found` under the cap).
fn consider(b: &Bin<'_>, found: &mut Vec<Finder>, cx: f32, y: usize, dark: bool, total: f32) {
    let xi = cx.max(0.0) as usize;
    let xi = xi.min(b.f.width() - 1);
    let Some((cy, vt)) = cross_check(b, xi, y, true, dark, total) else {
        return;
    };
    let yi = (cy.max(0.0) as usize).min(b.f.height() - 1);
    // Blur can thin the outer dark ring on one row and not the next (a ring 2 px wide on a
    // small code): when the row through the refined centre fails, the hit's own row, within a
    // module of it, may stand in (it passed the row scan's test, and is checked again).
    let near = yi != y && (yi as f32 - y as f32).abs() <= total / 7.0;
    let horizontal = cross_check(b, xi, yi, false, dark, total)
        .or_else(|| near.then(|| cross_check(b, xi, y, false, dark, total))?);
    let Some((cx2, ht)) = horizontal else {
        return;
    };
    let module = (vt + ht) / 14.0;
    let c = PointF { x: cx2, y: cy };
    for f in found.iter_mut() {
        if f.dark == dark
            && (f.c.x - c.x).abs() <= f.module * 2.0
            && (f.c.y - c.y).abs() <= f.module * 2.0
            && (module / f.module) < 1.6
            && (f.module / module) < 1.6
        {
            let n = f.count as f32;
            f.c.x = (f.c.x * n + c.x) / (n + 1.0);
            f.c.y = (f.c.y * n + c.y) / (n + 1.0);
            f.module = (f.module * n + module) / (n + 1.0);
            f.count += 1;
            return;
        }
    }
    if found.len() < MAX_CANDIDATES {
        found.push(Finder {
            c,
            module,
            count: 1,
            dark,
        });
    }
}

/// Three finders arranged as the corners of one code: top-left, top-right, bottom-left.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Triple {
    pub tl: Finder,
    pub tr: Finder,
    pub bl: Finder,
    pub idx: [usize; 3],
    score: f32,
}

/// Candidate triples, best first.
pub(crate) fn triples(finders: &[Finder]) -> Vec<Triple> {
    let n = finders.len().min(MAX_FINDERS);
    let mut out = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            for k in j + 1..n {
                let (a, b, c) = (finders[i], finders[j], finders[k]);
                if a.dark != b.dark || a.dark != c.dark {
                    continue;
                }
                let ms = [a.module, b.module, c.module];
                let mmax = ms.iter().cloned().fold(0.0f32, f32::max);
                let mmin = ms.iter().cloned().fold(f32::MAX, f32::min);
                if mmax > mmin * 2.5 {
                    continue;
                }
                for tl in 0..3 {
                    if let Some(t) = orient([i, j, k], [a, b, c], tl) {
                        out.push(t);
                    }
                }
            }
        }
    }
    out.sort_by(|x, y| x.score.total_cmp(&y.score));
    out
}

/// Shortest the side opposite the top-left finder may be, relative to the triple's longest
/// side: on a flat code it is the longest (the diagonal), but under strong perspective the
/// near leg can outgrow it (a code tilted 50° about its vertical axis: 186 px leg, 182 px
/// diagonal).
const MIN_DIAGONAL: f32 = 0.8;

/// The triple with finder `tl` as the top-left one, if the three can be a code's corners that
/// way; scored so that the finder opposite the longest side comes first.
fn orient(idx: [usize; 3], f: [Finder; 3], tl: usize) -> Option<Triple> {
    let (a, c) = match tl {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let diagonal = f[a].c.dist(f[c].c);
    let longest = diagonal.max(f[tl].c.dist(f[a].c)).max(f[tl].c.dist(f[c].c));
    if diagonal < longest * MIN_DIAGONAL {
        return None;
    }
    let (p, q, r) = (f[tl].c, f[a].c, f[c].c);
    let (vx1, vy1) = (q.x - p.x, q.y - p.y);
    let (vx2, vy2) = (r.x - p.x, r.y - p.y);
    let l1 = (vx1 * vx1 + vy1 * vy1).sqrt();
    let l2 = (vx2 * vx2 + vy2 * vy2).sqrt();
    if l1 < 1.0 || l2 < 1.0 {
        return None;
    }
    let ratio = l1.max(l2) / l1.min(l2);
    let cos = (vx1 * vx2 + vy1 * vy2) / (l1 * l2);
    if ratio > 2.0 || cos.abs() > 0.5 {
        return None;
    }
    let m = (f[0].module + f[1].module + f[2].module) / 3.0;
    let legs_in_modules = (l1 + l2) / 2.0 / m;
    // Version 1 has 14 modules between finder centres, version 40 has 170.
    if !(10.0..=200.0).contains(&legs_in_modules) {
        return None;
    }
    let cross = vx1 * vy2 - vy1 * vx2;
    let (tr, bl) = if cross > 0.0 { (a, c) } else { (c, a) };
    let confirmations = (f[0].count + f[1].count + f[2].count) as f32;
    let score = (ratio - 1.0) * 2.0 + cos.abs() * 2.0 - confirmations.min(12.0) * 0.05
        + (1.0 - diagonal / longest) * 4.0;
    Some(Triple {
        tl: f[tl],
        tr: f[tr],
        bl: f[bl],
        idx: [idx[tl], idx[tr], idx[bl]],
        score,
    })
}

/// Length of centre-edge-... runs walking from a finder centre along a direction: distance from
/// the centre to the outer edge of the finder (3.5 modules), in pixels.
fn finder_half_width(
    b: &Bin<'_>,
    from: PointF,
    dir: (f32, f32),
    dark: bool,
    limit: f32,
) -> Option<f32> {
    let (w, h) = (b.f.width() as f32, b.f.height() as f32);
    let mut want = dark;
    let mut transitions = 0;
    let mut t = 0.0f32;
    while t < limit {
        let x = from.x + dir.0 * t;
        let y = from.y + dir.1 * t;
        if x < 0.0 || y < 0.0 || x >= w || y >= h {
            return None;
        }
        if b.dark(x as usize, y as usize) != want {
            transitions += 1;
            want = !want;
            if transitions == 3 {
                return Some(t);
            }
        }
        t += 0.5;
    }
    None
}

/// Module size along the line between two finder centres, measured on both finders.
fn module_along(b: &Bin<'_>, p: &Finder, q: &Finder) -> f32 {
    let d = p.c.dist(q.c);
    let dir = ((q.c.x - p.c.x) / d, (q.c.y - p.c.y) / d);
    let back = (-dir.0, -dir.1);
    let mut sum = 0.0;
    let mut n = 0.0;
    for (f, dd) in [(p, dir), (p, back), (q, dir), (q, back)] {
        if let Some(v) = finder_half_width(b, f.c, dd, f.dark, f.module * 6.0) {
            sum += v;
            n += 1.0;
        }
    }
    if n == 0.0 {
        return (p.module + q.module) / 2.0;
    }
    let est = sum / n / 3.5;
    // Guard against a broken measurement.
    let run_est = (p.module + q.module) / 2.0;
    if est < run_est * 0.5 || est > run_est * 2.0 {
        run_est
    } else {
        est
    }
}

/// Projective transform (3x3, row-major, last element 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Homography([f32; 9]);

impl Homography {
    fn square_to_quad(q: [PointF; 4]) -> Homography {
        // Unit square (0,0),(1,0),(1,1),(0,1) -> q[0..4] (Heckbert).
        let [p0, p1, p2, p3] = q;
        let dx3 = p0.x - p1.x + p2.x - p3.x;
        let dy3 = p0.y - p1.y + p2.y - p3.y;
        if dx3.abs() < 1e-6 && dy3.abs() < 1e-6 {
            return Homography([
                p1.x - p0.x,
                p2.x - p1.x,
                p0.x,
                p1.y - p0.y,
                p2.y - p1.y,
                p0.y,
                0.0,
                0.0,
                1.0,
            ]);
        }
        let dx1 = p1.x - p2.x;
        let dx2 = p3.x - p2.x;
        let dy1 = p1.y - p2.y;
        let dy2 = p3.y - p2.y;
        let den = dx1 * dy2 - dx2 * dy1;
        let g = (dx3 * dy2 - dx2 * dy3) / den;
        let hh = (dx1 * dy3 - dx3 * dy1) / den;
        Homography([
            p1.x - p0.x + g * p1.x,
            p3.x - p0.x + hh * p3.x,
            p0.x,
            p1.y - p0.y + g * p1.y,
            p3.y - p0.y + hh * p3.y,
            p0.y,
            g,
            hh,
            1.0,
        ])
    }

    fn adjoint(&self) -> Homography {
        let [a, b, c, d, e, f, g, h, i] = self.0;
        Homography([
            e * i - f * h,
            c * h - b * i,
            b * f - c * e,
            f * g - d * i,
            a * i - c * g,
            c * d - a * f,
            d * h - e * g,
            b * g - a * h,
            a * e - b * d,
        ])
    }

    fn mul(&self, o: &Homography) -> Homography {
        let a = &self.0;
        let b = &o.0;
        let mut r = [0.0f32; 9];
        for i in 0..3 {
            for j in 0..3 {
                r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
            }
        }
        Homography(r)
    }

    /// Transform mapping quad `src` onto quad `dst`.
    pub(crate) fn quad_to_quad(src: [PointF; 4], dst: [PointF; 4]) -> Homography {
        let s2q = Self::square_to_quad(dst);
        let q2s = Self::square_to_quad(src).adjoint();
        s2q.mul(&q2s)
    }

    #[inline]
    pub(crate) fn map(&self, x: f32, y: f32) -> PointF {
        let m = &self.0;
        let z = m[6] * x + m[7] * y + m[8];
        PointF {
            x: (m[0] * x + m[1] * y + m[2]) / z,
            y: (m[3] * x + m[4] * y + m[5]) / z,
        }
    }
}

/// Searches for the bottom-right alignment pattern near `est` by grey-level template matching
/// along the code's own axes (one module per axis vector): dark centre, light ring at one
/// module, dark ring at two. Grey levels rather than binarised runs, because a blurred
/// alignment pattern loses its one-module light ring in any binarisation long before its
/// contrast is gone.
fn find_alignment(
    f: &LumaFrame<'_>,
    est: PointF,
    dark: bool,
    radius_modules: f32,
    axes: ((f32, f32), (f32, f32)),
    contrast: f32,
) -> Option<(PointF, f32)> {
    let (ax, ay) = axes;
    let score_at = |p: PointF| -> f32 {
        let g = |i: f32, j: f32| {
            px_clamped(f, p.x + ax.0 * i + ay.0 * j, p.y + ax.1 * i + ay.1 * j) as f32
        };
        let mut light = 0.0;
        let mut darks = g(0.0, 0.0);
        for (i, j) in RING8 {
            light += g(i, j);
            darks += g(2.0 * i, 2.0 * j);
        }
        let s = light / 8.0 - darks / 9.0;
        if dark {
            s
        } else {
            -s
        }
    };
    // Coarse search on a third-of-a-module lattice in module space, then refine.
    let n = (radius_modules * 3.0) as i32;
    let mut best: Option<(f32, PointF)> = None;
    for j in -n..=n {
        for i in -n..=n {
            let (u, v) = (i as f32 / 3.0, j as f32 / 3.0);
            let p = PointF {
                x: est.x + ax.0 * u + ay.0 * v,
                y: est.y + ax.1 * u + ay.1 * v,
            };
            // Prefer candidates near the estimate: the data area can mimic the pattern.
            let s = score_at(p) - contrast * 0.02 * (u * u + v * v).sqrt();
            if best.is_none_or(|(bs, _)| s > bs) {
                best = Some((s, p));
            }
        }
    }
    let (mut bs, mut bp) = best?;
    for _ in 0..2 {
        let c = bp;
        for j in -2..=2 {
            for i in -2..=2 {
                let (u, v) = (i as f32 / 8.0, j as f32 / 8.0);
                let p = PointF {
                    x: c.x + ax.0 * u + ay.0 * v,
                    y: c.y + ax.1 * u + ay.1 * v,
                };
                let s = score_at(p);
                if s > bs {
                    bs = s;
                    bp = p;
                }
            }
        }
    }
    let _ = contrast;
    Some((bp, bs))
}

const RING8: [(f32, f32); 8] = [
    (-1.0, -1.0),
    (0.0, -1.0),
    (1.0, -1.0),
    (-1.0, 0.0),
    (1.0, 0.0),
    (-1.0, 1.0),
    (0.0, 1.0),
    (1.0, 1.0),
];

/// Grey-level contrast of a finder pattern: its light ring (2 modules out) minus its centre.
fn finder_contrast(f: &LumaFrame<'_>, c: PointF, axes: ((f32, f32), (f32, f32))) -> f32 {
    let (ax, ay) = axes;
    let g =
        |i: f32, j: f32| px_clamped(f, c.x + ax.0 * i + ay.0 * j, c.y + ax.1 * i + ay.1 * j) as f32;
    let mut light = 0.0;
    for (i, j) in RING8 {
        light += g(2.0 * i, 2.0 * j);
    }
    (light / 8.0 - g(0.0, 0.0)).abs()
}

/// Where a triple puts the code: the transform from module space and the grid size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Located {
    pub h: Homography,
    pub dim: usize,
    pub module: f32,
    pub dark: bool,
}

/// Candidate grid sizes for a triple, best estimate first.
pub(crate) fn dimensions(b: &Bin<'_>, t: &Triple) -> (Vec<usize>, f32, f32) {
    let mx = module_along(b, &t.tl, &t.tr);
    let my = module_along(b, &t.tl, &t.bl);
    let dx = t.tl.c.dist(t.tr.c) / mx;
    let dy = t.tl.c.dist(t.bl.c) / my;
    let est = (dx + dy) / 2.0 + 7.0;
    let base = (est.round() as i32).clamp(17, 181);
    // Sizes are 4v + 17: pick the nearest, then its neighbours.
    let v = ((base - 17) as f32 / 4.0).round() as i32;
    let mut out = Vec::new();
    for dv in [0, 1, -1, 2, -2] {
        let vv = v + dv;
        if (1..=40).contains(&vv) {
            let dim = (4 * vv + 17) as usize;
            // Skip sizes far from the estimate (more than 6 modules off).
            if (dim as f32 - est).abs() <= 6.5 {
                out.push(dim);
            }
        }
    }
    (out, mx, my)
}

/// Builds the module-space to image transform for a triple and a grid size.
pub(crate) fn locate(
    b: &Bin<'_>,
    t: &Triple,
    dim: usize,
    mx: f32,
    my: f32,
    variant: usize,
) -> Option<Located> {
    let d = dim as f32;
    let (tl, tr, bl) = (t.tl.c, t.tr.c, t.bl.c);
    let n = d - 7.0;
    // Perspective from the finder sizes: local scale goes as 1/w^2 for the homography's
    // denominator w, so w at TR and BL (relative to TL) follow from the size ratios. Variant 2
    // ignores it (affine), for when the size estimates are off.
    let (wr, wb) = if variant == 2 {
        (1.0, 1.0)
    } else {
        let tlm = t.tl.module.max(0.5);
        (
            (tlm / t.tr.module.max(0.5)).sqrt().clamp(0.6, 1.6),
            (tlm / t.bl.module.max(0.5)).sqrt().clamp(0.6, 1.6),
        )
    };
    let proj = |u: f32, v: f32| -> PointF {
        let (fu, fv) = (u / n, v / n);
        let w = 1.0 + (wr - 1.0) * fu + (wb - 1.0) * fv;
        PointF {
            x: (tl.x + (tr.x * wr - tl.x) * fu + (bl.x * wb - tl.x) * fv) / w,
            y: (tl.y + (tr.y * wr - tl.y) * fu + (bl.y * wb - tl.y) * fv) / w,
        }
    };
    let br_finder = proj(n, n);
    let use_alignment = variant == 0;
    let module = (mx + my) / 2.0;
    let mut dst3 = br_finder;
    let mut src3 = PointF {
        x: d - 3.5,
        y: d - 3.5,
    };
    if dim > 21 && use_alignment {
        let dx = tl.dist(tr).max(1.0);
        let dy = tl.dist(bl).max(1.0);
        let axes = (
            ((tr.x - tl.x) / dx * (dx / n), (tr.y - tl.y) / dx * (dx / n)),
            ((bl.x - tl.x) / dy * (dy / n), (bl.y - tl.y) / dy * (dy / n)),
        );
        // The alignment pattern centre is 3 modules in from the bottom-right finder position.
        let est = proj(n - 3.0, n - 3.0);
        let contrast = finder_contrast(&b.f, tl, axes);
        // Under perspective the modules near the bottom-right corner are larger or smaller
        // than on average: scale the template by what the three finder sizes predict there.
        let local = t.tr.module * t.bl.module / t.tl.module.max(0.5);
        let r = (local / module.max(0.5)).clamp(0.6, 1.8);
        let axes_br = (
            (axes.0 .0 * r, axes.0 .1 * r),
            (axes.1 .0 * r, axes.1 .1 * r),
        );
        // Widen the search step by step (strong perspective moves the pattern far from the
        // affine estimate); keep the best weak candidate if no strong one shows up.
        let mut weak: Option<(PointF, f32)> = None;
        let mut strong = None;
        for radius in [5.0f32, 10.0, 16.0] {
            if radius > d / 2.0 {
                break;
            }
            if let Some((p, score)) =
                find_alignment(&b.f, est, t.tl.dark, radius, axes_br, contrast)
            {
                if score >= contrast * 0.3 {
                    strong = Some(p);
                    break;
                }
                if score >= contrast * 0.12 && weak.is_none_or(|(_, ws)| score > ws) {
                    weak = Some((p, score));
                }
            }
        }
        if let Some(p) = strong.or(weak.map(|w| w.0)) {
            dst3 = p;
            src3 = PointF {
                x: d - 6.5,
                y: d - 6.5,
            };
        }
    }
    let src = [
        PointF { x: 3.5, y: 3.5 },
        PointF { x: d - 3.5, y: 3.5 },
        src3,
        PointF { x: 3.5, y: d - 3.5 },
    ];
    let dst = [tl, tr, dst3, bl];
    let h = Homography::quad_to_quad(src, dst);
    if h.0.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some(Located {
        h,
        dim,
        module,
        dark: t.tl.dark,
    })
}

/// Number of placements [`decode_located`](super::decode) tries per grid size: the three of
/// [`locate`], then [`refine_corner`] of the best of them.
pub(crate) const VARIANTS: usize = 4;

/// How well a placement puts module centres on module centres in the part of the code away
/// from the three finder patterns: the mean distance of the sampled grey levels from the local
/// threshold (samples that straddle module edges sit near it).
fn lower_right_contrast(b: &Bin<'_>, h: &Homography, dim: usize) -> f32 {
    let (w, hh) = (b.f.width(), b.f.height());
    let mut s = 0u32;
    let mut n = 0u32;
    let half = dim / 2;
    for my in half..dim {
        for mx in half..dim {
            if mx >= dim - 8 && my < 8 {
                continue;
            }
            let p = h.map(mx as f32 + 0.5, my as f32 + 0.5);
            if !(p.x >= 0.0 && p.y >= 0.0) {
                continue;
            }
            let (xi, yi) = (p.x as usize, p.y as usize);
            if xi >= w || yi >= hh {
                continue;
            }
            let v = b.f.px(xi, yi) as i32;
            let t = b.t.at(xi, yi) as i32;
            s += v.abs_diff(t);
            n += 1;
        }
    }
    if n == 0 {
        0.0
    } else {
        s as f32 / n as f32
    }
}

/// Moves the fourth point of `loc`'s perspective (the bottom-right corner's virtual finder
/// centre; the three finder centres stay) over a lattice of `reach` steps of `step` modules
/// around where `loc` puts it, coarse then a third of the step around the best, and keeps the
/// placement `score` rates highest (`None` if none beats `loc` itself).
fn search_corner(
    t: &Triple,
    loc: &Located,
    reach: i32,
    step: f32,
    score: &dyn Fn(&Homography) -> f32,
) -> Option<Located> {
    let d = loc.dim as f32;
    let src = [
        PointF { x: 3.5, y: 3.5 },
        PointF { x: d - 3.5, y: 3.5 },
        PointF {
            x: d - 3.5,
            y: d - 3.5,
        },
        PointF { x: 3.5, y: d - 3.5 },
    ];
    let p0 = loc.h.map(d - 3.5, d - 3.5);
    let px = loc.h.map(d - 2.5, d - 3.5);
    let py = loc.h.map(d - 3.5, d - 2.5);
    let (ex, ey) = ((px.x - p0.x, px.y - p0.y), (py.x - p0.x, py.y - p0.y));
    let place = |u: f32, v: f32| {
        let p = PointF {
            x: p0.x + ex.0 * u + ey.0 * v,
            y: p0.y + ex.1 * u + ey.1 * v,
        };
        let h = Homography::quad_to_quad(src, [t.tl.c, t.tr.c, p, t.bl.c]);
        h.0.iter().all(|x| x.is_finite()).then_some(h)
    };
    let start = score(&loc.h);
    let mut best = (start, (0.0f32, 0.0f32));
    for (st, centre) in [(step, None), (step / 3.0, Some(()))] {
        let c = if centre.is_some() { best.1 } else { (0.0, 0.0) };
        let r = if centre.is_some() { 2 } else { reach };
        for j in -r..=r {
            for i in -r..=r {
                let (u, v) = (c.0 + i as f32 * st, c.1 + j as f32 * st);
                if let Some(h) = place(u, v) {
                    let s = score(&h);
                    if s > best.0 {
                        best = (s, (u, v));
                    }
                }
            }
        }
    }
    if best.0 <= start {
        return None;
    }
    place(best.1 .0, best.1 .1).map(|h| Located { h, ..*loc })
}

/// Edge fitting of the corner no finder pattern marks: the fourth point of the perspective
/// moved up to two modules so that the modules of the lower-right quarter sample farthest
/// from the local threshold (module centres hit, not the edges between them). Strong
/// perspective moves that corner where neither the affine estimate nor the finder sizes put
/// it, and an alignment pattern may be blurred, glared or mistaken for data.
pub(crate) fn refine_corner(b: &Bin<'_>, t: &Triple, loc: &Located) -> Option<Located> {
    let dim = loc.dim;
    search_corner(t, loc, 4, 0.5, &|h| lower_right_contrast(b, h, dim))
}

/// Grey value of each module centre (averaged over a few pixels when modules are big enough),
/// or `None` if the grid falls off the frame.
pub(crate) fn sample(f: &LumaFrame<'_>, loc: &Located) -> Option<Vec<u8>> {
    let dim = loc.dim;
    let r = sample_radius(loc);
    let mut out = Vec::with_capacity(dim * dim);
    let mut outside = 0usize;
    for my in 0..dim {
        for mx in 0..dim {
            let p = loc.h.map(mx as f32 + 0.5, my as f32 + 0.5);
            let v = match sample_at(f, p, r) {
                Some(v) => v,
                None => {
                    outside += 1;
                    if outside > dim * dim / 10 {
                        return None;
                    }
                    255
                }
            };
            out.push(v);
        }
    }
    Some(out)
}

/// Radius (px) of the cross of pixels averaged per module: none under 3 px per module.
fn sample_radius(loc: &Located) -> f32 {
    if loc.module >= 3.0 {
        (loc.module / 4.0).max(1.0)
    } else {
        0.0
    }
}

/// Grey value at a module centre `p`, or `None` if it is off the frame.
#[inline]
fn sample_at(f: &LumaFrame<'_>, p: PointF, r: f32) -> Option<u8> {
    let (w, h) = (f.width() as f32, f.height() as f32);
    if !(p.x >= -1.0 && p.y >= -1.0 && p.x <= w && p.y <= h) {
        return None;
    }
    Some(if r > 0.0 {
        let mut s = 0u32;
        for (ox, oy) in [(0.0, 0.0), (-r, 0.0), (r, 0.0), (0.0, -r), (0.0, r)] {
            s += px_clamped(f, p.x + ox, p.y + oy) as u32;
        }
        (s / 5) as u8
    } else {
        bilinear(f, p.x, p.y)
    })
}

/// Share of the function-pattern modules (finder patterns, timing lines) that come out wrong
/// under a placement, sampling only those modules and thresholding them as kind 0 of
/// [`bit_grid`] does. A cheap test that a placement lies on a code at all, before the whole
/// grid is sampled and thresholded four ways: on the benchmark corpus every grid that decoded
/// had about 20 % wrong here at most under the plain placement (under 6 % under the placement
/// that read it), and most placements on clutter over 35 %.
pub(crate) fn function_pattern_misfit(loc: &Located, b: &Bin<'_>) -> f32 {
    let r = sample_radius(loc);
    let flip = !loc.dark;
    let (w, h) = (b.f.width(), b.f.height());
    let mut errs = 0usize;
    let mut n = 0usize;
    for (mx, my, dark) in function_modules(loc.dim) {
        let p = loc.h.map(mx as f32 + 0.5, my as f32 + 0.5);
        let v = sample_at(&b.f, p, r).unwrap_or(255);
        let xi = (p.x.max(0.0) as usize).min(w - 1);
        let yi = (p.y.max(0.0) as usize).min(h - 1);
        n += 1;
        if ((v < b.t.at(xi, yi)) ^ flip) != dark {
            errs += 1;
        }
    }
    errs as f32 / n.max(1) as f32
}

#[inline]
fn px_clamped(f: &LumaFrame<'_>, x: f32, y: f32) -> u8 {
    let xi = (x.max(0.0) as usize).min(f.width() - 1);
    let yi = (y.max(0.0) as usize).min(f.height() - 1);
    f.px(xi, yi)
}

fn bilinear(f: &LumaFrame<'_>, x: f32, y: f32) -> u8 {
    let x = (x - 0.5).clamp(0.0, (f.width() - 1) as f32);
    let y = (y - 0.5).clamp(0.0, (f.height() - 1) as f32);
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(f.width() - 1), (y0 + 1).min(f.height() - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let a = f.px(x0, y0) as f32 * (1.0 - fx) + f.px(x1, y0) as f32 * fx;
    let b = f.px(x0, y1) as f32 * (1.0 - fx) + f.px(x1, y1) as f32 * fx;
    (a * (1.0 - fy) + b * fy) as u8
}

/// Number of ways [`bit_grid`] can threshold a sampled grid.
pub(crate) const BIT_GRID_KINDS: usize = 4;

/// Turns sampled grey values into module bits (`true` = dark module of the code), in one of
/// [`BIT_GRID_KINDS`] ways, cheapest and most often right first:
/// 0. the frame's threshold map at each module centre;
/// 1. module-space local threshold: mid-point of min/max over 9x9 modules (glare, gradients);
/// 2. one threshold for the whole code (Otsu);
/// 3. samples sharpened against their 4 neighbours (undoes some blur), then as 1.
pub(crate) fn bit_grid(kind: usize, samples: &[u8], loc: &Located, b: &Bin<'_>) -> Vec<bool> {
    let dim = loc.dim;
    let flip = !loc.dark;
    match kind {
        0 => {
            let mut g = Vec::with_capacity(dim * dim);
            for my in 0..dim {
                for mx in 0..dim {
                    let p = loc.h.map(mx as f32 + 0.5, my as f32 + 0.5);
                    let xi = (p.x.max(0.0) as usize).min(b.f.width() - 1);
                    let yi = (p.y.max(0.0) as usize).min(b.f.height() - 1);
                    g.push((samples[my * dim + mx] < b.t.at(xi, yi)) ^ flip);
                }
            }
            g
        }
        1 => local_threshold(samples, dim, flip),
        2 => {
            let t = otsu(samples);
            samples.iter().map(|&v| (v < t) ^ flip).collect()
        }
        _ => {
            let mut sharp = vec![0u8; dim * dim];
            for y in 0..dim {
                for x in 0..dim {
                    let c = samples[y * dim + x] as i32;
                    let mut n = 0i32;
                    let mut k = 0i32;
                    if x > 0 {
                        n += samples[y * dim + x - 1] as i32;
                        k += 1;
                    }
                    if x + 1 < dim {
                        n += samples[y * dim + x + 1] as i32;
                        k += 1;
                    }
                    if y > 0 {
                        n += samples[(y - 1) * dim + x] as i32;
                        k += 1;
                    }
                    if y + 1 < dim {
                        n += samples[(y + 1) * dim + x] as i32;
                        k += 1;
                    }
                    let v = c + (c - n / k.max(1)) * 3 / 4;
                    sharp[y * dim + x] = v.clamp(0, 255) as u8;
                }
            }
            local_threshold(&sharp, dim, flip)
        }
    }
}

/// Module-space local threshold: mid-point of the min and max over the 9x9 modules around
/// each module (clipped at the grid's edges).
fn local_threshold(samples: &[u8], dim: usize, flip: bool) -> Vec<bool> {
    let lo = window9(samples, dim, false);
    let hi = window9(samples, dim, true);
    let mut g = Vec::with_capacity(dim * dim);
    for ((&v, &l), &h) in samples.iter().zip(&lo).zip(&hi) {
        let t = (l as u16 + h as u16).div_ceil(2) as u8;
        g.push((v < t) ^ flip);
    }
    g
}

/// How sure each module's bit is, from 0 to 127, for the erasures of
/// [`reed_solomon::correct`](super::reed_solomon::correct): 0 where the sample is clipped (a
/// glare spot brighter than the code's own light modules: what is under it is unknown), where
/// the 9x9 modules around it hold no contrast (a finger, a spot wider than the window), else
/// how far the sample is from the local threshold, relative to the local range.
pub(crate) fn module_confidence(samples: &[u8], dim: usize) -> Vec<u8> {
    /// Local range (grey levels) under which a module carries no information.
    const FLAT: u16 = 12;
    /// Samples this bright are clipped, or nearly: the sensor's top.
    const CLIPPED: u8 = 245;
    /// How much brighter than the code's light modules a clipped sample must be to count as
    /// glare (on a washed-out screen every light module is clipped, and that is information).
    const ABOVE_LIGHT: u16 = 12;
    let lo = window9(samples, dim, false);
    let hi = window9(samples, dim, true);
    // The light modules' level: the upper quartile (about half the modules are light).
    let mut hist = [0u32; 256];
    for &v in samples {
        hist[v as usize] += 1;
    }
    let mut seen = 0usize;
    let mut light = 255u16;
    for (v, &c) in hist.iter().enumerate() {
        seen += c as usize;
        if seen * 4 >= samples.len() * 3 {
            light = v as u16;
            break;
        }
    }
    let glare = (light + ABOVE_LIGHT).max(CLIPPED as u16);
    samples
        .iter()
        .zip(lo.iter().zip(&hi))
        .map(|(&v, (&l, &h))| {
            let range = h as u16 - l as u16;
            if range < FLAT || v as u16 >= glare {
                return 0;
            }
            let t = (l as u16 + h as u16).div_ceil(2);
            let off = (v as u16).abs_diff(t);
            (off * 254 / range).min(127) as u8
        })
        .collect()
}

/// Minimum (or maximum) over the 9x9 window around each cell of a `dim`x`dim` grid, clipped
/// at the edges. Separable, and each 9-wide pass is two 3-wide passes (offsets 1, then 3) on
/// a copy padded by 4 neutral cells: 4 comparisons per cell and direction instead of 8.
fn window9(v: &[u8], dim: usize, max: bool) -> Vec<u8> {
    const PAD: usize = 4;
    let neutral = if max { 0 } else { 255 };
    let p = dim + 2 * PAD;
    let mut a_v = vec![neutral; p * p];
    let mut b_v = vec![neutral; p * p];
    let (a, b): (&mut [u8], &mut [u8]) = (&mut a_v, &mut b_v);
    let mut y = 0;
    while y < dim {
        let o = (y + PAD) * p + PAD;
        a[o..o + dim].copy_from_slice(&v[y * dim..(y + 1) * dim]);
        y += 1;
    }
    // Horizontal: a -> b (offset 1) -> a (offset 3), real rows only.
    let mut y = PAD;
    while y < PAD + dim {
        let row = y * p..(y + 1) * p;
        spread(&a[row.clone()], &mut b[row.clone()], 1, max);
        spread(&b[row.clone()], &mut a[row], 3, max);
        y += 1;
    }
    // Vertical, a whole row at a time: a -> b (offset 1) -> a (offset 3).
    spread_rows(a, b, p, 1, max);
    spread_rows(b, a, p, 3, max);
    let mut out = vec![0u8; dim * dim];
    let mut y = 0;
    while y < dim {
        let o = (y + PAD) * p + PAD;
        out[y * dim..(y + 1) * dim].copy_from_slice(&a[o..o + dim]);
        y += 1;
    }
    out
}

/// `dst[x] = min/max(src[x - d], src[x], src[x + d])` for `d <= x < len - d`.
fn spread(src: &[u8], dst: &mut [u8], d: usize, max: bool) {
    let n = src.len().min(dst.len());
    let mut x = d;
    while x + d < n {
        let (l, c, r) = (src[x - d], src[x], src[x + d]);
        dst[x] = if max {
            l.max(c).max(r)
        } else {
            l.min(c).min(r)
        };
        x += 1;
    }
}

/// [`spread`] down the columns of a `p`-wide grid, one row of cells at a time.
fn spread_rows(src: &[u8], dst: &mut [u8], p: usize, d: usize, max: bool) {
    let rows = src.len() / p;
    let mut y = d;
    while y + d < rows {
        let up = &src[(y - d) * p..(y - d + 1) * p];
        let mid = &src[y * p..(y + 1) * p];
        let down = &src[(y + d) * p..(y + d + 1) * p];
        let out = &mut dst[y * p..(y + 1) * p];
        let mut x = 0;
        while x < p {
            let (l, c, r) = (up[x], mid[x], down[x]);
            out[x] = if max {
                l.max(c).max(r)
            } else {
                l.min(c).min(r)
            };
            x += 1;
        }
        y += 1;
    }
}

fn otsu(v: &[u8]) -> u8 {
    let mut hist = [0u32; 256];
    for &x in v {
        hist[x as usize] += 1;
    }
    let total = v.len() as f64;
    let sum: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut sum_b, mut w_b) = (0.0f64, 0.0f64);
    let (mut best, mut best_t) = (0.0f64, 128u8);
    for (t, &c) in hist.iter().enumerate() {
        w_b += c as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += t as f64 * c as f64;
        let m_b = sum_b / w_b;
        let m_f = (sum - sum_b) / w_f;
        let between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    best_t.saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homography_maps_corners() {
        let src = [
            PointF { x: 0.0, y: 0.0 },
            PointF { x: 10.0, y: 0.0 },
            PointF { x: 10.0, y: 10.0 },
            PointF { x: 0.0, y: 10.0 },
        ];
        let dst = [
            PointF { x: 5.0, y: 7.0 },
            PointF { x: 50.0, y: 9.0 },
            PointF { x: 47.0, y: 61.0 },
            PointF { x: 3.0, y: 55.0 },
        ];
        let h = Homography::quad_to_quad(src, dst);
        for (s, d) in src.iter().zip(dst.iter()) {
            let p = h.map(s.x, s.y);
            assert!(
                (p.x - d.x).abs() < 1e-2 && (p.y - d.y).abs() < 1e-2,
                "{p:?} {d:?}"
            );
        }
    }

    #[test]
    fn window9_matches_the_naive_clipped_window() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for dim in [1, 2, 5, 9, 21, 25, 38] {
            let v: Vec<u8> = (0..dim * dim).map(|_| rng.random()).collect();
            for max in [false, true] {
                let fast = window9(&v, dim, max);
                for y in 0..dim {
                    for x in 0..dim {
                        let cells = (y.saturating_sub(4)..(y + 5).min(dim)).flat_map(|yy| {
                            (x.saturating_sub(4)..(x + 5).min(dim)).map(move |xx| (xx, yy))
                        });
                        let vals = cells.map(|(xx, yy)| v[yy * dim + xx]);
                        let want = if max { vals.max() } else { vals.min() };
                        assert_eq!(Some(fast[y * dim + x]), want, "dim {dim} at ({x}, {y})");
                    }
                }
            }
        }
    }

    /// A light `w` x `h` frame with finder patterns drawn through affine maps: each
    /// `(centre, [a, b, c, d])` maps finder coordinates (modules, centre at 0) to pixels by
    /// `(a u + b v, c u + d v)`.
    fn finder_frame(w: usize, h: usize, finders: &[(PointF, [f32; 4])]) -> Vec<u8> {
        let mut img = vec![210u8; w * h];
        for &(c, [a, b, cc, d]) in finders {
            let det = a * d - b * cc;
            for y in 0..h {
                for x in 0..w {
                    let (px, py) = (x as f32 + 0.5 - c.x, y as f32 + 0.5 - c.y);
                    let (u, v) = ((d * px - b * py) / det, (-cc * px + a * py) / det);
                    let r = u.abs().max(v.abs());
                    if r < 3.5 && !(1.5..2.5).contains(&r) {
                        img[y * w + x] = 30;
                    }
                }
            }
        }
        img
    }

    fn finders_in(img: &[u8], w: usize, h: usize, row_step: usize) -> Vec<Finder> {
        finders_thresholded(img, w, h, row_step, false)
    }

    fn finders_thresholded(
        img: &[u8],
        w: usize,
        h: usize,
        row_step: usize,
        mean: bool,
    ) -> Vec<Finder> {
        let f = LumaFrame::new(img, w, h, w, crate::Rotation::Deg0).expect("valid");
        let t = ThresholdMap::build(&f, 20, mean);
        let b = Bin { f, t: &t };
        let p = DetectParams {
            row_step,
            min_range: 20,
            mean,
        };
        find_finders(&b, &p, &mut Meter::new(crate::WorkBudget::default()))
    }

    #[test]
    fn a_finder_tilted_58_degrees_about_a_skewed_axis_is_found() {
        // Foreshortened to cos 58° along an axis 65° off the pattern's edges, then rolled 80°:
        // its extents along the image axes differ by a factor of 2.14.
        let (th, ph, k) = (
            65f32.to_radians(),
            80f32.to_radians(),
            58f32.to_radians().cos(),
        );
        let rot = |t: f32| [t.cos(), -t.sin(), t.sin(), t.cos()];
        let mul = |m: [f32; 4], n: [f32; 4]| {
            [
                m[0] * n[0] + m[1] * n[2],
                m[0] * n[1] + m[1] * n[3],
                m[2] * n[0] + m[3] * n[2],
                m[2] * n[1] + m[3] * n[3],
            ]
        };
        let a = mul(mul(rot(ph), [1.0, 0.0, 0.0, k]), rot(th)).map(|v| v * 6.0);
        let c = PointF { x: 80.0, y: 70.0 };
        let img = finder_frame(160, 140, &[(c, a)]);
        let found = finders_in(&img, 160, 140, 1);
        assert!(
            found.iter().any(|f| f.dark && f.c.dist(c) < 3.0),
            "{found:?}"
        );
    }

    #[test]
    fn a_finder_whose_ring_thins_on_its_centre_row_is_found() {
        // Module 3 px; on the centre row blur has eaten the outer dark ring down to its outer
        // pixel and widened the light ring (runs 1, 5, 8, 5, 1 px, as on a camera frame), so
        // only the rows next to it pass the horizontal test.
        let (w, h) = (100, 80);
        let c = PointF { x: 50.0, y: 40.0 };
        let mut img = finder_frame(w, h, &[(c, [3.0, 0.0, 0.0, 3.0])]);
        for x in [41, 42, 57, 58] {
            img[40 * w + x] = 210;
        }
        let found = finders_in(&img, w, h, 2);
        assert!(
            found.iter().any(|f| f.dark && f.c.dist(c) < 2.0),
            "{found:?}"
        );
    }

    #[test]
    fn a_badly_defocused_code_s_finders_are_found_with_the_mean_threshold() {
        // A version-4 code at 8 px per module under a blur about a module wide: each finder's
        // dark centre stays near black while its outer ring fades to a shallow dip; the
        // mid-point of min and max sits under the dip, the local mean does not.
        let url = "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK";
        let code = crate::screens::screen_with_codes(400, 400, &[(url, 8, (40, 40))]);
        let img = crate::screens::defocused(&code, 5);
        let centres = [(68.0, 68.0), (276.0, 68.0), (68.0, 276.0)].map(|(x, y)| PointF { x, y });
        let seen = |found: &[Finder]| {
            centres
                .iter()
                .filter(|&&c| found.iter().any(|f| f.dark && f.c.dist(c) < 4.0))
                .count()
        };
        let midpoint = finders_thresholded(&img.data, 400, 400, 1, false);
        let mean = finders_thresholded(&img.data, 400, 400, 1, true);
        assert!(seen(&midpoint) <= 1, "{midpoint:?}");
        assert_eq!(seen(&mean), 3, "{mean:?}");
    }

    #[test]
    fn a_row_of_one_off_lookalikes_does_not_end_the_scan_before_a_finder() {
        // 200 small crosses, each a finder's profile on one row and one column only: one hit
        // each, far more than the candidate list holds, above a real pattern.
        let (w, h) = (1200, 120);
        let mut img = vec![210u8; w * h];
        let profile = [1, 1, 3, 1, 1].map(|r| r * 2);
        for i in 0..200usize {
            let (cx, cy) = (3 + (i % 100) * 12, 12 + (i / 100) * 24);
            let mut at = 0;
            for (k, &r) in profile.iter().enumerate() {
                for j in 0..r {
                    if k % 2 == 0 {
                        let d = at + j;
                        img[cy * w + cx - 7 + d] = 30;
                        img[(cy - 7 + d) * w + cx] = 30;
                    }
                }
                at += r;
            }
        }
        let c = PointF { x: 600.0, y: 90.0 };
        let finder = finder_frame(w, h, &[(c, [3.0, 0.0, 0.0, 3.0])]);
        for (p, &q) in img.iter_mut().zip(&finder).skip(70 * w) {
            *p = q;
        }
        let found = finders_in(&img, w, h, 1);
        assert!(
            found.iter().any(|f| f.dark && f.c.dist(c) < 2.0),
            "{} found: {:?}",
            found.len(),
            &found[..found.len().min(5)]
        );
    }

    /// A checkerboard of dark (`dark`) and light (`light`) modules.
    fn checkerboard(dim: usize, dark: u8, light: u8) -> Vec<u8> {
        (0..dim * dim)
            .map(|i| {
                if (i % dim + i / dim).is_multiple_of(2) {
                    dark
                } else {
                    light
                }
            })
            .collect()
    }

    #[test]
    fn a_glare_spot_is_unsure_and_clipped_light_modules_of_a_washed_out_code_are_not() {
        let dim = 29;
        let mut v = checkerboard(dim, 40, 200);
        for y in 10..16 {
            for x in 10..16 {
                v[y * dim + x] = 255;
            }
        }
        // A module halfway to the threshold is about half sure.
        v[2 * dim + 2] = 80;
        let c = module_confidence(&v, dim);
        for y in 10..16 {
            for x in 10..16 {
                assert_eq!(c[y * dim + x], 0, "clipped ({x}, {y})");
            }
        }
        assert!(
            c[dim + 20] >= 120 && c[20 * dim + 3] >= 120,
            "sound modules"
        );
        assert!(
            (40..90).contains(&c[2 * dim + 2]),
            "halfway: {}",
            c[2 * dim + 2]
        );
        // Washed out: every light module is at 255, and that is what light looks like there.
        let washed = checkerboard(dim, 190, 255);
        assert!(module_confidence(&washed, dim).iter().all(|&c| c >= 120));
        // No contrast at all (a finger over the whole window): nothing is sure.
        assert!(module_confidence(&[90; 29 * 29], dim)
            .iter()
            .all(|&c| c == 0));
    }

    #[test]
    fn a_strongly_tilted_triple_whose_near_leg_outgrows_the_diagonal_is_still_formed() {
        // Finder centres of a code tilted 49° (the camera corpus): the left leg, near the
        // camera, is 186 px, the diagonal 182 px.
        let at = |x, y, module| Finder {
            c: PointF { x, y },
            module,
            count: 5,
            dark: true,
        };
        let f = [
            at(307.0, 272.0, 6.6),
            at(318.0, 86.0, 5.9),
            at(422.0, 131.0, 4.4),
        ];
        let t = triples(&f);
        let right = t.iter().find(|t| t.idx == [1, 2, 0]);
        assert!(
            right.is_some(),
            "{:?}",
            t.iter().map(|t| t.idx).collect::<Vec<_>>()
        );
        // The finder opposite the longest side still comes first.
        assert_eq!(t[0].idx[0], 2);
    }

    #[test]
    fn otsu_splits_two_levels() {
        let v: Vec<u8> = (0..100)
            .map(|i| if i % 2 == 0 { 40 } else { 200 })
            .collect();
        let t = otsu(&v);
        assert!(t > 40 && t <= 200);
    }
}
