//! Standard MIDI File output (and a small reader for tests and tools), with midly.
//!
//! One writer serves `weft render`, live recording and crash recovery, so what is
//! recorded and what is rendered are the same bytes for the same events. Layout:
//! format 1, 960 ticks per quarter; track 0 is the conductor (name, provenance text events
//! at tick 0, time signature, the full tempo map, markers); then one named track per voice
//! (program change for GM voices, note on/off pairs), each ending with End of Track.
//! Output is a pure function of the input: no clocks, no hash-map order.

use crate::engine::event::{Event, Tick, TimedEvent, TrackInfo};
use crate::engine::transport::{TempoMap, TimeSig, TPQ};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SmfError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: not a valid MIDI file: {msg}")]
    Parse { path: String, msg: String },
    #[error("{path} already exists")]
    Exists { path: String },
    #[error("{path} exists and is not a MIDI file; weft will not overwrite it")]
    NotMidi { path: String },
}

/// Most tracks a format-1 file can hold (the header's track count is 16 bits).
const MAX_SMF_TRACKS: usize = u16::MAX as usize;
/// Largest delta time a MIDI file can store (a 28-bit variable-length number).
const MAX_DELTA: u64 = 0x0FFF_FFFF;

/// Whether the file at `path` may be replaced by a MIDI file: it does not exist, or it is
/// one already (starts with `MThd`). Anything else (a patch, a WAV, a folder) is refused.
pub fn check_replaceable(path: &Path) -> Result<(), SmfError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(SmfError::Io {
                path: path.display().to_string(),
                error,
            })
        }
    };
    let mut head = [0u8; 4];
    let is_midi = meta.is_file()
        && std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
        && &head == b"MThd";
    if is_midi {
        Ok(())
    } else {
        Err(SmfError::NotMidi {
            path: path.display().to_string(),
        })
    }
}

/// Everything a session's MIDI file holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionMidi {
    pub time_sig: TimeSig,
    /// Tempo changes (tick, BPM), the first at tick 0.
    pub tempo: Vec<(Tick, f64)>,
    pub tracks: Vec<TrackInfo>,
    /// Note and parameter events in emission order (params are not written).
    pub events: Vec<(Tick, Event)>,
    /// Markers (meta 0x06): patch swaps, start/stop.
    pub markers: Vec<(Tick, String)>,
    /// Provenance lines written as text events at tick 0.
    pub provenance: Vec<String>,
    /// End of the piece (End of Track of every track); at least the last event's tick.
    pub end: Tick,
}

impl SessionMidi {
    /// Collects the events of a run.
    pub fn from_events(
        map: &TempoMap,
        sig: TimeSig,
        tracks: &[TrackInfo],
        events: &[TimedEvent],
        markers: &[(Tick, String)],
        provenance: Vec<String>,
        end: Tick,
    ) -> SessionMidi {
        SessionMidi {
            time_sig: sig,
            tempo: map.changes(),
            tracks: tracks.to_vec(),
            events: events.iter().map(|e| (e.tick, e.event)).collect(),
            markers: markers.to_vec(),
            provenance,
            end,
        }
    }

    /// The SMF bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let end = self
            .events
            .iter()
            .map(|e| e.0)
            .chain(self.markers.iter().map(|m| m.0))
            .chain(self.tempo.iter().map(|t| t.0))
            .max()
            .unwrap_or(0)
            .max(self.end);
        let mut tracks: Vec<Vec<TrackEvent<'_>>> = Vec::with_capacity(self.tracks.len() + 1);

        // Conductor track.
        let mut conductor: Vec<(Tick, TrackEventKind<'_>)> =
            vec![(0, TrackEventKind::Meta(MetaMessage::TrackName(b"weft")))];
        for line in &self.provenance {
            conductor.push((0, TrackEventKind::Meta(MetaMessage::Text(line.as_bytes()))));
        }
        conductor.push((
            0,
            TrackEventKind::Meta(MetaMessage::TimeSignature(
                self.time_sig.num,
                self.time_sig.den.trailing_zeros() as u8,
                24,
                8,
            )),
        ));
        for (t, bpm) in &self.tempo {
            conductor.push((
                *t,
                TrackEventKind::Meta(MetaMessage::Tempo(u24::new(TempoMap::micros_per_quarter(
                    *bpm,
                )))),
            ));
        }
        for (t, text) in &self.markers {
            conductor.push((
                *t,
                TrackEventKind::Meta(MetaMessage::Marker(text.as_bytes())),
            ));
        }
        // Stable sort keeps insertion order among equal ticks.
        conductor.sort_by_key(|e| e.0);
        tracks.push(delta_encode(conductor, end));

        // One output track per voice track, in order. A format-1 file holds at most 65,535
        // tracks (the conductor included), so past that the rest share the last one.
        let slots = MAX_SMF_TRACKS - 1;
        let merged = self.tracks.len().saturating_sub(slots - 1);
        let merged_name = format!("weft: {merged} tracks merged");
        let mut index: std::collections::HashMap<u16, usize> = Default::default();
        let mut voice_tracks: Vec<Vec<(Tick, TrackEventKind<'_>)>> = Vec::new();
        for (i, info) in self.tracks.iter().enumerate() {
            let slot = if merged > 1 { i.min(slots - 1) } else { i };
            index.entry(info.id).or_insert(slot);
            if slot < voice_tracks.len() {
                continue;
            }
            let name: &[u8] = if merged > 1 && slot == slots - 1 {
                merged_name.as_bytes()
            } else {
                info.name.as_bytes()
            };
            let mut evs = vec![(0, TrackEventKind::Meta(MetaMessage::TrackName(name)))];
            if let Some(p) = info.program {
                evs.push((
                    0,
                    TrackEventKind::Midi {
                        channel: u4::new(info.channel & 0x0f),
                        message: MidiMessage::ProgramChange {
                            program: u7::new(p & 0x7f),
                        },
                    },
                ));
            }
            voice_tracks.push(evs);
        }
        for (t, e) in &self.events {
            let (track, channel, message) = match *e {
                Event::NoteOn {
                    track,
                    key,
                    vel,
                    channel,
                    ..
                } => (
                    track,
                    channel,
                    MidiMessage::NoteOn {
                        key: u7::new(key & 0x7f),
                        vel: u7::new(vel.clamp(1, 127)),
                    },
                ),
                Event::NoteOff {
                    track,
                    key,
                    channel,
                } => (
                    track,
                    channel,
                    MidiMessage::NoteOff {
                        key: u7::new(key & 0x7f),
                        vel: u7::new(64),
                    },
                ),
                Event::Param { .. } => continue,
            };
            if let Some(&slot) = index.get(&track) {
                voice_tracks[slot].push((
                    *t,
                    TrackEventKind::Midi {
                        channel: u4::new(channel & 0x0f),
                        message,
                    },
                ));
            }
        }
        for evs in voice_tracks {
            tracks.push(delta_encode(evs, end));
        }
        let smf = Smf {
            header: Header::new(Format::Parallel, Timing::Metrical(u15::new(TPQ as u16))),
            tracks,
        };
        let mut out = Vec::new();
        smf.write_std(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// Writes the file: to a temporary file in the same folder first (synced), then renamed
    /// into place, so a failed write never leaves a half file. An existing file is replaced
    /// only if it is a MIDI file ([`check_replaceable`]).
    pub fn write(&self, path: &Path) -> Result<(), SmfError> {
        check_replaceable(path)?;
        self.write_via_temp(path, |tmp, path| std::fs::rename(tmp, path))
    }

    /// Like [`SessionMidi::write`], but never replaces anything: [`SmfError::Exists`] if
    /// `path` exists (checked atomically, by linking the finished file into place).
    pub fn write_new(&self, path: &Path) -> Result<(), SmfError> {
        self.write_via_temp(path, |tmp, path| {
            std::fs::hard_link(tmp, path)?;
            std::fs::remove_file(tmp)
        })
        .map_err(|e| match e {
            SmfError::Io { path, error } if error.kind() == std::io::ErrorKind::AlreadyExists => {
                SmfError::Exists { path }
            }
            e => e,
        })
    }

    fn write_via_temp(
        &self,
        path: &Path,
        place: impl FnOnce(&Path, &Path) -> std::io::Result<()>,
    ) -> Result<(), SmfError> {
        use std::io::Write;
        let io = |error| SmfError::Io {
            path: path.display().to_string(),
            error,
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.{}.weft-tmp", std::process::id()));
        let bytes = self.to_bytes();
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.sync_all()
            })
            .and_then(|()| place(&tmp, path));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }
}

/// Absolute ticks → delta times. A gap longer than a delta can hold (2^28 - 1 ticks) is
/// bridged by empty text events, so every event keeps its exact absolute tick.
fn delta_encode(events: Vec<(Tick, TrackEventKind<'_>)>, end: Tick) -> Vec<TrackEvent<'_>> {
    fn push<'a>(out: &mut Vec<TrackEvent<'a>>, mut gap: u64, kind: TrackEventKind<'a>) {
        while gap > MAX_DELTA {
            out.push(TrackEvent {
                delta: u28::new(MAX_DELTA as u32),
                kind: TrackEventKind::Meta(MetaMessage::Text(b"")),
            });
            gap -= MAX_DELTA;
        }
        out.push(TrackEvent {
            delta: u28::new(gap as u32),
            kind,
        });
    }
    let mut last = 0;
    let mut out: Vec<TrackEvent<'_>> = Vec::with_capacity(events.len() + 1);
    for (t, kind) in events {
        push(&mut out, t.saturating_sub(last), kind);
        last = last.max(t);
    }
    push(
        &mut out,
        end.saturating_sub(last),
        TrackEventKind::Meta(MetaMessage::EndOfTrack),
    );
    out
}

/// A note read back from a MIDI file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadNote {
    pub track: String,
    pub channel: u8,
    pub key: u8,
    pub vel: u8,
    pub start: Tick,
    pub end: Tick,
}

/// What [`read`] returns: notes paired on/off, markers, tempo changes, and the problems found
/// (a note-on without note-off, overlapping same-key notes on a channel).
#[derive(Clone, Debug, Default)]
pub struct ReadBack {
    pub tpq: u16,
    pub format: String,
    pub notes: Vec<ReadNote>,
    pub markers: Vec<(Tick, String)>,
    pub texts: Vec<String>,
    pub tempo: Vec<(Tick, u32)>,
    pub track_names: Vec<String>,
    /// Program changes: (track name, channel, program 0-based), in file order.
    pub programs: Vec<(String, u8, u8)>,
    pub problems: Vec<String>,
}

/// Parses a MIDI file with midly and pairs its notes.
pub fn read(bytes: &[u8], name: &str) -> Result<ReadBack, SmfError> {
    let smf = Smf::parse(bytes).map_err(|e| SmfError::Parse {
        path: name.to_string(),
        msg: e.to_string(),
    })?;
    let mut rb = ReadBack {
        tpq: match smf.header.timing {
            Timing::Metrical(t) => t.as_int(),
            Timing::Timecode(..) => 0,
        },
        format: format!("{:?}", smf.header.format),
        ..Default::default()
    };
    for track in &smf.tracks {
        let mut t: Tick = 0;
        let mut tname = String::new();
        let mut open: std::collections::HashMap<(u8, u8), (Tick, u8)> = Default::default();
        for ev in track {
            t += ev.delta.as_int() as Tick;
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::TrackName(n)) => {
                    tname = String::from_utf8_lossy(n).into_owned();
                    rb.track_names.push(tname.clone());
                }
                TrackEventKind::Meta(MetaMessage::Marker(m)) => rb
                    .markers
                    .push((t, String::from_utf8_lossy(m).into_owned())),
                // Empty texts only bridge gaps longer than one delta time.
                TrackEventKind::Meta(MetaMessage::Text(m)) if !m.is_empty() => {
                    rb.texts.push(String::from_utf8_lossy(m).into_owned())
                }
                TrackEventKind::Meta(MetaMessage::Tempo(us)) => rb.tempo.push((t, us.as_int())),
                TrackEventKind::Midi { channel, message } => {
                    let ch = channel.as_int();
                    if let MidiMessage::ProgramChange { program } = message {
                        rb.programs.push((tname.clone(), ch, program.as_int()));
                        continue;
                    }
                    let (key, on, vel) = match message {
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                            (key.as_int(), true, vel.as_int())
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            (key.as_int(), false, 0)
                        }
                        _ => continue,
                    };
                    if on {
                        if open.insert((ch, key), (t, vel)).is_some() {
                            rb.problems.push(format!(
                                "{tname}: key {key} ch {ch} retriggered at {t} before its note-off"
                            ));
                        }
                    } else if let Some((s, v)) = open.remove(&(ch, key)) {
                        rb.notes.push(ReadNote {
                            track: tname.clone(),
                            channel: ch,
                            key,
                            vel: v,
                            start: s,
                            end: t,
                        });
                    } else {
                        rb.problems.push(format!(
                            "{tname}: note-off without note-on, key {key} at {t}"
                        ));
                    }
                }
                _ => {}
            }
        }
        for ((ch, key), (s, _)) in open {
            rb.problems
                .push(format!("{tname}: key {key} ch {ch} from {s} never ends"));
        }
    }
    rb.notes
        .sort_by(|a, b| (a.start, &a.track, a.key).cmp(&(b.start, &b.track, b.key)));
    Ok(rb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::Sound;

    #[test]
    fn writes_a_format_1_file_that_reads_back() {
        let info = TrackInfo {
            id: 0,
            name: "a.kick".into(),
            channel: 9,
            program: None,
        };
        let on = Event::NoteOn {
            track: 0,
            channel: 9,
            key: 36,
            vel: 100,
            sound: Sound::default(),
        };
        let off = Event::NoteOff {
            track: 0,
            channel: 9,
            key: 36,
        };
        let s = SessionMidi {
            time_sig: TimeSig::default(),
            tempo: vec![(0, 120.0), (3840, 90.0)],
            tracks: vec![info],
            events: vec![(0, on), (480, off), (3840, on), (4000, off)],
            markers: vec![(0, "a.rhai v1".into())],
            provenance: vec!["weft 0.1.0".into()],
            end: 7680,
        };
        let bytes = s.to_bytes();
        assert_eq!(bytes, s.to_bytes());
        let rb = read(&bytes, "x.mid").unwrap();
        assert_eq!(rb.tpq, 960);
        assert_eq!(rb.format, "Parallel");
        assert_eq!(rb.notes.len(), 2);
        assert_eq!(rb.notes[1].start, 3840);
        assert_eq!(rb.notes[1].channel, 9);
        assert_eq!(rb.tempo, vec![(0, 500_000), (3840, 666_667)]);
        assert_eq!(rb.markers, vec![(0, "a.rhai v1".to_string())]);
        assert!(rb.problems.is_empty());
    }

    fn note(track: u16, on: bool) -> Event {
        if on {
            Event::NoteOn {
                track,
                channel: 0,
                key: 60,
                vel: 100,
                sound: Sound::default(),
            }
        } else {
            Event::NoteOff {
                track,
                channel: 0,
                key: 60,
            }
        }
    }

    fn one_track(events: Vec<(Tick, Event)>, end: Tick) -> SessionMidi {
        SessionMidi {
            time_sig: TimeSig::default(),
            tempo: vec![(0, 120.0)],
            tracks: vec![TrackInfo {
                id: 0,
                name: "a.lead".into(),
                channel: 0,
                program: None,
            }],
            events,
            markers: vec![],
            provenance: vec![],
            end,
        }
    }

    /// Absolute times of every event of every track, as midly parses them.
    fn absolute(bytes: &[u8]) -> Vec<Vec<(u64, String)>> {
        let smf = Smf::parse(bytes).unwrap();
        smf.tracks
            .iter()
            .map(|t| {
                let mut at = 0u64;
                t.iter()
                    .filter_map(|e| {
                        at += e.delta.as_int() as u64;
                        match e.kind {
                            TrackEventKind::Meta(MetaMessage::Text(b"")) => None,
                            k => Some((at, format!("{k:?}"))),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn gaps_longer_than_a_delta_time_keep_exact_absolute_ticks() {
        // 70,000 bars of 4/4: the end is past 2^28 ticks, and so is the gap to the last note.
        let end = 70_000 * 3840;
        let last = 69_999 * 3840;
        let s = one_track(
            vec![
                (0, note(0, true)),
                (480, note(0, false)),
                (last, note(0, true)),
                (last + 480, note(0, false)),
            ],
            end,
        );
        let bytes = s.to_bytes();
        let tracks = absolute(&bytes);
        let ends: Vec<u64> = tracks.iter().map(|t| t.last().unwrap().0).collect();
        assert_eq!(ends, vec![end, end], "End of Track at the real end");
        let rb = read(&bytes, "x.mid").unwrap();
        let starts: Vec<u64> = rb.notes.iter().map(|n| n.start).collect();
        assert_eq!(starts, vec![0, last]);
        assert_eq!(rb.notes[1].end, last + 480);
        assert!(
            rb.texts.is_empty(),
            "the bridging texts are empty and not reported"
        );
        assert!(rb.problems.is_empty());
        // A gap of several maximal deltas, ending exactly on a multiple.
        let far = 3 * MAX_DELTA;
        let rb = read(
            &one_track(
                vec![(far, note(0, true)), (far + 1, note(0, false))],
                far + 1,
            )
            .to_bytes(),
            "y.mid",
        )
        .unwrap();
        assert_eq!((rb.notes[0].start, rb.notes[0].end), (far, far + 1));
    }

    #[test]
    fn more_tracks_than_a_midi_file_holds_are_merged_not_a_panic() {
        let n = 65_536u32;
        let mut s = one_track(vec![], 960);
        s.tracks = (0..n)
            .map(|i| TrackInfo {
                id: i as u16,
                name: format!("t{i}"),
                channel: 0,
                program: None,
            })
            .collect();
        s.events = vec![
            (0, note(0, true)),
            (10, note(0, false)),
            (20, note(65_535, true)),
            (30, note(65_535, false)),
        ];
        let bytes = s.to_bytes();
        let rb = read(&bytes, "many.mid").unwrap();
        assert_eq!(
            rb.track_names.len(),
            MAX_SMF_TRACKS,
            "conductor + 65,534 tracks"
        );
        assert_eq!(rb.track_names.last().unwrap(), "weft: 3 tracks merged");
        assert_eq!(rb.notes.len(), 2, "no note lost");
        assert_eq!(rb.notes[1].track, "weft: 3 tracks merged");
    }

    #[test]
    fn write_replaces_only_midi_files_and_leaves_no_half_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = one_track(vec![(0, note(0, true)), (10, note(0, false))], 960);
        let patch = dir.path().join("p.rhai");
        std::fs::write(&patch, "tempo(120);\n").unwrap();
        let e = s.write(&patch).unwrap_err();
        assert!(matches!(e, SmfError::NotMidi { .. }), "{e}");
        assert_eq!(std::fs::read_to_string(&patch).unwrap(), "tempo(120);\n");
        let out = dir.path().join("o.mid");
        s.write(&out).unwrap();
        s.write(&out).unwrap();
        assert!(matches!(s.write_new(&out), Err(SmfError::Exists { .. })));
        assert!(s.write(dir.path()).is_err(), "a folder is not replaced");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
        // A failed write (the folder is gone) leaves nothing behind either.
        assert!(s.write(&dir.path().join("no/such/dir/x.mid")).is_err());
    }
}
