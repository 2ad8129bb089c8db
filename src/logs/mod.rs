//! Stage: listening-log import. Files or folders (zips too) → format detection → one streaming
//! parser per export format (`json`, `text`, `session`) → [`Record`]s (borrowed, per row) →
//! the [`Builder`] sink: play rule, episode split, normalised interning of users/artists/items,
//! cross-source dedupe → [`Logs`] (compact `Play { user, item, ts }` rows plus daily series),
//! which `recommend` and `forecast` consume. Bad rows become `file:line: reason` in the
//! [`LoadReport`]; the rest of the file still loads.

mod build;
mod detect;
pub mod json;
pub mod normalize;
pub mod session;
pub mod synth;
pub mod text;
pub mod time;

pub use build::*;
pub use detect::*;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Errors that stop a load altogether (a single bad row never does, nor a bad file in a
/// folder: that one is skipped and listed in [`LoadReport::skipped`]).
///
/// Each message names the file once and says the cause once: the cause is part of the
/// message, not a `source()` that `anyhow`'s `{:#}` would print a second time.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: not a usable zip: {error}")]
    Zip {
        path: String,
        error: zip::result::ZipError,
    },
    #[error("{0}: no listening logs found (no file in a known format)")]
    Empty(String),
    /// A folder whose every candidate file was skipped (`why` lists them).
    #[error("{path}: no listening logs read; skipped {why}")]
    AllSkipped { path: String, why: String },
}

/// How deep a logs folder is followed (`logs/user/year/month/…`); deeper folders are skipped.
pub const MAX_DEPTH: usize = 16;

/// Music or spoken word; episodes and audiobook chapters are kept apart from music.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Kind {
    #[default]
    Music,
    Episode,
}

/// One parsed row as an importer sees it, borrowing from its line buffer.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Record<'a> {
    /// User named in the row (Last.fm-1K, Spotify `username`, ListenBrainz `user_name`).
    pub user: Option<&'a str>,
    /// Start of playback, unix seconds UTC.
    pub ts: i64,
    pub artist: &'a str,
    pub track: &'a str,
    pub album: &'a str,
    /// Milliseconds actually played, where the format says so.
    pub ms_played: Option<u64>,
    pub skipped: Option<bool>,
    pub kind: Kind,
    /// Stable identifier when present: MusicBrainz recording MBID or Spotify URI.
    pub id: Option<&'a str>,
}

/// Owned copy of a [`Record`], for tests and tools.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OwnedRecord {
    pub user: Option<String>,
    pub ts: i64,
    pub artist: String,
    pub track: String,
    pub album: String,
    pub ms_played: Option<u64>,
    pub skipped: Option<bool>,
    pub kind: Kind,
    pub id: Option<String>,
}

impl Record<'_> {
    pub fn to_owned_record(&self) -> OwnedRecord {
        OwnedRecord {
            user: self.user.map(str::to_owned),
            ts: self.ts,
            artist: self.artist.to_owned(),
            track: self.track.to_owned(),
            album: self.album.to_owned(),
            ms_played: self.ms_played,
            skipped: self.skipped,
            kind: self.kind,
            id: self.id.map(str::to_owned),
        }
    }
}

/// Where importers deliver rows. `line` numbers are 1-based lines of the file.
pub trait Sink {
    fn record(&mut self, r: &Record<'_>);
    fn daily(&mut self, series: &str, day: i64, value: f64);
    fn bad(&mut self, line: u64, reason: String);
}

/// A sink that keeps everything, for tests and inspection.
#[derive(Default, Debug)]
pub struct Collect {
    pub records: Vec<OwnedRecord>,
    pub daily: Vec<(String, i64, f64)>,
    pub bad: Vec<(u64, String)>,
}

impl Sink for Collect {
    fn record(&mut self, r: &Record<'_>) {
        self.records.push(r.to_owned_record());
    }
    fn daily(&mut self, series: &str, day: i64, value: f64) {
        self.daily.push((series.to_owned(), day, value));
    }
    fn bad(&mut self, line: u64, reason: String) {
        self.bad.push((line, reason));
    }
}

/// Read one already-detected stream into a sink. I/O errors are returned; bad rows are not.
pub fn read_format<R: BufRead>(
    format: Format,
    name: &str,
    r: R,
    sink: &mut dyn Sink,
) -> std::io::Result<()> {
    match format {
        Format::SpotifyExtended => json::read_spotify_extended(r, sink),
        Format::SpotifyAccount => json::read_spotify_account(r, sink),
        Format::ListenBrainzArray => json::read_listenbrainz_array(r, sink),
        Format::ListenBrainzJsonl => json::read_listenbrainz_jsonl(r, sink),
        Format::WeftSession => session::read_session_log(r, sink),
        Format::LastfmCsv => text::read_lastfm_csv(r, sink),
        Format::Scrobbler => text::read_scrobbler(r, sink),
        Format::Lastfm1kTsv => text::read_lastfm_1k(r, sink),
        Format::DailyCsv => {
            let stem = name.rsplit(['/', '\\']).next().unwrap_or(name);
            let stem = stem.rsplit_once('.').map_or(stem, |s| s.0);
            text::read_daily_csv(r, stem, sink)
        }
    }
}

fn io_err(path: &Path, error: std::io::Error) -> LogError {
    LogError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// The files below a logs folder, sorted, and what was left out and why.
///
/// Only regular files are listed: a FIFO would block the reader forever, a device could be
/// endless. Symlinks are followed (to files and folders), but every folder and file is
/// visited once by its canonical path, so a symlink loop ends at once, and folders deeper
/// than [`MAX_DEPTH`] are not entered.
#[derive(Default)]
struct Walk {
    files: Vec<PathBuf>,
    skipped: Vec<String>,
    seen: std::collections::HashSet<PathBuf>,
}

impl Walk {
    fn dir(&mut self, dir: &Path, depth: usize) -> Result<(), LogError> {
        if let Ok(c) = dir.canonicalize() {
            if !self.seen.insert(c) {
                self.skipped.push(format!(
                    "{}: folder already read (symlink loop)",
                    dir.display()
                ));
                return Ok(());
            }
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io_err(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            let meta = match std::fs::metadata(&p) {
                Ok(m) => m,
                Err(e) => {
                    self.skipped.push(format!("{}: {e}", p.display()));
                    continue;
                }
            };
            if meta.is_dir() {
                if depth >= MAX_DEPTH {
                    self.skipped.push(format!(
                        "{}: folder nested deeper than {MAX_DEPTH} levels",
                        p.display()
                    ));
                } else if let Err(e) = self.dir(&p, depth + 1) {
                    self.skipped.push(e.to_string());
                }
            } else if !meta.is_file() {
                self.skipped
                    .push(format!("{}: not a regular file", p.display()));
            } else if p.canonicalize().is_ok_and(|c| !self.seen.insert(c)) {
                // The same file through a symlink: read once.
            } else {
                self.files.push(p);
            }
        }
        Ok(())
    }
}

/// Load a file or a folder (recursively, zips included) with the given play rule.
///
/// Rows without a user of their own belong to the first folder level below `path`
/// (`logs/alice/…` → `alice`), the ListenBrainz user of a zip, or `me`.
pub fn load(path: &Path, rule: PlayRule) -> Result<Logs, LogError> {
    let mut b = Builder::new(rule);
    load_into(path, &mut b)?;
    let logs = b.finish();
    if logs.report.files.is_empty() {
        let path = path.display().to_string();
        if logs.report.skipped.is_empty() {
            return Err(LogError::Empty(path));
        }
        let why = logs.report.skipped.join("; ");
        return Err(LogError::AllSkipped { path, why });
    }
    Ok(logs)
}

/// Like [`load`] but into an existing builder (to merge several paths).
///
/// A path named directly is read whatever it is (`--logs <(zcat …)` is a pipe); in a folder
/// only regular files are read, and a file that cannot be read or is a broken zip is skipped
/// and listed in the report, as bad rows are.
pub fn load_into(path: &Path, b: &mut Builder) -> Result<(), LogError> {
    let in_folder = path.is_dir();
    let files = if in_folder {
        let mut w = Walk::default();
        w.dir(path, 0)?;
        for s in w.skipped {
            b.skip(s);
        }
        w.files
    } else {
        vec![path.to_path_buf()]
    };
    for f in files {
        match load_file(path, &f, b) {
            Ok(()) => {}
            Err(e) if in_folder => b.skip(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Loads `f`, found under `path` (or `path` itself).
fn load_file(path: &Path, f: &Path, b: &mut Builder) -> Result<(), LogError> {
    let user = if path.is_dir() {
        f.strip_prefix(path)
            .ok()
            .and_then(|rel| {
                let mut c = rel.components();
                let first = c.next()?;
                c.next()?;
                Some(first.as_os_str().to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "me".into())
    } else {
        "me".into()
    };
    let name = f.display().to_string();
    if name.to_ascii_lowercase().ends_with(".zip") {
        return load_zip(f, &user, b);
    }
    let file = File::open(f).map_err(|e| io_err(f, e))?;
    load_stream(&name, &user, BufReader::with_capacity(1 << 18, file), b).map_err(|e| io_err(f, e))
}

fn load_stream<R: BufRead>(
    name: &str,
    user: &str,
    mut r: R,
    b: &mut Builder,
) -> std::io::Result<()> {
    let head = r.fill_buf()?;
    let Some(format) = detect(name, head) else {
        return Ok(());
    };
    b.begin_file(name, user);
    if format == Format::Scrobbler && contains(head, b"#TZ/UNKNOWN") {
        b.note(format!(
            "{name}: #TZ/UNKNOWN — device-local times are read as UTC"
        ));
    }
    read_format(format, name, r, b)?;
    b.end_file(format);
    Ok(())
}

fn load_zip(path: &Path, user: &str, b: &mut Builder) -> Result<(), LogError> {
    let zerr = |error| LogError::Zip {
        path: path.display().to_string(),
        error,
    };
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(zerr)?;
    // ListenBrainz: user.json names the user; else `listenbrainz_<user>_<unix>.zip`.
    let mut zuser = user.to_owned();
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(rest) = stem.strip_prefix("listenbrainz_") {
        if let Some((u, _)) = rest.rsplit_once('_') {
            zuser = u.to_owned();
        }
    }
    if let Ok(mut f) = zip.by_name("user.json") {
        let mut s = String::new();
        if f.read_to_string(&mut s).is_ok() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
                if let Some(u) = v.get("username").and_then(|u| u.as_str()) {
                    zuser = u.to_owned();
                }
            }
        }
    }
    let mut names: Vec<String> = Vec::new();
    for i in 0..zip.len() {
        names.push(
            zip.by_index(i)
                .map_err(zerr)?
                .name()
                .map_err(zerr)?
                .to_string(),
        );
    }
    names.sort();
    for n in names {
        let entry = zip.by_name(&n).map_err(zerr)?;
        if entry.is_dir() {
            continue;
        }
        let full = format!("{}!{}", path.display(), n);
        load_stream(&full, &zuser, BufReader::with_capacity(1 << 16, entry), b).map_err(
            |error| LogError::Io {
                path: full.clone(),
                error,
            },
        )?;
    }
    Ok(())
}

/// Calls `f(line number, bytes)` for every non-empty line of `r` (numbers from 1, blank
/// lines counted): without a UTF-8 byte-order mark on the first line, without the `\n` /
/// `\r\n` ending, and with `trim` also without surrounding ASCII whitespace. The one line
/// loop every text and JSONL importer shares.
pub(crate) fn each_line<R: BufRead>(
    mut r: R,
    trim: bool,
    mut f: impl FnMut(u64, &[u8]),
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    let mut line = 0u64;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        line += 1;
        let mut s: &[u8] = &buf;
        if line == 1 {
            s = s.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(s);
        }
        let s = if trim {
            s.trim_ascii()
        } else {
            let s = s.strip_suffix(b"\n").unwrap_or(s);
            s.strip_suffix(b"\r").unwrap_or(s)
        };
        if !s.is_empty() {
            f(line, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_layout() {
        assert_eq!(
            detect(
                "x.json",
                b"\xEF\xBB\xBF[\n {\"ts\": \"2020\", \"ms_played\": 1"
            ),
            Some(Format::SpotifyExtended)
        );
        assert_eq!(
            detect("StreamingHistory0.json", b"[{\"endTime\":\"2024\"}]"),
            Some(Format::SpotifyAccount)
        );
        assert_eq!(
            detect("1.jsonl", b"{\"listened_at\": 1}\n"),
            Some(Format::ListenBrainzJsonl)
        );
        assert_eq!(
            detect("a", b"u1\t2009-04-08T01:57:47Z\t\tA\t\tT\n"),
            Some(Format::Lastfm1kTsv)
        );
        assert_eq!(detect("s.csv", b"date,streams\n"), Some(Format::DailyCsv));
        assert_eq!(
            detect("x.log", b"#AUDIOSCROBBLER/1.1\n"),
            Some(Format::Scrobbler)
        );
        assert_eq!(detect("user.json", b"{}"), None);
        assert_eq!(detect("readme.txt", b"hello"), None);
    }

    #[test]
    fn play_rule() {
        let r = PlayRule::default();
        let mut rec = Record {
            ms_played: Some(29_999),
            ..Default::default()
        };
        assert!(!r.counts(&rec));
        rec.ms_played = Some(30_000);
        assert!(r.counts(&rec));
        rec.skipped = Some(true);
        assert!(!r.counts(&rec));
        rec.skipped = None;
        rec.ms_played = None;
        assert!(r.counts(&rec));
    }

    #[test]
    fn dedupe_across_sources_and_normalised_names() {
        let mut b = Builder::new(PlayRule::default());
        b.begin_file("a", "me");
        b.record(&Record {
            ts: 1_700_001_000,
            artist: "The Band feat. X",
            track: "Song (feat. X)",
            ..Default::default()
        });
        b.begin_file("b", "me");
        b.record(&Record {
            ts: 1_700_001_030,
            artist: "the  band",
            track: "SONG",
            ..Default::default()
        });
        b.record(&Record {
            ts: 1_700_005_000,
            artist: "the band",
            track: "song",
            ..Default::default()
        });
        let logs = b.finish();
        assert_eq!(logs.items.len(), 1);
        assert_eq!(logs.plays.len(), 2);
        assert_eq!(logs.report.duplicates, 1);
    }

    #[test]
    fn walk_reads_regular_files_once_and_bounds_depth() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::write(root.join("a.csv"), "x").unwrap();
        // A folder deeper than MAX_DEPTH, with a file at the bottom.
        let mut deep = root.join("deep");
        for i in 0..MAX_DEPTH + 2 {
            deep = deep.join(format!("d{i}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("z.csv"), "x").unwrap();
        // The same file again through a symlink, and the root again through a symlink.
        std::os::unix::fs::symlink(root.join("a.csv"), root.join("b.csv")).unwrap();
        std::os::unix::fs::symlink(root, root.join("up")).unwrap();
        let mut w = Walk::default();
        w.dir(root, 0).unwrap();
        assert_eq!(w.files, vec![root.join("a.csv")]);
        assert_eq!(w.skipped.len(), 2, "{:?}", w.skipped);
        assert!(w.skipped.iter().any(|s| s.contains("deeper than")));
        assert!(w.skipped.iter().any(|s| s.contains("symlink loop")));
    }
}
