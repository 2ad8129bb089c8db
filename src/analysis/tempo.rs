//! Tempo stage: a running tempo estimate from the onset strength envelope by
//! autocorrelation (a comb over the first four multiples of each lag), weighted by librosa's
//! log-normal tempo prior (centre 120 bpm, one octave standard deviation), refined to a fraction of a frame by reading the peak at a
//! multiple of the beat lag and interpolating it.
//!
//! The live analyzer keeps the last [`TEMPO_WINDOW_S`] seconds of envelope in a ring and
//! re-estimates every [`TEMPO_EVERY_S`] seconds; the offline summary runs the same
//! [`estimate`] over the whole envelope.

/// Seconds of onset envelope the live estimate looks at (librosa's `ac_size`).
pub const TEMPO_WINDOW_S: f64 = 8.0;
/// How often the live estimate is refreshed.
pub const TEMPO_EVERY_S: f64 = 0.25;
/// Slowest and fastest tempo considered.
pub const MIN_BPM: f64 = 30.0;
pub const MAX_BPM: f64 = 300.0;
/// An autocorrelation peak below this fraction of the zero-lag value means "no tempo".
pub const MIN_CONFIDENCE: f64 = 0.1;

/// Number of autocorrelation lags [`estimate`] computes for an envelope of `n` frames at
/// `fps`: half the envelope, but no more than the comb and the refinement read (four
/// slowest beats and a little).
pub fn lags_needed(n: usize, fps: f64) -> usize {
    let max_lag = (60.0 * fps / MIN_BPM).ceil() as usize;
    (n / 2 + 2).min(4 * max_lag + 8).min(n)
}

/// Scratch length [`estimate`] needs for `n` frames: the centred envelope and the lags.
pub fn scratch_len(n: usize) -> usize {
    n + n / 2 + 2
}

/// Estimates the tempo in bpm of the envelope `env` sampled at `fps` frames per second.
/// `scratch` must hold at least [`scratch_len`]`(env.len())` values. Returns 0 when the
/// envelope is too short (under two slowest beats) or has no clear periodicity.
pub fn estimate(env: &[f64], fps: f64, scratch: &mut [f64]) -> f64 {
    let n = env.len();
    let min_lag = ((60.0 * fps / MAX_BPM).floor() as usize).max(1);
    let max_lag = ((60.0 * fps / MIN_BPM).ceil() as usize).min(n / 2);
    if n < 4 || max_lag <= min_lag + 1 || scratch.len() < scratch_len(n) {
        return 0.0;
    }
    let mean = env.iter().sum::<f64>() / n as f64;
    let (centred, ac) = scratch.split_at_mut(n);
    for (c, e) in centred.iter_mut().zip(env) {
        *c = e - mean;
    }
    let lags = lags_needed(n, fps);
    for (lag, a) in ac.iter_mut().enumerate().take(lags) {
        // Normalised by overlap so long lags are not penalised by fewer terms.
        *a = dot(&centred[lag..], &centred[..n - lag]) / (n - lag) as f64;
    }
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
    let ac = &ac[..lags];
    let prior = |lag: f64| {
        let bpm = 60.0 * fps / lag;
        (-0.5 * (bpm / 120.0).log2().powi(2)).exp()
    };
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
    let best = (min_lag..=max_lag.min(lags - 2))
        .max_by(|&a, &b| (score(a) * prior(a as f64)).total_cmp(&(score(b) * prior(b as f64))));
    let Some(l0) = best else { return 0.0 };
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

/// `Σ a[i]·b[i]` with eight independent partial sums, so the loop vectorises.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f64>() + tail
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
    /// The ring in time order, followed by [`estimate`]'s scratch.
    scratch: Vec<f64>,
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
            scratch: vec![0.0; len + scratch_len(len)],
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
                || vec![0.0; scratch_len(len)],
                |scratch, &n| estimate(&env[n.saturating_sub(len)..n], fps, scratch),
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
            let (env, scratch) = self.scratch.split_at_mut(len as usize);
            let env = &mut env[..count];
            // Unroll the ring into time order so the autocorrelation reads plain slices.
            let first = (len as usize - start).min(count);
            env[..first].copy_from_slice(&self.ring[start..start + first]);
            env[first..].copy_from_slice(&self.ring[..count - first]);
            self.bpm = estimate(env, self.fps, scratch);
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
            let mut ac = vec![0.0; scratch_len(env.len())];
            let got = estimate(&env, fps, &mut ac);
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
        let mut ac = vec![0.0; scratch_len(env.len())];
        assert_eq!(estimate(&env, 86.0, &mut ac), 0.0);
    }
}
