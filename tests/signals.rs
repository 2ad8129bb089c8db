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
fn param_signal_is_a_control_stream_per_audio_block() {
    let evs = run(
        r#"voice("a", #{ synth: "saw" }).pattern("c3");
           param("a.cutoff", sine.slow(4).range(300, 3000));"#,
        4,
        1,
    );
    let params: Vec<(u64, u64, f32)> = evs
        .iter()
        .filter_map(|e| match e.event {
            Event::Param {
                param: Param::Cutoff,
                value,
                ..
            } => Some((e.tick, e.frame, value)),
            _ => None,
        })
        .collect();
    // A bar at 120 BPM is 2 s = 96,000 frames: a point every 256 frames (one audio block).
    assert!(params.len() >= 4 * 370, "{} points", params.len());
    for (tick, _, v) in &params {
        let t = *tick as f64 / BAR as f64 / 4.0;
        let want = 300.0 + 2700.0 * ((std::f64::consts::TAU * t).sin() + 1.0) / 2.0;
        assert!((*v as f64 - want).abs() < 0.05, "{tick}: {v} vs {want}");
    }
    // What reaches the synth has no stair-steps: consecutive points at most ~one block apart
    // and at most 6 Hz apart (the sweep's steepest slope is 2700/2 · 2π/8 s ≈ 1060 Hz/s,
    // 5.7 Hz per 256 frames; 16 points a bar made 130 Hz steps).
    for w in params.windows(2) {
        let (df, dv) = (w[1].1 - w[0].1, (w[1].2 - w[0].2).abs());
        assert!(df <= 264, "{df} frames between points at tick {}", w[0].0);
        assert!(dv <= 6.0, "{dv} Hz step at tick {}", w[0].0);
    }
    // The first bar rises (a quarter of a slow sine).
    let first: Vec<f32> = params.iter().filter(|p| p.0 < BAR).map(|p| p.2).collect();
    assert!(first.windows(2).all(|w| w[1] > w[0]));
}

#[test]
fn a_held_param_signal_is_sent_once_per_value() {
    // segment(4): four values a bar, each sent once (not once per block).
    let evs = run(
        r#"voice("a", #{ synth: "saw" }).pattern("c3");
           param("a.cutoff", saw.segment(4).range(300, 3000));"#,
        2,
        1,
    );
    let ticks: Vec<u64> = evs
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                Event::Param {
                    param: Param::Cutoff,
                    ..
                }
            )
        })
        .map(|e| e.tick)
        .collect();
    assert_eq!(ticks.len(), 8, "{ticks:?}");
    assert!(ticks.iter().all(|t| t % (BAR / 4) < 12), "{ticks:?}");
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
/// A fixture signal: the shape and its operations (an operand of `add`/`sub`/`mul`/`div` is a
/// number or `{shape, ops}`); with the last `segment`'s count.
fn build(shape: &str, ops: &serde_json::Value) -> (weft::patch::signal::Signal, f64) {
    use weft::patch::signal::{Arith, Shape, Signal};
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    let mut s = match shape {
        "irand8" => Signal::irand(8.0, 0).unwrap(),
        name => Signal::new(Shape::from_name(name).unwrap(), 0),
    };
    let mut n = 1.0;
    for op in ops.as_array().unwrap() {
        let a = op.as_array().unwrap();
        let name = a[0].as_str().unwrap();
        s = match name {
            "slow" => s.slow(num(&a[1])),
            "fast" => s.fast(num(&a[1])),
            "range" => s.range(num(&a[1]), num(&a[2])),
            "rangex" => s.rangex(num(&a[1]), num(&a[2])),
            "segment" => {
                n = num(&a[1]);
                s.segment(n)
            }
            other => {
                let (_, op) = Arith::NAMES
                    .into_iter()
                    .find(|(n, _)| *n == other)
                    .unwrap_or_else(|| panic!("unknown op {other}"));
                if a[1].is_object() {
                    let (o, _) = build(a[1]["shape"].as_str().unwrap(), &a[1]["ops"]);
                    s.arith_signal(op, &o)
                } else {
                    s.arith(op, num(&a[1]))
                }
            }
        }
        .unwrap();
    }
    (s, n)
}

#[test]
fn signals_equal_strudel() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/strudel/signals.json"),
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    let mut arith = 0;
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
        arith += case["ops"].to_string().contains("\"add\"") as usize;
        let shape = case["shape"].as_str().unwrap();
        let (s, n) = build(shape, &case["ops"]);
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
    assert!(arith >= 50, "{arith} cases with signal arithmetic");
    // Only tri's segments that straddle a half cycle are left out.
    assert!(split * 20 < checked, "{split} of {checked} left out");
}

#[test]
fn signal_arithmetic_methods_and_operators() {
    // `sine.range(300, 1000).add(saw.mul(500))` and the same with operators, per note.
    let method = ons(&run(
        r#"voice("a", #{ synth: "saw", cutoff: sine.range(300, 1000).add(saw.mul(500)) }).pattern("c3*8");"#,
        1,
        1,
    ));
    let ops = ons(&run(
        r#"voice("a", #{ synth: "saw", cutoff: sine.range(300, 1000) + saw * 500 }).pattern("c3*8");"#,
        1,
        1,
    ));
    assert_eq!(method, ops);
    for (tick, _, cutoff) in &method {
        // Read at the middle of the note's step (1/16 of a bar past its onset).
        let t = *tick as f64 / BAR as f64 + 1.0 / 16.0;
        let want = 300.0 + 700.0 * ((std::f64::consts::TAU * t).sin() + 1.0) / 2.0 + 500.0 * t;
        assert!(
            (*cutoff as f64 - want).abs() < 0.5,
            "{tick}: {cutoff} vs {want}"
        );
    }
    // A number on the left, and division: `1 - saw` falls through the bar; `saw / 2` halves.
    let vels: Vec<u8> = ons(&run(
        r#"voice("a", #{ synth: "saw", vel: 1 - saw }).pattern("c3*4");"#,
        1,
        1,
    ))
    .iter()
    .map(|o| o.1)
    .collect();
    assert!(vels.windows(2).all(|w| w[1] < w[0]), "{vels:?}");
    let half: Vec<u8> = ons(&run(
        r#"voice("a", #{ synth: "saw", vel: saw / 2 }).pattern("c3*4");"#,
        1,
        1,
    ))
    .iter()
    .map(|o| o.1)
    .collect();
    assert!(half.iter().all(|v| *v <= 64), "{half:?}");
}
