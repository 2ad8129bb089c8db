//! Where a recording goes: the journal beside its target, numbered names so an existing
//! recording or journal is never reused, the folder checked before the music starts, and a
//! dated default name.

use super::RecordError;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

/// The journal next to a target MIDI file.
pub fn journal_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(".weftjournal");
    PathBuf::from(s)
}

/// The MIDI file a journal belongs to.
pub fn target_of(journal: &Path) -> PathBuf {
    let s = journal.to_string_lossy();
    PathBuf::from(s.strip_suffix(".weftjournal").unwrap_or(&s).to_string())
}

/// Whether a recording may use this name: neither the file nor its journal exists (a dangling
/// symlink counts as existing).
fn name_free(target: &Path) -> bool {
    std::fs::symlink_metadata(target).is_err()
        && std::fs::symlink_metadata(journal_path(target)).is_err()
}

/// `take.mid` → `take-<n>.mid` (`take` → `take-<n>`).
pub(super) fn numbered(target: &Path, n: u32) -> PathBuf {
    let stem = target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match target.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    target.with_file_name(name)
}

pub(super) const MAX_NUMBERED: u32 = 10_000;

/// `target` if it is free, else the first free `take-2.mid`, `take-3.mid`, … (a name is taken
/// when the file or its journal exists).
pub fn next_free(target: &Path) -> Result<PathBuf, RecordError> {
    if name_free(target) {
        return Ok(target.to_path_buf());
    }
    (2..MAX_NUMBERED)
        .map(|n| numbered(target, n))
        .find(|p| name_free(p))
        .ok_or_else(|| RecordError::NoFreeName {
            path: target.display().to_string(),
            tries: MAX_NUMBERED - 2,
        })
}

/// Where a requested recording will go, chosen before the music starts.
#[derive(Debug)]
pub struct RecordTarget {
    pub path: PathBuf,
    /// Set when the requested name was taken: says which name is used instead.
    pub note: Option<String>,
}

/// Chooses the file a `--record` recording goes to: the folder is created and must be
/// writable (checked now, with a probe file, so a bad target is an error before the music
/// starts), and an existing recording or journal is never reused: the next free numbered name
/// is taken instead (the note says so). Call it after recovery, so a just-recovered
/// `take.mid` also counts as taken.
pub fn choose_target(wanted: &Path) -> Result<RecordTarget, RecordError> {
    let unwritable = |p: &Path| {
        let path = p.display().to_string();
        move |error| RecordError::Unwritable { path, error }
    };
    if wanted.file_name().is_none() || wanted.is_dir() {
        return Err(RecordError::Unwritable {
            path: wanted.display().to_string(),
            error: std::io::Error::other("is a folder, not a file name"),
        });
    }
    let dir = wanted
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(unwritable(dir))?;
    let probe = dir.join(format!(".weft-probe-{}", std::process::id()));
    OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&probe)
        .map_err(unwritable(dir))?;
    let _ = std::fs::remove_file(&probe);
    let path = next_free(wanted)?;
    let note = (path != wanted).then(|| {
        format!(
            "{} is taken; recording to {} instead",
            wanted.display(),
            path.display()
        )
    });
    Ok(RecordTarget { path, note })
}

/// A default recording name with date and time, never an existing file.
pub fn default_target(dir: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, mo, d, h, mi, s) = civil(secs);
    let base = format!("weft-{y:04}-{mo:02}-{d:02}-{h:02}{mi:02}{s:02}");
    let mut p = dir.join(format!("{base}.mid"));
    let mut n = 2;
    while p.exists() || journal_path(&p).exists() {
        p = dir.join(format!("{base}-{n}.mid"));
        n += 1;
    }
    p
}

/// UTC civil time (year, month, day, hour, minute, second) of Unix seconds.
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let ts = i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(jiff::Timestamp::MAX);
    let t = jiff::tz::Offset::UTC.to_datetime(ts);
    (
        t.year() as i64,
        t.month() as u32,
        t.day() as u32,
        t.hour() as u32,
        t.minute() as u32,
        t.second() as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_target_takes_the_next_free_name_and_checks_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let want = dir.path().join("sub/take.mid");
        let t = choose_target(&want).unwrap();
        assert_eq!((t.path.as_path(), t.note.is_none()), (want.as_path(), true));
        std::fs::write(&want, b"MThd").unwrap();
        std::fs::write(journal_path(&dir.path().join("sub/take-2.mid")), b"").unwrap();
        let t = choose_target(&want).unwrap();
        assert_eq!(t.path, dir.path().join("sub/take-3.mid"));
        assert!(t.note.unwrap().contains("take-3.mid"));
        // A folder that cannot be made is an error now, not a silent take-less session.
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let e = choose_target(&file.join("take.mid")).unwrap_err();
        assert!(matches!(e, RecordError::Unwritable { .. }), "{e}");
        assert!(
            choose_target(dir.path()).is_err(),
            "a folder is not a file name"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_795_000_000), (2026, 11, 18, 11, 6, 40));
    }
}
