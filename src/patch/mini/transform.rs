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

#[path = "transform_args.rs"]
mod args;
#[path = "transform_bounds.rs"]
mod bounds;
#[path = "transform_harmony.rs"]
mod harmony;
use bounds::{count, cycles_touched, factor, fast_cycles, prob, shift_bound, time};
use harmony::Harm;

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
    /// Every event's gain set (`echo`/`stut`'s copy `i` plays at `feedback^i`; as Strudel's
    /// `gain` control it replaces the gain an inner `echo` gave, it does not multiply).
    Gain(f64, Pat),
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
    /// Scale degrees, chord voicings and arpeggios (`transform_harmony.rs`).
    Harmony(Box<Harm>),
    /// A patterned argument (`fast("<2 3>")`, `off("<0.25 0.5>", f)`): the inner join over
    /// `arg`, each of its events playing the table's pattern for its value
    /// (`transform_args.rs`).
    Pick {
        arg: Pat,
        table: Vec<(f64, Pat)>,
    },
    /// A signal probability (`degradeBy(sine)`), read per event (`transform_args.rs`).
    SigChance(args::SigChance),
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
        gain: h.gain,
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
                        gain: h.gain,
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
            Tf::Gain(g, pat) => pat
                .query(span, ctx)
                .into_iter()
                .map(|h| Hap { gain: *g, ..h })
                .collect(),
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
            Tf::Harmony(h) => h.query(span, ctx),
            Tf::Pick { arg, table } => args::pick(arg, table, span, ctx),
            Tf::SigChance(c) => c.query(span, ctx),
        }
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

    /// `echo(times, time, feedback)`: `times` copies, copy `i` `i × time` later at gain
    /// `feedback^i` (as Strudel's `echo` sets its copies' `gain`).
    pub fn echo(&self, times: i64, t: f64, feedback: f64) -> Result<Pattern, TransformError> {
        let times = count("echo", times, 1, 64)?;
        prob("echo feedback", feedback)?;
        let t = time("echo", t)?;
        let pats = (0..times)
            .map(|i| {
                let copy = if i == 0 {
                    self.pat.clone()
                } else {
                    Pat::Transform(Box::new(Tf::Early(
                        Rat::ZERO.minus(t.times(Rat::int(i))),
                        self.pat.clone(),
                    )))
                };
                // Copy 0 too: Strudel sets `gain(1)` on it, replacing an inner echo's gain.
                Pat::Transform(Box::new(Tf::Gain(feedback.powi(i as i32), copy)))
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
#[path = "transform_tests.rs"]
mod tests;
