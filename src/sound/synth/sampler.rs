//! One decoded sample and the flat bank's file list: the loose `*.wav` files of the samples
//! folder, sorted by file name so `sample: n` is stable (folders of samples: `samples`).
//! Integer PCM is scaled by 2^(bits−1) so a 16-bit file plays back bit-exact at unity gain.

use std::path::Path;

use super::SynthError;

/// A decoded sample: interleaved f32, mono or stereo.
#[derive(Clone, Debug)]
pub struct Sample {
    pub name: String,
    pub sample_rate: u32,
    pub channels: usize,
    /// All frames, or for a streamed file only its head (see `stream`).
    pub data: Vec<f32>,
    /// Set for a long file that is streamed: its source, full length and tail.
    pub stream: Option<std::sync::Arc<super::stream::Streamed>>,
}

impl Sample {
    /// Frames held in `data`.
    pub fn frames(&self) -> usize {
        self.data.len() / self.channels
    }

    /// Frames of the whole sample (streamed or not).
    #[inline]
    pub fn length(&self) -> usize {
        match &self.stream {
            Some(s) => s.frames,
            None => self.frames(),
        }
    }

    /// (left, right) of frame `i`; mono samples return the same value twice.
    #[inline]
    pub fn frame(&self, i: usize) -> (f32, f32) {
        if self.channels == 1 {
            let x = self.data[i];
            (x, x)
        } else {
            (self.data[2 * i], self.data[2 * i + 1])
        }
    }

    /// Decodes a WAV file (8/16/24/32-bit integer or 32-bit float; more than two channels
    /// keep the first two).
    pub fn load(path: &Path) -> Result<Sample, SynthError> {
        let err = |e: hound::Error| SynthError::Wav(path.display().to_string(), e);
        let mut reader = hound::WavReader::open(path).map_err(err)?;
        let spec = reader.spec();
        let in_ch = spec.channels.max(1) as usize;
        let raw: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => reader
                .samples::<f32>()
                .collect::<Result<_, _>>()
                .map_err(err)?,
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
                reader
                    .samples::<i32>()
                    .map(|s| s.map(|v| v as f32 * scale))
                    .collect::<Result<_, _>>()
                    .map_err(err)?
            }
        };
        let channels = in_ch.min(2);
        let data = if in_ch <= 2 {
            raw
        } else {
            raw.chunks_exact(in_ch).flat_map(|f| [f[0], f[1]]).collect()
        };
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Sample {
            name,
            sample_rate: spec.sample_rate,
            channels,
            data,
            stream: None,
        })
    }
}

/// The `*.wav` files of `dir`, sorted by file name (the order `:n` indexes).
pub fn wav_paths(dir: &Path) -> Result<Vec<std::path::PathBuf>, SynthError> {
    let rd = std::fs::read_dir(dir).map_err(|e| SynthError::Io(dir.display().to_string(), e))?;
    let mut paths: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Names (file stems) of the samples in `dir`, in index order, so a patch can turn
/// `sample: "name"` into the index a `Sound` carries.
pub fn sample_names(dir: &Path) -> Vec<String> {
    wav_paths(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect()
}
