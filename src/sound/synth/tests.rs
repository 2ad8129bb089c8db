use super::render::quantize;
use super::*;
use crate::engine::event::Param;

const SR: u32 = 48_000;

fn cfg() -> SynthConfig {
    SynthConfig {
        sample_rate: SR,
        polyphony: 64,
        samples_dir: None,
        soundfont: None,
        master_chain: true,
        bank_swap: None,
    }
}

fn note_on(frame: u64, track: u16, key: u8, sound: Sound) -> TimedEvent {
    TimedEvent {
        tick: 0,
        frame,
        event: Event::NoteOn {
            track,
            channel: 0,
            key,
            vel: 100,
            sound,
        },
    }
}

fn note_off(frame: u64, track: u16, key: u8) -> TimedEvent {
    TimedEvent {
        tick: 0,
        frame,
        event: Event::NoteOff {
            track,
            channel: 0,
            key,
        },
    }
}

fn sound(kind: SynthKind) -> Sound {
    Sound {
        synth: kind,
        ..Sound::default()
    }
}

/// Renders with a given block size, feeding events the way the live callback does.
fn render_blocked(events: &[TimedEvent], frames: usize, block: usize) -> Vec<f32> {
    let (mut engine, _) = Engine::new(cfg()).unwrap();
    let mut out = vec![0.0; 2 * frames];
    let mut next = 0;
    let mut start = 0;
    while start < frames {
        let n = block.min(frames - start);
        engine.process(
            start as u64,
            &mut out[2 * start..2 * (start + n)],
            &mut |end| {
                let e = events.get(next).filter(|e| e.frame < end)?;
                next += 1;
                Some(*e)
            },
        );
        start += n;
    }
    out
}

fn first_nonzero(out: &[f32]) -> Option<usize> {
    out.chunks_exact(2).position(|f| f[0] != 0.0 || f[1] != 0.0)
}

#[test]
fn onsets_are_sample_accurate_for_every_block_size() {
    // Frames chosen to straddle block boundaries of every size tested.
    for &frame in &[0u64, 1, 63, 64, 255, 256, 257, 1000, 4095] {
        for &block in &[1usize, 7, 64, 128, 256, 500, 1024] {
            for kind in [SynthKind::Square, SynthKind::Kick, SynthKind::Noise] {
                let ev = [note_on(frame, 0, 60, sound(kind))];
                let out = render_blocked(&ev, 5000, block);
                assert_eq!(
                    first_nonzero(&out),
                    Some(frame as usize),
                    "{kind:?} at frame {frame}, block {block}"
                );
            }
        }
    }
}

#[test]
fn block_rendering_equals_per_sample_rendering() {
    let events = [
        note_on(10, 0, 57, sound(SynthKind::Saw)),
        note_on(300, 1, 64, sound(SynthKind::Pluck)),
        TimedEvent {
            tick: 0,
            frame: 700,
            event: Event::Param {
                track: 0,
                param: Param::Cutoff,
                value: 500.0,
            },
        },
        note_off(2000, 0, 57),
        note_on(2500, 2, 36, sound(SynthKind::Kick)),
    ];
    let a = render_blocked(&events, 6000, 1);
    let b = render_blocked(&events, 6000, 333);
    let c = render_blocked(&events, 6000, 4096);
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn every_builtin_synth_is_finite_audible_and_unclipped() {
    let kinds = [
        SynthKind::Sine,
        SynthKind::Saw,
        SynthKind::Square,
        SynthKind::Tri,
        SynthKind::Noise,
        SynthKind::Pluck,
        SynthKind::Fm,
        SynthKind::Kick,
        SynthKind::Snare,
        SynthKind::Hat,
        SynthKind::Clap,
        SynthKind::Gm, // no SoundFont configured: falls back to tri
    ];
    for kind in kinds {
        let mut s = sound(kind);
        s.gain = 1.0;
        let key = kind.default_key();
        let events = [
            note_on(100, 0, key, s),
            TimedEvent {
                tick: 0,
                frame: 500,
                event: Event::NoteOn {
                    track: 0,
                    channel: 0,
                    key,
                    vel: 127,
                    sound: s,
                },
            },
            note_off(12_000, 0, key),
        ];
        let (out, _) = render(&events, 24_000, cfg()).unwrap();
        assert!(out.iter().all(|x| x.is_finite()), "{kind:?} not finite");
        let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let rms = (out.iter().map(|x| x * x).sum::<f32>() / out.len() as f32).sqrt();
        assert!(rms > 1e-3, "{kind:?} silent: rms {rms}");
        assert!(peak < 1.0, "{kind:?} clips: {peak}");
    }
}

#[test]
fn limiter_keeps_a_huge_mix_in_range() {
    let mut s = sound(SynthKind::Square);
    s.gain = 4.0;
    let events: Vec<_> = (0..64)
        .map(|i| note_on(i, i as u16, 40 + i as u8, s))
        .collect();
    let (out, _) = render(&events, 48_000, cfg()).unwrap();
    let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(peak <= dsp::CEILING, "{peak}");
    assert!(out.iter().all(|x| x.is_finite()));
}

/// Largest sample-to-sample step over both channels.
fn max_step(out: &[f32]) -> f32 {
    let mut m = 0.0f32;
    for w in out.chunks_exact(2).collect::<Vec<_>>().windows(2) {
        m = m
            .max((w[1][0] - w[0][0]).abs())
            .max((w[1][1] - w[0][1]).abs());
    }
    m
}

#[test]
fn voice_stealing_fades_instead_of_clicking() {
    // Sines have a bounded slope: max step ≈ Σ 2π f A / sr. A hard cut of a voice would be a
    // step of up to its full amplitude.
    let mut c = cfg();
    c.polyphony = 4;
    c.master_chain = false;
    let mut s = sound(SynthKind::Sine);
    s.attack = 0.002;
    s.gain = 0.5;
    // Low notes (≤ 82.4 Hz) keep the natural slope far below a hard cut's step.
    let mut events: Vec<_> = (0..4u16).map(|i| note_on(0, i, 36 + i as u8, s)).collect();
    for k in 0..20u64 {
        events.push(note_on(9_000 + k * 1_003, 10 + k as u16, 40, s));
    }
    let (out, _) = render(&events, 40_000, c.clone()).unwrap();
    let (engine_stolen, max) = {
        let (mut e, _) = Engine::new(c).unwrap();
        let mut buf = vec![0.0; 2 * 40_000];
        let mut i = 0;
        e.process(0, &mut buf, &mut |end| {
            let ev = events.get(i).filter(|ev| ev.frame < end)?;
            i += 1;
            Some(*ev)
        });
        (e.stolen_voices(), max_step(&buf))
    };
    assert_eq!(engine_stolen, 20);
    let amp = 0.5 * (100.0f32 / 127.0).powi(2);
    let slope_bound = 5.0 * std::f32::consts::TAU * 82.41 * amp / SR as f32;
    // A stolen voice fades over 240 samples (amp/240 per sample) while the new one attacks
    // over 96 samples (amp/96 per sample).
    let threshold = slope_bound + amp / (STEAL_FADE_SECS * SR as f32) + amp / 96.0;
    assert!(max <= threshold, "max step {max} > {threshold}");
    assert!(max_step(&out) <= threshold);
    // Never more than polyphony + fade slots, and a hard cut would have been ≥ ~amp·0.1.
    assert!(threshold < amp * 0.1);
}

#[test]
fn param_changes_are_smoothed() {
    let mut c = cfg();
    c.master_chain = false;
    let mut s = sound(SynthKind::Sine);
    s.attack = 0.0;
    s.sustain = 1.0;
    s.gain = 0.1;
    let events = [
        note_on(0, 3, 69, s),
        TimedEvent {
            tick: 0,
            frame: 4_800,
            event: Event::Param {
                track: 3,
                param: Param::Gain,
                value: 1.0,
            },
        },
    ];
    let (out, _) = render(&events, 9_600, c).unwrap();
    // A jump of gain 0.1 → 1.0 would be a step ≈ 0.9·amp in one sample.
    let bound = std::f32::consts::TAU * 440.0 / SR as f32 * (100.0f32 / 127.0).powi(2) + 0.01;
    assert!(max_step(&out) < bound, "{} >= {bound}", max_step(&out));
    let late: f32 = out[2 * 9_000..].iter().fold(0.0, |m, x| m.max(x.abs()));
    assert!(late > 0.5, "gain change never took effect: {late}");
}

#[test]
fn note_off_releases_and_frees_the_voice() {
    let (mut e, _) = Engine::new(cfg()).unwrap();
    let events = [
        note_on(0, 0, 60, sound(SynthKind::Saw)),
        note_off(100, 0, 60),
    ];
    let mut buf = vec![0.0; 2 * 48_000];
    let mut i = 0;
    e.process(0, &mut buf, &mut |end| {
        let ev = events.get(i).filter(|ev| ev.frame < end)?;
        i += 1;
        Some(*ev)
    });
    assert_eq!(e.active_voices(), 0);
    let tail = &buf[2 * 47_000..];
    assert!(tail.iter().all(|x| x.abs() < 1e-3));
}

#[test]
fn late_events_start_at_block_start_and_are_counted() {
    let (mut e, _) = Engine::new(cfg()).unwrap();
    let ev = note_on(10, 0, 60, sound(SynthKind::Square));
    let mut buf = vec![0.0; 2 * 256];
    let mut sent = false;
    e.process(1000, &mut buf, &mut |_| {
        if sent {
            None
        } else {
            sent = true;
            Some(ev)
        }
    });
    assert_eq!(e.late_events(), 1);
    assert_eq!(first_nonzero(&buf), Some(0));
}

#[test]
fn offline_render_is_deterministic() {
    let events = [
        note_on(0, 0, 60, sound(SynthKind::Noise)),
        note_on(1000, 1, 38, sound(SynthKind::Snare)),
        note_on(2000, 2, 42, sound(SynthKind::Hat)),
    ];
    let (a, _) = render(&events, 20_000, cfg()).unwrap();
    let (b, _) = render(&events, 20_000, cfg()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn quantize_round_trips_16_bit_values() {
    for v in [-32768i32, -1, 0, 1, 12345, 32767] {
        let x = v as f32 / 32768.0;
        assert_eq!(quantize(x, 16), v);
    }
    assert_eq!(quantize(2.0, 16), 32767);
    assert_eq!(quantize(-2.0, 24), -8_388_608);
}

#[test]
fn bad_config_is_an_error() {
    let mut c = cfg();
    c.polyphony = 0;
    assert!(Engine::new(c).is_err());
    let mut c = cfg();
    c.sample_rate = 10;
    assert!(Engine::new(c).is_err());
}

#[test]
fn missing_soundfont_and_samples_are_warnings() {
    let mut c = cfg();
    c.soundfont = Some("/nonexistent/x.sf2".into());
    c.samples_dir = Some("/nonexistent/samples".into());
    let (e, w) = Engine::new(c).unwrap();
    assert!(!e.has_soundfont());
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w.iter().any(|l| l.contains("SoundFont")));
}
