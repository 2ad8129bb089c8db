//! Line-oriented importers: Last.fm CSV exports (three common layouts, via the `csv` crate),
//! Audioscrobbler `.scrobbler.log`, Last.fm-1K style TSV (the hot path: one reused line
//! buffer, tab splitting on bytes, no per-row allocation) and `date,streams` daily CSVs.
//! Every row is read, checked and delivered to the sink; bad rows are reported by line.

use super::{time, Kind, Record, Sink};
use std::io::BufRead;

/// Layout of a Last.fm CSV export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsvLayout {
    /// lastfm.ghan.nl: header `uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid`.
    Ghan,
    /// benjaminbenben lastfm-to-csv: `artist,album,track,31 Jan 2021 12:34`, no header.
    ArtistAlbumTrackDate,
    /// lastfm-backup-cli: `YYYY-MM-DD,HH:MM:SS,artist,title`, no header.
    DateTimeArtistTitle,
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

/// Guess the layout from the first line (a naive split is enough for detection).
pub fn csv_layout(first: &[u8]) -> Option<CsvLayout> {
    let s = String::from_utf8_lossy(first);
    let s = s.trim_start_matches('\u{feff}');
    let f: Vec<&str> = s.split(',').map(unquote).collect();
    if f.first().is_some_and(|x| x.eq_ignore_ascii_case("uts")) {
        return Some(CsvLayout::Ghan);
    }
    if f.len() >= 4 && time::parse_date(f[0]).is_some() && f[1].len() >= 5 {
        return Some(CsvLayout::DateTimeArtistTitle);
    }
    if f.len() >= 4 && time::parse_dmy_text(f[f.len() - 1]).is_some() {
        return Some(CsvLayout::ArtistAlbumTrackDate);
    }
    None
}

fn skip_bom<R: BufRead>(r: &mut R) -> std::io::Result<()> {
    if r.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        r.consume(3);
    }
    Ok(())
}

/// Last.fm scrobbles as CSV, layout detected from the first row.
pub fn read_lastfm_csv<R: BufRead>(mut r: R, sink: &mut dyn Sink) -> std::io::Result<()> {
    skip_bom(&mut r)?;
    let head = r.fill_buf()?;
    let first = head.split(|&c| c == b'\n').next().unwrap_or(head);
    let Some(layout) = csv_layout(first) else {
        sink.bad(1, "unrecognised Last.fm CSV layout".into());
        return Ok(());
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        // `\n` ends a record (a trailing `\r` is trimmed below): csv's CRLF mode
        // miscounts lines, and errors must name the right line.
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(r);
    let mut rec = csv::StringRecord::new();
    let mut cols = [0usize, 1, 2, 3, 4, 5, 6, 7];
    let mut first_row = true;
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Err(std::io::Error::other(e.to_string()));
                }
                let line = e.position().map_or(line, |p| p.line());
                sink.bad(line, format!("CSV: {e}"));
                continue;
            }
        }
        let line = rec.position().map_or(line, |p| p.line());
        if first_row && layout == CsvLayout::Ghan {
            first_row = false;
            // Map the header names to column positions.
            let names = [
                "uts",
                "utc_time",
                "artist",
                "artist_mbid",
                "album",
                "album_mbid",
                "track",
                "track_mbid",
            ];
            for (k, n) in names.iter().enumerate() {
                if let Some(p) = rec.iter().position(|h| h.trim().eq_ignore_ascii_case(n)) {
                    cols[k] = p;
                }
            }
            continue;
        }
        first_row = false;
        if rec.len() == 1 && rec[0].trim().is_empty() {
            continue;
        }
        let get = |i: usize| rec.get(i).unwrap_or("").trim_end_matches('\r');
        let res: Result<Record<'_>, String> = match layout {
            CsvLayout::Ghan => {
                if rec.len() < 7 {
                    Err(format!("expected 8 fields, got {}", rec.len()))
                } else {
                    let uts = get(cols[0]).trim();
                    match uts.parse::<i64>() {
                        Ok(ts) => Ok(Record {
                            ts,
                            artist: get(cols[2]),
                            album: get(cols[4]),
                            track: get(cols[6]),
                            id: Some(get(cols[7])).filter(|s| !s.is_empty()),
                            ..Default::default()
                        }),
                        Err(_) => Err(format!("bad uts {uts:?}")),
                    }
                }
            }
            CsvLayout::ArtistAlbumTrackDate => {
                if rec.len() != 4 {
                    Err(format!("expected 4 fields, got {}", rec.len()))
                } else {
                    match time::parse_dmy_text(get(3)) {
                        Some(ts) => Ok(Record {
                            ts,
                            artist: get(0),
                            album: get(1),
                            track: get(2),
                            ..Default::default()
                        }),
                        None => Err(format!("bad date {:?}", get(3))),
                    }
                }
            }
            CsvLayout::DateTimeArtistTitle => {
                if rec.len() != 4 {
                    Err(format!("expected 4 fields, got {}", rec.len()))
                } else {
                    match time::parse_datetime(&format!("{} {}", get(0).trim(), get(1).trim())) {
                        Some(ts) => Ok(Record {
                            ts,
                            artist: get(2),
                            track: get(3),
                            ..Default::default()
                        }),
                        None => Err(format!("bad date/time {:?} {:?}", get(0), get(1))),
                    }
                }
            }
        };
        match res {
            Ok(r) if r.artist.trim().is_empty() || r.track.trim().is_empty() => {
                sink.bad(line, "empty artist or track".into())
            }
            Ok(r) => sink.record(&r),
            Err(e) => sink.bad(line, e),
        }
    }
}

/// Per-line callback: `Err(reason)` marks the line bad.
type LineFn<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// A daily point, or the reason its line was bad.
type DailyPoint = (u64, Result<(i64, f64), String>);

fn lines<R: BufRead>(r: R, f: &mut LineFn<'_>, sink: &mut dyn Sink) -> std::io::Result<()> {
    super::each_line(r, false, |line, s| {
        if let Err(e) = f(line, s) {
            sink.bad(line, e);
        }
    })
}

/// Audioscrobbler `.scrobbler.log` (AUDIOSCROBBLER/1.1).
pub fn read_scrobbler<R: BufRead>(r: R, sink: &mut dyn Sink) -> std::io::Result<()> {
    let cell = std::cell::RefCell::new(&mut *sink);
    let mut f = |_line: u64, s: &[u8]| -> Result<(), String> {
        if s.starts_with(b"#") {
            return Ok(());
        }
        let s = std::str::from_utf8(s).map_err(|_| "invalid UTF-8".to_string())?;
        let f: Vec<&str> = s.split('\t').collect();
        if f.len() < 7 {
            return Err(format!(
                "expected 7 or 8 tab-separated fields, got {}",
                f.len()
            ));
        }
        let dur: u64 = f[4]
            .trim()
            .parse()
            .map_err(|_| format!("bad duration {:?}", f[4]))?;
        let skipped = match f[5].trim() {
            "L" => false,
            "S" => true,
            o => return Err(format!("bad rating {o:?} (expected L or S)")),
        };
        let ts: i64 = f[6]
            .trim()
            .parse()
            .map_err(|_| format!("bad timestamp {:?}", f[6]))?;
        if f[0].is_empty() || f[2].is_empty() {
            return Err("empty artist or title".into());
        }
        cell.borrow_mut().record(&Record {
            user: None,
            ts,
            artist: f[0],
            album: f[1],
            track: f[2],
            ms_played: (!skipped).then_some(dur.saturating_mul(1000)),
            skipped: Some(skipped),
            kind: Kind::Music,
            id: f.get(7).copied().filter(|s| !s.is_empty()),
        });
        Ok(())
    };
    let mut errs: Vec<(u64, String)> = Vec::new();
    let mut coll = ErrSink(&mut errs);
    lines(r, &mut f, &mut coll)?;
    for (l, e) in errs {
        sink.bad(l, e);
    }
    Ok(())
}

/// Collects bad-line reports while the real sink is borrowed by the row closure.
struct ErrSink<'a>(&'a mut Vec<(u64, String)>);

impl Sink for ErrSink<'_> {
    fn record(&mut self, _: &Record<'_>) {}
    fn daily(&mut self, _: &str, _: i64, _: f64) {}
    fn bad(&mut self, line: u64, reason: String) {
        self.0.push((line, reason));
    }
}

/// Parse `YYYY-MM-DDTHH:MM:SSZ` fast (the 1K dataset's only layout), else the general parser.
fn fast_iso(b: &[u8]) -> Option<i64> {
    if b.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z' {
        let d = |i: usize| -> Option<i64> {
            let (x, y) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
            (x < 10 && y < 10).then(|| (x * 10 + y) as i64)
        };
        let y = d(0)? * 100 + d(2)?;
        let (m, dd, hh, mi, ss) = (d(5)?, d(8)?, d(11)?, d(14)?, d(17)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&dd) || hh > 23 || mi > 59 || ss > 60 {
            return None;
        }
        return Some(
            time::day_of(jiff::civil::Date::new(y as i16, m as i8, dd as i8).ok()?) * 86400
                + hh * 3600
                + mi * 60
                + ss,
        );
    }
    time::parse_datetime(std::str::from_utf8(b).ok()?)
}

/// Last.fm-1K style TSV: `userid ts artist_mbid artist_name track_mbid track_name`.
pub fn read_lastfm_1k<R: BufRead>(r: R, sink: &mut dyn Sink) -> std::io::Result<()> {
    super::each_line(r, false, |line, s| {
        let mut f: [&[u8]; 6] = [&[]; 6];
        let mut n = 0;
        for part in s.split(|&c| c == b'\t') {
            if n < 6 {
                f[n] = part;
            }
            n += 1;
        }
        if n != 6 {
            sink.bad(line, format!("expected 6 tab-separated fields, got {n}"));
            return;
        }
        let Some(ts) = fast_iso(f[1]) else {
            sink.bad(
                line,
                format!("bad timestamp {:?}", String::from_utf8_lossy(f[1])),
            );
            return;
        };
        let (Ok(user), Ok(artist), Ok(tid), Ok(track)) = (
            std::str::from_utf8(f[0]),
            std::str::from_utf8(f[3]),
            std::str::from_utf8(f[4]),
            std::str::from_utf8(f[5]),
        ) else {
            sink.bad(line, "invalid UTF-8".into());
            return;
        };
        if user.is_empty() || artist.is_empty() || track.is_empty() {
            sink.bad(line, "empty user, artist or track".into());
            return;
        }
        sink.record(&Record {
            user: Some(user),
            ts,
            artist,
            track,
            album: "",
            ms_played: None,
            skipped: None,
            kind: Kind::Music,
            id: (!tid.is_empty()).then_some(tid),
        });
    })
}

/// Daily streams CSV: a header, then `YYYY-MM-DD,<number>` (extra columns ignored).
pub fn read_daily_csv<R: BufRead>(r: R, series: &str, sink: &mut dyn Sink) -> std::io::Result<()> {
    let mut pts: Vec<DailyPoint> = Vec::new();
    let mut f = |line: u64, s: &[u8]| -> Result<(), String> {
        let s = std::str::from_utf8(s).map_err(|_| "invalid UTF-8".to_string())?;
        let mut it = s.split(',').map(unquote);
        let d = it.next().unwrap_or("");
        if line == 1 && time::parse_date(d).is_none() {
            return Ok(()); // header
        }
        let day = time::parse_date(d).ok_or_else(|| format!("bad date {d:?}"))?;
        let v = it.next().ok_or("missing value")?;
        let v: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| format!("bad value {v:?}"))?;
        pts.push((line, Ok((day, v))));
        Ok(())
    };
    let mut errs = Vec::new();
    lines(r, &mut f, &mut ErrSink(&mut errs))?;
    for (l, e) in errs {
        pts.push((l, Err(e)));
    }
    pts.sort_by_key(|p| p.0);
    for (l, p) in pts {
        match p {
            Ok((d, v)) => sink.daily(series, d, v),
            Err(e) => sink.bad(l, e),
        }
    }
    Ok(())
}
