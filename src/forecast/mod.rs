//! Stage: forecast. [`Logs`] → daily series (plays per day in total, per artist or per track;
//! or the streams of a `date,streams` CSV), zero-filled between the first and last day →
//! by default `auto`: spikes clipped and level shifts adjusted (`robust`), the model chosen by
//! rolling-origin validation on the series itself (`select`), intervals from the same
//! validation errors; or a named model from `models` with conformal intervals. `eval` backtests; [`for_pane`] returns
//! the plain [`ForecastView`] the TUI pane draws (called on a background worker).

pub mod eval;
pub mod models;
pub mod robust;
pub mod select;

use crate::logs::{self, time, Logs, PlayRule};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error(transparent)]
    Logs(#[from] logs::LogError),
    #[error("no daily series in the logs (no plays and no date,streams CSV)")]
    NoSeries,
    #[error("unknown model {0:?} (known: {1})")]
    UnknownModel(String, String),
}

/// Which series to build from plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum By {
    #[default]
    Total,
    Artist,
    Track,
}

impl std::str::FromStr for By {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "total" => Ok(By::Total),
            "artist" => Ok(By::Artist),
            "track" => Ok(By::Track),
            o => Err(format!("unknown grouping {o:?} (total|artist|track)")),
        }
    }
}

/// A daily series starting at `start_day` (days since 1970-01-01).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub start_day: i64,
    pub values: Vec<f64>,
    pub note: Option<String>,
}

fn daily_counts(name: String, days: impl Iterator<Item = i64>) -> Option<Series> {
    let mut d: Vec<i64> = days.collect();
    if d.is_empty() {
        return None;
    }
    d.sort_unstable();
    let (lo, hi) = (d[0], d[d.len() - 1]);
    let mut values = vec![0.0; (hi - lo + 1) as usize];
    for x in d {
        values[(x - lo) as usize] += 1.0;
    }
    Some(Series {
        name,
        start_day: lo,
        values,
        note: None,
    })
}

/// Build series from logs: `Total` gives all plays per day plus every daily CSV; `Artist` /
/// `Track` give the `top` most played. Missing CSV days are filled from a week earlier (noted).
pub fn series(logs: &Logs, by: By, top: usize) -> Vec<Series> {
    let day = |ts: i64| ts.div_euclid(86400);
    let mut out = Vec::new();
    match by {
        By::Total => {
            out.extend(daily_counts(
                "plays/day (all)".into(),
                logs.plays.iter().map(|p| day(p.ts)),
            ));
            for d in &logs.daily {
                let (Some(first), Some(last)) = (d.points.first(), d.points.last()) else {
                    continue;
                };
                let mut values = vec![f64::NAN; (last.0 - first.0 + 1) as usize];
                for &(dd, v) in &d.points {
                    values[(dd - first.0) as usize] = v;
                }
                let mut missing = 0;
                for t in 0..values.len() {
                    if values[t].is_nan() {
                        missing += 1;
                        values[t] = if t >= 7 {
                            values[t - 7]
                        } else if t > 0 {
                            values[t - 1]
                        } else {
                            0.0
                        };
                    }
                }
                out.push(Series {
                    name: format!("streams: {}", d.name),
                    start_day: first.0,
                    values,
                    note: (missing > 0)
                        .then(|| format!("{missing} missing days filled from a week earlier")),
                });
            }
        }
        By::Artist | By::Track => {
            let key = |p: &logs::Play| match by {
                By::Artist => logs.items[p.item as usize].artist,
                _ => p.item,
            };
            let mut counts: logs::FxMap<u32, usize> = Default::default();
            for p in &logs.plays {
                *counts.entry(key(p)).or_insert(0) += 1;
            }
            let mut keys: Vec<(u32, usize)> = counts.into_iter().collect();
            keys.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            for (k, _) in keys.into_iter().take(top) {
                let name = match by {
                    By::Artist => logs.artists.name(k).to_string(),
                    _ => {
                        let (t, a) = logs.item_label(k);
                        format!("{a} – {t}")
                    }
                };
                out.extend(daily_counts(
                    name,
                    logs.plays.iter().filter(|p| key(p) == k).map(|p| day(p.ts)),
                ));
            }
        }
    }
    out
}

/// Plain data the forecast pane renders.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ForecastView {
    pub series_name: String,
    pub history: Vec<DayValue>,
    pub forecast: Vec<DayForecast>,
    pub model: String,
    pub note: Option<String>,
}

/// One day of history: its date (`YYYY-MM-DD`) and value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DayValue {
    pub date: String,
    pub value: f64,
}

/// One forecast day: the date, the point forecast and its 80 % and 95 % intervals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DayForecast {
    pub date: String,
    pub mean: f64,
    pub lo80: f64,
    pub hi80: f64,
    pub lo95: f64,
    pub hi95: f64,
}

/// Forecast one series `horizon` days ahead with the named model.
pub fn forecast_series(
    s: &Series,
    model: &str,
    horizon: usize,
    history_days: usize,
) -> Result<ForecastView, ForecastError> {
    let n = s.values.len();
    let (fc, name, fallback) = if model == "auto" {
        let c = select::choose(&s.values, horizon, &select::Options::default());
        let why = c.why(horizon);
        (c.candidates[c.best].forecast.clone(), why, None)
    } else if models::NAMES.contains(&model) {
        let (m, fallback) = models::fit(model, &s.values);
        let fc = models::forecast_with_intervals(m.as_ref(), &s.values, horizon, 365);
        (fc, m.name(), fallback)
    } else {
        return Err(ForecastError::UnknownModel(
            model.into(),
            format!("auto, {}", models::NAMES.join(", ")),
        ));
    };
    let from = n.saturating_sub(history_days);
    let mut notes: Vec<String> = s.note.iter().cloned().chain(fallback).collect();
    if fc.iter().any(|f| !f.4.is_finite()) {
        notes.push("too little history for calibrated intervals".into());
    }
    Ok(ForecastView {
        series_name: s.name.clone(),
        history: (from..n)
            .map(|t| DayValue {
                date: time::date_string(s.start_day + t as i64),
                value: s.values[t],
            })
            .collect(),
        forecast: fc
            .iter()
            .enumerate()
            .map(|(j, f)| DayForecast {
                date: time::date_string(s.start_day + (n + j) as i64),
                mean: f.0,
                lo80: f.1,
                hi80: f.2,
                lo95: f.3,
                hi95: f.4,
            })
            .collect(),
        model: name,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

/// What the TUI's background worker calls: total plays per day, 28 days ahead, the model
/// chosen by rolling-origin validation (`auto`).
pub fn for_pane(logs: &Path) -> Result<ForecastView, ForecastError> {
    let l = logs::load(logs, PlayRule::default())?;
    let s = series(&l, By::Total, 1);
    let first = s.first().ok_or(ForecastError::NoSeries)?;
    forecast_series(first, "auto", 28, 84)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_fills_days_without_plays() {
        let s = daily_counts("x".into(), [10, 10, 13].into_iter()).unwrap();
        assert_eq!(s.start_day, 10);
        assert_eq!(s.values, vec![2.0, 0.0, 0.0, 1.0]);
    }
}
