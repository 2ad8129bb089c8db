//! Every ```rhai block in docs/patches.md and docs/sound.md is a complete patch: it must
//! check and render; docs/sound.md's examples also render to audio that is finite and not
//! silent.

use std::path::Path;
use weft::engine::render::{render, RenderSpec};
use weft::patch::{check_file, NoModels};

#[test]
fn every_documented_example_checks_and_renders() {
    assert!(examples("docs/patches.md", false) >= 10);
}

#[test]
fn every_sound_example_checks_and_renders_audio() {
    assert!(examples("docs/sound.md", true) >= 4);
}

/// Checks and renders each example of `doc`; with `audio`, also through the synth.
fn examples(doc: &str, audio: bool) -> usize {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(doc)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    for (i, block) in doc.split("```rhai\n").skip(1).enumerate() {
        let src = block.split("```").next().unwrap();
        let p = dir.path().join(format!("example{i}.rhai"));
        std::fs::write(&p, src).unwrap();
        if let Err(e) = check_file(&p, 4, &mut NoModels) {
            panic!("docs example {i} fails: {e}\n{src}");
        }
        let spec = RenderSpec {
            patches: vec![p],
            bars: 4,
            seed: 1,
            tempo: None,
            sample_rate: 48_000,
        };
        let r = render(&spec, Box::new(NoModels)).unwrap();
        assert!(!r.events.is_empty(), "docs example {i} plays nothing");
        if audio {
            let frames = r.events.iter().map(|e| e.frame).max().unwrap() + 24_000;
            let cfg = weft::sound::synth::SynthConfig {
                sample_rate: 48_000,
                // The shipped samples/ (the example kit the sample examples use): the
                // folder the patches' lookup finds from the crate root, like the synth's.
                samples_dir: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")),
                soundfont: None,
                ..Default::default()
            };
            let (out, _) = weft::sound::synth::render(&r.events, frames, cfg).unwrap();
            assert!(out.iter().all(|x| x.is_finite()), "docs example {i}");
            assert!(
                out.iter().any(|x| x.abs() > 0.01),
                "docs example {i} is silent"
            );
        }
        n += 1;
    }
    n
}
