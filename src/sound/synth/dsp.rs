//! DSP building blocks used by every voice and by the master chain: band-limited
//! oscillator helpers (polyBLEP), a fast sine, a deterministic noise source, the ADSR
//! envelope, a state-variable filter, one-pole parameter smoothing, the DC blocker and the
//! soft limiter. Everything is plain state updated per sample; nothing here allocates.

/// Values below this are flushed to zero so recursive filters never decay into denormals.
const DENORMAL: f32 = 1e-20;

#[inline]
fn flush(x: f32) -> f32 {
    if x.abs() < DENORMAL {
        0.0
    } else {
        x
    }
}

/// `sin(2π·phase)` for `phase` in `[0, 1)`, accurate to ~4e-6 (Taylor series to x⁹ on a
/// quarter wave). Several times faster than `f32::sin` and exactly 0 at phase 0.
#[inline]
pub fn sin2pi(phase: f32) -> f32 {
    // Map to x in [-0.5, 0.5) with sin(2πp) = -sin(2πx) for x = p - 0.5.
    let mut x = phase - 0.5;
    if x > 0.25 {
        x = 0.5 - x;
    } else if x < -0.25 {
        x = -0.5 - x;
    }
    let t = x * std::f32::consts::TAU;
    let t2 = t * t;
    let s = t
        * (1.0
            + t2 * (-1.0 / 6.0
                + t2 * (1.0 / 120.0 + t2 * (-1.0 / 5040.0 + t2 * (1.0 / 362_880.0)))));
    -s
}

/// The polyBLEP residual for a unit step at phase 0 of a phase ramp with increment `dt`.
#[inline]
pub fn poly_blep(t: f32, dt: f32) -> f32 {
    if t < dt {
        let t = t / dt;
        t + t - t * t - 1.0
    } else if t > 1.0 - dt {
        let t = (t - 1.0) / dt;
        t * t + t + t + 1.0
    } else {
        0.0
    }
}

/// Deterministic xorshift32 noise: the same seed gives the same sequence, so offline
/// renders are byte-identical.
#[derive(Clone, Copy, Debug)]
pub struct Rng(u32);

impl Rng {
    pub fn new(seed: u32) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9) | 1)
    }

    /// Uniform in `[-1, 1)`.
    #[inline]
    pub fn next_bipolar(&mut self) -> f32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        (x >> 8) as f32 * (2.0 / 16_777_216.0) - 1.0
    }
}

/// Envelope stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Idle,
    Attack,
    Decay,
    Sustain,
    Release,
}

/// ADSR envelope: linear attack, exponential decay to the sustain level and exponential
/// release. The level reaches exactly 1.0 after the attack and stays exactly at a sustain
/// of 1.0, so a unity-gain voice is bit-transparent.
#[derive(Clone, Copy, Debug)]
pub struct Adsr {
    pub stage: Stage,
    pub level: f32,
    attack_inc: f32,
    decay_coef: f32,
    release_coef: f32,
    sustain: f32,
    sample_rate: f32,
}

/// Level at which a releasing envelope is considered finished (−80 dB).
const ENV_END: f32 = 1e-4;

/// Per-sample coefficient of an exponential that falls by 80 dB in `secs`.
fn exp_coef(secs: f32, sample_rate: f32) -> f32 {
    let n = (secs * sample_rate).max(1.0);
    (ENV_END.ln() / n).exp()
}

impl Adsr {
    pub fn new(sample_rate: f32) -> Self {
        Adsr {
            stage: Stage::Idle,
            level: 0.0,
            attack_inc: 1.0,
            decay_coef: 0.0,
            release_coef: 0.0,
            sustain: 1.0,
            sample_rate,
        }
    }

    pub fn set(&mut self, attack: f32, decay: f32, sustain: f32, release: f32) {
        self.set_attack(attack);
        self.set_decay(decay);
        self.set_sustain(sustain);
        self.set_release(release);
    }

    pub fn set_attack(&mut self, secs: f32) {
        let n = (secs.max(0.0) * self.sample_rate).max(1.0);
        self.attack_inc = 1.0 / n;
    }
    pub fn set_decay(&mut self, secs: f32) {
        self.decay_coef = exp_coef(secs.max(0.0), self.sample_rate);
    }
    pub fn set_sustain(&mut self, level: f32) {
        self.sustain = level.clamp(0.0, 1.0);
    }
    pub fn set_release(&mut self, secs: f32) {
        self.release_coef = exp_coef(secs.max(0.0), self.sample_rate);
    }

    pub fn gate_on(&mut self) {
        self.stage = Stage::Attack;
    }

    pub fn gate_off(&mut self) {
        if self.stage != Stage::Idle {
            self.stage = Stage::Release;
        }
    }

    pub fn is_idle(&self) -> bool {
        self.stage == Stage::Idle
    }

    /// Advances one sample and returns the new level (the first sample after `gate_on` is
    /// already above zero, so an onset is audible at its exact frame).
    #[inline]
    pub fn next(&mut self) -> f32 {
        match self.stage {
            Stage::Idle => {}
            Stage::Attack => {
                self.level += self.attack_inc;
                if self.level >= 1.0 {
                    self.level = 1.0;
                    self.stage = Stage::Decay;
                }
            }
            Stage::Decay => {
                let next = self.sustain + (self.level - self.sustain) * self.decay_coef;
                // Snap when close, or when f32 rounding stops the approach.
                let stalled = next == self.level;
                self.level = next;
                if stalled || (self.level - self.sustain).abs() < 1e-6 {
                    self.level = self.sustain;
                    self.stage = Stage::Sustain;
                }
            }
            Stage::Sustain => self.level = self.sustain,
            Stage::Release => {
                self.level *= self.release_coef;
                if self.level < ENV_END {
                    self.level = 0.0;
                    self.stage = Stage::Idle;
                }
            }
        }
        self.level
    }
}

/// Topology-preserving state-variable filter (Simper/Cytomic form) with low-, high- and
/// band-pass outputs, stable for any cutoff below Nyquist and any resonance in `[0, 1]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Svf {
    ic1: f32,
    ic2: f32,
    a1: f32,
    a2: f32,
    a3: f32,
    g: f32,
    k: f32,
}

impl Svf {
    /// Sets cutoff (Hz) and resonance (0 = Q 1/√2, Butterworth: −3 dB at the cutoff;
    /// 1 = self-oscillation edge, Q ≈ 25).
    pub fn set(&mut self, cutoff: f32, resonance: f32, sample_rate: f32) {
        let fc = cutoff.clamp(10.0, sample_rate * 0.45);
        let g = (std::f32::consts::PI * fc / sample_rate).tan();
        let q = std::f32::consts::FRAC_1_SQRT_2
            + resonance.clamp(0.0, 1.0) * (25.0 - std::f32::consts::FRAC_1_SQRT_2);
        let k = 1.0 / q;
        self.g = g;
        self.k = k;
        self.a1 = 1.0 / (1.0 + g * (g + k));
        self.a2 = g * self.a1;
        self.a3 = g * self.a2;
    }

    /// The coefficients (without the state), to compare two filters' settings.
    #[cfg(test)]
    pub fn coefs(&self) -> [f32; 5] {
        [self.a1, self.a2, self.a3, self.g, self.k]
    }

    #[cfg(test)]
    pub fn lowpass(&mut self, x: f32) -> f32 {
        self.tick(x).0
    }

    /// One sample through the filter: (low-pass, band-pass, high-pass) outputs. The
    /// band-pass is scaled to unity gain at its centre.
    #[inline]
    pub fn tick(&mut self, x: f32) -> (f32, f32, f32) {
        let v3 = x - self.ic2;
        let v1 = self.a1 * self.ic1 + self.a2 * v3;
        let v2 = self.ic2 + self.a2 * self.ic1 + self.a3 * v3;
        self.ic1 = 2.0 * v1 - self.ic1;
        self.ic2 = 2.0 * v2 - self.ic2;
        (v2, self.k * v1, x - self.k * v1 - v2)
    }

    /// One sample of the response `mode` selects.
    #[inline]
    pub fn process(&mut self, x: f32, mode: crate::engine::event::FilterMode) -> f32 {
        use crate::engine::event::FilterMode;
        let (lp, bp, hp) = self.tick(x);
        match mode {
            FilterMode::LowPass => lp,
            FilterMode::BandPass => bp,
            FilterMode::HighPass => hp,
        }
    }

    /// Flushes denormal state; returns false if the state blew up (NaN/inf).
    pub fn sanitize(&mut self) -> bool {
        self.ic1 = flush(self.ic1);
        self.ic2 = flush(self.ic2);
        if self.ic1.is_finite() && self.ic2.is_finite() {
            true
        } else {
            self.reset();
            false
        }
    }

    pub fn reset(&mut self) {
        self.ic1 = 0.0;
        self.ic2 = 0.0;
    }
}

/// One-pole smoothing toward a target (≈10 ms time constant), so parameter changes have
/// no zipper noise. Snaps to the target once within a tiny distance.
#[derive(Clone, Copy, Debug)]
pub struct Smoothed {
    pub value: f32,
    pub target: f32,
    coef: f32,
}

impl Smoothed {
    pub fn new(value: f32, sample_rate: f32) -> Self {
        Smoothed {
            value,
            target: value,
            coef: (-1.0 / (0.010 * sample_rate)).exp(),
        }
    }

    pub fn reset(&mut self, value: f32) {
        self.value = value;
        self.target = value;
    }

    #[inline]
    pub fn is_settled(&self) -> bool {
        self.value == self.target
    }

    #[inline]
    pub fn next(&mut self) -> f32 {
        if self.value != self.target {
            let next = self.target + (self.value - self.target) * self.coef;
            // Snap when close, or when f32 rounding stops the approach.
            if next == self.value
                || (next - self.target).abs() <= 1e-5 * self.target.abs().max(1e-3)
            {
                self.value = self.target;
            } else {
                self.value = next;
            }
        }
        self.value
    }
}

/// First-order DC blocker `y = x − x₁ + R·y₁` with a ~5 Hz corner.
#[derive(Clone, Copy, Debug)]
pub struct DcBlocker {
    x1: f32,
    y1: f32,
    r: f32,
}

impl DcBlocker {
    pub fn new(sample_rate: f32) -> Self {
        DcBlocker {
            x1: 0.0,
            y1: 0.0,
            r: 1.0 - std::f32::consts::TAU * 5.0 / sample_rate,
        }
    }

    #[inline]
    pub fn process(&mut self, x: f32) -> f32 {
        let y = flush(x - self.x1 + self.r * self.y1);
        self.x1 = x;
        self.y1 = y;
        y
    }

    pub fn reset(&mut self) {
        self.x1 = 0.0;
        self.y1 = 0.0;
    }
}

/// Stereo-linked peak limiter with instant attack and ~150 ms release, followed by a soft
/// knee. Output never exceeds `CEILING` in magnitude, whatever the input.
#[derive(Clone, Copy, Debug)]
pub struct Limiter {
    env: f32,
    release: f32,
}

/// Limiter threshold: below this the limiter is transparent.
pub const THRESHOLD: f32 = 0.8;
/// Hard bound of the limiter's output.
pub const CEILING: f32 = 0.98;

impl Limiter {
    pub fn new(sample_rate: f32) -> Self {
        Limiter {
            env: 0.0,
            release: (-1.0 / (0.150 * sample_rate)).exp(),
        }
    }

    #[inline]
    pub fn process(&mut self, l: f32, r: f32) -> (f32, f32) {
        let peak = l.abs().max(r.abs());
        self.env = if peak > self.env {
            peak
        } else {
            flush(peak + (self.env - peak) * self.release)
        };
        let gain = if self.env > THRESHOLD {
            THRESHOLD / self.env
        } else {
            1.0
        };
        (soft_knee(l * gain), soft_knee(r * gain))
    }

    pub fn reset(&mut self) {
        self.env = 0.0;
    }
}

/// Identity below `THRESHOLD`, then a tanh-shaped approach to `CEILING`.
#[inline]
fn soft_knee(x: f32) -> f32 {
    let a = x.abs();
    if a <= THRESHOLD {
        x
    } else {
        let room = CEILING - THRESHOLD;
        let over = (a - THRESHOLD) / room;
        let y = THRESHOLD + room * (over / (1.0 + over));
        y.copysign(x)
    }
}

/// Frames since a send bus last had input, so an idle bus can skip its work once its tail
/// has died away (shared by the delay and the reverb).
#[derive(Clone, Copy, Debug)]
pub struct Quiet(u64);

impl Quiet {
    /// A bus that has never had input.
    pub const IDLE: Quiet = Quiet(u64::MAX);

    /// True once more than `tail` frames have passed without input.
    pub fn is_past(&self, tail: u64) -> bool {
        self.0 > tail
    }

    /// Counts one block of `frames`; false when the bus may skip it (no input and its tail
    /// of `tail` frames is over).
    pub fn run_block(&mut self, fed: bool, frames: usize, tail: u64) -> bool {
        if fed {
            self.0 = 0;
        } else if self.is_past(tail) {
            return false;
        } else {
            self.0 = self.0.saturating_add(frames as u64);
        }
        true
    }
}

/// Window of [`loudness`]: 400 ms, the "momentary" window of EBU R 128 loudness meters.
pub const LOUDNESS_WINDOW_SECS: f32 = 0.4;

/// Loudness of a short sound, as used to balance General MIDI programs against the built-in
/// synths: the largest RMS over any 400 ms window (hop 50 ms) of the stereo signal, both
/// channels together (`left`/`right` equal length; a signal shorter than the window is
/// measured whole). For a sustained tone this is its RMS; for a decaying one (a pluck, a
/// xylophone) it is the RMS of its loudest 400 ms instead of being diluted by the silence
/// after it. Unweighted (no K-filter): levels are compared between voices playing the same
/// note, not across the spectrum.
pub fn loudness(left: &[f32], right: &[f32], sample_rate: f32) -> f32 {
    let n = left.len().min(right.len());
    if n == 0 {
        return 0.0;
    }
    let window = ((LOUDNESS_WINDOW_SECS * sample_rate) as usize).clamp(1, n);
    let hop = (window / 8).max(1);
    // Prefix sums of the per-frame mean square, in f64 so long sums stay exact enough.
    let mut prefix = Vec::with_capacity(n + 1);
    let mut acc = 0.0f64;
    prefix.push(0.0);
    for i in 0..n {
        let (l, r) = (left[i] as f64, right[i] as f64);
        acc += 0.5 * (l * l + r * r);
        prefix.push(acc);
    }
    let mut best = 0.0f64;
    let mut start = 0;
    loop {
        let end = (start + window).min(n);
        best = best.max((prefix[end] - prefix[start]) / (end - start) as f64);
        if end == n {
            break;
        }
        start += hop;
    }
    best.sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loudness_of_a_sine_is_its_rms_and_a_burst_is_not_diluted() {
        let sr = 48_000.0;
        let sine: Vec<f32> = (0..48_000)
            .map(|i| 0.5 * sin2pi((i as f32 * 440.0 / sr).fract()))
            .collect();
        let l = loudness(&sine, &sine, sr);
        assert!((l - 0.5 / 2f32.sqrt()).abs() < 1e-3, "{l}");
        // 0.4 s of the same sine then 0.6 s of silence: still the sine's RMS.
        let burst: Vec<f32> = sine
            .iter()
            .enumerate()
            .map(|(i, &x)| if i < 19_200 { x } else { 0.0 })
            .collect();
        let b = loudness(&burst, &burst, sr);
        assert!((b - l).abs() < 2e-3, "{b} vs {l}");
        // Only the left channel: half the power.
        let silent = vec![0.0; sine.len()];
        let half = loudness(&sine, &silent, sr);
        assert!((half - l / 2f32.sqrt()).abs() < 1e-3, "{half}");
        assert_eq!(loudness(&[], &[], sr), 0.0);
    }

    #[test]
    fn fast_sine_matches_std() {
        for i in 0..10_000 {
            let p = i as f32 / 10_000.0;
            let want = (p * std::f32::consts::TAU).sin();
            assert!((sin2pi(p) - want).abs() < 2e-5, "phase {p}");
        }
        assert_eq!(sin2pi(0.0), 0.0);
    }

    #[test]
    fn adsr_reaches_sustain_and_releases_to_idle() {
        let sr = 48_000.0;
        let mut env = Adsr::new(sr);
        env.set(0.01, 0.05, 0.5, 0.1);
        env.gate_on();
        assert!(env.next() > 0.0);
        for _ in 0..(0.5 * sr) as usize {
            env.next();
        }
        assert_eq!(env.stage, Stage::Sustain);
        assert_eq!(env.level, 0.5);
        env.gate_off();
        let mut n = 0;
        while !env.is_idle() {
            env.next();
            n += 1;
            assert!(n < sr as usize, "release never ended");
        }
        assert!((n as f32 - 0.1 * sr * 80.0 / 80.0).abs() < 0.02 * sr);
    }

    #[test]
    fn adsr_unity_is_exact() {
        let mut env = Adsr::new(48_000.0);
        env.set(0.0, 0.1, 1.0, 0.1);
        env.gate_on();
        for _ in 0..1000 {
            assert_eq!(env.next(), 1.0);
        }
    }

    #[test]
    fn svf_passes_dc_and_cuts_highs() {
        let sr = 48_000.0;
        let mut f = Svf::default();
        f.set(500.0, 0.0, sr);
        let mut y = 0.0;
        for _ in 0..48_000 {
            y = f.lowpass(1.0);
        }
        assert!((y - 1.0).abs() < 1e-3);
        let mut f = Svf::default();
        f.set(200.0, 0.0, sr);
        let mut peak: f32 = 0.0;
        for i in 0..48_000 {
            let x = sin2pi((i as f32 * 10_000.0 / sr).fract());
            let y = f.lowpass(x);
            if i > 4800 {
                peak = peak.max(y.abs());
            }
        }
        assert!(peak < 0.01, "10 kHz through 200 Hz low-pass: {peak}");
    }

    #[test]
    fn limiter_never_exceeds_ceiling_and_is_transparent_when_quiet() {
        let mut lim = Limiter::new(48_000.0);
        for i in 0..48_000 {
            let x = 20.0 * sin2pi((i as f32 * 0.01).fract());
            let (l, r) = lim.process(x, -x);
            assert!(l.abs() <= CEILING && r.abs() <= CEILING);
        }
        let mut lim = Limiter::new(48_000.0);
        for i in 0..1000 {
            let x = 0.5 * sin2pi((i as f32 * 0.01).fract());
            assert_eq!(lim.process(x, x), (x, x));
        }
    }

    #[test]
    fn dc_blocker_removes_offset() {
        let mut dc = DcBlocker::new(48_000.0);
        let mut y = 1.0;
        for _ in 0..48_000 {
            y = dc.process(1.0);
        }
        assert!(y.abs() < 1e-3, "{y}");
    }

    #[test]
    fn smoothing_converges_without_jumps() {
        let mut s = Smoothed::new(0.0, 48_000.0);
        s.target = 1.0;
        let mut last = 0.0;
        for _ in 0..48_000 {
            let v = s.next();
            assert!(v - last < 0.01);
            last = v;
        }
        assert!(s.is_settled());
    }
}
