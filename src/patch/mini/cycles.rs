//! Per-cycle results for patterns whose cycles repeat.
//!
//! Most patterns are deterministic and periodic: `a b <c d>` plays the same two cycles over
//! and over. Their period follows from the tree (a `< >` of n children multiplies its
//! children's period by n, `fast(p/q)` needs whole repeats of the child, …); if it is short,
//! the haps of each cycle of one period are computed once when the pattern is parsed, and a
//! query of a whole cycle `k` is the stored cycle `k mod period` moved by whole cycles.
//!
//! Exactness: every combinator here commutes with a shift of time by a whole number of its
//! children's periods, so `query(span + P) = query(span) + P` for the period `P`. Randomness
//! (`?`, `|`: Strudel's `rand` of the absolute time), `..` ranges (their inner time is scaled
//! by the event's length) and transforms are not period-checked: a tree containing them is
//! not cached (a top-level stack still caches its deterministic layers).

use super::pat::{Hap, Pat, QueryCtx, Span};
use super::rat::Rat;
use super::Value;

/// Longest period that is stored.
const MAX_PERIOD: i64 = 64;
/// Most haps stored for one pattern (all cycles of the period together).
const MAX_STORED: usize = 8192;

/// One period of a pattern's cycles, each cycle's haps as a query of `[k, k + 1)` gives them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CycleCache {
    pub period: i64,
    /// `cycles[k]`: the haps of `[k, k + 1)`, for `k` in `0..period`.
    pub cycles: Vec<Vec<Hap>>,
    pub pat: Pat,
}

impl CycleCache {
    /// Appends the haps of `span` to `out`: from the table when `span` is one whole cycle,
    /// else by querying the pattern.
    pub fn query_into(&self, span: Span, ctx: &mut QueryCtx, out: &mut Vec<Hap>) {
        let k = span.b.num;
        if span.b.den != 1 || span.e.den != 1 || span.e.num.checked_sub(k) != Some(1) {
            self.pat.query_into(span, ctx, out);
            return;
        }
        let base = k.rem_euclid(self.period);
        let shift = Rat::int(k - base);
        let haps = &self.cycles[base as usize];
        if shift.num == 0 {
            out.extend_from_slice(haps);
        } else {
            out.extend(haps.iter().map(|h| Hap {
                whole: h.whole.with(|t| t.plus(shift)),
                part: h.part.with(|t| t.plus(shift)),
                value: h.value.clone(),
                gain: h.gain,
            }));
        }
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

/// Least common multiple, `None` above [`MAX_PERIOD`].
fn lcm(a: i64, b: i64) -> Option<i64> {
    let l = (a / gcd(a, b)).checked_mul(b)?;
    (l <= MAX_PERIOD).then_some(l)
}

/// The smallest `P` for which `fast(f)` of a pattern of period `pc` repeats after `P`
/// cycles: `P * f` must be a whole multiple of `pc`.
fn fast_period(f: Rat, pc: i64) -> Option<i64> {
    if f.num <= 0 {
        return None;
    }
    let m = pc.checked_mul(f.den)?;
    let p = m / gcd(f.num, m);
    (p <= MAX_PERIOD).then_some(p)
}

/// The numbers a deterministic pattern can yield, when they come straight from its steps.
fn leaf_numbers(pat: &Pat, out: &mut Vec<f64>) -> Option<()> {
    match pat {
        Pat::Silence => {}
        Pat::Pure(Value::Num(x)) => out.push(*x),
        // Not a number: `FastBy` skips such values.
        Pat::Pure(_) => {}
        Pat::Stack(ps) | Pat::Slowcat(ps) => {
            for p in ps {
                leaf_numbers(p, out)?;
            }
        }
        Pat::Fast(_, p) | Pat::Compress(_, _, p) | Pat::RepeatCycles(_, p) => leaf_numbers(p, out)?,
        Pat::FastBy { pat, .. } => leaf_numbers(pat, out)?,
        Pat::Cached(c) => leaf_numbers(&c.pat, out)?,
        _ => return None,
    }
    Some(())
}

/// The period of a pattern in whole cycles (see the module notes), `None` when it is not
/// known to repeat within [`MAX_PERIOD`] cycles or is random.
pub(crate) fn period(pat: &Pat) -> Option<i64> {
    match pat {
        Pat::Silence | Pat::Pure(_) => Some(1),
        Pat::Stack(ps) => ps.iter().try_fold(1, |a, p| lcm(a, period(p)?)),
        Pat::Slowcat(ps) => {
            let inner = ps.iter().try_fold(1, |a, p| lcm(a, period(p)?))?;
            let p = inner.checked_mul(ps.len().max(1) as i64)?;
            (p <= MAX_PERIOD).then_some(p)
        }
        Pat::Fast(f, p) => fast_period(*f, period(p)?),
        Pat::Compress(_, _, p) => period(p),
        Pat::RepeatCycles(n, p) => {
            if !n.is_int() || n.num <= 0 {
                return None;
            }
            let p = period(p)?.checked_mul(n.num)?;
            (p <= MAX_PERIOD).then_some(p)
        }
        Pat::FastBy {
            factor,
            slow,
            div,
            pat,
        } => {
            let pc = period(pat)?;
            let mut xs = Vec::new();
            leaf_numbers(factor, &mut xs)?;
            let mut p = period(factor)?;
            for x in xs {
                let Some(x) = Rat::from_f64(x) else { continue };
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
                p = lcm(p, fast_period(f, pc)?)?;
            }
            Some(p)
        }
        Pat::Euclid {
            pulses,
            steps,
            rot,
            pat,
        } => {
            let mut p = lcm(period(pulses)?, period(steps)?)?;
            if let Some(r) = rot {
                p = lcm(p, period(r)?)?;
            }
            lcm(p, period(pat)?)
        }
        Pat::Tail(a, b) => lcm(period(a)?, period(b)?),
        Pat::Cached(c) => Some(c.period),
        Pat::Degrade { .. } | Pat::Choose { .. } | Pat::Range(..) | Pat::Transform(_) => None,
    }
}

/// The pattern with its repeating cycles stored: the whole tree if it repeats, else (for a
/// top-level stack) each layer that does; others are returned as they are.
pub(crate) fn cache(pat: Pat) -> Pat {
    if matches!(pat, Pat::Cached(_)) {
        return pat;
    }
    if let Some(p) = period(&pat) {
        let mut cycles = Vec::with_capacity(p as usize);
        let mut stored = 0;
        for k in 0..p {
            let mut ctx = QueryCtx {
                rand_shift: Rat::ZERO,
                budget: super::QUERY_BUDGET,
            };
            let mut haps = Vec::new();
            pat.query_into(Span::new(Rat::int(k), Rat::int(k + 1)), &mut ctx, &mut haps);
            stored += haps.len();
            if ctx.budget == 0 || stored > MAX_STORED {
                return pat;
            }
            cycles.push(haps);
        }
        return Pat::Cached(Box::new(CycleCache {
            period: p,
            cycles,
            pat,
        }));
    }
    match pat {
        Pat::Stack(ps) => Pat::Stack(ps.into_iter().map(cache).collect()),
        other => other,
    }
}

/// The pattern without stored cycles at its top (and its top-level stack's layers).
pub(crate) fn uncache(pat: Pat) -> Pat {
    match pat {
        Pat::Cached(c) => c.pat,
        Pat::Stack(ps) => Pat::Stack(ps.into_iter().map(uncache).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::super::Pattern;
    use super::*;

    fn period_of(src: &str) -> Option<i64> {
        period(&uncache(Pattern::parse(src).unwrap().pat))
    }

    #[test]
    fn periods_follow_the_tree() {
        assert_eq!(period_of("a b c"), Some(1));
        assert_eq!(period_of("<a b c>"), Some(3));
        assert_eq!(period_of("<a <b c>>"), Some(4));
        assert_eq!(period_of("a/2"), Some(2));
        assert_eq!(period_of("a*1.5"), Some(2));
        assert_eq!(period_of("<a b>*1.5"), Some(4));
        assert_eq!(period_of("a*<2 3>"), Some(2));
        assert_eq!(period_of("a/<2 3>"), Some(6));
        assert_eq!(period_of("a(<3 5>,8)"), Some(2));
        assert_eq!(period_of("{a b c}%4"), Some(3));
        assert_eq!(period_of("a?"), None);
        assert_eq!(period_of("a | b"), None);
        assert_eq!(period_of("0 .. 3"), None);
        // Longer than stored: walked each time.
        assert_eq!(period_of("<a b c d e f g h i>/8"), None);
    }

    #[test]
    fn stored_cycles_equal_walking_the_tree() {
        for src in [
            "a b <c d>",
            "<a b>*1.5 c/2",
            "a*<2 3> [b c]/<2 4>",
            "{a b c}%4 <d e>(<3 5>,8,<0 2>)",
            "a:<1 2> b@3 _ c!2",
            "a?, <b c>",
            "<a b, c d e>",
        ] {
            let p = Pattern::parse(src).unwrap();
            let walk = p.without_cycle_cache();
            assert_ne!(p.pat, walk.pat, "{src} is cached");
            for c in (0..40).chain([1 << 21, (1 << 22) - 1, 1 << 22, u64::MAX]) {
                for seed in [0, 5] {
                    assert_eq!(
                        p.query_seeded(c, seed),
                        walk.query_seeded(c, seed),
                        "{src} cycle {c}"
                    );
                }
            }
            // Spans that are not one whole cycle go to the tree.
            let (b, e) = (Rat::new(-3, 2), Rat::new(23, 4));
            assert_eq!(p.events(b, e), walk.events(b, e), "{src}");
        }
    }
}
