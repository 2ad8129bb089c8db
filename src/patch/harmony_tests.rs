//! Unit tests of `harmony.rs` with answers worked out by hand.

use super::*;

fn names(notes: &[u8]) -> String {
    notes
        .iter()
        .map(|n| theory::note_name(*n))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pcs(c: &Chord) -> Vec<u8> {
    c.intervals.iter().map(|i| (c.root + i) % 12).collect()
}

#[test]
fn chord_symbols_parse_to_their_notes() {
    // Pitch classes: C=0 … B=11.
    assert_eq!(pcs(&parse_chord("Cm7").unwrap()), vec![0, 3, 7, 10]); // C Eb G Bb
    assert_eq!(pcs(&parse_chord("F7").unwrap()), vec![5, 9, 0, 3]); // F A C Eb
    assert_eq!(pcs(&parse_chord("Bbmaj7").unwrap()), vec![10, 2, 5, 9]); // Bb D F A
    assert_eq!(pcs(&parse_chord("Ebmaj7").unwrap()), vec![3, 7, 10, 2]);
    assert_eq!(pcs(&parse_chord("F#m7b5").unwrap()), vec![6, 9, 0, 4]);
    assert_eq!(parse_chord("Dø").unwrap(), parse_chord("Dm7b5").unwrap());
    assert_eq!(parse_chord("C^7").unwrap(), parse_chord("CM7").unwrap());
    assert_eq!(parse_chord("C^7").unwrap(), parse_chord("Cmaj7").unwrap());
    assert_eq!(pcs(&parse_chord("Bdim7").unwrap()), vec![11, 2, 5, 8]);
    assert_eq!(pcs(&parse_chord("G7b9").unwrap()), vec![7, 11, 2, 5, 8]);
    assert_eq!(pcs(&parse_chord("G7#9").unwrap()), vec![7, 11, 2, 5, 10]);
    assert_eq!(pcs(&parse_chord("C13").unwrap()), vec![0, 4, 7, 10, 2, 9]);
    assert_eq!(pcs(&parse_chord("Dsus4").unwrap()), vec![2, 7, 9]);
    assert_eq!(pcs(&parse_chord("Caug").unwrap()), vec![0, 4, 8]);
    assert_eq!(pcs(&parse_chord("A").unwrap()), vec![9, 1, 4]);
    assert_eq!(pcs(&parse_chord("Am").unwrap()), vec![9, 0, 4]);
    assert_eq!(pcs(&parse_chord("Cadd9").unwrap()), vec![0, 4, 7, 2]);
    assert_eq!(parse_chord("C/E").unwrap().bass, Some(4));
    assert_eq!(parse_chord("F7.A").unwrap(), parse_chord("F7/A").unwrap());
}

#[test]
fn unknown_chords_name_the_symbol_and_suggest() {
    let e = parse_chord("Cmaj8").unwrap_err().to_string();
    assert!(e.contains("unknown chord 'Cmaj8'"), "{e}");
    assert!(e.contains("did you mean `Cmaj7`"), "{e}");
    let e = parse_chord("Hm7").unwrap_err().to_string();
    assert!(e.contains("'Hm7' is not a chord root"), "{e}");
    assert!(parse_chord("C/H").is_err());
}

#[test]
fn voicings_known_answers() {
    let v = Voicing {
        anchor: 72,
        ..Voicing::default()
    };
    // Root position, top note at or below C5.
    let cm7 = parse_chord("Cm7").unwrap();
    assert_eq!(names(&voice(&cm7, &v).unwrap()), "C4 D#4 G4 A#4");
    // F7/A = A C Eb F (the third in the bass).
    let f7a = parse_chord("F7/A").unwrap();
    assert_eq!(names(&voice(&f7a, &v).unwrap()), "A3 C4 D#4 F4");
    // C/D: a bass note outside the chord goes below it.
    assert_eq!(
        chord_tones(&parse_chord("C/D").unwrap(), 0, false),
        vec![-10, 0, 4, 7]
    );
    // Inversions: Cmaj7 1st = E G B C, 2nd = G B C E; -1 = B C E G.
    let c = parse_chord("Cmaj7").unwrap();
    assert_eq!(chord_tones(&c, 1, false), vec![4, 7, 11, 12]);
    assert_eq!(chord_tones(&c, 2, false), vec![7, 11, 12, 16]);
    assert_eq!(chord_tones(&c, -1, false), vec![-1, 0, 4, 7]);
    // Drop-2 of close Cmaj7 (C E G B): G drops an octave → G C E B.
    assert_eq!(chord_tones(&c, 0, true), vec![-5, 0, 4, 11]);
    let v2 = Voicing {
        drop2: true,
        anchor: 60,
        placement: Placement::Above,
        ..Voicing::default()
    };
    assert_eq!(names(&voice(&c, &v2).unwrap()), "G4 C5 E5 B5");
}

#[test]
fn voice_leading_moves_less_than_root_position() {
    let v = Voicing::default();
    let prog: Vec<Chord> = ["Dm7", "G7", "Cmaj7"]
        .iter()
        .map(|s| parse_chord(s).unwrap())
        .collect();
    let root: Vec<Vec<u8>> = prog.iter().map(|c| voice(c, &v).unwrap()).collect();
    let root_moves: u32 = root.windows(2).map(|w| movement(&w[0], &w[1])).sum();
    // D4 F4 A4 C5 → G3 B3 D4 F4 → C4 E4 G4 B4: 27 + 21.
    assert_eq!(root_moves, 48);
    let mut led = vec![voice(&prog[0], &v).unwrap()];
    for c in &prog[1..] {
        let next = lead(led.last().unwrap(), c, &v).unwrap();
        led.push(next);
    }
    assert_eq!(names(&led[1]), "D4 F4 G4 B4");
    assert_eq!(names(&led[2]), "C4 E4 G4 B4");
    let led_moves: u32 = led.windows(2).map(|w| movement(&w[0], &w[1])).sum();
    assert_eq!(led_moves, 6);
    // Every candidate lies in the range.
    for c in candidates(&prog[1], &v) {
        assert!(c.iter().all(|n| (48..=84).contains(n)), "{c:?}");
    }
}

#[test]
fn scale_degrees_wrap_octaves() {
    let s =
        |spec: &str| parse_scale(&spec.split(':').map(str::to_string).collect::<Vec<_>>()).unwrap();
    let cm = s("C4:minor");
    let got: Vec<u8> = (-1..=8).map(|d| cm.degree(d).unwrap()).collect();
    assert_eq!(got, vec![58, 60, 62, 63, 65, 67, 68, 70, 72, 74]);
    // No octave: octave 3, as Strudel.
    assert_eq!(s("C:major").degree(0), Some(48));
    assert_eq!(s("A:harmonic:minor").degree(6), Some(57 + 11));
    assert_eq!(s("Eb:major:pentatonic").degree(5), Some(51 + 12));
    assert_eq!(s("C:chromatic").degree(13), Some(61));
    assert_eq!(s("Cb4:major").degree(0), Some(59));
    assert_eq!(s("G9:major").degree(7), None);
    let bad = parse_scale(&["C".into(), "minr".into()])
        .unwrap_err()
        .to_string();
    assert!(bad.contains("did you mean `minor`"), "{bad}");
    assert!(parse_scale(&["C".into()]).is_err());
}

#[test]
fn arp_orders_follow_tidal() {
    let xs = ['a', 'b', 'c', 'd'];
    let s = |m: &str| arp_order(m, &xs).into_iter().collect::<String>();
    assert_eq!(s("up"), "abcd");
    assert_eq!(s("down"), "dcba");
    assert_eq!(s("updown"), "abcdcb");
    assert_eq!(s("downup"), "dcbabc");
    assert_eq!(s("converge"), "adbc");
    assert_eq!(s("diverge"), "cbda");
    assert_eq!(s("disconverge"), "adbcbda");
    assert_eq!(s("pinkyup"), "adbdcd");
    assert_eq!(s("thumbup"), "abacad");
    let e = check_arp_mode("updwn").unwrap_err().to_string();
    assert!(e.contains("did you mean `updown`"), "{e}");
}
