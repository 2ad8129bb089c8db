//! The recommenders: popularity (baseline), session kNN (SKNN), item kNN over session
//! co-occurrence, first-order Markov, the seed article's sigmoid scorer r_ui = σ(α(p_u − p_i)),
//! content similarity over artist profiles, implicit ALS (in `als`), the repeat-aware
//! baselines and hybrid (in `hybrid`), the per-item change-point shares (in `changepoint`), and the learned `blend` (in `blend`). Each is fitted once from [`Train`] (with the
//! validation-chosen [`Tuning`] where it has one) and then scores the whole catalogue for a
//! [`Context`].

use super::hybrid::{Hybrid, Own, Tuning};
use super::{als, Context, Model, Train};
use crate::logs::FxMap;

/// Model names accepted by [`build`]: the baselines first (the chooser prefers the earlier
/// name on a tie).
pub const NAMES: [&str; 14] = [
    "popularity",
    "most-played",
    "recency",
    "sknn",
    "item-knn",
    "markov",
    "als",
    "sigmoid",
    "content",
    "hybrid",
    "blend",
    "own-runs",
    "rotation",
    "changepoint",
];

/// The baselines a model must beat.
pub const BASELINES: [&str; 3] = ["popularity", "most-played", "recency"];

/// Fit a model by name; `tuning` gives `recency` its half-life and `hybrid` its mix.
pub fn build(name: &str, train: &Train, tuning: &Tuning) -> Option<Box<dyn Model>> {
    Some(match name {
        "popularity" => Box::new(Popularity::fit(train)),
        "most-played" => Box::new(Own::fit(train, None, "most-played")),
        "recency" => Box::new(Own::fit(train, tuning.half_life_s, "recency")),
        "hybrid" => Box::new(Hybrid::fit(train, tuning)),
        "blend" => Box::new(super::blend::Blend::fit(
            train,
            &tuning.blend.clone().unwrap_or_default(),
        )),
        "own-runs" => Box::new(super::runs::OwnRuns::fit(
            train,
            &tuning
                .runs
                .as_ref()
                .map_or(super::runs::RunsConfig::plain(tuning.half_life_s), |r| {
                    r.config
                }),
        )),
        "rotation" => Box::new(super::rotation::Rotation::fit(
            train,
            &tuning.rotation.as_ref().map_or(
                super::rotation::RotationConfig::plain(tuning.half_life_s),
                |r| r.config,
            ),
        )),
        "changepoint" => Box::new(super::changepoint::ChangePoint::fit(train)),
        "sknn" => Box::new(Sknn::fit(train, 100, 500)),
        "item-knn" => Box::new(ItemKnn::fit(train)),
        "markov" => Box::new(Markov::fit(train)),
        "als" => Box::new(als::Als::fit(train, &als::AlsConfig::default())),
        "sigmoid" => Box::new(Sigmoid::fit(train, 1.0, 20, 7)),
        "content" => Box::new(Content::fit(train)),
        _ => return None,
    })
}

/// Fixed per-user item scores computed elsewhere (an experiment's estimate, a bound, a
/// peer's list), scored like any model so `eval::score` and the bootstrap can judge them.
/// Items a user's row lacks score 0; rows beyond the users and items beyond the catalogue are
/// ignored.
pub struct Fixed {
    pub rows: Vec<std::collections::HashMap<u32, f32>>,
    pub name: &'static str,
}

impl Model for Fixed {
    fn name(&self) -> &'static str {
        self.name
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        if let Some(row) = ctx.user.and_then(|u| self.rows.get(u as usize)) {
            for (&i, &w) in row {
                if let Some(o) = out.get_mut(i as usize) {
                    *o += w;
                }
            }
        }
    }
    fn because(&self, _: &Context<'_>, _: u32, _: &dyn Fn(u32) -> String) -> String {
        String::new()
    }
}

/// Most played items overall.
pub struct Popularity {
    pop: Vec<f32>,
}

impl Popularity {
    pub fn fit(t: &Train) -> Self {
        Popularity { pop: t.pop.clone() }
    }
}

impl Model for Popularity {
    fn name(&self) -> &'static str {
        "popularity"
    }
    fn score(&self, _: &Context<'_>, out: &mut [f32]) {
        out.copy_from_slice(&self.pop);
    }
    fn because(&self, _: &Context<'_>, item: u32, _: &dyn Fn(u32) -> String) -> String {
        format!("popular: {} plays", self.pop[item as usize])
    }
}

fn distinct(items: &[u32]) -> Vec<u32> {
    let mut v = items.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Session-based kNN (SKNN, Jannach & Ludewig 2017): find the `k` past sessions most similar
/// (cosine over item sets) to the current one among the `sample` most recent sessions that
/// share an item with it; an item's score is the summed similarity of the neighbours holding it.
pub struct Sknn {
    k: usize,
    sample: usize,
    sets: Vec<Vec<u32>>,
    by_item: Vec<Vec<u32>>,
}

impl Sknn {
    pub fn fit(t: &Train, k: usize, sample: usize) -> Self {
        let sets: Vec<Vec<u32>> = t.sessions.iter().map(|s| distinct(&s.items)).collect();
        let mut by_item = vec![Vec::new(); t.n_items];
        for (si, s) in sets.iter().enumerate() {
            for &i in s {
                by_item[i as usize].push(si as u32);
            }
        }
        Sknn {
            k,
            sample,
            sets,
            by_item,
        }
    }

    /// Neighbour sessions with their similarity, best first.
    pub fn neighbours(&self, session: &[u32]) -> Vec<(u32, f32)> {
        let cur = distinct(session);
        if cur.is_empty() {
            return Vec::new();
        }
        let mut overlap: FxMap<u32, u32> = FxMap::default();
        for &i in &cur {
            let Some(list) = self.by_item.get(i as usize) else {
                continue;
            };
            let from = list.len().saturating_sub(self.sample);
            for &s in &list[from..] {
                *overlap.entry(s).or_insert(0) += 1;
            }
        }
        let mut nb: Vec<(u32, f32)> = overlap
            .into_iter()
            .map(|(s, o)| {
                let n = self.sets[s as usize].len() as f32;
                (s, o as f32 / (n * cur.len() as f32).sqrt())
            })
            .collect();
        nb.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
        nb.truncate(self.k);
        nb
    }
}

impl Model for Sknn {
    fn name(&self) -> &'static str {
        "sknn"
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        for (s, sim) in self.neighbours(ctx.session) {
            for &i in &self.sets[s as usize] {
                out[i as usize] += sim;
            }
        }
    }
    fn because(&self, ctx: &Context<'_>, item: u32, label: &dyn Fn(u32) -> String) -> String {
        let nb: Vec<u32> = self
            .neighbours(ctx.session)
            .into_iter()
            .filter(|(s, _)| self.sets[*s as usize].binary_search(&item).is_ok())
            .map(|(s, _)| s)
            .collect();
        let mut best: Option<(u32, usize)> = None;
        for &c in ctx.session.iter().rev() {
            let n = nb
                .iter()
                .filter(|&&s| self.sets[s as usize].binary_search(&c).is_ok())
                .count();
            if n > best.map_or(0, |b| b.1) {
                best = Some((c, n));
            }
        }
        match best {
            Some((c, n)) => format!("{n} similar sessions with {}", label(c)),
            None => "no similar sessions".into(),
        }
    }
}

/// Item kNN: cosine of item co-occurrence within sessions; the current session's items vote,
/// the most recent with weight 1, earlier ones 1/(distance+1).
pub struct ItemKnn {
    sim: Vec<Vec<(u32, f32)>>,
}

impl ItemKnn {
    pub fn fit(t: &Train) -> Self {
        let mut co: Vec<FxMap<u32, f32>> = vec![FxMap::default(); t.n_items];
        let mut n = vec![0f32; t.n_items];
        for s in &t.sessions {
            let mut d = distinct(&s.items);
            d.truncate(60);
            for &a in &d {
                n[a as usize] += 1.0;
                for &b in &d {
                    if a != b {
                        *co[a as usize].entry(b).or_insert(0.0) += 1.0;
                    }
                }
            }
        }
        let sim = co
            .into_iter()
            .enumerate()
            .map(|(a, m)| {
                let mut v: Vec<(u32, f32)> = m
                    .into_iter()
                    .map(|(b, c)| (b, c / (n[a] * n[b as usize]).sqrt()))
                    .collect();
                v.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
                v.truncate(200);
                v
            })
            .collect();
        ItemKnn { sim }
    }
    /// Cosine similarity of two items (0 when they never co-occur or are not kept).
    pub fn similarity(&self, a: u32, b: u32) -> f32 {
        self.sim[a as usize]
            .iter()
            .find(|x| x.0 == b)
            .map_or(0.0, |x| x.1)
    }
}

fn recent(session: &[u32]) -> impl Iterator<Item = (u32, f32)> + '_ {
    session
        .iter()
        .rev()
        .take(10)
        .enumerate()
        .map(|(d, &i)| (i, 1.0 / (d as f32 + 1.0)))
}

impl Model for ItemKnn {
    fn name(&self) -> &'static str {
        "item-knn"
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        for (i, w) in recent(ctx.session) {
            if let Some(list) = self.sim.get(i as usize) {
                for &(j, s) in list {
                    out[j as usize] += w * s;
                }
            }
        }
    }
    fn because(&self, ctx: &Context<'_>, item: u32, label: &dyn Fn(u32) -> String) -> String {
        recent(ctx.session)
            .map(|(i, w)| (i, w * self.similarity(i, item)))
            .filter(|x| x.1 > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or("no co-occurring items".into(), |(i, _)| {
                format!("often in sessions with {}", label(i))
            })
    }
}

/// First-order Markov chain over consecutive plays within sessions.
pub struct Markov {
    next: Vec<Vec<(u32, f32)>>,
}

impl Markov {
    pub fn fit(t: &Train) -> Self {
        let mut m: Vec<FxMap<u32, f32>> = vec![FxMap::default(); t.n_items];
        for s in &t.sessions {
            for w in s.items.windows(2) {
                *m[w[0] as usize].entry(w[1]).or_insert(0.0) += 1.0;
            }
        }
        let next = m
            .into_iter()
            .map(|row| {
                let tot: f32 = row.values().sum();
                let mut v: Vec<(u32, f32)> = row.into_iter().map(|(j, c)| (j, c / tot)).collect();
                v.sort_by_key(|x| x.0);
                v
            })
            .collect();
        Markov { next }
    }
    /// P(next = j | last = i) from the training sessions.
    pub fn prob(&self, i: u32, j: u32) -> f32 {
        self.next[i as usize]
            .iter()
            .find(|x| x.0 == j)
            .map_or(0.0, |x| x.1)
    }
}

impl Model for Markov {
    fn name(&self) -> &'static str {
        "markov"
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        if let Some(&last) = ctx.session.last() {
            if let Some(row) = self.next.get(last as usize) {
                for &(j, p) in row {
                    out[j as usize] += p;
                }
            }
        }
    }
    fn because(&self, ctx: &Context<'_>, item: u32, label: &dyn Fn(u32) -> String) -> String {
        match ctx.session.last() {
            Some(&l) if self.prob(l, item) > 0.0 => format!(
                "followed {} in {:.0}% of cases",
                label(l),
                100.0 * self.prob(l, item)
            ),
            _ => "no transition seen".into(),
        }
    }
}

/// The seed article's scorer r_ui = σ(α(p_u − p_i)): one scalar per user (appetite) and per
/// item (threshold), fitted by logistic SGD on observed (u, i) pairs against sampled unplayed
/// items. For a fixed user the ranking depends on p_i only, so it is a learned popularity
/// order; it is kept as a named model so its offline numbers can be compared honestly.
pub struct Sigmoid {
    pub alpha: f32,
    pub p_user: Vec<f32>,
    pub p_item: Vec<f32>,
}

impl Sigmoid {
    pub fn fit(t: &Train, alpha: f32, epochs: usize, seed: u64) -> Self {
        let mut rng = crate::rng::Rng::new(seed);
        let mut pu = vec![0f32; t.n_users];
        let mut pi = vec![0f32; t.n_items];
        let pairs: Vec<(u32, u32)> = t
            .history
            .iter()
            .enumerate()
            .flat_map(|(u, h)| distinct(h).into_iter().map(move |i| (u as u32, i)))
            .collect();
        let lr = 0.05f32;
        let sig = |x: f32| 1.0 / (1.0 + (-x).exp());
        for _ in 0..epochs {
            for &(u, i) in &pairs {
                let j = rng.below(t.n_items.max(1)) as u32;
                for (item, y) in [(i, 1.0f32), (j, 0.0)] {
                    let p = sig(alpha * (pu[u as usize] - pi[item as usize]));
                    let g = (y - p) * alpha;
                    pu[u as usize] += lr * (g - 1e-3 * pu[u as usize]);
                    pi[item as usize] -= lr * (g + 1e-3 * pi[item as usize]);
                }
            }
        }
        Sigmoid {
            alpha,
            p_user: pu,
            p_item: pi,
        }
    }
}

impl Model for Sigmoid {
    fn name(&self) -> &'static str {
        "sigmoid"
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        let pu = ctx.user.map_or(0.0, |u| self.p_user[u as usize]);
        for (o, p) in out.iter_mut().zip(&self.p_item) {
            *o = 1.0 / (1.0 + (-self.alpha * (pu - p)).exp());
        }
    }
    fn because(&self, ctx: &Context<'_>, item: u32, _: &dyn Fn(u32) -> String) -> String {
        let pu = ctx.user.map_or(0.0, |u| self.p_user[u as usize]);
        format!(
            "σ(α(p_u − p_i)) with p_u={pu:.2}, p_i={:.2}",
            self.p_item[item as usize]
        )
    }
}

/// Content similarity over artist profiles: the user's recent artists (session first, then
/// history) vote for items by the same artist, weighted by the item's share of that artist.
pub struct Content {
    artist_of: Vec<u32>,
    share: Vec<f32>,
}

impl Content {
    pub fn fit(t: &Train) -> Self {
        let n_art = t
            .artist_of
            .iter()
            .map(|&a| a as usize + 1)
            .max()
            .unwrap_or(0);
        let mut tot = vec![0f32; n_art];
        for (i, &a) in t.artist_of.iter().enumerate() {
            tot[a as usize] += t.pop[i];
        }
        let share = t
            .artist_of
            .iter()
            .enumerate()
            .map(|(i, &a)| (t.pop[i] + 0.1) / (tot[a as usize] + 1.0))
            .collect();
        Content {
            artist_of: t.artist_of.clone(),
            share,
        }
    }
    fn profile(&self, ctx: &Context<'_>) -> FxMap<u32, f32> {
        let mut prof: FxMap<u32, f32> = FxMap::default();
        for (i, w) in recent(ctx.session) {
            *prof.entry(self.artist_of[i as usize]).or_insert(0.0) += w;
        }
        for &i in ctx.history.iter().rev().take(200) {
            *prof.entry(self.artist_of[i as usize]).or_insert(0.0) += 0.01;
        }
        prof
    }
}

impl Model for Content {
    fn name(&self) -> &'static str {
        "content"
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        let prof = self.profile(ctx);
        for (i, o) in out.iter_mut().enumerate() {
            if let Some(w) = prof.get(&self.artist_of[i]) {
                *o += w * self.share[i];
            }
        }
    }
    fn because(&self, ctx: &Context<'_>, item: u32, label: &dyn Fn(u32) -> String) -> String {
        let a = self.artist_of[item as usize];
        ctx.session
            .iter()
            .rev()
            .chain(ctx.history.iter().rev())
            .find(|&&i| self.artist_of[i as usize] == a)
            .map_or("artist profile".into(), |&i| {
                format!("same artist as {}", label(i))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::Session;

    fn toy() -> Train {
        // Sessions: {0,1,2}, {0,1}, {2,3}; item 4 never played.
        let ev = vec![
            (0, 0, 0),
            (0, 1, 10),
            (0, 2, 20),
            (0, 0, 100_000),
            (0, 1, 100_010),
            (1, 2, 0),
            (1, 3, 10),
        ];
        Train::new(2, 5, &ev, vec![0, 0, 1, 1, 2])
    }

    #[test]
    fn fixed_rows_score_their_items_and_ignore_the_rest() {
        let mut row = std::collections::HashMap::new();
        row.insert(1u32, 2.0f32);
        row.insert(99, 5.0); // beyond the catalogue: ignored, no panic
        let m = Fixed {
            rows: vec![row],
            name: "fixed",
        };
        let mut out = vec![0.0; 3];
        let ctx = |u| Context {
            user: Some(u),
            session: &[],
            history: &[],
        };
        m.score(&ctx(0), &mut out);
        assert_eq!(out, [0.0, 2.0, 0.0]);
        let mut out = vec![0.0; 3];
        m.score(&ctx(7), &mut out); // a user without a row
        assert_eq!(out, [0.0; 3]);
    }

    #[test]
    fn sknn_scores_by_hand() {
        let t = toy();
        assert_eq!(t.sessions.len(), 3);
        assert_eq!(
            t.sessions[0],
            Session {
                user: 0,
                start: 0,
                items: vec![0, 1, 2]
            }
        );
        let m = Sknn::fit(&t, 100, 500);
        let mut out = vec![0.0; 5];
        let ctx = Context {
            user: None,
            session: &[0],
            history: &[],
        };
        m.score(&ctx, &mut out);
        // Neighbours of {0}: {0,1,2} sim 1/√3, {0,1} sim 1/√2.
        let (a, b) = (1.0 / 3f32.sqrt(), 1.0 / 2f32.sqrt());
        let want = [a + b, a + b, a, 0.0, 0.0];
        for (o, w) in out.iter().zip(want) {
            assert!((o - w).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn item_knn_and_markov_by_hand() {
        let t = toy();
        let m = ItemKnn::fit(&t);
        // 0 and 1 co-occur in 2 sessions, each appears in 2: cos = 2/√(2·2) = 1.
        assert!((m.similarity(0, 1) - 1.0).abs() < 1e-6);
        // 0 and 2: once; n0 = 2, n2 = 2 → 0.5.
        assert!((m.similarity(0, 2) - 0.5).abs() < 1e-6);
        let mk = Markov::fit(&t);
        assert!((mk.prob(0, 1) - 1.0).abs() < 1e-6);
        assert!((mk.prob(1, 2) - 1.0).abs() < 1e-6);
        assert_eq!(mk.prob(2, 3), 1.0);
        assert_eq!(mk.prob(3, 0), 0.0);
    }

    #[test]
    fn sigmoid_ranks_played_items_above_unplayed() {
        let t = toy();
        let m = Sigmoid::fit(&t, 1.0, 200, 3);
        assert!(m.p_item[4] > m.p_item[0], "{:?}", m.p_item);
    }
}
