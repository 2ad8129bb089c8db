//! The daily streams CSV: the most played artist's daily plays scaled like a dashboard export
//! (×40 + noise), with the dashboard's own structure on top — a level shift at 45–75 % of the
//! window and promotional spikes decaying over four days. Its own seeded stream, so it does not
//! disturb the plays.

use super::super::time;
use super::{SynthConfig, World};
use crate::rng::Rng;
use std::fmt::Write as _;

/// `date,streams` rows for the top artist of `w`; `None` when there are no artists.
pub(super) fn top_artist_daily(cfg: &SynthConfig, w: &World) -> Option<String> {
    let mut counts = vec![0usize; w.artist_names.len()];
    for p in &w.plays {
        counts[p.artist] += 1;
    }
    let top = (0..counts.len()).max_by_key(|&a| counts[a])?;
    let mut daily = vec![0f64; cfg.days.max(0) as usize];
    for p in w.plays.iter().filter(|p| p.artist == top && !p.skipped) {
        let d = p.ts.div_euclid(86400) - cfg.start_day;
        if (0..cfg.days).contains(&d) {
            daily[d as usize] += 1.0;
        }
    }
    // The dashboard's own structure on top of the listeners': a level shift (a playlist
    // placement won or lost) and promotional spikes decaying over a few days.
    let mut rng = Rng::new(cfg.seed ^ 0xDA11);
    let n = daily.len();
    let shift_at = (n as f64 * (0.45 + 0.3 * rng.next_f64())) as usize;
    let shift = if rng.next_f64() < 0.6 {
        1.3 + 0.4 * rng.next_f64()
    } else {
        0.6 + 0.2 * rng.next_f64()
    };
    let mut promo = vec![1.0f64; n];
    for _ in 0..(n / 45).max(1) {
        let at = rng.below(n.max(1));
        let height = 1.5 + 2.0 * rng.next_f64();
        for (k, x) in promo.iter_mut().enumerate().skip(at).take(4) {
            *x += height * 0.45f64.powi((k - at) as i32);
        }
    }
    let mut s = String::from("date,streams\n");
    for (d, v) in daily.iter().enumerate() {
        let level = if d >= shift_at { shift } else { 1.0 };
        let x = ((v * 40.0 + 200.0 * (1.0 + 0.1 * rng.normal())) * level * promo[d])
            .round()
            .max(0.0);
        let _ = writeln!(s, "{},{}", time::date_string(cfg.start_day + d as i64), x);
    }
    Some(s)
}
