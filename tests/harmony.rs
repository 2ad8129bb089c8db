//! Harmony end to end: a patch using `n(..).scale(..)`, `chord(..)`, `voicing(..)` and
//! `arp(..)` is rendered to a MIDI file, and the notes read back from the file are the ones
//! worked out by hand. Bad chord symbols are errors at their line and column.

use weft::engine::render::{render, RenderSpec};
use weft::patch::{check_file, NoModels};
use weft::record::smf;

/// Ticks in a 4/4 bar at 960 ticks per quarter.
const BAR: u64 = 3840;

/// Renders `src` for `bars` bars and returns (start tick, key) of every note in the MIDI
/// file, sorted.
fn notes(src: &str, bars: u64) -> Vec<(u64, u8)> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.rhai");
    std::fs::write(&p, src).unwrap();
    let spec = RenderSpec {
        patches: vec![p],
        bars,
        seed: 1,
        tempo: None,
        sample_rate: 48_000,
    };
    let r = render(&spec, Box::new(NoModels)).unwrap();
    let bytes = r.midi.to_bytes();
    let rb = smf::read(&bytes, "h.mid").unwrap();
    assert!(rb.problems.is_empty(), "{:?}", rb.problems);
    let mut out: Vec<(u64, u8)> = rb.notes.iter().map(|n| (n.start, n.key)).collect();
    out.sort_unstable();
    out
}

fn at(bar: u64, num: u64, den: u64, keys: &[u8]) -> Vec<(u64, u8)> {
    keys.iter()
        .map(|k| (bar * BAR + BAR * num / den, *k))
        .collect()
}

#[test]
fn scale_degrees_render_to_the_scale_notes() {
    let got = notes(
        "voice(\"m\", #{ synth: \"sine\" }).n(\"0 2 <4 6> [1 -1]\").scale(\"C4:minor\");\n",
        2,
    );
    // C minor from C4: 0 = C4 60, 2 = Eb4 63, 4 = G4 67, 6 = Bb4 70, 1 = D4 62, -1 = Bb3 58.
    let mut want = Vec::new();
    for (bar, third) in [(0, 67), (1, 70)] {
        want.extend(at(bar, 0, 4, &[60]));
        want.extend(at(bar, 1, 4, &[63]));
        want.extend(at(bar, 2, 4, &[third]));
        want.extend(at(bar, 3, 4, &[62]));
        want.extend(at(bar, 7, 8, &[58]));
    }
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn a_patterned_scale_changes_each_bar() {
    let got = notes(
        "voice(\"m\", #{ synth: \"sine\" }).n(\"0 2 7\").scale(\"<C:major A:minor>\");\n",
        2,
    );
    // No octave: octave 3 (Strudel's default). C3 E3 C4 | A3 C4 A4.
    let mut want = Vec::new();
    for (bar, keys) in [(0, [48, 52, 60]), (1, [57, 60, 69])] {
        for (i, k) in keys.iter().enumerate() {
            want.extend(at(bar, i as u64, 3, &[*k]));
        }
    }
    assert_eq!(got, want);
}

#[test]
fn chord_symbols_render_their_voicings() {
    let got = notes(
        "voice(\"k\", #{ synth: \"tri\" }).chord(\"<Cm7 F7/A Bbmaj7 C/E>\");\n",
        4,
    );
    let mut want = Vec::new();
    // Top note at or below C5 (72): Cm7 = C4 Eb4 G4 Bb4; F7/A = A3 C4 Eb4 F4;
    // Bbmaj7 = Bb3 D4 F4 A4; C/E = E4 G4 C5.
    want.extend(at(0, 0, 1, &[60, 63, 67, 70]));
    want.extend(at(1, 0, 1, &[57, 60, 63, 65]));
    want.extend(at(2, 0, 1, &[58, 62, 65, 69]));
    want.extend(at(3, 0, 1, &[64, 67, 72]));
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn inversions_and_drop2_render() {
    let got = notes(
        "voice(\"k\", #{ synth: \"tri\" }).chord(\"Cmaj7\").voicing(#{ inversion: 1, anchor: \"c4\", mode: \"above\" });\n\
         voice(\"d\", #{ synth: \"tri\" }).chord(\"Cmaj7\").voicing(#{ drop2: true, anchor: \"g3\", mode: \"above\" });\n",
        1,
    );
    // 1st inversion from C4 up: E4 G4 B4 C5. Drop-2 from G3 up: G3 C4 E4 B4.
    let mut want = at(0, 0, 1, &[64, 67, 71, 72]);
    want.extend(at(0, 0, 1, &[55, 60, 64, 71]));
    want.sort_unstable();
    assert_eq!(got, want);
}

/// Total semitones the voices move from chord to chord (chords of equal size, sorted).
fn movement(chords: &[Vec<u8>]) -> u32 {
    chords
        .windows(2)
        .map(|w| {
            w[0].iter()
                .zip(&w[1])
                .map(|(a, b)| (*a as i32 - *b as i32).unsigned_abs())
                .sum::<u32>()
        })
        .sum()
}

fn by_bar(notes: &[(u64, u8)], bars: u64) -> Vec<Vec<u8>> {
    (0..bars)
        .map(|b| {
            notes
                .iter()
                .filter(|(t, _)| t / BAR == b)
                .map(|(_, k)| *k)
                .collect()
        })
        .collect()
}

#[test]
fn voice_leading_moves_less_than_root_position() {
    let prog = "<Dm7 G7 Cmaj7 [Dm7 G7]>";
    let root = by_bar(
        &notes(
            &format!("voice(\"k\", #{{ synth: \"tri\" }}).chord(\"{prog}\");\n"),
            3,
        ),
        3,
    );
    let led = by_bar(
        &notes(
            &format!(
                "voice(\"k\", #{{ synth: \"tri\" }}).chord(\"{prog}\").voicing(#{{ lead: true }});\n"
            ),
            3,
        ),
        3,
    );
    assert_eq!(
        led[0],
        vec![62, 65, 69, 72],
        "the first chord sits at the anchor"
    );
    assert_eq!(led[1], vec![62, 65, 67, 71], "G7 as D F G B");
    assert_eq!(led[2], vec![60, 64, 67, 71]);
    assert_eq!(movement(&root), 48);
    assert!(movement(&led) <= 6, "{led:?}");
    // The same voicings whatever was rendered before: bar 2 alone from a 3-bar render equals
    // the full run's (voice leading is computed from the bar's own past).
    let again = by_bar(
        &notes(
            &format!(
                "voice(\"k\", #{{ synth: \"tri\" }}).chord(\"{prog}\").voicing(#{{ lead: true }});\n"
            ),
            4,
        ),
        4,
    );
    assert_eq!(again[..3], led[..]);
}

#[test]
fn arp_by_index_and_by_mode() {
    let got = notes(
        "voice(\"a\", #{ synth: \"pluck\" }).chord(\"Cm7\").arp(\"0 2 1 3\");\n",
        1,
    );
    let want: Vec<(u64, u8)> = [60, 67, 63, 70]
        .iter()
        .enumerate()
        .flat_map(|(i, k)| at(0, i as u64, 4, &[*k]))
        .collect();
    assert_eq!(got, want);
    // Strudel's "0 [2 1]" picks, and an index past the top wraps: 5 of 4 notes is index 1.
    let got = notes(
        "voice(\"a\", #{ synth: \"pluck\" }).chord(\"Cm7\").arp(\"0 [2 5]\");\n",
        1,
    );
    assert_eq!(
        got,
        [at(0, 0, 2, &[60]), at(0, 2, 4, &[67]), at(0, 3, 4, &[63])].concat()
    );
    // Tidal's modes, patterned: updown of C Eb G Bb is C Eb G Bb G Eb in sixths.
    let got = notes(
        "voice(\"a\", #{ synth: \"pluck\" }).chord(\"Cm7\").arp(\"<updown converge>\");\n",
        2,
    );
    let mut want: Vec<(u64, u8)> = [60, 63, 67, 70, 67, 63]
        .iter()
        .enumerate()
        .flat_map(|(i, k)| at(0, i as u64, 6, &[*k]))
        .collect();
    want.extend(
        [60, 70, 63, 67]
            .iter()
            .enumerate()
            .flat_map(|(i, k)| at(1, i as u64, 4, &[*k])),
    );
    assert_eq!(got, want);
}

fn check_err(src: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.rhai");
    std::fs::write(&p, src).unwrap();
    check_file(&p, 2, &mut NoModels).unwrap_err().to_string()
}

#[test]
fn bad_symbols_are_errors_at_their_line_with_a_suggestion() {
    let e = check_err("tempo(100);\nvoice(\"k\", #{ synth: \"tri\" }).chord(\"<Cm7 Fmaj8>\");\n");
    assert!(e.contains("bad.rhai:2:"), "{e}");
    assert!(e.contains("Fmaj8"), "{e}");
    assert!(e.contains("col 6"), "{e}");
    assert!(e.contains("did you mean `Fmaj7`"), "{e}");
    let e = check_err("voice(\"m\", #{}).n(\"0 2\").scale(\"C:dorain\");\n");
    assert!(e.contains("did you mean `dorian`"), "{e}");
    let e = check_err("voice(\"m\", #{}).chord(\"C\").arp(\"up dwn\");\n");
    assert!(e.contains("did you mean `down`"), "{e}");
    let e = check_err("voice(\"m\", #{}).n(\"0 c4\");\n");
    assert!(e.contains("'c4' is not a scale degree"), "{e}");
    let e = check_err("voice(\"m\", #{}).n(\"0 1\").voicing(#{ lead: true });\n");
    assert!(e.contains("right after .chord"), "{e}");
}
