//! A journal → its MIDI file: after a clean stop (by the recorder thread) and after a crash
//! (by [`recover`], which leaves a journal still locked by a live recording alone). The MIDI
//! file never replaces an existing one.

use super::journal::{parse_journal, read_journal, still_at, try_lock, JournalContents};
use super::recorder::Finished;
use super::target::{numbered, target_of, MAX_NUMBERED};
use super::{io_err, RecordError};
use crate::record::smf::SessionMidi;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Writes the SMF to the first of `names` that does not exist (never replacing a file).
fn write_fresh(
    midi: &SessionMidi,
    names: impl Iterator<Item = PathBuf>,
) -> Result<PathBuf, RecordError> {
    let mut last = None;
    for p in names.take(MAX_NUMBERED as usize) {
        match midi.write_new(&p) {
            Ok(()) => return Ok(p),
            Err(crate::record::smf::SmfError::Exists { .. }) => last = Some(p),
            Err(e) => return Err(e.into()),
        }
    }
    Err(RecordError::NoFreeName {
        path: last.map(|p| p.display().to_string()).unwrap_or_default(),
        tries: MAX_NUMBERED,
    })
}

/// Writes the journal's MIDI file and removes the journal (the clean-stop path).
pub(super) fn finish_journal(jpath: &Path) -> Result<Finished, RecordError> {
    let jc = read_journal(jpath)?;
    let target = target_of(jpath);
    let names = std::iter::once(target.clone()).chain((2..).map(|n| numbered(&target, n)));
    let path = write_fresh(&jc.midi, names)?;
    std::fs::remove_file(jpath).map_err(io_err(jpath))?;
    Ok(Finished {
        path,
        notes: jc.notes,
        end: jc.midi.end,
        max_backlog: 0,
    })
}

/// Turns a journal left by a crash into its MIDI file (never overwriting: a numbered name is
/// chosen when the target exists). Returns where it went and how much was kept.
///
/// A journal whose recording is still running (its lock is held by another weft) is left
/// alone: [`RecordError::InUse`], nothing read, written or removed.
pub fn recover(journal: &Path) -> Result<(Finished, JournalContents), RecordError> {
    let file = File::open(journal).map_err(io_err(journal))?;
    if !try_lock(&file).map_err(io_err(journal))? {
        return Err(RecordError::InUse {
            path: journal.display().to_string(),
        });
    }
    // Locked, but the owner may have finished and removed it between our open and the lock.
    if !still_at(&file, journal) {
        return Err(RecordError::Gone {
            path: journal.display().to_string(),
        });
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut &file, &mut bytes).map_err(io_err(journal))?;
    let jc = parse_journal(&bytes, journal)?;
    let first = target_of(journal);
    let stem = first.with_extension("");
    let names = std::iter::once(first)
        .chain((1..).map(|n| PathBuf::from(format!("{}-recovered-{n}.mid", stem.display()))));
    let path = write_fresh(&jc.midi, names)?;
    std::fs::remove_file(journal).map_err(io_err(journal))?;
    drop(file);
    Ok((
        Finished {
            path,
            notes: jc.notes,
            end: jc.midi.end,
            max_backlog: 0,
        },
        jc,
    ))
}

/// Journals left in `dir` (by a crash), oldest first.
pub fn find_journals(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".weftjournal"))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::journal::line;

    #[test]
    fn truncated_last_record_recovers_everything_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("crash.mid.weftjournal");
        let mut s = line("H weft-journal 1 4 4");
        s.push_str(&line("T 0 9 - a.kick"));
        s.push_str(&line("P 0 120"));
        s.push_str(&line("N 0 0 9 36 100"));
        s.push_str(&line("F 480 0 9 36"));
        s.push_str(&line("N 960 0 9 36 100"));
        let whole = s.len();
        s.push_str(&line("F 1440 0 9 36"));
        let torn = &s[..whole + 7];
        std::fs::write(&j, torn).unwrap();
        let (f, jc) = recover(&j).unwrap();
        assert_eq!(jc.cut, 1);
        assert_eq!(jc.notes, 2);
        let rb = crate::record::smf::read(&std::fs::read(&f.path).unwrap(), "crash.mid").unwrap();
        assert_eq!(rb.notes.len(), 2);
        assert_eq!((rb.notes[1].start, rb.notes[1].end), (960, 961));
        assert!(rb.problems.is_empty());
        assert!(!j.exists());
        // A corrupted (bit-flipped) record is skipped and reading goes on after it: the
        // note-off after the damaged note-on has no note to end, the note before is kept.
        let mut bad = s.clone().into_bytes();
        let pos = whole - 10;
        bad[pos] ^= 1;
        std::fs::write(&j, &bad).unwrap();
        let jc = read_journal(&j).unwrap();
        assert_eq!((jc.notes, jc.cut, jc.records), (1, 1, 6));
        // A damaged record in the middle no longer drops the ones after it.
        let mut mid = s.clone().into_bytes();
        let second = line("H weft-journal 1 4 4").len() + 3;
        mid[second] ^= 1;
        std::fs::write(&j, &mid).unwrap();
        let jc = read_journal(&j).unwrap();
        assert_eq!((jc.notes, jc.cut, jc.records), (2, 1, 6), "{jc:?}");
    }
}
