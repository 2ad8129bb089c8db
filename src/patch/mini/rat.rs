//! Exact rational time: cycle positions as reduced `num / den` fractions.
//!
//! Arithmetic runs in 128 bits and reduces; a result that does not fit 64 bits (unreachable
//! for patterns that pass the parser's bounds) is approximated instead of panicking.

use std::cmp::Ordering;
use std::fmt;

/// A signed exact fraction `num / den`, reduced, `den > 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rat {
    pub num: i64,
    pub den: i64,
}

/// Binary GCD on 64 bits (the common case: no 128-bit division); 1 when both are 0.
fn gcd64(mut a: u64, mut b: u64) -> u64 {
    if a == 0 || b == 0 {
        return (a | b).max(1);
    }
    let shift = (a | b).trailing_zeros();
    a >>= a.trailing_zeros();
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    if a <= u64::MAX as u128 && b <= u64::MAX as u128 {
        return gcd64(a as u64, b as u64) as u128;
    }
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Rat {
    pub const ZERO: Rat = Rat { num: 0, den: 1 };
    pub const ONE: Rat = Rat { num: 1, den: 1 };

    /// `num / den` reduced; a zero denominator is treated as 1.
    pub fn new(num: i64, den: i64) -> Rat {
        let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
        Rat::reduce(num as i128, den as i128)
    }

    pub fn int(n: i64) -> Rat {
        Rat { num: n, den: 1 }
    }

    /// `num / den` reduced, `den > 0`, both in 64 bits (no 128-bit arithmetic).
    #[inline]
    fn reduce64(num: i64, den: i64) -> Rat {
        if num == i64::MIN {
            // |num| does not fit: the 128-bit path (which approximates) decides.
            return Rat::reduce_wide(num as i128, den as i128);
        }
        if den == 1 {
            return Rat { num, den };
        }
        let g = gcd64(num.unsigned_abs(), den as u64);
        if g == 1 {
            return Rat { num, den };
        }
        // g divides |num|, so the quotient's magnitude fits (even for i64::MIN, g >= 2).
        let n = (num.unsigned_abs() / g) as i64;
        Rat {
            num: if num < 0 { -n } else { n },
            den: (den as u64 / g) as i64,
        }
    }

    fn reduce(num: i128, den: i128) -> Rat {
        if den > 0
            && den <= i64::MAX as i128
            && num >= -(i64::MAX as i128)
            && num <= i64::MAX as i128
        {
            return Rat::reduce64(num as i64, den as i64);
        }
        Rat::reduce_wide(num, den)
    }

    fn reduce_wide(num: i128, den: i128) -> Rat {
        let den = den.max(1) as u128;
        let neg = num < 0;
        let a = num.unsigned_abs();
        let g = gcd(a, den);
        let (mut n, mut d) = (a / g, den / g);
        while n > i64::MAX as u128 || d > i64::MAX as u128 {
            n >>= 1;
            d = (d >> 1).max(1);
        }
        let n = n as i64;
        Rat {
            num: if neg { -n } else { n },
            den: d as i64,
        }
    }

    pub fn plus(self, o: Rat) -> Rat {
        if self.den == o.den {
            if let Some(n) = self.num.checked_add(o.num) {
                return Rat::reduce64(n, self.den);
            }
        } else if let (Some(ad), Some(cb), Some(bd)) = (
            self.num.checked_mul(o.den),
            o.num.checked_mul(self.den),
            self.den.checked_mul(o.den),
        ) {
            if let Some(n) = ad.checked_add(cb) {
                return Rat::reduce64(n, bd);
            }
        }
        let (a, b, c, d) = (
            self.num as i128,
            self.den as i128,
            o.num as i128,
            o.den as i128,
        );
        let g = gcd(b as u128, d as u128) as i128;
        let l = b / g * d;
        Rat::reduce(a * (l / b) + c * (l / d), l)
    }

    pub fn minus(self, o: Rat) -> Rat {
        self.plus(Rat {
            num: -o.num,
            den: o.den,
        })
    }

    pub fn times(self, o: Rat) -> Rat {
        if let (Some(n), Some(d)) = (self.num.checked_mul(o.num), self.den.checked_mul(o.den)) {
            return Rat::reduce64(n, d);
        }
        Rat::reduce(
            self.num as i128 * o.num as i128,
            self.den as i128 * o.den as i128,
        )
    }

    /// `self / o`; dividing by zero gives zero (callers never do).
    pub fn over(self, o: Rat) -> Rat {
        if o.num == 0 {
            return Rat::ZERO;
        }
        if let (Some(n), Some(d)) = (self.num.checked_mul(o.den), self.den.checked_mul(o.num)) {
            if d > 0 {
                return Rat::reduce64(n, d);
            }
            if let (Some(n), Some(d)) = (n.checked_neg(), d.checked_neg()) {
                return Rat::reduce64(n, d);
            }
        }
        let (n, d) = (
            self.num as i128 * o.den as i128,
            self.den as i128 * o.num as i128,
        );
        if d < 0 {
            Rat::reduce(-n, -d)
        } else {
            Rat::reduce(n, d)
        }
    }

    pub fn div_int(self, n: i64) -> Rat {
        self.over(Rat::int(n.max(1)))
    }

    /// The start of the cycle this time lies in (`floor`).
    pub fn sam(self) -> Rat {
        Rat::int(self.num.div_euclid(self.den))
    }

    pub fn is_int(self) -> bool {
        self.den == 1
    }

    /// Compares two positions exactly.
    pub fn cmp_pos(self, o: Rat) -> Ordering {
        if self.den == o.den {
            return self.num.cmp(&o.num);
        }
        (self.num as i128 * o.den as i128).cmp(&(o.num as i128 * self.den as i128))
    }

    pub fn min(self, o: Rat) -> Rat {
        if self.cmp_pos(o) == Ordering::Greater {
            o
        } else {
            self
        }
    }

    pub fn max(self, o: Rat) -> Rat {
        if self.cmp_pos(o) == Ordering::Less {
            o
        } else {
            self
        }
    }

    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// `self` of `total` ticks, rounded down (negative positions count as 0).
    pub fn of(self, total: u64) -> u64 {
        if self.num <= 0 {
            return 0;
        }
        let x = (self.num as u128 * total as u128) / self.den as u128;
        x.min(u64::MAX as u128) as u64
    }

    /// The exact value of a decimal number as written (`1.5` → 3/2, `-0.25`, `2e3`); None
    /// when it is not one or does not fit.
    pub fn from_decimal(s: &str) -> Option<Rat> {
        let (mant, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
            None => (s, 0),
        };
        let (neg, mant) = match mant.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, mant.strip_prefix('+').unwrap_or(mant)),
        };
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        if int.is_empty() && frac.is_empty()
            || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return None;
        }
        let mut num: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let mut den: i128 = 1;
        let scale = exp - frac.len() as i32;
        if !(-30..=30).contains(&scale) {
            return if num == 0 { Some(Rat::ZERO) } else { None };
        }
        for _ in 0..scale.max(0) {
            num = num.checked_mul(10)?;
        }
        for _ in 0..(-scale).max(0) {
            den *= 10;
        }
        let g = gcd(num.unsigned_abs(), den as u128) as i128;
        let (n, d) = (num / g, den / g);
        if n > i64::MAX as i128 || d > i64::MAX as i128 {
            return None;
        }
        Some(Rat::new(if neg { -(n as i64) } else { n as i64 }, d as i64))
    }

    /// The value of a JS-style number: its shortest decimal form read exactly.
    pub fn from_f64(x: f64) -> Option<Rat> {
        if !x.is_finite() {
            return None;
        }
        Rat::from_decimal(&format!("{x}"))
    }
}

impl PartialOrd for Rat {
    fn partial_cmp(&self, o: &Rat) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Rat {
    fn cmp(&self, o: &Rat) -> Ordering {
        self.cmp_pos(*o)
    }
}

impl fmt::Display for Rat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_arithmetic_with_large_denominators() {
        let a = Rat::new(1, 1 << 40);
        let b = Rat::new(3, (1 << 40) + 1);
        assert_eq!(a.plus(b).cmp_pos(a), Ordering::Greater);
        assert_eq!(Rat::new(i64::MAX - 1, i64::MAX).of(3840), 3839);
        assert_eq!(Rat::new(5, 0), Rat::new(5, 1));
        assert_eq!(Rat::new(-7, 2).sam(), Rat::int(-4));
        assert_eq!(Rat::new(1, 3).minus(Rat::new(1, 2)), Rat::new(-1, 6));
        assert_eq!(Rat::new(-1, 6).of(100), 0);
    }

    #[test]
    fn decimals_are_read_exactly() {
        assert_eq!(Rat::from_decimal("1.5"), Some(Rat::new(3, 2)));
        assert_eq!(Rat::from_decimal("-0.25"), Some(Rat::new(-1, 4)));
        assert_eq!(Rat::from_decimal("2e3"), Some(Rat::int(2000)));
        assert_eq!(Rat::from_decimal("0.3"), Some(Rat::new(3, 10)));
        assert_eq!(
            Rat::from_f64(0.1 + 0.2),
            Some(Rat::new(7500000000000001, 25000000000000000))
        );
        assert_eq!(Rat::from_decimal("x"), None);
        assert_eq!(Rat::from_decimal("1e400"), None);
    }

    /// The 128-bit definitions the 64-bit fast paths must agree with.
    fn wide_plus(a: Rat, o: Rat) -> Rat {
        let (a, b, c, d) = (a.num as i128, a.den as i128, o.num as i128, o.den as i128);
        let g = gcd(b as u128, d as u128) as i128;
        let l = b / g * d;
        Rat::reduce_wide(a * (l / b) + c * (l / d), l)
    }

    proptest::proptest! {
        #[test]
        fn fast_paths_equal_the_wide_arithmetic(
            an in -(1i64 << 62)..(1i64 << 62), ad in 1i64..(1i64 << 41),
            bn in -(1i64 << 62)..(1i64 << 62), bd in 1i64..(1i64 << 41),
            small in proptest::bool::ANY,
        ) {
            // Small operands take the 64-bit paths, large ones overflow into 128 bits.
            let (an, bn) = if small { (an >> 40, bn >> 40) } else { (an, bn) };
            let (ad, bd) = if small { (ad >> 20 | 1, bd >> 20 | 1) } else { (ad, bd) };
            let (a, b) = (Rat::new(an, ad), Rat::new(bn, bd));
            proptest::prop_assert_eq!(a, Rat::reduce_wide(an as i128, ad as i128));
            proptest::prop_assert_eq!(a.plus(b), wide_plus(a, b));
            proptest::prop_assert_eq!(a.minus(b), wide_plus(a, Rat { num: -b.num, den: b.den }));
            proptest::prop_assert_eq!(
                a.times(b),
                Rat::reduce_wide(a.num as i128 * b.num as i128, a.den as i128 * b.den as i128)
            );
            if b.num != 0 {
                let (n, d) = (a.num as i128 * b.den as i128, a.den as i128 * b.num as i128);
                let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
                proptest::prop_assert_eq!(a.over(b), Rat::reduce_wide(n, d));
            }
            proptest::prop_assert_eq!(
                a.cmp_pos(b),
                (a.num as i128 * b.den as i128).cmp(&(b.num as i128 * a.den as i128))
            );
        }
    }
}
