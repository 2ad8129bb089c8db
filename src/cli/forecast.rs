//! `weft forecast`: daily plays or streams forecast by the model rolling-origin validation
//! chooses, or (`--eval`) the backtest table against the baselines and peers.

use super::logs::LoadArgs;
use crate::forecast::{self, By};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ForecastArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// What to forecast: total plays per day, or per artist / per track (the top ones).
    #[arg(long, default_value = "total")]
    pub by: By,
    /// Days ahead, 1..=3650.
    #[arg(long, default_value_t = 28, value_parser = crate::bounds::in_range::<1, 3650>)]
    pub horizon: usize,
    /// auto (chosen by rolling-origin validation) | snaive | ets-ana | ets-aaa | ets-aada |
    /// ets-auto | theta
    #[arg(long, default_value = "auto")]
    pub model: String,
    /// With --by artist|track: how many series (1..=10000).
    #[arg(long, default_value_t = 10, value_parser = crate::bounds::in_range::<1, 10000>)]
    pub top: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Rolling-origin backtest (h = 7, 14 and 28) instead of forecasting.
    #[arg(long)]
    pub eval: bool,
    /// Rolling origins for --eval, 1..=1000.
    #[arg(long, default_value_t = 8, value_parser = crate::bounds::in_range::<1, 1000>)]
    pub windows: usize,
    /// With --eval: write series and folds for benches/peers.
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// With --eval: a peer's per-fold forecasts (benches/peers/logs/statsforecast_folds.py
    /// writes them), scored as rows of kind `peer`. Repeatable.
    #[arg(long)]
    pub peer: Vec<PathBuf>,
}

pub fn run_forecast(a: ForecastArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let logs = a.load.load()?;
    let series = forecast::series(&logs, a.by, a.top);
    if series.is_empty() {
        return Err(forecast::ForecastError::NoSeries.into());
    }
    if a.eval {
        let horizons = [7, 14, 28];
        if let Some(d) = &a.dump {
            forecast::eval::dump(&series, &horizons, a.windows, d)?;
        }
        let mut rows = forecast::eval::backtest(&series, &["snaive"], &horizons, a.windows);
        let (sel, picks) = forecast::eval::backtest_selected(
            &series,
            &forecast::eval::variants(),
            &horizons,
            a.windows,
        );
        rows.extend(sel);
        for p in &a.peer {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("reading peer forecasts {}: {e}", p.display()))?;
            let folds = forecast::eval::read_peer(&text)?;
            rows.extend(forecast::eval::score_peer(
                &series, &folds, &horizons, a.windows,
            ));
        }
        rows.sort_by_key(|r| r.h);
        if a.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        } else {
            writeln!(
                out,
                "rolling-origin backtest: {} series, {} windows a week apart",
                series.len(),
                a.windows
            )?;
            write!(out, "{}", forecast::eval::table(&rows))?;
            for h in horizons {
                let at = |k: &'static str| rows.iter().filter(move |r| r.h == h && r.kind == k);
                let Some(c) = at("chosen").next() else {
                    continue;
                };
                let (beats, not): (Vec<&forecast::eval::Row>, Vec<&forecast::eval::Row>) =
                    at("baseline")
                        .chain(at("peer"))
                        .partition(|r| c.mase < r.mase);
                let list = |v: &[&forecast::eval::Row]| {
                    v.iter()
                        .map(|r| format!("{} {:.3}", r.model, r.mase))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let picked = picks
                    .iter()
                    .find(|p| p.0 == h)
                    .map(|p| {
                        p.1.iter()
                            .map(|(m, n)| format!("{m} ×{n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                writeln!(
                    out,
                    "h={h}: chosen MASE {:.3}, 80% coverage {:.3} (picked {picked}); beats: {}; does not beat: {}",
                    c.mase,
                    c.cov80,
                    if beats.is_empty() { "-".into() } else { list(&beats) },
                    if not.is_empty() { "-".into() } else { list(&not) },
                )?;
            }
        }
        return Ok(());
    }
    let views = series
        .iter()
        .map(|s| forecast::forecast_series(s, &a.model, a.horizon, 28))
        .collect::<Result<Vec<_>, _>>()?;
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&views)?)?;
    } else {
        for v in &views {
            writeln!(out, "{} — {}", v.series_name, v.model)?;
            writeln!(out, "  date        mean     80%              95%")?;
            for f in &v.forecast {
                writeln!(
                    out,
                    "  {}  {:>7.1}  [{:>6.1}, {:>6.1}]  [{:>6.1}, {:>6.1}]",
                    f.date, f.mean, f.lo80, f.hi80, f.lo95, f.hi95
                )?;
            }
            if let Some(n) = &v.note {
                writeln!(out, "  note: {n}")?;
            }
        }
    }
    Ok(())
}
