//! Robustness steps applied to a daily series before any model is fitted (by `select`):
//! spikes are clipped to a robust band (centred 7-day rolling median + weekday median offset
//! ± k·1.4826·MAD of the residuals, that scale floored at half the median week-on-week
//! change), and a level shift is detected (the split of the
//! deseasonalised series into two constant segments whose L1 cost beats both one constant
//! and a straight line, with a jump of at least `min_jump` robust standard deviations); the
//! history before the break is moved to the new level (`BreakMode::Adjust`) or dropped
//! (`BreakMode::Refit`, only when ≥ 4 weeks follow the break).

use super::models::M;

/// What to do about a detected level shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakMode {
    Off,
    /// Shift the data before the break by the difference of the segment medians.
    Adjust,
    /// Fit on the data after the break (needs ≥ 28 days after it; else as `Adjust`).
    Refit,
}

/// Robustness settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Robust {
    /// Clip at this many robust standard deviations (`None`: no clipping).
    pub clip_k: Option<f64>,
    pub breaks: BreakMode,
    /// Smallest jump, in robust standard deviations of the daily noise, that counts as a break.
    pub min_jump: f64,
}

impl Default for Robust {
    fn default() -> Self {
        Robust {
            clip_k: Some(3.5),
            breaks: BreakMode::Adjust,
            min_jump: 2.0,
        }
    }
}

/// A series after the robustness steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Cleaned {
    pub values: Vec<f64>,
    /// Days clipped.
    pub clipped: usize,
    /// Index of the first day after a detected level shift (in the input's indexing).
    pub break_at: Option<usize>,
    /// Days dropped from the front (`BreakMode::Refit`).
    pub dropped: usize,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Centred rolling median (window 7, shortened at the ends) and weekday offsets (medians of
/// the detrended values per weekday, centred): the robust "expected" value of each day.
fn robust_fit(y: &[f64]) -> (Vec<f64>, [f64; M]) {
    let n = y.len();
    let mut buf = Vec::with_capacity(M);
    let base: Vec<f64> = (0..n)
        .map(|t| {
            // A full week, moved inward at the ends.
            let lo = t.saturating_sub(3).min(n.saturating_sub(M));
            buf.clear();
            buf.extend_from_slice(&y[lo..(lo + M).min(n)]);
            median(&mut buf)
        })
        .collect();
    let mut season = [0.0; M];
    for (d, s) in season.iter_mut().enumerate() {
        let mut r: Vec<f64> = (d..n).step_by(M).map(|t| y[t] - base[t]).collect();
        *s = median(&mut r);
    }
    let mean = season.iter().sum::<f64>() / M as f64;
    for s in &mut season {
        *s -= mean;
    }
    (base, season)
}

/// Robust standard deviation (1.4826·MAD) of `v`.
fn robust_sd(v: &[f64]) -> f64 {
    let mut c = v.to_vec();
    let med = median(&mut c);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    1.4826 * median(&mut dev)
}

/// Clip days further than `k` robust standard deviations from their expected value.
/// Returns the clipped series and how many days changed.
pub fn clip_spikes(y: &[f64], k: f64) -> (Vec<f64>, usize) {
    if y.len() < 2 * M {
        return (y.to_vec(), 0);
    }
    let (base, season) = robust_fit(y);
    let resid: Vec<f64> = (0..y.len())
        .map(|t| y[t] - base[t] - season[t % M])
        .collect();
    // Floor: half the median week-on-week change, so a near-exact series (a trend the
    // rolling median lags at the ends) is not clipped for the median's own bias.
    let mut wow: Vec<f64> = (M..y.len()).map(|t| (y[t] - y[t - M]).abs()).collect();
    let sd = robust_sd(&resid).max(0.5 * median(&mut wow));
    if sd <= 0.0 {
        return (y.to_vec(), 0);
    }
    let mut n = 0;
    let out = (0..y.len())
        .map(|t| {
            let e = base[t] + season[t % M];
            let (lo, hi) = (e - k * sd, e + k * sd);
            if y[t] > hi || y[t] < lo {
                n += 1;
                y[t].clamp(lo, hi)
            } else {
                y[t]
            }
        })
        .collect();
    (out, n)
}

/// A detected level shift: the first day of the new level and the jump (new − old).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Break {
    pub at: usize,
    pub jump: f64,
}

/// Find the strongest level shift in the last 365 days with ≥ 7 days after it and ≥ 14
/// before it (see the module doc). `None` if there is none.
pub fn level_break(y: &[f64], min_jump: f64) -> Option<Break> {
    let n = y.len();
    if n < 3 * M {
        return None;
    }
    let (_, season) = robust_fit(y);
    let d: Vec<f64> = (0..n).map(|t| y[t] - season[t % M]).collect();
    // Daily noise: robust sd of the deseasonalised first differences / √2.
    let diffs: Vec<f64> = d.windows(2).map(|w| w[1] - w[0]).collect();
    let noise = robust_sd(&diffs) / std::f64::consts::SQRT_2;
    if noise <= 0.0 {
        return None;
    }
    let from = n.saturating_sub(365);
    let seg = &d[from..];
    let l1 = |v: &[f64]| -> (f64, f64) {
        let mut c = v.to_vec();
        let m = median(&mut c);
        (m, v.iter().map(|x| (x - m).abs()).sum())
    };
    let (_, one) = l1(seg);
    // Least-squares line, scored in L1.
    let k = seg.len() as f64;
    let tm = (k - 1.0) / 2.0;
    let ym = seg.iter().sum::<f64>() / k;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (t, v) in seg.iter().enumerate() {
        sxy += (t as f64 - tm) * (v - ym);
        sxx += (t as f64 - tm).powi(2);
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let line: f64 = seg
        .iter()
        .enumerate()
        .map(|(t, v)| (v - ym - slope * (t as f64 - tm)).abs())
        .sum();
    let mut best: Option<(f64, Break)> = None;
    for b in 2 * M..seg.len().saturating_sub(M - 1) {
        let (m0, c0) = l1(&seg[..b]);
        let (m1, c1) = l1(&seg[b..]);
        let cost = c0 + c1;
        if best.as_ref().is_none_or(|(c, _)| cost < *c) {
            best = Some((
                cost,
                Break {
                    at: from + b,
                    jump: m1 - m0,
                },
            ));
        }
    }
    let (cost, br) = best?;
    (br.jump.abs() >= min_jump * noise && cost < 0.9 * one && cost < 0.9 * line).then_some(br)
}

/// Apply the robustness steps to `y`.
pub fn clean(y: &[f64], r: &Robust) -> Cleaned {
    let (mut values, clipped) = match r.clip_k {
        Some(k) => clip_spikes(y, k),
        None => (y.to_vec(), 0),
    };
    let mut out = Cleaned {
        values: Vec::new(),
        clipped,
        break_at: None,
        dropped: 0,
    };
    if r.breaks != BreakMode::Off {
        if let Some(b) = level_break(&values, r.min_jump) {
            out.break_at = Some(b.at);
            if r.breaks == BreakMode::Refit && values.len() - b.at >= 4 * M {
                // Keep the weekday alignment: drop whole weeks only.
                let drop = b.at - b.at % M;
                let drop = if drop < b.at { drop + M } else { drop };
                let drop = drop.min(values.len() - 3 * M);
                values.drain(..drop);
                out.dropped = drop;
            } else {
                for v in &mut values[..b.at] {
                    *v = (*v + b.jump).max(0.0);
                }
            }
        }
    }
    out.values = values;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(n: usize, level: f64) -> Vec<f64> {
        let pat = [0.0, 5.0, 10.0, 5.0, 0.0, -10.0, -10.0];
        // A deterministic wiggle as noise.
        (0..n)
            .map(|t| level + pat[t % M] + ((t * 37 % 11) as f64 - 5.0))
            .collect()
    }

    #[test]
    fn clips_a_spike_and_leaves_the_rest() {
        let mut y = weekly(70, 100.0);
        y[40] += 500.0;
        let (c, n) = clip_spikes(&y, 3.5);
        assert!((1..=7).contains(&n), "{n}");
        assert!(c[40] < 150.0, "{}", c[40]);
        // The wiggle is bounded, not Gaussian: a few ordinary days may touch the band, but
        // only the spike moves by much.
        for t in (0..70).filter(|&t| t != 40) {
            assert!((c[t] - y[t]).abs() < 10.0, "{t}: {} vs {}", c[t], y[t]);
        }
    }

    #[test]
    fn finds_a_level_shift_but_not_a_trend() {
        let mut y = weekly(120, 100.0);
        for v in &mut y[90..] {
            *v += 60.0;
        }
        let b = level_break(&y, 2.0).expect("a break");
        assert!((88..=92).contains(&b.at), "{b:?}");
        assert!((b.jump - 60.0).abs() < 10.0, "{b:?}");
        let trend: Vec<f64> = weekly(120, 100.0)
            .iter()
            .enumerate()
            .map(|(t, v)| v + t as f64)
            .collect();
        assert_eq!(level_break(&trend, 2.0), None);
        assert_eq!(level_break(&weekly(120, 100.0), 2.0), None);
    }

    #[test]
    fn refit_drops_whole_weeks_before_the_break() {
        let mut y = weekly(120, 100.0);
        for v in &mut y[60..] {
            *v += 80.0;
        }
        let r = Robust {
            breaks: BreakMode::Refit,
            ..Default::default()
        };
        let c = clean(&y, &r);
        assert_eq!(c.dropped % M, 0);
        assert!(c.dropped >= 60 && c.dropped < 67, "{c:?}");
        assert_eq!(c.values.len(), 120 - c.dropped);
    }
}
