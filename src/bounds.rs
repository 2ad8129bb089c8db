//! Numbers a person types on the command line, parsed together with their allowed range, so
//! that a slip (`--horizon 1000000000`, `--hidden 1e9`) is a clear error before anything is
//! allocated, not an abort for a 768 GB allocation or an hour of work.

/// Parses a whole number in `LO..=HI` (for clap's `value_parser`).
pub fn in_range<const LO: usize, const HI: usize>(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number"))?;
    if !(LO..=HI).contains(&n) {
        return Err(format!("{n} is outside {LO}..={HI}"));
    }
    Ok(n)
}

/// Parses a dropout probability: a finite number in `0 ≤ p < 1` (for clap's `value_parser`).
pub fn dropout(s: &str) -> Result<f32, String> {
    let p: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if !(0.0..1.0).contains(&p) {
        return Err(format!("{s} is outside 0 ≤ p < 1"));
    }
    Ok(p)
}

/// Parses a learning rate: a finite number in `0 < lr ≤ 10` (for clap's `value_parser`).
pub fn learning_rate(s: &str) -> Result<f64, String> {
    let lr: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if !(lr > 0.0 && lr <= 10.0) {
        return Err(format!("{s} is outside 0 < lr ≤ 10"));
    }
    Ok(lr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_outside_their_range_are_errors() {
        assert_eq!(in_range::<1, 10>("10"), Ok(10));
        assert!(in_range::<1, 10>("0").unwrap_err().contains("1..=10"));
        assert!(in_range::<1, 10>("1000000000000").is_err());
        assert!(in_range::<1, 10>("-1").is_err());
        assert!(in_range::<1, 10>("2.5").is_err());
    }

    #[test]
    fn rates_must_be_finite_and_in_range() {
        assert_eq!(dropout("0.1"), Ok(0.1));
        assert_eq!(dropout("0"), Ok(0.0));
        for bad in ["1", "-0.1", "NaN", "inf", "x"] {
            assert!(dropout(bad).is_err(), "{bad}");
        }
        assert_eq!(learning_rate("3e-3"), Ok(3e-3));
        for bad in ["0", "-1", "NaN", "inf", "11"] {
            assert!(learning_rate(bad).is_err(), "{bad}");
        }
    }
}
