//! Paired bootstrap over users of a difference in pooled `period` HR@10 (issue #20: a "win"
//! means the 95 % interval of candidate − baseline lies above 0, not just a higher figure).
//!
//! Both rankings were scored on the same cases (one per user), so each case carries, for each
//! model, `(hits, plays)`: the user's test plays whose item is in that model's top 10, and all
//! the user's test plays. A draw resamples the cases with replacement and recomputes both
//! pooled ratios Σhits / Σplays on the same resample (that is what makes it paired: the users'
//! own variance — who plays a lot, who plays favourites — cancels). Percentile interval over
//! the draws; the resampling uses a fixed-seed SplitMix64, so the figures are reproducible.

use crate::rng::SplitMix;

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

/// A candidate configuration gated on validation: the best one is used only when its paired
/// interval over the baseline (recency) lies above 0; otherwise the plain configuration
/// (which is the baseline itself). Shared by `own-runs` and `rotation`.
#[derive(Clone, Debug, PartialEq)]
pub struct Gated<C> {
    /// The configuration used (`plain` when the best one was not a win).
    pub config: C,
    /// The best configuration on validation and its HR@10 there.
    pub best: C,
    pub best_hr10: f64,
    /// Paired bootstrap over validation users: best − baseline (`None`: nothing to validate).
    pub interval: Option<Interval>,
}

/// The gate: `best` = (HR@10, configuration, per-case hits) of the best candidate, `base` =
/// the baseline's (HR@10, per-case hits) on the same cases.
pub fn gate<C: Clone>(
    best: (f64, C, Vec<(f64, f64)>),
    base: &(f64, Vec<(f64, f64)>),
    plain: C,
) -> Gated<C> {
    let interval = paired(&best.2, &base.1, DRAWS, SEED);
    Gated {
        config: if interval.is_some_and(|i| i.wins()) {
            best.1.clone()
        } else {
            plain
        },
        best: best.1,
        best_hr10: best.0,
        interval,
    }
}

pub(crate) fn pooled(v: &[(f64, f64)]) -> f64 {
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
    // The bare generator seeded directly: `below(n)` = ⌊next_f64 · n⌋.
    let mut rng = SplitMix(seed);
    let mut diffs = Vec::with_capacity(draws);
    for _ in 0..draws {
        let (mut hc, mut hb, mut w) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let k = ((rng.next_f64() * n as f64) as usize).min(n - 1);
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
