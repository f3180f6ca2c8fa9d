//! Reads and corrects a sampled module grid: the format, the codewords and their
//! Reed–Solomon blocks, as ISO/IEC 18004 lays them out (function patterns, the zig-zag
//! placement, the data mask, the block interleaving).
//!
//! rqrr 0.11 evaluates every syndrome term with a fresh power of the generator (64 field
//! multiplications each) and, when a grid does not correct, tries it again mirrored: a failed
//! attempt costs about 0.4 ms on a desktop core, and on a hard frame (glare, blur) most
//! attempts fail. Profiled on the camera corpus's slowest unread frames, rqrr's syndrome loop
//! alone was 39 % of the pipeline's time, and on read frames still about a fifth. This module
//! runs the same correction (syndromes, Berlekamp–Massey, Chien search, Forney) with log / exp
//! tables in a few microseconds and hands over the corrected data codewords, which
//! [`segments`](crate::segments) parses; rqrr's decoder gets the corrected grid only for the
//! segments left to it.
//!
//! The check is at least as strict as rqrr: a block with more errors than its code can correct
//! (the misdecode-protection codewords of versions 1 to 3 discounted, as the standard says)
//! fails here even when rqrr's decoder would accept a miscorrection.

use std::sync::OnceLock;

/// `EXP[i]` = α^i in GF(2^8) with the QR field polynomial x^8 + x^4 + x^3 + x^2 + 1, doubled
/// so that a sum of two logarithms indexes it directly; `LOG` its inverse.
const TABLES: ([u8; 512], [u8; 256]) = gf_tables();
const EXP: [u8; 512] = TABLES.0;
const LOG: [u8; 256] = TABLES.1;

const fn gf_tables() -> ([u8; 512], [u8; 256]) {
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= 0x11d;
        }
        i += 1;
    }
    while i < 512 {
        exp[i] = exp[i - 255];
        i += 1;
    }
    (exp, log)
}

#[inline(always)]
fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        EXP[LOG[a as usize] as usize + LOG[b as usize] as usize]
    }
}

#[inline(always)]
fn div(a: u8, b: u8) -> u8 {
    // Callers never divide by zero (checked before each call).
    if a == 0 || b == 0 {
        0
    } else {
        EXP[LOG[a as usize] as usize + 255 - LOG[b as usize] as usize]
    }
}

/// Error-correction codewords per block, by level (L, M, Q, H) and version 1 to 40
/// (ISO/IEC 18004:2015, table 9).
const ECC_PER_BLOCK: [[u8; 40]; 4] = [
    [
        7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30,
        30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
    ],
    [
        10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28,
        28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    ],
    [
        13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30,
        30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
    ],
    [
        17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30,
        30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
    ],
];

/// Error-correction blocks, by level (L, M, Q, H) and version 1 to 40 (same table).
const BLOCKS: [[u8; 40]; 4] = [
    [
        1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13,
        14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25,
    ],
    [
        1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23,
        25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49,
    ],
    [
        1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29,
        34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68,
    ],
    [
        1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35,
        37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81,
    ],
];

/// Misdecode-protection codewords (the same table's note): a block of these small codes
/// corrects `(ecc - p) / 2` errors, not `ecc / 2`.
fn misdecode_protection(version: usize, level: usize) -> usize {
    match (version, level) {
        (1, 0) => 3,
        (1, 1) => 2,
        (1, _) => 1,
        (2, 0) => 2,
        (3, 0) => 1,
        _ => 0,
    }
}

/// Codewords of a version (data and error correction), from the modules left to data.
fn total_codewords(version: usize) -> usize {
    let v = version;
    let mut modules = (16 * v + 128) * v + 64;
    if v >= 2 {
        let n = v / 7 + 2;
        modules -= (25 * n - 10) * n - 55;
        if v >= 7 {
            modules -= 36;
        }
    }
    modules / 8
}

/// Centre coordinates of the alignment patterns along one axis.
fn alignment_positions(version: usize) -> Vec<usize> {
    if version < 2 {
        return Vec::new();
    }
    let n = version / 7 + 2;
    let step = if version == 32 {
        26
    } else {
        (version * 4 + n * 2 + 1) / (n * 2 - 2) * 2
    };
    let mut out = vec![6; n];
    let mut pos = version * 4 + 10;
    for slot in out.iter_mut().skip(1).rev() {
        *slot = pos;
        pos = pos.saturating_sub(step);
    }
    out
}

/// Module indices (`y * dim + x`) of a version's codeword bits, in reading order.
fn reading_order(version: usize) -> &'static [u32] {
    static CACHE: [OnceLock<Vec<u32>>; 40] = [const { OnceLock::new() }; 40];
    CACHE[version - 1].get_or_init(|| {
        let dim = 17 + 4 * version;
        let mut function = vec![false; dim * dim];
        for y in 0..dim {
            for x in 0..dim {
                let finder = (y < 9 && (x < 9 || x >= dim - 8)) || (x < 9 && y >= dim - 8);
                let version_info = version >= 7
                    && ((x < 6 && (dim - 11..dim - 8).contains(&y))
                        || (y < 6 && (dim - 11..dim - 8).contains(&x)));
                function[y * dim + x] = finder || x == 6 || y == 6 || version_info;
            }
        }
        let pos = alignment_positions(version);
        let last = pos.last().copied().unwrap_or(0);
        for &cy in &pos {
            for &cx in &pos {
                if (cx == 6 && (cy == 6 || cy == last)) || (cx == last && cy == 6) {
                    continue;
                }
                for y in cy - 2..=cy + 2 {
                    for x in cx - 2..=cx + 2 {
                        function[y * dim + x] = true;
                    }
                }
            }
        }
        let bits = total_codewords(version) * 8;
        let mut order = Vec::with_capacity(bits);
        let mut right = dim - 1;
        loop {
            if right == 6 {
                right = 5;
            }
            let upward = (right + 1) & 2 == 0;
            for vert in 0..dim {
                let y = if upward { dim - 1 - vert } else { vert };
                for x in [right, right - 1] {
                    if !function[y * dim + x] && order.len() < bits {
                        order.push((y * dim + x) as u32);
                    }
                }
            }
            if right < 3 {
                break;
            }
            right -= 2;
        }
        order
    })
}

/// Whether the data mask `mask` (0 to 7) flips the module at column `x`, row `y`.
fn masked(mask: u16, x: usize, y: usize) -> bool {
    let v = match mask {
        0 => (x + y) % 2,
        1 => y % 2,
        2 => x % 3,
        3 => (x + y) % 3,
        4 => (x / 3 + y / 2) % 2,
        5 => (x * y) % 2 + (x * y) % 3,
        6 => ((x * y) % 2 + (x * y) % 3) % 2,
        _ => ((x + y) % 2 + (x * y) % 3) % 2,
    };
    v == 0
}

/// The 32 format words (5 data bits, 10 BCH bits, the mask 0x5412 applied), by data value.
const FORMAT_WORDS: [u16; 32] = format_words();

const fn format_words() -> [u16; 32] {
    let mut out = [0u16; 32];
    let mut d = 0;
    while d < 32 {
        let mut rem = (d as u16) << 10;
        let mut bit = 14;
        while bit >= 10 {
            if rem & (1 << bit) != 0 {
                rem ^= 0x537 << (bit - 10);
            }
            bit -= 1;
        }
        out[d] = (((d as u16) << 10) | rem) ^ 0x5412;
        d += 1;
    }
    out
}

/// The format's error-correction level (as the format bits number it: M, L, H, Q = 0 to 3)
/// and data mask, from the nearer of its two copies: the valid word closest to either copy
/// within 3 bits (the BCH code corrects 3), as zxing does.
fn read_format(bit: impl Fn(usize, usize) -> bool, dim: usize) -> Option<(usize, u16)> {
    let word = |cells: &mut dyn Iterator<Item = (usize, usize)>| {
        cells.fold(0u16, |w, (x, y)| w << 1 | u16::from(bit(x, y)))
    };
    // Bit 14 first. Beside the top-left finder: row 8 from the left edge, then up column 8
    // (the timing patterns skipped). The second copy: up column 8 from the bottom edge
    // (beside the bottom-left finder), then row 8 to the right edge (the top-right one).
    let first = word(
        &mut (0..6)
            .map(|x| (x, 8))
            .chain([(7, 8), (8, 8), (8, 7)])
            .chain((0..6).rev().map(|y| (8, y))),
    );
    let second = word(
        &mut (dim - 7..dim)
            .rev()
            .map(|y| (8, y))
            .chain((dim - 8..dim).map(|x| (x, 8))),
    );
    let (mut best, mut best_distance) = (0usize, u32::MAX);
    for (d, &w) in FORMAT_WORDS.iter().enumerate() {
        let distance = (w ^ first).count_ones().min((w ^ second).count_ones());
        if distance < best_distance {
            (best, best_distance) = (d, distance);
        }
    }
    (best_distance <= 3).then_some((best >> 3, (best & 7) as u16))
}

/// A grid whose every Reed–Solomon block corrected.
#[derive(Debug, Clone)]
pub(crate) struct Corrected {
    /// Version, 1 to 40.
    pub(crate) version: usize,
    /// The data codewords in stream order (block after block), check codewords dropped.
    pub(crate) data: Vec<u8>,
    /// Every codeword as placed (interleaved), corrected.
    words: Vec<u8>,
    mask: u16,
    mirrored: bool,
}

impl Corrected {
    /// `bits` (the grid that was corrected) with its codewords' modules corrected, in the
    /// orientation given, for rqrr's decoder.
    pub(crate) fn grid(&self, bits: &[bool]) -> Vec<bool> {
        let dim = 17 + 4 * self.version;
        let mut out = bits.to_vec();
        if out.len() != dim * dim {
            return out;
        }
        for (i, &m) in reading_order(self.version).iter().enumerate() {
            let (x, y) = (m as usize % dim, m as usize / dim);
            let at = if self.mirrored {
                x * dim + y
            } else {
                y * dim + x
            };
            out[at] = (self.words[i / 8] & (0x80 >> (i % 8)) != 0) != masked(self.mask, x, y);
        }
        out
    }
}

/// Whether rqrr's decoder will correct this grid (`true` = dark, row-major, `dim` x `dim`), in
/// the orientation given or mirrored (as rqrr tries both). Errors only, as rqrr corrects.
#[cfg(test)]
pub(crate) fn corrects(bits: &[bool], dim: usize) -> bool {
    correct(bits, None, dim).is_some()
}

/// Symbols a block keeps unused when it corrects with erasures: a block that corrects `t`
/// errors and `e` erasures needs `2t + e` of its `ecc - p` check symbols, and the rest is what
/// catches a miscorrection (a wrong payload). With 4 spare symbols, a random word passes a
/// trial with a chance under 2^-32.
const ERASURE_MARGIN: usize = 4;
/// Confidence (see [`correct`]) at or above which a codeword is never erased.
const ERASABLE_BELOW: u8 = 64;
/// Erasure trials per block after the errors-only one.
const ERASURE_TRIALS: usize = 4;

/// The grid's codewords with every Reed–Solomon block corrected, or `None` when the format or
/// some block does not correct. Tried as given, then mirrored (as rqrr tries both).
///
/// `confidence` gives one value per module (0 = no idea, 127 and up = sure) and turns on
/// generalised-minimum-distance decoding; it is called only when errors alone do not correct
/// a block (most grids never need it): a block that does not correct with errors only is
/// tried again with its least confident codewords erased (a codeword is as confident as its
/// least confident module). An erased codeword costs one check symbol instead of two, so a
/// glare spot that clips a tenth of the code, or a blurred stripe, still corrects, while
/// [`ERASURE_MARGIN`] symbols stay unused to catch a miscorrection.
pub(crate) fn correct<'c>(
    bits: &[bool],
    confidence: Option<&dyn Fn() -> &'c [u8]>,
    dim: usize,
) -> Option<Corrected> {
    if bits.len() != dim * dim || dim < 21 || !(dim - 17).is_multiple_of(4) || dim > 177 {
        return None;
    }
    correct_as(bits, confidence, dim, false).or_else(|| correct_as(bits, confidence, dim, true))
}

fn correct_as<'c>(
    bits: &[bool],
    confidence: Option<&dyn Fn() -> &'c [u8]>,
    dim: usize,
    mirrored: bool,
) -> Option<Corrected> {
    let index = |x: usize, y: usize| if mirrored { x * dim + y } else { y * dim + x };
    let (format_level, mask) = read_format(|x, y| bits[index(x, y)], dim)?;
    let version = (dim - 17) / 4;
    // The format bits number levels M, L, H, Q; the tables go L, M, Q, H.
    let level = [1, 0, 3, 2][format_level];
    let order = reading_order(version);
    let total = total_codewords(version);
    let mut words = vec![0u8; total];
    for (i, &m) in order.iter().enumerate() {
        let (x, y) = (m as usize % dim, m as usize / dim);
        if bits[index(x, y)] != masked(mask, x, y) {
            words[i / 8] |= 0x80 >> (i % 8);
        }
    }
    // Each codeword's confidence, the least of its modules': read when a block first needs
    // erasures.
    let mut sure: Option<Vec<u8>> = None;
    let codeword_confidence = |c: &[u8]| {
        let mut sure = vec![u8::MAX; total];
        for (i, &m) in order.iter().enumerate() {
            let at = index(m as usize % dim, m as usize / dim);
            sure[i / 8] = sure[i / 8].min(c[at]);
        }
        sure
    };
    let blocks = BLOCKS[level][version - 1] as usize;
    let ecc = ECC_PER_BLOCK[level][version - 1] as usize;
    let short_len = total / blocks;
    let short_blocks = blocks - total % blocks;
    let short_data = short_len - ecc;
    let check = ecc - misdecode_protection(version, level);
    let max_erasures = check.saturating_sub(ERASURE_MARGIN);
    let mut fixed = words.clone();
    let mut data = Vec::with_capacity(total - blocks * ecc);
    let mut slots = Vec::with_capacity(short_len + 1);
    let mut block = Vec::with_capacity(short_len + 1);
    for b in 0..blocks {
        // Data codewords are interleaved column by column; long blocks (after the short
        // ones) have one more, after the columns all blocks share.
        slots.clear();
        let data_words = short_data + usize::from(b >= short_blocks);
        for i in 0..data_words {
            slots.push(if i < short_data {
                i * blocks + b
            } else {
                short_data * blocks + (b - short_blocks)
            });
        }
        let ecc_start = short_data * blocks + (blocks - short_blocks);
        slots.extend((0..ecc).map(|i| ecc_start + i * blocks + b));
        block.clear();
        block.extend(slots.iter().map(|&w| words[w]));
        if !correct_block(&mut block, ecc, check / 2, &[]) {
            let confidence = confidence?();
            if confidence.len() != bits.len() {
                return None;
            }
            let sure = sure.get_or_insert_with(|| codeword_confidence(confidence));
            if !erasure_trials(&words, sure, &slots, &mut block, ecc, max_erasures) {
                return None;
            }
        }
        for (&w, &v) in slots.iter().zip(&block) {
            fixed[w] = v;
        }
        data.extend_from_slice(&block[..data_words]);
    }
    Some(Corrected {
        version,
        data,
        words: fixed,
        mask,
        mirrored,
    })
}

/// Corrects the block whose codewords sit at `slots` of `words` into `block`, with the 1/4,
/// 2/4, ... of `max_erasures` least sure codewords erased (errors only has failed).
fn erasure_trials(
    words: &[u8],
    sure: &[u8],
    slots: &[usize],
    block: &mut Vec<u8>,
    ecc: usize,
    max_erasures: usize,
) -> bool {
    // Positions in the block, least sure first, among those not sure enough to keep.
    let mut doubtful: Vec<usize> = (0..slots.len())
        .filter(|&i| sure[slots[i]] < ERASABLE_BELOW)
        .collect();
    if doubtful.is_empty() || max_erasures == 0 {
        return false;
    }
    doubtful.sort_by_key(|&i| sure[slots[i]]);
    let most = doubtful.len().min(max_erasures);
    let step = most.div_ceil(ERASURE_TRIALS).max(1);
    let mut k = step.min(most);
    loop {
        block.clear();
        block.extend(slots.iter().map(|&w| words[w]));
        // 2t + k <= max_erasures: the errors the erasures leave room for.
        let can_fix = (max_erasures - k) / 2;
        if correct_block(block, ecc, can_fix, &doubtful[..k]) {
            return true;
        }
        if k == most {
            return false;
        }
        k = (k + step).min(most);
    }
}

/// Corrects one block (data then `ecc` codewords) in place if it has at most `can_fix` errors
/// besides the codewords at `erased` (indices into the block, whose values are unknown);
/// `false` when it cannot be corrected.
fn correct_block(block: &mut [u8], ecc: usize, can_fix: usize, erased: &[usize]) -> bool {
    let mut s = [0u8; 64];
    if !syndromes(block, ecc, &mut s) {
        return true;
    }
    let s = &s[..ecc];
    let n = block.len();
    let e = erased.len();
    if e >= ecc {
        return false;
    }
    // The erasure locator Γ(x) = Π (1 - X_j x), X_j = α^(n - 1 - index): Berlekamp–Massey
    // starts from it and finds the errors' locator on top, Λ(x) = Γ(x) E(x).
    let mut lambda = [0u8; 65];
    lambda[0] = 1;
    for &i in erased {
        let x = EXP[(n - 1 - i) % 255];
        for d in (1..=64).rev() {
            lambda[d] ^= mul(lambda[d - 1], x);
        }
    }
    let mut prev = lambda;
    let (mut l, mut shift, mut last_d) = (e, 1usize, 1u8);
    for r in e..ecc {
        let mut d = s[r];
        for i in 1..=l {
            d ^= mul(lambda[i], s[r - i]);
        }
        if d == 0 {
            shift += 1;
            continue;
        }
        let coef = div(d, last_d);
        let before = lambda;
        for i in 0..=64 - shift {
            lambda[i + shift] ^= mul(coef, prev[i]);
        }
        if 2 * l <= r + e {
            l = r + 1 + e - l;
            prev = before;
            last_d = d;
            shift = 1;
        } else {
            shift += 1;
        }
    }
    if l == 0 || l < e || l - e > can_fix {
        return false;
    }
    // Ω(x) = S(x) Λ(x) mod x^ecc.
    let mut omega = [0u8; 64];
    for (i, o) in omega.iter_mut().enumerate().take(ecc) {
        for j in 0..=i.min(l) {
            *o ^= mul(lambda[j], s[i - j]);
        }
    }
    // Chien search over the block's positions, Forney for each error's value.
    let mut found = 0;
    for p in 0..n {
        let x_inv = EXP[(255 - p % 255) % 255];
        if eval(&lambda[..=l], x_inv) != 0 {
            continue;
        }
        // Λ'(x): the odd terms of Λ, one degree down (characteristic 2).
        let mut deriv = 0u8;
        let mut xp = 1u8;
        for i in (1..=l).step_by(2) {
            deriv ^= mul(lambda[i], xp);
            xp = mul(xp, mul(x_inv, x_inv));
        }
        if deriv == 0 {
            return false;
        }
        let x = EXP[p % 255];
        let v = mul(x, div(eval(&omega[..ecc], x_inv), deriv));
        block[n - 1 - p] ^= v;
        found += 1;
    }
    found == l && !syndromes(block, ecc, &mut [0u8; 64])
}

/// The block's `ecc` syndromes into `s`; `true` if any is non-zero.
fn syndromes(block: &[u8], ecc: usize, s: &mut [u8; 64]) -> bool {
    let mut any = false;
    for (i, si) in s.iter_mut().enumerate().take(ecc) {
        let root = EXP[i];
        let mut acc = 0u8;
        for &c in block {
            acc = mul(acc, root) ^ c;
        }
        *si = acc;
        any |= acc != 0;
    }
    any
}

/// p(x) with coefficients lowest degree first.
fn eval(p: &[u8], x: u8) -> u8 {
    p.iter().rev().fold(0u8, |acc, &c| mul(acc, x) ^ c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qrcode::{EcLevel, QrCode, Version};
    use rand::{Rng, SeedableRng};

    fn grid(text: &[u8], version: i16, level: EcLevel) -> Option<(usize, Vec<bool>)> {
        let code = QrCode::with_version(text, Version::Normal(version), level).ok()?;
        let dim = code.width();
        let bits = code
            .to_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect();
        Some((dim, bits))
    }

    fn rqrr_reads(bits: &[bool], dim: usize) -> bool {
        super::super::decode::decode_grid(bits, dim).is_some()
    }

    const LEVELS: [EcLevel; 4] = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H];

    #[test]
    fn every_version_and_level_reads_clean() {
        for version in 1..=40i16 {
            for level in LEVELS {
                let text = format!("V{version}");
                let (dim, bits) = grid(text.as_bytes(), version, level).expect("fits");
                assert_eq!(dim, 17 + 4 * version as usize);
                let v = version as usize;
                assert_eq!(reading_order(v).len(), total_codewords(v) * 8);
                assert!(corrects(&bits, dim), "version {version} {level:?}");
            }
        }
    }

    /// Flips whole codewords' worth of modules at random, then compares with rqrr.
    #[test]
    fn agrees_with_rqrr_on_damaged_grids() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mut both, mut neither) = (0, 0);
        for round in 0..600 {
            let version = [1, 2, 3, 4, 5, 7, 10, 15][round % 8];
            let level = LEVELS[(round / 8) % 4];
            let Some((dim, mut bits)) = grid(
                b"https://eu.roger.myq.cloud/pair?v=1&code=ABCD-EFGH",
                version,
                level,
            ) else {
                continue;
            };
            let order = reading_order(version as usize);
            let flips = rng.random_range(0..(order.len() / 8).min(90));
            for _ in 0..flips {
                let i = order[rng.random_range(0..order.len())] as usize;
                bits[i] = !bits[i];
            }
            let ours = corrects(&bits, dim);
            let theirs = rqrr_reads(&bits, dim);
            // Never stricter than needed: what we pass, rqrr reads.
            assert!(
                !ours || theirs,
                "round {round}: we pass a grid rqrr refuses"
            );
            if ours && theirs {
                both += 1;
            }
            if !ours && !theirs {
                neither += 1;
            }
            // What rqrr reads within the standard's capacity, we pass.
            if theirs && !ours {
                assert!(flips > 0, "round {round}: a clean grid refused");
            }
        }
        assert!(
            both > 100 && neither > 100,
            "both {both}, neither {neither}"
        );
    }

    #[test]
    fn errors_up_to_the_capacity_correct_and_one_more_block_error_does_not_pass_wrongly() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for version in [1usize, 3, 4, 6, 9, 20, 40] {
            for (li, level) in LEVELS.into_iter().enumerate() {
                let (dim, clean) = grid(b"roger", version as i16, level).expect("fits");
                let blocks = BLOCKS[li][version - 1] as usize;
                let ecc = ECC_PER_BLOCK[li][version - 1] as usize;
                let can_fix = (ecc - misdecode_protection(version, li)) / 2;
                // Damage `can_fix` codewords of every block: codeword k of the stream belongs
                // to block k % blocks for the interleaved ecc part, so damage the ecc part.
                let total = total_codewords(version);
                let short_data = total / blocks - ecc;
                let ecc_start = short_data * blocks + (blocks - (blocks - total % blocks));
                let order = reading_order(version);
                let mut bits = clean.clone();
                for b in 0..blocks {
                    let mut picked: Vec<usize> = Vec::new();
                    while picked.len() < can_fix {
                        let k = rng.random_range(0..ecc);
                        if !picked.contains(&k) {
                            picked.push(k);
                        }
                    }
                    for k in picked {
                        let word = ecc_start + k * blocks + b;
                        let bit = rng.random_range(0..8);
                        let m = order[word * 8 + bit] as usize;
                        bits[m] = !bits[m];
                    }
                }
                assert!(corrects(&bits, dim), "v{version} {level:?} at capacity");
                assert!(
                    rqrr_reads(&bits, dim),
                    "rqrr, v{version} {level:?} at capacity"
                );
            }
        }
    }

    const PAIRING: &str = "https://eu.roger.myq.cloud/pair?v=1&code=ABCD-EFGH";

    /// The text of `bits` corrected into `fixed`, as the pipeline reads it; rqrr's decoder on
    /// the corrected grid must read the same.
    fn decoded(bits: &[bool], fixed: &Corrected) -> Option<String> {
        let ours = crate::decode::read_corrected(fixed, bits);
        let dim = 17 + 4 * fixed.version;
        let theirs = crate::decode::decode_grid(&fixed.grid(bits), dim);
        assert_eq!(ours, theirs, "our segment parser and rqrr disagree");
        ours
    }

    /// [`correct`] with a confidence known up front.
    fn correct_sure(bits: &[bool], sure: &[u8], dim: usize) -> Option<Corrected> {
        correct(bits, Some(&|| sure), dim)
    }

    /// A clean version 4-M grid with the first `count` of its interleaved check codewords
    /// (word k of them belongs to block k % 2) flipped and marked unsure.
    fn damaged_check_words(count: usize) -> (usize, Vec<bool>, Vec<u8>) {
        let (dim, mut bits) = grid(PAIRING.as_bytes(), 4, EcLevel::M).expect("fits");
        let order = reading_order(4);
        let ecc_start = total_codewords(4) - 2 * 18;
        let mut sure = vec![127u8; dim * dim];
        for k in 0..count {
            for bit in 0..8 {
                let m = order[(ecc_start + k) * 8 + bit] as usize;
                bits[m] = !bits[m];
                sure[m] = 0;
            }
        }
        (dim, bits, sure)
    }

    /// A glare spot: the modules of a square clipped to light and known to carry nothing.
    fn clip(bits: &mut [bool], sure: &mut [u8], dim: usize, x0: usize, y0: usize, side: usize) {
        for y in y0..(y0 + side).min(dim) {
            for x in x0..(x0 + side).min(dim) {
                bits[y * dim + x] = false;
                sure[y * dim + x] = 0;
            }
        }
    }

    #[test]
    fn a_clipped_spot_beyond_the_errors_only_capacity_corrects_with_erasures() {
        let (mut read, mut beyond) = (0, 0);
        for (version, level) in [(4, EcLevel::M), (5, EcLevel::Q), (7, EcLevel::M)] {
            let (dim, clean) = grid(PAIRING.as_bytes(), version, level).expect("fits");
            // A square of 17 % of the code's area, off the finder patterns.
            let side = (dim as f32 * 0.41) as usize;
            for (x0, y0) in [
                (10, 10),
                (dim - side - 1, dim / 2 - side / 2),
                (9, dim - side - 9),
            ] {
                let mut bits = clean.clone();
                let mut sure = vec![127u8; dim * dim];
                clip(&mut bits, &mut sure, dim, x0, y0, side);
                beyond += usize::from(!corrects(&bits, dim));
                let fixed = correct_sure(&bits, &sure, dim).expect("erasures correct");
                assert_eq!(decoded(&bits, &fixed).as_deref(), Some(PAIRING));
                read += 1;
            }
        }
        assert_eq!(read, 9);
        // Where the spot clips mostly light modules, errors alone can do; most need erasures.
        assert!(beyond >= 6, "errors only failed on {beyond} of 9");
    }

    #[test]
    fn erasures_beyond_the_margin_do_not_correct() {
        // Version 4-M: 2 blocks of 18 check codewords. 15 erased and damaged per block: more
        // than 18 - ERASURE_MARGIN leaves room for.
        let (dim, bits, sure) = damaged_check_words(30);
        assert!(correct_sure(&bits, &sure, dim).is_none());
        // Within the margin (12 per block), the same damage corrects.
        let (dim, bits, sure) = damaged_check_words(24);
        let fixed = correct_sure(&bits, &sure, dim).expect("within the margin");
        assert_eq!(decoded(&bits, &fixed).as_deref(), Some(PAIRING));
    }

    /// Heavy random damage with a random, partly misleading confidence: a grid that corrects
    /// always decodes to the text encoded, never to another.
    #[test]
    fn erasure_decoding_never_reads_a_wrong_payload() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(23);
        let (mut fixed, mut refused, mut by_erasures) = (0, 0, 0);
        for round in 0..1500 {
            let version = [2, 3, 4, 5, 7][round % 5];
            let level = LEVELS[(round / 5) % 4];
            let Some((dim, mut bits)) = grid(PAIRING.as_bytes(), version, level) else {
                continue;
            };
            let mut sure: Vec<u8> = (0..dim * dim).map(|_| rng.random_range(60..128)).collect();
            let order = reading_order(version as usize);
            let words = order.len() / 8;
            // Whole codewords damaged, as a glare spot or a smear does, most of them doubtful;
            // some sound codewords doubtful too.
            let damaged = rng.random_range(0..words * 2 / 5);
            for _ in 0..damaged {
                let w = rng.random_range(0..words);
                let doubtful = rng.random_bool(0.8);
                for bit in 0..8 {
                    let m = order[w * 8 + bit] as usize;
                    if rng.random_bool(0.5) {
                        bits[m] = !bits[m];
                    }
                    if doubtful {
                        sure[m] = rng.random_range(0..40);
                    }
                }
            }
            for _ in 0..damaged / 3 {
                let w = rng.random_range(0..words);
                sure[order[w * 8] as usize] = rng.random_range(0..40);
            }
            match correct_sure(&bits, &sure, dim) {
                Some(g) => {
                    assert_eq!(
                        decoded(&bits, &g).as_deref(),
                        Some(PAIRING),
                        "round {round}"
                    );
                    fixed += 1;
                    by_erasures += usize::from(!corrects(&bits, dim));
                }
                None => refused += 1,
            }
        }
        assert!(
            fixed > 200 && refused > 200 && by_erasures > 40,
            "fixed {fixed} ({by_erasures} by erasures), refused {refused}"
        );
    }

    /// rqrr's reading of the format of `bits` (level as the format bits number it, mask).
    fn rqrr_format(bits: &[bool], dim: usize) -> Option<(usize, u16)> {
        let grid = rqrr::SimpleGrid::from_func(dim, |x, y| bits[y * dim + x]);
        let (meta, _) = rqrr::Grid::new(grid).get_raw_data().ok()?;
        Some((meta.ecc_level as usize, meta.mask))
    }

    #[test]
    fn the_format_reads_as_rqrr_reads_it_up_to_three_bad_bits_per_copy() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut masks = [false; 8];
        for round in 0..400 {
            let level = LEVELS[round % 4];
            let text = format!("https://eu.roger.myq.cloud/pair?v=1&code={round:04}-ABCD");
            let version = [7, 8, 10, 12][round / 4 % 4];
            let (dim, mut bits) = grid(text.as_bytes(), version, level).expect("fits");
            let at = |x: usize, y: usize| y * dim + x;
            let format = rqrr_format(&bits, dim).expect("rqrr reads the format");
            assert_eq!(read_format(|x, y| bits[at(x, y)], dim), Some(format));
            masks[format.1 as usize] = true;
            // Up to 3 flipped bits in the first copy (the row and column beside the top-left
            // finder), none or 4 in the second.
            let first: Vec<(usize, usize)> = (0..9)
                .filter(|&i| i != 6)
                .map(|x| (x, 8))
                .chain((0..8).filter(|&y| y != 6).map(|y| (8, y)))
                .collect();
            for _ in 0..rng.random_range(1..=3) {
                let (x, y) = first[rng.random_range(0..first.len())];
                bits[at(x, y)] = !bits[at(x, y)];
            }
            let mirrored = |f: &dyn Fn(usize, usize) -> bool| read_format(|x, y| f(y, x), dim);
            assert_eq!(read_format(|x, y| bits[at(x, y)], dim), Some(format));
            assert_eq!(mirrored(&|x, y| bits[at(y, x)]), Some(format));
        }
        assert!(masks.iter().all(|&m| m), "masks seen: {masks:?}");
        // Both copies wiped to light, or 4 bits off in both: no format.
        let (dim, mut bits) = grid(b"roger", 2, EcLevel::M).expect("fits");
        for i in 0..9 {
            bits[8 * dim + i] = false;
            bits[i * dim + 8] = false;
            bits[8 * dim + dim - 1 - i] = false;
            bits[(dim - 1 - i) * dim + 8] = false;
        }
        assert_eq!(read_format(|x, y| bits[y * dim + x], dim), None);
    }

    #[test]
    fn the_segment_parser_reads_what_rqrr_reads_in_every_mode_and_version() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let alnum = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
        for round in 0..240 {
            let version = 1 + (round * 7) % 40;
            let level = LEVELS[round % 4];
            // Digits, upper-case runs, bytes and UTF-8 mixed, so that the encoder uses every
            // mode and switches between them.
            let mut text = String::new();
            for _ in 0..rng.random_range(1..6) {
                let n = rng.random_range(1..30);
                match rng.random_range(0..4) {
                    0 => text.extend((0..n).map(|_| (b'0' + rng.random_range(0..10)) as char)),
                    1 => text.extend((0..n).map(|_| alnum[rng.random_range(0..45)] as char)),
                    2 => text.extend((0..n).map(|_| rng.random_range(b'a'..=b'z') as char)),
                    _ => text.extend((0..n / 3 + 1).map(|_| ['é', 'ß', '→', '✓'][n % 4])),
                }
            }
            let Some((dim, bits)) = grid(text.as_bytes(), version as i16, level) else {
                continue;
            };
            let fixed = correct(&bits, None, dim).expect("clean");
            assert_eq!(
                decoded(&bits, &fixed).as_deref(),
                Some(text.as_str()),
                "round {round}"
            );
        }
    }

    #[test]
    fn malformed_sizes_are_refused() {
        assert!(!corrects(&[], 0));
        assert!(!corrects(&vec![false; 22 * 22], 22));
        assert!(!corrects(&[false; 20], 21));
        assert!(!corrects(&vec![false; 181 * 181], 181));
        assert!(!corrects(&vec![true; 21 * 21], 21));
    }
}
