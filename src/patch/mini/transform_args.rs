//! Patterned and signal arguments of the transforms: `fast("<2 3>")`, `ply("1 2")`,
//! `late("<0 0.25>")`, `off("<0.25 0.125>", f)`, `degradeBy("<0.2 0.8>")`,
//! `sometimesBy(sine, f)`, …
//!
//! Strudel's `register` "patternifies" every argument: `pat.fast(x)` with a pattern `x` is
//! `x.fmap(v => pat._fast(v)).innerJoin()` — for each event of `x`, the pattern transformed
//! with that event's value, queried over that event's part, keeping the inner events' own
//! wholes. weft does the same with no closure at query time: when the patch is evaluated the
//! argument's values are read from its atoms and the transform is built once per distinct
//! value (with the constant-argument code, so each keeps its own checks and event bound, and
//! a function given to `off`/`sometimesBy` runs once per value, as Strudel runs it per value).
//! The query then looks each argument event's value up in that table ([`Tf::Pick`]).
//!
//! A continuous signal has no events to join over (Strudel samples it once per query span, so
//! its result depends on how the caller slices time); weft reads a signal probability per
//! event instead, at the middle of the event's whole — where `rand` itself is read and where
//! a signal voice option is read ([`Tf::SigChance`]).

use super::super::pat::{num_of, rand_over, Hap, Pat, QueryCtx, Span};
use super::{Pattern, TransformError, Value};
use crate::patch::signal::Signal;

/// `degradeBy`'s half (`rand > x`, kept as is) or `sometimesBy`'s other half (`rand < x`,
/// handed to the function) with a per-event threshold `x` read from a signal.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SigChance {
    pub sig: Signal,
    /// `true`: keep events whose `rand` is below the signal (the chosen half).
    pub below: bool,
    pub pat: Pat,
}

impl SigChance {
    pub(super) fn query(&self, span: Span, ctx: &mut QueryCtx) -> Vec<Hap> {
        self.pat
            .query(span, ctx)
            .into_iter()
            .filter(|h| {
                let x = self.sig.at(h.whole.midpoint().to_f64()).clamp(0.0, 1.0);
                let r = rand_over(h.whole, 0, ctx);
                if self.below {
                    r < x
                } else {
                    r > x
                }
            })
            .collect()
    }
}

/// Strudel's `innerJoin` over an argument pattern whose values pick a prepared pattern.
pub(super) fn pick(arg: &Pat, table: &[(f64, Pat)], span: Span, ctx: &mut QueryCtx) -> Vec<Hap> {
    let mut out = Vec::new();
    for outer in arg.query(span, ctx) {
        let Some(x) = num_of(&outer.value) else {
            continue;
        };
        if let Some((_, pat)) = table.iter().find(|(v, _)| *v == x) {
            out.extend(pat.query(outer.part, ctx));
        }
    }
    out
}

impl Pattern {
    /// The distinct numbers a pattern used as an argument can produce (its steps' values),
    /// in order of appearance. Words and `..` ranges (whose numbers are not written in the
    /// pattern) are refused.
    pub fn arg_values(&self, what: &'static str) -> Result<Vec<f64>, TransformError> {
        if self.source.contains("..") {
            return super::bad(
                what,
                format!(
                    "\"{}\": a `..` range cannot be an argument (write its numbers out)",
                    self.source
                ),
            );
        }
        let mut vals: Vec<f64> = Vec::new();
        for a in &self.atoms {
            if a.role != super::super::parse::Role::Value {
                continue;
            }
            match &a.value {
                Value::Num(x) if x.is_finite() => {
                    if !vals.contains(x) {
                        vals.push(*x);
                    }
                }
                _ => {
                    return super::bad(
                        what,
                        format!(
                            "\"{}\": '{}' (col {}) is not a number",
                            self.source, a.text, a.col
                        ),
                    )
                }
            }
        }
        Ok(vals)
    }

    /// `arg.fmap(v => table[v]).innerJoin()`: `table` holds this pattern transformed with
    /// each of `arg`'s values (built by the caller, e.g. with `self.fast(v)` or by running a
    /// script function), in any order.
    pub fn picked(
        &self,
        what: &'static str,
        arg: &Pattern,
        table: Vec<(f64, Pattern)>,
    ) -> Result<Pattern, TransformError> {
        let most = table.iter().map(|(_, p)| p.bound).max().unwrap_or(0);
        let bound = arg.bound.saturating_mul(most);
        let refs: Vec<&Pattern> = table.iter().map(|(_, p)| p).collect();
        let tf = super::Tf::Pick {
            arg: arg.pat.clone(),
            table: table.iter().map(|(v, p)| (*v, p.pat.clone())).collect(),
        };
        self.joined(&refs, what, Pat::Transform(Box::new(tf)), bound)
    }

    /// This pattern transformed by `f(self, v)` for each value `v` of `arg`, joined over
    /// `arg` (Strudel's patterned argument).
    pub fn by_pattern(
        &self,
        what: &'static str,
        arg: &Pattern,
        f: impl Fn(&Pattern, f64) -> Result<Pattern, TransformError>,
    ) -> Result<Pattern, TransformError> {
        let table = arg
            .arg_values(what)?
            .into_iter()
            .map(|v| Ok((v, f(self, v)?)))
            .collect::<Result<Vec<_>, TransformError>>()?;
        self.picked(what, arg, table)
    }

    /// `fast(pattern)`: e.g. `fast("<2 3>")`.
    pub fn fast_by(&self, arg: &Pattern) -> Result<Pattern, TransformError> {
        self.by_pattern("fast", arg, |p, v| p.fast(v))
    }

    pub fn slow_by(&self, arg: &Pattern) -> Result<Pattern, TransformError> {
        self.by_pattern("slow", arg, |p, v| p.slow(v))
    }

    pub fn early_by(&self, arg: &Pattern) -> Result<Pattern, TransformError> {
        self.by_pattern("early", arg, |p, v| p.early(v))
    }

    pub fn late_by(&self, arg: &Pattern) -> Result<Pattern, TransformError> {
        self.by_pattern("late", arg, |p, v| p.late(v))
    }

    pub fn ply_by(&self, arg: &Pattern) -> Result<Pattern, TransformError> {
        self.by_pattern("ply", arg, |p, v| p.ply(v))
    }

    pub fn degrade_by_pattern(&self, arg: &Pattern) -> Result<Pattern, TransformError> {
        self.by_pattern("degradeBy", arg, |p, v| p.degrade_by(v))
    }

    /// `degradeBy(signal)`: each event dropped when its `rand` is not above the signal at the
    /// event's middle (values outside 0..1 are clamped).
    pub fn degrade_by_signal(&self, sig: &Signal) -> Result<Pattern, TransformError> {
        let tf = super::Tf::SigChance(SigChance {
            sig: sig.clone(),
            below: false,
            pat: self.pat.clone(),
        });
        self.tf("degradeBy", tf, self.bound)
    }

    /// The halves of `sometimesBy(signal, f)` (see [`Pattern::sometimes_split`]).
    pub fn sometimes_split_signal(
        &self,
        sig: &Signal,
    ) -> Result<(Pattern, Pattern), TransformError> {
        let kept = self.degrade_by_signal(sig)?;
        let tf = super::Tf::SigChance(SigChance {
            sig: sig.clone(),
            below: true,
            pat: self.pat.clone(),
        });
        Ok((kept, self.tf("sometimesBy", tf, self.bound)?))
    }
}
