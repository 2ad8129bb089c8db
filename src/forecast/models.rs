//! Forecasting models for daily series with weekly seasonality (m = 7): seasonal naive
//! (baseline), additive Holt-Winters / ETS(A,N,A), ETS(A,A,A) and damped ETS(A,Ad,A) fitted by
//! least squares (Nelder–Mead on the one-step SSE), automatic choice among them by AICc, and
//! the Theta method (SES with half the linear drift on the seasonally adjusted series).
//! Every fitted model can replay the forecast it would have made from any past origin with
//! its fitted parameters; those rolling-origin errors calibrate conformal intervals.

/// Season length (days in a week).
pub const M: usize = 7;

/// Model names accepted by [`fit`].
pub const NAMES: [&str; 8] = [
    "snaive", "ets-ana", "ets-aaa", "ets-aada", "ets-auto", "theta", "theta-m", "ets-log",
];

/// A fitted model.
pub trait Fitted: Send + Sync {
    /// Name, e.g. `ets-aada` (for `ets-auto`, the variant chosen).
    fn name(&self) -> String;
    /// Forecast made at origin `t` (having seen `y[..t]`) for steps `t..t+h`.
    fn path_from(&self, t: usize, h: usize) -> Vec<f64>;
    /// Earliest origin from which `path_from` is meaningful.
    fn first_origin(&self) -> usize;
    /// Number of observations fitted.
    fn n(&self) -> usize;
    /// Forecast after the last observation.
    fn forecast(&self, h: usize) -> Vec<f64> {
        self.path_from(self.n(), h)
    }
}

/// Seasonal naive: the value one week earlier.
pub struct SeasonalNaive {
    y: Vec<f64>,
}

impl Fitted for SeasonalNaive {
    fn name(&self) -> String {
        "snaive".into()
    }
    fn path_from(&self, t: usize, h: usize) -> Vec<f64> {
        if t == 0 {
            return vec![0.0; h];
        }
        let m = M.min(t);
        (0..h).map(|j| self.y[t - m + (j % m)]).collect()
    }
    fn first_origin(&self) -> usize {
        M
    }
    fn n(&self) -> usize {
        self.y.len()
    }
}

/// ETS variant (all with additive error and additive weekly season).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trend {
    None,
    Additive,
    Damped,
}

/// Fitted additive Holt-Winters with stored filtered states.
pub struct Ets {
    pub trend: Trend,
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub phi: f64,
    pub sse: f64,
    /// (level, slope, seasonals) after each observation; `states[t]` has seen `y[..t]`.
    states: Vec<(f64, f64, [f64; M])>,
    n: usize,
}

fn init_state(y: &[f64], trend: Trend) -> (f64, f64, [f64; M]) {
    let m1: f64 = y[..M].iter().sum::<f64>() / M as f64;
    let b = if trend != Trend::None && y.len() >= 2 * M {
        (y[M..2 * M].iter().sum::<f64>() / M as f64 - m1) / M as f64
    } else {
        0.0
    };
    // Seasonals: each weekday's deviation from its week's mean, averaged over up to the first
    // four whole weeks (one noisy week would otherwise set the pattern for good when γ is
    // small), leaving the last week for the filter.
    let weeks = (y.len() / M).saturating_sub(1).clamp(1, 4);
    let mut s = [0.0; M];
    for w in 0..weeks {
        let wk = &y[w * M..(w + 1) * M];
        let mean = wk.iter().sum::<f64>() / M as f64;
        for j in 0..M {
            s[j] += (wk[j] - mean) / weeks as f64;
        }
    }
    // Level at the end of the first season, so filtering starts at t = M.
    (m1 + b * (M as f64 - 1.0) / 2.0, b, s)
}

/// Filter `y` with given parameters; returns SSE of one-step errors and the states.
fn ets_filter(
    y: &[f64],
    trend: Trend,
    p: [f64; 4],
    keep: bool,
) -> (f64, Vec<(f64, f64, [f64; M])>) {
    let [alpha, beta, gamma, phi] = p;
    let phi = if trend == Trend::Damped { phi } else { 1.0 };
    let (mut l, mut b, mut s) = init_state(y, trend);
    let mut states = Vec::new();
    if keep {
        states = vec![(l, b, s); M + 1];
    }
    let mut sse = 0.0;
    for (t, &yt) in y.iter().enumerate().skip(M) {
        let bt = if trend == Trend::None { 0.0 } else { phi * b };
        let si = s[t % M];
        let e = yt - (l + bt + si);
        sse += e * e;
        l = l + bt + alpha * e;
        if trend != Trend::None {
            b = bt + beta * e;
        }
        s[t % M] = si + gamma * e;
        if keep {
            states.push((l, b, s));
        }
    }
    (sse, states)
}

fn sigm(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Map unconstrained parameters to (α, β ≤ α, γ ≤ 1 − α, φ ∈ [0.8, 0.98]).
fn to_params(u: &[f64]) -> [f64; 4] {
    let alpha = 0.001 + 0.998 * sigm(u[0]);
    let beta = alpha * sigm(u[1]);
    let gamma = (1.0 - alpha) * sigm(u[2]);
    let phi = 0.8 + 0.18 * sigm(u[3]);
    [alpha, beta, gamma, phi]
}

/// Nelder–Mead minimiser (standard coefficients).
pub fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, x0: &[f64], step: f64, iters: usize) -> Vec<f64> {
    let n = x0.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = (0..=n)
        .map(|i| {
            let mut x = x0.to_vec();
            if i > 0 {
                x[i - 1] += step;
            }
            let fx = f(&x);
            (x, fx)
        })
        .collect();
    for _ in 0..iters {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        if (simplex[n].1 - simplex[0].1).abs() <= 1e-10 * (1.0 + simplex[0].1.abs()) {
            break;
        }
        let c: Vec<f64> = (0..n)
            .map(|k| simplex[..n].iter().map(|p| p.0[k]).sum::<f64>() / n as f64)
            .collect();
        let at = |t: f64| -> Vec<f64> {
            (0..n)
                .map(|k| c[k] + t * (simplex[n].0[k] - c[k]))
                .collect()
        };
        let xr = at(-1.0);
        let fr = f(&xr);
        if fr < simplex[0].1 {
            let xe = at(-2.0);
            let fe = f(&xe);
            simplex[n] = if fe < fr { (xe, fe) } else { (xr, fr) };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (xr, fr);
        } else {
            let xc = if fr < simplex[n].1 { at(-0.5) } else { at(0.5) };
            let fc = f(&xc);
            if fc < fr.min(simplex[n].1) {
                simplex[n] = (xc, fc);
            } else {
                let best = simplex[0].0.clone();
                for p in simplex.iter_mut().skip(1) {
                    for (v, b) in p.0.iter_mut().zip(&best) {
                        *v = b + 0.5 * (*v - b);
                    }
                    p.1 = f(&p.0);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0).0
}

impl Ets {
    /// Fit by least squares on the one-step errors. Needs `y.len() >= 2 * M`.
    pub fn fit(y: &[f64], trend: Trend) -> Ets {
        let obj = |u: &[f64]| ets_filter(y, trend, to_params(u), false).0;
        let u = nelder_mead(&obj, &[-1.0, -2.0, -2.0, 1.0], 1.0, 300);
        Self::with_params(y, trend, to_params(&u))
    }

    /// Filter with fixed parameters `[α, β, γ, φ]`.
    pub fn with_params(y: &[f64], trend: Trend, p: [f64; 4]) -> Ets {
        let (sse, states) = ets_filter(y, trend, p, true);
        Ets {
            trend,
            alpha: p[0],
            beta: p[1],
            gamma: p[2],
            phi: if trend == Trend::Damped { p[3] } else { 1.0 },
            sse,
            states,
            n: y.len(),
        }
    }

    /// AICc of the least-squares fit (Gaussian likelihood), counting smoothing parameters
    /// and initial states.
    pub fn aicc(&self) -> f64 {
        let n = (self.n - M) as f64;
        let k = match self.trend {
            Trend::None => 2.0 + 1.0 + M as f64,
            Trend::Additive => 3.0 + 2.0 + M as f64,
            Trend::Damped => 4.0 + 2.0 + M as f64,
        } + 1.0;
        let sigma2 = (self.sse / n).max(1e-12);
        let aic = n * sigma2.ln() + 2.0 * k;
        if n - k - 1.0 > 0.0 {
            aic + 2.0 * k * (k + 1.0) / (n - k - 1.0)
        } else {
            f64::INFINITY
        }
    }
}

impl Fitted for Ets {
    fn name(&self) -> String {
        match self.trend {
            Trend::None => "ets-ana",
            Trend::Additive => "ets-aaa",
            Trend::Damped => "ets-aada",
        }
        .into()
    }
    fn path_from(&self, t: usize, h: usize) -> Vec<f64> {
        let t = t.clamp(M, self.n);
        let (l, b, s) = self.states[t];
        let mut damp = 0.0;
        let mut pw = 1.0;
        (1..=h)
            .map(|j| {
                pw *= self.phi;
                damp += pw;
                let tr = match self.trend {
                    Trend::None => 0.0,
                    Trend::Additive => j as f64 * b,
                    Trend::Damped => damp * b,
                };
                l + tr + s[(t + j - 1) % M]
            })
            .collect()
    }
    fn first_origin(&self) -> usize {
        2 * M
    }
    fn n(&self) -> usize {
        self.n
    }
}

/// Theta method (Assimakopoulos & Nikolopoulos 2000, as in Hyndman & Billah 2003): additive
/// weekly seasonal adjustment, SES on the adjusted series plus half the regression slope.
pub struct Theta {
    alpha: f64,
    slope: f64,
    season: [f64; M],
    /// Multiplicative seasonal indices (`theta-m`): forecasts are multiplied by them.
    mult: bool,
    levels: Vec<f64>,
    n: usize,
}

impl Theta {
    /// Additive weekly adjustment (`theta`).
    pub fn fit(y: &[f64]) -> Theta {
        Theta::fit_season(y, false)
    }

    /// With `mult`, classical multiplicative decomposition (ratios to the centred 7-day moving
    /// average, as statsforecast's AutoTheta does when the season is significant) — `theta-m`.
    /// Falls back to additive indices when a moving average is not positive.
    pub fn fit_season(y: &[f64], mult: bool) -> Theta {
        let n = y.len();
        let mas: Vec<(usize, f64)> = (3..n.saturating_sub(3))
            .map(|t| (t, y[t - 3..=t + 3].iter().sum::<f64>() / 7.0))
            .collect();
        let mult = mult && !mas.is_empty() && mas.iter().all(|&(_, ma)| ma > 0.0);
        let mut sum = [0.0; M];
        let mut cnt = [0.0; M];
        for &(t, ma) in &mas {
            sum[t % M] += if mult { y[t] / ma } else { y[t] - ma };
            cnt[t % M] += 1.0;
        }
        let neutral = if mult { 1.0 } else { 0.0 };
        let mut season = [neutral; M];
        for j in 0..M {
            if cnt[j] > 0.0 {
                season[j] = sum[j] / cnt[j];
            }
        }
        let mean_s = season.iter().sum::<f64>() / M as f64;
        for s in &mut season {
            if mult {
                *s /= mean_s;
            } else {
                *s -= mean_s;
            }
        }
        let x: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(t, v)| {
                if mult {
                    v / season[t % M]
                } else {
                    v - season[t % M]
                }
            })
            .collect();
        let tm = (n as f64 - 1.0) / 2.0;
        let xm = x.iter().sum::<f64>() / n as f64;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (t, v) in x.iter().enumerate() {
            sxy += (t as f64 - tm) * (v - xm);
            sxx += (t as f64 - tm).powi(2);
        }
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let ses = |a: f64, keep: &mut Option<Vec<f64>>| -> f64 {
            // Start from the first week's mean, not one noisy day (small α keeps it long).
            let mut l = x[..x.len().min(M)].iter().sum::<f64>() / x.len().min(M) as f64;
            let mut sse = 0.0;
            if let Some(v) = keep.as_mut() {
                v.push(l);
                v.push(l);
            }
            for &v in &x[1..] {
                let e = v - l;
                sse += e * e;
                l += a * e;
                if let Some(k) = keep.as_mut() {
                    k.push(l);
                }
            }
            sse
        };
        let u = nelder_mead(
            &|u: &[f64]| ses(0.001 + 0.998 * sigm(u[0]), &mut None),
            &[0.0],
            1.0,
            100,
        );
        let alpha = 0.001 + 0.998 * sigm(u[0]);
        let mut levels = Some(Vec::new());
        ses(alpha, &mut levels);
        Theta {
            alpha,
            slope,
            season,
            mult,
            levels: levels.unwrap_or_default(),
            n,
        }
    }
}

impl Fitted for Theta {
    fn name(&self) -> String {
        if self.mult { "theta-m" } else { "theta" }.into()
    }
    fn path_from(&self, t: usize, h: usize) -> Vec<f64> {
        let t = t.clamp(1, self.n);
        let l = self.levels[t];
        let a = self.alpha;
        let decay = (1.0 - a).powi(t as i32);
        (1..=h)
            .map(|j| {
                let x = l + 0.5 * self.slope * (j as f64 - 1.0 + 1.0 / a - decay / a);
                let s = self.season[(t + j - 1) % M];
                if self.mult {
                    x * s
                } else {
                    x + s
                }
            })
            .collect()
    }
    fn first_origin(&self) -> usize {
        2 * M
    }
    fn n(&self) -> usize {
        self.n
    }
}

/// A model fitted on ln(1 + y) whose forecasts are mapped back with exp(x) − 1 (floored at 0):
/// a multiplicative weekly season and errors that grow with the level, as counts have. The
/// back-transformed forecast is the median of a log-symmetric forecast distribution, which is
/// what an absolute-error metric (MASE) rewards.
pub struct Log1p<F: Fitted> {
    inner: F,
}

impl<F: Fitted> Log1p<F> {
    /// `None` when a value is negative (no log scale).
    pub fn fit(y: &[f64], fit: impl Fn(&[f64]) -> F) -> Option<Log1p<F>> {
        if y.iter().any(|v| *v < 0.0 || !v.is_finite()) {
            return None;
        }
        let z: Vec<f64> = y.iter().map(|v| v.ln_1p()).collect();
        Some(Log1p { inner: fit(&z) })
    }
}

impl<F: Fitted> Fitted for Log1p<F> {
    fn name(&self) -> String {
        match self.inner.name().as_str() {
            "ets-ana" => "ets-log".into(),
            o => format!("{o}-log"),
        }
    }
    fn path_from(&self, t: usize, h: usize) -> Vec<f64> {
        self.inner
            .path_from(t, h)
            .into_iter()
            .map(|x| x.exp_m1().max(0.0))
            .collect()
    }
    fn first_origin(&self) -> usize {
        self.inner.first_origin()
    }
    fn n(&self) -> usize {
        self.inner.n()
    }
}

/// Mean of the last values, for histories shorter than a week.
pub struct MeanModel {
    y: Vec<f64>,
}

impl Fitted for MeanModel {
    fn name(&self) -> String {
        "mean".into()
    }
    fn path_from(&self, t: usize, h: usize) -> Vec<f64> {
        let t = t.min(self.y.len());
        let m = if t == 0 {
            0.0
        } else {
            self.y[..t].iter().sum::<f64>() / t as f64
        };
        vec![m; h]
    }
    fn first_origin(&self) -> usize {
        1
    }
    fn n(&self) -> usize {
        self.y.len()
    }
}

/// Fit a model by name; short histories fall back (≥ 3 weeks for ETS/Theta, ≥ 1 week for
/// seasonal naive, else the mean) and the second value says so.
pub fn fit(name: &str, y: &[f64]) -> (Box<dyn Fitted>, Option<String>) {
    let n = y.len();
    if n < M {
        return (
            Box::new(MeanModel { y: y.to_vec() }),
            Some(format!(
                "{n} days of history: using the mean (needs ≥ {M} days)"
            )),
        );
    }
    if name != "snaive" && n < 3 * M {
        return (
            Box::new(SeasonalNaive { y: y.to_vec() }),
            Some(format!(
                "{n} days of history: {name} needs ≥ {} days, using snaive",
                3 * M
            )),
        );
    }
    let m: Box<dyn Fitted> = match name {
        "ets-ana" => Box::new(Ets::fit(y, Trend::None)),
        "ets-aaa" => Box::new(Ets::fit(y, Trend::Additive)),
        "ets-aada" => Box::new(Ets::fit(y, Trend::Damped)),
        "ets-auto" => {
            let cands = [Trend::None, Trend::Additive, Trend::Damped].map(|t| Ets::fit(y, t));
            let best = cands
                .into_iter()
                .min_by(|a, b| a.aicc().total_cmp(&b.aicc()))
                .expect("three candidates");
            Box::new(best)
        }
        "theta" => Box::new(Theta::fit(y)),
        "theta-m" => Box::new(Theta::fit_season(y, true)),
        "ets-log" => match Log1p::fit(y, |z| Ets::fit(z, Trend::None)) {
            Some(m) => Box::new(m),
            None => {
                return (
                    Box::new(Ets::fit(y, Trend::None)),
                    Some("negative values: ets-log fitted as ets-ana".into()),
                )
            }
        },
        _ => Box::new(SeasonalNaive { y: y.to_vec() }),
    };
    (m, None)
}

/// Split-conformal quantile: the ⌈(N+1)·level⌉-th smallest absolute residual (∞ if that
/// exceeds N).
pub fn conformal_quantile(abs_resid: &mut [f64], level: f64) -> f64 {
    let n = abs_resid.len();
    let k = ((n as f64 + 1.0) * level).ceil() as usize;
    if n == 0 || k > n {
        return f64::INFINITY;
    }
    abs_resid.sort_by(|a, b| a.total_cmp(b));
    abs_resid[k.max(1) - 1]
}

/// Forecast with conformal intervals: for each step j, the quantiles of |y − ŷ| over the last
/// `max_origins` rolling origins of the fitted model. Returns (mean, lo80, hi80, lo95, hi95).
pub fn forecast_with_intervals(
    m: &dyn Fitted,
    y: &[f64],
    h: usize,
    max_origins: usize,
) -> Vec<(f64, f64, f64, f64, f64)> {
    let n = y.len();
    let mean = m.forecast(h);
    let start = m.first_origin().max(n.saturating_sub(max_origins + h));
    let mut resid: Vec<Vec<f64>> = vec![Vec::new(); h];
    for t in start..n {
        let p = m.path_from(t, h.min(n - t));
        for (j, v) in p.iter().enumerate() {
            resid[j].push((y[t + j] - v).abs());
        }
    }
    let mut last = (f64::INFINITY, f64::INFINITY);
    (0..h)
        .map(|j| {
            let mut r = resid[j].clone();
            let q80 = conformal_quantile(&mut r, 0.8);
            let q95 = conformal_quantile(&mut r, 0.95);
            let (q80, q95) = if q95.is_finite() {
                last = (q80, q95);
                (q80, q95)
            } else {
                last
            };
            let f = mean[j];
            (f, (f - q80).max(0.0), f + q80, (f - q95).max(0.0), f + q95)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ets_one_step_by_hand() {
        // ETS(A,N,A) with α=0.5, γ=0 on two flat weeks then a jump: init level = mean of
        // week 1 = 10, seasonals 0; week 2 all 10 → level stays 10; y[14] = 14 → e = 4,
        // level 12; forecast for t=15 is 12.
        let mut y = vec![10.0; 14];
        y.push(14.0);
        let m = Ets::with_params(&y, Trend::None, [0.5, 0.0, 0.0, 1.0]);
        assert_eq!(m.forecast(1), vec![12.0]);
        assert!((m.sse - 16.0).abs() < 1e-12);
    }

    #[test]
    fn ets_recovers_pure_seasonality() {
        let pat = [5.0, 6.0, 7.0, 8.0, 9.0, 20.0, 15.0];
        let y: Vec<f64> = (0..70).map(|t| pat[t % 7]).collect();
        let (m, note) = fit("ets-auto", &y);
        assert!(note.is_none());
        let f = m.forecast(7);
        for (j, v) in f.iter().enumerate() {
            assert!((v - pat[(70 + j) % 7]).abs() < 1e-6, "{f:?}");
        }
    }

    #[test]
    fn ets_log_follows_a_multiplicative_season_and_stays_non_negative() {
        // A weekly pattern that scales with a level that halves: on the log scale the season
        // is additive, so ets-log follows it; forecasts are back on the original scale.
        let f = [0.2, 0.6, 1.0, 1.2, 1.4, 1.8, 0.8];
        let y: Vec<f64> = (0..84)
            .map(|t| (200.0 - 1.2 * t as f64) * f[t % 7])
            .collect();
        let (m, note) = fit("ets-log", &y);
        assert!(note.is_none());
        assert_eq!(m.name(), "ets-log");
        let p = m.forecast(7);
        assert!(p.iter().all(|v| *v >= 0.0));
        // The weekly shape survives: the biggest day is still the biggest.
        let arg = |v: &[f64]| (0..7).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
        assert_eq!((84 + arg(&p)) % 7, 5, "{p:?}");
        // Negative data has no log scale: fitted as ets-ana and said so.
        let neg: Vec<f64> = (0..30).map(|t| (t % 7) as f64 - 3.0).collect();
        let (m, note) = fit("ets-log", &neg);
        assert_eq!(m.name(), "ets-ana");
        assert!(note.unwrap().contains("negative"));
    }

    #[test]
    fn ets_initial_season_averages_the_first_weeks() {
        // Week 1 has a freak Monday; weeks 2–4 the true pattern. Averaging four weeks keeps
        // the freak at a quarter.
        let pat = [0.0, 10.0, 20.0, 10.0, 0.0, -20.0, -20.0];
        let mut y: Vec<f64> = (0..42).map(|t| 100.0 + pat[t % 7]).collect();
        y[0] += 70.0;
        let (_, _, s) = init_state(&y, Trend::None);
        let week1_only = 70.0 - 10.0; // deviation of day 0 from week 1's mean, from the freak
        assert!((s[0] - (pat[0] + week1_only / 4.0)).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn conformal_quantile_by_hand() {
        let mut r = vec![5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 8.0, 7.0, 6.0, 10.0];
        // N = 10, level 0.8 → ⌈11·0.8⌉ = 9th smallest = 9.
        assert_eq!(conformal_quantile(&mut r, 0.8), 9.0);
        // level 0.95 → ⌈10.45⌉ = 11 > N → ∞.
        assert_eq!(conformal_quantile(&mut r, 0.95), f64::INFINITY);
        assert_eq!(conformal_quantile(&mut r, 0.5), 6.0);
    }

    #[test]
    fn snaive_repeats_last_week_and_short_history_falls_back() {
        let y: Vec<f64> = (0..10).map(|t| t as f64).collect();
        let (m, note) = fit("ets-aaa", &y);
        assert!(note.unwrap().contains("using snaive"));
        assert_eq!(m.forecast(8), vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 3.0]);
        let (m, note) = fit("theta", &y[..3]);
        assert!(note.is_some());
        assert_eq!(m.forecast(2), vec![1.0, 1.0]);
    }

    #[test]
    fn nelder_mead_finds_quadratic_minimum() {
        let x = nelder_mead(
            &|x| (x[0] - 1.0).powi(2) + (x[1] + 2.0).powi(2),
            &[0.0, 0.0],
            1.0,
            500,
        );
        assert!(
            (x[0] - 1.0).abs() < 1e-3 && (x[1] + 2.0).abs() < 1e-3,
            "{x:?}"
        );
    }

    #[test]
    fn multiplicative_theta_follows_a_season_that_grows_with_the_level() {
        // Weekly pattern ×(0.6 … 1.6) on a level that doubles: the additive indices average
        // the swing over the whole history, the multiplicative ones scale with the level.
        let f = [0.6, 0.8, 0.9, 1.0, 1.1, 1.6, 1.0];
        let level = |t: usize| 100.0 + 2.0 * t as f64;
        let y: Vec<f64> = (0..84).map(|t| level(t) * f[t % 7]).collect();
        let truth: Vec<f64> = (84..98).map(|t| level(t) * f[t % 7]).collect();
        let mae = |p: Vec<f64>| -> f64 {
            p.iter()
                .zip(&truth)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                / truth.len() as f64
        };
        let m = Theta::fit_season(&y, true);
        assert_eq!(m.name(), "theta-m");
        assert!((m.season.iter().sum::<f64>() / 7.0 - 1.0).abs() < 1e-9);
        let (em, ea) = (mae(m.forecast(14)), mae(Theta::fit(&y).forecast(14)));
        assert!(em < 0.5 * ea, "theta-m MAE {em} vs theta {ea}");
        // A series with zeros has no positive moving average everywhere: additive fallback.
        let z: Vec<f64> = (0..42)
            .map(|t| if t < 10 { 0.0 } else { 5.0 + (t % 7) as f64 })
            .collect();
        assert_eq!(Theta::fit_season(&z, true).name(), "theta");
    }
}
