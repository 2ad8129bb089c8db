//! Helpers of the pattern transforms (`transform.rs`): how each transform grows a pattern's
//! bound on events per cycle, and the checks that turn script numbers into exact arguments.

use super::super::rat::Rat;
use super::{bad, TransformError};

// Event bounds. A pattern's `bound` is the most haps a query of (part of) one cycle returns.
// Each transform's bound is the worst case of that transform given only its input's bound,
// so chains grow by what each step can really add, not by a product of safety factors.

/// How many cycles of `pure(v).fast(f)` one focused hap of `ply(f)` can touch: the focus
/// may start anywhere in a cycle, so at most `ceil(f) + 1`.
pub(super) fn cycles_touched(f: Rat) -> u64 {
    (f.num.max(0) as u64).div_ceil(f.den.max(1) as u64) + 1
}

/// How many cycles of the inner pattern one outer cycle touches after `fast(p/q)`: the outer
/// cycle `c` is the inner span `cp/q .. (c+1)p/q`, which starts `r/q` into a cycle for some
/// `r < q`, so the most is `ceil((q - 1 + p) / q)` (`p` when `q = 1`, `1` when slowed by a whole
/// number, `2` for 1.5).
pub(super) fn fast_cycles(f: Rat) -> u64 {
    let (p, q) = (f.num.max(0) as u64, f.den.max(1) as u64);
    (q - 1 + p).div_ceil(q)
}

/// A shift by `t` keeps one cycle in one cycle when `t` is whole, else spreads it over two.
pub(super) fn shift_bound(bound: u64, t: Rat) -> u64 {
    if t.is_int() {
        bound
    } else {
        bound.saturating_mul(2)
    }
}

/// A positive exact factor from a script number (`fast(1.5)`, `ply(2)`).
pub(super) fn factor(what: &'static str, x: f64) -> Result<Rat, TransformError> {
    match exact(x) {
        Some(r) if r.num > 0 && r.den <= 1_000_000 && r.num <= 1_000_000 => Ok(r),
        _ => bad(what, format!("needs a number above 0, got {x}")),
    }
}

/// An exact fraction for a script number: small denominators first, so `1/3` (0.333…) is a
/// third, as Strudel's Fraction reads it.
pub(super) fn exact(x: f64) -> Option<Rat> {
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

pub(super) fn time(what: &'static str, x: f64) -> Result<Rat, TransformError> {
    match exact(x) {
        Some(r) if r.den <= 1_000_000 && r.num.abs() <= 1_000_000_000 => Ok(r),
        _ => bad(what, format!("needs a time in cycles, got {x}")),
    }
}

pub(super) fn count(what: &'static str, n: i64, lo: i64, hi: i64) -> Result<i64, TransformError> {
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        bad(what, format!("needs a whole number {lo}..{hi}, got {n}"))
    }
}

pub(super) fn prob(what: &'static str, x: f64) -> Result<f64, TransformError> {
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        bad(what, format!("needs a chance 0..1, got {x}"))
    }
}
