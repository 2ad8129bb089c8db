//! The `weft` binary: command-line parsing and the error edge (anyhow). Every command's
//! logic lives in the library; this file only wires arguments to it.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "weft", version, about = "A live-coding music instrument for the terminal")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Features of a WAV recording (or, with --similar, files that sound like it)
    Analyze(weft::analysis::cli::AnalyzeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        None => Ok(()),
        Some(Command::Analyze(args)) => weft::analysis::cli::run(&args).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weft: {e:#}");
            ExitCode::FAILURE
        }
    }
}
