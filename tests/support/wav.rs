//! Writing small mono 16-bit WAV fixtures for the sample tests.

use std::path::Path;

/// Writes `data` as a mono 16-bit WAV at `rate` Hz.
pub fn write_wav(path: &Path, rate: u32, data: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in data {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}
