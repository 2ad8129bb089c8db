//! Tempo stage: a running tempo estimate from the onset strength envelope by
//! autocorrelation (computed by FFT; a comb over the first four multiples of each lag),
//! weighted by librosa's log-normal tempo prior (centre 120 bpm, one octave standard
//! deviation), refined to a fraction of a frame by reading the peak at a multiple of the
//! beat lag and interpolating it.
//!
//! The live analyzer keeps the last [`TEMPO_WINDOW_S`] seconds of envelope in a ring and
//! re-estimates every [`TEMPO_EVERY_S`] seconds; the offline summary runs the same
//! [`Estimator`] over the whole envelope.

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Seconds of onset envelope the live estimate looks at (librosa's `ac_size`).
pub const TEMPO_WINDOW_S: f64 = 8.0;
/// How often the live estimate is refreshed.
pub const TEMPO_EVERY_S: f64 = 0.25;
/// Slowest and fastest tempo considered.
pub const MIN_BPM: f64 = 30.0;
pub const MAX_BPM: f64 = 300.0;
/// An autocorrelation peak below this fraction of the zero-lag value means "no tempo".
pub const MIN_CONFIDENCE: f64 = 0.1;

/// Number of autocorrelation lags [`Estimator::estimate`] computes for an envelope of `n` frames at
/// `fps`: half the envelope, but no more than the comb and the refinement read (four
/// slowest beats and a little).
pub fn lags_needed(n: usize, fps: f64) -> usize {
    let max_lag = (60.0 * fps / MIN_BPM).ceil() as usize;
    (n / 2 + 2).min(4 * max_lag + 8).min(n)
}

/// The autocorrelation-based tempo estimator, with its FFT plans and every buffer allocated
/// up front for envelopes of up to `max_len` values, so [`estimate`](Self::estimate) does
/// not allocate (the live analyzer calls it from its thread every [`TEMPO_EVERY_S`]).
///
/// The autocorrelation is computed as the inverse FFT of the power spectrum of the centred,
/// zero-padded envelope (as `librosa.autocorrelate` does); the padding to at least
/// `n + n/2 + 2` values keeps every lag that is read free of circular wrap-around.
#[derive(Clone)]
pub struct Estimator {
    max_len: usize,
    fft: Arc<dyn RealToComplex<f64>>,
    ifft: Arc<dyn ComplexToReal<f64>>,
    time: Vec<f64>,
    spec: Vec<Complex<f64>>,
    fwd_scratch: Vec<Complex<f64>>,
    inv_scratch: Vec<Complex<f64>>,
    ac: Vec<f64>,
    /// The tempo prior of each lag at `prior_fps` (computed once per frame rate).
    prior: Vec<f64>,
    prior_fps: f64,
}

impl std::fmt::Debug for Estimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Estimator")
            .field("max_len", &self.max_len)
            .field("fft_len", &self.time.len())
            .finish()
    }
}

impl Estimator {
    /// An estimator for envelopes of at most `max_len` values.
    pub fn new(max_len: usize) -> Self {
        let size = fft_size(max_len + max_len / 2 + 2);
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(size);
        let ifft = planner.plan_fft_inverse(size);
        Estimator {
            max_len,
            time: fft.make_input_vec(),
            spec: fft.make_output_vec(),
            fwd_scratch: fft.make_scratch_vec(),
            inv_scratch: ifft.make_scratch_vec(),
            ac: ifft.make_output_vec(),
            prior: vec![0.0; max_len / 2 + 3],
            prior_fps: f64::NAN,
            fft,
            ifft,
        }
    }

    /// Estimates the tempo in bpm of the envelope `env` sampled at `fps` frames per second
    /// (only its last `max_len` values are read). Returns 0 when the envelope is too short
    /// (under two slowest beats) or has no clear periodicity.
    pub fn estimate(&mut self, env: &[f64], fps: f64) -> f64 {
        let env = &env[env.len().saturating_sub(self.max_len)..];
        let n = env.len();
        let min_lag = ((60.0 * fps / MAX_BPM).floor() as usize).max(1);
        let max_lag = ((60.0 * fps / MIN_BPM).ceil() as usize).min(n / 2);
        if n < 4 || max_lag <= min_lag + 1 {
            return 0.0;
        }
        let lags = lags_needed(n, fps);
        self.autocorrelate(env, lags);
        if fps != self.prior_fps {
            self.prior_fps = fps;
            for (lag, p) in self.prior.iter_mut().enumerate().skip(1) {
                // librosa's log-normal prior: centre 120 bpm, one octave standard deviation.
                let bpm = 60.0 * fps / lag as f64;
                *p = (-0.5 * (bpm / 120.0).log2().powi(2)).exp();
            }
        }
        pick_tempo(&mut self.ac[..lags], &self.prior, fps, min_lag, max_lag)
    }

    /// Leaves in `ac[..lags]` the autocorrelation of the centred `env`, each lag divided by
    /// its number of overlapping terms so long lags are not penalised by fewer terms.
    fn autocorrelate(&mut self, env: &[f64], lags: usize) {
        let n = env.len();
        let mean = env.iter().sum::<f64>() / n as f64;
        for (c, e) in self.time.iter_mut().zip(env) {
            *c = e - mean;
        }
        self.time[n..].iter_mut().for_each(|c| *c = 0.0);
        self.fft
            .process_with_scratch(&mut self.time, &mut self.spec, &mut self.fwd_scratch)
            .expect("buffers are sized by the plan");
        for c in self.spec.iter_mut() {
            *c = Complex::new(c.norm_sqr(), 0.0);
        }
        self.ifft
            .process_with_scratch(&mut self.spec, &mut self.ac, &mut self.inv_scratch)
            .expect("buffers are sized by the plan");
        let scale = 1.0 / self.ac.len() as f64;
        for (lag, a) in self.ac[..lags].iter_mut().enumerate() {
            *a *= scale / (n - lag) as f64;
        }
    }
}

/// The smallest even length of at least `min` whose factors are 2, 3 and 5 only: FFTs of
/// such lengths are fast, and the next power of two can be almost twice as long (2048 for
/// the 1035 values of the live window, where 1080 will do).
fn fft_size(min: usize) -> usize {
    let smooth = |mut n: usize| {
        for p in [2, 3, 5] {
            while n % p == 0 {
                n /= p;
            }
        }
        n == 1
    };
    (min.max(16)..)
        .find(|n| n % 2 == 0 && smooth(*n))
        .expect("5-smooth numbers are unbounded")
}

/// The tempo of the lag-normalised autocorrelation `ac` (smoothed in place): the lag in
/// `min_lag..=max_lag` with the best prior-weighted comb score, refined to a fraction of a
/// frame; 0 when no lag is clear enough.
fn pick_tempo(ac: &mut [f64], prior: &[f64], fps: f64, min_lag: usize, max_lag: usize) -> f64 {
    let lags = ac.len();
    if ac[0] <= 0.0 {
        return 0.0;
    }
    // Smooth with [1 2 1]/4 so a period that falls between two whole lags is not split.
    let mut prev = ac[0];
    for l in 1..lags - 1 {
        let cur = ac[l];
        ac[l] = 0.25 * prev + 0.5 * cur + 0.25 * ac[l + 1];
        prev = cur;
    }
    let ac = &*ac;
    // Comb score: mean over the multiples m·L (m = 1..=4 that fit) of the largest
    // autocorrelation within ±m/2 lags of m·L, so the whole pulse train votes for its period.
    let score = |l: usize| {
        let (mut sum, mut count) = (0.0, 0.0);
        for m in 1..=4usize {
            let (lo, hi) = (m * l - m / 2, m * l + m / 2);
            if hi >= lags {
                break;
            }
            sum += ac[lo..=hi].iter().fold(f64::MIN, |a, b| a.max(*b));
            count += 1.0;
        }
        if count > 0.0 {
            sum / count
        } else {
            f64::MIN
        }
    };
    // The best prior-weighted score; on a tie the longer lag (as `Iterator::max_by`).
    let mut best: Option<(usize, f64)> = None;
    let top = max_lag.min(lags - 2);
    for (l, p) in prior.iter().enumerate().take(top + 1).skip(min_lag) {
        let v = score(l) * p;
        if best.is_none_or(|(_, b)| v.total_cmp(&b).is_ge()) {
            best = Some((l, v));
        }
    }
    let Some((l0, _)) = best else { return 0.0 };
    if score(l0) < MIN_CONFIDENCE * ac[0] {
        return 0.0;
    }
    // Refine: the peak near m·l0 has the same absolute error, so dividing by m shrinks it.
    let mut lag = l0 as f64 + parabolic(ac, l0);
    for m in [4usize, 3, 2] {
        let centre = m * l0;
        if centre + m + 1 < lags {
            let lo = centre - m;
            let peak = (lo..=centre + m)
                .max_by(|&a, &b| ac[a].total_cmp(&ac[b]))
                .unwrap_or(centre);
            if peak > lo && peak < centre + m && ac[peak] > 0.3 * ac[l0].max(score(l0)) {
                lag = (peak as f64 + parabolic(ac, peak)) / m as f64;
                break;
            }
        }
    }
    60.0 * fps / lag
}

/// Sub-sample offset of the vertex of the parabola through `y[i-1], y[i], y[i+1]`.
fn parabolic(y: &[f64], i: usize) -> f64 {
    if i == 0 || i + 1 >= y.len() {
        return 0.0;
    }
    let (a, b, c) = (y[i - 1], y[i], y[i + 1]);
    let d = a - 2.0 * b + c;
    if d < 0.0 {
        (0.5 * (a - c) / d).clamp(-0.5, 0.5)
    } else {
        0.0
    }
}

/// The live tempo tracker: a fixed ring of envelope values and preallocated scratch.
#[derive(Debug, Clone)]
pub struct TempoTracker {
    fps: f64,
    ring: Vec<f64>,
    n: u64,
    every: u64,
    /// The ring in time order.
    ordered: Vec<f64>,
    estimator: Estimator,
    bpm: f64,
}

impl TempoTracker {
    pub fn new(fps: f64) -> Self {
        let len = (TEMPO_WINDOW_S * fps).round().max(8.0) as usize;
        TempoTracker {
            fps,
            ring: vec![0.0; len],
            n: 0,
            every: ((TEMPO_EVERY_S * fps).round() as u64).max(1),
            ordered: vec![0.0; len],
            estimator: Estimator::new(len),
            bpm: 0.0,
        }
    }

    /// Envelope frames per second.
    pub fn fps(&self) -> f64 {
        self.fps
    }

    pub fn reset(&mut self) {
        self.ring.iter_mut().for_each(|r| *r = 0.0);
        self.n = 0;
        self.bpm = 0.0;
    }

    /// True when the estimate is refreshed after the `n`-th value (1-based): every
    /// [`TEMPO_EVERY_S`], once two beats at the slowest tempo (or a full window) are in.
    fn refreshes_at(&self, n: u64) -> bool {
        let min_frames = (2.0 * 60.0 / MIN_BPM * self.fps) as u64;
        n >= min_frames.min(self.ring.len() as u64) && n % self.every == 0
    }

    /// What [`push`](Self::push) returns for each value of a whole envelope, computed with
    /// the refreshes spread over rayon's threads. Equal, value for value, to pushing `env`
    /// into a new tracker one value at a time (tested); used by offline analysis.
    pub fn run_over(fps: f64, env: &[f64]) -> Vec<f64> {
        use rayon::prelude::*;
        let t = TempoTracker::new(fps);
        let len = t.ring.len();
        let refresh: Vec<usize> = (1..=env.len())
            .filter(|&n| t.refreshes_at(n as u64))
            .collect();
        let estimates: Vec<f64> = refresh
            .par_iter()
            .map_init(
                // Clones share the FFT plans; planning is the costly part of a new one.
                || t.estimator.clone(),
                |est, &n| est.estimate(&env[n.saturating_sub(len)..n], fps),
            )
            .collect();
        let mut out = Vec::with_capacity(env.len());
        let mut bpm = 0.0;
        let mut next = refresh.iter().zip(&estimates).peekable();
        for n in 1..=env.len() {
            if let Some((_, b)) = next.next_if(|(at, _)| **at == n) {
                bpm = *b;
            }
            out.push(bpm);
        }
        out
    }

    /// Adds one envelope value; returns the current estimate (0 while unknown).
    pub fn push(&mut self, x: f64) -> f64 {
        let len = self.ring.len() as u64;
        self.ring[(self.n % len) as usize] = x;
        self.n += 1;
        if self.refreshes_at(self.n) {
            let count = self.n.min(len) as usize;
            let start = ((self.n - count as u64) % len) as usize;
            let env = &mut self.ordered[..count];
            // Unroll the ring into time order so the autocorrelation reads plain slices.
            let first = (len as usize - start).min(count);
            env[..first].copy_from_slice(&self.ring[start..start + first]);
            env[first..].copy_from_slice(&self.ring[..count - first]);
            self.bpm = self.estimator.estimate(env, self.fps);
        }
        self.bpm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulses(bpm: f64, fps: f64, n: usize) -> Vec<f64> {
        let period = 60.0 * fps / bpm;
        (0..n)
            .map(|i| {
                let phase = (i as f64 / period).fract();
                if phase * period < 1.0 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn pulse_train_gives_its_tempo() {
        let fps = 44100.0 / 512.0;
        for bpm in [90.0, 120.0, 133.0, 150.0] {
            let env = pulses(bpm, fps, 700);
            let got = Estimator::new(env.len()).estimate(&env, fps);
            assert!((got - bpm).abs() < 1.5, "{bpm} → {got}");
        }
    }

    #[test]
    fn run_over_equals_pushing_one_value_at_a_time() {
        let fps = 44100.0 / 512.0;
        let mut env = pulses(128.0, fps, 3000);
        for (i, e) in env.iter_mut().enumerate() {
            *e += ((i * 7919) % 97) as f64 / 970.0;
        }
        let mut t = TempoTracker::new(fps);
        let one: Vec<f64> = env.iter().map(|x| t.push(*x)).collect();
        assert_eq!(TempoTracker::run_over(fps, &env), one);
        assert!(one.iter().any(|b| (*b - 128.0).abs() < 1.5));
    }

    #[test]
    fn flat_envelope_has_no_tempo() {
        let env = [0.5; 400];
        assert_eq!(Estimator::new(env.len()).estimate(&env, 86.0), 0.0);
    }

    #[test]
    fn fft_sizes_are_even_and_5_smooth() {
        assert_eq!(fft_size(1035), 1080);
        assert_eq!(fft_size(7754), 7776);
        assert_eq!(fft_size(3), 16);
        assert_eq!(fft_size(1025), 1080);
    }

    #[test]
    fn fft_autocorrelation_equals_the_direct_sum() {
        let fps = 44100.0 / 512.0;
        for n in [5usize, 64, 689, 1000] {
            let env: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 / 101.0).collect();
            let lags = lags_needed(n, fps);
            // A larger estimator than needed: the padding must not change the values.
            let mut est = Estimator::new(n + 300);
            est.autocorrelate(&env, lags);
            let mean = env.iter().sum::<f64>() / n as f64;
            let c: Vec<f64> = env.iter().map(|e| e - mean).collect();
            for lag in 0..lags {
                let direct: f64 =
                    c[lag..].iter().zip(&c).map(|(a, b)| a * b).sum::<f64>() / (n - lag) as f64;
                assert!(
                    (est.ac[lag] - direct).abs() < 1e-12 * (1.0 + direct.abs()),
                    "n {n} lag {lag}: {} vs {direct}",
                    est.ac[lag]
                );
            }
        }
    }
}
