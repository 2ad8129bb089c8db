//! Command-line edge of the listening-log stages: `weft logs synth`, `weft logs check`, and
//! the dispatch of `weft recommend` ([`super::recommend`]) and `weft forecast`
//! ([`super::forecast`]). Parses arguments (clap), loads logs, calls the
//! library and prints tables or JSON. `cli::Cli` flattens [`ListeningCommand`] into its subcommands.

use crate::logs::{load, synth, PlayRule};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

use super::forecast::{run_forecast, ForecastArgs};
use super::recommend::{run_recommend, RecommendArgs};

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
    pub(super) fn load(&self) -> anyhow::Result<crate::logs::Logs> {
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
