//! Percentiles for the bench programs' printed figures.

/// The `p` quantile (0..=1) of `v` by nearest rank; sorts `v` in place.
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}
