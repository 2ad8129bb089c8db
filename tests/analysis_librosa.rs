//! Agreement with librosa 0.11 on committed fixtures: WAVs rendered by
//! `benches/peers/analysis/reference.py` and the per-frame features librosa computed for
//! them (JSON). Runs without Python. RMS, centroid, bandwidth, rolloff and flatness must
//! agree within 1e-3 relative; flux and chroma are checked too.

use std::path::Path;
use weft::analysis::{analyze_file, Features};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/analysis");
const NAMES: [&str; 3] = [
    "chord_16bit_stereo_22050",
    "sweep_clicks_24bit_mono_44100",
    "bursts_float_mono_48000",
];

fn series(run: &serde_json::Value, key: &str) -> Vec<f64> {
    run[key]
        .as_array()
        .unwrap_or_else(|| panic!("fixture has no {key}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

/// Max relative error over frames; values below 1e-9 of the series' peak compare absolutely.
fn check(name: &str, fft: usize, key: &str, ours: &[f64], theirs: &[f64], rel: f64) {
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{name} fft {fft}: {key} frame count"
    );
    let peak = theirs.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let err = (a - b).abs();
        assert!(
            err <= rel * b.abs() + 1e-9 * peak,
            "{name} fft {fft}: {key}[{i}] weft {a} librosa {b} (rel {:.2e})",
            err / b.abs()
        );
    }
}

#[test]
fn weft_agrees_with_librosa_within_1e_3() {
    let mut checked = 0;
    for name in NAMES {
        let doc: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(FIXTURES).join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        for run in doc["runs"].as_array().unwrap() {
            let fft = run["fft"].as_u64().unwrap() as usize;
            let hop = run["hop"].as_u64().unwrap() as usize;
            let (_, a) =
                analyze_file(&Path::new(FIXTURES).join(format!("{name}.wav")), fft, hop).unwrap();
            let get =
                |f: fn(&Features) -> f32| a.frames.iter().map(|x| f(x) as f64).collect::<Vec<_>>();
            check(name, fft, "rms", &get(|f| f.rms), &series(run, "rms"), 1e-3);
            check(
                name,
                fft,
                "centroid",
                &get(|f| f.centroid),
                &series(run, "centroid"),
                1e-3,
            );
            check(
                name,
                fft,
                "bandwidth",
                &get(|f| f.bandwidth),
                &series(run, "bandwidth"),
                1e-3,
            );
            check(
                name,
                fft,
                "rolloff",
                &get(|f| f.rolloff),
                &series(run, "rolloff"),
                1e-3,
            );
            check(
                name,
                fft,
                "flatness",
                &get(|f| f.flatness),
                &series(run, "flatness"),
                1e-3,
            );
            check(
                name,
                fft,
                "flux",
                &get(|f| f.flux),
                &series(run, "flux"),
                1e-3,
            );
            let chroma = run["chroma"].as_array().unwrap();
            for pc in 0..12 {
                let theirs: Vec<f64> = chroma.iter().map(|fr| fr[pc].as_f64().unwrap()).collect();
                let ours: Vec<f64> = a.frames.iter().map(|f| f.chroma[pc] as f64).collect();
                check(name, fft, &format!("chroma[{pc}]"), &ours, &theirs, 1e-3);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}
