//! Unit tests of one voice: rendering independent of block segmentation, filter glides.

use super::*;
use crate::sound::synth::samples::Bank;
use std::sync::Arc;

const SR: f32 = 48_000.0;

fn effects_sound(kind: SynthKind) -> Sound {
    Sound {
        synth: kind,
        filter: FilterMode::BandPass,
        cutoff: 900.0,
        resonance: 0.4,
        distort: 1.5,
        crush: 7.0,
        coarse: 2.0,
        tremolo: 0.5,
        tremolorate: 5.0,
        delay: 0.3,
        room: 0.4,
        sustain: 1.0,
        release: 0.02,
        gain: 0.5,
        ..Sound::default()
    }
}

/// Renders `frames` frames in segments of the given lengths (cycled), with parameter
/// changes at fixed frames and a note-off at `off`; returns (mix, delay send, room send).
fn render(kind: SynthKind, segments: &[usize], frames: usize, off: usize) -> [Vec<f32>; 3] {
    let banks = Banks::new(Arc::new(Bank::default()));
    let ctx = Ctx {
        sample_rate: SR,
        banks: &banks,
    };
    let mut v = Voice::new(SR);
    assert!(v.start(&ctx, 1, 57, 100, &effects_sound(kind), 0, 9));
    let changes = [
        (300, Param::Cutoff, 2_500.0),
        (1_000, Param::Crush, 3.0),
        (1_700, Param::Distort, 0.0),
        (2_500, Param::Tremolo, 0.0),
        (3_100, Param::Hpf, 400.0),
    ];
    let mut bufs = [
        vec![0.0; 2 * frames],
        vec![0.0; 2 * frames],
        vec![0.0; 2 * frames],
    ];
    let mut at = 0;
    let mut seg = segments.iter().cycle();
    while at < frames && v.active {
        // Stop each segment at the next event, as the engine does.
        let next = changes
            .iter()
            .map(|c| c.0)
            .chain([off])
            .filter(|&f| f > at)
            .min()
            .unwrap_or(frames);
        let end = (at + seg.next().unwrap()).min(next).min(frames);
        let [out, d, r] = &mut bufs;
        let range = 2 * at..2 * end;
        v.render(
            &ctx,
            &mut out[range.clone()],
            &mut d[range.clone()],
            &mut r[range],
        );
        at = end;
        for &(f, p, x) in &changes {
            if f == at {
                v.set_param(p, x, SR);
            }
        }
        if at == off {
            v.release();
        }
    }
    bufs
}

/// Block staging is invisible: the same note with the same changes gives the same
/// samples whether rendered frame by frame, in odd segments or in long ones.
#[test]
fn rendering_is_independent_of_the_segment_lengths() {
    for kind in [SynthKind::Saw, SynthKind::Fm, SynthKind::Pluck] {
        let one = render(kind, &[1], 6_000, 4_000);
        assert!(one[0].iter().any(|&x| x.abs() > 1e-3), "{kind:?} is silent");
        assert!(one[1].iter().any(|&x| x != 0.0) && one[2].iter().any(|&x| x != 0.0));
        // Released at 4000 with a 20 ms release: silent (and finished) by the end.
        assert_eq!(one[0][2 * 5_999], 0.0);
        for segments in [&[63usize, 64, 65][..], &[256], &[1_024], &[7, 300, 1]] {
            let other = render(kind, segments, 6_000, 4_000);
            for (a, b) in one.iter().zip(&other) {
                let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{kind:?} in segments {segments:?}");
            }
        }
    }
}

/// A gliding cutoff updates the filter every `FILTER_COEF_FRAMES` and lands on exactly
/// the coefficients of its target.
#[test]
fn a_finished_glide_leaves_the_exact_target_coefficients() {
    let banks = Banks::new(Arc::new(Bank::default()));
    let ctx = Ctx {
        sample_rate: SR,
        banks: &banks,
    };
    let mut v = Voice::new(SR);
    assert!(v.start(&ctx, 1, 57, 100, &effects_sound(SynthKind::Saw), 0, 9));
    v.set_param(Param::Cutoff, 3_000.0, SR);
    v.set_param(Param::Resonance, 0.1, SR);
    let mut out = vec![0.0; 2 * 256];
    let (mut d, mut r) = (out.clone(), out.clone());
    let before = v.filt_l.coefs();
    v.render(&ctx, &mut out[..2 * 5], &mut d[..10], &mut r[..10]);
    // Recomputed on the first gliding frame, then not for the next 15.
    let first = v.filt_l.coefs();
    assert_ne!(before, first);
    v.render(&ctx, &mut out[..2 * 11], &mut d[..22], &mut r[..22]);
    assert_eq!(first, v.filt_l.coefs());
    v.render(&ctx, &mut out[..2], &mut d[..2], &mut r[..2]);
    assert_ne!(first, v.filt_l.coefs());
    for _ in 0..40 {
        v.render(&ctx, &mut out, &mut d, &mut r);
    }
    assert!(v.cutoff.is_settled() && v.resonance.is_settled());
    let mut want = Svf::default();
    want.set(3_000.0, 0.1, SR);
    assert_eq!(v.filt_l.coefs(), want.coefs());
}

/// A bank whose one sample is a streamed 12 s WAV ramp (frame i = i mod 1000 / 32768).
fn streamed_bank(dir: &std::path::Path) -> (Bank, Vec<f32>) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    std::fs::create_dir_all(dir.join("long")).unwrap();
    let mut w = hound::WavWriter::create(dir.join("long/a.wav"), spec).unwrap();
    let n = 12 * 48_000;
    let want: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 / 32768.0).collect();
    for i in 0..n {
        w.write_sample((i % 1000) as i16).unwrap();
    }
    w.finalize().unwrap();
    let mut warn = Vec::new();
    let bank = Bank::load(dir, 48_000, &mut warn).unwrap();
    assert!(warn.is_empty(), "{warn:?}");
    (bank, want)
}

#[test]
fn a_streamed_note_plays_its_ring_skips_stale_frames_and_counts_what_is_missing_as_underruns() {
    let d = tempfile::tempdir().unwrap();
    let (bank, want) = streamed_bank(d.path());
    let st = bank.get(1, 0).unwrap().stream.clone().unwrap();
    assert_eq!(st.head, 96_000);
    assert_eq!(st.frames, want.len());
    let banks = Banks::new(Arc::new(bank));
    let ctx = Ctx {
        sample_rate: SR,
        banks: &banks,
    };
    let (mut tx, rx) = rtrb::RingBuffer::<Item>::new(1024);
    let mut v = Voice::new(SR);
    v.attach_ring(rx);
    let sound = Sound {
        synth: SynthKind::Sample,
        folder: 1,
        attack: 0.0,
        sustain: 1.0,
        gain: 1.0,
        begin: 0.5, // past the head: all from the ring
        ..Sound::default()
    };
    // Frames left over from an earlier note are dropped at the start; ones the streamer
    // still writes for it (epoch 0) after that must never be heard either.
    for _ in 0..10 {
        tx.push((0, 7.0, 7.0)).unwrap();
    }
    assert!(v.start(&ctx, 0, 60, 127, &sound, 0, 1));
    assert_eq!(tx.slots(), 1024, "the old frames were dropped");
    for _ in 0..10 {
        tx.push((0, 9.0, 9.0)).unwrap();
    }
    let (epoch, from) = v.take_stream_request().unwrap();
    assert_eq!(from, want.len() / 2);
    assert!(v.take_stream_request().is_none());
    let mut out = vec![0.0f32; 2 * 64];
    let (mut d1, mut d2) = (vec![0.0f32; 128], vec![0.0f32; 128]);
    // Nothing has arrived: 64 frames of silence, 64 underruns.
    v.render(&ctx, &mut out, &mut d1, &mut d2);
    assert!(out.iter().all(|&x| x == 0.0));
    assert_eq!(v.underruns, 64);
    // Now the streamer catches up from `from`: the late frames are skipped and the voice
    // plays on at its position.
    for &x in &want[from..from + 200] {
        tx.push((epoch, x, x)).unwrap();
    }
    out.fill(0.0);
    v.render(&ctx, &mut out, &mut d1, &mut d2);
    let l: Vec<f32> = out.chunks_exact(2).map(|f| f[0]).collect();
    assert_eq!(&l[..], &want[from + 64..from + 128]);
    assert_eq!(v.underruns, 64);
    assert!(v.active);
}

#[test]
fn a_streamed_note_reversed_or_looped_plays_only_what_is_in_memory() {
    let d = tempfile::tempdir().unwrap();
    let (bank, want) = streamed_bank(d.path());
    let banks = Banks::new(Arc::new(bank));
    let ctx = Ctx {
        sample_rate: SR,
        banks: &banks,
    };
    let mut v = Voice::new(SR);
    let base = Sound {
        synth: SynthKind::Sample,
        folder: 1,
        attack: 0.0,
        sustain: 1.0,
        gain: 1.0,
        ..Sound::default()
    };
    // A looped part wholly between head and tail: nothing to play.
    let mid = Sound {
        looped: true,
        begin: 0.4,
        end: 0.6,
        ..base
    };
    assert!(!v.start(&ctx, 0, 60, 127, &mid, 0, 1));
    assert!(!v.active);
    // The whole file reversed: its tail (last 2 s) reversed, no request.
    let rev = Sound {
        speed: -1.0,
        ..base
    };
    assert!(v.start(&ctx, 0, 60, 127, &rev, 0, 1));
    assert!(v.take_stream_request().is_none());
    let mut out = vec![0.0f32; 2 * 100];
    let (mut d1, mut d2) = (vec![0.0f32; 200], vec![0.0f32; 200]);
    v.render(&ctx, &mut out, &mut d1, &mut d2);
    let l: Vec<f32> = out.chunks_exact(2).map(|f| f[0]).collect();
    let n = want.len();
    let back: Vec<f32> = want[n - 100..].iter().rev().copied().collect();
    assert_eq!(l, back);
    assert_eq!(v.underruns, 0);
}
