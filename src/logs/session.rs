//! weft's own session log: one JSON line per performance, appended by the recorder, read back
//! by the importer as one play per patch (artist "weft", track = patch file name,
//! `ms_played` = performance duration). Schema:
//!
//! ```json
//! {"kind":"weft-session","date":"2026-11-25T20:15:00Z","duration_s":312.5,
//!  "patches":["groove.rhai","bass.rhai"],"models":["chorales"],
//!  "tempo_min":120.0,"tempo_max":124.0,"file":"recordings/weft-2026-11-25-201500.mid"}
//! ```
//! `date` is when the performance started (UTC).

use super::{time, Kind, Record, Sink};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::Path;

/// One line of the session log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionLogLine {
    pub kind: String,
    pub date: String,
    pub duration_s: f64,
    #[serde(default)]
    pub patches: Vec<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub tempo_min: Option<f64>,
    #[serde(default)]
    pub tempo_max: Option<f64>,
    #[serde(default)]
    pub file: Option<String>,
}

impl SessionLogLine {
    /// A line with `kind` set to `"weft-session"`.
    pub fn new(date: String, duration_s: f64, patches: Vec<String>) -> Self {
        SessionLogLine {
            kind: "weft-session".into(),
            date,
            duration_s,
            patches,
            models: Vec::new(),
            tempo_min: None,
            tempo_max: None,
            file: None,
        }
    }
}

/// Append one line to the session log (creating the file and its folder if needed).
pub fn append_session_log(path: &Path, line: &SessionLogLine) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut s = serde_json::to_string(line).map_err(std::io::Error::other)?;
    s.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(s.as_bytes())
}

/// Read a session log into a sink.
pub fn read_session_log<R: BufRead>(r: R, sink: &mut dyn Sink) -> std::io::Result<()> {
    super::each_line(r, true, |line, s| {
        let l: SessionLogLine = match serde_json::from_slice(s) {
            Ok(l) => l,
            Err(e) => {
                sink.bad(line, format!("invalid session line: {e}"));
                return;
            }
        };
        if l.kind != "weft-session" {
            sink.bad(line, format!("kind is {:?}, not \"weft-session\"", l.kind));
            return;
        }
        let Some(ts) = time::parse_datetime(&l.date) else {
            sink.bad(line, format!("bad date {:?}", l.date));
            return;
        };
        if !(l.duration_s.is_finite() && l.duration_s >= 0.0) {
            sink.bad(line, "bad duration_s".into());
            return;
        }
        for p in &l.patches {
            sink.record(&Record {
                user: None,
                ts,
                artist: "weft",
                track: p,
                album: "",
                ms_played: Some((l.duration_s * 1000.0) as u64),
                skipped: None,
                kind: Kind::Music,
                id: None,
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Collect;

    #[test]
    fn append_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/session.jsonl");
        let mut l = SessionLogLine::new(
            "2026-11-25T20:15:00Z".into(),
            312.5,
            vec!["groove.rhai".into(), "bass.rhai".into()],
        );
        l.models = vec!["chorales".into()];
        append_session_log(&p, &l).unwrap();
        append_session_log(&p, &l).unwrap();
        let mut c = Collect::default();
        read_session_log(
            std::io::BufReader::new(std::fs::File::open(&p).unwrap()),
            &mut c,
        )
        .unwrap();
        assert_eq!(c.records.len(), 4);
        assert_eq!(c.records[1].track, "bass.rhai");
        assert_eq!(c.records[1].artist, "weft");
        assert_eq!(c.records[1].ms_played, Some(312_500));
        assert!(c.bad.is_empty());
    }
}
