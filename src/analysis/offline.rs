//! Offline analysis: a whole recording through the same [`Analyzer`] the live thread uses,
//! plus the per-file summary (mean / standard deviation of every feature, mean chroma,
//! onset list and a global tempo estimate over the full onset envelope).

use super::analyzer::{Causal, Spectral};
use super::wav::{self, MonoWav};
use super::{tempo, AnalysisError, AnalyzerConfig, Features};
use std::path::Path;

/// Per-frame features of a recording and their summary.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub config: AnalyzerConfig,
    /// Number of samples analysed (mono).
    pub samples: usize,
    pub frames: Vec<Features>,
    pub summary: Summary,
}

/// Mean and standard deviation of the scalar features.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Scalars {
    pub rms: f32,
    pub centroid: f32,
    pub bandwidth: f32,
    pub rolloff: f32,
    pub flatness: f32,
    pub flux: f32,
    pub onset_strength: f32,
}

impl Scalars {
    fn of(f: &Features) -> [f64; 7] {
        [
            f.rms as f64,
            f.centroid as f64,
            f.bandwidth as f64,
            f.rolloff as f64,
            f.flatness as f64,
            f.flux as f64,
            f.onset_strength as f64,
        ]
    }
    fn from_array(a: [f64; 7]) -> Self {
        Scalars {
            rms: a[0] as f32,
            centroid: a[1] as f32,
            bandwidth: a[2] as f32,
            rolloff: a[3] as f32,
            flatness: a[4] as f32,
            flux: a[5] as f32,
            onset_strength: a[6] as f32,
        }
    }
}

/// Summary of a run of frames.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Seconds covered by the frames (`frames · hop / sample_rate`).
    pub duration: f64,
    pub frames: usize,
    pub mean: Scalars,
    pub std: Scalars,
    pub chroma_mean: [f32; 12],
    pub chroma_std: [f32; 12],
    /// Estimated onset times in seconds.
    pub onsets: Vec<f64>,
    /// Tempo over the whole envelope (0 when none is found).
    pub bpm: f32,
}

impl Summary {
    /// Summarises frames of one stream (consecutive, as the analyzer emits them).
    pub fn from_frames(frames: &[Features]) -> Summary {
        let n = frames.len();
        if n == 0 {
            return Summary::default();
        }
        let period = if n >= 2 {
            frames[1].time - frames[0].time
        } else {
            0.0
        };
        let mut sum = [0.0f64; 7];
        let mut sq = [0.0f64; 7];
        let mut csum = [0.0f64; 12];
        let mut csq = [0.0f64; 12];
        for f in frames {
            for (i, v) in Scalars::of(f).into_iter().enumerate() {
                sum[i] += v;
                sq[i] += v * v;
            }
            for (i, c) in f.chroma.iter().enumerate() {
                csum[i] += *c as f64;
                csq[i] += (*c as f64).powi(2);
            }
        }
        let nf = n as f64;
        let mean_std = |s: f64, q: f64| {
            let m = s / nf;
            (m, (q / nf - m * m).max(0.0).sqrt())
        };
        let mut mean = [0.0; 7];
        let mut std = [0.0; 7];
        for i in 0..7 {
            (mean[i], std[i]) = mean_std(sum[i], sq[i]);
        }
        let mut chroma_mean = [0.0f32; 12];
        let mut chroma_std = [0.0f32; 12];
        for i in 0..12 {
            let (m, s) = mean_std(csum[i], csq[i]);
            chroma_mean[i] = m as f32;
            chroma_std[i] = s as f32;
        }
        let bpm = if period > 0.0 {
            let env: Vec<f64> = frames.iter().map(|f| f.onset_strength as f64).collect();
            tempo::Estimator::new(n).estimate(&env, 1.0 / period) as f32
        } else {
            0.0
        };
        Summary {
            duration: nf * period,
            frames: n,
            mean: Scalars::from_array(mean),
            std: Scalars::from_array(std),
            chroma_mean,
            chroma_std,
            onsets: frames
                .iter()
                .filter(|f| f.onset)
                .map(|f| f.onset_time)
                .collect(),
            bpm,
        }
    }
}

/// Frames per worker below which offline analysis stays on one thread.
const MIN_FRAMES_PER_WORKER: usize = 512;
/// Runs of frames per worker thread (each run costs one extra frame and a copy of the
/// spectral stage's buffers).
const RUNS_PER_WORKER: usize = 4;

/// Analyses mono samples at `config` (a centred STFT over the whole signal).
///
/// The spectral stage reads each frame straight from `samples` (no copy into a ring);
/// long signals are cut into up to four runs of frames per thread of rayon's pool, each
/// run starting one frame early so its first flux is exact. The causal stage (onsets, tempo)
/// then runs over all frames in order. The frames are the same, bit for bit, as one
/// streaming [`Analyzer`](super::Analyzer) fed the whole signal (tested).
pub fn analyze_samples(samples: &[f32], config: AnalyzerConfig) -> Result<Analysis, AnalysisError> {
    let workers = rayon::current_num_threads().max(1);
    analyze_samples_with(samples, config, workers)
}

/// [`analyze_samples`] with at most `workers` threads.
pub fn analyze_samples_with(
    samples: &[f32],
    config: AnalyzerConfig,
    workers: usize,
) -> Result<Analysis, AnalysisError> {
    config.validate()?;
    // Frames of the centred stream (fft/2 zeros, the samples, fft/2 zeros), as the
    // streaming analyzer emits them: 1 + len / hop for an even fft.
    let half = config.fft / 2;
    let total = (samples.len() + 2 * half)
        .checked_sub(config.fft)
        .map_or(0, |d| d / config.hop + 1);
    let workers = workers.clamp(1, (total / MIN_FRAMES_PER_WORKER).max(1));
    let stage = Spectral::new(config)?;
    let mut frames = if workers == 1 {
        spectral_frames(samples, stage, 0, total)
    } else {
        // Four runs per thread, so a thread that the machine slows down (shared hosts)
        // leaves its last runs to the others instead of keeping everyone waiting.
        let n_runs = (workers * RUNS_PER_WORKER)
            .min(total / MIN_FRAMES_PER_WORKER)
            .max(workers);
        let per = total.div_ceil(n_runs);
        let runs: Vec<(usize, usize)> = (0..n_runs)
            .map(|w| (w * per, ((w + 1) * per).min(total)))
            .filter(|(a, b)| a < b)
            .collect();
        let parts: Vec<Vec<Features>> = {
            use rayon::prelude::*;
            runs.par_iter()
                .map(|&(t0, t1)| spectral_frames(samples, stage.clone(), t0, t1))
                .collect()
        };
        let mut frames = Vec::with_capacity(total);
        for p in parts {
            frames.extend(p);
        }
        frames
    };
    Causal::new(&config).run_over(&mut frames);
    let summary = Summary::from_frames(&frames);
    Ok(Analysis {
        config,
        samples: samples.len(),
        frames,
        summary,
    })
}

/// The spectral stage of frames `t0..t1` of the centred STFT of `samples`.
fn spectral_frames(samples: &[f32], mut stage: Spectral, t0: usize, t1: usize) -> Vec<Features> {
    // Start one frame early so frame t0's flux and onset strength see their previous frame.
    let warm = t0.saturating_sub(1);
    stage.start_at(warm as u64);
    let mut pad = vec![0.0; stage.config().fft];
    let mut f = Features::default();
    let mut out = Vec::with_capacity(t1 - t0);
    for t in warm..t1 {
        let frame = stage.frame_of(samples, t, &mut pad);
        stage.process(frame, &mut f);
        if t >= t0 {
            out.push(f);
        }
    }
    out
}

/// Reads `path` and analyses it at its own sample rate with the given frame settings.
pub fn analyze_file(
    path: &Path,
    fft: usize,
    hop: usize,
) -> Result<(MonoWav, Analysis), AnalysisError> {
    let wav = wav::read_mono(path)?;
    let cfg = AnalyzerConfig {
        sample_rate: wav.sample_rate,
        fft,
        hop,
    };
    let analysis = analyze_samples(&wav.samples, cfg)?;
    Ok((wav, analysis))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let t = i as f32 / 44_100.0;
                let click = if i % 22_050 < 64 { 0.8 } else { 0.0 };
                0.3 * (2.0 * std::f32::consts::PI * 330.0 * t).sin()
                    + click
                    + ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 0.05
            })
            .collect()
    }

    /// The frames of the live path: one streaming analyzer fed `x` in chunks of `chunk`.
    fn streamed(x: &[f32], cfg: AnalyzerConfig, chunk: usize) -> Vec<Features> {
        let mut a = super::super::Analyzer::new(cfg).unwrap();
        let mut out = Vec::new();
        for c in x.chunks(chunk) {
            a.push(c, |f| out.push(*f));
        }
        a.finish(|f| out.push(*f));
        out
    }

    #[test]
    fn short_signals_give_the_streaming_frames_for_odd_and_even_frame_lengths() {
        for (fft, hop) in [(2048, 512), (1025, 512), (513, 513)] {
            let cfg = AnalyzerConfig {
                sample_rate: 44_100,
                fft,
                hop,
            };
            for len in [0usize, 1, 511, 512, 513, 1024, 1025, 1026, 3000] {
                let x = signal(len);
                let streamed = streamed(&x, cfg, x.len().max(1));
                let offline = analyze_samples_with(&x, cfg, 1).unwrap();
                assert_eq!(offline.frames.len(), streamed.len(), "fft {fft} len {len}");
                assert!(offline.frames == streamed, "fft {fft} hop {hop} len {len}");
            }
        }
    }

    #[test]
    fn parallel_frames_equal_one_analyzer_bit_for_bit() {
        for (len, fft, hop) in [
            (44_100 * 6, 2048, 512),
            (44_100 * 6 + 777, 4096, 1024),
            (300_001, 1024, 300),
            (2_000_000, 512, 512),
            // Odd and non-power-of-two frame lengths.
            (300_001, 1025, 300),
            (44_100 * 3 + 5, 1537, 700),
        ] {
            let cfg = AnalyzerConfig {
                sample_rate: 44_100,
                fft,
                hop,
            };
            let x = signal(len);
            // The live path, fed in uneven chunks.
            let streamed = streamed(&x, cfg, 1000 + len % 777);
            let one = analyze_samples_with(&x, cfg, 1).unwrap();
            assert!(
                one.frames == streamed,
                "one worker: len {len} fft {fft} hop {hop}"
            );
            for workers in [2, 3, 7] {
                let many = analyze_samples_with(&x, cfg, workers).unwrap();
                assert_eq!(one.frames.len(), many.frames.len(), "{len} {fft} {hop}");
                assert!(
                    one.frames == many.frames,
                    "frames differ: len {len} fft {fft} hop {hop} workers {workers}"
                );
                assert_eq!(one.summary, many.summary);
            }
            assert!(one.frames.iter().any(|f| f.onset), "the clicks are found");
        }
    }
}
