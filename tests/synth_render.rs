//! Offline rendering through the public API: sampler bit-exactness, deterministic WAV
//! output in every format, General MIDI through the shipped SoundFont.

use std::path::PathBuf;

use weft::engine::event::{Event, Sound, SynthKind, TimedEvent};
use weft::sound::synth::{render, render_to_wav, Engine, SynthConfig, WavFormat};

fn note(frame: u64, track: u16, key: u8, vel: u8, sound: Sound) -> TimedEvent {
    TimedEvent {
        tick: 0,
        frame,
        event: Event::NoteOn {
            track,
            channel: if sound.synth.is_drum() { 9 } else { 0 },
            key,
            vel,
            sound,
        },
    }
}

fn soundfont() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/sf_GMbank.sf2")
}

#[test]
fn sampler_plays_a_wav_back_bit_exact_at_unity_gain() {
    let dir = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    // A deterministic pseudo-random 16-bit stereo sample, full scale both ways.
    let mut x: u32 = 12345;
    let data: Vec<i16> = (0..2 * 3000)
        .map(|i| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            match i {
                0 => i16::MAX,
                1 => i16::MIN,
                _ => (x >> 16) as i16,
            }
        })
        .collect();
    let mut w = hound::WavWriter::create(dir.path().join("a_test.wav"), spec).unwrap();
    for &s in &data {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();

    let cfg = SynthConfig {
        sample_rate: 48_000,
        polyphony: 8,
        samples_dir: Some(dir.path().to_path_buf()),
        soundfont: None,
        master_chain: false,
        bank_swap: None,
    };
    let sound = Sound {
        synth: SynthKind::Sample,
        attack: 0.0,
        sustain: 1.0,
        gain: 1.0,
        pan: 0.0,
        sample: 0,
        ..Sound::default()
    };
    let at = 777;
    let out_path = dir.path().join("out.wav");
    render_to_wav(
        &[note(at, 0, 60, 127, sound)],
        5000,
        cfg,
        &out_path,
        WavFormat::I16,
    )
    .unwrap();
    let got: Vec<i16> = hound::WavReader::open(&out_path)
        .unwrap()
        .samples::<i16>()
        .map(Result::unwrap)
        .collect();
    let start = 2 * at as usize;
    assert!(got[..start].iter().all(|&s| s == 0));
    assert_eq!(&got[start..start + data.len()], &data[..]);
    assert!(got[start + data.len()..].iter().all(|&s| s == 0));
}

#[test]
fn wav_output_is_byte_identical_across_runs_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    for (i, kind) in [
        SynthKind::Saw,
        SynthKind::Pluck,
        SynthKind::Fm,
        SynthKind::Noise,
        SynthKind::Kick,
        SynthKind::Snare,
        SynthKind::Hat,
        SynthKind::Clap,
        SynthKind::Gm,
    ]
    .into_iter()
    .enumerate()
    {
        let sound = Sound {
            synth: kind,
            program: 24,
            cutoff: 2000.0,
            ..Sound::default()
        };
        events.push(note(
            i as u64 * 2_000,
            i as u16,
            kind.default_key(),
            100,
            sound,
        ));
    }
    let cfg = SynthConfig {
        soundfont: Some(soundfont()),
        samples_dir: None,
        ..SynthConfig::default()
    };
    for format in [WavFormat::I16, WavFormat::I24, WavFormat::F32] {
        let a = dir.path().join("a.wav");
        let b = dir.path().join("b.wav");
        let ra = render_to_wav(&events, 30_000, cfg.clone(), &a, format).unwrap();
        render_to_wav(&events, 30_000, cfg.clone(), &b, format).unwrap();
        let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        assert_eq!(a, b, "{format:?}");
        assert!(
            ra.peak > 0.01 && ra.peak < 1.0,
            "{format:?} peak {}",
            ra.peak
        );
        let reader = hound::WavReader::new(std::io::Cursor::new(a)).unwrap();
        let bits = match format {
            WavFormat::I16 => 16,
            WavFormat::I24 => 24,
            WavFormat::F32 => 32,
        };
        assert_eq!(reader.spec().bits_per_sample, bits);
        assert_eq!(reader.spec().channels, 2);
        assert_eq!(reader.len(), 30_000 * 2);
    }
}

#[test]
fn general_midi_plays_through_the_shipped_soundfont() {
    let cfg = SynthConfig {
        soundfont: Some(soundfont()),
        samples_dir: None,
        ..SynthConfig::default()
    };
    let (engine, warnings) = Engine::new(cfg.clone()).unwrap();
    assert!(engine.has_soundfont(), "{warnings:?}");
    let piano = Sound {
        synth: SynthKind::Gm,
        program: 0,
        ..Sound::default()
    };
    let at = 4_800u64;
    let (out, _) = render(&[note(at, 0, 60, 110, piano)], 48_000, cfg).unwrap();
    assert!(out.iter().all(|x| x.is_finite()));
    let first = out
        .chunks_exact(2)
        .position(|f| f[0] != 0.0 || f[1] != 0.0)
        .unwrap();
    // rustysynth applies notes at its next internal block and ramps a new voice's gain up
    // from 0 over its first block; the SoundFont sample itself may start near silence.
    assert!(
        first >= at as usize && first < at as usize + 4 * weft::sound::synth::GM_BLOCK,
        "{first}"
    );
    let rms = (out.iter().map(|x| x * x).sum::<f32>() / out.len() as f32).sqrt();
    assert!(rms > 1e-3, "GM piano silent: {rms}");
}
