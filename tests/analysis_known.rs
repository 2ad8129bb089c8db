//! Known-answer tests of the analysis stage on rendered signals: sine → centroid and
//! chroma, white noise → flatness, clicks → onsets (±10 ms, F-measure 1.0), a 120 bpm click
//! track → tempo 120 ± 1.

use weft::analysis::{analyze_samples, AnalyzerConfig, Features};

const SR: u32 = 44_100;

/// Deterministic xorshift noise in −1..1 (no extra dependency).
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    }
    /// Approximately Gaussian (sum of four uniforms), unit-ish variance.
    fn gauss(&mut self) -> f32 {
        (self.next() + self.next() + self.next() + self.next()) * 0.866
    }
}

fn sine(f: f32, secs: f32, amp: f32) -> Vec<f32> {
    (0..(secs * SR as f32) as usize)
        .map(|i| amp * (2.0 * std::f32::consts::PI * f * i as f32 / SR as f32).sin())
        .collect()
}

/// Frames whose window lies entirely inside the signal.
fn interior(frames: &[Features], cfg: AnalyzerConfig) -> &[Features] {
    let edge = cfg.fft / cfg.hop;
    &frames[edge..frames.len() - edge]
}

fn argmax(x: &[f32]) -> usize {
    (0..x.len()).max_by(|a, b| x[*a].total_cmp(&x[*b])).unwrap()
}

#[test]
fn sine_centroid_is_its_frequency_and_chroma_peaks_at_its_pitch_class() {
    let cfg = AnalyzerConfig::new(SR);
    // (frequency, pitch class): A4, C4, E5, G3, F#6
    for (f, pc) in [
        (440.0, 9),
        (261.63, 0),
        (659.26, 4),
        (196.0, 7),
        (1479.98, 6),
    ] {
        let a = analyze_samples(&sine(f, 1.0, 0.5), cfg).unwrap();
        let inner = interior(&a.frames, cfg);
        let mean = inner.iter().map(|x| x.centroid).sum::<f32>() / inner.len() as f32;
        // The magnitude-weighted centroid of a Hann-windowed sine sits ~1% high (the leakage
        // tail has more bins above the tone than below), in librosa as here.
        assert!((mean - f).abs() < 0.015 * f, "{f} Hz: mean centroid {mean}");
        for fr in inner {
            assert!(
                (fr.centroid - f).abs() < 0.03 * f,
                "{f} Hz: centroid {}",
                fr.centroid
            );
            assert_eq!(argmax(&fr.chroma), pc, "{f} Hz: chroma {:?}", fr.chroma);
            assert!(fr.flatness < 1e-3, "{f} Hz: flatness {}", fr.flatness);
            assert!(
                (fr.rms - 0.5 / 2f32.sqrt()).abs() < 2e-3,
                "{f} Hz: rms {}",
                fr.rms
            );
        }
    }
}

#[test]
fn white_noise_flatness_is_that_of_an_exponential_power_spectrum() {
    // For white Gaussian noise each power bin is exponentially distributed, whose geometric
    // over arithmetic mean is exp(−γ) ≈ 0.561 (γ = Euler–Mascheroni) — librosa's per-frame
    // flatness of white noise. A pure tone is near 0.
    let cfg = AnalyzerConfig::new(SR);
    let mut n = Noise(0x9E37_79B9_7F4A_7C15);
    let x: Vec<f32> = (0..SR as usize * 2).map(|_| 0.3 * n.gauss()).collect();
    let a = analyze_samples(&x, cfg).unwrap();
    let inner = interior(&a.frames, cfg);
    let mean = inner.iter().map(|f| f.flatness as f64).sum::<f64>() / inner.len() as f64;
    let expected = (-0.577_215_664_9f64).exp();
    assert!(
        (mean - expected).abs() < 0.03,
        "mean flatness {mean}, expected {expected}"
    );
    assert!(inner.iter().all(|f| f.flatness > 0.4));
}

fn click_at(x: &mut [f32], at: usize, amp: f32) {
    for k in 0..64.min(x.len() - at) {
        x[at + k] += amp * (-(k as f32) / 6.0).exp() * if k % 2 == 0 { 1.0 } else { -0.7 };
    }
}

/// Greedy one-to-one matching within `tol` seconds; returns the F-measure.
fn f_measure(truth: &[f64], found: &[f64], tol: f64) -> f64 {
    let mut used = vec![false; found.len()];
    let mut hits = 0usize;
    for t in truth {
        if let Some(j) = (0..found.len()).find(|&j| !used[j] && (found[j] - t).abs() <= tol) {
            used[j] = true;
            hits += 1;
        }
    }
    let p = hits as f64 / found.len().max(1) as f64;
    let r = hits as f64 / truth.len().max(1) as f64;
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

#[test]
fn clicks_are_detected_within_10_ms_with_f_measure_one() {
    for (fft, hop) in [(2048, 512), (1024, 256), (4096, 1024)] {
        let cfg = AnalyzerConfig {
            sample_rate: SR,
            fft,
            hop,
        };
        let mut n = Noise(42);
        let len = SR as usize * 10;
        let mut x: Vec<f32> = (0..len).map(|_| 0.002 * n.gauss()).collect();
        // Irregular spacing 150..450 ms, amplitudes 0.3..0.9.
        let mut truth = Vec::new();
        let mut at = 0.2 * SR as f64;
        while at < (len - 8192) as f64 {
            let amp = 0.3 + 0.6 * (n.next() * 0.5 + 0.5);
            click_at(&mut x, at as usize, amp);
            truth.push(at / SR as f64);
            at += (0.15 + 0.3 * (n.next() as f64 * 0.5 + 0.5)) * SR as f64;
        }
        let a = analyze_samples(&x, cfg).unwrap();
        let found = &a.summary.onsets;
        let worst = truth
            .iter()
            .map(|t| found.iter().map(|f| (f - t).abs()).fold(f64::MAX, f64::min))
            .fold(0.0, f64::max);
        let f = f_measure(&truth, found, 0.010);
        if f < 1.0 {
            eprintln!("truth {truth:?}\nfound {found:?}");
        }
        assert_eq!(
            f,
            1.0,
            "fft {fft} hop {hop}: {} clicks, {} onsets, worst error {:.1} ms",
            truth.len(),
            found.len(),
            worst * 1e3
        );
    }
}

#[test]
fn click_track_at_120_bpm_gives_tempo_120() {
    let cfg = AnalyzerConfig::new(SR);
    let len = SR as usize * 12;
    let mut x = vec![0.0f32; len];
    let mut n = Noise(7);
    for s in x.iter_mut() {
        *s = 0.001 * n.gauss();
    }
    let beat = SR as usize / 2;
    for (i, at) in (SR as usize / 4..len - 200).step_by(beat).enumerate() {
        click_at(&mut x, at, if i % 4 == 0 { 0.9 } else { 0.6 });
    }
    let a = analyze_samples(&x, cfg).unwrap();
    assert!(
        (a.summary.bpm - 120.0).abs() <= 1.0,
        "global tempo {}",
        a.summary.bpm
    );
    // The running estimate settles once it has seen a few seconds.
    let late = &a.frames[a.frames.len() * 2 / 3..];
    for f in late {
        assert!(
            (f.bpm - 120.0).abs() <= 1.0,
            "running tempo {} at {:.2} s",
            f.bpm,
            f.time
        );
    }
}
