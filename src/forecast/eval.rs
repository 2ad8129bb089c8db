//! Rolling-origin backtest: for each series, `windows` origins a week apart ending `h` days
//! before the last observation; at each origin every model is refitted on the data up to it,
//! forecasts `h` days with conformal intervals calibrated only on that training part, and is
//! scored on the next `h` days. MASE is scaled by the in-sample seasonal-naive (m = 7) MAE of
//! the training part; sMAPE in percent (0 when actual and forecast are both 0).

use super::{models, Series};
use rayon::prelude::*;
use serde::Serialize;

/// Aggregated metrics of one model at one horizon (mean over series × windows).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    pub model: String,
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
    let scale: f64 = (7..o).map(|t| (train[t] - train[t - 7]).abs()).sum::<f64>() / (o - 7) as f64;
    if scale <= 0.0 {
        return None;
    }
    let (m, _) = models::fit(name, train);
    let fc = models::forecast_with_intervals(m.as_ref(), train, h, 365);
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
            let n = folds.len().max(1) as f64;
            let mean = |f: &dyn Fn(&FoldScore) -> f64| folds.iter().map(f).sum::<f64>() / n;
            rows.push(Row {
                model: name.into(),
                h,
                folds: folds.len(),
                mase: mean(&|f| f.mase),
                smape: mean(&|f| f.smape),
                cov80: mean(&|f| f.cov80),
                width80: mean(&|f| f.w80),
                cov95: mean(&|f| f.cov95),
                width95: mean(&|f| f.w95),
            });
        }
    }
    rows
}

/// Plain-text table.
pub fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<9} {:>3} {:>5} {:>7} {:>7} {:>6} {:>8} {:>6} {:>8}\n",
        "model", "h", "folds", "MASE", "sMAPE", "cov80", "width80", "cov95", "width95"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<9} {:>3} {:>5} {:>7.3} {:>7.2} {:>6.3} {:>8.2} {:>6.3} {:>8.2}\n",
            r.model, r.h, r.folds, r.mase, r.smape, r.cov80, r.width80, r.cov95, r.width95
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
