//! Every ```rhai block in docs/patches.md is a complete patch: it must check and render.

use std::path::Path;
use weft::engine::render::{render, RenderSpec};
use weft::patch::{check_file, NoModels};

#[test]
fn every_documented_example_checks_and_renders() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/patches.md"))
            .unwrap();
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
        n += 1;
    }
    assert!(n >= 10, "found {n} examples");
}
