//! Known-answer tests of the effects through the whole engine (and the filter responses).

use super::dsp::Svf;
use super::*;
use crate::engine::event::{FilterMode, Param};

const SR: f32 = 48_000.0;

fn dry_cfg() -> SynthConfig {
    SynthConfig {
        sample_rate: SR as u32,
        polyphony: 16,
        samples_dir: None,
        soundfont: None,
        master_chain: false,
        bank_swap: None,
    }
}

fn on(frame: u64, sound: Sound) -> TimedEvent {
    TimedEvent {
        tick: 0,
        frame,
        event: Event::NoteOn {
            track: 0,
            channel: 0,
            key: 69,
            vel: 127,
            sound,
        },
    }
}

fn off(frame: u64) -> TimedEvent {
    TimedEvent {
        tick: 0,
        frame,
        event: Event::NoteOff {
            track: 0,
            channel: 0,
            key: 69,
        },
    }
}

fn param(frame: u64, param: Param, value: f32) -> TimedEvent {
    TimedEvent {
        tick: 0,
        frame,
        event: Event::Param {
            track: 0,
            param,
            value,
        },
    }
}

/// A 5 ms sine blip (A4) with instant attack and release.
fn blip() -> Sound {
    Sound {
        synth: SynthKind::Sine,
        attack: 0.0,
        decay: 0.0,
        sustain: 1.0,
        release: 0.0,
        gain: 1.0,
        ..Sound::default()
    }
}

fn render_events(events: &[TimedEvent], frames: u64) -> Vec<f32> {
    render(events, frames, dry_cfg()).unwrap().0
}

#[test]
fn delay_repeats_at_delaytime_in_beats_with_feedback_decay() {
    // 0.25 beat at 120 bpm (0.5 s per beat) = 0.125 s = 6000 frames.
    let wet_sound = Sound {
        delay: 1.0,
        delaytime: 0.25,
        delayfeedback: 0.5,
        beat_secs: 0.5,
        ..blip()
    };
    let frames = 30_000;
    let dry = render_events(&[on(0, blip()), off(240)], frames);
    let both = render_events(&[on(0, wet_sound), off(240)], frames);
    let d = 6000usize;
    let mut max_err = 0f32;
    for i in 0..frames as usize {
        let mut want = 0.0;
        let mut k = 1;
        while k * d <= i {
            want += 0.5f32.powi(k as i32 - 1) * dry[2 * (i - k * d)];
            k += 1;
        }
        let wet = both[2 * i] - dry[2 * i];
        max_err = max_err.max((wet - want).abs());
    }
    assert!(max_err < 1e-5, "wet differs from repeats by {max_err}");
    // And there is something to compare: the second repeat is half the first.
    let peak = |from: usize| {
        (from..from + 300)
            .map(|i| (both[2 * i] - dry[2 * i]).abs())
            .fold(0.0, f32::max)
    };
    assert!((peak(d) - 1.0).abs() < 0.01 && (peak(2 * d) - 0.5).abs() < 0.01);
}

#[test]
fn delaytime_in_seconds_ignores_the_tempo() {
    let s = Sound {
        delay: 1.0,
        delaytime: 0.05,
        delay_in_secs: true,
        delayfeedback: 0.0,
        beat_secs: 0.37,
        ..blip()
    };
    let out = render_events(&[on(0, s), off(240)], 6000);
    let dry = render_events(&[on(0, blip()), off(240)], 6000);
    let first = (0..3000).find(|&i| (out[2 * i] - dry[2 * i]).abs() > 1e-6);
    assert_eq!(first, Some(2400 + 1), "the blip's first nonzero frame is 1");
}

#[test]
fn reverb_rt60_through_the_engine_matches_size() {
    for size in [0.2f32, 0.5] {
        let s = Sound {
            room: 1.0,
            size,
            damp: 0.0,
            ..blip()
        };
        let want = rt60_of_size(size);
        let frames = ((want * 1.6 + 0.3) * SR) as u64;
        let wet = render_events(&[on(0, s), off(48)], frames);
        let dry = render_events(&[on(0, blip()), off(48)], frames);
        let energy: Vec<f64> = wet
            .chunks_exact(2)
            .zip(dry.chunks_exact(2))
            .map(|(w, d)| ((w[0] - d[0]) as f64).powi(2) + ((w[1] - d[1]) as f64).powi(2))
            .collect();
        let got = rt60_of_response(&energy, SR).unwrap();
        assert!(
            (got - want).abs() / want < 0.2,
            "size {size}: RT60 {got:.3} s, set {want:.3} s"
        );
    }
}

/// Steady-state gain of `mode` at `hz` for a filter set to `fc`.
fn filter_gain(mode: FilterMode, fc: f32, hz: f32) -> f32 {
    let mut f = Svf::default();
    f.set(fc, 0.0, SR);
    let n = (SR * 0.3) as usize;
    let settle = n / 3;
    let (mut c, mut s) = (0.0f64, 0.0f64);
    for i in 0..n {
        let w = std::f64::consts::TAU * hz as f64 * i as f64 / SR as f64;
        let y = f.process(w.sin() as f32, mode);
        if i >= settle {
            c += y as f64 * w.cos();
            s += y as f64 * w.sin();
        }
    }
    (2.0 * (c * c + s * s).sqrt() / (n - settle) as f64) as f32
}

/// The frequency in `lo..hi` where the gain crosses −3 dB (bisection on a monotone side).
fn minus_3db(mode: FilterMode, fc: f32, mut lo: f32, mut hi: f32) -> f32 {
    let target = std::f32::consts::FRAC_1_SQRT_2;
    let rising = filter_gain(mode, fc, hi) > filter_gain(mode, fc, lo);
    for _ in 0..24 {
        let mid = (lo * hi).sqrt();
        let above = filter_gain(mode, fc, mid) > target;
        if above == rising {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (lo * hi).sqrt()
}

#[test]
fn filters_are_3db_down_at_cutoff() {
    for fc in [200.0f32, 1_000.0, 5_000.0] {
        let lp = minus_3db(FilterMode::LowPass, fc, fc / 4.0, fc * 4.0);
        let hp = minus_3db(FilterMode::HighPass, fc, fc / 4.0, fc * 4.0);
        assert!((lp / fc - 1.0).abs() < 0.05, "lpf {fc}: −3 dB at {lp}");
        assert!((hp / fc - 1.0).abs() < 0.05, "hpf {fc}: −3 dB at {hp}");
    }
    // Band-pass (Q = 1/√2): unity at the centre, −3 dB at fc·(√(1 + 1/4Q²) ∓ 1/2Q).
    let fc = 1_000.0;
    assert!((filter_gain(FilterMode::BandPass, fc, fc) - 1.0).abs() < 0.01);
    let q = std::f32::consts::FRAC_1_SQRT_2;
    let root = (1.0 + 1.0 / (4.0 * q * q)).sqrt();
    let (want_lo, want_hi) = (fc * (root - 0.5 / q), fc * (root + 0.5 / q));
    let lo = minus_3db(FilterMode::BandPass, fc, fc / 8.0, fc);
    let hi = minus_3db(FilterMode::BandPass, fc, fc, fc * 8.0);
    assert!(
        (lo / want_lo - 1.0).abs() < 0.05,
        "bpf lower edge {lo} vs {want_lo}"
    );
    assert!(
        (hi / want_hi - 1.0).abs() < 0.05,
        "bpf upper edge {hi} vs {want_hi}"
    );
}

#[test]
fn hpf_and_bpf_voices_cut_what_they_should() {
    let held = |filter: FilterMode, cutoff: f32, key: u8| {
        let s = Sound {
            filter,
            cutoff,
            resonance: 0.0,
            ..blip()
        };
        let mut ev = on(0, s);
        if let Event::NoteOn { key: k, .. } = &mut ev.event {
            *k = key;
        }
        let out = render_events(&[ev], 24_000);
        out[24_000..].iter().map(|x| x.abs()).fold(0.0, f32::max)
    };
    // A2 = 110 Hz through a 2 kHz high-pass: ≈ (110/2000)² ≈ −25 dB.
    assert!(held(FilterMode::HighPass, 2_000.0, 45) < 0.01);
    assert!(held(FilterMode::HighPass, 20.0, 45) > 0.9);
    // A4 = 440 Hz: passes a band-pass at 440, not one at 5 kHz.
    assert!(held(FilterMode::BandPass, 440.0, 69) > 0.95);
    assert!(held(FilterMode::BandPass, 5_000.0, 69) < 0.15);
}

/// Largest sample-to-sample step of the left channel in `range`.
fn max_step(out: &[f32], range: std::ops::Range<usize>) -> f32 {
    range
        .map(|i| (out[2 * i] - out[2 * i - 2]).abs())
        .fold(0.0, f32::max)
}

#[test]
fn live_effect_params_glide_without_zipper_steps() {
    // A held A2 sine; at frame 24 000 one parameter jumps. The largest step in the 20 ms
    // around the change must stay within 1.5× the largest step of the settled sound after it
    // (a jump unsmoothed would be far larger for these settings).
    for (p, from, to) in [
        (Param::Tremolo, 0.0, 1.0),
        (Param::Distort, 0.0, 6.0),
        (Param::Room, 0.0, 1.0),
        (Param::Delay, 0.0, 1.0),
        (Param::Gain, 1.0, 0.1),
    ] {
        let mut s = Sound {
            delaytime: 0.005,
            delay_in_secs: true,
            delayfeedback: 0.0,
            tremolorate: 2.0,
            ..blip()
        };
        p.apply(&mut s, from);
        let ev = [on(0, s), param(24_000, p, to)];
        let out = render_events(&ev, 48_000);
        let at = max_step(&out, 23_990..25_000);
        let settled = max_step(&out, 36_000..48_000).max(max_step(&out, 12_000..23_990));
        assert!(
            at <= 1.5 * settled,
            "{p:?} {from} → {to}: step {at} vs {settled}"
        );
    }
}

#[test]
fn effects_off_leave_the_dry_sound_bit_identical() {
    let s = Sound {
        synth: SynthKind::Saw,
        ..Sound::default()
    };
    let a = render_events(&[on(0, s), off(12_000)], 24_000);
    // The same note with zero sends and neutral inserts but other bus settings.
    let b = render_events(
        &[
            on(
                0,
                Sound {
                    delaytime: 3.0,
                    size: 1.0,
                    damp: 1.0,
                    pingpong: true,
                    ..s
                },
            ),
            off(12_000),
        ],
        24_000,
    );
    assert_eq!(a, b);
}

#[test]
fn nan_param_values_are_ignored_and_output_stays_finite() {
    let s = Sound {
        delay: 0.5,
        room: 0.5,
        distort: 3.0,
        ..blip()
    };
    let mut ev = vec![on(0, s)];
    for (i, p) in [
        Param::Room,
        Param::Size,
        Param::DelayTime,
        Param::Distort,
        Param::Crush,
    ]
    .into_iter()
    .enumerate()
    {
        ev.push(param(1000 + i as u64, p, f32::NAN));
        ev.push(param(2000 + i as u64, p, f32::INFINITY));
        ev.push(param(3000 + i as u64, p, -1e30));
    }
    let out = render_events(&ev, 24_000);
    assert!(out.iter().all(|x| x.is_finite()));
    assert!(out[40_000..].iter().any(|x| x.abs() > 0.01));
}
