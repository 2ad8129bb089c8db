//! Effects from the patch side: every option parses into the note's `Sound`, `delaytime`
//! units, the clamp policy (NaN/inf/negative = error at line:col, overshoot clamps), and
//! `param()` on effect parameters reaching the event stream.

use weft::engine::event::{Event, FilterMode, Param, Sound};
use weft::engine::render::{render, RenderSpec};
use weft::patch::{check_file, NoModels};

fn sounds(src: &str) -> (Vec<Sound>, Vec<(Param, f32)>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fx.rhai");
    std::fs::write(&p, src).unwrap();
    let spec = RenderSpec {
        patches: vec![p],
        bars: 2,
        seed: 1,
        tempo: None,
        sample_rate: 48_000,
    };
    let r = render(&spec, Box::new(NoModels)).unwrap();
    let mut s = Vec::new();
    let mut params = Vec::new();
    for e in &r.events {
        match e.event {
            Event::NoteOn { sound, .. } => s.push(sound),
            Event::Param { param, value, .. } => params.push((param, value)),
            _ => {}
        }
    }
    (s, params)
}

fn check(src: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fx.rhai");
    std::fs::write(&p, src).unwrap();
    check_file(&p, 2, &mut NoModels).map_err(|e| e.to_string())
}

#[test]
fn every_effect_option_reaches_the_sound() {
    let (s, _) = sounds(
        "tempo(120);\n\
         voice(\"a\", #{ synth: \"saw\", hpf: 300.0, resonance: 0.2, distort: 2.5, crush: 6, \
         coarse: 3, tremolo: 0.5, tremolorate: 7.0, delay: 0.3, delaytime: 0.5, \
         delayfeedback: 0.6, pingpong: true, room: 0.4, size: 0.7, damp: 0.2 }).pattern(\"a3\");",
    );
    let s = s[0];
    assert_eq!(s.filter, FilterMode::HighPass);
    assert_eq!(s.cutoff, 300.0);
    assert_eq!(
        (s.distort, s.crush, s.coarse, s.tremolo, s.tremolorate),
        (2.5, 6.0, 3.0, 0.5, 7.0)
    );
    assert_eq!((s.delay, s.delaytime, s.delayfeedback), (0.3, 0.5, 0.6));
    assert!(s.pingpong && !s.delay_in_secs);
    assert_eq!((s.room, s.size, s.damp), (0.4, 0.7, 0.2));
    // The scheduler stamps the tempo: 120 bpm = 0.5 s per beat.
    assert_eq!(s.beat_secs, 0.5);
}

#[test]
fn bpf_and_lpf_select_the_response_and_delaytime_takes_units() {
    let (s, _) = sounds(
        "tempo(90);\n\
         voice(\"a\", #{ bpf: 800.0, delay: 0.5, delaytime: \"250ms\" }).pattern(\"a3\");\n\
         voice(\"b\", #{ hpf: 800.0, lpf: 400.0, delay: 0.5, delaytime: \"0.3s\" }).pattern(\"a3\");\n\
         voice(\"c\", #{ delay: 0.5, delaytime: \"1.5b\" }).pattern(\"a3\");",
    );
    assert_eq!(s.len(), 6);
    let by_cut = |f: f32| s.iter().find(|x| x.cutoff == f).copied().unwrap();
    let a = by_cut(800.0);
    assert_eq!(a.filter, FilterMode::BandPass);
    assert!(a.delay_in_secs && (a.delaytime - 0.25).abs() < 1e-6);
    let b = by_cut(400.0);
    assert!(b.filter == FilterMode::LowPass || b.filter == FilterMode::HighPass);
    assert!(b.delay_in_secs && (b.delaytime - 0.3).abs() < 1e-6);
    let c = s.iter().find(|x| x.delaytime == 1.5).unwrap();
    assert!(!c.delay_in_secs);
    assert!((c.beat_secs - 60.0 / 90.0).abs() < 1e-6);
}

#[test]
fn overshoot_clamps_and_mistakes_are_errors_at_their_line() {
    let (s, _) = sounds(
        "voice(\"a\", #{ delayfeedback: 3.0, room: 2.0, crush: 40, coarse: 0.2, distort: 99.0 }).pattern(\"a3\");",
    );
    let s = s[0];
    assert_eq!(s.delayfeedback, 0.95);
    assert_eq!(
        (s.room, s.crush, s.coarse, s.distort),
        (1.0, 16.0, 1.0, 10.0)
    );
    for (src, says) in [
        ("voice(\"a\", #{ room: 0.0 / 0.0 });", "room"),
        ("voice(\"a\", #{ delay: -0.5 });", "cannot be negative"),
        ("voice(\"a\", #{ delaytime: \"fast\" });", "delaytime"),
        (
            "voice(\"a\", #{ delaytime: \"-2s\" });",
            "cannot be negative",
        ),
        ("voice(\"a\", #{ pingpong: 1 });", "pingpong"),
        ("voice(\"a\", #{ size: 1.0 / 0.0 });", "size"),
        (
            "voice(\"a\", #{}).pattern(\"a3\");\nparam(\"a.room\", -1.0);",
            "cannot be negative",
        ),
        (
            "voice(\"a\", #{}).pattern(\"a3\");\nparam(\"a.size\", 0.0 / 0.0);",
            "finite",
        ),
        (
            "voice(\"a\", #{}).pattern(\"a3\");\nparam(\"a.wobble\", 1.0);",
            "delayfeedback",
        ),
    ] {
        let err = check(src).expect_err(src);
        assert!(err.contains(says), "{src}: {err}");
        let line = if src.contains('\n') { ":2:" } else { ":1:" };
        assert!(err.contains(line), "{src}: {err}");
    }
}

#[test]
fn param_on_effects_reaches_the_event_stream_clamped() {
    let (_, params) = sounds(
        "voice(\"a\", #{ synth: \"saw\" }).pattern(\"a3*2\");\n\
         fn on_bar(bar) { param(\"a.room\", 0.25 * bar); param(\"a.delayfeedback\", 2.0); param(\"a.hpf\", 500.0); }",
    );
    assert!(params.contains(&(Param::Room, 0.25)));
    assert!(params.contains(&(Param::DelayFeedback, 0.95)));
    assert!(params.contains(&(Param::Hpf, 500.0)));
}
