//! Input stage of offline analysis: reads a WAV file of any bit depth (8/16/24/32-bit
//! integer, 32-bit float), channel count and sample rate, and mixes it to mono `f32`
//! (the mean of the channels, as `librosa.to_mono`). Integer samples are scaled by
//! `2^(bits-1)`, as libsndfile does, so values match what librosa/soundfile read.

use super::AnalysisError;
use std::path::Path;

/// A decoded, mono-mixed recording.
#[derive(Debug, Clone, PartialEq)]
pub struct MonoWav {
    pub sample_rate: u32,
    /// Channel count of the file (before mixing).
    pub channels: u16,
    pub bits: u16,
    pub float: bool,
    pub samples: Vec<f32>,
}

impl MonoWav {
    /// Duration in seconds.
    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}

/// Reads and mixes down `path`. A missing, malformed, unsupported or truncated file is one
/// [`AnalysisError::Wav`] naming the path and the problem.
pub fn read_mono(path: &Path) -> Result<MonoWav, AnalysisError> {
    let err = |msg: String| AnalysisError::Wav {
        path: path.to_path_buf(),
        msg,
    };
    let mut reader = hound::WavReader::open(path).map_err(|e| err(describe(e)))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(err(
            "not a usable WAV file: zero channels or sample rate".into()
        ));
    }
    let declared = reader.len() as usize;
    let channels = spec.channels as usize;
    let interleaved: Result<Vec<f32>, hound::Error> = match spec.sample_format {
        hound::SampleFormat::Float => {
            if spec.bits_per_sample != 32 {
                return Err(err(format!(
                    "unsupported WAV: {}-bit float (only 32-bit float is read)",
                    spec.bits_per_sample
                )));
            }
            reader.samples::<f32>().collect()
        }
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| (v as f64 * scale) as f32))
                .collect()
        }
    };
    let interleaved = interleaved.map_err(|e| match e {
        // Past the header, a short read means the data chunk is shorter than declared.
        hound::Error::IoError(io) => err(format!(
            "truncated WAV: the header declares {declared} samples but the data ends early ({io})"
        )),
        e => err(describe(e)),
    })?;
    if interleaved.len() != declared || declared % channels != 0 {
        return Err(err(format!(
            "truncated WAV: the header declares {declared} samples, {} were read",
            interleaved.len()
        )));
    }
    let samples = if channels == 1 {
        interleaved
    } else {
        interleaved
            .chunks_exact(channels)
            .map(|fr| (fr.iter().map(|x| *x as f64).sum::<f64>() / channels as f64) as f32)
            .collect()
    };
    Ok(MonoWav {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        bits: spec.bits_per_sample,
        float: spec.sample_format == hound::SampleFormat::Float,
        samples,
    })
}

fn describe(e: hound::Error) -> String {
    match e {
        hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "no such file".to_string()
        }
        hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "truncated WAV: the file ends inside its header".to_string()
        }
        hound::Error::IoError(io) => format!("cannot read: {io}"),
        hound::Error::FormatError(m) => format!("not a valid WAV file: {m}"),
        hound::Error::Unsupported => "unsupported WAV encoding".to_string(),
        other => format!("unsupported WAV: {other}"),
    }
}
