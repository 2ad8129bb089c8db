//! The journal: its record format, the writer's encoders, the lock that marks a live
//! recording, and the reader that keeps every whole record and resyncs after damage.
//!
//! Record lines (fields separated by one space, text last):
//! ```text
//! H weft-journal 1 <num> <den>        header
//! T <id> <channel> <program|-> <name>  track
//! P <tick> <bpm>                       tempo change
//! M <tick> <text>                      marker
//! X <text>                             provenance
//! N <tick> <track> <channel> <key> <vel>
//! F <tick> <track> <channel> <key>
//! E <tick>                             clean end
//! ```
//! followed by ` ~<16 hex digits>`, the FNV-1a hash of the text before it.

use super::{io_err, RecordError};
use crate::engine::event::{Event, Sound, Tick, TimedEvent, TrackInfo};
use crate::engine::transport::TimeSig;
use crate::patch::fnv1a;
use crate::record::smf::SessionMidi;
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

/// One record: its text and checksum, newline-terminated.
pub(super) fn line(text: &str) -> String {
    format!("{text} ~{:016x}\n", fnv1a(&[text.as_bytes()]))
}

/// Text fields stay on one line.
fn clean(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The header record and one provenance record per line of `provenance`.
pub(super) fn header(sig: TimeSig, provenance: &[String]) -> String {
    let mut head = line(&format!("H weft-journal 1 {} {}", sig.num, sig.den));
    for p in provenance {
        head.push_str(&line(&format!("X {}", clean(p))));
    }
    head
}

/// Appends one track record per track.
pub(super) fn push_tracks(buf: &mut String, tracks: &[TrackInfo]) {
    for t in tracks {
        let prog = t.program.map_or("-".to_string(), |p| p.to_string());
        buf.push_str(&line(&format!(
            "T {} {} {} {}",
            t.id,
            t.channel,
            prog,
            clean(&t.name)
        )));
    }
}

/// Appends a tempo change.
pub(super) fn push_tempo(buf: &mut String, t: Tick, bpm: f64) {
    buf.push_str(&line(&format!("P {t} {bpm}")));
}

/// Appends a marker.
pub(super) fn push_marker(buf: &mut String, t: Tick, text: &str) {
    buf.push_str(&line(&format!("M {t} {}", clean(text))));
}

/// Appends a note-on or note-off record (parameter changes are not recorded).
pub(super) fn push_event(buf: &mut String, e: &TimedEvent) {
    match e.event {
        Event::NoteOn {
            track,
            channel,
            key,
            vel,
            ..
        } => buf.push_str(&line(&format!(
            "N {} {track} {channel} {key} {vel}",
            e.tick
        ))),
        Event::NoteOff {
            track,
            channel,
            key,
        } => buf.push_str(&line(&format!("F {} {track} {channel} {key}", e.tick))),
        Event::Param { .. } => {}
    }
}

/// Appends the clean-end record.
pub(super) fn push_end(buf: &mut String, t: Tick) {
    buf.push_str(&line(&format!("E {t}")));
}

/// Takes the journal lock (`flock(LOCK_EX | LOCK_NB)`) on an open journal. `Ok(false)`: another
/// process holds it (a live recording). The lock lasts as long as the file stays open.
pub(super) fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor this `File` owns and keeps open for the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Whether an open file is still the one at `path` (not removed or replaced since it was opened).
pub(super) fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// What a journal holds.
#[derive(Debug, Default)]
pub struct JournalContents {
    pub midi: SessionMidi,
    /// Records read, and damaged stretches skipped (a torn tail, a corrupt record, a record
    /// that verifies but does not parse): each skipped stretch counts once.
    pub records: usize,
    pub cut: usize,
    /// Bytes in the skipped stretches.
    pub skipped_bytes: usize,
    pub clean_end: bool,
    pub notes: usize,
}

/// Reads a journal, keeping every whole record: a damaged record is skipped and reading
/// resumes at the next record whose checksum verifies.
pub fn read_journal(path: &Path) -> Result<JournalContents, RecordError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    parse_journal(&bytes, path)
}

/// The record starting at `pos` if it is whole and its checksum verifies: its text and
/// where the next record starts.
fn record_at(bytes: &[u8], pos: usize) -> Option<(&str, usize)> {
    let nl = pos + bytes.get(pos..)?.iter().position(|&b| b == b'\n')?;
    let (body, hash) = split_record(&bytes[pos..nl])?;
    (u64::from_str_radix(hash, 16).ok()? == fnv1a(&[body.as_bytes()])).then_some((body, nl + 1))
}

/// Whether a line ends like a record: ` ~<16 lowercase hex digits>` after some text.
fn record_shaped(line: &[u8]) -> bool {
    let n = line.len();
    n >= 19
        && &line[n - 18..n - 16] == b" ~"
        && line[n - 16..]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A line's text and checksum digits, if it has the shape `<text> ~<16 lowercase hex>`.
fn split_record(line: &[u8]) -> Option<(&str, &str)> {
    if !record_shaped(line) {
        return None;
    }
    let n = line.len();
    let body = std::str::from_utf8(&line[..n - 18]).ok()?;
    Some((body, std::str::from_utf8(&line[n - 16..]).ok()?))
}

/// The first offset at or after `from` where a verifying record starts. Only lines ending in a
/// checksum-shaped tail are searched, so a long garbage tail costs one pass.
fn resync(bytes: &[u8], from: usize) -> Option<usize> {
    let mut start = from;
    while start < bytes.len() {
        let nl = start + bytes[start..].iter().position(|&b| b == b'\n')?;
        if record_shaped(&bytes[start..nl]) {
            if let Some(q) = (start..nl).find(|&q| record_at(bytes, q).is_some()) {
                return Some(q);
            }
        }
        start = nl + 1;
    }
    None
}

/// Parses a journal's bytes (see [`read_journal`]); `path` names it in errors.
pub fn parse_journal(bytes: &[u8], path: &Path) -> Result<JournalContents, RecordError> {
    let not_a_journal = || RecordError::NotAJournal {
        path: path.display().to_string(),
    };
    let mut jc = JournalContents::default();
    let mut open: HashMap<(u8, u8), (u16, Tick)> = HashMap::new();
    let mut max_tick: Tick = 0;
    let mut pos = 0;
    // Whether the previous stretch was damaged (a run of bad records counts once).
    let mut in_damage = false;
    while pos < bytes.len() {
        let Some((body, next)) = record_at(bytes, pos) else {
            let resume = resync(bytes, pos + 1).unwrap_or(bytes.len());
            jc.skipped_bytes += resume - pos;
            if !in_damage {
                jc.cut += 1;
            }
            in_damage = true;
            pos = resume;
            continue;
        };
        let (at_start, rec_len) = (pos == 0, next - pos);
        pos = next;
        let f: Vec<&str> = body.splitn(6, ' ').collect();
        if f[0] == "H" {
            if f.len() < 5 || f[1] != "weft-journal" || jc.records > 0 {
                if at_start {
                    return Err(not_a_journal());
                }
            } else {
                jc.midi.time_sig =
                    TimeSig::new(f[3].parse().unwrap_or(4), f[4].parse().unwrap_or(4))
                        .unwrap_or_default();
                jc.records += 1;
                in_damage = false;
                continue;
            }
        } else if at_start {
            // A file whose first line verifies must begin with the header.
            return Err(not_a_journal());
        }
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
        let track = |i: usize| f.get(i).and_then(|s| s.parse::<u16>().ok());
        let byte = |i: usize| f.get(i).and_then(|s| s.parse::<u8>().ok());
        let ok = match f[0] {
            "T" => {
                let rest: Vec<&str> = body.splitn(5, ' ').collect();
                match (track(1), byte(2), rest.get(3), rest.get(4)) {
                    (Some(id), Some(ch), Some(p), Some(name)) => {
                        jc.midi.tracks.push(TrackInfo {
                            id,
                            name: name.to_string(),
                            channel: ch,
                            program: p.parse().ok(),
                        });
                        true
                    }
                    _ => false,
                }
            }
            "P" => match (num(1), f.get(2).and_then(|s| s.parse::<f64>().ok())) {
                (Some(t), Some(bpm)) if bpm.is_finite() && bpm > 0.0 => {
                    jc.midi.tempo.retain(|(x, _)| *x < t);
                    jc.midi.tempo.push((t, bpm));
                    true
                }
                _ => false,
            },
            "M" => match (num(1), body.splitn(3, ' ').nth(2)) {
                (Some(t), Some(text)) => {
                    jc.midi.markers.push((t, text.to_string()));
                    max_tick = max_tick.max(t);
                    true
                }
                _ => false,
            },
            "X" => {
                jc.midi
                    .provenance
                    .push(body.get(2..).unwrap_or("").to_string());
                true
            }
            "N" => match (num(1), track(2), byte(3), byte(4), byte(5)) {
                (Some(t), Some(tr), Some(ch), Some(k), Some(v)) => {
                    if let Some((otr, _)) = open.remove(&(ch, k)) {
                        jc.midi.events.push((
                            t,
                            Event::NoteOff {
                                track: otr,
                                channel: ch,
                                key: k,
                            },
                        ));
                    }
                    open.insert((ch, k), (tr, t));
                    jc.midi.events.push((
                        t,
                        Event::NoteOn {
                            track: tr,
                            channel: ch,
                            key: k,
                            vel: v,
                            sound: Sound::default(),
                        },
                    ));
                    jc.notes += 1;
                    max_tick = max_tick.max(t);
                    true
                }
                _ => false,
            },
            "F" => match (num(1), track(2), byte(3), byte(4)) {
                (Some(t), Some(tr), Some(ch), Some(k)) => {
                    if open.remove(&(ch, k)).is_some() {
                        jc.midi.events.push((
                            t,
                            Event::NoteOff {
                                track: tr,
                                channel: ch,
                                key: k,
                            },
                        ));
                    }
                    max_tick = max_tick.max(t);
                    true
                }
                _ => false,
            },
            "E" => match num(1) {
                Some(t) => {
                    jc.clean_end = true;
                    max_tick = max_tick.max(t);
                    jc.midi.end = t;
                    true
                }
                None => false,
            },
            _ => false,
        };
        if ok {
            jc.records += 1;
            in_damage = false;
        } else {
            // Verifies but does not parse (a newer weft's record?): skip it, keep reading.
            jc.skipped_bytes += rec_len;
            if !in_damage {
                jc.cut += 1;
            }
            in_damage = true;
        }
    }
    if jc.records == 0 {
        return Err(not_a_journal());
    }
    // Close every open note at the end.
    // (At least one tick after the last open note-on, so no note is empty.)
    let last_open = open.values().map(|(_, t)| *t + 1).max().unwrap_or(0);
    let end = max_tick.max(jc.midi.end).max(last_open);
    let mut still: Vec<_> = open.into_iter().collect();
    still.sort();
    for ((ch, k), (tr, _)) in still {
        jc.midi.events.push((
            end,
            Event::NoteOff {
                track: tr,
                channel: ch,
                key: k,
            },
        ));
    }
    jc.midi.end = end;
    if jc.midi.tempo.is_empty() {
        jc.midi.tempo.push((0, 120.0));
    }
    Ok(jc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small journal and, for each record, its byte range and whether it is a note-on.
    fn journal(recs: &[String]) -> (Vec<u8>, Vec<(usize, usize, bool)>) {
        let mut out = Vec::new();
        let mut spans = Vec::new();
        for r in recs {
            let a = out.len();
            out.extend_from_slice(line(r).as_bytes());
            spans.push((a, out.len(), r.starts_with("N ")));
        }
        (out, spans)
    }

    fn records_strategy() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        use proptest::prelude::*;
        let rec = prop_oneof![
            (0u64..10_000, 0u8..128, 1u8..128).prop_map(|(t, k, v)| format!("N {t} 0 0 {k} {v}")),
            (0u64..10_000, 0u8..128).prop_map(|(t, k)| format!("F {t} 0 0 {k}")),
            (0u64..10_000, "[a-z ~]{0,12}").prop_map(|(t, m)| format!("M {t} {m}")),
            (0u64..10_000, 40u32..300).prop_map(|(t, b)| format!("P {t} {b}")),
        ];
        proptest::collection::vec(rec, 1..12).prop_map(|mut v| {
            v.insert(0, "T 0 0 - a.lead".into());
            v.insert(0, "H weft-journal 1 4 4".into());
            v
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Cut anywhere: every whole record before the cut is kept, nothing panics. One byte
        /// damaged anywhere: only the record holding it is lost; reading resyncs after it.
        #[test]
        fn recovery_keeps_every_record_damage_did_not_touch(recs in records_strategy()) {
            let (bytes, spans) = journal(&recs);
            let p = Path::new("t.mid.weftjournal");
            let header_end = spans[0].1;
            for cut in 0..=bytes.len() {
                let r = parse_journal(&bytes[..cut], p);
                if cut < header_end {
                    proptest::prop_assert!(r.is_err());
                    continue;
                }
                let jc = r.unwrap();
                let whole: Vec<_> = spans.iter().filter(|s| s.1 <= cut).collect();
                proptest::prop_assert_eq!(jc.records, whole.len());
                proptest::prop_assert_eq!(jc.notes, whole.iter().filter(|s| s.2).count());
                let kept_to = whole.last().map_or(0, |s| s.1);
                proptest::prop_assert_eq!(jc.cut, usize::from(cut > kept_to));
                proptest::prop_assert_eq!(jc.skipped_bytes, cut - kept_to);
            }
            for at in 0..bytes.len() {
                for flip in [0x01u8, 0x20, 0x80, b'\n' ^ bytes[at]] {
                    if flip == 0 {
                        continue;
                    }
                    let mut bad = bytes.clone();
                    bad[at] ^= flip;
                    let hit = spans.iter().position(|s| s.0 <= at && at < s.1).unwrap();
                    let jc = parse_journal(&bad, p).unwrap();
                    proptest::prop_assert_eq!(jc.records, spans.len() - 1, "byte {} ^ {:#x}", at, flip);
                    let notes = spans.iter().enumerate().filter(|(i, s)| *i != hit && s.2).count();
                    proptest::prop_assert_eq!(jc.notes, notes);
                    proptest::prop_assert_eq!(jc.cut, 1);
                    proptest::prop_assert_eq!(jc.skipped_bytes, spans[hit].1 - spans[hit].0);
                }
            }
        }
    }
}
