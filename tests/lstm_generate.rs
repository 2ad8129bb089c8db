//! The shipped model generates: render two LSTM voices twice → identical MIDI bytes; with a
//! scale set every note is in it; priming and part selection work on the real weights.

use std::path::PathBuf;
use weft::neural::generate::steps_to_notes;
use weft::neural::tokenize::grid_to_midi;
use weft::neural::{Controls, Generator, Model, Part, Step};

fn shipped() -> std::sync::Arc<Model> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/chorales");
    Model::load(&dir).unwrap_or_else(|e| panic!("{e}"))
}

fn a_minor() -> [bool; 12] {
    let mut s = [false; 12];
    for pc in [9, 11, 0, 2, 4, 5, 7] {
        s[pc] = true;
    }
    s
}

fn render(seed: u64) -> (Vec<u8>, Vec<Step>, Vec<Step>) {
    let m = shipped();
    let lead = Controls {
        temperature: 0.9,
        top_k: 8,
        top_p: 0.95,
        prime: vec![69, 72, 76],
        scale: Some(a_minor()),
        density: 0.8,
        seed,
        part: Part::Soprano,
    };
    let bass = Controls {
        part: Part::Bass,
        prime: vec![45],
        ..lead.clone()
    };
    let mut g1 = Generator::new(m.clone(), lead);
    let mut g2 = Generator::new(m, bass);
    let s1: Vec<Step> = (0..16 * 8).map(|_| g1.step()).collect();
    let s2: Vec<Step> = (0..16 * 8).map(|_| g2.step()).collect();
    let midi = grid_to_midi(&[steps_to_notes(&s1), steps_to_notes(&s2)]);
    (midi, s1, s2)
}

#[test]
fn same_seed_renders_identical_midi_and_other_seed_differs() {
    let (a, s1, s2) = render(7);
    let (b, _, _) = render(7);
    let (c, _, _) = render(8);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let notes = |s: &[Step]| s.iter().filter(|x| matches!(x, Step::Note(_))).count();
    assert!(notes(&s1) >= 8 && notes(&s2) >= 8, "too few notes");
}

#[test]
fn bass_voice_sits_below_the_soprano() {
    let (_, s1, s2) = render(7);
    let mean = |s: &[Step]| {
        let p: Vec<f64> = s
            .iter()
            .filter_map(|x| {
                if let Step::Note(p) = x {
                    Some(f64::from(*p))
                } else {
                    None
                }
            })
            .collect();
        assert!(p.len() >= 8, "too few notes: {s:?}");
        p.iter().sum::<f64>() / p.len() as f64
    };
    assert!(
        mean(&s1) > mean(&s2) + 7.0,
        "{} vs {}",
        mean(&s1),
        mean(&s2)
    );
}

#[test]
fn every_note_is_in_the_requested_scale() {
    let m = shipped();
    // D major, hot temperature, no top-k: the mask alone must keep notes in the scale.
    let mut d = [false; 12];
    for pc in [2, 4, 6, 7, 9, 11, 1] {
        d[pc] = true;
    }
    for part in [Part::Soprano, Part::Bass] {
        let c = Controls {
            scale: Some(d),
            temperature: 1.6,
            seed: 11,
            part,
            ..Controls::default()
        };
        let mut g = Generator::new(m.clone(), c);
        let notes: Vec<u8> = (0..1000)
            .filter_map(|_| {
                if let Step::Note(p) = g.step() {
                    Some(p)
                } else {
                    None
                }
            })
            .collect();
        assert!(notes.len() > 15, "{part:?}");
        assert!(
            notes.iter().all(|p| d[(p % 12) as usize]),
            "{part:?}: {notes:?}"
        );
    }
}

#[test]
fn voices_pane_top_k_is_a_distribution_over_labels() {
    let m = shipped();
    let g = Generator::new(
        m,
        Controls {
            prime: vec![60, 64, 67],
            ..Controls::default()
        },
    );
    let top = g.top_k(5);
    assert_eq!(top.len(), 5);
    let total: f32 = top.iter().map(|(_, p)| p).sum();
    assert!(total > 0.5 && total <= 1.0 + 1e-5, "{top:?}");
}
