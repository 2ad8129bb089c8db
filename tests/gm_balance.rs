//! General MIDI voices are as loud as the built-in synths for the same note, velocity and
//! gain (issue 19, item 3): every level here is rendered through the engine and measured
//! with `loudness` (RMS of the loudest 400 ms); nothing is a stored number.

use std::path::PathBuf;

use weft::engine::event::{Event, Param, Sound, SynthKind, TimedEvent};
use weft::sound::synth::{loudness, Engine, SynthConfig};

const SR: u32 = 48_000;

fn engine() -> Engine {
    let sf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/sf_GMbank.sf2");
    let (engine, warnings) = Engine::new(SynthConfig {
        sample_rate: SR,
        polyphony: 64,
        samples_dir: None,
        soundfont: Some(sf),
        master_chain: false,
        bank_swap: None,
    })
    .expect("engine");
    assert!(engine.has_soundfont(), "{warnings:?}");
    engine
}

/// Loudness of one note held for 1 s, rendered alone; `events` (at frame offsets) are
/// applied too.
fn level(channel: u8, key: u8, vel: u8, sound: Sound, extra: &[TimedEvent]) -> f32 {
    let mut engine = engine();
    let mut events = vec![TimedEvent {
        tick: 0,
        frame: 0,
        event: Event::NoteOn {
            track: 0,
            channel,
            key,
            vel,
            sound,
        },
    }];
    events.extend_from_slice(extra);
    events.sort_by_key(|e| e.frame);
    let mut next = 0;
    let (mut l, mut r) = (Vec::new(), Vec::new());
    let mut buf = vec![0.0f32; 2 * 480];
    for b in 0..SR as u64 / 480 {
        engine.process(b * 480, &mut buf, &mut |end| {
            let e = events.get(next).filter(|e| e.frame < end)?;
            next += 1;
            Some(*e)
        });
        for f in buf.chunks_exact(2) {
            l.push(f[0]);
            r.push(f[1]);
        }
    }
    loudness(&l, &r, SR as f32)
}

fn sound(synth: SynthKind, program: u8) -> Sound {
    Sound {
        synth,
        program,
        ..Sound::default()
    }
}

fn db(a: f32, b: f32) -> f32 {
    20.0 * (a / b).log10()
}

#[test]
fn gm_programs_match_the_builtin_saw_within_3_db() {
    // Every 8th program plus the ones that were furthest off before the gain staging
    // (xylophone, agogo, wood block, melodic tom, fret/breath noise, helicopter, applause).
    let mut programs: Vec<u8> = (0..128).step_by(8).collect();
    programs.extend([13, 113, 115, 117, 120, 121, 125, 126]);
    let mut failures = Vec::new();
    for vel in [40u8, 80, 120] {
        let saw = level(0, 60, vel, sound(SynthKind::Saw, 0), &[]);
        assert!(saw > 0.01, "saw at velocity {vel}: {saw}");
        for &p in &programs {
            let gm = level(0, 60, vel, sound(SynthKind::Gm, p), &[]);
            let d = db(gm, saw);
            if d.abs() > 3.0 {
                failures.push(format!("program {p} velocity {vel}: {d:+.1} dB"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn gm_drum_kit_matches_the_builtin_drums_within_3_db() {
    // The kit has one level (one channel): its kick/snare/closed-hat together against the
    // built-in kick/snare/hat together.
    let keys = [
        (36u8, SynthKind::Kick),
        (38, SynthKind::Snare),
        (42, SynthKind::Hat),
    ];
    for vel in [40u8, 100] {
        let power = |f: &dyn Fn(u8, SynthKind) -> f32| {
            (keys.iter().map(|&(k, s)| f(k, s).powi(2)).sum::<f32>() / keys.len() as f32).sqrt()
        };
        let kit = power(&|k, _| level(9, k, vel, sound(SynthKind::Gm, 0), &[]));
        let builtin = power(&|k, s| level(9, k, vel, sound(s, 0), &[]));
        let d = db(kit, builtin);
        assert!(
            d.abs() <= 3.0,
            "velocity {vel}: kit {kit} vs built-in {builtin}: {d:+.1} dB"
        );
    }
}

#[test]
fn gm_gain_is_linear_like_the_builtins_up_to_4() {
    let at = |gain: f32| {
        level(
            0,
            60,
            100,
            Sound {
                gain,
                ..sound(SynthKind::Gm, 48)
            },
            &[],
        )
    };
    let base = at(0.8);
    for gain in [0.2f32, 0.4, 1.6, 4.0] {
        let d = db(at(gain), base);
        let want = db(gain, 0.8);
        assert!(
            (d - want).abs() < 0.5,
            "gain {gain}: {d:+.2} dB, want {want:+.2}"
        );
    }
    // A `param()` gain change reaches a sounding GM note (smoothly: rustysynth ramps the
    // gain over its block), here halving it after 1 ms.
    let half = level(
        0,
        60,
        100,
        sound(SynthKind::Gm, 48),
        &[TimedEvent {
            tick: 0,
            frame: 48,
            event: Event::Param {
                track: 0,
                param: Param::Gain,
                value: 0.4,
            },
        }],
    );
    let d = db(half, base);
    assert!(
        (d + 6.02).abs() < 0.5,
        "param gain 0.4 after 0.8: {d:+.2} dB"
    );
}
