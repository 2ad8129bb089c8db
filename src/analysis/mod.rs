//! Analysis stage: listens to audio and turns it into features, ~86 frames a second at the
//! default settings.
//!
//! Data flow: mono `f32` samples (from the audio tap ring in [`live`], or from a WAV file
//! through [`wav`] and [`offline`]) → [`Analyzer`] (Hann-windowed STFT frames, centred as in
//! librosa) → one [`Features`] per hop → consumers: analysis patches (`on_features`), the
//! spectrum pane, `weft analyze`, and [`Profile`]s for "sounds like" ranking by cosine
//! similarity. The same [`Analyzer`] code runs live and offline, so the numbers agree.
//!
//! Feature definitions follow librosa 0.11; `docs/analysis.md` lists each formula and the
//! deliberate differences (causal onset/tempo processing, fixed A440 tuning).

mod analyzer;
pub mod likeness;
pub mod live;
pub mod offline;
pub mod onset;
pub mod profile;
pub mod spectral;
pub mod stft;
pub mod tempo;
pub mod wav;

pub use analyzer::{Analyzer, Causal};
pub use offline::{
    analyze_file, analyze_file_with, analyze_samples, analyze_samples_with, Analysis, Summary,
};
pub use profile::{similar, Profile};
pub use spectral::N_BANDS;

use std::path::PathBuf;

/// Default frame length and hop (librosa's defaults), in samples.
pub const DEFAULT_FFT: usize = 2048;
pub const DEFAULT_HOP: usize = 512;

/// Analyzer settings. `fft` is the frame (and FFT) length in samples, `hop` the distance
/// between frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyzerConfig {
    pub sample_rate: u32,
    pub fft: usize,
    pub hop: usize,
}

impl AnalyzerConfig {
    pub const MIN_FFT: usize = 512;
    pub const MAX_FFT: usize = 8192;

    /// Default frame settings (fft 2048, hop 512) at `sample_rate`.
    pub fn new(sample_rate: u32) -> Self {
        AnalyzerConfig {
            sample_rate,
            fft: DEFAULT_FFT,
            hop: DEFAULT_HOP,
        }
    }

    /// Frames per second.
    pub fn frame_rate(&self) -> f64 {
        self.sample_rate as f64 / self.hop as f64
    }

    /// Checks the ranges: `fft` in 512..=8192, `hop` in 1..=`fft`, a non-zero sample rate.
    pub fn validate(&self) -> Result<(), AnalysisError> {
        if !(Self::MIN_FFT..=Self::MAX_FFT).contains(&self.fft) {
            return Err(AnalysisError::Config(format!(
                "fft must be in {}..={}, got {}",
                Self::MIN_FFT,
                Self::MAX_FFT,
                self.fft
            )));
        }
        if self.hop == 0 || self.hop > self.fft {
            return Err(AnalysisError::Config(format!(
                "hop must be in 1..={} (the fft size), got {}",
                self.fft, self.hop
            )));
        }
        if self.sample_rate == 0 {
            return Err(AnalysisError::Config("sample rate must be positive".into()));
        }
        Ok(())
    }
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig::new(44_100)
    }
}

/// The features of one analysis frame. Plain data (no heap), cheap to clone and send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    /// Frame index since the analyzer started.
    pub frame: u64,
    /// Time of the frame's centre in seconds since the start of the stream
    /// (`frame · hop / sample_rate`, librosa's `frames_to_time`).
    pub time: f64,
    /// Root mean square of the (unwindowed) frame.
    pub rms: f32,
    /// Spectral centroid, Hz.
    pub centroid: f32,
    /// Spectral bandwidth (second moment around the centroid), Hz.
    pub bandwidth: f32,
    /// Frequency below which 85% of the spectral magnitude lies, Hz.
    pub rolloff: f32,
    /// Spectral flatness of the power spectrum, 0 (tonal) ..= 1 (white noise).
    pub flatness: f32,
    /// Mean positive magnitude difference from the previous frame.
    pub flux: f32,
    /// Onset strength: mean positive difference of log-compressed mel magnitudes.
    pub onset_strength: f32,
    /// True on the frame where the causal peak picker confirms an onset (one hop after
    /// the onset's own frame).
    pub onset: bool,
    /// Estimated time (s) of the onset confirmed on this frame; 0 when `onset` is false.
    pub onset_time: f64,
    /// Energy per pitch class C, C#, …, B, normalised so the largest is 1 (0 in silence).
    pub chroma: [f32; 12],
    /// Running tempo estimate in bpm, 0 while unknown.
    pub bpm: f32,
    /// Log-frequency display bands (30 Hz .. 16 kHz), peak level in dB re full-scale sine.
    pub bands: [f32; N_BANDS],
}

impl Default for Features {
    fn default() -> Self {
        Features {
            frame: 0,
            time: 0.0,
            rms: 0.0,
            centroid: 0.0,
            bandwidth: 0.0,
            rolloff: 0.0,
            flatness: 0.0,
            flux: 0.0,
            onset_strength: 0.0,
            onset: false,
            onset_time: 0.0,
            chroma: [0.0; 12],
            bpm: 0.0,
            bands: [spectral::BAND_FLOOR_DB; N_BANDS],
        }
    }
}

/// Errors of the analysis stage.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("invalid analysis settings: {0}")]
    Config(String),
    #[error("{}: {msg}", path.display())]
    Wav { path: PathBuf, msg: String },
    /// The cause is in the message and not a `source()`, so `anyhow`'s `{:#}` says it once.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}
