//! The streaming analyzer: collects samples into overlapping frames, runs one Hann-windowed
//! real FFT per hop and computes every per-frame feature from it.
//!
//! Frames are centred as in librosa (`center=True`, zero padding): the frame buffer starts
//! with `fft / 2` zeros, so frame `t` is centred on input sample `t · hop` and becomes
//! available once sample `t · hop + fft / 2` has arrived. [`Analyzer::finish`] appends the
//! trailing `fft / 2` zeros for offline use, giving librosa's `1 + len / hop` frames.
//!
//! Each frame goes through two stages: the *spectral* stage (window, FFT and every feature
//! that needs only this frame and the previous one) and the *causal* stage ([`Causal`]: the
//! onset peak picker and the running tempo, which need all earlier frames in order). The
//! live thread runs both per frame; offline analysis runs the [`Spectral`] stage over
//! frames read straight from the recording, on several threads for long files
//! ([`Spectral::start_at`] starts a worker mid-stream), and then the causal stage over all
//! frames in order, which gives exactly the frames a single analyzer would.
//!
//! All buffers are allocated in [`Analyzer::new`]; [`Analyzer::push`] does not allocate.

use super::onset::{PeakPicker, PickerConfig};
use super::spectral::{self, DenseBank, Filterbank};
use super::stft::PowerFft;
use super::tempo::TempoTracker;
use super::{AnalysisError, AnalyzerConfig, Features};

/// Compression constant of the onset envelope: `ln(1 + γ · mel magnitude)`.
pub const ONSET_GAMMA: f64 = 10.0;

/// Streaming feature extractor; see the module docs.
pub struct Analyzer {
    /// Sample buffer of one frame; `filled` samples are valid.
    buf: Vec<f32>,
    filled: usize,
    spectral: Spectral,
    causal: Causal,
    features: Features,
}

/// The spectral stage: the window, the FFT and every feature that needs only this frame and
/// the previous one, with all of its buffers. It is fed whole frames: by [`Analyzer`] from
/// its sample buffer, and by offline analysis straight from the recording's samples.
/// Clones (one per offline worker) share the FFT plan and copy the filterbanks.
#[derive(Clone)]
pub struct Spectral {
    cfg: AnalyzerConfig,
    fft: PowerFft,
    freqs: Vec<f32>,
    mag: Vec<f32>,
    prev_mag: Vec<f32>,
    power: Vec<f32>,
    mel: Filterbank,
    mel_out: Vec<f32>,
    mel_log: Vec<f32>,
    prev_mel_log: Vec<f32>,
    chroma: DenseBank<12>,
    chroma_out: [f32; 12],
    bands: Vec<(usize, usize)>,
    /// Index of the next frame.
    frame: u64,
}

/// The causal stage: onset peak picking and the running tempo, fed every frame in order.
#[derive(Debug, Clone)]
pub struct Causal {
    picker: PeakPicker,
    tempo: TempoTracker,
    /// Frames whose window still reaches into the zero lead-in.
    lead_frames: u64,
    hop: f64,
    sample_rate: f64,
    bias: f64,
}

impl Causal {
    pub fn new(cfg: &AnalyzerConfig) -> Causal {
        let fps = cfg.frame_rate();
        Causal {
            picker: PeakPicker::new(PickerConfig::for_frame_rate(fps)),
            tempo: TempoTracker::new(fps),
            lead_frames: (cfg.fft / (2 * cfg.hop)) as u64,
            hop: cfg.hop as f64,
            sample_rate: cfg.sample_rate as f64,
            bias: onset_bias(cfg),
        }
    }

    pub fn reset(&mut self) {
        self.picker.reset();
        self.tempo.reset();
    }

    /// Sets `onset`, `onset_time` and `bpm` of the next frame from its `onset_strength`.
    pub fn apply(&mut self, f: &mut Features) {
        self.apply_onsets(f);
        f.bpm = self.tempo.push(f.onset_strength as f64) as f32;
    }

    /// Runs the causal stage over a whole stream of frames in order, `env` being their
    /// onset strengths as f64. The tempo refreshes, which depend only on the onset
    /// envelope, run on rayon's threads while this thread picks the onsets; the result
    /// equals [`apply`](Self::apply) on every frame in turn (tested).
    pub fn run_over(&mut self, frames: &mut [Features], env: &[f64]) {
        let fps = self.tempo.fps();
        let (bpm, ()) = rayon::join(
            || TempoTracker::run_over(fps, env),
            || frames.iter_mut().for_each(|f| self.apply_onsets(f)),
        );
        for (f, b) in frames.iter_mut().zip(bpm) {
            f.bpm = b as f32;
        }
    }

    fn apply_onsets(&mut self, f: &mut Features) {
        match self.picker.push(f.onset_strength as f64) {
            // Frames whose window still reaches into the zero lead-in only see the window
            // filling up; a rise there is the start of the stream, not an onset.
            Some(d) if d.frame >= self.lead_frames => {
                f.onset = true;
                f.onset_time =
                    ((d.frame as f64 + d.offset) * self.hop + self.bias) / self.sample_rate;
            }
            _ => {
                f.onset = false;
                f.onset_time = 0.0;
            }
        }
    }
}

/// See [`Analyzer::onset_bias`].
fn onset_bias(cfg: &AnalyzerConfig) -> f64 {
    cfg.fft as f64 / 4.0 - cfg.hop as f64 / 2.0
}

impl Analyzer {
    /// Builds an analyzer, allocating every buffer it will use.
    pub fn new(cfg: AnalyzerConfig) -> Result<Self, AnalysisError> {
        let mut a = Analyzer {
            buf: vec![0.0; cfg.fft],
            filled: 0,
            spectral: Spectral::new(cfg)?,
            causal: Causal::new(&cfg),
            features: Features::default(),
        };
        a.reset();
        Ok(a)
    }

    pub fn config(&self) -> &AnalyzerConfig {
        self.spectral.config()
    }

    /// Returns to the state right after construction (start of a new stream).
    pub fn reset(&mut self) {
        self.buf.iter_mut().for_each(|x| *x = 0.0);
        self.filled = self.config().fft / 2;
        self.spectral.start_at(0);
        self.causal.reset();
        self.features = Features::default();
    }

    /// Latency from an input sample to the frame centred on it: `fft / 2` samples.
    pub fn frame_latency_samples(&self) -> usize {
        self.config().fft / 2
    }

    /// Latency from an onset to the frame that reports it: the envelope peaks at the frame
    /// centred [`Self::onset_bias`] samples before the onset, the picker confirms it one hop
    /// later, and that frame is complete `fft/2` samples after its centre:
    /// `fft/4 + 3·hop/2` samples (1280 = 29.0 ms at 44.1 kHz, 2048/512).
    pub fn onset_latency_samples(&self) -> usize {
        (self.config().fft / 2 + self.config().hop)
            .saturating_sub(self.onset_bias().round() as usize)
    }

    /// Where an onset lies relative to the centre of the frame at which the onset envelope
    /// peaks, in samples: `fft/4 − hop/2`. The positive difference between frames `t` and
    /// `t−1` is largest when the onset sits in the middle of the stretch where the Hann
    /// window falls fastest (around `3·fft/4` of frame `t−1`, `3·fft/4 − hop` of frame `t`),
    /// i.e. `fft/4 − hop/2` after the centre of frame `t`.
    pub fn onset_bias(&self) -> f64 {
        onset_bias(self.config())
    }

    /// Feeds mono samples; calls `on_frame` once for every completed frame.
    pub fn push(&mut self, mono: &[f32], mut on_frame: impl FnMut(&Features)) {
        let AnalyzerConfig { fft: n, hop, .. } = *self.config();
        let mut rest = mono;
        while !rest.is_empty() {
            let take = (n - self.filled).min(rest.len());
            self.buf[self.filled..self.filled + take].copy_from_slice(&rest[..take]);
            self.filled += take;
            rest = &rest[take..];
            if self.filled == n {
                self.spectral.process(&self.buf, &mut self.features);
                self.causal.apply(&mut self.features);
                on_frame(&self.features);
                self.buf.copy_within(hop.., 0);
                self.filled = n - hop;
            }
        }
    }

    /// Ends an offline stream: feeds the trailing `fft / 2` zeros of a centred STFT.
    pub fn finish(&mut self, mut on_frame: impl FnMut(&Features)) {
        const ZEROS: [f32; 256] = [0.0; 256];
        let mut left = self.config().fft / 2;
        while left > 0 {
            let k = left.min(ZEROS.len());
            self.push(&ZEROS[..k], &mut on_frame);
            left -= k;
        }
    }
}

impl Spectral {
    /// Builds the stage for `cfg`, allocating every buffer it will use; the next frame is
    /// frame 0.
    pub fn new(cfg: AnalyzerConfig) -> Result<Self, AnalysisError> {
        cfg.validate()?;
        let sr = cfg.sample_rate as f64;
        let n = cfg.fft;
        let bins = n / 2 + 1;
        Ok(Spectral {
            fft: PowerFft::new(spectral::hann(n)),
            freqs: spectral::fft_frequencies(sr, n)
                .into_iter()
                .map(|f| f as f32)
                .collect(),
            mag: vec![0.0; bins],
            prev_mag: vec![0.0; bins],
            power: vec![0.0; bins],
            mel: spectral::mel_filterbank(sr, n, spectral::N_MELS),
            mel_out: vec![0.0; spectral::N_MELS],
            mel_log: vec![0.0; spectral::N_MELS],
            prev_mel_log: vec![0.0; spectral::N_MELS],
            chroma: spectral::chroma_filterbank(sr, n),
            chroma_out: [0.0; 12],
            bands: spectral::band_ranges(sr, n),
            frame: 0,
            cfg,
        })
    }

    pub fn config(&self) -> &AnalyzerConfig {
        &self.cfg
    }

    /// Starts over: the next frame processed is frame `frame`, and it has no previous frame
    /// (its flux and onset strength are measured against silence, and frame 0's are 0), so
    /// callers that need exact values start one frame early and drop that frame.
    pub fn start_at(&mut self, frame: u64) {
        self.prev_mag.iter_mut().for_each(|x| *x = 0.0);
        self.prev_mel_log.iter_mut().for_each(|x| *x = 0.0);
        self.frame = frame;
    }

    /// Frame `t` of the centred STFT of `samples`: the `fft` samples centred on sample
    /// `t · hop`, read straight from `samples` when the frame lies inside it, otherwise
    /// copied into `pad` with the zeros of librosa's constant padding around it.
    pub fn frame_of<'a>(&self, samples: &'a [f32], t: usize, pad: &'a mut [f32]) -> &'a [f32] {
        let n = self.cfg.fft;
        let centre = t * self.cfg.hop;
        let half = n / 2;
        if centre >= half && centre - half + n <= samples.len() {
            return &samples[centre - half..centre - half + n];
        }
        pad.iter_mut().for_each(|x| *x = 0.0);
        // Sample index `i` goes to pad[i + half - centre].
        // The frame covers samples centre − half .. centre − half + n (n may be odd).
        let lo = centre.saturating_sub(half);
        let hi = (centre + (n - half)).min(samples.len());
        if lo < hi {
            let at = lo + half - centre;
            pad[at..at + hi - lo].copy_from_slice(&samples[lo..hi]);
        }
        pad
    }

    /// Computes the spectral features of the next frame (`frame.len() == fft`) into `f`:
    /// everything except `onset`, `onset_time` and `bpm`, which the [`Causal`] stage sets.
    ///
    /// Runs [`Self::stages`] compiled for AVX2 when the CPU has it (the lane sums of
    /// [`spectral`] then use 8-wide vectors); the arithmetic, and so every result, is the
    /// same on either path.
    pub fn process(&mut self, frame: &[f32], f: &mut Features) {
        assert_eq!(frame.len(), self.cfg.fft, "a frame is fft samples long");
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { self.stages_avx2(frame, f) };
            return;
        }
        self.stages(frame, f);
    }

    /// [`Self::stages`] compiled with AVX2 enabled.
    ///
    /// # Safety
    /// The CPU must support AVX2 (the only caller checks `is_x86_feature_detected!`).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    // SAFETY: no unsafe operations inside; `unsafe` is what `target_feature` requires of
    // the caller, who must have checked for AVX2.
    unsafe fn stages_avx2(&mut self, frame: &[f32], f: &mut Features) {
        self.stages(frame, f);
    }

    #[inline(always)]
    fn stages(&mut self, frame: &[f32], f: &mut Features) {
        let n = self.cfg.fft;
        let sr = self.cfg.sample_rate as f64;
        self.fft.process(frame, &mut self.power, &mut self.mag);
        let rms = (spectral::sum_zip(frame, frame, |x, _| x * x) / n as f64).sqrt();
        let (centroid, bandwidth) = spectral::centroid_bandwidth(&self.mag, &self.freqs);
        let rolloff = spectral::rolloff(&self.mag, &self.freqs, spectral::ROLL_PERCENT);
        let flatness = spectral::flatness(&self.mag, spectral::FLATNESS_AMIN);
        let first = self.frame == 0;
        let flux = if first {
            0.0
        } else {
            spectral::positive_flux(&self.mag, &self.prev_mag)
        };

        self.mel.apply(&self.mag, &mut self.mel_out);
        for (l, m) in self.mel_log.iter_mut().zip(&self.mel_out) {
            *l = spectral::fast_ln(1.0 + ONSET_GAMMA as f32 * m);
        }
        let onset_strength = if first {
            0.0
        } else {
            spectral::positive_flux(&self.mel_log, &self.prev_mel_log)
        };
        std::mem::swap(&mut self.mag, &mut self.prev_mag);
        std::mem::swap(&mut self.mel_log, &mut self.prev_mel_log);

        self.chroma.apply(&self.power, &mut self.chroma_out);
        let cmax = self.chroma_out.iter().fold(0.0f32, |a, c| a.max(*c));
        let cnorm = if cmax < f32::MIN_POSITIVE { 1.0 } else { cmax };

        f.frame = self.frame;
        f.time = self.frame as f64 * self.cfg.hop as f64 / sr;
        f.rms = rms as f32;
        f.centroid = centroid as f32;
        f.bandwidth = bandwidth as f32;
        f.rolloff = rolloff as f32;
        f.flatness = flatness as f32;
        f.flux = flux as f32;
        f.onset_strength = onset_strength as f32;
        for (o, c) in f.chroma.iter_mut().zip(&self.chroma_out) {
            *o = c / cnorm;
        }
        // `prev_mag` now holds this frame's magnitudes.
        spectral::bands_db(&self.prev_mag, &self.bands, n, &mut f.bands);
        self.frame += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(samples: &[f32], cfg: AnalyzerConfig) -> Vec<Features> {
        let mut a = Analyzer::new(cfg).unwrap();
        let mut out = Vec::new();
        a.push(samples, |f| out.push(*f));
        a.finish(|f| out.push(*f));
        out
    }

    #[test]
    fn frame_count_matches_librosa_centred_stft() {
        let cfg = AnalyzerConfig::new(22050);
        for len in [0usize, 1, 511, 512, 513, 5000] {
            let n = frames_of(&vec![0.1; len], cfg).len();
            assert_eq!(n, 1 + len / cfg.hop, "len {len}");
        }
    }

    #[test]
    fn chunking_does_not_change_results() {
        let cfg = AnalyzerConfig::new(44100);
        let x: Vec<f32> = (0..20000)
            .map(|i| ((i * 31 % 97) as f32 / 97.0 - 0.5) * (i as f32 * 0.001).sin())
            .collect();
        let whole = frames_of(&x, cfg);
        let mut a = Analyzer::new(cfg).unwrap();
        let mut parts = Vec::new();
        for c in x.chunks(37) {
            a.push(c, |f| parts.push(*f));
        }
        a.finish(|f| parts.push(*f));
        assert_eq!(whole, parts);
    }

    #[test]
    fn reset_restores_the_initial_state() {
        let cfg = AnalyzerConfig::new(44100);
        let x: Vec<f32> = (0..9000).map(|i| (i as f32 * 0.05).sin()).collect();
        let mut a = Analyzer::new(cfg).unwrap();
        let mut first = Vec::new();
        a.push(&x, |f| first.push(*f));
        a.reset();
        let mut second = Vec::new();
        a.push(&x, |f| second.push(*f));
        assert_eq!(first, second);
    }

    #[test]
    fn silence_gives_finite_zero_features() {
        let fs = frames_of(&[0.0; 4096], AnalyzerConfig::new(44100));
        for f in fs {
            assert_eq!(
                (f.rms, f.centroid, f.bandwidth, f.flux),
                (0.0, 0.0, 0.0, 0.0)
            );
            assert_eq!(f.flatness, 1.0);
            assert!(!f.onset);
            assert!(f.bands.iter().all(|b| *b == spectral::BAND_FLOOR_DB));
        }
    }

    #[test]
    fn bad_config_is_rejected() {
        for (fft, hop) in [(256, 64), (16384, 512), (2048, 0), (2048, 4096)] {
            let cfg = AnalyzerConfig {
                sample_rate: 44100,
                fft,
                hop,
            };
            assert!(Analyzer::new(cfg).is_err());
        }
    }
}
