//! Music theory for patches: note names, scales, chords and Euclidean rhythms.
//!
//! Pure functions over MIDI note numbers; the patch language exposes them as `scale`,
//! `chord`, `note` and `euclid`.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TheoryError {
    #[error("'{0}' is not a note name (try \"C4\", \"F#3\", \"Bb2\")")]
    BadNote(String),
    #[error("unknown scale '{0}'{hint} (known: {known})", hint = super::hints::did_you_mean(.0, SCALES.iter().map(|s| s.0)), known = SCALES.iter().map(|s| s.0).collect::<Vec<_>>().join(", "))]
    BadScale(String),
    #[error("unknown chord '{0}'{hint} (known: {known})", hint = super::hints::did_you_mean(.0, CHORDS.iter().map(|s| s.0)), known = CHORDS.iter().map(|s| s.0).collect::<Vec<_>>().join(", "))]
    BadChord(String),
    #[error("{what} from {root} reaches note {top}, above 127 (choose a lower root)")]
    TooHigh {
        what: String,
        root: String,
        top: u32,
    },
    #[error("euclid({k}, {n}): need 0 <= k <= n and 1 <= n <= 64")]
    BadEuclid { k: i64, n: i64 },
}

/// Scale modes as semitone offsets from the root.
pub const SCALES: &[(&str, &[u8])] = &[
    ("major", &[0, 2, 4, 5, 7, 9, 11]),
    ("ionian", &[0, 2, 4, 5, 7, 9, 11]),
    ("dorian", &[0, 2, 3, 5, 7, 9, 10]),
    ("phrygian", &[0, 1, 3, 5, 7, 8, 10]),
    ("lydian", &[0, 2, 4, 6, 7, 9, 11]),
    ("mixolydian", &[0, 2, 4, 5, 7, 9, 10]),
    ("minor", &[0, 2, 3, 5, 7, 8, 10]),
    ("aeolian", &[0, 2, 3, 5, 7, 8, 10]),
    ("locrian", &[0, 1, 3, 5, 6, 8, 10]),
    ("harmonic_minor", &[0, 2, 3, 5, 7, 8, 11]),
    ("melodic_minor", &[0, 2, 3, 5, 7, 9, 11]),
    ("major_pentatonic", &[0, 2, 4, 7, 9]),
    ("minor_pentatonic", &[0, 3, 5, 7, 10]),
    ("blues", &[0, 3, 5, 6, 7, 10]),
    ("major_blues", &[0, 2, 3, 4, 7, 9]),
    ("whole_tone", &[0, 2, 4, 6, 8, 10]),
    ("diminished", &[0, 2, 3, 5, 6, 8, 9, 11]),
    ("harmonic_major", &[0, 2, 4, 5, 7, 8, 11]),
    ("phrygian_dominant", &[0, 1, 4, 5, 7, 8, 10]),
    ("chromatic", &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
];

/// Chord kinds as semitone offsets from the root.
pub const CHORDS: &[(&str, &[u8])] = &[
    ("major", &[0, 4, 7]),
    ("minor", &[0, 3, 7]),
    ("dim", &[0, 3, 6]),
    ("aug", &[0, 4, 8]),
    ("sus2", &[0, 2, 7]),
    ("sus4", &[0, 5, 7]),
    ("maj7", &[0, 4, 7, 11]),
    ("min7", &[0, 3, 7, 10]),
    ("dom7", &[0, 4, 7, 10]),
    ("m7b5", &[0, 3, 6, 10]),
    ("dim7", &[0, 3, 6, 9]),
    ("add9", &[0, 4, 7, 14]),
    ("min9", &[0, 3, 7, 10, 14]),
    ("maj9", &[0, 4, 7, 11, 14]),
    ("power", &[0, 7, 12]),
];

/// Parses a note name (`"A2"`, `"c#4"`, `"Bb3"`, `"e"` = octave 4) to a MIDI note, C4 = 60.
pub fn note_number(name: &str) -> Result<u8, TheoryError> {
    let bad = || TheoryError::BadNote(name.to_string());
    let s = name.trim();
    let mut chars = s.chars();
    let letter = chars.next().ok_or_else(bad)?;
    let pc: i32 = match letter.to_ascii_lowercase() {
        'c' => 0,
        'd' => 2,
        'e' => 4,
        'f' => 5,
        'g' => 7,
        'a' => 9,
        'b' => 11,
        _ => return Err(bad()),
    };
    let rest = chars.as_str();
    let (acc, octave_str) = match rest.as_bytes().first() {
        Some(b'#') | Some(b's') => (1, &rest[1..]),
        Some(b'b') => (-1, &rest[1..]),
        _ => (0, rest),
    };
    let octave: i32 = if octave_str.is_empty() {
        4
    } else {
        octave_str.parse().map_err(|_| bad())?
    };
    if !(-1..=9).contains(&octave) {
        return Err(bad());
    }
    let n = (octave + 1) * 12 + pc + acc;
    u8::try_from(n).ok().filter(|n| *n <= 127).ok_or_else(bad)
}

/// The name of a MIDI note, with sharps (`60` → `"C4"`).
pub fn note_name(n: u8) -> String {
    const NAMES: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    format!("{}{}", NAMES[n as usize % 12], n as i32 / 12 - 1)
}

fn lookup(table: &[(&str, &'static [u8])], name: &str) -> Option<&'static [u8]> {
    let key = name.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    let key = match key.as_str() {
        "maj" => "major",
        "m" | "min" => "minor",
        "pentatonic" | "major_pent" => "major_pentatonic",
        "minor_pent" => "minor_pentatonic",
        "wholetone" => "whole_tone",
        "7" => "dom7",
        "m7" => "min7",
        other => other,
    };
    table.iter().find(|(n, _)| *n == key).map(|(_, s)| *s)
}

/// The steps of a scale mode (semitones from the root), by name (`"minor"`, `"harmonic
/// minor"`, `"major_pentatonic"`, …; spaces, `-` and `_` alike).
pub fn scale_steps(mode: &str) -> Result<&'static [u8], TheoryError> {
    lookup(SCALES, mode).ok_or_else(|| TheoryError::BadScale(mode.to_string()))
}

/// The notes of `mode` from `root` upward for `octaves` octaves, up to MIDI note 127: a
/// scale is a set of notes to pick from, so the notes that exist are kept and the list ends
/// at the top of the range (a chord, which must sound whole, is an error instead).
pub fn scale(root: u8, mode: &str, octaves: u8) -> Result<Vec<u8>, TheoryError> {
    let steps = lookup(SCALES, mode).ok_or_else(|| TheoryError::BadScale(mode.to_string()))?;
    let mut out = Vec::with_capacity(steps.len() * octaves as usize);
    for o in 0..octaves.max(1) as u32 {
        for s in steps {
            let n = root as u32 + o * 12 + *s as u32;
            if n <= 127 {
                out.push(n as u8);
            }
        }
    }
    Ok(out)
}

/// The 12 pitch classes of a scale as a mask (`mask[pc]` is true when pc is in the scale).
pub fn scale_mask(root: u8, mode: &str) -> Result<[bool; 12], TheoryError> {
    let steps = lookup(SCALES, mode).ok_or_else(|| TheoryError::BadScale(mode.to_string()))?;
    let mut mask = [false; 12];
    for s in steps {
        mask[(root as usize + *s as usize) % 12] = true;
    }
    Ok(mask)
}

/// The notes of a chord of `kind` on `root`.
pub fn chord(root: u8, kind: &str) -> Result<Vec<u8>, TheoryError> {
    let steps = lookup(CHORDS, kind).ok_or_else(|| TheoryError::BadChord(kind.to_string()))?;
    let top = root as u32 + steps.iter().copied().max().unwrap_or(0) as u32;
    if top > 127 {
        return Err(TheoryError::TooHigh {
            what: format!("chord '{kind}'"),
            root: note_name(root),
            top,
        });
    }
    Ok(steps.iter().map(|s| root + *s).collect())
}

/// Bjorklund's algorithm: `k` onsets (`k <= n`) spread as evenly as possible over `n` steps,
/// starting with an onset — the same steps as Strudel's `bjork` (the mini-notation's `(k,n)`
/// uses it too; `tests/mini_strudel.rs` checks that against Strudel).
pub fn bjorklund(k: usize, n: usize) -> Vec<bool> {
    debug_assert!(k <= n);
    // Repeatedly pair the onset groups with the remainder groups.
    let mut a: Vec<Vec<bool>> = vec![vec![true]; k];
    let mut b: Vec<Vec<bool>> = vec![vec![false]; n.saturating_sub(k)];
    while a.len() > 1 && b.len() > 1 {
        let m = a.len().min(b.len());
        let rest = if a.len() > m {
            a.split_off(m)
        } else {
            b.split_off(m)
        };
        for (x, y) in a.iter_mut().zip(b.drain(..m)) {
            x.extend(y);
        }
        b = rest;
    }
    a.into_iter().chain(b).flatten().collect()
}

/// Euclidean rhythm E(k, n) rotated left by `rotation` steps: k onsets spread as evenly as
/// possible over n steps (Bjorklund / Toussaint), starting with an onset when unrotated.
pub fn euclid(k: i64, n: i64, rotation: i64) -> Result<Vec<bool>, TheoryError> {
    if !(1..=64).contains(&n) || !(0..=n).contains(&k) {
        return Err(TheoryError::BadEuclid { k, n });
    }
    let mut pattern = bjorklund(k as usize, n as usize);
    let r = rotation.rem_euclid(n) as usize;
    pattern.rotate_left(r);
    Ok(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(p: &[bool]) -> String {
        p.iter().map(|b| if *b { 'x' } else { '.' }).collect()
    }

    #[test]
    fn euclid_known_table() {
        // Toussaint, "The Euclidean Algorithm Generates Traditional Musical Rhythms".
        assert_eq!(show(&euclid(3, 8, 0).unwrap()), "x..x..x.");
        assert_eq!(show(&euclid(5, 8, 0).unwrap()), "x.xx.xx.");
        assert_eq!(show(&euclid(2, 5, 0).unwrap()), "x.x..");
        assert_eq!(show(&euclid(5, 12, 0).unwrap()), "x..x.x..x.x.");
        assert_eq!(show(&euclid(7, 16, 0).unwrap()), "x..x.x.x..x.x.x.");
        assert_eq!(show(&euclid(4, 12, 0).unwrap()), "x..x..x..x..");
        assert_eq!(show(&euclid(7, 16, 0).unwrap()).matches('x').count(), 7);
        assert_eq!(show(&euclid(0, 4, 0).unwrap()), "....");
        assert_eq!(show(&euclid(4, 4, 0).unwrap()), "xxxx");
        assert_eq!(show(&euclid(3, 8, 1).unwrap()), "..x..x.x");
        assert!(euclid(9, 8, 0).is_err());
        assert!(euclid(1, 0, 0).is_err());
    }

    #[test]
    fn note_names() {
        assert_eq!(note_number("C4"), Ok(60));
        assert_eq!(note_number("A2"), Ok(45));
        assert_eq!(note_number("a4"), Ok(69));
        assert_eq!(note_number("F#3"), Ok(54));
        assert_eq!(note_number("Bb2"), Ok(46));
        assert_eq!(note_number("C-1"), Ok(0));
        assert_eq!(note_number("G9"), Ok(127));
        assert!(note_number("G#9").is_err());
        assert!(note_number("H2").is_err());
        assert!(note_number("").is_err());
        assert_eq!(note_name(61), "C#4");
        for n in 0..=127u8 {
            assert_eq!(note_number(&note_name(n)), Ok(n));
        }
    }

    #[test]
    fn scales_and_chords() {
        assert_eq!(
            scale(57, "minor", 1).unwrap(),
            vec![57, 59, 60, 62, 64, 65, 67]
        );
        assert_eq!(
            scale(60, "major", 1).unwrap(),
            vec![60, 62, 64, 65, 67, 69, 71]
        );
        assert_eq!(
            scale(60, "dorian", 1).unwrap(),
            vec![60, 62, 63, 65, 67, 69, 70]
        );
        assert_eq!(
            scale(60, "minor_pentatonic", 1).unwrap(),
            vec![60, 63, 65, 67, 70]
        );
        assert_eq!(scale(60, "blues", 1).unwrap(), vec![60, 63, 65, 66, 67, 70]);
        assert_eq!(scale(60, "major pentatonic", 2).unwrap().len(), 10);
        assert!(scale(60, "klingon", 1).is_err());
        assert_eq!(chord(60, "major").unwrap(), vec![60, 64, 67]);
        assert_eq!(chord(57, "min7").unwrap(), vec![57, 60, 64, 67]);
        assert_eq!(chord(57, "m7").unwrap(), vec![57, 60, 64, 67]);
        assert_eq!(chord(60, "7").unwrap(), vec![60, 64, 67, 70]);
        // Notes above 127 are an error, never dropped or clamped into one note.
        let e = chord(127, "maj9").unwrap_err().to_string();
        assert!(e.contains("chord 'maj9' from G9 reaches note 141"), "{e}");
        assert!(chord(121, "major").is_err());
        assert_eq!(chord(120, "sus2").unwrap(), vec![120, 122, 127]);
        // Scales end at the top of the MIDI range; chords (below) must sound whole.
        assert_eq!(
            scale(120, "major", 1).unwrap(),
            vec![120, 122, 124, 125, 127]
        );
        assert_eq!(*scale(60, "major", 6).unwrap().last().unwrap(), 127);
        let mask = scale_mask(57, "minor").unwrap();
        assert!(mask[9] && mask[0] && !mask[1]);
    }
}
