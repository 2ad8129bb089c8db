//! Pattern transforms — the voice methods `fast`, `rev`, `ply`, `off`, `struct`,
//! `sometimesBy`, `chunk`, … — as pattern data with Strudel 1.1.0's definitions over exact
//! rational time (`tests/pattern_strudel.rs` holds them to Strudel's events).
//!
//! A transform wraps a [`Pattern`] into a new one; functions given to `off`, `every`,
//! `sometimes` … are run once when the patch is evaluated (in Rhai), so what the scheduler
//! queries is plain data. Each transform also scales the pattern's bound on events per cycle
//! and refuses a result above [`MAX_HITS`]. Randomness reads Strudel's `rand` (xorshift of
//! the time), shifted by weft's seed, as the mini-notation's `?` does.

use super::pat::{rand_over, time_to_rand, Hap, Pat, QueryCtx, Span};
use super::rat::Rat;
use super::{Pattern, Value, MAX_HITS};
use thiserror::Error;

/// Why a transform was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TransformError {
    #[error("{0}: the pattern would make more than {max} events per cycle", max = MAX_HITS)]
    TooMany(&'static str),
    #[error("{what}: {msg}")]
    BadArg { what: &'static str, msg: String },
}

fn bad<T>(what: &'static str, msg: impl Into<String>) -> Result<T, TransformError> {
    Err(TransformError::BadArg {
        what,
        msg: msg.into(),
    })
}

/// A value operation (`add`, `sub`, `range` = `mul` then `add`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ValueOp {
    Add(f64),
    Mul(f64),
}

/// The transforms that need their own query (the rest are built from existing combinators).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tf {
    /// `early(t)` (`late(t)` is `early(-t)`).
    Early(Rat, Pat),
    /// `rev`: each cycle reflected.
    Rev(Pat),
    /// Strudel's `slowcatPrime`: cycle `c` plays child `c mod n` at the same time
    /// (`firstOf`, `lastOf`, `every`, `palindrome`).
    Alternate(Vec<Pat>),
    /// `ply(f)`: each event squeezed into `f` copies of itself.
    Ply(Rat, Pat),
    /// `struct(mask)`: structure from the mask's truthy events, values from the pattern.
    Struct(Pat, Pat),
    /// `mask(m)`: the pattern's events where the mask is truthy.
    Mask(Pat, Pat),
    /// Structure from fixed steps of each cycle (`segment`, `euclidLegato`).
    Steps(Vec<(Rat, Rat)>, Pat),
    Map(ValueOp, Pat),
    /// `undegradeBy(1 - x)` as `sometimesBy` uses it: keeps events whose `rand` is below `x`.
    Undegrade(f64, Pat),
    /// `degradeByWith(rand.segment(1), x)`: whole cycles kept when their `rand` is above `x`
    /// (`below`: when it is below, as `someCyclesBy`'s transformed half).
    CycleDegrade {
        amount: f64,
        below: bool,
        pat: Pat,
    },
    /// `chunk(n, f)`: in cycle `c`, part `c mod n` of the cycle comes from `on`.
    Chunk {
        n: i64,
        on: Pat,
        off: Pat,
    },
    /// Tidal's `whenmod(a, b, f)`: cycles with `c mod a >= b` come from `on`.
    WhenMod {
        a: i64,
        b: i64,
        on: Pat,
        off: Pat,
    },
}

/// JavaScript truthiness of a mask value (`0` and the empty word are false).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Num(x) => *x != 0.0 && !x.is_nan(),
        Value::Word(w) => !w.is_empty(),
        Value::List(_) => true,
    }
}

fn map_value(op: ValueOp, v: &Value) -> Value {
    match v {
        Value::Num(x) => Value::Num(match op {
            ValueOp::Add(a) => x + a,
            ValueOp::Mul(m) => x * m,
        }),
        // A note name moves as its MIDI number; other words (drums, `x`) stay as they are.
        Value::Word(w) => match (op, crate::patch::theory::note_number(w)) {
            (ValueOp::Add(a), Ok(n)) if w != "x" && w != "X" => Value::Num(n as f64 + a),
            _ => v.clone(),
        },
        Value::List(xs) => {
            let mut xs = xs.clone();
            if let Some(first) = xs.first_mut() {
                *first = map_value(op, first);
            }
            Value::List(xs)
        }
    }
}

fn with_part(h: &Hap, whole: Span, part: Span) -> Hap {
    Hap {
        whole,
        part,
        value: h.value.clone(),
    }
}

impl Tf {
    pub(crate) fn query(&self, span: Span, ctx: &mut QueryCtx) -> Vec<Hap> {
        match self {
            Tf::Early(t, pat) => pat
                .query(span.with(|x| x.plus(*t)), ctx)
                .into_iter()
                .map(|h| h.map_time(|x| x.minus(*t)))
                .collect(),
            Tf::Rev(pat) => {
                let mut out = Vec::new();
                for s in span.cycles() {
                    let cycle = s.b.sam();
                    let twice = cycle.plus(cycle).plus(Rat::ONE);
                    let reflect = |sp: Span| Span::new(twice.minus(sp.e), twice.minus(sp.b));
                    out.extend(pat.query(reflect(s), ctx).into_iter().map(|h| Hap {
                        whole: reflect(h.whole),
                        part: reflect(h.part),
                        value: h.value,
                    }));
                }
                out
            }
            Tf::Alternate(pats) => {
                let n = pats.len() as i64;
                let mut out = Vec::new();
                for s in span.cycles() {
                    // JavaScript's `Math.floor(begin) % n`: before time 0 the remainder is
                    // negative (no pattern: silence) or -0 (the first pattern).
                    let r = s.b.sam().num % n;
                    if r >= 0 {
                        out.extend(pats[r as usize].query(s, ctx));
                    }
                }
                out
            }
            Tf::Ply(f, pat) => {
                // squeezeJoin of `pure(v)._fast(f)`, each focused on its hap's whole:
                // `focus(b, e)` = `fast(1 / (e - b)).late(cyclePos(b))`.
                let mut out = Vec::new();
                for h in pat.query(span, ctx) {
                    let w = h.whole;
                    let dur = w.e.minus(w.b);
                    if dur.num <= 0 {
                        continue;
                    }
                    let shift = w.b.minus(w.b.sam());
                    let inner = h.part.with(|t| t.minus(shift).over(dur));
                    let pure = Pat::Pure(h.value.clone());
                    for ih in super::pat::fast(*f, &pure, inner, ctx) {
                        let ih = ih.map_time(|t| t.times(dur).plus(shift));
                        if let (Some(whole), Some(part)) =
                            (ih.whole.intersect(w), ih.part.intersect(h.part))
                        {
                            out.push(with_part(&h, whole, part));
                        }
                    }
                }
                out
            }
            Tf::Struct(mask, pat) => {
                let mut out = Vec::new();
                for m in mask.query(span, ctx) {
                    if !truthy(&m.value) {
                        continue;
                    }
                    for h in pat.query(m.whole, ctx) {
                        if let Some(part) = h.part.intersect(m.part) {
                            out.push(with_part(&h, m.whole, part));
                        }
                    }
                }
                out
            }
            Tf::Mask(mask, pat) => {
                let mut out = Vec::new();
                for h in pat.query(span, ctx) {
                    for m in mask.query(h.whole, ctx) {
                        if !truthy(&m.value) {
                            continue;
                        }
                        if let Some(part) = h.part.intersect(m.part) {
                            out.push(with_part(&h, h.whole, part));
                        }
                    }
                }
                out
            }
            Tf::Steps(steps, pat) => {
                let mut out = Vec::new();
                for s in span.cycles() {
                    let sam = s.b.sam();
                    for (b, e) in steps {
                        let step = Span::new(sam.plus(*b), sam.plus(*e));
                        let Some(spart) = step.intersect(s) else {
                            continue;
                        };
                        for h in pat.query(step, ctx) {
                            if let Some(part) = h.part.intersect(spart) {
                                out.push(with_part(&h, step, part));
                            }
                        }
                    }
                }
                out
            }
            Tf::Map(op, pat) => pat
                .query(span, ctx)
                .into_iter()
                .map(|h| Hap {
                    value: map_value(*op, &h.value),
                    ..h
                })
                .collect(),
            Tf::Undegrade(x, pat) => pat
                .query(span, ctx)
                .into_iter()
                .filter(|h| rand_over(h.whole, 0, ctx) < *x)
                .collect(),
            Tf::CycleDegrade { amount, below, pat } => pat
                .query(span, ctx)
                .into_iter()
                .filter(|h| {
                    let c = h.whole.b.sam();
                    let mid = c.plus(Rat::new(1, 2)).plus(ctx.rand_shift);
                    let r = time_to_rand(mid.to_f64());
                    if *below {
                        1.0 - r > 1.0 - amount
                    } else {
                        r > *amount
                    }
                })
                .collect(),
            Tf::Chunk { n, on, off } => {
                let mut out = Vec::new();
                for s in span.cycles() {
                    let sam = s.b.sam();
                    let k = sam.num.rem_euclid(*n);
                    for j in 0..*n {
                        let step =
                            Span::new(sam.plus(Rat::new(j, *n)), sam.plus(Rat::new(j + 1, *n)));
                        let Some(part) = step.intersect(s) else {
                            continue;
                        };
                        let pat = if j == k { on } else { off };
                        out.extend(pat.query(part, ctx));
                    }
                }
                out
            }
            Tf::WhenMod { a, b, on, off } => {
                let mut out = Vec::new();
                for s in span.cycles() {
                    let pat = if s.b.sam().num.rem_euclid(*a) >= *b {
                        on
                    } else {
                        off
                    };
                    out.extend(pat.query(s, ctx));
                }
                out
            }
        }
    }
}

// Event bounds. A pattern's `bound` is the most haps a query of (part of) one cycle returns.
// Each transform's bound is the worst case of that transform given only its input's bound,
// so chains grow by what each step can really add, not by a product of safety factors.

/// How many cycles of `pure(v).fast(f)` one focused hap of `ply(f)` can touch: the focus
/// may start anywhere in a cycle, so at most `ceil(f) + 1`.
fn cycles_touched(f: Rat) -> u64 {
    (f.num.max(0) as u64).div_ceil(f.den.max(1) as u64) + 1
}

/// How many cycles of the inner pattern one outer cycle touches after `fast(p/q)`: the outer
/// cycle `c` is the inner span `cp/q .. (c+1)p/q`, which starts `r/q` into a cycle for some
/// `r < q`, so the most is `ceil((q - 1 + p) / q)` (`p` when `q = 1`, `1` when slowed by a whole
/// number, `2` for 1.5).
fn fast_cycles(f: Rat) -> u64 {
    let (p, q) = (f.num.max(0) as u64, f.den.max(1) as u64);
    (q - 1 + p).div_ceil(q)
}

/// A shift by `t` keeps one cycle in one cycle when `t` is whole, else spreads it over two.
fn shift_bound(bound: u64, t: Rat) -> u64 {
    if t.is_int() {
        bound
    } else {
        bound.saturating_mul(2)
    }
}

/// A positive exact factor from a script number (`fast(1.5)`, `ply(2)`).
fn factor(what: &'static str, x: f64) -> Result<Rat, TransformError> {
    match exact(x) {
        Some(r) if r.num > 0 && r.den <= 1_000_000 && r.num <= 1_000_000 => Ok(r),
        _ => bad(what, format!("needs a number above 0, got {x}")),
    }
}

/// An exact fraction for a script number: small denominators first, so `1/3` (0.333…) is a
/// third, as Strudel's Fraction reads it.
fn exact(x: f64) -> Option<Rat> {
    if x.is_finite() && x.abs() < 1e9 {
        for den in 1..=1000i64 {
            let num = (x * den as f64).round();
            if (num / den as f64 - x).abs() < 1e-9 {
                return Some(Rat::new(num as i64, den));
            }
        }
    }
    Rat::from_f64(x)
}

fn time(what: &'static str, x: f64) -> Result<Rat, TransformError> {
    match exact(x) {
        Some(r) if r.den <= 1_000_000 && r.num.abs() <= 1_000_000_000 => Ok(r),
        _ => bad(what, format!("needs a time in cycles, got {x}")),
    }
}

fn count(what: &'static str, n: i64, lo: i64, hi: i64) -> Result<i64, TransformError> {
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        bad(what, format!("needs a whole number {lo}..{hi}, got {n}"))
    }
}

fn prob(what: &'static str, x: f64) -> Result<f64, TransformError> {
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        bad(what, format!("needs a chance 0..1, got {x}"))
    }
}

impl Pattern {
    fn wrap(&self, what: &'static str, pat: Pat, bound: u64) -> Result<Pattern, TransformError> {
        if bound > MAX_HITS as u64 {
            return Err(TransformError::TooMany(what));
        }
        Ok(Pattern {
            pat,
            atoms: self.atoms.clone(),
            source: format!("{}.{what}(…)", self.source),
            bound,
        })
    }

    fn tf(&self, what: &'static str, tf: Tf, bound: u64) -> Result<Pattern, TransformError> {
        self.wrap(what, Pat::Transform(Box::new(tf)), bound)
    }

    /// Joins this pattern with others (their atoms too, for the voice's checks).
    fn joined(
        &self,
        others: &[&Pattern],
        what: &'static str,
        pat: Pat,
        bound: u64,
    ) -> Result<Pattern, TransformError> {
        let mut p = self.wrap(what, pat, bound)?;
        for o in others {
            p.atoms.extend(o.atoms.iter().cloned());
        }
        Ok(p)
    }

    pub fn fast(&self, x: f64) -> Result<Pattern, TransformError> {
        if x == 0.0 {
            return self.wrap("fast", Pat::Silence, 0);
        }
        let f = factor("fast", x)?;
        let b = self.bound.saturating_mul(fast_cycles(f));
        self.wrap("fast", Pat::Fast(f, Box::new(self.pat.clone())), b)
    }

    pub fn slow(&self, x: f64) -> Result<Pattern, TransformError> {
        if x == 0.0 {
            return self.wrap("slow", Pat::Silence, 0);
        }
        let f = Rat::ONE.over(factor("slow", x)?);
        let b = self.bound.saturating_mul(fast_cycles(f));
        self.wrap("slow", Pat::Fast(f, Box::new(self.pat.clone())), b)
    }

    pub fn early(&self, t: f64) -> Result<Pattern, TransformError> {
        let t = time("early", t)?;
        self.tf(
            "early",
            Tf::Early(t, self.pat.clone()),
            shift_bound(self.bound, t),
        )
    }

    pub fn late(&self, t: f64) -> Result<Pattern, TransformError> {
        let t = time("late", t)?;
        self.tf(
            "late",
            Tf::Early(Rat::ZERO.minus(t), self.pat.clone()),
            shift_bound(self.bound, t),
        )
    }

    pub fn rev(&self) -> Result<Pattern, TransformError> {
        self.tf("rev", Tf::Rev(self.pat.clone()), self.bound)
    }

    /// `iter(n)`: cycle `c` starts `c mod n` n-ths later into the pattern.
    pub fn iter(&self, n: i64) -> Result<Pattern, TransformError> {
        let n = count("iter", n, 1, 64)?;
        let pats = (0..n)
            .map(|i| Pat::Transform(Box::new(Tf::Early(Rat::new(i, n), self.pat.clone()))))
            .collect();
        // One shifted copy plays per cycle: the largest shift's bound.
        let b = if n > 1 {
            shift_bound(self.bound, Rat::new(1, n))
        } else {
            self.bound
        };
        self.wrap("iter", Pat::Slowcat(pats), b)
    }

    pub fn palindrome(&self) -> Result<Pattern, TransformError> {
        let rev = Pat::Transform(Box::new(Tf::Rev(self.pat.clone())));
        self.tf(
            "palindrome",
            Tf::Alternate(vec![self.pat.clone(), rev]),
            self.bound,
        )
    }

    /// `firstOf(n, f)` (and `every`): cycles `0, n, 2n, …` play `f(pattern)`.
    pub fn first_of(&self, n: i64, f: &Pattern) -> Result<Pattern, TransformError> {
        let n = count("firstOf", n, 1, 1024)?;
        let mut pats = vec![f.pat.clone()];
        pats.extend(std::iter::repeat_n(self.pat.clone(), n as usize - 1));
        let b = self.bound.max(f.bound);
        self.joined(
            &[f],
            "firstOf",
            Pat::Transform(Box::new(Tf::Alternate(pats))),
            b,
        )
    }

    /// `lastOf(n, f)`: cycles `n-1, 2n-1, …` play `f(pattern)`.
    pub fn last_of(&self, n: i64, f: &Pattern) -> Result<Pattern, TransformError> {
        let n = count("lastOf", n, 1, 1024)?;
        let mut pats: Vec<Pat> = std::iter::repeat_n(self.pat.clone(), n as usize - 1).collect();
        pats.push(f.pat.clone());
        let b = self.bound.max(f.bound);
        self.joined(
            &[f],
            "lastOf",
            Pat::Transform(Box::new(Tf::Alternate(pats))),
            b,
        )
    }

    pub fn ply(&self, x: f64) -> Result<Pattern, TransformError> {
        let f = factor("ply", x)?;
        let b = self.bound.saturating_mul(cycles_touched(f));
        self.tf("ply", Tf::Ply(f, self.pat.clone()), b)
    }

    /// `stack(pattern, others…)`: what `off`, `superimpose`, `echo` and `sometimes` build.
    pub fn stack_with(
        &self,
        others: &[&Pattern],
        what: &'static str,
    ) -> Result<Pattern, TransformError> {
        let mut pats = vec![self.pat.clone()];
        let mut b = self.bound;
        for o in others {
            pats.push(o.pat.clone());
            b = b.saturating_add(o.bound);
        }
        self.joined(others, what, Pat::Stack(pats), b)
    }

    /// `echo(times, time, feedback)`: `times` copies, each `time` later (weft has no
    /// per-event gain yet, so `feedback` only has to be 0..1).
    pub fn echo(&self, times: i64, t: f64, feedback: f64) -> Result<Pattern, TransformError> {
        let times = count("echo", times, 1, 64)?;
        prob("echo feedback", feedback)?;
        let t = time("echo", t)?;
        let pats = (0..times)
            .map(|i| {
                if i == 0 {
                    self.pat.clone()
                } else {
                    Pat::Transform(Box::new(Tf::Early(
                        Rat::ZERO.minus(t.times(Rat::int(i))),
                        self.pat.clone(),
                    )))
                }
            })
            .collect();
        let b = (0..times).fold(0u64, |b, i| {
            b.saturating_add(shift_bound(self.bound, t.times(Rat::int(i))))
        });
        self.wrap("echo", Pat::Stack(pats), b)
    }

    /// `struct(mask)`: the mask's truthy events with this pattern's values.
    pub fn struct_by(&self, mask: &Pattern) -> Result<Pattern, TransformError> {
        // Each mask hap (its part inside the cycle) takes the haps of this pattern it overlaps.
        let b = mask.bound.saturating_mul(self.bound);
        self.tf("struct", Tf::Struct(mask.pat.clone(), self.pat.clone()), b)
    }

    /// `mask(m)`: this pattern's events where `m` is truthy.
    pub fn mask(&self, mask: &Pattern) -> Result<Pattern, TransformError> {
        let b = self.bound.saturating_mul(mask.bound.max(1));
        self.tf("mask", Tf::Mask(mask.pat.clone(), self.pat.clone()), b)
    }

    pub fn euclid(&self, pulses: i64, steps: i64, rot: i64) -> Result<Pattern, TransformError> {
        let steps = count("euclid", steps, 0, 256)?;
        let pulses = count("euclid", pulses, -steps, steps)?;
        let num = |x: i64| Box::new(Pat::Pure(Value::Num(x as f64)));
        let pat = Pat::Euclid {
            pulses: num(pulses),
            steps: num(steps),
            rot: (rot != 0).then(|| num(rot)),
            pat: Box::new(self.pat.clone()),
        };
        // Each onset step (inside the cycle) takes the haps it overlaps.
        let onsets = super::pat::bjork(pulses, steps)
            .iter()
            .filter(|x| **x)
            .count();
        let b = self.bound.saturating_mul(onsets as u64);
        self.wrap("euclid", pat, b)
    }

    /// `euclidLegato(k, n)`: Euclid's onsets, each held until the next.
    pub fn euclid_legato(&self, pulses: i64, steps: i64) -> Result<Pattern, TransformError> {
        let steps = count("euclidLegato", steps, 0, 256)?;
        let pulses = count("euclidLegato", pulses, -steps, steps)?;
        if pulses < 1 {
            return self.wrap("euclidLegato", Pat::Silence, 0);
        }
        // Strudel: the gaps after each onset, as `timecat` weights (a leading gap is dropped).
        let bits: String = super::pat::bjork(pulses, steps)
            .iter()
            .map(|b| if *b { '1' } else { '0' })
            .collect();
        let weights: Vec<i64> = bits
            .split('1')
            .skip(1)
            .map(|s| s.len() as i64 + 1)
            .collect();
        let total: i64 = weights.iter().sum();
        let mut at = 0;
        let spans = weights
            .iter()
            .map(|w| {
                let s = (Rat::new(at, total), Rat::new(at + w, total));
                at += w;
                s
            })
            .collect::<Vec<_>>();
        let b = self.bound.saturating_mul(spans.len() as u64);
        self.tf("euclidLegato", Tf::Steps(spans, self.pat.clone()), b)
    }

    /// `segment(n)`: `n` events per cycle sampling this pattern.
    pub fn segment(&self, n: i64) -> Result<Pattern, TransformError> {
        let n = count("segment", n, 1, 256)?;
        let spans = (0..n)
            .map(|k| (Rat::new(k, n), Rat::new(k + 1, n)))
            .collect();
        let b = self.bound.saturating_mul(n as u64);
        self.tf("segment", Tf::Steps(spans, self.pat.clone()), b)
    }

    pub fn add(&self, x: f64) -> Result<Pattern, TransformError> {
        self.tf(
            "add",
            Tf::Map(ValueOp::Add(x), self.pat.clone()),
            self.bound,
        )
    }

    pub fn sub(&self, x: f64) -> Result<Pattern, TransformError> {
        self.tf(
            "sub",
            Tf::Map(ValueOp::Add(-x), self.pat.clone()),
            self.bound,
        )
    }

    /// `range(min, max)`: numbers `x` become `x * (max - min) + min`.
    pub fn range(&self, min: f64, max: f64) -> Result<Pattern, TransformError> {
        let mul = Pat::Transform(Box::new(Tf::Map(ValueOp::Mul(max - min), self.pat.clone())));
        self.tf("range", Tf::Map(ValueOp::Add(min), mul), self.bound)
    }

    pub fn degrade_by(&self, x: f64) -> Result<Pattern, TransformError> {
        let amount = prob("degradeBy", x)?;
        let pat = Pat::Degrade {
            amount,
            seed: 0,
            pat: Box::new(self.pat.clone()),
        };
        self.wrap("degradeBy", pat, self.bound)
    }

    /// The two halves of `sometimesBy(x, f)`: the events kept as they are (`rand >= x`) and
    /// the ones `f` is applied to (`rand < x`); the caller stacks the first with `f(second)`.
    pub fn sometimes_split(&self, x: f64) -> Result<(Pattern, Pattern), TransformError> {
        let x = prob("sometimesBy", x)?;
        let kept = self.degrade_by(x)?;
        let chosen = self.tf(
            "sometimesBy",
            Tf::Undegrade(x, self.pat.clone()),
            self.bound,
        )?;
        Ok((kept, chosen))
    }

    /// The halves of `someCyclesBy(x, f)`, whole cycles at a time.
    pub fn some_cycles_split(&self, x: f64) -> Result<(Pattern, Pattern), TransformError> {
        let x = prob("someCyclesBy", x)?;
        let half = |below| Tf::CycleDegrade {
            amount: x,
            below,
            pat: self.pat.clone(),
        };
        Ok((
            self.tf("someCyclesBy", half(false), self.bound)?,
            self.tf("someCyclesBy", half(true), self.bound)?,
        ))
    }

    /// `chunk(n, f)` part one: the pattern each cycle is cut from (`repeatCycles(n)`); the
    /// caller applies `f` to it and passes both to [`Pattern::chunk_with`].
    pub fn chunk_source(&self, n: i64) -> Result<Pattern, TransformError> {
        let n = count("chunk", n, 1, 64)?;
        self.wrap(
            "chunk",
            Pat::RepeatCycles(Rat::int(n), Box::new(self.pat.clone())),
            self.bound,
        )
    }

    /// `chunk(n, f)`: `self` is `chunk_source(n)`, `on` is `f(self)`.
    pub fn chunk_with(&self, n: i64, on: &Pattern) -> Result<Pattern, TransformError> {
        let n = count("chunk", n, 1, 64)?;
        let tf = Tf::Chunk {
            n,
            on: on.pat.clone(),
            off: self.pat.clone(),
        };
        let b = self.bound.saturating_add(on.bound);
        self.joined(&[on], "chunk", Pat::Transform(Box::new(tf)), b)
    }

    /// Tidal's `whenmod(a, b, f)`: `on` (= `f(self)`) in cycles with `c mod a >= b`.
    pub fn when_mod(&self, a: i64, b: i64, on: &Pattern) -> Result<Pattern, TransformError> {
        let a = count("whenmod", a, 1, 1024)?;
        let b = count("whenmod", b, 0, 1024)?;
        let tf = Tf::WhenMod {
            a,
            b,
            on: on.pat.clone(),
            off: self.pat.clone(),
        };
        let bound = self.bound.max(on.bound);
        self.joined(&[on], "whenmod", Pat::Transform(Box::new(tf)), bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(p: &Pattern, cycles: i64) -> String {
        p.events(Rat::ZERO, Rat::int(cycles))
            .iter()
            .map(|e| format!("{}-{}:{}", e.begin, e.end, e.value))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).unwrap()
    }

    #[test]
    fn strudel_examples_checked_by_hand() {
        // Printed by Strudel 1.1.0 (`mini(..).<transform>.queryArc(0, n)`, onsets).
        assert_eq!(show(&p("0 1").add(7.0).unwrap(), 1), "0/1-1/2:7 1/2-1/1:8");
        let c = p("a b c");
        let src = c.chunk_source(3).unwrap();
        let ch = src.chunk_with(3, &src.fast(2.0).unwrap()).unwrap();
        assert_eq!(show(&ch, 1), "0/1-1/6:a 1/6-1/3:b 1/3-2/3:b 2/3-1/1:c");
        let s = p("a b").struct_by(&p("x ~ x x")).unwrap();
        assert_eq!(show(&s, 1), "0/1-1/4:a 1/2-3/4:b 3/4-1/1:b");
        assert_eq!(
            show(&p("a b").euclid_legato(3, 8).unwrap(), 1),
            "0/1-3/8:a 3/8-3/4:a 3/4-1/1:b"
        );
    }

    #[test]
    fn rev_ply_and_whenmod() {
        assert_eq!(
            show(&p("a b c").rev().unwrap(), 1),
            "0/1-1/3:c 1/3-2/3:b 2/3-1/1:a"
        );
        assert_eq!(
            show(&p("a b").ply(2.0).unwrap(), 1),
            "0/1-1/4:a 1/4-1/2:a 1/2-3/4:b 3/4-1/1:b"
        );
        let w = p("a").when_mod(4, 2, &p("a").fast(2.0).unwrap()).unwrap();
        let per_cycle: Vec<usize> = (0..8).map(|c| w.query(c).len()).collect();
        assert_eq!(per_cycle, [1, 1, 2, 2, 1, 1, 2, 2]);
    }

    fn sorted(p: &Pattern, cycles: i64) -> Vec<String> {
        let mut v: Vec<String> = show(p, cycles).split(' ').map(String::from).collect();
        v.sort();
        v
    }

    fn strudel(s: &str) -> Vec<String> {
        let mut v: Vec<String> = s.split(' ').map(String::from).collect();
        v.sort();
        v
    }

    #[test]
    fn first_and_last_of_are_silent_where_javascripts_remainder_is_negative() {
        // Strudel's slowcatPrime picks `pats[Math.floor(begin) % n]`: cycle -1 of `lastOf(2, f)`
        // is `pats[-1]` (nothing) and cycle -2 is `pats[-0]` (the first). Printed by Strudel
        // 1.1.0: `mini("a b").lastOf(2, x => x.fast(2)).late(1.5).queryArc(0, 3)` (onsets).
        let ab = p("a b");
        let last = ab.last_of(2, &ab.fast(2.0).unwrap()).unwrap();
        assert_eq!(
            sorted(&last.late(1.5).unwrap(), 3),
            strudel("0/1-1/2:b 3/2-2/1:a 2/1-5/2:b 5/2-11/4:a 11/4-3/1:b")
        );
        let first = ab.first_of(3, &ab.rev().unwrap()).unwrap();
        assert_eq!(
            sorted(&first.early(-2.5).unwrap(), 3),
            strudel("0/1-1/2:a 5/2-3/1:b")
        );
        // palindrome is lastOf(2, rev).
        assert_eq!(
            sorted(&p("a b c").palindrome().unwrap().late(0.25).unwrap(), 2),
            strudel("1/4-7/12:a 7/12-11/12:b 11/12-5/4:c 5/4-19/12:c 19/12-23/12:b 23/12-9/4:a")
        );
    }

    #[test]
    fn ply_focuses_each_event_as_strudels_squeeze_join() {
        // `focus` aligns the inner cycle with `cyclePos(begin)`, not with the event's begin:
        // with a fractional factor the first copy of `c` (whole 0..1/3) is cut at 2/9.
        // Strudel 1.1.0: `mini("a@2 b, c d e").ply(1.5).queryArc(0, 1)`.
        assert_eq!(
            sorted(&p("a@2 b, c d e").ply(1.5).unwrap(), 1),
            strudel(
                "0/1-4/9:a 0/1-2/9:c 2/9-1/3:c 1/3-5/9:d 4/9-2/3:a 5/9-2/3:d 2/3-8/9:b \
                 2/3-8/9:e 8/9-1/1:b 8/9-1/1:e"
            )
        );
    }

    #[test]
    fn bounds_are_each_transforms_own_worst_case() {
        let b = |p: Result<Pattern, TransformError>| p.unwrap().bound;
        let ab = p("a b");
        assert_eq!(ab.bound, 2);
        // fast(1.5): one cycle is 1.5 inner cycles starting at 0 or 1/2: at most two cycles.
        assert_eq!(b(ab.fast(1.5)), 4);
        assert_eq!(b(ab.fast(3.0)), 6);
        assert_eq!(b(ab.slow(2.0)), 2);
        // A whole-cycle shift stays in one cycle; any other spreads over two.
        assert_eq!(b(ab.late(1.0)), 2);
        assert_eq!(b(ab.late(0.25)), 4);
        assert_eq!(b(ab.echo(3, 1.0, 0.5)), 6);
        assert_eq!(b(ab.echo(3, 0.5, 0.5)), 2 + 4 + 2);
        // Only euclid's onset steps query the pattern; segment's steps each query it once.
        assert_eq!(b(ab.euclid(3, 8, 0)), 6);
        assert_eq!(b(ab.segment(4)), 8);
        assert_eq!(b(ab.struct_by(&p("x ~ x x"))), 8);
        // A chain that multiplied past the cap before (Strudel plays 48 events in 8 cycles).
        let long = p("<3> 2 5 3(2,5)")
            .struct_by(&p("1 [1 0] 1 ~"))
            .and_then(|x| x.euclid(5, 8, 0))
            .and_then(|x| {
                let on = x.late(0.125)?;
                x.stack_with(&[&on], "superimpose")
            });
        assert!(long.is_ok(), "{long:?}");
    }

    /// The chains the bound must hold for: a transform and its arguments.
    fn step(p: &Pattern, op: u8, k: u8) -> Result<Pattern, TransformError> {
        let small = [1.5, 2.0, 0.5, 3.0, 0.75, 4.0][k as usize % 6];
        let t = [0.25, 1.0 / 3.0, 1.5, 2.0, 0.125, 0.5][k as usize % 6];
        let n = 2 + (k as i64 % 3);
        match op % 17 {
            0 => p.fast(small),
            1 => p.slow(small),
            2 => p.early(t),
            3 => p.late(t),
            4 => p.rev(),
            5 => p.iter(n),
            6 => p.palindrome(),
            7 => p.ply(small),
            8 => p.echo(n, t, 0.5),
            9 => p.struct_by(
                &Pattern::parse(["x ~ x x", "<1 [0 1]>", "x(3,8)"][k as usize % 3]).unwrap(),
            ),
            10 => p.mask(&Pattern::parse(["1 [1 0] 1 ~", "<x ~> x"][k as usize % 2]).unwrap()),
            11 => p.euclid(n + 1, 8, k as i64 % 3),
            12 => p.euclid_legato(n, 8),
            13 => p.segment([1, 2, 4, 8][k as usize % 4]),
            14 => {
                let src = p.chunk_source(n)?;
                src.chunk_with(n, &src.fast(2.0)?)
            }
            15 => p.last_of(n, &p.late(t)?),
            _ => {
                let (kept, chosen) = p.sometimes_split(0.5)?;
                kept.stack_with(&[&chosen.add(100.0)?], "sometimesBy")
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Soundness: no query of (part of) one cycle returns more haps than the bound says.
        #[test]
        fn bounds_hold_for_random_chains(
            base in proptest::sample::select(vec![
                "a b c", "a*3 [b c]/2", "<a b*2> c(3,8)", "a@3 b?", "[a, b c d]",
                "a/1.5 b", "{a b c}%4", "0 .. 3", "a b . c*1.5", "<a [b c]>/3",
            ]),
            ops in proptest::collection::vec((0u8..17, 0u8..12), 1..5),
            far in 0i64..1_000_000,
            cut in (0i64..8, 1i64..=8),
        ) {
            let mut pat = p(base);
            for (op, k) in ops {
                match step(&pat, op, k) {
                    Ok(next) => pat = next,
                    Err(TransformError::TooMany(_)) => return Ok(()),
                    Err(e) => panic!("{e}"),
                }
            }
            for c in [0, 1, 2, 3, 5, far] {
                let c = Rat::int(c);
                let (a, b) = (cut.0.min(cut.1 - 1), cut.1);
                for span in [
                    Span::new(c, c.plus(Rat::ONE)),
                    Span::new(c.plus(Rat::new(a, 8)), c.plus(Rat::new(b, 8))),
                ] {
                    let mut ctx = QueryCtx { rand_shift: Rat::ZERO, budget: super::super::QUERY_BUDGET };
                    let n = pat.pat.query(span, &mut ctx).len() as u64;
                    proptest::prop_assert!(n <= pat.bound, "{} haps > bound {} in {:?} of {}", n, pat.bound, span, pat.source);
                }
            }
        }
    }

    #[test]
    fn transforms_refuse_explosions_and_bad_arguments() {
        let big = p("x*64*64");
        assert!(matches!(
            big.fast(2.0),
            Err(TransformError::TooMany("fast"))
        ));
        assert!(matches!(big.ply(3.0), Err(TransformError::TooMany("ply"))));
        assert!(p("x").fast(-1.0).is_err());
        assert!(p("x").degrade_by(1.5).is_err());
        assert!(p("x").iter(0).is_err());
    }
}
