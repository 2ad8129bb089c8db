//! Tokenizer round trip on the committed fixtures: MIDI → tokens → MIDI → tokens.

use std::path::PathBuf;
use weft::neural::tokenize::{
    note_token, piece_to_midi, read_grid_tracks, token_pitch, tokenize_bytes, tokenize_file,
    GridNote,
};

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/midi");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert!(v.len() >= 5, "fixtures missing");
    v
}

fn all_notes(tracks: Vec<Vec<GridNote>>) -> Vec<GridNote> {
    let mut v: Vec<GridNote> = tracks.into_iter().flatten().collect();
    v.sort();
    v
}

#[test]
fn midi_tokens_midi_round_trip_on_fixtures() {
    for path in fixtures() {
        let original = std::fs::read(&path).unwrap();
        let piece = tokenize_file(&path).unwrap();
        let written = piece_to_midi(&piece);
        // The notes survive exactly (pitch, onset and length on the 16th grid, original key).
        assert_eq!(
            all_notes(read_grid_tracks(&written).unwrap()),
            all_notes(read_grid_tracks(&original).unwrap()),
            "{}",
            path.display()
        );
        // And tokenizing the written file gives the same tokens and transposition.
        let again = tokenize_bytes(&piece.name, &written).unwrap();
        assert_eq!(again, piece, "{}", path.display());
    }
}

#[test]
fn the_same_phrase_in_three_keys_tokenizes_identically() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/midi");
    let c = tokenize_file(&dir.join("chorale_c.mid")).unwrap();
    let g = tokenize_file(&dir.join("chorale_g.mid")).unwrap();
    let f = tokenize_file(&dir.join("chorale_f.mid")).unwrap();
    assert_eq!(c.transpose, 0);
    // G is C moved down 5 semitones, so normalising moves it back up: identical lines.
    assert_eq!(g.transpose, -5);
    assert_eq!(g.lines, c.lines);
    // F is C moved down 7: normalising by +5 lands an octave below C.
    assert_eq!(f.transpose, 5);
    let octave_down: Vec<_> = c
        .lines
        .iter()
        .map(|(part, toks)| {
            let toks = toks
                .iter()
                .map(|&t| match token_pitch(t) {
                    Some(p) => note_token(p - 12).unwrap(),
                    None => t,
                })
                .collect::<Vec<_>>();
            (*part, toks)
        })
        .collect();
    assert_eq!(f.lines, octave_down);
}
