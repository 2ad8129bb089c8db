//! Stage: listening-log import. Files or folders (zips too) → format detection → one streaming
//! parser per export format (`json`, `text`, `session`) → [`Record`]s (borrowed, per row) →
//! the [`Builder`] sink: play rule, episode split, normalised interning of users/artists/items,
//! cross-source dedupe → [`Logs`] (compact `Play { user, item, ts }` rows plus daily series),
//! which `recommend` and `forecast` consume. Bad rows become `file:line: reason` in the
//! [`LoadReport`]; the rest of the file still loads.

pub mod cli;
pub mod json;
pub mod normalize;
pub mod session;
pub mod synth;
pub mod text;
pub mod time;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Errors that stop a load altogether (a single bad row never does).
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: zip: {source}")]
    Zip {
        path: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{0}: no listening logs found (no file in a known format)")]
    Empty(String),
}

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

/// The export formats weft recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    SpotifyExtended,
    SpotifyAccount,
    ListenBrainzArray,
    ListenBrainzJsonl,
    WeftSession,
    LastfmCsv,
    Scrobbler,
    Lastfm1kTsv,
    DailyCsv,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::SpotifyExtended => "spotify-extended",
            Format::SpotifyAccount => "spotify-account",
            Format::ListenBrainzArray => "listenbrainz-json",
            Format::ListenBrainzJsonl => "listenbrainz-jsonl",
            Format::WeftSession => "weft-session",
            Format::LastfmCsv => "lastfm-csv",
            Format::Scrobbler => "scrobbler-log",
            Format::Lastfm1kTsv => "lastfm-1k-tsv",
            Format::DailyCsv => "daily-csv",
        })
    }
}

fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

/// Detect a format from the file name and the first bytes (BOM and whitespace allowed).
pub fn detect(name: &str, head: &[u8]) -> Option<Format> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let lower = base.to_ascii_lowercase();
    if lower == "user.json" || lower.starts_with("feedback") || lower.ends_with(".zip") {
        return None;
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|c| !c.is_ascii_whitespace())?;
    let body = &head[start..];
    match body[0] {
        b'[' => {
            if contains(body, b"\"listened_at\"") {
                Some(Format::ListenBrainzArray)
            } else if contains(body, b"\"endTime\"") {
                Some(Format::SpotifyAccount)
            } else if contains(body, b"\"ms_played\"") || contains(body, b"\"ts\"") {
                Some(Format::SpotifyExtended)
            } else if body[1..].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b']') {
                // An empty array: name decides.
                if lower.starts_with("streaminghistory") {
                    Some(Format::SpotifyAccount)
                } else if lower.starts_with("streaming_history") || lower.starts_with("endsong") {
                    Some(Format::SpotifyExtended)
                } else {
                    None
                }
            } else {
                None
            }
        }
        b'{' => {
            let first = body.split(|&c| c == b'\n').next().unwrap_or(body);
            if contains(first, b"\"weft-session\"") {
                Some(Format::WeftSession)
            } else if contains(first, b"\"listened_at\"") {
                Some(Format::ListenBrainzJsonl)
            } else {
                None
            }
        }
        b'#' if body.starts_with(b"#AUDIOSCROBBLER") || lower.ends_with("scrobbler.log") => {
            Some(Format::Scrobbler)
        }
        _ => {
            let first = body.split(|&c| c == b'\n').next().unwrap_or(body);
            let first = first.strip_suffix(b"\r").unwrap_or(first);
            let text = String::from_utf8_lossy(first);
            let lt = text.to_ascii_lowercase();
            if lower.ends_with("scrobbler.log") {
                return Some(Format::Scrobbler);
            }
            if lt.starts_with("date,") || lt.starts_with("\"date\",") {
                return Some(Format::DailyCsv);
            }
            let tabs: Vec<&str> = text.split('\t').collect();
            if tabs.len() == 6 && time::parse_datetime(tabs[1]).is_some() {
                return Some(Format::Lastfm1kTsv);
            }
            if (lt.starts_with("uts,") || lt.starts_with("\"uts\",") || text.contains(','))
                && (lower.ends_with(".csv") || text::csv_layout(first).is_some())
            {
                return Some(Format::LastfmCsv);
            }
            None
        }
    }
}

/// What counts as a play. Rows without `ms_played` (scrobbles, listens) are plays unless
/// marked skipped: the scrobbling client already applied Last.fm's rule (≥ half or 4 min).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlayRule {
    pub min_ms: u64,
    pub drop_skipped: bool,
}

impl Default for PlayRule {
    fn default() -> Self {
        PlayRule {
            min_ms: 30_000,
            drop_skipped: true,
        }
    }
}

impl PlayRule {
    pub fn counts(&self, r: &Record<'_>) -> bool {
        if self.drop_skipped && r.skipped == Some(true) {
            return false;
        }
        r.ms_played.is_none_or(|ms| ms >= self.min_ms)
    }
}

/// FxHash (rustc's hasher): fast for the short keys the interners see.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap()))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        self.0 = h;
    }
    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// String interner: each distinct key gets a dense `u32`.
#[derive(Default, Debug, Clone)]
pub struct Interner {
    map: FxMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.map.insert(s.into(), i);
        i
    }
    pub fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }
    pub fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A distinct track (or episode) after normalisation; `title` is the first spelling seen.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub artist: u32,
    pub title: Box<str>,
    pub kind: Kind,
}

/// One counted play.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Play {
    pub user: u32,
    pub item: u32,
    pub ts: i64,
    pub ms: u32,
    pub source: u16,
}

/// A daily series read from a `date,streams` CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct DailySeries {
    pub name: String,
    pub points: Vec<(i64, f64)>,
}

/// What happened during a load.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    pub files: Vec<(String, Format, u64)>,
    pub rows: u64,
    pub bad: u64,
    /// The first [`Builder::SHOW_BAD`] bad rows as `file:line: reason`.
    pub bad_shown: Vec<String>,
    pub not_a_play: u64,
    pub duplicates: u64,
    pub notes: Vec<String>,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} files, {} rows, {} bad, {} not counted as plays, {} duplicates dropped",
            self.files.len(),
            self.rows,
            self.bad,
            self.not_a_play,
            self.duplicates
        )?;
        for b in &self.bad_shown {
            writeln!(f, "  {b}")?;
        }
        if self.bad > self.bad_shown.len() as u64 {
            writeln!(
                f,
                "  ... and {} more",
                self.bad - self.bad_shown.len() as u64
            )?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}

/// Everything loaded: interned names, music plays (sorted by user, time), episodes apart.
#[derive(Clone, Debug, Default)]
pub struct Logs {
    pub users: Interner,
    pub artists: Interner,
    pub items: Vec<Item>,
    pub plays: Vec<Play>,
    pub episodes: Vec<Play>,
    pub daily: Vec<DailySeries>,
    pub report: LoadReport,
}

impl Logs {
    pub fn item_label(&self, i: u32) -> (String, String) {
        let it = &self.items[i as usize];
        (
            it.title.to_string(),
            self.artists.name(it.artist).to_string(),
        )
    }
}

/// The sink that builds [`Logs`]: applies the play rule, interns, remembers ids.
pub struct Builder {
    pub rule: PlayRule,
    pub dedupe_window_s: i64,
    logs: Logs,
    artist_keys: FxMap<String, u32>,
    item_keys: FxMap<(u32, String), u32>,
    item_ids: FxMap<String, u32>,
    daily: FxMap<String, Vec<(i64, f64)>>,
    scratch: String,
    file: String,
    file_rows: u64,
    source: u16,
    default_user: String,
}

impl Builder {
    pub const SHOW_BAD: usize = 20;

    pub fn new(rule: PlayRule) -> Self {
        Builder {
            rule,
            dedupe_window_s: 90,
            logs: Logs::default(),
            artist_keys: FxMap::default(),
            item_keys: FxMap::default(),
            item_ids: FxMap::default(),
            daily: FxMap::default(),
            scratch: String::new(),
            file: String::new(),
            file_rows: 0,
            source: 0,
            default_user: "me".into(),
        }
    }

    /// Start a new input file; rows without a user get `default_user`.
    pub fn begin_file(&mut self, name: &str, default_user: &str) {
        self.file = name.to_owned();
        self.file_rows = 0;
        self.default_user = default_user.to_owned();
        self.source = self.source.wrapping_add(1);
    }

    fn end_file(&mut self, format: Format) {
        self.logs
            .report
            .files
            .push((self.file.clone(), format, self.file_rows));
    }

    pub fn note(&mut self, s: String) {
        self.logs.report.notes.push(s);
    }

    fn item_for(&mut self, r: &Record<'_>) -> u32 {
        if let Some(id) = r.id.filter(|s| !s.is_empty()) {
            if let Some(&i) = self.item_ids.get(id) {
                return i;
            }
        }
        normalize::key_into(r.artist, false, &mut self.scratch);
        let artist = match self.artist_keys.get(self.scratch.as_str()) {
            Some(&a) => a,
            None => {
                let a = self.logs.artists.intern(r.artist.trim());
                self.artist_keys.insert(self.scratch.clone(), a);
                a
            }
        };
        normalize::key_into(r.track, true, &mut self.scratch);
        let key = (artist, std::mem::take(&mut self.scratch));
        let item = match self.item_keys.get(&key) {
            Some(&i) => {
                self.scratch = key.1;
                i
            }
            None => {
                let i = self.logs.items.len() as u32;
                self.logs.items.push(Item {
                    artist,
                    title: r.track.trim().into(),
                    kind: r.kind,
                });
                self.scratch = key.1.clone();
                self.item_keys.insert(key, i);
                i
            }
        };
        if let Some(id) = r.id.filter(|s| !s.is_empty()) {
            self.item_ids.insert(id.to_owned(), item);
        }
        item
    }

    /// Sort, dedupe overlapping exports, and hand over the result.
    pub fn finish(mut self) -> Logs {
        for (name, mut points) in std::mem::take(&mut self.daily) {
            points.sort_by_key(|p| p.0);
            self.logs.daily.push(DailySeries { name, points });
        }
        self.logs.daily.sort_by(|a, b| a.name.cmp(&b.name));
        let w = self.dedupe_window_s;
        for list in [&mut self.logs.plays, &mut self.logs.episodes] {
            list.sort_by_key(|p| (p.user, p.item, p.ts));
            let before = list.len();
            let mut out: Vec<Play> = Vec::with_capacity(before);
            for p in list.drain(..) {
                if let Some(q) = out.last() {
                    if q.user == p.user
                        && q.item == p.item
                        && q.source != p.source
                        && p.ts.saturating_sub(q.ts) <= w
                    {
                        continue;
                    }
                }
                out.push(p);
            }
            self.logs.report.duplicates += (before - out.len()) as u64;
            out.sort_by_key(|p| (p.user, p.ts, p.item));
            *list = out;
        }
        self.logs
    }
}

impl Sink for Builder {
    fn record(&mut self, r: &Record<'_>) {
        self.logs.report.rows += 1;
        self.file_rows += 1;
        // 1990-01-01 .. 2100-01-01: anything else is a corrupt time, not a play.
        if !(631_152_000..4_102_444_800).contains(&r.ts) {
            self.logs.report.bad += 1;
            if self.logs.report.bad_shown.len() < Self::SHOW_BAD {
                let msg = format!("{}: timestamp {} out of range", self.file, r.ts);
                self.logs.report.bad_shown.push(msg);
            }
            return;
        }
        if !self.rule.counts(r) {
            self.logs.report.not_a_play += 1;
            return;
        }
        let user = match r.user.filter(|u| !u.is_empty()) {
            Some(u) => self.logs.users.intern(u),
            None => {
                let u = std::mem::take(&mut self.default_user);
                let i = self.logs.users.intern(&u);
                self.default_user = u;
                i
            }
        };
        let item = self.item_for(r);
        let p = Play {
            user,
            item,
            ts: r.ts,
            ms: r.ms_played.unwrap_or(0).min(u32::MAX as u64) as u32,
            source: self.source,
        };
        match r.kind {
            Kind::Music => self.logs.plays.push(p),
            Kind::Episode => self.logs.episodes.push(p),
        }
    }
    fn daily(&mut self, series: &str, day: i64, value: f64) {
        self.file_rows += 1;
        self.logs.report.rows += 1;
        match self.daily.get_mut(series) {
            Some(v) => v.push((day, value)),
            None => {
                self.daily.insert(series.to_owned(), vec![(day, value)]);
            }
        }
    }
    fn bad(&mut self, line: u64, reason: String) {
        self.logs.report.bad += 1;
        if self.logs.report.bad_shown.len() < Self::SHOW_BAD {
            self.logs
                .report
                .bad_shown
                .push(format!("{}:{}: {}", self.file, line, reason));
        }
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

fn io_err(path: &Path, source: std::io::Error) -> LogError {
    LogError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LogError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
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
        return Err(LogError::Empty(path.display().to_string()));
    }
    Ok(logs)
}

/// Like [`load`] but into an existing builder (to merge several paths).
pub fn load_into(path: &Path, b: &mut Builder) -> Result<(), LogError> {
    let mut files = Vec::new();
    if path.is_dir() {
        walk(path, &mut files)?;
    } else {
        files.push(path.to_path_buf());
    }
    for f in files {
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
            load_zip(&f, &user, b)?;
            continue;
        }
        let file = File::open(&f).map_err(|e| io_err(&f, e))?;
        load_stream(&name, &user, BufReader::with_capacity(1 << 18, file), b)
            .map_err(|e| io_err(&f, e))?;
    }
    Ok(())
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
    let zerr = |source| LogError::Zip {
        path: path.display().to_string(),
        source,
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
        load_stream(&full, &zuser, BufReader::with_capacity(1 << 16, entry), b)
            .map_err(|e| io_err(path, e))?;
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
}
