//! Offline rendering: a fresh [`Engine`] driven block by block over a list of timed events,
//! into a buffer or a WAV file (16/24-bit or float). Deterministic: the same events and
//! configuration give the same bytes (streamed samples are read in line, not by a thread).

use super::*;

/// Sample format of an offline render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavFormat {
    I16,
    I24,
    F32,
}

/// What an offline render produced.
#[derive(Clone, Debug, Default)]
pub struct RenderReport {
    pub frames: u64,
    pub peak: f32,
    pub warnings: Vec<String>,
}

/// Renders `frames` frames of `events` (frames 0-based) through a fresh engine into an
/// interleaved stereo buffer. Events need not be sorted. Deterministic.
pub fn render(
    events: &[TimedEvent],
    frames: u64,
    cfg: SynthConfig,
) -> Result<(Vec<f32>, Vec<String>), SynthError> {
    render_with(events, frames, cfg, StreamOptions::default())
}

/// [`render`] streaming long sample files as `stream` says (`after_secs: f32::INFINITY`
/// decodes every file whole: the same bytes come out either way).
pub fn render_with(
    events: &[TimedEvent],
    frames: u64,
    cfg: SynthConfig,
    stream: StreamOptions,
) -> Result<(Vec<f32>, Vec<String>), SynthError> {
    let mut out = vec![0.0f32; 2 * frames as usize];
    let warnings = render_blocks(events, frames, cfg, stream, |start, block| {
        out[2 * start as usize..2 * start as usize + block.len()].copy_from_slice(block);
        Ok(())
    })?;
    Ok((out, warnings))
}

fn render_blocks(
    events: &[TimedEvent],
    frames: u64,
    cfg: SynthConfig,
    stream: StreamOptions,
    mut sink: impl FnMut(u64, &[f32]) -> Result<(), SynthError>,
) -> Result<Vec<String>, SynthError> {
    let (mut engine, warnings) = Engine::with_streaming(cfg, stream, true)?;
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|e| e.frame); // stable: same-frame events keep their order
    let mut next = 0usize;
    let mut buf = vec![0.0f32; 2 * OFFLINE_BLOCK];
    let mut start = 0u64;
    while start < frames {
        let n = (frames - start).min(OFFLINE_BLOCK as u64) as usize;
        let block = &mut buf[..2 * n];
        engine.process(start, block, &mut |end| {
            let e = sorted.get(next).filter(|e| e.frame < end)?;
            next += 1;
            Some(*e)
        });
        sink(start, block)?;
        start += n as u64;
    }
    Ok(warnings)
}

/// Renders offline through the same engine and writes a stereo WAV at `cfg.sample_rate`.
/// The same input gives byte-identical files.
pub fn render_to_wav(
    events: &[TimedEvent],
    frames: u64,
    cfg: SynthConfig,
    path: &Path,
    format: WavFormat,
) -> Result<RenderReport, SynthError> {
    let (bits, sample_format) = match format {
        WavFormat::I16 => (16, hound::SampleFormat::Int),
        WavFormat::I24 => (24, hound::SampleFormat::Int),
        WavFormat::F32 => (32, hound::SampleFormat::Float),
    };
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: cfg.sample_rate,
        bits_per_sample: bits,
        sample_format,
    };
    let name = path.display().to_string();
    let wav_err = |e: hound::Error| SynthError::Wav(name.clone(), e);
    let mut writer = hound::WavWriter::create(path, spec).map_err(wav_err)?;
    let mut peak = 0.0f32;
    let warnings = render_blocks(events, frames, cfg, StreamOptions::default(), |_, block| {
        for &x in block {
            peak = peak.max(x.abs());
            match format {
                WavFormat::I16 => writer.write_sample(quantize(x, 16) as i16),
                WavFormat::I24 => writer.write_sample(quantize(x, 24)),
                WavFormat::F32 => writer.write_sample(x),
            }
            .map_err(wav_err)?;
        }
        Ok(())
    })?;
    writer.finalize().map_err(wav_err)?;
    Ok(RenderReport {
        frames,
        peak,
        warnings,
    })
}

/// Float → signed integer of `bits`, scaled by 2^(bits−1) (the inverse of the sampler's
/// decoding, so 16-bit material round-trips exactly), rounded and clamped.
pub(super) fn quantize(x: f32, bits: u32) -> i32 {
    let scale = (1u64 << (bits - 1)) as f32;
    let max = scale - 1.0;
    (x * scale).round().clamp(-scale, max) as i32
}
