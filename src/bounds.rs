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
}
