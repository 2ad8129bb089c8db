//! Command-line edge of the listening-log stages: `weft recommend`, `weft forecast`,
//! `weft logs synth`, `weft logs check`. Parses arguments (clap), loads logs, calls the
//! library and prints tables or JSON. `cli::Cli` flattens [`ListeningCommand`] into its subcommands.

use crate::forecast::{self, By};
use crate::logs::{load, synth, PlayRule};
use crate::recommend::{self, eval as reval, Mode};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

/// How the logs are read.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// A log file or a folder of exports (zips included).
    #[arg(long)]
    pub logs: PathBuf,
    /// Minimum milliseconds played for a row to count as a play.
    #[arg(long, default_value_t = 30_000)]
    pub min_ms: u64,
    /// Count rows marked skipped as plays.
    #[arg(long)]
    pub keep_skipped: bool,
}

impl LoadArgs {
    fn load(&self) -> anyhow::Result<crate::logs::Logs> {
        let logs = load(
            &self.logs,
            PlayRule {
                min_ms: self.min_ms,
                drop_skipped: !self.keep_skipped,
            },
        )?;
        // stderr may be a closed pipe too; the report is not worth a panic.
        let _ = write!(std::io::stderr(), "{}", logs.report);
        Ok(logs)
    }
}

#[derive(Args, Debug)]
pub struct RecommendArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Whose recommendations (a user name as in the logs; default: the most active user).
    /// Not with --eval, which evaluates every user.
    #[arg(long, conflicts_with = "eval")]
    pub user: Option<String>,
    /// next (continue the session) | period ("for you": what you will play next weeks,
    /// replays included) | discover (only unheard items)
    #[arg(long, default_value = "period")]
    pub mode: Mode,
    /// How many recommendations to list.
    #[arg(short = 'n', default_value_t = 20, conflicts_with = "eval")]
    pub n: usize,
    /// popularity | most-played | recency | sknn | item-knn | markov | als | sigmoid | content |
    /// hybrid. Default: the one that wins the mode's validation on your last 4 weeks.
    #[arg(long)]
    pub model: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Offline evaluation on a temporal split instead of recommending.
    #[arg(long)]
    pub eval: bool,
    /// With --eval: write the split for benches/peers (train.csv, cases).
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// With --eval: at most this many `next` test cases.
    #[arg(long, default_value_t = 5000)]
    pub max_cases: usize,
    /// With --eval: a peer's top-20 lists on the same split (benches/peers/logs/implicit_topn.py
    /// writes them); scored as rows named after the file stem. Repeatable.
    #[arg(long)]
    pub peer: Vec<PathBuf>,
}

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

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// How many listeners to simulate.
    #[arg(long, default_value_t = 10)]
    pub users: usize,
    /// How many days of listening (from 1 March 2025, so a seed always writes the same files).
    #[arg(long, default_value_t = 180)]
    pub days: i64,
    /// Seed: the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder for the generated exports (the real export formats).
    #[arg(short = 'o', long)]
    pub out: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum LogsCommand {
    /// Write synthetic multi-user logs in the real export formats.
    Synth(SynthArgs),
    /// Load logs and print what was read (formats, rows, bad lines).
    Check(LoadArgs),
}

/// The subcommands this module adds to `weft`.
#[derive(Subcommand, Debug)]
pub enum ListeningCommand {
    /// Recommendations from listening logs (`--eval`: offline evaluation).
    Recommend(RecommendArgs),
    /// Forecast plays or streams per day (`--eval`: rolling backtest).
    Forecast(ForecastArgs),
    /// Listening-log tools.
    #[command(subcommand)]
    Logs(LogsCommand),
}

/// Run one of this module's commands, printing to stdout. A closed stdout (`weft forecast
/// … | head`) ends the command quietly, as it ends `cat`.
pub fn run(cmd: ListeningCommand) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    quiet_on_closed_pipe(run_to(cmd, &mut out).and_then(|_| Ok(out.flush()?)))
}

/// `Ok` for a result whose error is a write to a closed pipe, else `r` itself.
pub fn quiet_on_closed_pipe(r: anyhow::Result<()>) -> anyhow::Result<()> {
    match r {
        Err(e) if is_closed_pipe(&e) => Ok(()),
        r => r,
    }
}

/// True when `e` (or a cause of it) is a write to a pipe whose reader has gone.
pub fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Run one of this module's commands, writing its output to `out`.
pub fn run_to(cmd: ListeningCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match cmd {
        ListeningCommand::Recommend(a) => run_recommend(a, out),
        ListeningCommand::Forecast(a) => run_forecast(a, out),
        ListeningCommand::Logs(LogsCommand::Synth(a)) => run_synth(a, out),
        ListeningCommand::Logs(LogsCommand::Check(a)) => {
            let logs = a.load()?;
            for (f, fmt, rows) in &logs.report.files {
                // Formats and counts in aligned columns (the format's Display does not pad).
                writeln!(out, "{:<18} {rows:>8} rows  {f}", fmt.to_string())?;
            }
            writeln!(
                out,
                "{} users, {} artists, {} items, {} music plays, {} episode plays, {} daily series",
                logs.users.len(),
                logs.artists.len(),
                logs.items.len(),
                logs.plays.len(),
                logs.episodes.len(),
                logs.daily.len()
            )?;
            Ok(())
        }
    }
}

pub fn run_recommend(a: RecommendArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let logs = a.load.load()?;
    if a.eval {
        let split = reval::split(&logs, 0.8, a.max_cases);
        if let Some(d) = &a.dump {
            reval::dump(&split, d)?;
        }
        let names: Vec<&str> = match &a.model {
            Some(m) => vec![m.as_str()],
            None => recommend::models::NAMES.to_vec(),
        };
        let tuning = recommend::hybrid::tune(&split.train);
        let mut rows = reval::evaluate(&split, &names, &tuning);
        for p in &a.peer {
            let name = p
                .file_stem()
                .map_or("peer".into(), |s| s.to_string_lossy().into_owned());
            let lists = reval::PeerLists::read(p, &name)?;
            rows.extend(lists.rows(&split));
        }
        rows.sort_by_key(|r| Mode::ALL.iter().position(|m| m.to_string() == r.mode));
        if a.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        } else {
            writeln!(
                out,
                "temporal split at {} — train {} plays, test {} plays, catalogue {} items",
                crate::logs::time::iso_string(split.cutoff),
                split.train_events.len(),
                split.test_events.len(),
                split.train.pop.iter().filter(|&&p| p > 0.0).count()
            )?;
            let users = tuning.user_mix.iter().filter(|m| m.is_some()).count();
            writeln!(
                out,
                "validation (train's last 20%): recency {} (period HR@10 {:.4}); hybrid new items \
                 by {}, mix {} ({users} users with their own), period HR@10 {:.4}",
                tuning.half_life_label(),
                tuning.recency_hr10,
                tuning.collab,
                tuning.mix,
                tuning.hybrid_hr10
            )?;
            write!(out, "{}", reval::table(&rows))?;
            for v in reval::verdicts(&rows) {
                writeln!(out, "{v}")?;
            }
        }
        return Ok(());
    }
    let v = recommend::recommend(&logs, a.user.as_deref(), a.mode, a.n, a.model.as_deref())?;
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(out, "{} for {}", v.mode, v.user)?;
        match &v.chosen_by {
            Some(w) => writeln!(out, "model: {} ({w})", v.model)?,
            None if a.model.is_some() => writeln!(out, "model: {} (named with --model)", v.model)?,
            None => writeln!(out, "model: {} (default, not validated)", v.model)?,
        }
        for (k, it) in v.items.iter().enumerate() {
            writeln!(
                out,
                "{:>3}. {} – {}  [{:.3}]  because {}",
                k + 1,
                it.artist,
                it.title,
                it.score,
                it.because
            )?;
        }
        if let Some(n) = &v.note {
            writeln!(out, "note: {n}")?;
        }
    }
    Ok(())
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

pub fn run_synth(a: SynthArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let cfg = synth::SynthConfig {
        users: a.users,
        days: a.days,
        seed: a.seed,
        ..Default::default()
    };
    let n = synth::write(&cfg, &a.out)?;
    writeln!(
        out,
        "wrote {n} generated plays for {} users over {} days to {}",
        a.users,
        a.days,
        a.out.display()
    )?;
    Ok(())
}
