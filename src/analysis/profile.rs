//! "Sounds like": a fixed-length feature profile per recording and cosine similarity
//! between profiles, `sim(x, y) = x·y / (‖x‖‖y‖)`.
//!
//! The profile vector (36 values) is built from the per-frame features so that every entry
//! is dimensionless and roughly in 0..1, so no single unit dominates the dot product:
//!
//! | entries | value |
//! |---|---|
//! | 2 | mean, std of loudness `clamp((20·log10 rms + 100) / 100, 0, 1)` |
//! | 6 | mean, std of centroid, bandwidth, rolloff, each divided by 11 025 Hz |
//! | 2 | mean, std of flatness |
//! | 2 | onsets per second / 10, tempo / 240 bpm |
//! | 24 | mean and std of each chroma bin, times 0.5 |
//!
//! The chroma block is halved because it has twice as many entries as the rest together.

use super::offline::Summary;
use super::{analyze_file, AnalysisError, Features, DEFAULT_FFT, DEFAULT_HOP};
use std::path::{Path, PathBuf};

/// Frequency scale of the profile (Hz): the Nyquist frequency of 22.05 kHz audio.
pub const PROFILE_HZ: f32 = 11_025.0;
/// Weight of each chroma entry.
pub const CHROMA_WEIGHT: f32 = 0.5;
/// Length of [`Profile::vector`].
pub const PROFILE_LEN: usize = 36;

/// Summary plus normalised vector of one recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub summary: Summary,
    pub vector: [f32; PROFILE_LEN],
}

impl Profile {
    /// Profile of consecutive analyzer frames.
    pub fn from_frames(frames: &[Features]) -> Profile {
        let summary = Summary::from_frames(frames);
        let n = frames.len().max(1) as f64;
        let mean_std = |f: &dyn Fn(&Features) -> f64| {
            let (s, q) = frames.iter().fold((0.0, 0.0), |(s, q), x| {
                let v = f(x);
                (s + v, q + v * v)
            });
            let m = s / n;
            [m as f32, (q / n - m * m).max(0.0).sqrt() as f32]
        };
        let loud = |x: &Features| {
            ((20.0 * (x.rms as f64).max(1e-10).log10() + 100.0) / 100.0).clamp(0.0, 1.0)
        };
        let hz = PROFILE_HZ as f64;
        let mut v = [0.0f32; PROFILE_LEN];
        let mut parts: Vec<f32> = Vec::with_capacity(PROFILE_LEN);
        parts.extend(mean_std(&loud));
        parts.extend(mean_std(&|x| x.centroid as f64 / hz));
        parts.extend(mean_std(&|x| x.bandwidth as f64 / hz));
        parts.extend(mean_std(&|x| x.rolloff as f64 / hz));
        parts.extend(mean_std(&|x| x.flatness as f64));
        let rate = if summary.duration > 0.0 {
            summary.onsets.len() as f64 / summary.duration
        } else {
            0.0
        };
        parts.push((rate / 10.0) as f32);
        parts.push(summary.bpm / 240.0);
        parts.extend(summary.chroma_mean.iter().map(|c| c * CHROMA_WEIGHT));
        parts.extend(summary.chroma_std.iter().map(|c| c * CHROMA_WEIGHT));
        v.copy_from_slice(&parts);
        Profile { summary, vector: v }
    }

    /// Profile of a WAV file at default frame settings (fft 2048, hop 512).
    pub fn from_wav(path: &Path) -> Result<Profile, AnalysisError> {
        let (_, a) = analyze_file(path, DEFAULT_FFT, DEFAULT_HOP)?;
        Ok(Profile::from_frames(&a.frames))
    }

    /// Cosine similarity of two profiles (0 if either vector is all zeros).
    pub fn cosine(a: &Profile, b: &Profile) -> f32 {
        cosine(&a.vector, &b.vector)
    }
}

/// `x·y / (‖x‖‖y‖)`, computed in f64; 0 when either norm is 0.
pub fn cosine(x: &[f32], y: &[f32]) -> f32 {
    let (mut xy, mut xx, mut yy) = (0.0f64, 0.0f64, 0.0f64);
    for (a, b) in x.iter().zip(y) {
        let (a, b) = (*a as f64, *b as f64);
        xy += a * b;
        xx += a * a;
        yy += b * b;
    }
    if xx == 0.0 || yy == 0.0 {
        return 0.0;
    }
    (xy / (xx.sqrt() * yy.sqrt())) as f32
}

/// Ranks the `.wav` files in `dir` (not recursive; `file` itself excluded) by cosine
/// similarity of their profile to the profile of `file`, most similar first. Any file in
/// `dir` that cannot be analysed is an error ([`rank_similar`] skips it instead).
pub fn similar(dir: &Path, file: &Path) -> Result<Vec<(PathBuf, f32)>, AnalysisError> {
    let r = rank_similar(dir, file)?;
    match r.skipped.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(r.ranked),
    }
}

/// The files of a folder ranked by similarity, and those that could not be analysed.
#[derive(Debug)]
pub struct Similar {
    /// Most similar first.
    pub ranked: Vec<(PathBuf, f32)>,
    /// Files left out of the ranking, with why (unreadable, not a WAV weft reads, …).
    pub skipped: Vec<(PathBuf, AnalysisError)>,
}

/// Like [`similar`], but a file in `dir` that cannot be analysed is skipped and listed in
/// [`Similar::skipped`] instead of ending the ranking. A bad `file` or an unreadable `dir`
/// is still an error.
pub fn rank_similar(dir: &Path, file: &Path) -> Result<Similar, AnalysisError> {
    let seed = Profile::from_wav(file)?;
    let io = |error| AnalysisError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let me = file.canonicalize().ok();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    // Regular files only (`is_file` follows symlinks; a FIFO named x.wav would block).
    paths.retain(|p| {
        p.is_file()
            && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav"))
            && p.canonicalize().ok() != me
    });
    paths.sort();
    let mut out = Similar {
        ranked: Vec::new(),
        skipped: Vec::new(),
    };
    for p in paths {
        match Profile::from_wav(&p) {
            Ok(prof) => {
                let s = Profile::cosine(&seed, &prof);
                out.ranked.push((p, s));
            }
            Err(e) => out.skipped.push((p, e)),
        }
    }
    out.ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_basics() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }
}
