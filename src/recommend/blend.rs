//! `blend`: a learned ranking for the `period` protocol (what the user will play in the coming
//! weeks, replays counted). Per (user, item) it computes a few cheap features — the user's
//! plays of the item decayed at four time scales (half-lives 1, 7, 30 and 120 days), the plain
//! count, days since the last play, the user's recent plays of the item's artist, the item's
//! popularity overall and in the last two weeks, whether it is a new item, whether it was in
//! the user's last session — and scores `exp(w·x)`, a Poisson regression of the item's number
//! of plays in the following period with a free level per user (so, equivalently, a softmax
//! over the user's candidates: only the order within a user is learned). `w` is fitted on the validation split only ([`fit`],
//! called by [`super::hybrid::tune`]): features from the plays before it, targets the plays
//! in it. So the short scale (current obsessions) and the long one (favourites) are mixed by
//! what the validation period rewarded, and unheard tracks of the artists the user is into, or
//! tracks everyone is playing now, can earn a place.
//!
//! Candidates per user: the items they played, the items of their 20 most-played artists
//! (recency-weighted) and the 200 items most played in the last two weeks; the rest of the
//! catalogue scores 0 (then the shared popularity tie-breaker).

use super::{Context, Model, Train};
use crate::logs::FxMap;

pub const DAY_S: f64 = 86_400.0;
/// Feature names, in the order of a feature vector.
pub const FEATURES: [&str; N] = [
    "plays-hl1d",
    "plays-hl7d",
    "plays-hl30d",
    "plays-hl120d",
    "plays",
    "heard",
    "days-since-last",
    "artist-hl14d",
    "artist-plays",
    "popularity",
    "popularity-14d",
    "new-item",
    "in-last-session",
    "user-plays-30d",
];
pub const N: usize = 14;
const HALF_LIVES_D: [f64; 4] = [1.0, 7.0, 30.0, 120.0];
const TOP_ARTISTS: usize = 20;
const TRENDING: usize = 200;
const RECENT_S: i64 = 14 * 86_400;
const NEW_S: i64 = 30 * 86_400;
/// L2 penalty on the standardised weights (per 1 000 rows).
const L2: f64 = 1.0;

/// Fitted weights: standardisation and coefficients (intercept last).
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub mean: [f64; N],
    pub sd: [f64; N],
    pub w: [f64; N],
    pub intercept: f64,
    /// Rows and Newton iterations the fit used.
    pub rows: usize,
    pub iters: usize,
}

impl Default for Weights {
    /// Without validation data: the user's plays with a 30-day half-life (plain recency).
    fn default() -> Self {
        let mut w = [0.0; N];
        w[2] = 1.0;
        Weights {
            mean: [0.0; N],
            sd: [1.0; N],
            w,
            intercept: 0.0,
            rows: 0,
            iters: 0,
        }
    }
}

impl Weights {
    #[allow(clippy::needless_range_loop)] // index form mirrors the formula
    fn eta(&self, x: &[f32; N]) -> f64 {
        let mut e = self.intercept;
        for k in 0..N {
            e += self.w[k] * (x[k] as f64 - self.mean[k]) / self.sd[k];
        }
        e
    }

    /// The features with the largest standardised weights, e.g. `plays-hl7d +1.20`.
    pub fn summary(&self, n: usize) -> String {
        let mut k: Vec<usize> = (0..N).collect();
        k.sort_by(|a, b| self.w[*b].abs().total_cmp(&self.w[*a].abs()));
        k.iter()
            .take(n)
            .map(|&k| format!("{} {:+.2}", FEATURES[k], self.w[k]))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Item-level and per-user inputs of the features, built once from a [`Train`].
pub struct FeatureSource {
    end: i64,
    history: Vec<Vec<u32>>,
    history_ts: Vec<Vec<i64>>,
    artist_of: Vec<u32>,
    items_of_artist: FxMap<u32, Vec<u32>>,
    pop: Vec<f32>,
    pop_recent: Vec<f32>,
    first_seen: Vec<i64>,
    trending: Vec<u32>,
}

impl FeatureSource {
    pub fn new(t: &Train) -> Self {
        let mut pop_recent = vec![0f32; t.n_items];
        let mut first_seen = vec![i64::MAX; t.n_items];
        for (h, ts) in t.history.iter().zip(&t.history_ts) {
            for (&i, &when) in h.iter().zip(ts) {
                if t.end - when < RECENT_S {
                    pop_recent[i as usize] += 1.0;
                }
                let f = &mut first_seen[i as usize];
                *f = (*f).min(when);
            }
        }
        let mut items_of_artist: FxMap<u32, Vec<u32>> = Default::default();
        for (i, &a) in t.artist_of.iter().enumerate().take(t.n_items) {
            if t.pop[i] > 0.0 {
                items_of_artist.entry(a).or_default().push(i as u32);
            }
        }
        let trending = super::top_n(&pop_recent, TRENDING)
            .into_iter()
            .filter(|&i| pop_recent[i as usize] > 0.0)
            .collect();
        FeatureSource {
            end: t.end,
            history: t.history.clone(),
            history_ts: t.history_ts.clone(),
            artist_of: t.artist_of.clone(),
            items_of_artist,
            pop: t.pop.clone(),
            pop_recent,
            first_seen,
            trending,
        }
    }

    /// Candidate items of `user` with their feature vectors (sorted by item).
    pub fn candidates(&self, user: u32, last_session: &[u32]) -> Vec<(u32, [f32; N])> {
        let (h, ts) = match (
            self.history.get(user as usize),
            self.history_ts.get(user as usize),
        ) {
            (Some(h), Some(ts)) => (h, ts),
            _ => return Vec::new(),
        };
        // Per heard item: decayed sums, count, last play.
        let mut own: FxMap<u32, ([f64; 4], f64, i64)> = Default::default();
        let mut artist: FxMap<u32, (f64, f64)> = Default::default();
        let mut recent_plays = 0f64;
        for (&i, &when) in h.iter().zip(ts) {
            let age_d = (self.end - when).max(0) as f64 / DAY_S;
            let e = own.entry(i).or_insert(([0.0; 4], 0.0, when));
            for (s, hl) in e.0.iter_mut().zip(HALF_LIVES_D) {
                *s += 0.5f64.powf(age_d / hl);
            }
            e.1 += 1.0;
            e.2 = e.2.max(when);
            let a = self.artist_of.get(i as usize).copied().unwrap_or(u32::MAX);
            let ae = artist.entry(a).or_insert((0.0, 0.0));
            ae.0 += 0.5f64.powf(age_d / 14.0);
            ae.1 += 1.0;
            if age_d < 30.0 {
                recent_plays += 1.0;
            }
        }
        let mut items: Vec<u32> = own.keys().copied().collect();
        let mut arts: Vec<(u32, f64)> = artist.iter().map(|(&a, v)| (a, v.0)).collect();
        arts.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (a, _) in arts.iter().take(TOP_ARTISTS) {
            if let Some(v) = self.items_of_artist.get(a) {
                items.extend(v);
            }
        }
        items.extend(&self.trending);
        items.sort_unstable();
        items.dedup();
        let user_recent = (1.0 + recent_plays).ln() as f32;
        items
            .into_iter()
            .map(|i| {
                let mut x = [0f32; N];
                if let Some((d, c, last)) = own.get(&i) {
                    for k in 0..4 {
                        x[k] = (1.0 + d[k]).ln() as f32;
                    }
                    x[4] = (1.0 + c).ln() as f32;
                    x[5] = 1.0;
                    x[6] = (1.0 + (self.end - last).max(0) as f64 / DAY_S).ln() as f32;
                }
                let a = self.artist_of.get(i as usize).copied().unwrap_or(u32::MAX);
                if let Some((d, c)) = artist.get(&a) {
                    x[7] = (1.0 + d).ln() as f32;
                    x[8] = (1.0 + c).ln() as f32;
                }
                x[9] = (1.0 + self.pop[i as usize]).ln();
                x[10] = (1.0 + self.pop_recent[i as usize]).ln();
                x[11] = (self.end - self.first_seen[i as usize] < NEW_S) as u8 as f32;
                x[12] = last_session.contains(&i) as u8 as f32;
                x[13] = user_recent;
                (i, x)
            })
            .collect()
    }
}

/// Fit the weights by Poisson regression: features from `inner` (the plays before the
/// validation period), targets the validation plays per user and item (`cases`: user, last
/// session, (item, plays) sorted by item — [`super::eval::PeriodCase`]). `None` without cases.
pub fn fit(inner: &Train, cases: &[super::eval::PeriodCase]) -> Option<Weights> {
    let src = FeatureSource::new(inner);
    let mut xs: Vec<[f32; N]> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    let mut groups = Vec::new();
    for (u, last, truth) in cases {
        let from = xs.len();
        for (i, x) in src.candidates(*u, last) {
            let y = truth
                .binary_search_by_key(&i, |t| t.0)
                .map_or(0.0, |k| truth[k].1 as f64);
            xs.push(x);
            ys.push(y);
        }
        groups.push(from..xs.len());
    }
    if xs.is_empty() || ys.iter().all(|&y| y == 0.0) {
        return None;
    }
    Some(poisson(&xs, &ys, &groups))
}

/// Newton's method for L2-penalised Poisson regression on standardised features with one free
/// intercept per group (user). With the intercepts profiled out this is the multinomial
/// (softmax) likelihood of which candidates a user's plays go to: only the ranking *within* a
/// user is learned, which is what HR@10 measures.
#[allow(clippy::needless_range_loop)] // dense linear algebra reads best indexed
fn poisson(xs: &[[f32; N]], ys: &[f64], groups: &[std::ops::Range<usize>]) -> Weights {
    let n = xs.len() as f64;
    let mut mean = [0f64; N];
    let mut sd = [0f64; N];
    for x in xs {
        for k in 0..N {
            mean[k] += x[k] as f64 / n;
        }
    }
    for x in xs {
        for k in 0..N {
            sd[k] += (x[k] as f64 - mean[k]).powi(2) / n;
        }
    }
    for s in &mut sd {
        *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
    }
    let zs: Vec<[f64; N]> = xs
        .iter()
        .map(|x| {
            let mut z = [0f64; N];
            for k in 0..N {
                z[k] = (x[k] as f64 - mean[k]) / sd[k];
            }
            z
        })
        .collect();
    let lambda = L2 * n / 1000.0;
    let dot = |b: &[f64; N], z: &[f64; N]| -> f64 { (0..N).map(|k| b[k] * z[k]).sum() };
    // Per group: Σ y·η − Y·log Σ exp η.
    let objective = |b: &[f64; N]| -> f64 {
        let mut ll = 0.0;
        for g in groups {
            let etas: Vec<f64> = zs[g.clone()].iter().map(|z| dot(b, z)).collect();
            let m = etas.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + etas.iter().map(|e| (e - m).exp()).sum::<f64>().ln();
            for (e, &y) in etas.iter().zip(&ys[g.clone()]) {
                ll += y * (e - lse);
            }
        }
        ll - 0.5 * lambda * b.iter().map(|w| w * w).sum::<f64>()
    };
    let mut b = [0f64; N];
    let mut cur = objective(&b);
    let mut iters = 0;
    for _ in 0..30 {
        iters += 1;
        let mut g = [0f64; N];
        let mut h = [[0f64; N]; N];
        for r in groups {
            let total: f64 = ys[r.clone()].iter().sum();
            if total == 0.0 {
                continue;
            }
            let etas: Vec<f64> = zs[r.clone()].iter().map(|z| dot(&b, z)).collect();
            let m = etas.iter().cloned().fold(f64::MIN, f64::max);
            let ps: Vec<f64> = etas.iter().map(|e| (e - m).exp()).collect();
            let sum: f64 = ps.iter().sum();
            let mut zbar = [0f64; N];
            for (z, p) in zs[r.clone()].iter().zip(&ps) {
                let p = p / sum;
                for k in 0..N {
                    zbar[k] += p * z[k];
                }
            }
            for ((z, p), &y) in zs[r.clone()].iter().zip(&ps).zip(&ys[r.clone()]) {
                let p = p / sum;
                for j in 0..N {
                    g[j] += (y - total * p) * z[j];
                    let dj = z[j] - zbar[j];
                    for k in 0..=j {
                        h[j][k] += total * p * dj * (z[k] - zbar[k]);
                    }
                }
            }
        }
        for j in 0..N {
            for k in 0..j {
                h[k][j] = h[j][k];
            }
            g[j] -= lambda * b[j];
            h[j][j] += lambda;
        }
        let Some(step) = solve(h, g) else { break };
        // Damped step: halve until the penalised likelihood improves.
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..20 {
            let mut nb = b;
            for k in 0..N {
                nb[k] += t * step[k];
            }
            let v = objective(&nb);
            if v.is_finite() && v >= cur {
                let gain = v - cur;
                b = nb;
                cur = v;
                improved = gain > 1e-7 * cur.abs().max(1.0);
                break;
            }
            t *= 0.5;
        }
        if !improved {
            break;
        }
    }
    Weights {
        mean,
        sd,
        w: b,
        intercept: 0.0,
        rows: xs.len(),
        iters,
    }
}

/// Solve `h · x = g` (symmetric positive definite) by Gaussian elimination with pivoting.
#[allow(clippy::needless_range_loop)] // dense linear algebra reads best indexed
fn solve<const D: usize>(mut a: [[f64; D]; D], mut b: [f64; D]) -> Option<[f64; D]> {
    for c in 0..D {
        let p = (c..D).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..D {
            let f = a[r][c] / a[c][c];
            for k in c..D {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0f64; D];
    for c in (0..D).rev() {
        let s: f64 = (c + 1..D).map(|k| a[c][k] * x[k]).sum();
        x[c] = (b[c] - s) / a[c][c];
    }
    Some(x)
}

/// The fitted ranking over a training set.
pub struct Blend {
    src: FeatureSource,
    weights: Weights,
}

impl Blend {
    pub fn fit(t: &Train, weights: &Weights) -> Self {
        Blend {
            src: FeatureSource::new(t),
            weights: weights.clone(),
        }
    }
}

impl Model for Blend {
    fn name(&self) -> &'static str {
        "blend"
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        let Some(u) = ctx.user else { return };
        let c = self.src.candidates(u, ctx.session);
        let etas: Vec<f64> = c.iter().map(|(_, x)| self.weights.eta(x)).collect();
        let top = etas.iter().cloned().fold(f64::MIN, f64::max);
        for ((i, _), e) in c.iter().zip(etas) {
            // exp(η − max) in (0, 1]: the expected plays up to one factor per user.
            out[*i as usize] += ((e - top).exp() as f32).max(f32::MIN_POSITIVE);
        }
    }
    fn because(&self, ctx: &Context<'_>, item: u32, label: &dyn Fn(u32) -> String) -> String {
        let Some(u) = ctx.user else {
            return "popular lately".into();
        };
        let c = self.src.candidates(u, ctx.session);
        let Some((_, x)) = c.iter().find(|c| c.0 == item) else {
            return "popular".into();
        };
        if x[5] > 0.0 {
            let plays = x[4].exp().round() - 1.0;
            let days = x[6].exp().round() - 1.0;
            format!("you played it {plays} times, last {days} days before your latest play")
        } else if x[8] > 0.0 {
            let _ = label;
            "new to you, by an artist you play lately".into()
        } else {
            "new to you, much played in the last two weeks".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solve_matches_a_known_system() {
        let a = [[4.0, 1.0], [1.0, 3.0]];
        let x = solve(a, [1.0, 2.0]).unwrap();
        assert!((x[0] - 1.0 / 11.0).abs() < 1e-12 && (x[1] - 7.0 / 11.0).abs() < 1e-12);
    }

    #[test]
    fn poisson_recovers_a_planted_weight() {
        // y ≈ exp(0.8·x0 − 0.5·x1) in two groups: the fit must recover both weights.
        let mut rng = crate::rng::Rng::new(5);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for _ in 0..3000 {
            let mut x = [0f32; N];
            x[0] = rng.next_f64() as f32 * 2.0;
            x[1] = rng.next_f64() as f32 * 2.0;
            let mu = (0.8 * x[0] as f64 - 0.5 * x[1] as f64).exp();
            // Poisson draw by inversion.
            let (mut k, mut p, u) = (0.0, (-mu).exp(), rng.next_f64());
            let mut cdf = p;
            while u > cdf && k < 100.0 {
                k += 1.0;
                p *= mu / k;
                cdf += p;
            }
            xs.push(x);
            ys.push(k);
        }
        let w = poisson(&xs, &ys, &[0..1500, 1500..3000]);
        let b0 = w.w[0] / w.sd[0];
        let b1 = w.w[1] / w.sd[1];
        assert!((b0 - 0.8).abs() < 0.1, "{w:?}");
        assert!((b1 + 0.5).abs() < 0.1, "{w:?}");
    }

    #[test]
    fn recent_obsession_and_favourite_both_rank_above_an_old_one_off() {
        // User 0: item 1 played 20 times long ago and 5 times lately (favourite), item 2 five
        // times in the last two days (obsession), item 3 once 100 days ago.
        let d = DAY_S as i64;
        let mut ev = Vec::new();
        for k in 0..20 {
            ev.push((0, 1, k * d));
        }
        ev.push((0, 3, 30 * d));
        for k in 0..5 {
            ev.push((0, 1, 100 * d + k * 3600));
            ev.push((0, 2, 128 * d + k * 3600));
        }
        ev.sort_by_key(|e| (e.0, e.2));
        let t = Train::new(1, 4, &ev, vec![0, 0, 1, 2]);
        let m = Blend::fit(&t, &Weights::default());
        let ctx = Context {
            user: Some(0),
            session: &[],
            history: &t.history[0],
        };
        let mut out = vec![0.0; 4];
        m.score(&ctx, &mut out);
        assert!(out[2] > out[3] && out[1] > out[3], "{out:?}");
        assert!(m
            .because(&ctx, 3, &|_| String::new())
            .contains("played it 1 times"));
    }
}
