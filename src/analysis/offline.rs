//! Offline analysis: a whole recording through the same [`Analyzer`] the live thread uses,
//! plus the per-file summary (mean / standard deviation of every feature, mean chroma,
//! onset list and a global tempo estimate over the full onset envelope).

use super::analyzer::{Causal, Spectral};
use super::wav::{self, WavInfo};
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
        Summary::with_tempo(frames, Summary::tempo(period(frames), &envelope(frames)))
    }

    /// The tempo over the whole onset envelope `env` of frames `period` seconds apart
    /// (0 when there is none, or for fewer than two frames).
    fn tempo(period: f64, env: &[f64]) -> f32 {
        if period > 0.0 {
            tempo::Estimator::new(env.len()).estimate(env, 1.0 / period) as f32
        } else {
            0.0
        }
    }

    /// [`from_frames`](Self::from_frames) with the whole-file tempo already estimated.
    fn with_tempo(frames: &[Features], bpm: f32) -> Summary {
        let n = frames.len();
        if n == 0 {
            return Summary::default();
        }
        let period = period(frames);
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

/// Seconds from one frame to the next (0 for fewer than two frames).
fn period(frames: &[Features]) -> f64 {
    match frames {
        [a, b, ..] => b.time - a.time,
        _ => 0.0,
    }
}

/// The frames' onset strengths, as f64 (the tempo estimators' input).
fn envelope(frames: &[Features]) -> Vec<f64> {
    frames.iter().map(|f| f.onset_strength as f64).collect()
}

/// Frames per worker below which offline analysis stays on one thread.
const MIN_FRAMES_PER_WORKER: usize = 512;
/// Frames per run. Runs are handed to the threads as they come free, so a short run keeps
/// the threads finishing together when one of them is slowed by other load; each run costs
/// one extra frame (see [`Spectral::start_at`]).
const RUN_FRAMES: usize = 128;

/// Where the spectral stage reads its frames from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// Samples in memory, read in place.
    Memory(&'a [f32]),
    /// A packed WAV file, each run decoded from the file into its thread's buffer.
    File(&'a wav::PackedWav),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::Memory(x) => x.len(),
            Source::File(w) => w.info().frames,
        }
    }
}

/// Analyses mono samples at `config` (a centred STFT over the whole signal).
///
/// The spectral stage reads each frame straight from `samples` (no copy into a ring);
/// long signals are cut into runs of [`RUN_FRAMES`] frames shared out among the threads of
/// rayon's pool, each run starting one frame early so its first flux is exact. The causal
/// stage (onsets, tempo) then runs over all frames in order. The frames are the same, bit
/// for bit, as one streaming [`Analyzer`](super::Analyzer) fed the whole signal (tested).
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
    analyze_source(Source::Memory(samples), config, workers)
}

fn analyze_source(
    source: Source,
    config: AnalyzerConfig,
    workers: usize,
) -> Result<Analysis, AnalysisError> {
    config.validate()?;
    // Frames of the centred stream (fft/2 zeros, the samples, fft/2 zeros), as the
    // streaming analyzer emits them: 1 + len / hop for an even fft.
    let half = config.fft / 2;
    let len = source.len();
    let total = (len + 2 * half)
        .checked_sub(config.fft)
        .map_or(0, |d| d / config.hop + 1);
    let workers = workers.clamp(1, (total / MIN_FRAMES_PER_WORKER).max(1));
    let stage = Spectral::new(config)?;
    let mut frames = vec![Features::default(); total];
    let run = |state: &mut RunState, (k, out): (usize, &mut [Features])| {
        state.run(source, k * RUN_FRAMES, out)
    };
    let fresh = || RunState {
        stage: stage.clone(),
        buf: Vec::new(),
        scratch: Vec::new(),
    };
    match source {
        // In memory on one thread: a single run, no frame computed twice.
        Source::Memory(_) if workers == 1 => run(&mut fresh(), (0, &mut frames[..]))?,
        _ if workers == 1 => {
            let mut state = fresh();
            frames
                .chunks_mut(RUN_FRAMES)
                .enumerate()
                .try_for_each(|job| run(&mut state, job))?
        }
        _ => {
            use rayon::prelude::*;
            frames
                .par_chunks_mut(RUN_FRAMES)
                .enumerate()
                .try_for_each_init(fresh, run)?
        }
    }
    // The causal stage and the whole-file tempo both read only the onset envelope: side
    // by side.
    let (env, period) = (envelope(&frames), period(&frames));
    let ((), bpm) = rayon::join(
        || Causal::new(&config).run_over(&mut frames, &env),
        || Summary::tempo(period, &env),
    );
    let summary = Summary::with_tempo(&frames, bpm);
    Ok(Analysis {
        config,
        samples: len,
        frames,
        summary,
    })
}

/// One thread's spectral stage and buffers, reused from run to run.
struct RunState {
    stage: Spectral,
    /// The run's stretch of the centred stream (file sources only).
    buf: Vec<f32>,
    /// Raw bytes for decoding (file sources only).
    scratch: Vec<u8>,
}

impl RunState {
    /// Computes the spectral features of frames `t0 .. t0 + out.len()` into `out`.
    fn run(
        &mut self,
        source: Source,
        t0: usize,
        out: &mut [Features],
    ) -> Result<(), AnalysisError> {
        let cfg = *self.stage.config();
        let (n, hop) = (cfg.fft, cfg.hop);
        let warm = t0.saturating_sub(1);
        let t1 = t0 + out.len();
        self.stage.start_at(warm as u64);
        let mut f = Features::default();
        match source {
            Source::Memory(samples) => {
                self.buf.resize(n, 0.0);
                for t in warm..t1 {
                    let frame = self.stage.frame_of(samples, t, &mut self.buf);
                    self.stage.process(frame, &mut f);
                    if t >= t0 {
                        out[t - t0] = f;
                    }
                }
            }
            Source::File(wav) => {
                // Centred-stream positions p = warm·hop .. (t1 − 1)·hop + n hold sample
                // p − n/2, or the zeros of the padding outside the file.
                let start = warm * hop;
                let span = (t1 - 1 - warm) * hop + n;
                self.buf.clear();
                self.buf.resize(span, 0.0);
                let half = n / 2;
                let lo = start.max(half);
                let hi = (start + span).min(half + wav.info().frames);
                if lo < hi {
                    wav.read_into(
                        lo - half,
                        &mut self.buf[lo - start..hi - start],
                        &mut self.scratch,
                    )?;
                }
                for t in warm..t1 {
                    let at = (t - warm) * hop;
                    self.stage.process(&self.buf[at..at + n], &mut f);
                    if t >= t0 {
                        out[t - t0] = f;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Reads and analyses a WAV file. Packed layouts (16/24/32-bit integer, 32-bit float) are
/// decoded run by run inside the analysis, so the file is never in memory whole; other
/// layouts are read first with [`wav::read_mono`]. Same frames either way (tested).
pub fn analyze_file(
    path: &Path,
    fft: usize,
    hop: usize,
) -> Result<(WavInfo, Analysis), AnalysisError> {
    analyze_file_with(path, fft, hop, rayon::current_num_threads().max(1))
}

/// [`analyze_file`] with at most `workers` threads.
pub fn analyze_file_with(
    path: &Path,
    fft: usize,
    hop: usize,
    workers: usize,
) -> Result<(WavInfo, Analysis), AnalysisError> {
    let cfg = |sample_rate| AnalyzerConfig {
        sample_rate,
        fft,
        hop,
    };
    if let Some(packed) = wav::PackedWav::open(path)? {
        let info = packed.info();
        let analysis = analyze_source(Source::File(&packed), cfg(info.sample_rate), workers)?;
        return Ok((info, analysis));
    }
    let wav = wav::read_mono(path)?;
    let analysis = analyze_samples_with(&wav.samples, cfg(wav.sample_rate), workers)?;
    Ok((wav.info(), analysis))
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

    fn write(path: &Path, x: &[f32], channels: u16, bits: u16, float: bool) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 44_100,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        let full = ((1i64 << (bits - 1)) - 1) as f32;
        for (i, s) in x.iter().enumerate() {
            for c in 0..channels {
                // Channels differ, so the mix-down is exercised.
                let v = (s * (1.0 - 0.2 * c as f32) + 0.01 * ((i + c as usize) % 3) as f32)
                    .clamp(-1.0, 1.0);
                match float {
                    true => w.write_sample(v).unwrap(),
                    false => w.write_sample((v * full) as i32).unwrap(),
                }
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn files_streamed_run_by_run_give_the_frames_of_the_whole_file_read_first() {
        let dir = tempfile::tempdir().unwrap();
        for (channels, bits, float) in [
            (1, 32, true),
            (2, 16, false),
            (3, 24, false),
            (1, 32, false),
            (1, 8, false),
        ] {
            for len in [0usize, 100, 3000, 200_003] {
                let path = dir
                    .path()
                    .join(format!("s{channels}_{bits}_{float}_{len}.wav"));
                write(&path, &signal(len), channels, bits, float);
                let whole = wav::read_mono(&path).unwrap();
                for (fft, hop) in [(2048, 512), (1025, 300)] {
                    let cfg = AnalyzerConfig {
                        sample_rate: 44_100,
                        fft,
                        hop,
                    };
                    let want = analyze_samples_with(&whole.samples, cfg, 1).unwrap();
                    let what = format!("{channels} ch {bits}-bit float {float}, {len} samples, fft {fft} hop {hop}");
                    let (info, got) = analyze_file(&path, fft, hop).unwrap();
                    assert_eq!(info, whole.info(), "{what}");
                    assert!(got.frames == want.frames, "analyze_file: {what}");
                    assert_eq!(got.summary, want.summary, "{what}");
                    // The packed layouts also on one thread, run after run.
                    if let Some(packed) = wav::PackedWav::open(&path).unwrap() {
                        let one = analyze_source(Source::File(&packed), cfg, 1).unwrap();
                        assert!(one.frames == want.frames, "one thread: {what}");
                    } else {
                        assert_eq!(bits, 8, "only 8-bit is not a packed layout here");
                    }
                }
            }
        }
    }

    #[test]
    fn a_file_shorter_than_its_header_is_one_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.wav");
        write(&good, &signal(50_000), 2, 24, false);
        let bytes = std::fs::read(&good).unwrap();
        let cut = dir.path().join("cut.wav");
        std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
        let e = analyze_file(&cut, 2048, 512).unwrap_err().to_string();
        assert!(e.contains("cut.wav") && e.contains("truncated"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}
