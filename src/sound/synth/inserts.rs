//! Per-voice insert effects after the filter: `distort` (tanh-shaped drive), `crush`
//! (bit-depth reduction), `coarse` (sample-and-hold sample-rate reduction) and tremolo
//! (amplitude modulation by a raised cosine, starting at full level so onsets are intact).
//! Every setting is a one-pole [`Smoothed`] value, so `param()` changes glide without zipper
//! noise; at their neutral values the inserts are skipped and the voice is bit-identical.

use super::dsp::{sin2pi, Smoothed};
use crate::engine::event::{Param, Sound};

pub struct Inserts {
    distort: Smoothed,
    crush: Smoothed,
    coarse: Smoothed,
    tremolo: Smoothed,
    rate: Smoothed,
    hold: (f32, f32),
    hold_count: f32,
    trem_phase: f32,
    /// Per-setting values derived from the smoothed ones, recomputed only when the setting
    /// moves (so a settled insert costs no `exp2`, division or `soft_clip` of its own).
    drive_cache: Derived<2>,
    crush_cache: Derived<2>,
    rate_cache: Derived<1>,
}

/// Values derived from one smoothed setting, valid while the setting equals `at`.
#[derive(Clone, Copy)]
struct Derived<const N: usize> {
    at: f32,
    v: [f32; N],
}

impl<const N: usize> Derived<N> {
    /// Never equal to a setting (NaN), so the first use computes.
    const STALE: Self = Derived {
        at: f32::NAN,
        v: [0.0; N],
    };

    #[inline]
    fn get(&mut self, at: f32, f: impl FnOnce(f32) -> [f32; N]) -> [f32; N] {
        if self.at != at {
            self.at = at;
            self.v = f(at);
        }
        self.v
    }
}

/// `x.round()` (half away from zero) without the libm call the baseline x86-64 target makes
/// for it; bit-identical for every input.
#[inline]
fn round(x: f32) -> f32 {
    // From 2^23 on every f32 is an integer (and NaN/inf pass through unchanged).
    if x.abs() >= 8_388_608.0 || x.is_nan() {
        return x;
    }
    let t = x as i32 as f32;
    // The fractional part of a float is exact.
    let d = x - t;
    // The result has the sign of `x`, −0.0 included (as `round` gives).
    (t + ((d >= 0.5) as i32 - (d <= -0.5) as i32) as f32).copysign(x)
}

/// `tanh` to ~1e-3 (a Padé approximant, saturating at ±1 beyond |x| = 3).
#[inline]
pub fn soft_clip(x: f32) -> f32 {
    let x = x.clamp(-3.0, 3.0);
    let x2 = x * x;
    x * (27.0 + x2) / (27.0 + 9.0 * x2)
}

/// Drive factor of a `distort` amount (0..=10): 1 + d².
#[inline]
fn drive(d: f32) -> f32 {
    1.0 + d * d
}

/// The drive factor of a `distort` amount and the gain that brings its full-scale output
/// back to 1.
fn drive_norm(d: f32) -> [f32; 2] {
    let g = drive(d);
    [g, 1.0 / soft_clip(g)]
}

/// Quantizer levels of a `crush` setting (2^(bits−1) per unit) and their step 1/levels.
fn crush_levels(bits: f32) -> [f32; 2] {
    let levels = (bits.max(1.0) - 1.0).exp2();
    [levels, 1.0 / levels]
}

/// Applies `f` to every sample of `l` and, for a stereo voice, of `r`.
#[inline]
fn map(l: &mut [f32], r: &mut Option<&mut [f32]>, f: impl Fn(f32) -> f32) {
    for x in l.iter_mut() {
        *x = f(*x);
    }
    if let Some(r) = r {
        for x in r.iter_mut() {
            *x = f(*x);
        }
    }
}

impl Inserts {
    pub fn new(sample_rate: f32) -> Self {
        Inserts {
            distort: Smoothed::new(0.0, sample_rate),
            crush: Smoothed::new(0.0, sample_rate),
            coarse: Smoothed::new(1.0, sample_rate),
            tremolo: Smoothed::new(0.0, sample_rate),
            rate: Smoothed::new(4.0, sample_rate),
            hold: (0.0, 0.0),
            hold_count: f32::MAX,
            trem_phase: 0.0,
            drive_cache: Derived::STALE,
            crush_cache: Derived::STALE,
            rate_cache: Derived::STALE,
        }
    }

    pub fn start(&mut self, sound: &Sound) {
        let set = |s: &mut Smoothed, p: Param, v: f32| {
            let (lo, hi) = p.range();
            s.reset(if v.is_finite() { v.clamp(lo, hi) } else { lo });
        };
        set(&mut self.distort, Param::Distort, sound.distort);
        set(&mut self.crush, Param::Crush, sound.crush);
        set(&mut self.coarse, Param::Coarse, sound.coarse);
        set(&mut self.tremolo, Param::Tremolo, sound.tremolo);
        set(&mut self.rate, Param::TremoloRate, sound.tremolorate);
        self.hold = (0.0, 0.0);
        self.hold_count = f32::MAX;
        self.trem_phase = 0.0;
        self.rate_cache = Derived::STALE;
    }

    /// Applies a live change; returns false for parameters that are not inserts.
    pub fn set_param(&mut self, param: Param, value: f32) -> bool {
        let (lo, hi) = param.range();
        let v = value.clamp(lo, hi);
        match param {
            Param::Distort => self.distort.target = v,
            Param::Crush => self.crush.target = v,
            Param::Coarse => self.coarse.target = v,
            Param::Tremolo => self.tremolo.target = v,
            Param::TremoloRate => self.rate.target = v,
            _ => return false,
        }
        true
    }

    /// [`Inserts::process`] over a block: `l` and, for a stereo voice, `r` (`None` for a
    /// mono voice, whose right channel equals its left) are replaced by their processed
    /// frames — bit-identical to calling `process` frame by frame. Each insert runs over
    /// the whole block in turn; a settled one as a plain loop without per-frame branches
    /// (which the compiler vectorizes), a gliding one frame by frame.
    pub fn process_block(&mut self, l: &mut [f32], mut r: Option<&mut [f32]>) {
        if let Some(r) = &r {
            debug_assert_eq!(l.len(), r.len());
        }
        let n = l.len();
        if self.distort.value > 0.0 || self.distort.target > 0.0 {
            if self.distort.is_settled() {
                let [g, norm] = self.drive_cache.get(self.distort.value, drive_norm);
                map(l, &mut r, |x| soft_clip(g * x) * norm);
            } else {
                for i in 0..n {
                    if self.distort.value > 0.0 || self.distort.target > 0.0 {
                        let [g, norm] = self.drive_cache.get(self.distort.next(), drive_norm);
                        l[i] = soft_clip(g * l[i]) * norm;
                        if let Some(r) = &mut r {
                            r[i] = soft_clip(g * r[i]) * norm;
                        }
                    }
                }
            }
        }
        if self.coarse.value > 1.0 || self.coarse.target > 1.0 {
            for i in 0..n {
                if self.coarse.value > 1.0 || self.coarse.target > 1.0 {
                    let c = self.coarse.next();
                    self.hold_count += 1.0;
                    if self.hold_count >= c {
                        self.hold_count = if self.hold_count == f32::MAX {
                            0.0
                        } else {
                            self.hold_count - c
                        };
                        self.hold = (l[i], r.as_ref().map_or(0.0, |r| r[i]));
                    }
                    l[i] = self.hold.0;
                    if let Some(r) = &mut r {
                        r[i] = self.hold.1;
                    }
                } else {
                    self.hold_count = f32::MAX;
                }
            }
        } else {
            self.hold_count = f32::MAX;
        }
        if self.crush.value > 0.0 || self.crush.target > 0.0 {
            if self.crush.is_settled() {
                let [levels, step] = self.crush_cache.get(self.crush.value, crush_levels);
                map(l, &mut r, |x| round(x * levels) * step);
            } else {
                for i in 0..n {
                    if self.crush.value > 0.0 || self.crush.target > 0.0 {
                        let [levels, step] = self.crush_cache.get(self.crush.next(), crush_levels);
                        l[i] = round(l[i] * levels) * step;
                        if let Some(r) = &mut r {
                            r[i] = round(r[i] * levels) * step;
                        }
                    }
                }
            }
        }
    }

    /// Distortion, bit crush and sample-rate reduction of one stereo frame (the reference
    /// for [`Inserts::process_block`]).
    #[cfg(test)]
    pub fn process(&mut self, mut l: f32, mut r: f32) -> (f32, f32) {
        if self.distort.value > 0.0 || self.distort.target > 0.0 {
            let [g, norm] = self.drive_cache.get(self.distort.next(), drive_norm);
            l = soft_clip(g * l) * norm;
            r = soft_clip(g * r) * norm;
        }
        if self.coarse.value > 1.0 || self.coarse.target > 1.0 {
            let c = self.coarse.next();
            self.hold_count += 1.0;
            if self.hold_count >= c {
                self.hold_count = if self.hold_count == f32::MAX {
                    0.0
                } else {
                    self.hold_count - c
                };
                self.hold = (l, r);
            }
            (l, r) = self.hold;
        } else {
            self.hold_count = f32::MAX;
        }
        if self.crush.value > 0.0 || self.crush.target > 0.0 {
            let [levels, step] = self.crush_cache.get(self.crush.next(), crush_levels);
            // × 1/levels: the same as ÷ levels for whole bits (a power of two), within
            // one rounding step otherwise.
            l = round(l * levels) * step;
            r = round(r * levels) * step;
        }
        (l, r)
    }

    /// The tremolo's gains for the next `gains.len()` frames (as many calls of
    /// [`Inserts::tremolo_gain`], bit-identical; a settled tremolo as two plain loops).
    pub fn tremolo_block(&mut self, gains: &mut [f32], sample_rate: f32) {
        if self.tremolo.value == 0.0 && self.tremolo.target == 0.0 {
            gains.fill(1.0);
        } else if self.tremolo.is_settled() && self.rate.is_settled() {
            let depth = self.tremolo.value;
            let [inc] = self
                .rate_cache
                .get(self.rate.value, |rate| [rate / sample_rate]);
            // The phases first (a running sum), then the cosines of all of them.
            for g in gains.iter_mut() {
                let mut p = self.trem_phase + 0.25;
                if p >= 1.0 {
                    p -= 1.0;
                }
                *g = p;
                self.trem_phase += inc;
                if self.trem_phase >= 1.0 {
                    self.trem_phase -= 1.0;
                }
            }
            for g in gains.iter_mut() {
                *g = 1.0 - depth * 0.5 * (1.0 - sin2pi(*g));
            }
        } else {
            for g in gains.iter_mut() {
                *g = self.tremolo_gain(sample_rate);
            }
        }
    }

    /// The tremolo's gain for this frame (1 when off).
    #[inline]
    pub fn tremolo_gain(&mut self, sample_rate: f32) -> f32 {
        if self.tremolo.value == 0.0 && self.tremolo.target == 0.0 {
            return 1.0;
        }
        let depth = self.tremolo.next();
        let [inc] = self
            .rate_cache
            .get(self.rate.next(), |rate| [rate / sample_rate]);
        // A quarter cycle ahead (the phase is in [0, 1), so one wrap at most).
        let mut p = self.trem_phase + 0.25;
        if p >= 1.0 {
            p -= 1.0;
        }
        let cos = sin2pi(p);
        self.trem_phase += inc;
        if self.trem_phase >= 1.0 {
            self.trem_phase -= 1.0;
        }
        1.0 - depth * 0.5 * (1.0 - cos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Sound)) -> Inserts {
        let mut s = Sound::default();
        f(&mut s);
        let mut ins = Inserts::new(48_000.0);
        ins.start(&s);
        ins
    }

    fn sine(i: usize, hz: f32) -> f32 {
        0.8 * sin2pi((i as f32 * hz / 48_000.0).fract())
    }

    /// Amplitude of the `hz` component of `x` (48 kHz) by correlation.
    fn amplitude(x: &[f32], hz: f32) -> f32 {
        let (mut c, mut s) = (0.0f64, 0.0f64);
        for (i, &v) in x.iter().enumerate() {
            let w = std::f64::consts::TAU * hz as f64 * i as f64 / 48_000.0;
            c += v as f64 * w.cos();
            s += v as f64 * w.sin();
        }
        (2.0 * (c * c + s * s).sqrt() / x.len() as f64) as f32
    }

    #[test]
    fn neutral_settings_are_transparent() {
        let mut ins = with(|_| {});
        for i in 0..1000 {
            let x = sine(i, 440.0);
            assert_eq!(ins.process(x, -x), (x, -x));
            assert_eq!(ins.tremolo_gain(48_000.0), 1.0);
        }
    }

    #[test]
    fn crush_leaves_at_most_2_pow_bits_levels() {
        let mut ins = with(|s| s.crush = 3.0);
        let mut levels: Vec<i32> = (0..4800)
            .map(|i| (ins.process(sine(i, 440.0), 0.0).0 * 1000.0).round() as i32)
            .collect();
        levels.sort();
        levels.dedup();
        assert!(levels.len() <= 9, "{levels:?}");
        assert!(levels.len() >= 5, "{levels:?}");
    }

    #[test]
    fn coarse_holds_each_value_for_n_frames() {
        let mut ins = with(|s| s.coarse = 8.0);
        let out: Vec<f32> = (0..800)
            .map(|i| ins.process(sine(i, 440.0), 0.0).0)
            .collect();
        for (k, chunk) in out.chunks(8).enumerate() {
            assert!(chunk.iter().all(|&v| v == chunk[0]), "run {k}: {chunk:?}");
            assert_eq!(chunk[0], sine(8 * k, 440.0));
        }
    }

    #[test]
    fn distort_adds_odd_harmonics_and_keeps_the_peak_bounded() {
        let dry: Vec<f32> = (0..48_000).map(|i| sine(i, 500.0)).collect();
        let mut ins = with(|s| s.distort = 2.0);
        let wet: Vec<f32> = dry.iter().map(|&x| ins.process(x, x).0).collect();
        let h3_dry = amplitude(&dry, 1500.0) / amplitude(&dry, 500.0);
        let h3_wet = amplitude(&wet, 1500.0) / amplitude(&wet, 500.0);
        assert!(h3_dry < 1e-3, "{h3_dry}");
        assert!(h3_wet > 0.1, "third harmonic / fundamental {h3_wet}");
        assert!(wet.iter().all(|x| x.abs() <= 1.0 + 1e-3));
    }

    #[test]
    fn tremolo_modulates_at_its_rate_and_depth() {
        let mut ins = with(|s| {
            s.tremolo = 0.5;
            s.tremolorate = 5.0;
        });
        let g: Vec<f32> = (0..48_000).map(|_| ins.tremolo_gain(48_000.0)).collect();
        assert!((g[0] - 1.0).abs() < 1e-5, "{}", g[0]);
        let min = g.iter().cloned().fold(1.0, f32::min);
        assert!((min - 0.5).abs() < 1e-3, "{min}");
        // Minima at 0.1 s, 0.3 s, ...: five per second.
        let minima = g
            .windows(3)
            .filter(|w| w[1] < w[0] && w[1] <= w[2] && w[1] < 0.6)
            .count();
        assert_eq!(minima, 5);
    }

    #[test]
    fn fast_round_matches_std_round() {
        let mut xs = vec![
            0.0f32,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999997,
            -0.49999997,
            8_388_607.5,
            8_388_608.0,
            -8_388_609.0,
            3e9,
            -3e9,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
        ];
        let mut rng = crate::sound::synth::dsp::Rng::new(7);
        xs.extend((0..100_000).map(|i| rng.next_bipolar() * (1 << (i % 26)) as f32));
        for x in xs {
            assert_eq!(round(x).to_bits(), x.round().to_bits(), "{x}");
        }
        assert!(round(f32::NAN).is_nan());
    }

    #[test]
    fn crush_steps_follow_a_changing_setting() {
        let mut ins = with(|s| s.crush = 2.0);
        // Two bits: levels at multiples of 1/2.
        assert_eq!(ins.process(0.3, 0.8).0, 0.5);
        assert!(ins.set_param(Param::Crush, 4.0));
        for _ in 0..48_000 {
            ins.process(0.0, 0.0);
        }
        // Four bits: multiples of 1/8 (0.3 → 2/8), the cached step was recomputed.
        assert_eq!(ins.process(0.3, 0.0).0, 0.25);
    }

    /// `process_block`/`tremolo_block` against the frame-by-frame reference, through
    /// settled stretches and glides (on, off and between values) of every insert.
    #[test]
    fn block_forms_match_the_frame_by_frame_reference() {
        let start = |s: &mut Sound| {
            s.distort = 1.5;
            s.crush = 6.0;
            s.coarse = 3.0;
            s.tremolo = 0.4;
            s.tremolorate = 7.0;
        };
        for stereo in [true, false] {
            let mut a = with(start);
            let mut b = with(start);
            let changes = [
                (Param::Distort, 0.0),
                (Param::Crush, 3.5),
                (Param::Coarse, 1.0),
                (Param::Tremolo, 0.0),
                (Param::Distort, 4.0),
                (Param::Coarse, 5.0),
                (Param::Crush, 0.0),
                (Param::Tremolo, 0.9),
                (Param::TremoloRate, 2.0),
            ];
            let mut i = 0usize;
            for (round, (param, value)) in changes.iter().enumerate() {
                // Blocks of varying length, some while gliding, some settled.
                let lens = [64usize, 7, 64, 1, 33].into_iter().chain([64; 120]);
                for len in lens {
                    let mut l: Vec<f32> = (i..i + len).map(|k| 1.3 * sine(k, 330.0)).collect();
                    let mut r: Vec<f32> = (i..i + len).map(|k| sine(k, 550.0)).collect();
                    if !stereo {
                        r.clone_from(&l);
                    }
                    let want: Vec<(f32, f32)> =
                        l.iter().zip(&r).map(|(&x, &y)| a.process(x, y)).collect();
                    let want_g: Vec<f32> = (0..len).map(|_| a.tremolo_gain(48_000.0)).collect();
                    if stereo {
                        b.process_block(&mut l, Some(&mut r));
                    } else {
                        b.process_block(&mut l, None);
                        r.clone_from(&l);
                    }
                    let mut g = vec![0.0; len];
                    b.tremolo_block(&mut g, 48_000.0);
                    for k in 0..len {
                        assert_eq!(want[k].0.to_bits(), l[k].to_bits(), "round {round} l {k}");
                        assert_eq!(want[k].1.to_bits(), r[k].to_bits(), "round {round} r {k}");
                        assert_eq!(want_g[k].to_bits(), g[k].to_bits(), "round {round} g {k}");
                    }
                    i += len;
                }
                assert!(a.set_param(*param, *value) && b.set_param(*param, *value));
            }
        }
    }

    #[test]
    fn live_changes_glide() {
        let mut ins = with(|s| s.distort = 0.0);
        assert!(ins.set_param(Param::Distort, 4.0));
        assert!(!ins.set_param(Param::Cutoff, 4.0));
        let mut last = 0.0;
        for _ in 0..48_000 {
            ins.process(0.1, 0.1);
            let v = ins.distort.value;
            assert!(v - last < 0.05, "jump {last} → {v}");
            last = v;
        }
        assert_eq!(ins.distort.value, 4.0);
    }
}
