//! Paired bootstrap over users of a difference in pooled `period` HR@10 (issue #20: a "win"
//! means the 95 % interval of candidate − baseline lies above 0, not just a higher figure).
//!
//! Both rankings were scored on the same cases (one per user), so each case carries, for each
//! model, `(hits, plays)`: the user's test plays whose item is in that model's top 10, and all
//! the user's test plays. A draw resamples the cases with replacement and recomputes both
//! pooled ratios Σhits / Σplays on the same resample (that is what makes it paired: the users'
//! own variance — who plays a lot, who plays favourites — cancels). Percentile interval over
//! the draws; the resampling uses a fixed-seed SplitMix64, so the figures are reproducible.

/// Draws and seed used by `weft recommend --eval` and by validation.
pub const DRAWS: usize = 1000;
pub const SEED: u64 = 20;

/// Candidate − baseline: the observed difference and its percentile interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub diff: f64,
    pub lo: f64,
    pub hi: f64,
    pub cases: usize,
}

impl Interval {
    /// The candidate wins: the whole interval is above 0.
    pub fn wins(&self) -> bool {
        self.lo > 0.0
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:+.4} [{:+.4}, {:+.4}]{}",
            self.diff,
            self.lo,
            self.hi,
            if self.wins() {
                " win"
            } else if self.hi < 0.0 {
                " loss"
            } else {
                " not a win (interval contains 0)"
            }
        )
    }
}

/// SplitMix64: tiny, seeded, good enough for resampling indices.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize
    }
}

fn pooled(v: &[(f64, f64)]) -> f64 {
    let (h, w) = v.iter().fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
    h / w.max(1e-12)
}

/// Paired bootstrap of pooled `cand` − pooled `base` over cases (the two slices are the same
/// cases in the same order: `(hits, plays)` each). 95 % percentile interval over `draws`
/// resamples. `None` when the slices differ in length or are empty.
pub fn paired(
    cand: &[(f64, f64)],
    base: &[(f64, f64)],
    draws: usize,
    seed: u64,
) -> Option<Interval> {
    let n = cand.len();
    if n == 0 || base.len() != n || draws == 0 {
        return None;
    }
    let mut rng = SplitMix(seed);
    let mut diffs = Vec::with_capacity(draws);
    for _ in 0..draws {
        let (mut hc, mut hb, mut w) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let k = rng.below(n);
            hc += cand[k].0;
            hb += base[k].0;
            // The plays are the user's, the same for both rankings (peers' lists included).
            w += cand[k].1.max(base[k].1);
        }
        let w: f64 = f64::max(w, 1e-12);
        diffs.push((hc - hb) / w);
    }
    diffs.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| diffs[((q * draws as f64) as usize).min(draws - 1)];
    Some(Interval {
        diff: pooled(cand) - pooled(base),
        lo: at(0.025),
        hi: at(0.975),
        cases: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consistent_small_gain_is_a_win_and_noise_is_not() {
        // 100 users with 50 test plays each. Candidate: two more hits than the baseline for
        // every user → difference exactly .04 in every resample.
        let base: Vec<(f64, f64)> = (0..100).map(|u| (18.0 + (u % 5) as f64, 50.0)).collect();
        let cand: Vec<(f64, f64)> = base.iter().map(|&(h, w)| (h + 2.0, w)).collect();
        let iv = paired(&cand, &base, DRAWS, SEED).unwrap();
        assert!((iv.diff - 0.04).abs() < 1e-12, "{iv:?}");
        assert!(
            (iv.lo - 0.04).abs() < 1e-12 && (iv.hi - 0.04).abs() < 1e-12,
            "{iv:?}"
        );
        assert!(iv.wins());

        // The same mean gain of +.04 from +22 / −18 hits alternating over users:
        // the interval must straddle 0 — a higher figure that is not a win.
        let noisy: Vec<(f64, f64)> = base
            .iter()
            .enumerate()
            .map(|(u, &(h, w))| (h + if u % 2 == 0 { 22.0 } else { -18.0 }, w))
            .collect();
        let iv = paired(&noisy, &base, DRAWS, SEED).unwrap();
        assert!((iv.diff - 0.04).abs() < 1e-12, "{iv:?}");
        assert!(iv.lo < 0.0 && iv.hi > 0.04, "{iv:?}");
        assert!(!iv.wins());
        // Swapped: the loss is the mirror image in expectation.
        let back = paired(&base, &noisy, DRAWS, SEED).unwrap();
        assert!((back.diff + 0.04).abs() < 1e-12);
        // Seeded: same inputs, same interval.
        assert_eq!(paired(&noisy, &base, DRAWS, SEED), Some(iv));
        assert_eq!(paired(&noisy, &base[..3], DRAWS, SEED), None);
    }

    #[test]
    fn pairing_removes_the_users_own_variance() {
        // Users differ wildly in how many hits they have, but the candidate is always one hit
        // better: an unpaired comparison would be swamped, the paired one is not.
        let base: Vec<(f64, f64)> = (0..50)
            .map(|u| (if u % 2 == 0 { 0.0 } else { 90.0 }, 100.0))
            .collect();
        let cand: Vec<(f64, f64)> = base.iter().map(|&(h, w)| (h + 1.0, w)).collect();
        let iv = paired(&cand, &base, DRAWS, 3).unwrap();
        assert!(iv.wins() && (iv.lo - 0.01).abs() < 1e-12, "{iv:?}");
    }
}
