//! The work bound of one frame: counted, not timed.
//!
//! Every pass of the pipeline reads a bounded number of pixels (a fixed set of rows, block
//! statistics, the downscaled copy). What can grow with the content of a frame is the work
//! per candidate: cross-checking finder-pattern hits, placing a code grid on a triple of finder
//! patterns (alignment search and sampling), and decoding sampled grids. A
//! frame full of finder-like clutter (noise, text, a sheet of codes) makes many of each; the
//! [`WorkBudget`] caps them for the whole frame, over all passes, so one such frame cannot
//! stall the camera. The bound is counted rather than timed so that the same frame gives the
//! same result on every phone and in every test.

/// Work done on one frame (what [`WorkBudget`] limits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Locator passes run (region of interest, downscaled, full resolution, dense).
    pub passes: usize,
    /// Finder-pattern hits cross-checked vertically and horizontally.
    pub cross_checks: usize,
    /// Grid sizes probed on a triple of finder patterns (only the finder and timing patterns
    /// sampled; at most 5 per triple and 12 triples per pass, so not budgeted).
    pub probes: usize,
    /// Code grids placed on a triple of finder patterns after a probe passed (alignment
    /// search, then the whole grid sampled and thresholded).
    pub placements: usize,
    /// Corrected grids whose payload was read (parsed, or rqrr's decoder for Kanji).
    pub decodes: usize,
    /// The budget ran out: later candidates and passes were skipped.
    pub cut_short: bool,
}

impl Work {
    /// Whether this work stays within `budget` on every budgeted count.
    pub fn fits(&self, budget: &WorkBudget) -> bool {
        self.cross_checks <= budget.cross_checks
            && self.placements <= budget.placements
            && self.decodes <= budget.decodes
    }
}

/// Most work one frame may cost, over all passes of the pipeline.
///
/// The default is above what every frame of the benchmark corpus that reads needs (at most
/// 3123 cross-checks, 34 placements and 41 decodes) and keeps the worst frames measured under
/// 70 ms on a desktop core (see `docs/benchmarks.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkBudget {
    /// Finder-pattern cross-checks.
    pub cross_checks: usize,
    /// Code grids placed.
    pub placements: usize,
    /// Payload reads. Only grids whose every Reed–Solomon block corrects get one (the check,
    /// a few microseconds, is bounded by the placements), so on most frames this is one per
    /// code read.
    pub decodes: usize,
}

impl Default for WorkBudget {
    fn default() -> Self {
        WorkBudget {
            cross_checks: 8000,
            placements: 48,
            decodes: 48,
        }
    }
}

/// Spends a [`WorkBudget`], counting into a [`Work`], and remembers the grids that already
/// failed to decode in this frame: passes and thresholdings often sample the very same bits again
/// (on sheets of damaged codes, 82 to 90 % of the decode attempts), and the same bits fail
/// again.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    pub(crate) work: Work,
    limit: WorkBudget,
    /// Failed grids: size and bits packed 64 to a word.
    failed: Vec<(usize, Vec<u64>)>,
}

impl Meter {
    pub(crate) fn new(limit: WorkBudget) -> Meter {
        Meter {
            work: Work::default(),
            limit,
            failed: Vec::new(),
        }
    }

    /// Whether exactly these bits already failed to decode in this frame.
    pub(crate) fn failed_before(&self, bits: &[bool], dim: usize) -> bool {
        let packed = pack(bits);
        self.failed.iter().any(|(d, p)| *d == dim && *p == packed)
    }

    /// Remembers a grid that failed to decode (at most one entry per thresholding of a
    /// placement, so bounded by the placement budget).
    pub(crate) fn remember_failure(&mut self, bits: &[bool], dim: usize) {
        self.failed.push((dim, pack(bits)));
    }

    /// Takes one unit from `spent` if `limit` allows; marks the frame cut short otherwise.
    fn take(spent: &mut usize, limit: usize, cut_short: &mut bool) -> bool {
        if *spent >= limit {
            *cut_short = true;
            return false;
        }
        *spent += 1;
        true
    }

    /// One finder-pattern cross-check, if the budget allows.
    pub(crate) fn cross_check(&mut self) -> bool {
        let w = &mut self.work;
        Self::take(
            &mut w.cross_checks,
            self.limit.cross_checks,
            &mut w.cut_short,
        )
    }

    /// One probe (counted, not limited).
    pub(crate) fn probe(&mut self) {
        self.work.probes += 1;
    }

    /// One grid placement, if the budget allows.
    pub(crate) fn place(&mut self) -> bool {
        let w = &mut self.work;
        Self::take(&mut w.placements, self.limit.placements, &mut w.cut_short)
    }

    /// One decode attempt, if the budget allows.
    pub(crate) fn decode(&mut self) -> bool {
        let w = &mut self.work;
        Self::take(&mut w.decodes, self.limit.decodes, &mut w.cut_short)
    }

    /// Starts a pass; `false` (and nothing counted) when the budget already ran out.
    pub(crate) fn pass(&mut self) -> bool {
        if self.work.cut_short {
            return false;
        }
        self.work.passes += 1;
        true
    }
}

fn pack(bits: &[bool]) -> Vec<u64> {
    bits.chunks(64)
        .map(|c| c.iter().fold(0u64, |w, &b| (w << 1) | b as u64))
        .collect()
}
