//! Rolling-origin backtest: for each series, `windows` origins a week apart ending `h` days
//! before the last observation; at each origin every model is refitted on the data up to it,
//! forecasts `h` days with conformal intervals calibrated only on that training part, and is
//! scored on the next `h` days. MASE is scaled by the in-sample seasonal-naive (m = 7) MAE of
//! the training part; sMAPE in percent (0 when actual and forecast are both 0).
//!
//! [`backtest_selected`] runs the validation-chosen forecaster (`select::choose`, itself
//! validating only on the data before each fold's origin) at every fold and scores the chosen
//! model, every candidate it weighed, and ablations without a robustness step;
//! [`score_peer`] scores a peer's per-fold forecasts (a CSV written by
//! `benches/peers/logs/statsforecast_folds.py`) with the same code.

use super::select::{self, Options, Step};
use super::{models, Series};
use rayon::prelude::*;
use serde::Serialize;

/// Aggregated metrics of one model at one horizon (mean over series × windows).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    pub model: String,
    /// `baseline`, `candidate`, `chosen`, `ablation` or `peer`.
    pub kind: String,
    pub h: usize,
    pub folds: usize,
    pub mase: f64,
    pub smape: f64,
    pub cov80: f64,
    pub width80: f64,
    pub cov95: f64,
    pub width95: f64,
}

/// Fold origins for a series of length `n`: `windows` origins, a week apart, the last one `h`
/// days before the end; origins before `min_train` are dropped.
pub fn origins(n: usize, h: usize, windows: usize, min_train: usize) -> Vec<usize> {
    (0..windows)
        .rev()
        .filter_map(|w| n.checked_sub(h + 7 * w))
        .filter(|&o| o >= min_train)
        .collect()
}

#[derive(Clone)]
struct FoldScore {
    mase: f64,
    smape: f64,
    cov80: f64,
    w80: f64,
    cov95: f64,
    w95: f64,
}

fn score_fold(name: &str, y: &[f64], o: usize, h: usize) -> Option<FoldScore> {
    let train = &y[..o];
    let (m, _) = models::fit(name, train);
    let fc = models::forecast_with_intervals(m.as_ref(), train, h, 365);
    score_path(y, o, h, &fc)
}

/// Score a forecast made at origin `o` against `y[o..o + h]` (None if the scale is 0 or the
/// forecast is short).
fn score_path(y: &[f64], o: usize, h: usize, fc: &[Step]) -> Option<FoldScore> {
    let scale = select::snaive_scale(&y[..o]);
    if scale <= 0.0 || fc.len() < h || o + h > y.len() {
        return None;
    }
    let (mut ae, mut sm, mut c80, mut c95, mut w80, mut w95) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for j in 0..h {
        let a = y[o + j];
        let (f, l80, h80, l95, h95) = fc[j];
        ae += (a - f).abs();
        let den = a.abs() + f.abs();
        sm += if den > 0.0 {
            200.0 * (a - f).abs() / den
        } else {
            0.0
        };
        // A missing bound (NaN) never covers.
        c80 += f64::from(a >= l80 && a <= h80);
        c95 += f64::from(a >= l95 && a <= h95);
        w80 += h80 - l80;
        w95 += h95 - l95;
    }
    let hf = h as f64;
    Some(FoldScore {
        mase: ae / hf / scale,
        smape: sm / hf,
        cov80: c80 / hf,
        w80: w80 / hf,
        cov95: c95 / hf,
        w95: w95 / hf,
    })
}

/// Backtest every model at every horizon over all series.
pub fn backtest(series: &[Series], names: &[&str], horizons: &[usize], windows: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for &h in horizons {
        for &name in names {
            let folds: Vec<FoldScore> = series
                .par_iter()
                .flat_map_iter(|s| {
                    origins(s.values.len(), h, windows, 28)
                        .into_iter()
                        .filter_map(|o| score_fold(name, &s.values, o, h))
                        .collect::<Vec<_>>()
                })
                .collect();
            let kind = if name == "snaive" {
                "baseline"
            } else {
                "candidate"
            };
            rows.push(aggregate(name, kind, h, &folds));
        }
    }
    rows
}

fn aggregate(name: &str, kind: &str, h: usize, folds: &[FoldScore]) -> Row {
    let n = folds.len().max(1) as f64;
    let mean = |f: &dyn Fn(&FoldScore) -> f64| folds.iter().map(f).sum::<f64>() / n;
    Row {
        model: name.into(),
        kind: kind.into(),
        h,
        folds: folds.len(),
        mase: mean(&|f| f.mase),
        smape: mean(&|f| f.smape),
        cov80: mean(&|f| f.cov80),
        width80: mean(&|f| f.w80),
        cov95: mean(&|f| f.cov95),
        width95: mean(&|f| f.w95),
    }
}

/// Per horizon, how often each candidate was chosen (most often first).
pub type Picks = (usize, Vec<(String, usize)>);

/// The validation-chosen forecaster's variants scored by [`backtest_selected`]: `auto` (the
/// default robustness steps) and ablations.
pub fn variants() -> Vec<(&'static str, Options)> {
    use super::robust::BreakMode;
    let d = Options::default();
    let with = |f: &dyn Fn(&mut Options)| {
        let mut o = d;
        f(&mut o);
        o
    };
    vec![
        ("auto", d),
        ("auto-noclip", with(&|o| o.robust.clip_k = None)),
        ("auto-nobreak", with(&|o| o.robust.breaks = BreakMode::Off)),
        ("auto-refit", with(&|o| o.robust.breaks = BreakMode::Refit)),
        ("auto-argmin", with(&|o| o.se_rule = 0.0)),
        ("auto-full", with(&|o| o.partial = false)),
        ("auto-top3", with(&|o| o.combine = 3)),
    ]
}

/// Backtest the validation-chosen forecaster: for each variant (the first is the one shipped,
/// kind `chosen`; the rest `ablation`) and each fold, `select::choose` on the data before the
/// origin; the first variant's candidates are scored too (kind `candidate`). Also returns, per
/// horizon, how often each candidate was chosen by the first variant.
pub fn backtest_selected(
    series: &[Series],
    variants: &[(&str, Options)],
    horizons: &[usize],
    windows: usize,
) -> (Vec<Row>, Vec<Picks>) {
    let mut rows = Vec::new();
    let mut picks = Vec::new();
    for &h in horizons {
        let jobs: Vec<(usize, usize)> = series
            .iter()
            .enumerate()
            .flat_map(|(k, s)| {
                origins(s.values.len(), h, windows, 28)
                    .into_iter()
                    .map(move |o| (k, o))
            })
            .collect();
        // Per job: per variant the chosen score, plus the first variant's candidates.
        type JobOut = (Vec<Option<FoldScore>>, Vec<Option<FoldScore>>, String);
        let outs: Vec<JobOut> = jobs
            .par_iter()
            .map(|&(k, o)| {
                let y = &series[k].values;
                let mut chosen = Vec::new();
                let mut cands = Vec::new();
                let mut pick = String::new();
                for (vi, (_, opt)) in variants.iter().enumerate() {
                    let c = select::choose(&y[..o], h, opt);
                    chosen.push(score_path(y, o, h, &c.chosen().forecast));
                    if vi == 0 {
                        pick = c.chosen().name.clone();
                        cands = c
                            .candidates
                            .iter()
                            .map(|s| score_path(y, o, h, &s.forecast))
                            .collect();
                    }
                }
                (chosen, cands, pick)
            })
            .collect();
        for (vi, (name, _)) in variants.iter().enumerate() {
            let f: Vec<FoldScore> = outs.iter().filter_map(|o| o.0[vi].clone()).collect();
            let kind = if vi == 0 { "chosen" } else { "ablation" };
            rows.push(aggregate(name, kind, h, &f));
        }
        for (ci, name) in select::CANDIDATES.iter().enumerate() {
            let f: Vec<FoldScore> = outs
                .iter()
                .filter_map(|o| o.1.get(ci).cloned().flatten())
                .collect();
            rows.push(aggregate(name, "candidate", h, &f));
        }
        let mut count: std::collections::BTreeMap<String, usize> = Default::default();
        for o in &outs {
            *count.entry(o.2.clone()).or_insert(0) += 1;
        }
        let mut count: Vec<(String, usize)> = count.into_iter().collect();
        count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        picks.push((h, count));
    }
    (rows, picks)
}

/// A peer's forecasts per fold: `model,series,h,origin,step,mean,lo80,hi80,lo95,hi95`
/// (series = index into the series list, step from 0).
#[derive(Clone, Debug, PartialEq)]
pub struct PeerFold {
    pub model: String,
    pub series: usize,
    pub h: usize,
    pub origin: usize,
    pub steps: Vec<Step>,
}

/// Errors reading a peer CSV.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("peer forecasts line {0}: {1}")]
    Parse(usize, String),
}

/// Parse a peer CSV (header line first).
pub fn read_peer(text: &str) -> Result<Vec<PeerFold>, PeerError> {
    let mut out: Vec<PeerFold> = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 10 {
            return Err(PeerError::Parse(
                i + 1,
                format!("{} fields, want 10", f.len()),
            ));
        }
        let int = |k: usize| {
            f[k].parse::<usize>()
                .map_err(|e| PeerError::Parse(i + 1, format!("field {k}: {e}")))
        };
        let num = |k: usize| {
            f[k].parse::<f64>()
                .map_err(|e| PeerError::Parse(i + 1, format!("field {k}: {e}")))
        };
        let (series, h, origin, step) = (int(1)?, int(2)?, int(3)?, int(4)?);
        let v = (num(5)?, num(6)?, num(7)?, num(8)?, num(9)?);
        let same = out.last().is_some_and(|p| {
            p.model == f[0] && p.series == series && p.h == h && p.origin == origin
        });
        if !same {
            out.push(PeerFold {
                model: f[0].into(),
                series,
                h,
                origin,
                steps: Vec::new(),
            });
        }
        let p = out.last_mut().expect("pushed above");
        if step != p.steps.len() {
            return Err(PeerError::Parse(i + 1, format!("step {step} out of order")));
        }
        p.steps.push(v);
    }
    Ok(out)
}

/// Score a peer's folds that match this backtest's folds (same series, horizon and origin);
/// one row per (model, horizon) in `horizons`.
pub fn score_peer(
    series: &[Series],
    peer: &[PeerFold],
    horizons: &[usize],
    windows: usize,
) -> Vec<Row> {
    let mut models: Vec<&str> = Vec::new();
    for p in peer {
        if !models.contains(&p.model.as_str()) {
            models.push(&p.model);
        }
    }
    let mut rows = Vec::new();
    for &h in horizons {
        for &m in &models {
            let f: Vec<FoldScore> = peer
                .iter()
                .filter(|p| p.model == m && p.h == h)
                .filter(|p| {
                    series.get(p.series).is_some_and(|s| {
                        origins(s.values.len(), h, windows, 28).contains(&p.origin)
                    })
                })
                .filter_map(|p| score_path(&series[p.series].values, p.origin, h, &p.steps))
                .collect();
            if !f.is_empty() {
                rows.push(aggregate(m, "peer", h, &f));
            }
        }
    }
    rows
}

/// Plain-text table.
pub fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<13} {:<9} {:>3} {:>5} {:>7} {:>7} {:>6} {:>8} {:>6} {:>8}\n",
        "model", "kind", "h", "folds", "MASE", "sMAPE", "cov80", "width80", "cov95", "width95"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<13} {:<9} {:>3} {:>5} {:>7.3} {:>7.2} {:>6.3} {:>8.2} {:>6.3} {:>8.2}\n",
            r.model, r.kind, r.h, r.folds, r.mase, r.smape, r.cov80, r.width80, r.cov95, r.width95
        ));
    }
    s
}

/// Write series and fold origins for the peer script: `series.csv` (series,t,y) and
/// `folds.csv` (series,h,origin).
pub fn dump(
    series: &[Series],
    horizons: &[usize],
    windows: usize,
    dir: &std::path::Path,
) -> std::io::Result<()> {
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir)?;
    let mut s = String::from("series,t,y\n");
    let mut f = String::from("series,h,origin\n");
    for (k, se) in series.iter().enumerate() {
        for (t, v) in se.values.iter().enumerate() {
            let _ = writeln!(s, "{k},{t},{v}");
        }
        for &h in horizons {
            for o in origins(se.values.len(), h, windows, 28) {
                let _ = writeln!(f, "{k},{h},{o}");
            }
        }
    }
    std::fs::write(dir.join("series.csv"), s)?;
    std::fs::write(dir.join("folds.csv"), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_weekly_and_end_h_before() {
        assert_eq!(origins(100, 7, 3, 28), vec![79, 86, 93]);
        assert!(origins(40, 14, 8, 28).is_empty());
    }
}
