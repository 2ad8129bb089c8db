//! The [`Builder`] sink: turns parsed [`Record`]s into [`Logs`] — the play rule, episode
//! split, normalised interning of users/artists/items, cross-source dedupe, daily series —
//! and keeps the [`LoadReport`] of what was read and what was bad.

use super::*;

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

/// Hash map with rustc's Fx hasher (`rustc-hash`): fast for the short keys the interners see,
/// and deterministic (no random seed). Nothing weft prints depends on its iteration order:
/// every map that is iterated is sorted with a total order first.
pub type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

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
    /// Files not read, each as `path: why` (not a regular file, a symlink loop, too deep,
    /// unreadable, a broken zip); the other files still load.
    pub skipped: Vec<String>,
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
        for s in &self.skipped {
            writeln!(f, "  skipped {s}")?;
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

    pub(super) fn end_file(&mut self, format: Format) {
        self.logs
            .report
            .files
            .push((self.file.clone(), format, self.file_rows));
    }

    pub fn note(&mut self, s: String) {
        self.logs.report.notes.push(s);
    }

    /// Records a file that was not read (`path: why`); the load goes on without it.
    pub fn skip(&mut self, s: String) {
        self.logs.report.skipped.push(s);
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
