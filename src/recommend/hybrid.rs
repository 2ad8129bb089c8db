//! Repeat-aware models. Listening is mostly re-listening, so the obvious answers are the user's
//! own plays: `most-played` (plain counts) and `recency` (each play weighted 0.5^(age /
//! half-life), age measured from the end of training, the half-life chosen on validation).
//! `hybrid` scores the user's known items by that frequency × recency weight and unheard items
//! by a collaborative or content model ([`COLLABS`], chosen on validation), each part
//! normalised to a maximum of 1 for the user, and mixes them: known `w·own`, new `(1−w)·collab`.
//! The new-item model and the mix `w` are learned on validation (`w` per user when the user has
//! ≥ [`MIN_USER_PLAYS`] validation plays, else one global value). [`tune`] does the validation: it splits the
//! training plays again at their 80% time quantile and scores `period` HR@10 on the rest.

use super::eval::{self, time_split};
use super::{models, Context, Model, Train};

pub const DAY_S: f64 = 86_400.0;
/// Half-lives tried on validation (days); `None` (no decay = most-played) is tried first.
pub const HALF_LIVES_DAYS: [f64; 10] = [0.5, 1.0, 2.0, 4.0, 7.0, 14.0, 30.0, 60.0, 120.0, 365.0];
/// Mixes tried on validation (1 = own plays only).
pub const MIXES: [f32; 11] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0];
/// Models tried on validation for the hybrid's unheard items (ALS only with ≥ 3 users).
pub const COLLABS: [&str; 4] = ["als", "content", "sknn", "item-knn"];
/// Two-scale own part: the short half-life is at most this, the long one at least this.
pub const SHORT_MAX_S: f64 = 7.0 * DAY_S;
pub const LONG_MIN_S: f64 = 14.0 * DAY_S;
/// Shares of the short scale tried on validation.
pub const SHORT_SHARES: [f32; 5] = [0.2, 0.35, 0.5, 0.65, 0.8];
/// Validation plays a user needs for a mix of their own.
pub const MIN_USER_PLAYS: usize = 30;

/// What validation chose.
#[derive(Clone, Debug, PartialEq)]
pub struct Tuning {
    /// Recency half-life in seconds; `None`: no decay (plain counts).
    pub half_life_s: Option<f64>,
    /// The hybrid's own part on two time scales: `(short half-life s, long half-life s or
    /// None = no decay, share a of the short one)`; each scale normalised to a maximum of 1 per
    /// user, mixed `a·short + (1−a)·long`. `None`: the recency half-life alone.
    pub two_scale: Option<(f64, Option<f64>, f32)>,
    /// Validation `period` HR@10 of the two-scale own part (0 when not chosen).
    pub two_scale_hr10: f64,
    /// The model scoring the hybrid's unheard items.
    pub collab: &'static str,
    /// Global hybrid mix.
    pub mix: f32,
    /// Per-user mixes (indexed by user id) where a user had enough validation plays.
    pub user_mix: Vec<Option<f32>>,
    /// Validation `period` HR@10 of the chosen recency and hybrid (0 when not validated).
    pub recency_hr10: f64,
    pub hybrid_hr10: f64,
    /// The `blend` ranking's weights, fitted on the validation period (`None`: not fitted).
    pub blend: Option<super::blend::Weights>,
    /// Validation `period` HR@10 of `blend` (in-sample: its weights were fitted there).
    pub blend_hr10: f64,
    /// `own-runs` (album-run discounting) as validation fitted it (`None`: not validated).
    pub runs: Option<super::runs::RunsTuning>,
    /// `rotation` (steady-rotation re-weighting) as validation fitted it (`None`: not
    /// validated).
    pub rotation: Option<super::rotation::RotationTuning>,
}

impl Default for Tuning {
    /// Used only when there is nothing to validate on (no plays after the inner split).
    fn default() -> Self {
        Tuning {
            half_life_s: Some(14.0 * DAY_S),
            two_scale: None,
            two_scale_hr10: 0.0,
            collab: "content",
            mix: 0.8,
            user_mix: Vec::new(),
            recency_hr10: 0.0,
            hybrid_hr10: 0.0,
            blend: None,
            blend_hr10: 0.0,
            runs: None,
            rotation: None,
        }
    }
}

impl Tuning {
    pub fn mix_for(&self, user: u32) -> f32 {
        self.user_mix
            .get(user as usize)
            .copied()
            .flatten()
            .unwrap_or(self.mix)
    }

    /// "half-lives 2 d × 0.35 + 60 d" when two scales were chosen, else as the recency one.
    pub fn own_label(&self) -> String {
        match self.two_scale {
            Some((hs, hl, a)) => format!(
                "half-lives {} d × {a} + {}",
                hs / DAY_S,
                hl.map_or("no decay".into(), |h| format!("{} d", h / DAY_S))
            ),
            None => self.half_life_label(),
        }
    }

    /// "half-life 7 d" or "no decay".
    pub fn half_life_label(&self) -> String {
        match self.half_life_s {
            Some(h) => format!("half-life {} d", h / DAY_S),
            None => "no decay".into(),
        }
    }
}

/// One known item of a user: weight, play count and last play time.
#[derive(Clone, Copy, Debug)]
struct Known {
    item: u32,
    weight: f32,
    count: u32,
    last: i64,
}

/// The user's own plays: `most-played` (no decay) or `recency` (exponential decay).
pub struct Own {
    name: &'static str,
    rows: Vec<Vec<Known>>,
    end: i64,
}

impl Own {
    pub fn fit(t: &Train, half_life_s: Option<f64>, name: &'static str) -> Self {
        Self::fit_weighted(t, half_life_s, name, |_, _| 1.0)
    }

    /// As [`Own::fit`], each play's decayed weight multiplied by `mult(user, k)` (`k`: the
    /// play's index in the user's history) — how `own-runs` discounts album-run plays.
    pub fn fit_weighted(
        t: &Train,
        half_life_s: Option<f64>,
        name: &'static str,
        mult: impl Fn(usize, usize) -> f32,
    ) -> Self {
        let rows = t
            .history
            .iter()
            .zip(&t.history_ts)
            .enumerate()
            .map(|(u, (h, ts))| {
                let mut row: Vec<Known> = Vec::new();
                let mut idx: crate::logs::FxMap<u32, usize> = Default::default();
                for (k, (&i, &when)) in h.iter().zip(ts).enumerate() {
                    let w = mult(u, k)
                        * match half_life_s {
                            Some(hl) => 0.5f64.powf((t.end - when).max(0) as f64 / hl) as f32,
                            None => 1.0,
                        };
                    let k = *idx.entry(i).or_insert_with(|| {
                        row.push(Known {
                            item: i,
                            weight: 0.0,
                            count: 0,
                            last: when,
                        });
                        row.len() - 1
                    });
                    row[k].weight += w;
                    row[k].count += 1;
                    row[k].last = row[k].last.max(when);
                }
                row
            })
            .collect();
        Own {
            name,
            rows,
            end: t.end,
        }
    }

    /// Two time scales mixed: per user each scale's weights are divided by their maximum, then
    /// `a·short + (1−a)·long` (rows of both list the same items in the same order).
    pub fn two(short: &Own, long: &Own, a: f32, name: &'static str) -> Self {
        let rows = short
            .rows
            .iter()
            .zip(&long.rows)
            .map(|(s, l)| {
                let ms = s.iter().map(|k| k.weight).fold(0f32, f32::max).max(1e-30);
                let ml = l.iter().map(|k| k.weight).fold(0f32, f32::max).max(1e-30);
                s.iter()
                    .zip(l)
                    .map(|(ks, kl)| Known {
                        weight: a * ks.weight / ms + (1.0 - a) * kl.weight / ml,
                        ..*ks
                    })
                    .collect()
            })
            .collect();
        Own {
            name,
            rows,
            end: short.end,
        }
    }

    /// The hybrid's own part as `tuning` says: two scales when chosen, else the recency one.
    pub fn fit_tuned(t: &Train, tuning: &Tuning) -> Self {
        match tuning.two_scale {
            Some((hs, hl, a)) => Own::two(
                &Own::fit(t, Some(hs), "recency"),
                &Own::fit(t, hl, "recency"),
                a,
                "recency",
            ),
            None => Own::fit(t, tuning.half_life_s, "recency"),
        }
    }

    fn row(&self, user: Option<u32>) -> &[Known] {
        user.and_then(|u| self.rows.get(u as usize))
            .map_or(&[], Vec::as_slice)
    }

    fn explain(&self, ctx: &Context<'_>, item: u32) -> Option<String> {
        let k = self.row(ctx.user).iter().find(|k| k.item == item)?;
        let days = (self.end - k.last).max(0) as f64 / DAY_S;
        Some(format!(
            "you played it {} times, last {:.0} days before your latest play",
            k.count, days
        ))
    }
}

impl Model for Own {
    fn name(&self) -> &'static str {
        self.name
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        for k in self.row(ctx.user) {
            out[k.item as usize] += k.weight;
        }
    }
    fn because(&self, ctx: &Context<'_>, item: u32, _: &dyn Fn(u32) -> String) -> String {
        self.explain(ctx, item)
            .unwrap_or_else(|| "not in your plays (popular)".into())
    }
}

/// Known items by frequency × recency, new items by a collaborative model, mixed.
pub struct Hybrid {
    own: Own,
    collab: Box<dyn Model>,
    tuning: Tuning,
}

/// A user's two normalised parts: own weights of known items, collaborative scores of the rest.
pub struct Parts {
    pub known: Vec<(u32, f32)>,
    pub new: Vec<f32>,
}

impl Hybrid {
    pub fn fit(t: &Train, tuning: &Tuning) -> Self {
        let name = if tuning.collab == "als" && t.n_users < 3 {
            "content"
        } else {
            tuning.collab
        };
        let collab = models::build(name, t, tuning).expect("COLLABS are built-in models");
        Hybrid {
            own: Own::fit_tuned(t, tuning),
            collab,
            tuning: tuning.clone(),
        }
    }

    /// The collaborative model's name (what scores the new items).
    pub fn collab_name(&self) -> &'static str {
        self.collab.name()
    }

    /// Both parts for a context, each normalised to a maximum of 1 (known items get 0 in `new`).
    pub fn parts(&self, ctx: &Context<'_>, n_items: usize) -> Parts {
        let row = self.own.row(ctx.user);
        let mut new = vec![0f32; n_items];
        self.collab.score(ctx, &mut new);
        for k in row {
            new[k.item as usize] = 0.0;
        }
        let maxn = new.iter().cloned().fold(0f32, f32::max);
        for s in &mut new {
            *s = if maxn > 0.0 { s.max(0.0) / maxn } else { 0.0 };
        }
        let maxk = row.iter().map(|k| k.weight).fold(0f32, f32::max);
        let known = row
            .iter()
            .map(|k| (k.item, if maxk > 0.0 { k.weight / maxk } else { 0.0 }))
            .collect();
        Parts { known, new }
    }
}

/// Write the mixed score `w·own` (known) / `(1−w)·collab` (new) into `out`.
pub fn combine(p: &Parts, w: f32, out: &mut [f32]) {
    for (o, &n) in out.iter_mut().zip(&p.new) {
        *o += (1.0 - w) * n;
    }
    for &(i, k) in &p.known {
        out[i as usize] += w * k;
    }
}

impl Model for Hybrid {
    fn name(&self) -> &'static str {
        "hybrid"
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        let p = self.parts(ctx, out.len());
        let w = ctx.user.map_or(self.tuning.mix, |u| self.tuning.mix_for(u));
        combine(&p, w, out);
    }
    fn because(&self, ctx: &Context<'_>, item: u32, label: &dyn Fn(u32) -> String) -> String {
        self.own
            .explain(ctx, item)
            .unwrap_or_else(|| format!("new to you: {}", self.collab.because(ctx, item, label)))
    }
}

/// Choose the recency half-life and the hybrid mix on a validation split of `train` (its
/// plays before / after their 80% time quantile), by `period` HR@10.
pub fn tune(train: &Train) -> Tuning {
    let ev = train.events();
    let (inner_ev, valid_ev) = time_split(&ev, 0.8);
    let inner = Train::new(
        train.n_users,
        train.n_items,
        &inner_ev,
        train.artist_of.clone(),
    );
    let cases = eval::cases(&inner, &valid_ev, 0, &[super::Mode::Period]);
    if cases.period.is_empty() {
        return Tuning::default();
    }
    let mut best: (f64, Option<f64>) = (-1.0, None);
    let candidates = std::iter::once(None).chain(HALF_LIVES_DAYS.iter().map(|d| Some(d * DAY_S)));
    let mut owns = Vec::new();
    for hl in candidates {
        let m = Own::fit(&inner, hl, "recency");
        let hr = eval::score(&m, &inner, &cases, super::Mode::Period).hr10;
        if hr > best.0 + 1e-12 {
            best = (hr, hl);
        }
        owns.push((hl, m));
    }
    let mut tuning = Tuning {
        half_life_s: best.1,
        recency_hr10: best.0,
        ..Tuning::default()
    };
    // Two time scales: a short one (current obsessions) and a long one (favourites).
    tuning.runs = Some(super::runs::tune(&inner, &cases, best.1));
    tuning.rotation = Some(super::rotation::tune(&inner, &cases, best.1));
    let mut best2 = (best.0, None);
    for (hs, short) in owns
        .iter()
        .filter(|o| o.0.is_some_and(|h| h <= SHORT_MAX_S))
    {
        for (hl, long) in owns.iter().filter(|o| o.0.is_none_or(|h| h >= LONG_MIN_S)) {
            for a in SHORT_SHARES {
                let m = Own::two(short, long, a, "recency");
                let hr = eval::score(&m, &inner, &cases, super::Mode::Period).hr10;
                if hr > best2.0 + 1e-12 {
                    best2 = (hr, Some((hs.unwrap_or(0.0), *hl, a)));
                }
            }
        }
    }
    if best2.1.is_some() {
        tuning.two_scale = best2.1;
        tuning.two_scale_hr10 = best2.0;
    }
    tuning.blend = super::blend::fit(&inner, &cases.period);
    if let Some(w) = &tuning.blend {
        let m = super::blend::Blend::fit(&inner, w);
        tuning.blend_hr10 = eval::score(&m, &inner, &cases, super::Mode::Period).hr10;
    }
    // New-item model and mix: the share of each user's validation plays hit by the top 10,
    // for every (model, w).
    let maxp = inner.pop.iter().cloned().fold(1.0f32, f32::max);
    let mut plays = vec![0f64; cases.period.len()];
    let mut scores = vec![0f32; inner.n_items];
    let mut best_grid: Option<(f64, &'static str, Vec<Vec<f64>>)> = None;
    for collab in COLLABS {
        if collab == "als" && inner.n_users < 3 {
            continue;
        }
        tuning.collab = collab;
        let h = Hybrid::fit(&inner, &tuning);
        let mut hits = vec![vec![0f64; MIXES.len()]; cases.period.len()];
        for (c, (u, last, truth)) in cases.period.iter().enumerate() {
            let ctx = Context {
                user: Some(*u),
                session: last,
                history: &inner.history[*u as usize],
            };
            let parts = h.parts(&ctx, inner.n_items);
            plays[c] = truth.iter().map(|t| t.1 as f64).sum();
            for (k, &w) in MIXES.iter().enumerate() {
                for (s, p) in scores.iter_mut().zip(&inner.pop) {
                    *s = 1e-6 * p / maxp;
                }
                combine(&parts, w, &mut scores);
                let top = super::top_n(&scores, 10);
                hits[c][k] = truth
                    .iter()
                    .filter(|t| top.contains(&t.0))
                    .map(|t| t.1 as f64)
                    .sum();
            }
        }
        let top = (0..MIXES.len())
            .map(|k| hits.iter().map(|h| h[k]).sum::<f64>())
            .fold(0.0, f64::max);
        if best_grid.as_ref().is_none_or(|b| top > b.0 + 1e-12) {
            best_grid = Some((top, collab, hits));
        }
    }
    let Some((_, collab, hits)) = best_grid else {
        return tuning;
    };
    tuning.collab = collab;
    let total: f64 = plays.iter().sum::<f64>().max(1.0);
    let sums: Vec<f64> = (0..MIXES.len())
        .map(|k| hits.iter().map(|h| h[k]).sum())
        .collect();
    // Ties go to the larger w (closer to the user's own plays).
    let gk = argmax(&sums, Some(MIXES.len() - 1));
    tuning.mix = MIXES[gk];
    tuning.user_mix = vec![None; train.n_users];
    let mut tuned_hits = 0.0;
    for (c, (u, _, _)) in cases.period.iter().enumerate() {
        // A user's own mix only where it is clearly better for them (≥ 5% of their plays):
        // smaller gains are noise that does not carry over to the next period.
        let own = argmax(&hits[c], Some(gk));
        let k =
            if plays[c] >= MIN_USER_PLAYS as f64 && hits[c][own] >= hits[c][gk] + 0.05 * plays[c] {
                tuning.user_mix[*u as usize] = Some(MIXES[own]);
                own
            } else {
                gk
            };
        tuned_hits += hits[c][k];
    }
    tuning.hybrid_hr10 = tuned_hits / total;
    tuning
}

/// Index of the largest value; ties go to the one nearest `prefer` (else the first).
fn argmax(v: &[f64], prefer: Option<usize>) -> usize {
    let best = v.iter().cloned().fold(f64::MIN, f64::max);
    let tied = (0..v.len()).filter(|&k| v[k] >= best - 1e-12);
    match prefer {
        Some(p) => tied.min_by_key(|&k| k.abs_diff(p)).unwrap_or(0),
        None => tied.min().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recency_weights_by_half_life() {
        // Item 2 twice 4 days before the end, item 1 2 days before, item 3 at the end.
        let d = DAY_S as i64;
        let ev = vec![(0, 2, 0), (0, 2, 0), (0, 1, 2 * d), (0, 3, 4 * d)];
        let t = Train::new(1, 4, &ev, vec![0; 4]);
        let m = Own::fit(&t, Some(2.0 * DAY_S), "recency");
        let ctx = Context {
            user: Some(0),
            session: &[],
            history: &t.history[0],
        };
        let mut out = vec![0.0; 4];
        m.score(&ctx, &mut out);
        assert!((out[2] - 2.0 * 0.25).abs() < 1e-6, "{out:?}");
        assert!((out[1] - 0.5).abs() < 1e-6);
        assert!((out[3] - 1.0).abs() < 1e-6);
        let c = Own::fit(&t, None, "most-played");
        let mut out = vec![0.0; 4];
        c.score(&ctx, &mut out);
        assert_eq!(out, vec![0.0, 1.0, 2.0, 1.0]);
    }

    #[test]
    fn two_scales_mix_normalised_weights() {
        // Item 1: ten plays 60 days before the end (a favourite); item 2: two plays at the end.
        let d = DAY_S as i64;
        let mut ev: Vec<(u32, u32, i64)> = (0..10).map(|k| (0, 1, k * 60)).collect();
        ev.push((0, 2, 60 * d));
        ev.push((0, 2, 60 * d));
        let t = Train::new(1, 3, &ev, vec![0; 3]);
        let short = Own::fit(&t, Some(DAY_S), "recency");
        let long = Own::fit(&t, None, "recency");
        let ctx = Context {
            user: Some(0),
            session: &[],
            history: &t.history[0],
        };
        let score = |m: &Own| {
            let mut out = vec![0.0; 3];
            m.score(&ctx, &mut out);
            out
        };
        // Short scale alone: item 2 (≈1) far above item 1 (≈0); counts alone: item 1 (1) above
        // item 2 (0.2); half and half: 0.5·(0, 1) + 0.5·(1, 0.2).
        let mixed = score(&Own::two(&short, &long, 0.5, "recency"));
        assert!((mixed[1] - 0.5).abs() < 1e-3, "{mixed:?}");
        assert!((mixed[2] - 0.6).abs() < 1e-3, "{mixed:?}");
        let mostly_long = score(&Own::two(&short, &long, 0.2, "recency"));
        assert!(mostly_long[1] > mostly_long[2], "{mostly_long:?}");
        let tuned = Tuning {
            two_scale: Some((DAY_S, None, 0.5)),
            ..Tuning::default()
        };
        assert_eq!(score(&Own::fit_tuned(&t, &tuned)), mixed);
        assert!(tuned
            .own_label()
            .starts_with("half-lives 1 d × 0.5 + no decay"));
    }

    #[test]
    fn combine_mixes_known_and_new() {
        let p = Parts {
            known: vec![(0, 1.0), (1, 0.5)],
            new: vec![0.0, 0.0, 1.0, 0.2],
        };
        let mut out = vec![0.0; 4];
        combine(&p, 0.6, &mut out);
        let want = [0.6, 0.3, 0.4, 0.08];
        for (o, w) in out.iter().zip(want) {
            assert!((o - w).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn argmax_prefers_nearest_on_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 3.0], Some(3)), 3);
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 3.0], None), 1);
        assert_eq!(argmax(&[3.0, 1.0, 1.0, 3.0], Some(2)), 3);
    }
}
