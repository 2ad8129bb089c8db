//! Tokenizer: Standard MIDI File ⇄ per-part token lines on a 16th-note grid.
//!
//! A piece becomes up to four monophonic lines (soprano, alto, tenor, bass). Each line is one
//! token per 16th step: `Note(p)` where a note starts, `Hold` while it sounds, `Rest` in
//! silence. Before tokenizing, the whole piece is transposed by the interval (−5..=+6
//! semitones) that puts the most note-time on the white keys (C major / A minor collection);
//! the interval is kept in [`Piece::transpose`] so decoding restores the original key. Lines
//! start with a part token (`<S>`, `<A>`, `<T>`, `<B>`) that conditions the model on the
//! voice. See `models/README.md` for why this representation.

use super::{LstmError, Result};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{
    Format, Header, MetaMessage, MidiMessage, Smf, Timing, Track, TrackEvent, TrackEventKind,
};
use std::path::Path;

/// Lowest and highest pitch the vocabulary can spell (after key normalisation).
pub const PITCH_LO: u8 = 24;
pub const PITCH_HI: u8 = 96;
/// Part tokens, then rest, hold, then one token per pitch.
pub const N_PARTS: usize = 4;
pub const REST: u32 = N_PARTS as u32;
pub const HOLD: u32 = REST + 1;
pub const NOTE0: u32 = HOLD + 1;
/// Size of the vocabulary.
pub const VOCAB: usize = NOTE0 as usize + (PITCH_HI - PITCH_LO) as usize + 1;
/// Grid steps per quarter note.
pub const STEPS_PER_QUARTER: u32 = 4;

/// A voice of a four-part texture. The model is conditioned on it by the line's first token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Part {
    #[default]
    Soprano,
    Alto,
    Tenor,
    Bass,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::Soprano, Part::Alto, Part::Tenor, Part::Bass];

    /// The part token that starts a line of this voice.
    pub fn token(self) -> u32 {
        self as u32
    }

    pub fn name(self) -> &'static str {
        match self {
            Part::Soprano => "soprano",
            Part::Alto => "alto",
            Part::Tenor => "tenor",
            Part::Bass => "bass",
        }
    }

    /// Parses `soprano`/`s`, `alto`/`a`, `tenor`/`t`, `bass`/`b` (any case).
    pub fn from_name(name: &str) -> Option<Part> {
        let n = name.to_ascii_lowercase();
        Part::ALL
            .into_iter()
            .find(|p| p.name() == n || p.name()[..1] == n)
    }
}

/// The token that starts a note of `pitch`, if the vocabulary can spell it.
pub fn note_token(pitch: u8) -> Option<u32> {
    (PITCH_LO..=PITCH_HI)
        .contains(&pitch)
        .then(|| NOTE0 + u32::from(pitch - PITCH_LO))
}

/// The pitch a note token starts, or `None` for part/rest/hold tokens.
pub fn token_pitch(token: u32) -> Option<u8> {
    (token >= NOTE0 && (token as usize) < VOCAB).then(|| PITCH_LO + (token - NOTE0) as u8)
}

/// A short human-readable label (`<S>`, `rest`, `hold`, `A4`).
pub fn token_label(token: u32) -> String {
    const NAMES: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    match token {
        t if (t as usize) < N_PARTS => {
            format!("<{}>", &Part::ALL[t as usize].name()[..1].to_uppercase())
        }
        REST => "rest".into(),
        HOLD => "hold".into(),
        t => match token_pitch(t) {
            Some(p) => format!("{}{}", NAMES[(p % 12) as usize], i32::from(p) / 12 - 1),
            None => format!("?{t}"),
        },
    }
}

/// A sounding note on the grid: `[start, end)` in 16th steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GridNote {
    pub start: u32,
    pub end: u32,
    pub pitch: u8,
}

/// One tokenized piece: its lines (without the leading part token) and the transposition
/// that was applied (`normalised = original − transpose`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub name: String,
    pub transpose: i8,
    pub lines: Vec<(Part, Vec<u32>)>,
}

impl Piece {
    /// Each line as a model sequence: part token first.
    pub fn sequences(&self) -> impl Iterator<Item = Vec<u32>> + '_ {
        self.lines.iter().map(|(part, toks)| {
            let mut s = Vec::with_capacity(toks.len() + 1);
            s.push(part.token());
            s.extend_from_slice(toks);
            s
        })
    }
}

/// Reads the note tracks of a MIDI file as grid notes (one `Vec` per track that has notes;
/// channel 10 drums skipped). Times are rounded to the nearest 16th.
pub fn read_grid_tracks(bytes: &[u8]) -> std::result::Result<Vec<Vec<GridNote>>, String> {
    let smf = Smf::parse(bytes).map_err(|e| e.to_string())?;
    let tpq = match smf.header.timing {
        Timing::Metrical(t) => u32::from(t.as_int()).max(1),
        Timing::Timecode(..) => return Err("SMPTE timecode timing is not supported".into()),
    };
    let to_step = |tick: u64| -> u32 {
        ((tick * u64::from(STEPS_PER_QUARTER) + u64::from(tpq) / 2) / u64::from(tpq)) as u32
    };
    let mut tracks = Vec::new();
    for track in &smf.tracks {
        let mut tick = 0u64;
        let mut open: Vec<(u8, u8, u64)> = Vec::new(); // (channel, key, start tick)
        let mut notes = Vec::new();
        for ev in track {
            tick += u64::from(ev.delta.as_int());
            if let TrackEventKind::Midi { channel, message } = ev.kind {
                let ch = channel.as_int();
                if ch == 9 {
                    continue;
                }
                let (key, on) = match message {
                    MidiMessage::NoteOn { key, vel } => (key.as_int(), vel.as_int() > 0),
                    MidiMessage::NoteOff { key, .. } => (key.as_int(), false),
                    _ => continue,
                };
                // Close a sounding note of the same key (a repeated note-on also ends it).
                if let Some(i) = open.iter().position(|&(c, k, _)| c == ch && k == key) {
                    let (_, k, t0) = open.remove(i);
                    let start = to_step(t0);
                    notes.push(GridNote {
                        start,
                        end: to_step(tick).max(start + 1),
                        pitch: k,
                    });
                }
                if on {
                    open.push((ch, key, tick));
                }
            }
        }
        for (_, k, t0) in open {
            let start = to_step(t0);
            notes.push(GridNote {
                start,
                end: to_step(tick).max(start + 1),
                pitch: k,
            });
        }
        if !notes.is_empty() {
            notes.sort();
            tracks.push(notes);
        }
    }
    Ok(tracks)
}

/// The transposition in −5..=6 that puts the most note-time on the C-major collection
/// (ties: smallest |t|, then the positive one).
pub fn key_transpose(tracks: &[Vec<GridNote>]) -> i8 {
    const WHITE: [bool; 12] = [
        true, false, true, false, true, true, false, true, false, true, false, true,
    ];
    let mut hist = [0u64; 12];
    for n in tracks.iter().flatten() {
        hist[(n.pitch % 12) as usize] += u64::from(n.end - n.start);
    }
    transpose_for_histogram(&hist, &WHITE)
}

/// The t in −5..=6 maximising Σ hist[pc] over pcs with `target[(pc − t) mod 12]`.
pub fn transpose_for_histogram(hist: &[u64; 12], target: &[bool; 12]) -> i8 {
    let mut best = (0u64, 0i8);
    for t in [0i8, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6] {
        let score: u64 = (0..12)
            .filter(|&pc| target[(pc as i32 - i32::from(t)).rem_euclid(12) as usize])
            .map(|pc| hist[pc])
            .sum();
        if score > best.0 {
            best = (score, t);
        }
    }
    best.1
}

/// Assigns voices to note tracks by mean pitch: highest soprano, lowest bass.
fn assign_parts(tracks: &[Vec<GridNote>]) -> Vec<(Part, usize)> {
    let mut order: Vec<(f64, usize)> = tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                t.iter().map(|n| f64::from(n.pitch)).sum::<f64>() / t.len() as f64,
                i,
            )
        })
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let idx: Vec<usize> = order.iter().map(|&(_, i)| i).collect();
    match idx.len() {
        0 => vec![],
        1 => vec![(Part::Soprano, idx[0])],
        2 => vec![(Part::Soprano, idx[0]), (Part::Bass, idx[1])],
        3 => vec![
            (Part::Soprano, idx[0]),
            (Part::Alto, idx[1]),
            (Part::Bass, idx[2]),
        ],
        n => vec![
            (Part::Soprano, idx[0]),
            (Part::Alto, idx[1]),
            (Part::Tenor, idx[2]),
            (Part::Bass, idx[n - 1]),
        ],
    }
}

/// Moves a pitch by octaves into the vocabulary's range.
fn fold_into_range(mut p: i32) -> u8 {
    while p < i32::from(PITCH_LO) {
        p += 12;
    }
    while p > i32::from(PITCH_HI) {
        p -= 12;
    }
    p as u8
}

/// Turns one track's notes into a monophonic token line of `len` steps. Where notes overlap,
/// the highest sounds (the lowest for the bass).
pub fn line_tokens(notes: &[GridNote], len: u32, transpose: i8, lowest_wins: bool) -> Vec<u32> {
    let mut owner: Vec<Option<usize>> = vec![None; len as usize];
    for (i, n) in notes.iter().enumerate() {
        for s in n.start..n.end.min(len) {
            let slot = &mut owner[s as usize];
            let better = match *slot {
                None => true,
                Some(j) => {
                    let (a, b) = (notes[i].pitch, notes[j].pitch);
                    if lowest_wins {
                        a < b
                    } else {
                        a > b
                    }
                }
            };
            if better {
                *slot = Some(i);
            }
        }
    }
    let mut out = Vec::with_capacity(len as usize);
    let mut prev = None;
    for (s, o) in owner.iter().enumerate() {
        out.push(match *o {
            None => REST,
            Some(i) if prev == Some(i) && notes[i].start != s as u32 => HOLD,
            Some(i) => {
                let p = fold_into_range(i32::from(notes[i].pitch) - i32::from(transpose));
                note_token(p).expect("folded into range")
            }
        });
        prev = *o;
    }
    out
}

/// Tokenizes a MIDI file's bytes. `name` is kept for the split and for messages.
pub fn tokenize_bytes(name: &str, bytes: &[u8]) -> std::result::Result<Piece, String> {
    let tracks = read_grid_tracks(bytes)?;
    if tracks.is_empty() {
        return Err("no notes".into());
    }
    let transpose = key_transpose(&tracks);
    let len = tracks.iter().flatten().map(|n| n.end).max().unwrap_or(0);
    let lines = assign_parts(&tracks)
        .into_iter()
        .map(|(part, i)| {
            (
                part,
                line_tokens(&tracks[i], len, transpose, part == Part::Bass),
            )
        })
        .collect();
    Ok(Piece {
        name: name.to_string(),
        transpose,
        lines,
    })
}

/// Tokenizes a MIDI file; errors name the file.
pub fn tokenize_file(path: &Path) -> Result<Piece> {
    let bytes = std::fs::read(path).map_err(|cause| LstmError::Io {
        path: path.into(),
        cause,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tokenize_bytes(&name, &bytes).map_err(|reason| LstmError::Midi {
        path: path.into(),
        reason,
    })
}

/// Decodes a token line back to grid notes in the original key (`+ transpose`).
pub fn line_notes(tokens: &[u32], transpose: i8) -> Vec<GridNote> {
    let mut notes: Vec<GridNote> = Vec::new();
    let mut sounding = false;
    for (s, &t) in tokens.iter().enumerate() {
        let s = s as u32;
        if let Some(p) = token_pitch(t) {
            let pitch = (i32::from(p) + i32::from(transpose)).clamp(0, 127) as u8;
            notes.push(GridNote {
                start: s,
                end: s + 1,
                pitch,
            });
            sounding = true;
        } else if t == HOLD && sounding {
            notes.last_mut().expect("sounding").end = s + 1;
        } else {
            sounding = false;
        }
    }
    notes
}

/// Writes a piece as a format-1 SMF (one track per line, 480 ticks per quarter, channel =
/// line index), in the original key.
pub fn piece_to_midi(piece: &Piece) -> Vec<u8> {
    let lines: Vec<Vec<GridNote>> = piece
        .lines
        .iter()
        .map(|(_, toks)| line_notes(toks, piece.transpose))
        .collect();
    grid_to_midi(&lines)
}

/// Writes grid notes as a format-1 SMF at 120 bpm: one track (and channel) per line, 480
/// ticks per quarter.
pub fn grid_to_midi(lines: &[Vec<GridNote>]) -> Vec<u8> {
    const TPQ: u32 = 480;
    let tick = |s: u32| s * (TPQ / STEPS_PER_QUARTER);
    let mut tracks: Vec<Track> = Vec::new();
    tracks.push(vec![
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new(500_000))),
        },
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        },
    ]);
    for (ch, notes) in lines.iter().enumerate() {
        let channel = u4::new((ch % 9) as u8);
        let mut evs: Vec<(u32, bool, u8)> = Vec::new(); // (tick, on, key); offs sort first
        for &n in notes {
            evs.push((tick(n.start), true, n.pitch));
            evs.push((tick(n.end), false, n.pitch));
        }
        evs.sort_by_key(|&(t, on, k)| (t, on, k));
        let mut track = Vec::new();
        let mut last = 0;
        for (t, on, key) in evs {
            let message = if on {
                MidiMessage::NoteOn {
                    key: u7::new(key),
                    vel: u7::new(80),
                }
            } else {
                MidiMessage::NoteOff {
                    key: u7::new(key),
                    vel: u7::new(0),
                }
            };
            track.push(TrackEvent {
                delta: u28::new(t - last),
                kind: TrackEventKind::Midi { channel, message },
            });
            last = t;
        }
        track.push(TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        });
        tracks.push(track);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_labels_and_pitches_round_trip() {
        assert_eq!(token_label(Part::Bass.token()), "<B>");
        assert_eq!(token_label(REST), "rest");
        assert_eq!(token_label(note_token(69).unwrap()), "A4");
        assert_eq!(token_label(note_token(60).unwrap()), "C4");
        for p in PITCH_LO..=PITCH_HI {
            assert_eq!(token_pitch(note_token(p).unwrap()), Some(p));
        }
        assert_eq!(note_token(PITCH_HI + 1), None);
        assert_eq!(token_pitch(HOLD), None);
        assert_eq!(VOCAB as u32, note_token(PITCH_HI).unwrap() + 1);
    }

    #[test]
    fn key_normalisation_moves_g_major_to_c() {
        // G major scale, one quarter each: F# is the only black key; t = +7 ≡ −5 maps it to C.
        let g: Vec<GridNote> = [67u8, 69, 71, 72, 74, 76, 78, 79]
            .iter()
            .enumerate()
            .map(|(i, &p)| GridNote {
                start: 4 * i as u32,
                end: 4 * i as u32 + 4,
                pitch: p,
            })
            .collect();
        assert_eq!(key_transpose(std::slice::from_ref(&g)), -5);
        let c: Vec<GridNote> = g
            .iter()
            .map(|n| GridNote {
                pitch: n.pitch - 7,
                ..*n
            })
            .collect();
        assert_eq!(key_transpose(&[c]), 0);
    }

    #[test]
    fn overlapping_notes_keep_highest_or_lowest() {
        let notes = [
            GridNote {
                start: 0,
                end: 4,
                pitch: 60,
            },
            GridNote {
                start: 2,
                end: 6,
                pitch: 64,
            },
        ];
        let hi = line_tokens(&notes, 8, 0, false);
        let c = note_token(60).unwrap();
        let e = note_token(64).unwrap();
        assert_eq!(hi, vec![c, HOLD, e, HOLD, HOLD, HOLD, REST, REST]);
        let lo = line_tokens(&notes, 8, 0, true);
        assert_eq!(lo, vec![c, HOLD, HOLD, HOLD, e, HOLD, REST, REST]);
    }

    #[test]
    fn repeated_pitch_is_two_notes_not_a_hold() {
        let notes = [
            GridNote {
                start: 0,
                end: 2,
                pitch: 62,
            },
            GridNote {
                start: 2,
                end: 4,
                pitch: 62,
            },
        ];
        let d = note_token(62).unwrap();
        assert_eq!(line_tokens(&notes, 4, 0, false), vec![d, HOLD, d, HOLD]);
        assert_eq!(line_notes(&[d, HOLD, d, HOLD], 0), notes.to_vec());
    }

    #[test]
    fn parts_parse_by_name_and_initial() {
        assert_eq!(Part::from_name("Bass"), Some(Part::Bass));
        assert_eq!(Part::from_name("s"), Some(Part::Soprano));
        assert_eq!(Part::from_name("x"), None);
    }
}
