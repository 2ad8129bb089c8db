//! Continuous signals through the whole render path: a patch's `sine`/`saw`/`rand` … in voice
//! options, `.vel(...)` and `param(...)` become per-event values in the scheduled events.

use weft::engine::event::{Event, Param, TimedEvent};
use weft::engine::render::{render, RenderSpec};
use weft::patch::NoModels;

/// Renders `src` as one patch for `bars` bars with `seed`; the scheduled events.
fn run(src: &str, bars: u64, seed: u64) -> Vec<TimedEvent> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sig.rhai");
    std::fs::write(&p, src).unwrap();
    let spec = RenderSpec {
        patches: vec![p],
        bars,
        seed,
        tempo: Some(120.0),
        sample_rate: 48_000,
    };
    render(&spec, Box::new(NoModels)).unwrap().events
}

/// (tick, vel, cutoff) of each note-on.
fn ons(evs: &[TimedEvent]) -> Vec<(u64, u8, f32)> {
    evs.iter()
        .filter_map(|e| match e.event {
            Event::NoteOn { vel, sound, .. } => Some((e.tick, vel, sound.cutoff)),
            _ => None,
        })
        .collect()
}

const BAR: u64 = 3840; // 4/4 at 960 ticks per quarter

#[test]
fn cutoff_follows_saw_per_note_not_per_bar() {
    let evs = run(
        r#"voice("a", #{ synth: "saw", cutoff: saw.range(300, 3000) }).pattern("c3*8");"#,
        2,
        1,
    );
    let on = ons(&evs);
    assert_eq!(on.len(), 16);
    for (i, (tick, _, cutoff)) in on.iter().enumerate() {
        // Sampled at the middle of the note's step, as Strudel does.
        let pos = ((*tick % BAR) as f32 + BAR as f32 / 16.0) / BAR as f32;
        assert_eq!(*tick, i as u64 * BAR / 8);
        assert!(
            (cutoff - (300.0 + 2700.0 * pos)).abs() < 0.01,
            "{i}: {cutoff}"
        );
    }
    // Rising within each bar, back down at the bar line.
    assert!(on[..8].windows(2).all(|w| w[1].2 > w[0].2));
    assert!(on[8].2 < on[7].2);
}

#[test]
fn vel_follows_sine_and_segment_holds_steps() {
    let evs = run(
        r#"voice("a", #{ synth: "saw" }).pattern("c3*4").vel(sine);"#,
        1,
        1,
    );
    let vels: Vec<u8> = ons(&evs).iter().map(|o| o.1).collect();
    // sine at the middles of the four steps (1/8, 3/8, 5/8, 7/8): (1 ± √½)/2 of 127.
    assert_eq!(vels, vec![108, 108, 19, 19]);

    let evs = run(
        r#"voice("a", #{ synth: "saw", vel: saw.segment(4).range(0.2, 0.8) }).pattern("c3*16");"#,
        1,
        1,
    );
    let vels: Vec<u8> = ons(&evs).iter().map(|o| o.1).collect();
    assert_eq!(vels.len(), 16);
    let mut steps = vels.clone();
    steps.dedup();
    assert_eq!(steps.len(), 4, "{vels:?}");
    assert!(vels.chunks(4).all(|c| c.iter().all(|v| *v == c[0])));
}

#[test]
fn param_signal_is_a_control_stream_within_the_bar() {
    let evs = run(
        r#"voice("a", #{ synth: "saw" }).pattern("c3");
           param("a.cutoff", sine.slow(4).range(300, 3000));"#,
        4,
        1,
    );
    let params: Vec<(u64, f32)> = evs
        .iter()
        .filter_map(|e| match e.event {
            Event::Param {
                param: Param::Cutoff,
                value,
                ..
            } => Some((e.tick, value)),
            _ => None,
        })
        .collect();
    assert_eq!(params.len(), 4 * 16);
    for (tick, v) in &params {
        let t = *tick as f64 / BAR as f64 / 4.0;
        let want = 300.0 + 2700.0 * ((std::f64::consts::TAU * t).sin() + 1.0) / 2.0;
        assert!((*v as f64 - want).abs() < 0.05, "{tick}: {v} vs {want}");
    }
    // The first bar rises (a quarter of a slow sine) in 16 steps.
    assert!(params[..16].windows(2).all(|w| w[1].1 > w[0].1));
}

#[test]
fn rand_is_deterministic_per_seed() {
    let src =
        r#"voice("a", #{ synth: "saw", vel: rand, pan: rand.range(-1, 1) }).pattern("c3*8");"#;
    let a = ons(&run(src, 4, 5));
    let b = ons(&run(src, 4, 5));
    let c = ons(&run(src, 4, 6));
    assert_eq!(a, b);
    let va: Vec<u8> = a.iter().map(|o| o.1).collect();
    let vc: Vec<u8> = c.iter().map(|o| o.1).collect();
    assert_ne!(va, vc);
    assert!(va.iter().collect::<std::collections::BTreeSet<_>>().len() > 8);
}

#[test]
fn a_script_variable_shadows_a_signal_name_and_bad_arguments_are_errors() {
    let evs = run(
        r#"let saw = 0.5; voice("a", #{ synth: "saw" }).pattern("c3").vel(saw);"#,
        1,
        1,
    );
    assert_eq!(ons(&evs)[0].1, 64);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.rhai");
    std::fs::write(&p, r#"voice("a", #{ cutoff: sine.slow(0) });"#).unwrap();
    let err = weft::patch::check_file(&p, 1, &mut NoModels).unwrap_err();
    assert!(err.to_string().contains("slow"), "{err}");
}

/// Strudel 1.1.0's signals (tests/fixtures/strudel/signals.json, written by
/// benches/peers/strudel/gen_signals.mjs): every chain rebuilt with weft's `Signal` gives the
/// same value in every segment over 4 cycles.
#[test]
fn signals_equal_strudel() {
    use weft::patch::signal::{Shape, Signal};
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/strudel/signals.json"),
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    let frac = |s: &str| -> f64 {
        match s.split_once('/') {
            Some((a, b)) => a.parse::<f64>().unwrap() / b.parse::<f64>().unwrap(),
            None => s.parse().unwrap(),
        }
    };
    let cases = json["cases"].as_array().unwrap();
    assert!(cases.len() >= 200);
    let (mut checked, mut split) = (0, 0);
    for case in cases {
        let shape = case["shape"].as_str().unwrap();
        let mut s = match shape {
            "irand8" => Signal::irand(8.0, 0).unwrap(),
            name => Signal::new(Shape::from_name(name).unwrap(), 0),
        };
        let mut n = 1.0;
        for op in case["ops"].as_array().unwrap() {
            let a = op.as_array().unwrap();
            s = match a[0].as_str().unwrap() {
                "slow" => s.slow(num(&a[1])),
                "fast" => s.fast(num(&a[1])),
                "range" => s.range(num(&a[1]), num(&a[2])),
                "rangex" => s.rangex(num(&a[1]), num(&a[2])),
                "segment" => {
                    n = num(&a[1]);
                    s.segment(n)
                }
                other => panic!("unknown op {other}"),
            }
            .unwrap();
        }
        let values = case["values"].as_array().unwrap();
        for v in values {
            // `tri` is fastcat(isaw, saw): a segment that crosses its half cycle comes back
            // from Strudel as two pieces, each sampled at its own middle; weft gives one value
            // per segment (at its middle), so such segments are not compared.
            if values.iter().filter(|w| w[0] == v[0]).count() > 1 {
                split += 1;
                continue;
            }
            let begin = frac(v[0].as_str().unwrap());
            let want = num(&v[1]);
            // Inside the segment (its value is held over it).
            let got = s.at(begin + 0.25 / n);
            let tol = 1e-9 * want.abs().max(1.0);
            assert!(
                (got - want).abs() <= tol,
                "{shape} {:?} at {begin}: weft {got}, strudel {want}",
                case["ops"]
            );
            checked += 1;
        }
    }
    assert!(checked > 5000, "{checked}");
    // Only tri's segments that straddle a half cycle are left out.
    assert!(split * 20 < checked, "{split} of {checked} left out");
}
