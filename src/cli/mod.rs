//! The command-line edge: one file per command, `anyhow` errors. `main.rs` only parses the
//! arguments ([`Cli`]) and calls [`main`]; each command's logic lives in the library stages and
//! is wired here.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod analyze;
pub mod forecast;
pub mod logs;
pub mod play;
pub mod recommend;
pub mod recover;
pub mod render;
pub mod train;

#[derive(Parser, Debug)]
#[command(
    name = "weft",
    version,
    about = "A live-coding music instrument for the terminal"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compile and dry-run patches (4 bars); print errors as file:line:col: message.
    Check(render::CheckArgs),
    /// Render patches headlessly to a Standard MIDI File, faster than real time.
    Render(render::RenderArgs),
    /// Play the patches in DIR live; hot-reloads every save at its quantize point.
    Play(play::PlayArgs),
    /// Turn journals left by a crash into MIDI files (default: every journal in recordings/).
    Recover(recover::RecoverArgs),
    /// List audio output devices (for --device).
    Devices(crate::sound::output::DevicesArgs),
    #[command(flatten)]
    Listening(logs::ListeningCommand),
    /// Features of a WAV file with the live analyzer's code (or --similar DIR FILE).
    Analyze(analyze::AnalyzeArgs),
    /// Train the note LSTM on a folder of MIDI files (or evaluate it with --eval-only).
    Train(train::TrainArgs),
}

/// Parse the command line and run the command; errors are printed as `weft: …` (with their
/// causes) and give a failing exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => play::run(play::DefaultPlay::parse_from(["weft"]).play),
        Some(Command::Check(a)) => render::check(a),
        Some(Command::Render(a)) => render::run(a),
        Some(Command::Play(a)) => play::run(a),
        Some(Command::Recover(a)) => recover::run(a),
        Some(Command::Devices(a)) => crate::sound::output::run_devices(a)
            .map(|_| ExitCode::SUCCESS)
            .map_err(Into::into),
        Some(Command::Listening(c)) => logs::run(c).map(|_| ExitCode::SUCCESS),
        Some(Command::Analyze(a)) => analyze::run(&a)
            .map(|_| ExitCode::SUCCESS)
            .map_err(Into::into),
        Some(Command::Train(a)) => {
            // candle and rayon's pool size themselves from this variable when they first
            // run; nothing has started yet, so setting it here is race-free.
            std::env::set_var("RAYON_NUM_THREADS", a.threads.max(1).to_string());
            train::run(&a)
                .map(|_| ExitCode::SUCCESS)
                .map_err(Into::into)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("weft: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every option and argument of every command says what it is in `--help`.
    #[test]
    fn every_option_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for s in cmd.get_subcommands() {
                walk(s, &format!("{path} {}", s.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "weft", &mut missing);
        assert!(missing.is_empty(), "options without help: {missing:?}");
    }
}
