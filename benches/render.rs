//! Render speed: how much faster than real time `weft render` runs a 4-voice patch.
//! Prints the factor (musical duration / wall time). `cargo bench --bench render`.

use std::time::Instant;
use weft::engine::render::{render, RenderSpec};
use weft::patch::NoModels;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("four.rhai");
    std::fs::write(
        &p,
        r#"tempo(120);
voice("kick", #{ synth: "kick" }).pattern("x ~ ~ ~ x ~ ~ ~ x ~ ~ ~ x ~ x ~");
voice("hat", #{ synth: "hat" }).pattern("x*16").prob(0.8);
voice("bass", #{ synth: "saw", channel: 2 }).notes(scale("A1", "minor", 2), euclid(5, 8)).every(4, |v| v.transpose(12));
voice("pad", #{ synth: "tri", channel: 3 }).notes([chord("A3", "min7"), chord("F3", "maj7")], "x _ x _");
fn on_bar(bar) { if bar % 8 == 7 { voice("kick").pattern("x x x x"); } }
"#,
    )
    .unwrap();
    let bars = 1000;
    let spec = RenderSpec {
        patches: vec![p],
        bars,
        seed: 1,
        tempo: None,
        sample_rate: 48_000,
    };
    let mut best = f64::MAX;
    let mut notes = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let r = render(&spec, Box::new(NoModels)).unwrap();
        let bytes = r.midi.to_bytes();
        best = best.min(t.elapsed().as_secs_f64());
        notes = r.events.len() / 2;
        assert!(!bytes.is_empty());
    }
    let musical = bars as f64 * 2.0; // 4/4 at 120 BPM: 2 s per bar
    println!("render: 4-voice patch, {bars} bars ({musical:.0} s of music), {notes} notes");
    println!(
        "render: best of 5 = {:.1} ms → {:.0}x real time (goal >= 1000x)",
        best * 1000.0,
        musical / best
    );
}
