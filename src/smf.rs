//! Standard MIDI File output (and a small reader for tests and tools), with midly.
//!
//! One writer serves `weft render`, live recording and crash recovery, so what is
//! recorded and what is rendered are the same bytes for the same events. Layout:
//! format 1, 960 ticks per quarter; track 0 is the conductor (name, provenance text events
//! at tick 0, time signature, the full tempo map, markers); then one named track per voice
//! (program change for GM voices, note on/off pairs), each ending with End of Track.
//! Output is a pure function of the input: no clocks, no hash-map order.

use crate::event::{Event, Tick, TimedEvent, TrackInfo};
use crate::transport::{TempoMap, TimeSig, TPQ};
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

        for info in &self.tracks {
            let ch = u4::new(info.channel & 0x0f);
            let mut evs: Vec<(Tick, TrackEventKind<'_>)> = vec![(
                0,
                TrackEventKind::Meta(MetaMessage::TrackName(info.name.as_bytes())),
            )];
            if let Some(p) = info.program {
                evs.push((
                    0,
                    TrackEventKind::Midi {
                        channel: ch,
                        message: MidiMessage::ProgramChange {
                            program: u7::new(p & 0x7f),
                        },
                    },
                ));
            }
            for (t, e) in &self.events {
                match *e {
                    Event::NoteOn {
                        track,
                        key,
                        vel,
                        channel,
                        ..
                    } if track == info.id => evs.push((
                        *t,
                        TrackEventKind::Midi {
                            channel: u4::new(channel & 0x0f),
                            message: MidiMessage::NoteOn {
                                key: u7::new(key & 0x7f),
                                vel: u7::new(vel.clamp(1, 127)),
                            },
                        },
                    )),
                    Event::NoteOff {
                        track,
                        key,
                        channel,
                    } if track == info.id => evs.push((
                        *t,
                        TrackEventKind::Midi {
                            channel: u4::new(channel & 0x0f),
                            message: MidiMessage::NoteOff {
                                key: u7::new(key & 0x7f),
                                vel: u7::new(64),
                            },
                        },
                    )),
                    _ => {}
                }
            }
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

    /// Writes the file (to a temporary name first, then renamed into place).
    pub fn write(&self, path: &Path) -> Result<(), SmfError> {
        let io = |error| SmfError::Io {
            path: path.display().to_string(),
            error,
        };
        let tmp = path.with_extension("mid.tmp");
        std::fs::write(&tmp, self.to_bytes()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

fn delta_encode(events: Vec<(Tick, TrackEventKind<'_>)>, end: Tick) -> Vec<TrackEvent<'_>> {
    let mut last = 0;
    let mut out: Vec<TrackEvent<'_>> = Vec::with_capacity(events.len() + 1);
    for (t, kind) in events {
        out.push(TrackEvent {
            delta: u28::new((t - last) as u32),
            kind,
        });
        last = t;
    }
    out.push(TrackEvent {
        delta: u28::new(end.saturating_sub(last) as u32),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
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
                TrackEventKind::Meta(MetaMessage::Text(m)) => {
                    rb.texts.push(String::from_utf8_lossy(m).into_owned())
                }
                TrackEventKind::Meta(MetaMessage::Tempo(us)) => rb.tempo.push((t, us.as_int())),
                TrackEventKind::Midi { channel, message } => {
                    let ch = channel.as_int();
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
    use crate::event::Sound;

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
}
