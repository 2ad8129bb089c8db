//! The pattern engine behind the mini-notation: Strudel's combinators (`pure`, `stack`,
//! `slowcat`, `fast`, `compress`, `repeatCycles`, `struct` by Bjorklund, `degradeBy`,
//! `chooseInWith`, `appLeft`, `squeezeJoin`) over exact rational time.
//!
//! A query for a time span returns "haps": a value with its `whole` (the event's full span)
//! and `part` (the fragment inside the query). Only haps whose part starts at the whole's
//! start are onsets; the caller keeps those. The joins follow Strudel 1.1.0 line by line so
//! that begin, end and value agree exactly; randomness uses Strudel's xorshift on the hap's
//! time, shifted by weft's seed (seed 0 is Strudel's own stream).

use super::rat::Rat;
use super::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub b: Rat,
    pub e: Rat,
}

impl Span {
    pub fn new(b: Rat, e: Rat) -> Span {
        Span { b, e }
    }
    pub(super) fn with(self, f: impl Fn(Rat) -> Rat) -> Span {
        Span::new(f(self.b), f(self.e))
    }
    /// Strudel's `spanCycles`: the span cut at cycle boundaries (a zero-width span stays).
    pub(super) fn cycles(self) -> Vec<Span> {
        if self.b == self.e {
            return vec![self];
        }
        let mut out = Vec::new();
        let mut b = self.b;
        let end_sam = self.e.sam();
        while self.e > b {
            if b.sam() == end_sam {
                out.push(Span::new(b, self.e));
                break;
            }
            let next = b.sam().plus(Rat::ONE);
            out.push(Span::new(b, next));
            b = next;
        }
        out
    }
    /// Strudel's `TimeSpan.intersection` (zero-width results only where they touch no end).
    pub(super) fn intersect(self, o: Span) -> Option<Span> {
        let b = self.b.max(o.b);
        let e = self.e.min(o.e);
        if b > e {
            return None;
        }
        if b == e {
            if b == self.e && self.b < self.e {
                return None;
            }
            if b == o.e && o.b < o.e {
                return None;
            }
        }
        Some(Span::new(b, e))
    }
    pub(super) fn midpoint(self) -> Rat {
        self.b.plus(self.e.minus(self.b).over(Rat::int(2)))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Hap {
    pub whole: Span,
    pub part: Span,
    pub value: Value,
    /// Strudel's `gain` control as `echo`/`stut` set it on their copies (1 = as written);
    /// the planner scales the note's velocity so its amplitude follows.
    pub gain: f64,
}

impl Hap {
    pub fn has_onset(&self) -> bool {
        self.whole.b == self.part.b
    }
    pub(super) fn map_time(self, f: impl Fn(Rat) -> Rat) -> Hap {
        Hap {
            whole: self.whole.with(&f),
            part: self.part.with(&f),
            value: self.value,
            gain: self.gain,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Pat {
    Silence,
    Pure(Value),
    Stack(Vec<Pat>),
    /// One child per cycle, Strudel's `slowcat` (no cycle of a child is skipped).
    Slowcat(Vec<Pat>),
    /// `_fast(f)` with a constant factor > 0.
    Fast(Rat, Box<Pat>),
    /// `fast`/`slow` by a pattern of numbers (inner join); each value is divided by `div`.
    FastBy {
        factor: Box<Pat>,
        slow: bool,
        div: Rat,
        pat: Box<Pat>,
    },
    /// `_compress(b, e)`: each cycle squeezed into `b..e` of the cycle.
    Compress(Rat, Rat, Box<Pat>),
    /// `_repeatCycles(n)`.
    RepeatCycles(Rat, Box<Pat>),
    /// `euclid`/`euclidRot` with patterned arguments.
    Euclid {
        pulses: Box<Pat>,
        steps: Box<Pat>,
        rot: Option<Box<Pat>>,
        pat: Box<Pat>,
    },
    /// `?amount`: drops haps whose random value is not above `amount`.
    Degrade {
        amount: f64,
        seed: u32,
        pat: Box<Pat>,
    },
    /// `a | b | c`: one child per cycle at random.
    Choose {
        seed: u32,
        pats: Vec<Pat>,
    },
    /// `a:b`: values paired with the friend's value, structure from the left.
    Tail(Box<Pat>, Box<Pat>),
    /// `a .. b`: the numbers from a to b squeezed into each event.
    Range(Box<Pat>, Box<Pat>),
    /// A transform applied by a voice method (`rev`, `ply`, `struct`, …; see `transform.rs`).
    Transform(Box<super::transform::Tf>),
    /// A pattern with one period of its cycles stored (`cycles.rs`).
    Cached(Box<super::cycles::CycleCache>),
}

/// What one query carries down the pattern tree: the random stream's shift and a work budget
/// (a safety net behind the parser's static bound).
pub(crate) struct QueryCtx {
    /// Shift of the random stream in cycles (0 = Strudel's stream).
    pub rand_shift: Rat,
    pub budget: usize,
}

impl QueryCtx {
    fn spend(&mut self, n: usize) -> bool {
        if self.budget < n {
            self.budget = 0;
            false
        } else {
            self.budget -= n;
            true
        }
    }
}

/// Strudel's `timeToRand`: xorshift of the time stretched over 300 cycles.
pub(crate) fn time_to_rand(t: f64) -> f64 {
    let x = t / 300.0;
    let frac = x - x.trunc();
    let seed = (frac * 536_870_912.0).trunc() as i64 as i32;
    let a = seed.wrapping_shl(13) ^ seed;
    let b = (a >> 17) ^ a;
    let c = b.wrapping_shl(5) ^ b;
    ((c % 536_870_912) as f64 / 536_870_912.0).abs()
}

/// `rand.early(0.0003 * seed)` sampled over `span` (a signal is read at its midpoint).
pub(super) fn rand_over(span: Span, seed: u32, ctx: &QueryCtx) -> f64 {
    let off = Rat::new(3 * seed as i64, 10_000).plus(ctx.rand_shift);
    time_to_rand(span.midpoint().plus(off).to_f64())
}

/// Strudel's Bjorklund (`bjork`), negative pulses invert.
pub(crate) fn bjork(ons: i64, steps: i64) -> Vec<bool> {
    let inverted = ons < 0;
    let ons = ons.unsigned_abs() as usize;
    let steps = steps.max(0) as usize;
    if ons > steps {
        return Vec::new();
    }
    let p = crate::patch::theory::bjorklund(ons, steps);
    if inverted {
        p.into_iter().map(|x| !x).collect()
    } else {
        p
    }
}

/// Strudel's `_euclidRot` (`rotate(b, -rotation)` with JS `slice` semantics).
fn euclid_rot(pulses: i64, steps: i64, rot: i64) -> Vec<bool> {
    let b = bjork(pulses, steps);
    if rot == 0 {
        return b;
    }
    let len = b.len() as i64;
    let n = -rot;
    let s = if n < 0 { (len + n).max(0) } else { n.min(len) } as usize;
    let mut out = b[s..].to_vec();
    out.extend_from_slice(&b[..s]);
    out
}

pub(super) fn num_of(v: &Value) -> Option<f64> {
    match v {
        Value::Num(x) => Some(*x),
        _ => None,
    }
}

/// The cycles of a span, as `Span::cycles` gives them, without a `Vec`.
pub(super) struct CycleIter {
    b: Rat,
    e: Rat,
    /// A zero-width span yields itself once.
    zero: bool,
    done: bool,
}

impl Iterator for CycleIter {
    type Item = Span;
    #[inline]
    fn next(&mut self) -> Option<Span> {
        if self.done {
            return None;
        }
        if self.zero {
            self.done = true;
            return Some(Span::new(self.b, self.e));
        }
        if self.e <= self.b {
            self.done = true;
            return None;
        }
        let next = self.b.sam().plus(Rat::ONE);
        if next >= self.e {
            self.done = true;
            return Some(Span::new(self.b, self.e));
        }
        let s = Span::new(self.b, next);
        self.b = next;
        Some(s)
    }
}

impl Span {
    /// `cycles()` as an iterator (no allocation).
    #[inline]
    pub(super) fn cycle_iter(self) -> CycleIter {
        CycleIter {
            b: self.b,
            e: self.e,
            zero: self.b == self.e,
            done: false,
        }
    }
}

impl Hap {
    /// `map_time` in place.
    #[inline]
    fn map_time_mut(&mut self, f: impl Fn(Rat) -> Rat) {
        self.whole = self.whole.with(&f);
        self.part = self.part.with(&f);
    }
}

/// Maps the times of the haps a child appended to `out` from position `from` on.
#[inline]
fn map_tail(out: &mut [Hap], from: usize, f: impl Fn(Rat) -> Rat) {
    for h in &mut out[from..] {
        h.map_time_mut(&f);
    }
}

/// Keeps the haps from position `from` on that pass `keep`, in order.
#[inline]
fn retain_tail(out: &mut Vec<Hap>, from: usize, mut keep: impl FnMut(&Hap) -> bool) {
    let mut w = from;
    for r in from..out.len() {
        if keep(&out[r]) {
            out.swap(w, r);
            w += 1;
        }
    }
    out.truncate(w);
}

impl Pat {
    /// The haps of `span` (see [`Pat::query_into`]).
    pub fn query(&self, span: Span, ctx: &mut QueryCtx) -> Vec<Hap> {
        let mut out = Vec::new();
        self.query_into(span, ctx, &mut out);
        out
    }

    /// Appends the haps of `span` to `out`: the engine's core, which fills one buffer down
    /// the tree instead of returning a `Vec` per node. Each node's own haps are charged to
    /// the work budget; when it runs out, the node's haps are dropped.
    pub fn query_into(&self, span: Span, ctx: &mut QueryCtx, out: &mut Vec<Hap>) {
        if ctx.budget == 0 {
            return;
        }
        let from = out.len();
        self.query_inner(span, ctx, out);
        if !ctx.spend(out.len() - from) {
            out.truncate(from);
        }
    }

    fn query_inner(&self, span: Span, ctx: &mut QueryCtx, out: &mut Vec<Hap>) {
        match self {
            Pat::Silence => {}
            Pat::Pure(v) => {
                for s in span.cycle_iter() {
                    let sam = s.b.sam();
                    out.push(Hap {
                        whole: Span::new(sam, sam.plus(Rat::ONE)),
                        part: s,
                        value: v.clone(),
                        gain: 1.0,
                    });
                }
            }
            Pat::Stack(pats) => {
                for p in pats {
                    p.query_into(span, ctx, out);
                }
            }
            Pat::Slowcat(pats) => {
                if pats.is_empty() {
                    return;
                }
                let n = pats.len() as i64;
                for s in span.cycle_iter() {
                    let sam = s.b.sam();
                    let cyc = sam.num;
                    let pat = &pats[cyc.rem_euclid(n) as usize];
                    let offset = Rat::int(cyc - cyc.div_euclid(n));
                    let from = out.len();
                    pat.query_into(s.with(|t| t.minus(offset)), ctx, out);
                    if offset.num != 0 {
                        map_tail(out, from, |t| t.plus(offset));
                    }
                }
            }
            Pat::Fast(f, pat) => fast_into(*f, pat, span, ctx, out),
            Pat::FastBy {
                factor,
                slow,
                div,
                pat,
            } => {
                for outer in factor.query(span, ctx) {
                    let Some(x) = num_of(&outer.value).and_then(Rat::from_f64) else {
                        continue;
                    };
                    if x.num == 0 {
                        continue;
                    }
                    let f = if *slow {
                        Rat::ONE.over(x)
                    } else {
                        x.over(*div)
                    };
                    if f.num <= 0 {
                        continue;
                    }
                    fast_into(f, pat, outer.part, ctx, out);
                }
            }
            Pat::Compress(b, e, pat) => compress(*b, *e, pat, span, ctx, out),
            Pat::RepeatCycles(n, pat) => {
                for s in span.cycle_iter() {
                    let cycle = s.b.sam();
                    let source = cycle.over(*n).sam();
                    let delta = cycle.minus(source);
                    let from = out.len();
                    pat.query_into(s.with(|t| t.minus(delta)), ctx, out);
                    map_tail(out, from, |t| t.plus(delta));
                }
            }
            Pat::Euclid {
                pulses,
                steps,
                rot,
                pat,
            } => {
                // pulses.fmap(f).appLeft(steps).appLeft(rot), then innerJoin.
                for hp in pulses.query(span, ctx) {
                    for hs in steps.query(hp.whole, ctx) {
                        let Some(part) = hp.part.intersect(hs.part) else {
                            continue;
                        };
                        let rots = match rot {
                            Some(r) => r
                                .query(hp.whole, ctx)
                                .into_iter()
                                .filter_map(|hr| Some((part.intersect(hr.part)?, hr.value)))
                                .collect(),
                            None => vec![(part, Value::Num(0.0))],
                        };
                        for (part, rv) in rots {
                            let (Some(p), Some(s), Some(r)) =
                                (num_of(&hp.value), num_of(&hs.value), num_of(&rv))
                            else {
                                continue;
                            };
                            let bools = euclid_rot(p as i64, s as i64, r as i64);
                            structure_into(&bools, pat, part, ctx, out);
                        }
                    }
                }
            }
            Pat::Degrade { amount, seed, pat } => {
                let from = out.len();
                pat.query_into(span, ctx, out);
                retain_tail(out, from, |h| rand_over(h.whole, *seed, ctx) > *amount);
            }
            Pat::Choose { seed, pats } => {
                if pats.is_empty() {
                    return;
                }
                // rand.early(..).segment(1) → one value per cycle, read over the whole cycle.
                let n = pats.len();
                for s in span.cycle_iter() {
                    let sam = s.b.sam();
                    let whole = Span::new(sam, sam.plus(Rat::ONE));
                    let r = rand_over(whole, *seed, ctx) * n as f64;
                    let i = (r.floor().max(0.0) as usize).min(n - 1);
                    pats[i].query_into(s, ctx, out);
                }
            }
            Pat::Tail(pat, friend) => {
                for h in pat.query(span, ctx) {
                    for f in friend.query(h.whole, ctx) {
                        if let Some(part) = h.part.intersect(f.part) {
                            let value = match &h.value {
                                Value::List(xs) => {
                                    let mut xs = xs.clone();
                                    xs.push(f.value);
                                    Value::List(xs)
                                }
                                a => Value::List(vec![a.clone(), f.value]),
                            };
                            out.push(Hap {
                                whole: h.whole,
                                part,
                                value,
                                gain: h.gain,
                            });
                        }
                    }
                }
            }
            Pat::Transform(tf) => out.extend(tf.query(span, ctx)),
            Pat::Cached(c) => c.query_into(span, ctx, out),
            Pat::Range(pat, friend) => {
                // pat.squeezeBind(a => friend.bind(b => fastcat(a..b)))
                for outer in pat.query(span, ctx) {
                    let Some(a) = num_of(&outer.value) else {
                        continue;
                    };
                    let w = outer.whole;
                    let dur = w.e.minus(w.b);
                    if dur.num <= 0 {
                        continue;
                    }
                    // focus(w.b, w.e): fast(1/dur) then late(cyclePos(w.b)).
                    let shift = w.b.minus(w.b.sam());
                    let to_inner = |t: Rat| t.minus(shift).over(dur);
                    let from_inner = |t: Rat| t.times(dur).plus(shift);
                    let q = outer.part.with(to_inner);
                    for fb in friend.query(q, ctx) {
                        let Some(b) = num_of(&fb.value) else {
                            continue;
                        };
                        let items = array_range(a, b);
                        let seq = fastcat(items.into_iter().map(|x| Pat::Pure(Value::Num(x))));
                        for ih in seq.query(fb.part, ctx) {
                            // bind: whole = intersection of the friend's and the item's wholes.
                            let Some(iw) = fb.whole.intersect(ih.whole) else {
                                continue;
                            };
                            let ih = Hap {
                                whole: iw,
                                part: ih.part,
                                value: ih.value,
                                gain: ih.gain,
                            }
                            .map_time(from_inner);
                            let Some(whole) = ih.whole.intersect(outer.whole) else {
                                continue;
                            };
                            let Some(part) = ih.part.intersect(outer.part) else {
                                continue;
                            };
                            out.push(Hap {
                                whole,
                                part,
                                value: ih.value,
                                gain: ih.gain,
                            });
                        }
                    }
                }
            }
        }
    }
}

/// JS `arrayRange(start, stop)`: `|stop - start| + 1` values stepping by 1 (length floored).
pub(crate) fn array_range(a: f64, b: f64) -> Vec<f64> {
    let len = ((b - a).abs() + 1.0).floor();
    if !len.is_finite() || len <= 0.0 {
        return Vec::new();
    }
    (0..len as usize)
        .map(|i| if a < b { a + i as f64 } else { a - i as f64 })
        .collect()
}

/// Strudel's `fastcat`: `slowcat(..)._fast(n)` (one child is returned as is).
pub(crate) fn fastcat(items: impl Iterator<Item = Pat>) -> Pat {
    let mut pats: Vec<Pat> = items.collect();
    match pats.len() {
        0 => Pat::Silence,
        1 => pats.pop().unwrap_or(Pat::Silence),
        n => Pat::Fast(Rat::int(n as i64), Box::new(Pat::Slowcat(pats))),
    }
}

pub(super) fn fast(f: Rat, pat: &Pat, span: Span, ctx: &mut QueryCtx) -> Vec<Hap> {
    let mut out = Vec::new();
    fast_into(f, pat, span, ctx, &mut out);
    out
}

fn fast_into(f: Rat, pat: &Pat, span: Span, ctx: &mut QueryCtx, out: &mut Vec<Hap>) {
    let from = out.len();
    pat.query_into(span.with(|t| t.times(f)), ctx, out);
    if f != Rat::ONE {
        map_tail(out, from, |t| t.over(f));
    }
}

/// `pat.struct(fastcat(bools))` queried over `span`: structure from the true steps.
fn structure_into(bools: &[bool], pat: &Pat, span: Span, ctx: &mut QueryCtx, out: &mut Vec<Hap>) {
    let n = bools.len() as i64;
    if n == 0 {
        return;
    }
    for s in span.cycle_iter() {
        let sam = s.b.sam();
        // The steps of this cycle that the query touches.
        let first = s.b.minus(sam).times(Rat::int(n)).sam().num;
        for k in first.max(0)..n {
            if !bools[k as usize] {
                continue;
            }
            let step = Span::new(sam.plus(Rat::new(k, n)), sam.plus(Rat::new(k + 1, n)));
            let Some(spart) = step.intersect(s) else {
                if step.b > s.e {
                    break;
                }
                continue;
            };
            let from = out.len();
            pat.query_into(step, ctx, out);
            retain_tail(out, from, |h| h.part.intersect(spart).is_some());
            for h in &mut out[from..] {
                if let Some(part) = h.part.intersect(spart) {
                    h.whole = step;
                    h.part = part;
                }
            }
        }
    }
}

/// Strudel's `_compress(b, e)` = `_fastGap(1 / (e - b))._late(b)`.
fn compress(b: Rat, e: Rat, pat: &Pat, span: Span, ctx: &mut QueryCtx, out: &mut Vec<Hap>) {
    if b > e || b > Rat::ONE || e > Rat::ONE || b < Rat::ZERO || e < Rat::ZERO || b == e {
        return;
    }
    let factor = Rat::ONE.over(e.minus(b));
    // late(b): query earlier, shift haps later.
    let span = span.with(|t| t.minus(b));
    for s in span.cycle_iter() {
        let cycle = s.b.sam();
        let bpos = s.b.minus(cycle).times(factor).min(Rat::ONE);
        let epos = s.e.minus(cycle).times(factor).min(Rat::ONE);
        if bpos >= Rat::ONE {
            continue;
        }
        let q = Span::new(cycle.plus(bpos), cycle.plus(epos));
        let from = out.len();
        pat.query_into(q, ctx, out);
        for h in &mut out[from..] {
            let (pb, pe) = (h.part.b, h.part.e);
            let c = pb.sam();
            let bp = pb.minus(c).over(factor).min(Rat::ONE);
            let ep = pe.minus(c).over(factor).min(Rat::ONE);
            let part = Span::new(c.plus(bp), c.plus(ep));
            let whole = Span::new(
                part.b.minus(pb.minus(h.whole.b).over(factor)),
                part.e.plus(h.whole.e.minus(pe).over(factor)),
            );
            h.whole = whole.with(|t| t.plus(b));
            h.part = part.with(|t| t.plus(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bjorklund_matches_strudel() {
        let s = |v: Vec<bool>| {
            v.iter()
                .map(|b| if *b { 'x' } else { '.' })
                .collect::<String>()
        };
        assert_eq!(s(bjork(3, 8)), "x..x..x.");
        assert_eq!(s(bjork(5, 8)), "x.xx.xx.");
        assert_eq!(s(euclid_rot(3, 8, 2)), "x.x..x..");
        assert_eq!(s(bjork(-3, 8)), ".xx.xx.x");
        assert_eq!(s(bjork(0, 4)), "....");
        assert!(bjork(5, 3).is_empty());
    }

    #[test]
    fn rand_is_strudels_xorshift() {
        // Values printed by Strudel 1.1.0's timeToRand.
        assert_eq!(time_to_rand(0.0), 0.0);
        assert!((0.0..1.0).contains(&time_to_rand(0.5)));
        assert_ne!(time_to_rand(0.5), time_to_rand(1.5));
    }
}
