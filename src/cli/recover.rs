//! `weft recover [JOURNAL…]`: journals left by a crash → MIDI files.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct RecoverArgs {
    /// Journal files (`*.weftjournal`); default: those in recordings/.
    pub journals: Vec<PathBuf>,
}

/// Recovers each journal; returns how many were dealt with (recovered, or left alone because
/// their recording is still running in another weft).
pub fn recover_all(journals: &[PathBuf]) -> usize {
    use crate::record::RecordError;
    let mut n = 0;
    for j in journals {
        match crate::record::recover(j) {
            Ok((f, jc)) => {
                eprintln!(
                    "recovered {} notes from {} into {}{}",
                    f.notes,
                    j.display(),
                    f.path.display(),
                    if jc.cut > 0 {
                        format!(
                            " ({} damaged stretches, {} bytes, skipped)",
                            jc.cut, jc.skipped_bytes
                        )
                    } else {
                        String::new()
                    }
                );
                n += 1;
            }
            Err(e @ (RecordError::InUse { .. } | RecordError::Gone { .. })) => {
                eprintln!("weft: {e}");
                n += 1;
            }
            // Every RecordError names its file already.
            Err(e) => eprintln!("weft: cannot recover {e}"),
        }
    }
    n
}

pub fn run(a: RecoverArgs) -> anyhow::Result<ExitCode> {
    let journals = if a.journals.is_empty() {
        crate::record::find_journals(std::path::Path::new("recordings"))
    } else {
        a.journals
    };
    if journals.is_empty() {
        eprintln!("no journals to recover");
        return Ok(ExitCode::SUCCESS);
    }
    let ok = recover_all(&journals);
    Ok(if ok == journals.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
