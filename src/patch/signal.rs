//! Continuous signals (`sine cosine saw isaw square tri rand irand(n) perlin`): Strudel's
//! signals as plain data. A [`Signal`] is a shape plus the chain of operations written after
//! it (`.fast(k)`, `.slow(k)`, `.segment(n)`, `.range(lo, hi)`, `.rangex(lo, hi)`); the
//! scheduler evaluates it with [`Signal::at`] at a cycle position (one cycle = one bar) — at
//! each note's onset for voice options and `.vel`, and on a control grid for `param`. No
//! closures and no Rhai: evaluating is a few float operations.
//!
//! Shapes follow Strudel 1.1.0's `signal.mjs` (unipolar, 0..1). Strudel samples a signal at
//! the midpoint of the span it is queried over, so a note's value is the signal at the middle
//! of the note's step and `segment(n)` holds the value at the middle of each of its n steps;
//! weft does the same (the scheduler computes it when it plans the bar, before the onset).
//! The shapes: `sine` = (sin 2πt + 1)/2, `cosine` = sine a quarter
//! cycle early, `saw` = t mod 1, `isaw` = 1 − saw, `square` = ⌊2t⌋ mod 2, `tri` = isaw then
//! saw each squeezed into half a cycle, `rand` = Strudel's xorshift of the time (300 cycles
//! stretched over 2^29 seeds), `irand(n)` = ⌊rand·n⌋, `perlin` = smoother-step interpolation
//! between `rand` of consecutive whole cycles. With seed 0 `rand`, `irand` and `perlin` give
//! Strudel's values; another seed gives another, equally deterministic, sequence.

use std::fmt;

/// The most operations one signal may carry (a chain longer than this is a mistake).
pub const MAX_OPS: usize = 32;

/// The base waveform of a signal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Sine,
    Cosine,
    Saw,
    Isaw,
    Square,
    Tri,
    Rand,
    /// Whole numbers `0..n`.
    Irand(u32),
    Perlin,
}

impl Shape {
    pub const NAMES: [&'static str; 8] = [
        "sine", "cosine", "saw", "isaw", "square", "tri", "rand", "perlin",
    ];

    /// The shape a bare name stands for (`irand` takes an argument, so it is not here).
    pub fn from_name(name: &str) -> Option<Shape> {
        Some(match name {
            "sine" => Shape::Sine,
            "cosine" => Shape::Cosine,
            "saw" => Shape::Saw,
            "isaw" => Shape::Isaw,
            "square" => Shape::Square,
            "tri" => Shape::Tri,
            "rand" => Shape::Rand,
            "perlin" => Shape::Perlin,
            _ => return None,
        })
    }
}

/// One operation applied after the shape, in the order written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Time runs `k` times faster (`slow(k)` is `Fast(1/k)`).
    Fast(f64),
    /// Sampled and held `n` times per cycle (at each step's middle, as Strudel does).
    Segment(u32),
    /// Linear map of 0..1 to lo..hi.
    Range(f64, f64),
    /// Exponential map of 0..1 to lo..hi (both > 0).
    RangeX(f64, f64),
    /// `add(x)` / `sub(x)` with a number.
    Add(f64),
    /// `mul(x)` / `div(x)` with a number.
    Mul(f64),
    /// Arithmetic with another signal (`sine.add(saw)`), the index of its operand in
    /// [`Signal::operands`]; both are read at the same time, as Strudel's `appLeft` of two
    /// continuous patterns does.
    With(Arith, u16),
}

/// Arithmetic between two signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

impl Arith {
    pub const NAMES: [(&'static str, Arith); 4] = [
        ("add", Arith::Add),
        ("sub", Arith::Sub),
        ("mul", Arith::Mul),
        ("div", Arith::Div),
    ];

    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
            // JavaScript's division (x / 0 is ±Infinity or NaN); param() drops non-finite
            // values and options clamp, as they do for any other value.
            Arith::Div => a / b,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Arith::Add => "add",
            Arith::Sub => "sub",
            Arith::Mul => "mul",
            Arith::Div => "div",
        }
    }
}

/// A continuous signal: plain data, cloned freely, evaluated by the scheduler.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    pub shape: Shape,
    /// Mixed into `rand`, `irand` and `perlin`; 0 gives Strudel's values.
    pub seed: u64,
    pub ops: Vec<Op>,
    /// The other signals of `Op::With` operations.
    pub operands: Vec<Signal>,
}

/// A signal operation that cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignalError {
    #[error("{0}: the factor must be a finite number above 0, got {1}")]
    Factor(&'static str, f64),
    #[error("segment(n): n must be a whole number 1..=1024, got {0}")]
    Segment(f64),
    #[error("range(lo, hi): lo and hi must be finite numbers, got {0}, {1}")]
    Range(f64, f64),
    #[error("rangex(lo, hi): lo and hi must be finite numbers above 0, got {0}, {1}")]
    RangeX(f64, f64),
    #[error("irand(n): n must be a whole number 1..=1000000, got {0}")]
    Irand(f64),
    #[error("a signal may carry at most {MAX_OPS} operations")]
    TooLong,
    #[error("{0}(x): x must be a finite number, got {1}")]
    Arith(&'static str, f64),
}

impl Signal {
    pub fn new(shape: Shape, seed: u64) -> Signal {
        Signal {
            shape,
            seed,
            ops: Vec::new(),
            operands: Vec::new(),
        }
    }

    /// `irand(n)`: whole numbers 0..n, as floats.
    pub fn irand(n: f64, seed: u64) -> Result<Signal, SignalError> {
        if !(n.is_finite() && n.fract() == 0.0 && (1.0..=1e6).contains(&n)) {
            return Err(SignalError::Irand(n));
        }
        Ok(Signal::new(Shape::Irand(n as u32), seed))
    }

    /// Operations in this signal and all its operands (what [`MAX_OPS`] limits).
    pub fn size(&self) -> usize {
        self.ops.len() + self.operands.iter().map(Signal::size).sum::<usize>()
    }

    fn with(&self, op: Op) -> Result<Signal, SignalError> {
        if self.size() >= MAX_OPS {
            return Err(SignalError::TooLong);
        }
        let mut s = self.clone();
        s.ops.push(op);
        Ok(s)
    }

    pub fn fast(&self, k: f64) -> Result<Signal, SignalError> {
        if !(k.is_finite() && k > 0.0) {
            return Err(SignalError::Factor("fast", k));
        }
        self.with(Op::Fast(k))
    }

    pub fn slow(&self, k: f64) -> Result<Signal, SignalError> {
        if !(k.is_finite() && k > 0.0) {
            return Err(SignalError::Factor("slow", k));
        }
        self.with(Op::Fast(1.0 / k))
    }

    pub fn segment(&self, n: f64) -> Result<Signal, SignalError> {
        if !(n.is_finite() && n.fract() == 0.0 && (1.0..=1024.0).contains(&n)) {
            return Err(SignalError::Segment(n));
        }
        self.with(Op::Segment(n as u32))
    }

    pub fn range(&self, lo: f64, hi: f64) -> Result<Signal, SignalError> {
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(SignalError::Range(lo, hi));
        }
        self.with(Op::Range(lo, hi))
    }

    pub fn rangex(&self, lo: f64, hi: f64) -> Result<Signal, SignalError> {
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi > 0.0) {
            return Err(SignalError::RangeX(lo, hi));
        }
        self.with(Op::RangeX(lo, hi))
    }

    /// `add(x)`, `sub(x)`, `mul(x)`, `div(x)` with a number.
    pub fn arith(&self, op: Arith, x: f64) -> Result<Signal, SignalError> {
        if !x.is_finite() {
            return Err(SignalError::Arith(op.name(), x));
        }
        self.with(match op {
            Arith::Add => Op::Add(x),
            Arith::Sub => Op::Add(-x),
            Arith::Mul => Op::Mul(x),
            Arith::Div => Op::Mul(1.0 / x),
        })
    }

    /// `add(other)`, … with another signal, read at the same time.
    pub fn arith_signal(&self, op: Arith, other: &Signal) -> Result<Signal, SignalError> {
        if self.size() + other.size() + 1 > MAX_OPS {
            return Err(SignalError::TooLong);
        }
        let mut s = self.clone();
        s.ops.push(Op::With(op, s.operands.len() as u16));
        s.operands.push(other.clone());
        Ok(s)
    }

    /// The value at cycle position `t` (one cycle = one bar; bar 3 halfway is 3.5).
    pub fn at(&self, t: f64) -> f64 {
        self.eval(self.ops.len(), t)
    }

    /// The value of the signal made of the shape and the first `k` operations, at `t`.
    fn eval(&self, k: usize, t: f64) -> f64 {
        if k == 0 {
            return shape_at(self.shape, self.seed, t);
        }
        match self.ops[k - 1] {
            Op::Fast(f) => self.eval(k - 1, t * f),
            Op::Segment(n) => self.eval(k - 1, ((t * n as f64).floor() + 0.5) / n as f64),
            Op::Range(lo, hi) => self.eval(k - 1, t) * (hi - lo) + lo,
            Op::RangeX(lo, hi) => {
                let (a, b) = (lo.ln(), hi.ln());
                (self.eval(k - 1, t) * (b - a) + a).exp()
            }
            Op::Add(x) => self.eval(k - 1, t) + x,
            Op::Mul(x) => self.eval(k - 1, t) * x,
            Op::With(op, i) => op.apply(self.eval(k - 1, t), self.operands[i as usize].at(t)),
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shape {
            Shape::Irand(n) => write!(f, "irand({n})")?,
            s => write!(f, "{}", format!("{s:?}").to_lowercase())?,
        }
        for op in &self.ops {
            match op {
                Op::Fast(k) => write!(f, ".fast({k})")?,
                Op::Segment(n) => write!(f, ".segment({n})")?,
                Op::Range(a, b) => write!(f, ".range({a}, {b})")?,
                Op::RangeX(a, b) => write!(f, ".rangex({a}, {b})")?,
                Op::Add(x) => write!(f, ".add({x})")?,
                Op::Mul(x) => write!(f, ".mul({x})")?,
                Op::With(op, i) => write!(f, ".{}({})", op.name(), self.operands[*i as usize])?,
            }
        }
        Ok(())
    }
}

/// JavaScript's `t % 1` for the times signals see (negative times keep their sign, as in JS).
fn js_frac(t: f64) -> f64 {
    t % 1.0
}

fn shape_at(shape: Shape, seed: u64, t: f64) -> f64 {
    use std::f64::consts::TAU;
    match shape {
        Shape::Sine => ((TAU * t).sin() + 1.0) / 2.0,
        Shape::Cosine => ((TAU * (t + 0.25)).sin() + 1.0) / 2.0,
        Shape::Saw => js_frac(t),
        Shape::Isaw => 1.0 - js_frac(t),
        Shape::Square => ((t * 2.0) % 2.0).floor(),
        Shape::Tri => {
            // fastcat(isaw, saw): even half-cycles fall, odd ones rise.
            let u = t * 2.0;
            if u.floor().rem_euclid(2.0) == 0.0 {
                1.0 - js_frac(u)
            } else {
                js_frac(u)
            }
        }
        Shape::Rand => time_to_rand(t, seed),
        Shape::Irand(n) => (time_to_rand(t, seed) * n as f64).trunc(),
        Shape::Perlin => {
            let a = t.floor();
            let x = t - a;
            let smoother = 6.0 * x.powi(5) - 15.0 * x.powi(4) + 10.0 * x.powi(3);
            let (ra, rb) = (time_to_rand(a, seed), time_to_rand(a + 1.0, seed));
            ra + smoother * (rb - ra)
        }
    }
}

/// Strudel's `xorwise` on 32-bit integers (JS `<<` wraps, `>>` is arithmetic).
fn xorwise(x: i32) -> i32 {
    let a = x.wrapping_shl(13) ^ x;
    let b = (a >> 17) ^ a;
    b.wrapping_shl(5) ^ b
}

/// Strudel's `timeToRand`: 300 cycles stretched over 2^29 integer seeds, one xorshift step.
/// A nonzero `seed` is mixed into the integer seed (0 keeps Strudel's values).
fn time_to_rand(t: f64, seed: u64) -> f64 {
    let x = t / 300.0;
    let frac = x - x.trunc();
    let int_seed = (frac * 536_870_912.0).trunc() as i32;
    let mix = if seed == 0 {
        0
    } else {
        (crate::patch::fnv1a(&[b"signal", &seed.to_le_bytes()]) & 0x1fff_ffff) as i32
    };
    let r = xorwise(int_seed ^ mix);
    ((r % 536_870_912) as f64 / 536_870_912.0).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(s: Shape) -> Signal {
        Signal::new(s, 0)
    }

    #[test]
    fn known_values_of_the_shapes() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(sig(Shape::Sine).at(0.25), 1.0));
        assert!(close(sig(Shape::Sine).at(0.0), 0.5));
        assert!(close(sig(Shape::Sine).at(0.75), 0.0));
        assert!(close(sig(Shape::Cosine).at(0.0), 1.0));
        assert!(close(sig(Shape::Saw).at(2.25), 0.25));
        assert!(close(sig(Shape::Isaw).at(2.25), 0.75));
        assert_eq!(sig(Shape::Square).at(0.49), 0.0);
        assert_eq!(sig(Shape::Square).at(0.5), 1.0);
        assert!(close(sig(Shape::Tri).at(0.0), 1.0));
        assert!(close(sig(Shape::Tri).at(0.25), 0.5));
        assert!(close(sig(Shape::Tri).at(0.5), 0.0));
        assert!(close(sig(Shape::Tri).at(0.75), 0.5));
    }

    #[test]
    fn range_rangex_fast_slow() {
        let s = sig(Shape::Saw).range(300.0, 3000.0).unwrap();
        assert!((s.at(0.5) - 1650.0).abs() < 1e-9);
        let x = sig(Shape::Saw).rangex(100.0, 10_000.0).unwrap();
        assert!((x.at(0.5) - 1000.0).abs() < 1e-6);
        let slow = sig(Shape::Saw).slow(4.0).unwrap();
        assert!((slow.at(2.0) - 0.5).abs() < 1e-12);
        let fast = sig(Shape::Saw).fast(2.0).unwrap();
        assert!((fast.at(0.75) - 0.5).abs() < 1e-12);
        assert!(sig(Shape::Saw).slow(0.0).is_err());
        assert!(sig(Shape::Saw).rangex(0.0, 1.0).is_err());
    }

    #[test]
    fn segment_holds_n_steps_per_cycle() {
        let s = sig(Shape::Saw).segment(4.0).unwrap();
        let values: Vec<f64> = (0..16).map(|i| s.at(i as f64 / 16.0)).collect();
        let mut distinct = values.clone();
        distinct.dedup();
        // Strudel 1.1.0: saw.segment(4).queryArc(0, 1) → 0.125 0.375 0.625 0.875.
        assert_eq!(distinct, vec![0.125, 0.375, 0.625, 0.875]);
        // Order matters as written: segment then range vs range then segment agree here...
        let a = sig(Shape::Sine)
            .segment(4.0)
            .unwrap()
            .range(0.0, 10.0)
            .unwrap();
        let b = sig(Shape::Sine)
            .range(0.0, 10.0)
            .unwrap()
            .segment(4.0)
            .unwrap();
        assert_eq!(a.at(0.3), b.at(0.3));
        // ...but slow before segment stretches the steps.
        let c = sig(Shape::Saw).slow(2.0).unwrap().segment(4.0).unwrap();
        assert_eq!(c.at(0.3), 0.1875);
        let d = sig(Shape::Saw).segment(4.0).unwrap().slow(2.0).unwrap();
        assert_eq!(d.at(0.3), 0.125);
    }

    #[test]
    fn rand_is_strudels_for_seed_0_and_seeded_otherwise() {
        // Strudel: timeToRand(0) = 0; the value at 0.5 from its xorshift by hand.
        assert_eq!(sig(Shape::Rand).at(0.0), 0.0);
        let v = sig(Shape::Rand).at(0.5);
        let seed = ((0.5f64 / 300.0) * 536_870_912.0).trunc() as i32;
        let expect = ((xorwise(seed) % 536_870_912) as f64 / 536_870_912.0).abs();
        assert_eq!(v, expect);
        let times: Vec<f64> = (0..64).map(|i| i as f64 / 8.0 + 0.01).collect();
        let a: Vec<f64> = times
            .iter()
            .map(|t| Signal::new(Shape::Rand, 7).at(*t))
            .collect();
        let b: Vec<f64> = times
            .iter()
            .map(|t| Signal::new(Shape::Rand, 7).at(*t))
            .collect();
        let c: Vec<f64> = times
            .iter()
            .map(|t| Signal::new(Shape::Rand, 8).at(*t))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!((0.3..0.7).contains(&mean), "mean {mean}");
        let ir = Signal::irand(8.0, 3).unwrap();
        assert!(times
            .iter()
            .all(|t| (0.0..8.0).contains(&ir.at(*t)) && ir.at(*t).fract() == 0.0));
    }

    #[test]
    fn strudel_values_of_tri_rand_perlin() {
        // Strudel 1.1.0 (node): `X.segment(n).queryArc(a, b)` values.
        let seg = |shape: Shape, n: f64, cycles: usize| -> Vec<f64> {
            let s = sig(shape).segment(n).unwrap();
            (0..n as usize * cycles)
                .map(|i| s.at(i as f64 / n))
                .collect()
        };
        assert_eq!(
            seg(Shape::Tri, 8.0, 1),
            [0.875, 0.625, 0.375, 0.125, 0.125, 0.375, 0.625, 0.875]
        );
        let rand = [
            0.6852155700325966,
            0.40139251574873924,
            0.1356358677148819,
            0.3976310808211565,
        ];
        assert_eq!(seg(Shape::Rand, 4.0, 1), rand);
        let perlin = [
            0.008339818690274114,
            0.14298191054922427,
            0.3765602545513502,
            0.5112023464103004,
            0.5266049118740739,
            0.640629333167908,
            0.83843995192683,
            0.9524643732206641,
        ];
        for (w, s) in seg(Shape::Perlin, 4.0, 2).iter().zip(perlin) {
            assert!((w - s).abs() < 1e-12, "{w} vs {s}");
        }
    }

    #[test]
    fn perlin_passes_through_rand_at_whole_cycles_and_is_smooth() {
        let p = sig(Shape::Perlin);
        for c in 0..4 {
            assert_eq!(p.at(c as f64), time_to_rand(c as f64, 0));
        }
        let step = (p.at(1.501) - p.at(1.5)).abs();
        assert!(step < 0.01, "{step}");
    }

    #[test]
    fn display_shows_the_chain() {
        let s = sig(Shape::Sine)
            .slow(4.0)
            .unwrap()
            .range(300.0, 3000.0)
            .unwrap();
        assert_eq!(s.to_string(), "sine.fast(0.25).range(300, 3000)");
    }
}
