//! Sample decoding benchmark (harness = false; prints figures): a 10 s 48 kHz 16-bit stereo
//! WAV decoded by hound (`Sample::load`, what the bank uses for WAV) and by symphonia
//! (`decode_symphonia`, what it uses for FLAC and Ogg Vorbis), best of 7 runs each, and the
//! same 10 s resampled 44.1 → 48 kHz (cubic) as the bank does at load.
//!
//! Run: `cargo bench --bench samples` (release). Measured so far only as
//! `cargo bench --bench samples --profile dev` (dependencies at opt-level 3, weft itself
//! unoptimised — hound's per-sample iterator is compiled into weft there, so that figure
//! flatters symphonia): hound 787 ms, symphonia 78 ms, resample 287 ms, load average ~20.

use std::time::Instant;

use weft::sound::synth::{decode_symphonia, Sample};

fn best_of(n: usize, mut f: impl FnMut()) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ten.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    let mut x: u32 = 1;
    for _ in 0..2 * 480_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        w.write_sample((x >> 16) as i16).unwrap();
    }
    w.finalize().unwrap();
    let a = Sample::load(&path).unwrap();
    let b = decode_symphonia(&path).unwrap();
    assert_eq!(a.data, b.data, "both decoders give the same samples");
    let hound_s = best_of(7, || {
        std::hint::black_box(Sample::load(&path).unwrap());
    });
    let sym_s = best_of(7, || {
        std::hint::black_box(decode_symphonia(&path).unwrap());
    });
    println!("decode 10 s 48 kHz 16-bit stereo WAV (best of 7):");
    println!("  hound     {:7.2} ms", hound_s * 1e3);
    println!(
        "  symphonia {:7.2} ms  (symphonia/hound {:.2})",
        sym_s * 1e3,
        sym_s / hound_s
    );
    let at44 = Sample {
        sample_rate: 44_100,
        ..a
    };
    let rs = best_of(7, || {
        let mut w = Vec::new();
        std::hint::black_box(weft::sound::synth::fit(at44.clone(), 48_000, &mut w));
    });
    println!(
        "resample 10 s stereo 44.1 -> 48 kHz (cubic): {:.2} ms",
        rs * 1e3
    );
}
