//! WAV input of every supported encoding, clear errors for bad files, the `weft analyze`
//! command's output, and "sounds like" ranking.

use std::path::Path;
use weft::analysis::{similar, wav, Profile};
use weft::cli::analyze::{run_to, AnalyzeArgs};

fn write_wav(path: &Path, sr: u32, channels: u16, bits: u16, float: bool, frames: &[f32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: sr,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for x in frames {
        for c in 0..channels {
            // Channel 0 carries x, every other channel x/2, so the mono mix has a known gain.
            let v = if c == 0 { *x } else { x * 0.5 };
            if float {
                w.write_sample(v).unwrap();
            } else {
                let max = (1i64 << (bits - 1)) as f32;
                w.write_sample(
                    ((v * max).round() as i64).clamp(-(max as i64), max as i64 - 1) as i32,
                )
                .unwrap();
            }
        }
    }
    w.finalize().unwrap();
}

fn tone(f: f32, sr: u32, secs: f32, amp: f32) -> Vec<f32> {
    (0..(sr as f32 * secs) as usize)
        .map(|i| amp * (2.0 * std::f32::consts::PI * f * i as f32 / sr as f32).sin())
        .collect()
}

#[test]
fn every_bit_depth_channel_count_and_rate_reads_the_same_signal() {
    let dir = tempfile::tempdir().unwrap();
    for (sr, ch, bits, float) in [
        (8000, 1, 8, false),
        (22050, 1, 16, false),
        (44100, 2, 16, false),
        (48000, 2, 24, false),
        (96000, 1, 32, false),
        (44100, 2, 32, true),
        (32000, 3, 24, false),
    ] {
        let x = tone(440.0, sr, 0.25, 0.5);
        let p = dir.path().join(format!("t_{sr}_{ch}_{bits}_{float}.wav"));
        write_wav(&p, sr, ch, bits, float, &x);
        let w = wav::read_mono(&p).unwrap();
        assert_eq!(
            (w.sample_rate, w.channels, w.bits, w.float),
            (sr, ch, bits, float)
        );
        assert_eq!(w.samples.len(), x.len());
        // mono = mean of channel 0 (x) and the others (x/2)
        let gain = (1.0 + 0.5 * (ch - 1) as f32) / ch as f32;
        let tol = 2.0 / (1u32 << (bits - 1)) as f32 + 1e-6;
        for (a, b) in w.samples.iter().zip(&x) {
            assert!(
                (a - b * gain).abs() <= tol,
                "{sr} Hz {ch} ch {bits} bit: {a} vs {}",
                b * gain
            );
        }
    }
}

#[test]
fn bad_and_truncated_files_give_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.wav");
    std::fs::write(&garbage, b"this is not a RIFF file at all, just text").unwrap();
    let e = wav::read_mono(&garbage).unwrap_err().to_string();
    assert!(
        e.contains("garbage.wav") && e.contains("not a valid WAV"),
        "{e}"
    );

    let good = dir.path().join("good.wav");
    write_wav(&good, 44100, 2, 16, false, &tone(220.0, 44100, 0.5, 0.5));
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.wav");
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 1]).unwrap();
    let e = wav::read_mono(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.wav") && e.contains("truncated"), "{e}");

    let header_only = dir.path().join("header.wav");
    std::fs::write(&header_only, &bytes[..20]).unwrap();
    let e = wav::read_mono(&header_only).unwrap_err().to_string();
    assert!(e.contains("header.wav"), "{e}");

    let missing = dir.path().join("missing.wav");
    let e = wav::read_mono(&missing).unwrap_err().to_string();
    assert!(
        e.contains("missing.wav") && e.contains("no such file"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
}

fn args(file: &Path) -> AnalyzeArgs {
    AnalyzeArgs {
        file: file.to_path_buf(),
        json: false,
        fft: 2048,
        hop: 512,
        similar: None,
    }
}

#[test]
fn analyze_prints_a_summary_and_json_frames() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a4.wav");
    write_wav(&p, 44100, 1, 16, false, &tone(440.0, 44100, 1.0, 0.5));
    let mut out = Vec::new();
    run_to(&args(&p), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("44100 Hz") && text.contains("strongest A"),
        "{text}"
    );

    let mut a = args(&p);
    a.json = true;
    a.fft = 1024;
    a.hop = 256;
    let mut out = Vec::new();
    run_to(&a, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let frames = v["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 1 + 44100 / 256);
    assert_eq!(v["fft"], 1024);
    assert_eq!(frames[50]["bands"].as_array().unwrap().len(), 48);
    assert!((frames[50]["centroid"].as_f64().unwrap() - 440.0).abs() < 0.03 * 440.0);

    a.fft = 100;
    let e = run_to(&a, &mut Vec::new()).unwrap_err().to_string();
    assert!(e.contains("fft must be in 512..=8192"), "{e}");
}

#[test]
fn similar_ranks_the_closer_sound_first() {
    let dir = tempfile::tempdir().unwrap();
    let sr = 22050;
    let noise: Vec<f32> = (0..sr as usize)
        .map(|i| (((i as u64 * 2654435761) % 1000) as f32 / 1000.0 - 0.5) * 0.8)
        .collect();
    write_wav(
        &dir.path().join("seed.wav"),
        sr,
        1,
        16,
        false,
        &tone(440.0, sr, 1.0, 0.4),
    );
    write_wav(
        &dir.path().join("a_tone_a5.wav"),
        sr,
        1,
        16,
        false,
        &tone(880.0, sr, 1.0, 0.3),
    );
    write_wav(&dir.path().join("b_noise.wav"), sr, 1, 16, false, &noise);
    write_wav(
        &dir.path().join("c_tone_a4.wav"),
        sr,
        2,
        24,
        false,
        &tone(440.0, sr, 1.0, 0.35),
    );
    std::fs::write(dir.path().join("notes.txt"), "not audio").unwrap();
    let ranked = similar(dir.path(), &dir.path().join("seed.wav")).unwrap();
    let names: Vec<_> = ranked
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["c_tone_a4.wav", "a_tone_a5.wav", "b_noise.wav"],
        "{ranked:?}"
    );
    assert!(ranked[0].1 > 0.99 && ranked[2].1 < ranked[1].1);
    let seed = Profile::from_wav(&dir.path().join("seed.wav")).unwrap();
    assert!((Profile::cosine(&seed, &seed) - 1.0).abs() < 1e-6);

    let mut a = args(&dir.path().join("seed.wav"));
    a.similar = Some(dir.path().to_path_buf());
    let mut out = Vec::new();
    run_to(&a, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.lines().nth(1).unwrap().contains("c_tone_a4.wav"),
        "{text}"
    );
}
