//! Where a frame's time goes (harness = false): each stage of the spectral analysis of one
//! 2048-sample frame at 44.1 kHz, timed on its own over the frames of a music-like signal,
//! compiled for AVX2 as the analyzer's frame function is. Prints ns per frame per stage.
//!
//! Run: `cargo bench --bench analysis_stages`.

use std::hint::black_box;
use std::time::Instant;
use weft::analysis::spectral as sp;

const SR: f64 = 44_100.0;
const N: usize = 2048;
const FRAMES: usize = 2000;

fn signal() -> Vec<f32> {
    let mut seed = 0x2545F4914F6CDD1Du64;
    (0..N * 8)
        .map(|i| {
            let t = i as f32 / SR as f32;
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.02;
            [220.0f32, 277.2, 330.0, 440.0]
                .iter()
                .map(|f| (2.0 * std::f32::consts::PI * f * t).sin())
                .sum::<f32>()
                * 0.12
                + noise
        })
        .collect()
}

fn time(name: &str, mut f: impl FnMut(usize)) {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t0 = Instant::now();
        for i in 0..FRAMES {
            f(i);
        }
        best = best.min(t0.elapsed().as_secs_f64());
    }
    println!("{name:>22}: {:7.0} ns/frame", best * 1e9 / FRAMES as f64);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
// SAFETY: no unsafe operations inside; `target_feature` makes the caller check for AVX2.
unsafe fn run() {
    let x = signal();
    let freqs: Vec<f32> = sp::fft_frequencies(SR, N)
        .iter()
        .map(|f| *f as f32)
        .collect();
    let bins = N / 2 + 1;
    let (mut mag, mut power, mut prev) =
        (vec![0.0f32; bins], vec![0.0f32; bins], vec![0.0f32; bins]);
    let mel = sp::mel_filterbank(SR, N, sp::N_MELS);
    let chroma = sp::chroma_filterbank(SR, N);
    let ranges = sp::band_ranges(SR, N);
    let mut mel_out = vec![0.0f32; sp::N_MELS];
    let mut chroma_out = [0.0f32; 12];
    let mut bands = [0.0f32; sp::N_BANDS];
    let frame = |i: usize| &x[(i % 24) * 512..(i % 24) * 512 + N];

    let mut pfft = weft::analysis::stft::PowerFft::new(sp::hann(N));
    time("window + fft + power", |i| {
        pfft.process(frame(i), &mut power, &mut mag);
        black_box(&mut mag);
    });
    prev.copy_from_slice(&mag);
    prev.iter_mut().for_each(|p| *p *= 0.9);
    time("rms", |i| {
        let f = frame(i);
        black_box(sp::sum_zip(f, f, |x, _| x * x));
    });
    time("centroid + bandwidth", |_| {
        black_box(sp::centroid_bandwidth(black_box(&mag), &freqs));
    });
    time("rolloff", |_| {
        black_box(sp::rolloff(black_box(&mag), &freqs, sp::ROLL_PERCENT));
    });
    time("flatness", |_| {
        black_box(sp::flatness(black_box(&mag), sp::FLATNESS_AMIN));
    });
    time("flux", |_| {
        black_box(sp::positive_flux(black_box(&mag), &prev));
    });
    time("mel", |_| {
        mel.apply(black_box(&mag), &mut mel_out);
        black_box(&mut mel_out);
    });
    time("mel log", |_| {
        for m in mel_out.iter_mut() {
            *m = sp::fast_ln(1.0 + 10.0 * *m);
        }
        black_box(&mut mel_out);
    });
    time("chroma", |_| {
        chroma.apply(black_box(&power), &mut chroma_out);
        black_box(&mut chroma_out);
    });
    time("bands", |_| {
        sp::bands_db(black_box(&mag), &ranges, N, &mut bands);
        black_box(&mut bands);
    });
}

#[cfg(target_arch = "x86_64")]
fn main() {
    if !std::arch::is_x86_feature_detected!("avx2") {
        println!("analysis_stages: this CPU has no AVX2; skipped");
        return;
    }
    // SAFETY: AVX2 is present, checked just above.
    unsafe { run() };
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("analysis_stages: written for x86_64 with AVX2; skipped");
}
