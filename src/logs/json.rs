//! JSON importers: Spotify extended streaming history and account-data exports (JSON arrays),
//! ListenBrainz listens (JSON array or JSONL). Arrays are streamed element by element with a
//! serde `SeqAccess` visitor over a reader that also tracks the line on which each top-level
//! element starts, so a bad element is reported as `file:line` without holding the file in
//! memory. A JSON syntax error ends the file (rows before it are kept).

use super::{time, Kind, Record, Sink};
use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::rc::Rc;

/// Reader that records the line where each element of the top-level array starts.
struct LineTrack<R> {
    inner: R,
    line: u64,
    depth: i32,
    in_str: bool,
    esc: bool,
    expecting: bool,
    starts: Rc<RefCell<VecDeque<u64>>>,
}

impl<R: Read> Read for LineTrack<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &c in &buf[..n] {
            if c == b'\n' {
                self.line += 1;
            }
            if self.in_str {
                if self.esc {
                    self.esc = false;
                } else if c == b'\\' {
                    self.esc = true;
                } else if c == b'"' {
                    self.in_str = false;
                }
                continue;
            }
            if self.expecting && !c.is_ascii_whitespace() && c != b']' {
                self.starts.borrow_mut().push_back(self.line);
                self.expecting = false;
            }
            match c {
                b'"' => self.in_str = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth == 1 {
                        self.expecting = true;
                    }
                }
                b']' | b'}' => self.depth -= 1,
                b',' if self.depth == 1 => self.expecting = true,
                _ => {}
            }
        }
        Ok(n)
    }
}

struct Elems<'f> {
    f: &'f mut dyn FnMut(u64, Value),
    starts: Rc<RefCell<VecDeque<u64>>>,
}

impl<'de> Visitor<'de> for Elems<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            let line = self.starts.borrow_mut().pop_front().unwrap_or(0);
            (self.f)(line, v);
        }
        Ok(())
    }
}

/// Stream the elements of a top-level JSON array, with the line each starts on.
pub fn stream_array<R: BufRead>(
    mut r: R,
    sink: &mut dyn Sink,
    f: &mut dyn FnMut(u64, Value, &mut dyn Sink),
) -> std::io::Result<()> {
    // Skip a UTF-8 BOM.
    let head = r.fill_buf()?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        r.consume(3);
    }
    let starts = Rc::new(RefCell::new(VecDeque::new()));
    let track = LineTrack {
        inner: r,
        line: 1,
        depth: 0,
        in_str: false,
        esc: false,
        expecting: false,
        starts: starts.clone(),
    };
    let mut de = serde_json::Deserializer::from_reader(track);
    let sink_cell = RefCell::new(sink);
    let mut cb = |line: u64, v: Value| f(line, v, *sink_cell.borrow_mut());
    let res = de.deserialize_seq(Elems { f: &mut cb, starts });
    if let Err(e) = res.and_then(|_| de.end()) {
        if e.is_io() {
            return Err(e.into());
        }
        let line = e.line() as u64;
        sink_cell
            .borrow_mut()
            .bad(line, format!("JSON error, rest of file skipped: {e}"));
    }
    Ok(())
}

fn opt_str<'a>(v: &'a Value, k: &str) -> Result<Option<&'a str>, String> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(o) => Err(format!("{k}: expected string, got {}", kind_of(o))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn req_u64(v: &Value, k: &str) -> Result<u64, String> {
    match v.get(k) {
        None | Some(Value::Null) => Err(format!("missing {k}")),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| format!("{k}: negative or invalid number {n}")),
        Some(o) => Err(format!("{k}: expected number, got {}", kind_of(o))),
    }
}

fn opt_bool(v: &Value, k: &str) -> Result<Option<bool>, String> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(o) => Err(format!("{k}: expected bool, got {}", kind_of(o))),
    }
}

fn spotify_extended_one(v: &Value, sink: &mut dyn Sink) -> Result<(), String> {
    if !v.is_object() {
        return Err(format!("expected object, got {}", kind_of(v)));
    }
    let ts_s = opt_str(v, "ts")?.ok_or("missing ts")?;
    let end = time::parse_datetime(ts_s).ok_or_else(|| format!("bad ts {ts_s:?}"))?;
    let ms = req_u64(v, "ms_played")?;
    let skipped = opt_bool(v, "skipped")?;
    let user = opt_str(v, "username")?;
    let track = opt_str(v, "master_metadata_track_name")?;
    let (artist, title, album, kind, id) = if let Some(t) = track {
        (
            opt_str(v, "master_metadata_album_artist_name")?.unwrap_or(""),
            t,
            opt_str(v, "master_metadata_album_album_name")?.unwrap_or(""),
            Kind::Music,
            opt_str(v, "spotify_track_uri")?,
        )
    } else if let Some(e) = opt_str(v, "episode_name")? {
        (
            opt_str(v, "episode_show_name")?.unwrap_or(""),
            e,
            "",
            Kind::Episode,
            opt_str(v, "spotify_episode_uri")?,
        )
    } else if let Some(c) = opt_str(v, "audiobook_chapter_title")? {
        (
            opt_str(v, "audiobook_title")?.unwrap_or(""),
            c,
            "",
            Kind::Episode,
            opt_str(v, "audiobook_chapter_uri")?,
        )
    } else {
        return Err("no track, episode or chapter name (all metadata null)".into());
    };
    sink.record(&Record {
        user,
        ts: end - (ms / 1000) as i64,
        artist,
        track: title,
        album,
        ms_played: Some(ms),
        skipped,
        kind,
        id,
    });
    Ok(())
}

/// Spotify extended streaming history (`Streaming_History_Audio_*.json`, `endsong_N.json`).
pub fn read_spotify_extended<R: BufRead>(r: R, sink: &mut dyn Sink) -> std::io::Result<()> {
    stream_array(r, sink, &mut |line, v, sink| {
        if let Err(e) = spotify_extended_one(&v, sink) {
            sink.bad(line, e);
        }
    })
}

fn spotify_account_one(v: &Value, sink: &mut dyn Sink) -> Result<(), String> {
    if !v.is_object() {
        return Err(format!("expected object, got {}", kind_of(v)));
    }
    let end_s = opt_str(v, "endTime")?.ok_or("missing endTime")?;
    let end = time::parse_datetime(end_s).ok_or_else(|| format!("bad endTime {end_s:?}"))?;
    let ms = req_u64(v, "msPlayed")?;
    let (artist, track, kind) = if let Some(t) = opt_str(v, "trackName")? {
        (opt_str(v, "artistName")?.unwrap_or(""), t, Kind::Music)
    } else if let Some(e) = opt_str(v, "episodeName")? {
        (opt_str(v, "podcastName")?.unwrap_or(""), e, Kind::Episode)
    } else {
        return Err("missing trackName/episodeName".into());
    };
    sink.record(&Record {
        user: None,
        ts: end - (ms / 1000) as i64,
        artist,
        track,
        album: "",
        ms_played: Some(ms),
        skipped: None,
        kind,
        id: None,
    });
    Ok(())
}

/// Spotify account-data export (`StreamingHistory_music_N.json`, `StreamingHistoryN.json`).
pub fn read_spotify_account<R: BufRead>(r: R, sink: &mut dyn Sink) -> std::io::Result<()> {
    stream_array(r, sink, &mut |line, v, sink| {
        if let Err(e) = spotify_account_one(&v, sink) {
            sink.bad(line, e);
        }
    })
}

fn listen_one(v: &Value, sink: &mut dyn Sink) -> Result<(), String> {
    if !v.is_object() {
        return Err(format!("expected object, got {}", kind_of(v)));
    }
    let at = match v.get("listened_at") {
        Some(Value::Number(n)) => n.as_f64().and_then(time::epoch_any),
        Some(Value::String(s)) => {
            time::parse_datetime(s).or_else(|| s.parse::<f64>().ok().and_then(time::epoch_any))
        }
        _ => return Err("missing listened_at".into()),
    }
    .ok_or("bad listened_at")?;
    let tm = v.get("track_metadata").ok_or("missing track_metadata")?;
    if !tm.is_object() {
        return Err("track_metadata is not an object".into());
    }
    let artist = opt_str(tm, "artist_name")?.ok_or("missing artist_name")?;
    let track = opt_str(tm, "track_name")?.ok_or("missing track_name")?;
    let album = opt_str(tm, "release_name")?.unwrap_or("");
    let mapped = tm
        .get("mbid_mapping")
        .and_then(|m| m.get("recording_mbid"))
        .and_then(Value::as_str);
    let info = tm.get("additional_info");
    let id = mapped
        .or_else(|| {
            info.and_then(|i| i.get("recording_mbid"))
                .and_then(Value::as_str)
        })
        .or_else(|| {
            info.and_then(|i| i.get("spotify_id"))
                .and_then(Value::as_str)
        });
    let kind = match info.and_then(|i| i.get("media_player_kind").or(i.get("music_service"))) {
        Some(Value::String(s)) if s.contains("podcast") => Kind::Episode,
        _ => Kind::Music,
    };
    sink.record(&Record {
        user: opt_str(v, "user_name")?,
        ts: at,
        artist,
        track,
        album,
        ms_played: None,
        skipped: None,
        kind,
        id,
    });
    Ok(())
}

/// ListenBrainz listens as one JSON array (older exports).
pub fn read_listenbrainz_array<R: BufRead>(r: R, sink: &mut dyn Sink) -> std::io::Result<()> {
    stream_array(r, sink, &mut |line, v, sink| {
        if let Err(e) = listen_one(&v, sink) {
            sink.bad(line, e);
        }
    })
}

/// ListenBrainz listens as JSONL (`listens/YYYY/M.jsonl` inside the export zip).
pub fn read_listenbrainz_jsonl<R: BufRead>(r: R, sink: &mut dyn Sink) -> std::io::Result<()> {
    super::each_line(r, true, |line, s| {
        match serde_json::from_slice::<Value>(s) {
            Ok(v) => {
                if let Err(e) = listen_one(&v, sink) {
                    sink.bad(line, e);
                }
            }
            Err(e) => sink.bad(line, format!("invalid JSON: {e}")),
        }
    })
}
