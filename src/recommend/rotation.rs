//! `rotation`: the user's own recency-weighted plays, re-weighted by **how much each play
//! looks like part of the user's steady rotation** rather than a burst (issue #20).
//!
//! A track's recent play count mixes "the user picks this again and again" (a favourite in
//! rotation — predictive of the coming weeks) with bursts: an album played through, or a few
//! days of exploring an artist, which put many plays on tracks the user will not come back
//! to. From the logs alone, three signals separate them (all per user, all computed from the
//! user's own history up to the training end):
//!
//! - **per-session cap**: within one session (a < 30 min gap) a track's plays count at most
//!   `cap` times — a favourite recurs across sessions, a burst repeats inside one;
//! - **context**: a play's weight is `(1 − γ) + γ·f`, where `f` is the share of the other
//!   distinct tracks of its session that were already *established* when it was played —
//!   heard in at least `est_sessions` earlier sessions of the user. Rotation plays sit next
//!   to other rotation tracks; exploring and album plays sit next to tracks new to the user.
//!   A session with no other track counts `f = 1` (neutral);
//! - **spread**: a track heard in fewer than `min_sessions` distinct sessions in all of the
//!   user's history has its weight multiplied by `thin_weight`.
//!
//! Every choice (half-life, `cap`, `γ`, `est_sessions`, `min_sessions`, `thin_weight`) is
//! fitted on the validation period only ([`tune`]) and kept only when the paired bootstrap over
//! validation users puts its HR@10 gain over recency above 0; otherwise `rotation` is exactly
//! `recency` and says so.

use super::bootstrap;
use super::eval::Cases;
use super::hybrid::{Own, DAY_S, HALF_LIVES_DAYS};
use super::runs::hits10;
use super::{Context, Model, Train, SESSION_GAP_S};
use crate::logs::FxMap;

/// What validation chose for `rotation`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RotationConfig {
    /// Half-life in seconds (`None`: no decay).
    pub half_life_s: Option<f64>,
    /// Plays of one track counted per session (0: no cap).
    pub cap: u32,
    /// Weight of the context term (0: off).
    pub gamma: f32,
    /// Earlier sessions a neighbour needs to count as established.
    pub est_sessions: u32,
    /// The context is the plays within [`WINDOW`] either side, not the whole session.
    pub near: bool,
    /// 0: the context term is linear in `f`; else a play whose `f` is below this gets
    /// `1 − γ`, one at or above it 1.
    pub threshold: f32,
    /// Tracks heard in fewer distinct sessions than this are thin (≤ 1: off).
    pub min_sessions: u32,
    /// Multiplier of a thin track's plays.
    pub thin_weight: f32,
}

impl RotationConfig {
    /// Exactly `recency` at `half_life_s`.
    pub fn plain(half_life_s: Option<f64>) -> Self {
        RotationConfig {
            half_life_s,
            cap: 0,
            gamma: 0.0,
            est_sessions: 2,
            threshold: 0.0,
            near: false,
            min_sessions: 1,
            thin_weight: 1.0,
        }
    }

    pub fn is_plain(&self) -> bool {
        self.cap == 0 && self.gamma == 0.0 && (self.min_sessions <= 1 || self.thin_weight >= 1.0)
    }

    pub fn label(&self) -> String {
        let hl = self
            .half_life_s
            .map_or("no decay".into(), |h| format!("half-life {} d", h / DAY_S));
        if self.is_plain() {
            return format!("{hl}, no re-weighting (= recency)");
        }
        let mut parts = vec![hl];
        if self.cap > 0 {
            parts.push(format!("≤ {} plays per session", self.cap));
        }
        if self.gamma > 0.0 {
            parts.push(format!(
                "context γ {} ({}neighbours heard in ≥ {} earlier sessions{})",
                self.gamma,
                if self.near {
                    format!("±{WINDOW} ")
                } else {
                    String::new()
                },
                self.est_sessions,
                if self.threshold > 0.0 {
                    format!(", share ≥ {}", self.threshold)
                } else {
                    String::new()
                }
            ));
        }
        if self.min_sessions > 1 && self.thin_weight < 1.0 {
            parts.push(format!(
                "tracks in < {} sessions × {}",
                self.min_sessions, self.thin_weight
            ));
        }
        parts.join(", ")
    }
}

/// Per play of one user: what the weights are made of.
#[derive(Clone, Debug, Default)]
pub struct PlayFacts {
    /// 1 for the first play of the track in its session, 2 for the second, …
    pub nth_in_session: Vec<u32>,
    /// Share of the session's other distinct tracks established at that time, per
    /// `est_sessions` = 1, 2, 3, 4 (index `est_sessions − 1`); 1 when the session has no other
    /// track.
    pub context: Vec<[f32; 4]>,
    /// As `context` over the other distinct tracks within [`WINDOW`] plays either side in the
    /// session (a segment rather than the whole session).
    pub near: Vec<[f32; 4]>,
    /// Distinct sessions of the play's track in the user's whole history.
    pub item_sessions: Vec<u32>,
}

/// Facts of every play of user `u` (same order as `t.history[u]`).
pub fn facts(t: &Train, u: usize) -> PlayFacts {
    let h = &t.history[u];
    let ts = &t.history_ts[u];
    let n = h.len();
    let mut f = PlayFacts {
        nth_in_session: vec![0; n],
        context: vec![[1.0; 4]; n],
        near: vec![[1.0; 4]; n],
        item_sessions: vec![0; n],
    };
    // Sessions sessions of earlier plays: item → distinct sessions before the current one.
    let mut before: FxMap<u32, u32> = FxMap::default();
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && ts[end] - ts[end - 1] < SESSION_GAP_S {
            end += 1;
        }
        let mut distinct: Vec<u32> = h[start..end].to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        // Established counts per threshold among the session's distinct tracks.
        let est = |i: u32| before.get(&i).copied().unwrap_or(0);
        let mut n_est = [0u32; 4];
        for &i in &distinct {
            for (k, c) in n_est.iter_mut().enumerate() {
                if est(i) > k as u32 {
                    *c += 1;
                }
            }
        }
        let others = distinct.len() as f32 - 1.0;
        let mut nth: FxMap<u32, u32> = FxMap::default();
        for (p, &i) in h.iter().enumerate().take(end).skip(start) {
            let c = nth.entry(i).or_insert(0);
            *c += 1;
            f.nth_in_session[p] = *c;
            if others > 0.0 {
                for (k, (ctx, &n)) in f.context[p].iter_mut().zip(&n_est).enumerate() {
                    let own = u32::from(est(i) > k as u32);
                    *ctx = (n - own) as f32 / others;
                }
            }
        }
        for p in start..end {
            let lo = p.saturating_sub(WINDOW).max(start);
            let hi = (p + WINDOW + 1).min(end);
            let mut near: Vec<u32> = h[lo..hi].iter().copied().filter(|&i| i != h[p]).collect();
            near.sort_unstable();
            near.dedup();
            if !near.is_empty() {
                for k in 0..4 {
                    let e = near.iter().filter(|&&i| est(i) > k as u32).count();
                    f.near[p][k] = e as f32 / near.len() as f32;
                }
            }
        }
        for &i in &distinct {
            *before.entry(i).or_insert(0) += 1;
        }
        start = end;
    }
    for (p, &i) in h.iter().enumerate() {
        f.item_sessions[p] = before.get(&i).copied().unwrap_or(0);
    }
    f
}

/// Plays either side of a play that make its neighbourhood for [`PlayFacts::near`].
pub const WINDOW: usize = 2;

/// Every user's play facts.
pub fn all_facts(t: &Train) -> Vec<PlayFacts> {
    (0..t.n_users).map(|u| facts(t, u)).collect()
}

/// The weight of play `p` of a user with facts `f` under `c` (decay not included).
pub fn play_weight(f: &PlayFacts, p: usize, c: &RotationConfig) -> f32 {
    if c.cap > 0 && f.nth_in_session[p] > c.cap {
        return 0.0;
    }
    let mut w = 1.0;
    if c.gamma > 0.0 {
        let k = (c.est_sessions.clamp(1, 4) - 1) as usize;
        let share = if c.near {
            f.near[p][k]
        } else {
            f.context[p][k]
        };
        let g = if c.threshold > 0.0 {
            f32::from(share >= c.threshold)
        } else {
            share
        };
        w *= (1.0 - c.gamma) + c.gamma * g;
    }
    if c.min_sessions > 1 && f.item_sessions[p] < c.min_sessions {
        w *= c.thin_weight;
    }
    w
}

/// The rotation model.
pub struct Rotation {
    own: Own,
    pub config: RotationConfig,
}

impl Rotation {
    pub fn fit(t: &Train, c: &RotationConfig) -> Self {
        let facts = if c.is_plain() {
            Vec::new()
        } else {
            all_facts(t)
        };
        Self::with_facts(t, c, &facts)
    }

    /// As [`Rotation::fit`] with the facts already computed (`all_facts(t)`).
    pub fn with_facts(t: &Train, c: &RotationConfig, facts: &[PlayFacts]) -> Self {
        let own = Own::fit_weighted(t, c.half_life_s, "rotation", |u, k| {
            facts.get(u).map_or(1.0, |f| play_weight(f, k, c))
        });
        Rotation { own, config: *c }
    }
}

impl Model for Rotation {
    fn name(&self) -> &'static str {
        "rotation"
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        self.own.score(ctx, out)
    }
    fn because(&self, ctx: &Context<'_>, item: u32, label: &dyn Fn(u32) -> String) -> String {
        self.own.because(ctx, item, label)
    }
}

/// The re-weightings tried on validation at each half-life (kept small: every one is a full
/// `period` scoring of the validation users, inside `--eval` and the chooser). Picked from the
/// wider sweep of `examples/recommend_headroom.rs -- LOGS rotation` (docs/logs.md).
pub fn variants(half_life_s: Option<f64>) -> Vec<RotationConfig> {
    let p = RotationConfig::plain(half_life_s);
    vec![
        RotationConfig { cap: 2, ..p },
        RotationConfig {
            gamma: 0.5,
            est_sessions: 3,
            ..p
        },
        RotationConfig {
            gamma: 0.5,
            est_sessions: 1,
            threshold: 0.5,
            near: true,
            ..p
        },
        RotationConfig {
            gamma: 0.5,
            est_sessions: 2,
            near: true,
            ..p
        },
        RotationConfig {
            min_sessions: 3,
            thin_weight: 0.5,
            ..p
        },
    ]
}

/// Every configuration tried at the half-lives `hls`.
pub fn grid(hls: &[Option<f64>]) -> Vec<RotationConfig> {
    hls.iter().flat_map(|&h| variants(h)).collect()
}

/// `tune`'s answer: the configuration used and what validation saw.
pub type RotationTuning = bootstrap::Gated<RotationConfig>;

/// Recency's half-life and its two neighbours in the grid.
pub fn nearby_half_lives(recency_hl: Option<f64>) -> Vec<Option<f64>> {
    let mut hls: Vec<Option<f64>> = vec![recency_hl];
    let grid: Vec<Option<f64>> = std::iter::once(None)
        .chain(HALF_LIVES_DAYS.iter().map(|d| Some(d * DAY_S)))
        .collect();
    if let Some(p) = grid.iter().position(|h| *h == recency_hl) {
        for q in [p.wrapping_sub(1), p + 1] {
            if let Some(h) = grid.get(q).filter(|h| h.is_some()) {
                hls.push(*h);
            }
        }
    }
    hls
}

/// Fit `rotation` on the validation `cases` (`inner`: the training plays before the
/// validation period) against recency at `recency_hl`: the [`grid`] at recency's half-life
/// and its two neighbours; keep the best only when its paired-bootstrap interval against
/// recency on those users lies above 0.
pub fn tune(inner: &Train, cases: &Cases, recency_hl: Option<f64>) -> RotationTuning {
    let plain = RotationConfig::plain(recency_hl);
    let rec = hits10(&Rotation::fit(inner, &plain), inner, cases);
    let facts = all_facts(inner);
    let mut best = (rec.0, plain, rec.1.clone());
    for c in grid(&nearby_half_lives(recency_hl)) {
        if c.is_plain() {
            continue;
        }
        let r = hits10(&Rotation::with_facts(inner, &c, &facts), inner, cases);
        if r.0 > best.0 + 1e-12 {
            best = (r.0, c, r.1);
        }
    }
    bootstrap::gate(best, &rec, plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;
    const D: i64 = 86_400;

    fn scores(m: &dyn Model, t: &Train) -> Vec<f32> {
        let mut out = vec![0f32; t.n_items];
        m.score(
            &Context {
                user: Some(0),
                session: &[],
                history: &t.history[0],
            },
            &mut out,
        );
        out
    }

    /// Item 0 (B) is a burst: six plays in one session on day 6, between five tracks new to
    /// the user (10..15). Item 1 (S) is in steady rotation: one play a day on days 0..5, each
    /// time in a session with the rotation tracks 2, 3, 4. Without decay both have six plays;
    /// with a 14-day half-life the burst is more recent and weighs more. Recency ranks B at
    /// least as high as S (ties: the lower id); every re-weighting ranks S above B.
    fn burst_and_rotation() -> Train {
        let mut ev = Vec::new();
        for d in 0..6 {
            let t0 = d * D + 20 * H;
            for (k, i) in [2, 1, 3, 4].into_iter().enumerate() {
                ev.push((0, i, t0 + k as i64 * 240));
            }
        }
        let t0 = 6 * D + 20 * H;
        for k in 0..5 {
            ev.push((0, 0, t0 + 2 * k * 240));
            ev.push((0, 10 + k as u32, t0 + (2 * k + 1) * 240));
        }
        ev.push((0, 0, t0 + 10 * 240));
        Train::new(1, 16, &ev, (0..16).collect())
    }

    #[test]
    fn steady_rotation_outranks_a_burst_with_the_same_weighted_count() {
        let t = burst_and_rotation();
        for hl in [None, Some(14.0 * DAY_S)] {
            let rec = scores(&Own::fit(&t, hl, "recency"), &t);
            assert!(
                rec[0] >= rec[1],
                "recency: burst {} steady {}",
                rec[0],
                rec[1]
            );
            let plain = scores(&Rotation::fit(&t, &RotationConfig::plain(hl)), &t);
            assert_eq!(plain, rec, "plain rotation is recency");
            let configs = [
                RotationConfig {
                    cap: 1,
                    ..RotationConfig::plain(hl)
                },
                RotationConfig {
                    gamma: 1.0,
                    est_sessions: 1,
                    ..RotationConfig::plain(hl)
                },
                RotationConfig {
                    gamma: 0.75,
                    est_sessions: 1,
                    threshold: 0.5,
                    ..RotationConfig::plain(hl)
                },
                RotationConfig {
                    min_sessions: 3,
                    thin_weight: 0.25,
                    ..RotationConfig::plain(hl)
                },
            ];
            for c in configs {
                let s = scores(&Rotation::fit(&t, &c), &t);
                assert!(s[1] > s[0], "{}: burst {} steady {}", c.label(), s[0], s[1]);
            }
        }
    }

    #[test]
    fn facts_count_session_order_and_established_neighbours() {
        let t = burst_and_rotation();
        let f = facts(&t, 0);
        // First session: nothing established yet.
        assert_eq!(&f.context[..4], &[[0.0; 4]; 4]);
        // Second session (day 1): the other three tracks were heard in one earlier session.
        assert_eq!(f.context[4], [1.0, 0.0, 0.0, 0.0]);
        // Day 5: heard in five earlier sessions.
        assert_eq!(f.context[20], [1.0; 4]);
        // The burst session: B's neighbours are all new; B is the sixth play on the sixth.
        assert_eq!(f.context[24], [0.0; 4]);
        assert_eq!(
            f.nth_in_session[24..]
                .iter()
                .step_by(2)
                .copied()
                .collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 6]
        );
        // Distinct sessions per track over the whole history.
        assert_eq!(f.item_sessions[0], 6);
        assert_eq!(f.item_sessions[24], 1);
    }
}
