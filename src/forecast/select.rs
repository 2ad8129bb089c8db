//! Model choice by rolling-origin validation on the series itself (not AICc). At each of up
//! to `origins` validation origins a week apart (the last one `h` days before the end), the
//! history up to the origin goes through the robustness steps (`robust::clean`), every
//! candidate is fitted on it and forecasts `h` days; each is scored by MASE against the raw
//! following days (scale: the seasonal-naive MAE of the raw history). The candidate with the
//! lowest mean MASE is refitted on the whole cleaned series. Its intervals come from the same
//! validation errors: per step j, empirical quantiles of the scaled signed errors of steps
//! j−3..=j+3 (pooled over origins), multiplied by the full series' scale, widened if need
//! be to hold the point forecast.
//!
//! Candidates: seasonal naive, the ETS variants, ETS by AICc, Theta, and the M4 "comb"
//! benchmark's idea with a weekly season: mean and median of ETS (by AICc), Theta and
//! seasonal naive.

use super::models::{self, Ets, Fitted, Trend, M};
use super::robust::{self, Robust};

/// Candidate names, in the order ties are broken (simplest first).
/// `theta-m` (multiplicative weekly season) and `comb-et` (mean of `ets-auto` and `theta`,
/// without seasonal naive) came later and are appended, so the older indices stay.
pub const CANDIDATES: [&str; 10] = [
    "snaive",
    "ets-ana",
    "ets-aaa",
    "ets-aada",
    "ets-auto",
    "theta",
    "comb-mean",
    "comb-median",
    "theta-m",
    "comb-et",
];

/// Index of `comb-median`, the default when nothing can be validated.
const COMB_MEDIAN: usize = 7;

/// Validation settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    pub robust: Robust,
    /// Validation origins (a week apart).
    pub origins: usize,
    /// Shortest history a validation origin may have.
    pub min_train: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            robust: Robust::default(),
            origins: 20,
            min_train: 28,
        }
    }
}

/// A point forecast with 80 % and 95 % bounds: (mean, lo80, hi80, lo95, hi95).
pub type Step = (f64, f64, f64, f64, f64);

/// One candidate's validation result and final forecast.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub name: String,
    /// Mean validation MASE (∞ without a usable origin).
    pub mase: f64,
    pub forecast: Vec<Step>,
}

/// The outcome of [`choose`].
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// Index into `candidates` of the winner.
    pub best: usize,
    pub candidates: Vec<Scored>,
    /// Validation origins used.
    pub folds: usize,
    pub cleaned: robust::Cleaned,
}

impl Choice {
    pub fn chosen(&self) -> &Scored {
        &self.candidates[self.best]
    }

    /// e.g. `comb-median (rolling MASE 0.71 at h=28, 10 origins; 2 spikes clipped)`.
    pub fn why(&self, h: usize) -> String {
        let c = self.chosen();
        let mut s = if self.folds > 0 {
            format!(
                "{} (rolling MASE {:.2} at h={h}, {} origins",
                c.name, c.mase, self.folds
            )
        } else {
            format!("{} (too little history to validate", c.name)
        };
        if self.cleaned.clipped > 0 {
            s.push_str(&format!("; {} spikes clipped", self.cleaned.clipped));
        }
        if self.cleaned.break_at.is_some() {
            s.push_str("; level shift adjusted");
        }
        s.push(')');
        s
    }
}

/// Forecasts of every candidate from `train` for `h` steps, in [`CANDIDATES`] order.
pub fn candidate_paths(train: &[f64], h: usize) -> Vec<Vec<f64>> {
    let n = train.len();
    let path = |name: &str| models::fit(name, train).0.forecast(h);
    let sn = path("snaive");
    if n < 3 * M {
        // models::fit falls back to seasonal naive / the mean for every model.
        return vec![sn; CANDIDATES.len()];
    }
    let ets = [Trend::None, Trend::Additive, Trend::Damped].map(|t| Ets::fit(train, t));
    let auto = ets
        .iter()
        .min_by(|a, b| a.aicc().total_cmp(&b.aicc()))
        .map(|e| e.forecast(h))
        .unwrap_or_else(|| sn.clone());
    let theta = models::Theta::fit(train).forecast(h);
    let mean: Vec<f64> = (0..h).map(|j| (sn[j] + auto[j] + theta[j]) / 3.0).collect();
    let med: Vec<f64> = (0..h)
        .map(|j| {
            let mut v = [sn[j], auto[j], theta[j]];
            v.sort_by(|a, b| a.total_cmp(b));
            v[1]
        })
        .collect();
    let theta_m = models::Theta::fit_season(train, true).forecast(h);
    let et: Vec<f64> = (0..h).map(|j| (auto[j] + theta[j]) / 2.0).collect();
    let [ana, aaa, aada] = ets.map(|e| e.forecast(h));
    vec![sn, ana, aaa, aada, auto, theta, mean, med, theta_m, et]
}

/// In-sample seasonal-naive MAE (the MASE scale); 0 if undefined.
pub fn snaive_scale(y: &[f64]) -> f64 {
    if y.len() <= M {
        return 0.0;
    }
    (M..y.len()).map(|t| (y[t] - y[t - M]).abs()).sum::<f64>() / (y.len() - M) as f64
}

/// Empirical quantile (linear interpolation) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let p = q * (sorted.len() - 1) as f64;
    let (i, f) = (p.floor() as usize, p - p.floor());
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + f * (sorted[j] - sorted[i])
}

/// Validation origins for a series of length `n` (oldest first).
pub fn validation_origins(n: usize, h: usize, origins: usize, min_train: usize) -> Vec<usize> {
    (0..origins)
        .rev()
        .filter_map(|k| n.checked_sub(h + M * k))
        .filter(|&o| o >= min_train)
        .collect()
}

/// Choose a model for `y` at horizon `h` and forecast with it (see the module doc).
pub fn choose(y: &[f64], h: usize, opt: &Options) -> Choice {
    let h = h.max(1);
    let origins = validation_origins(y.len(), h, opt.origins, opt.min_train);
    let k = CANDIDATES.len();
    // errs[c][o][j]: scaled signed error of candidate c at origin o, step j.
    let mut errs: Vec<Vec<Vec<f64>>> = vec![Vec::new(); k];
    let mut mase: Vec<Vec<f64>> = vec![Vec::new(); k];
    for &o in &origins {
        let scale = snaive_scale(&y[..o]);
        if scale <= 0.0 {
            continue;
        }
        let c = robust::clean(&y[..o], &opt.robust);
        let paths = candidate_paths(&c.values, h);
        for (ci, p) in paths.iter().enumerate() {
            let e: Vec<f64> = (0..h).map(|j| (y[o + j] - p[j]) / scale).collect();
            mase[ci].push(e.iter().map(|x| x.abs()).sum::<f64>() / h as f64);
            errs[ci].push(e);
        }
    }
    let folds = mase[0].len();
    let cleaned = robust::clean(y, &opt.robust);
    let finals = candidate_paths(&cleaned.values, h);
    let scale = snaive_scale(y);
    let candidates: Vec<Scored> = (0..k)
        .map(|ci| {
            let m = if folds == 0 {
                f64::INFINITY
            } else {
                mase[ci].iter().sum::<f64>() / folds as f64
            };
            let forecast = (0..h)
                .map(|j| {
                    let f = finals[ci][j];
                    let mut pool: Vec<f64> = errs[ci]
                        .iter()
                        .flat_map(|e| e[j.saturating_sub(3)..(j + 4).min(h)].iter().copied())
                        .collect();
                    if pool.len() < 10 {
                        // Few origins: every step's errors, else the in-sample week-on-week
                        // changes (a seasonal-naive-sized interval).
                        pool = errs[ci].iter().flatten().copied().collect();
                        if pool.len() < 10 && scale > 0.0 {
                            pool = (M..y.len()).map(|t| (y[t] - y[t - M]) / scale).collect();
                        }
                    }
                    if pool.len() < 10 || scale <= 0.0 {
                        // As the conformal intervals do: unbounded when uncalibrated.
                        return (f, 0.0, f64::INFINITY, 0.0, f64::INFINITY);
                    }
                    pool.sort_by(|a, b| a.total_cmp(b));
                    // Lower quantiles ≤ 0 ≤ upper ones: the interval holds the forecast.
                    let q = |p: f64| {
                        let v = quantile(&pool, p) * scale;
                        if p < 0.5 {
                            v.min(0.0)
                        } else {
                            v.max(0.0)
                        }
                    };
                    (
                        f,
                        (f + q(0.1)).max(0.0),
                        f + q(0.9),
                        (f + q(0.025)).max(0.0),
                        f + q(0.975),
                    )
                })
                .collect();
            Scored {
                name: CANDIDATES[ci].into(),
                mase: m,
                forecast,
            }
        })
        .collect();
    let best = if folds == 0 {
        // Nothing to validate on: the median combination is the safest default.
        COMB_MEDIAN
    } else {
        (0..k)
            .min_by(|&a, &b| candidates[a].mase.total_cmp(&candidates[b].mase))
            .unwrap_or(0)
    };
    Choice {
        best,
        candidates,
        folds,
        cleaned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.0);
        assert_eq!(quantile(&v, 0.1), 0.4);
        assert_eq!(quantile(&v, 1.0), 4.0);
    }

    #[test]
    fn validation_origins_end_h_before_and_respect_min_train() {
        assert_eq!(validation_origins(100, 28, 3, 28), vec![58, 65, 72]);
        assert_eq!(validation_origins(60, 28, 3, 28), vec![32]);
    }

    #[test]
    fn combinations_are_mean_and_median_of_their_parts() {
        let y: Vec<f64> = (0..60)
            .map(|t| 50.0 + (t % 7) as f64 * 3.0 + (t * 13 % 5) as f64)
            .collect();
        let p = candidate_paths(&y, 5);
        let rows: Vec<[f64; 5]> = (0..5)
            .map(|j| [p[0][j], p[4][j], p[5][j], p[6][j], p[7][j]])
            .collect();
        for [sn, ets, theta, mean, med] in rows {
            assert!((mean - (sn + ets + theta) / 3.0).abs() < 1e-9);
            let mut s = [sn, ets, theta];
            s.sort_by(|a, b| a.total_cmp(b));
            assert_eq!(med, s[1]);
        }
    }
}
