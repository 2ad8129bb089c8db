//! Harmony for patches: scale degrees, chord symbols, voicings and arpeggio orders.
//!
//! Pure functions over MIDI note numbers; the pattern side (`n(..).scale(..)`, `chord(..)`,
//! `voicing(..)`, `arp(..)`) lives in `mini/transform_harmony.rs` and queries these once per
//! event. Names follow Strudel (`@strudel/tonal`) where it has them and Tidal for `arp` modes.

use super::hints::did_you_mean;
use super::theory;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HarmonyError {
    #[error("unknown chord '{symbol}'{hint} (qualities: {known})", known = QUALITY_NAMES.join(" "))]
    UnknownChord { symbol: String, hint: String },
    #[error(
        "'{0}' is not a chord root (write a letter A-G with an optional # or b, e.g. \"Bbmaj7\")"
    )]
    BadRoot(String),
    #[error("scale '{0}': write root:mode, e.g. \"C4:minor\" or \"A:harmonic:minor\"")]
    BadScaleSpec(String),
    #[error("{0}")]
    Theory(#[from] theory::TheoryError),
    #[error("unknown arp mode '{mode}'{hint} (modes: {known})", known = ARP_MODES.join(" "))]
    UnknownArp { mode: String, hint: String },
}

/// Chord qualities (the part of a symbol after the root) as semitones above the root. The
/// first spelling of each row is the one suggested in errors.
const QUALITIES: &[(&[&str], &[u8])] = &[
    (&["", "maj", "M", "major"], &[0, 4, 7]),
    (&["m", "min", "-", "minor"], &[0, 3, 7]),
    (&["dim", "o"], &[0, 3, 6]),
    (&["aug", "+"], &[0, 4, 8]),
    (&["sus2"], &[0, 2, 7]),
    (&["sus4", "sus"], &[0, 5, 7]),
    (&["5"], &[0, 7]),
    (&["6", "M6"], &[0, 4, 7, 9]),
    (&["m6", "-6"], &[0, 3, 7, 9]),
    (&["7", "dom7"], &[0, 4, 7, 10]),
    (&["maj7", "M7", "^7", "^", "Δ", "Δ7"], &[0, 4, 7, 11]),
    (&["m7", "min7", "-7"], &[0, 3, 7, 10]),
    (&["mM7", "m^7", "mmaj7"], &[0, 3, 7, 11]),
    (&["m7b5", "ø", "ø7", "h7", "-7b5"], &[0, 3, 6, 10]),
    (&["dim7", "o7"], &[0, 3, 6, 9]),
    (&["7sus4", "7sus"], &[0, 5, 7, 10]),
    (&["9"], &[0, 4, 7, 10, 14]),
    (&["maj9", "M9", "^9"], &[0, 4, 7, 11, 14]),
    (&["m9", "min9", "-9"], &[0, 3, 7, 10, 14]),
    (&["11"], &[0, 4, 7, 10, 14, 17]),
    (&["m11", "-11"], &[0, 3, 7, 10, 14, 17]),
    (&["13"], &[0, 4, 7, 10, 14, 21]),
    (&["add9", "add2"], &[0, 4, 7, 14]),
    (&["madd9", "m(add9)"], &[0, 3, 7, 14]),
    (&["7b9"], &[0, 4, 7, 10, 13]),
    (&["7#9"], &[0, 4, 7, 10, 15]),
    (&["7b5"], &[0, 4, 6, 10]),
    (&["7#5", "aug7", "+7"], &[0, 4, 8, 10]),
];

/// The suggested spelling of each quality (for errors and docs).
pub const QUALITY_NAMES: &[&str] = &[
    "(major)", "m", "dim", "aug", "sus2", "sus4", "5", "6", "m6", "7", "maj7", "m7", "mM7", "m7b5",
    "dim7", "7sus4", "9", "maj9", "m9", "11", "m11", "13", "add9", "madd9", "7b9", "7#9", "7b5",
    "7#5",
];

/// A parsed chord symbol: root pitch class, intervals above the root, slash bass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chord {
    pub root: u8,
    pub intervals: Vec<u8>,
    /// The pitch class of a slash bass (`C/E` → 4).
    pub bass: Option<u8>,
}

/// Parses a root: a letter A-G, then `#`/`s` or `b` (at most two), returning the pitch class
/// and the rest of the text.
fn parse_root(s: &str) -> Option<(u8, &str)> {
    let mut chars = s.char_indices();
    let (_, letter) = chars.next()?;
    let pc: i32 = match letter.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let mut acc = 0;
    let mut rest = &s[1..];
    for _ in 0..2 {
        match rest.as_bytes().first() {
            Some(b'#') => acc += 1,
            // `b` is a flat unless it starts a quality (no quality starts with `b`).
            Some(b'b') => acc -= 1,
            _ => break,
        }
        rest = &rest[1..];
    }
    Some(((pc + acc).rem_euclid(12) as u8, rest))
}

/// Parses a chord symbol: `Cm7`, `Bbmaj7`, `F#m7b5`, `C^7`, `Dø`, `G7#9`, `F7/A`. In a
/// pattern the slash bass may also be written with `.` (`F7.A`), as `/` slows a step there.
pub fn parse_chord(symbol: &str) -> Result<Chord, HarmonyError> {
    let s = symbol.trim();
    let (body, bass) = match s.rfind(['/', '.']) {
        Some(i) if i > 0 => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    };
    let (root, quality) = parse_root(body).ok_or_else(|| HarmonyError::BadRoot(s.to_string()))?;
    let bass = match bass {
        None => None,
        Some(b) => match parse_root(b) {
            Some((pc, "")) => Some(pc),
            _ => return Err(HarmonyError::BadRoot(format!("{s} (bass '{b}')"))),
        },
    };
    let intervals = QUALITIES
        .iter()
        .find(|(names, _)| names.contains(&quality))
        .map(|(_, iv)| iv.to_vec())
        .ok_or_else(|| {
            let root_text = &body[..body.len() - quality.len()];
            let mut spelled: Vec<String> = QUALITIES
                .iter()
                .flat_map(|(names, _)| names.iter())
                .map(|q| format!("{root_text}{q}"))
                .collect();
            // Of equally near names, one as long as the slip first (`Fmaj8` → `Fmaj7`).
            spelled.sort_by_key(|x| x.chars().count().abs_diff(body.chars().count()));
            HarmonyError::UnknownChord {
                symbol: s.to_string(),
                hint: did_you_mean(body, spelled.iter().map(|x| x.as_str())),
            }
        })?;
    Ok(Chord {
        root,
        intervals,
        bass,
    })
}

/// A scale for degrees: its root note and its steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scale {
    pub root: i32,
    pub steps: &'static [u8],
}

/// Parses Strudel's `root:mode` (`C4:minor`, `A:harmonic:minor`, `Eb:major pentatonic`); a
/// root without an octave is in octave 3, as in Strudel (`C:major` degree 0 = C3 = 48).
pub fn parse_scale(parts: &[String]) -> Result<Scale, HarmonyError> {
    let whole = parts.join(":");
    let bad = || HarmonyError::BadScaleSpec(whole.clone());
    let (first, modes) = parts.split_first().ok_or_else(bad)?;
    if modes.is_empty() {
        return Err(bad());
    }
    let (pc, octave) = parse_root(first).ok_or_else(bad)?;
    let octave: i32 = if octave.is_empty() {
        3
    } else {
        octave.parse().map_err(|_| bad())?
    };
    if !(-1..=9).contains(&octave) {
        return Err(bad());
    }
    let mode = modes.join("_");
    let steps = theory::scale_steps(&mode)?;
    // The root's octave follows its letter (Cb4 is B3), as in note names.
    let letter_pc = parse_root(&first[..1]).map_or(0, |(p, _)| p as i32);
    let shift = pc as i32 - letter_pc;
    let shift = if shift > 6 {
        shift - 12
    } else if shift < -6 {
        shift + 12
    } else {
        shift
    };
    Ok(Scale {
        root: (octave + 1) * 12 + letter_pc + shift,
        steps,
    })
}

impl Scale {
    /// The note of scale degree `d` (0 = the root; 7 in a 7-note scale is the root an
    /// octave up, -1 the step below the root), if it is a MIDI note.
    pub fn degree(&self, d: i64) -> Option<u8> {
        let len = self.steps.len() as i64;
        let octave = d.div_euclid(len);
        let step = self.steps[d.rem_euclid(len) as usize] as i64;
        let n = self.root as i64 + 12 * octave + step;
        (0..=127).contains(&n).then_some(n as u8)
    }
}

/// Where a voicing sits relative to its anchor note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The top note as high as possible but not above the anchor (Strudel's default).
    Below,
    /// The bottom note as low as possible but not below the anchor.
    Above,
}

/// How chords become notes (`.voicing(#{ ... })`).
#[derive(Clone, Debug, PartialEq)]
pub struct Voicing {
    pub inversion: i64,
    pub drop2: bool,
    pub anchor: u8,
    pub placement: Placement,
    /// The notes every voicing must lie within when voice-leading.
    pub range: (u8, u8),
    /// Voice leading: each chord takes the voicing nearest the previous chord's.
    pub lead: bool,
    /// Voice leading starts afresh every this many cycles (so any cycle is computed from a
    /// bounded past and the same whatever was queried before).
    pub reset: u32,
}

impl Default for Voicing {
    fn default() -> Self {
        Voicing {
            inversion: 0,
            drop2: false,
            anchor: 72,
            placement: Placement::Below,
            range: (48, 84),
            lead: false,
            reset: 8,
        }
    }
}

/// The chord's notes in semitones from its root, in close position with `inversion`
/// applied (a slash bass at the bottom: the inversion that puts a chord tone lowest, or an
/// added note below) and drop-2 if asked (the second note from the top an octave down).
pub fn chord_tones(chord: &Chord, inversion: i64, drop2: bool) -> Vec<i32> {
    let mut notes: Vec<i32> = chord.intervals.iter().map(|i| *i as i32).collect();
    let n = notes.len() as i64;
    if let Some(b) = chord.bass {
        let rel = (b as i32 - chord.root as i32).rem_euclid(12);
        if let Some(i) = notes.iter().position(|x| x.rem_euclid(12) == rel) {
            notes.rotate_left(i);
            let len = notes.len();
            for x in &mut notes[len - i..] {
                *x += 12;
            }
        } else {
            notes.insert(0, rel - 12);
        }
    }
    // Inversion k moves the lowest note an octave up k times (negative: the top note down).
    let k = inversion.clamp(-n * 4, n * 4);
    for _ in 0..k.max(0) {
        let low = notes.remove(0);
        notes.push(low + 12);
    }
    for _ in 0..(-k).max(0) {
        let high = notes.pop().unwrap_or(0);
        notes.insert(0, high - 12);
    }
    if drop2 && notes.len() >= 3 {
        let x = notes.remove(notes.len() - 2);
        notes.insert(0, x - 12);
    }
    notes.sort_unstable();
    notes
}

/// Places the chord's tones so they satisfy the placement against the anchor.
fn place(tones: &[i32], root: u8, anchor: i32, placement: Placement) -> Vec<i32> {
    let (low, top) = (tones[0], *tones.last().unwrap_or(&0));
    // `base` is where the root's pitch class sits; notes are base + tone.
    let r = root as i32;
    let base = match placement {
        Placement::Below => {
            let max = anchor - top;
            max - (max - r).rem_euclid(12)
        }
        Placement::Above => {
            let min = anchor - low;
            min + (r - min).rem_euclid(12)
        }
    };
    tones.iter().map(|t| base + t).collect()
}

fn to_notes(v: Vec<i32>) -> Option<Vec<u8>> {
    v.into_iter()
        .map(|n| u8::try_from(n).ok().filter(|n| *n <= 127))
        .collect()
}

/// The chord voiced at the anchor (no voice leading): `None` if a note leaves 0..127.
pub fn voice(chord: &Chord, v: &Voicing) -> Option<Vec<u8>> {
    let tones = chord_tones(chord, v.inversion, v.drop2);
    to_notes(place(&tones, chord.root, v.anchor as i32, v.placement))
}

/// How far the voices move from `a` to `b` (both sorted): the sum of the distances of
/// matching voices when both have as many notes, else of each note to its nearest note
/// in the other chord, both ways.
pub fn movement(a: &[u8], b: &[u8]) -> u32 {
    let d = |x: u8, y: u8| (x as i32 - y as i32).unsigned_abs();
    if a.len() == b.len() {
        return a.iter().zip(b).map(|(x, y)| d(*x, *y)).sum();
    }
    let near = |x: u8, ys: &[u8]| ys.iter().map(|y| d(x, *y)).min().unwrap_or(0);
    a.iter().map(|x| near(*x, b)).sum::<u32>() + b.iter().map(|y| near(*y, a)).sum::<u32>()
}

/// Every voicing of the chord within the range: each inversion (with drop-2 if asked) at
/// every octave that fits. Sorted, so ties are broken the same way every time.
pub fn candidates(chord: &Chord, v: &Voicing) -> Vec<Vec<u8>> {
    let n = chord.intervals.len() as i64 + i64::from(chord.bass.is_some());
    let (lo, hi) = (v.range.0 as i32, v.range.1 as i32);
    let mut out = Vec::new();
    for inv in 0..n {
        let tones = chord_tones(chord, inv, v.drop2);
        let (low, top) = (tones[0], *tones.last().unwrap_or(&0));
        // The lowest root position whose lowest note is in range, then octave by octave.
        let min = lo - low;
        let mut base = min + (chord.root as i32 - min).rem_euclid(12);
        while base + top <= hi {
            if let Some(notes) = to_notes(tones.iter().map(|t| base + t).collect()) {
                out.push(notes);
            }
            base += 12;
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The voicing of `chord` that moves least from `prev` (ties: the one whose top note is
/// nearest the anchor, then the lowest); the anchored voicing when nothing fits the range.
pub fn lead(prev: &[u8], chord: &Chord, v: &Voicing) -> Option<Vec<u8>> {
    let top_dist = |c: &Vec<u8>| (*c.last().unwrap_or(&0) as i32 - v.anchor as i32).abs();
    candidates(chord, v)
        .into_iter()
        .min_by(|a, b| {
            (movement(prev, a), top_dist(a), a).cmp(&(movement(prev, b), top_dist(b), b))
        })
        .or_else(|| voice(chord, v))
}

/// Tidal's `arp` modes.
pub const ARP_MODES: &[&str] = &[
    "up",
    "down",
    "updown",
    "downup",
    "converge",
    "diverge",
    "disconverge",
    "pinkyup",
    "thumbup",
];

/// Checks an arp mode name.
pub fn check_arp_mode(mode: &str) -> Result<(), HarmonyError> {
    if ARP_MODES.contains(&mode) {
        Ok(())
    } else {
        Err(HarmonyError::UnknownArp {
            mode: mode.to_string(),
            hint: did_you_mean(mode, ARP_MODES.iter().copied()),
        })
    }
}

fn converge<T: Copy>(xs: &[T]) -> Vec<T> {
    let (mut i, mut j) = (0usize, xs.len());
    let mut out = Vec::with_capacity(xs.len());
    while i < j {
        out.push(xs[i]);
        i += 1;
        if i < j {
            j -= 1;
            out.push(xs[j]);
        }
    }
    out
}

/// The order in which an arp `mode` plays the notes `xs` (lowest first), as Tidal's `arp`:
/// `updown` of `a b c d` is `a b c d c b`, `converge` is `a d b c`.
pub fn arp_order<T: Copy>(mode: &str, xs: &[T]) -> Vec<T> {
    let init = |v: &[T]| v[..v.len().saturating_sub(1)].to_vec();
    let rev: Vec<T> = xs.iter().rev().copied().collect();
    match mode {
        "down" => rev,
        "updown" => [init(xs), init(&rev)].concat(),
        "downup" => [init(&rev), init(xs)].concat(),
        "converge" => converge(xs),
        "diverge" => converge(xs).into_iter().rev().collect(),
        "disconverge" => {
            let c = converge(xs);
            let back: Vec<T> = c.iter().rev().skip(1).copied().collect();
            [c, back].concat()
        }
        "pinkyup" => match xs.split_last() {
            Some((last, rest)) => rest.iter().flat_map(|x| [*x, *last]).collect(),
            None => Vec::new(),
        },
        "thumbup" => match xs.split_first() {
            Some((first, rest)) => rest.iter().flat_map(|x| [*first, *x]).collect(),
            None => Vec::new(),
        },
        _ => xs.to_vec(),
    }
}

#[cfg(test)]
#[path = "harmony_tests.rs"]
mod tests;
