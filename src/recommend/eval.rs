//! Offline evaluation of the recommenders. Temporal split: plays before the 80% time quantile
//! train, the rest test. Three protocols, each ranking the **whole** catalogue (ties by the
//! shared popularity tie-breaker, then item id):
//! - `next`: every position of every test session (capped by an even stride) is a case — the
//!   model sees the session prefix and the user's training history and must rank the true next
//!   item. HR@10 = share of cases whose next item is in the top 10.
//! - `period`: one case per user with training plays and test plays; the model sees the user's
//!   history and last training session and ranks once for the whole test period. Every test
//!   play is relevant, repeats counted: HR@10 = (test plays whose item is in the user's top 10)
//!   / (all test plays), pooled over users; MRR@20 likewise per play (1/rank within the top 20);
//!   NDCG@10 per user with gain = the item's number of test plays, averaged over users.
//! - `discover`: per user, items first heard in the test period are relevant and the user's
//!   training items are excluded. HR@10 = share of users with at least one of them in the top
//!   10; NDCG@10 binary.
//!
//! Coverage: share of the training catalogue appearing in any top-10 list. Peers (e.g.
//! `implicit` ALS through `benches/peers/logs`) hand in top-20 lists per user ([`PeerLists`]);
//! they are scored by the same [`Acc`], an item absent from a list counting as ranked past 20.

use super::bootstrap::{self, Interval};
use super::hybrid::Tuning;
use super::{fill_scores, models, sessions, top_n, Context, Mode, Model, Train, SESSION_GAP_S};
use crate::logs::Logs;
use serde::Serialize;
use std::collections::BTreeMap;

mod report;
pub use report::{dump, period_interval, period_intervals, table, verdicts};

/// A `(user, item, ts)` play.
pub type Event = (u32, u32, i64);
/// A `period` case: user, last training session, (item, test plays) sorted by item.
pub type PeriodCase = (u32, Vec<u32>, Vec<(u32, u32)>);

/// Cases of the three protocols.
#[derive(Clone, Debug, Default)]
pub struct Cases {
    /// (user, session prefix, next item).
    pub next: Vec<(u32, Vec<u32>, u32)>,
    /// (user, last training session, (item, test plays) sorted by item).
    pub period: Vec<PeriodCase>,
    /// (user, last training session, items new to the user, sorted).
    pub discover: Vec<(u32, Vec<u32>, Vec<u32>)>,
}

/// The split used by every model (and written out for the peer script).
pub struct Split {
    pub cutoff: i64,
    pub train: Train,
    pub cases: Cases,
    pub train_events: Vec<(u32, u32, i64)>,
    pub test_events: Vec<(u32, u32, i64)>,
}

/// Metrics of one model in one protocol.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    pub model: String,
    /// `model`, `baseline` or `peer`.
    pub kind: String,
    pub mode: String,
    pub cases: usize,
    pub hr10: f64,
    pub hr20: f64,
    pub ndcg10: f64,
    pub mrr20: f64,
    pub coverage: f64,
    /// Per case, in case order: (HR@10 hits, weight) — for `period` (hits, test plays) of each
    /// user; what the paired bootstrap ([`super::bootstrap`]) resamples.
    #[serde(skip)]
    pub per_case: Vec<(f64, f64)>,
}

/// Split `(user, item, ts)` events (sorted by user, time) at the `frac` time quantile: those
/// strictly before it, and the rest (both keep the order).
pub fn time_split(events: &[(u32, u32, i64)], frac: f64) -> (Vec<Event>, Vec<Event>) {
    let mut ts: Vec<i64> = events.iter().map(|e| e.2).collect();
    ts.sort_unstable();
    let cutoff = cutoff_of(&ts, frac);
    events.iter().partition(|e| e.2 < cutoff)
}

pub(crate) fn cutoff_of(sorted_ts: &[i64], frac: f64) -> i64 {
    sorted_ts
        .get(((sorted_ts.len() as f64 * frac) as usize).min(sorted_ts.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

/// Build the temporal split. `max_cases` caps the `next` cases (even stride).
pub fn split(logs: &Logs, train_frac: f64, max_cases: usize) -> Split {
    let events = super::events(logs);
    let mut ts: Vec<i64> = events.iter().map(|e| e.2).collect();
    ts.sort_unstable();
    let cutoff = cutoff_of(&ts, train_frac);
    let (train_events, test_events) = time_split(&events, train_frac);
    let artist_of: Vec<u32> = logs.items.iter().map(|i| i.artist).collect();
    let train = Train::new(logs.users.len(), logs.items.len(), &train_events, artist_of);
    let cases = cases(&train, &test_events, max_cases, &Mode::ALL);
    Split {
        cutoff,
        train,
        cases,
        train_events,
        test_events,
    }
}

fn last_session(train: &Train, u: u32) -> Vec<u32> {
    train
        .sessions
        .iter()
        .rev()
        .find(|s| s.user == u)
        .map(|s| s.items.clone())
        .unwrap_or_default()
}

/// The cases of `modes` for test events (sorted by user, time) after `train`. Only users with
/// training plays get `period` and `discover` cases. `max_next` caps `next` (0: no cap).
pub fn cases(train: &Train, test: &[(u32, u32, i64)], max_next: usize, modes: &[Mode]) -> Cases {
    let mut out = Cases::default();
    if modes.contains(&Mode::Next) {
        let mut all = Vec::new();
        for s in &sessions(test, SESSION_GAP_S) {
            for t in 1..s.items.len() {
                all.push((s.user, s.items[..t].to_vec(), s.items[t]));
            }
        }
        let cap = if max_next == 0 { all.len() } else { max_next };
        let stride = all.len().div_ceil(cap.max(1)).max(1);
        out.next = all.into_iter().step_by(stride).collect();
    }
    let mut by_user: BTreeMap<u32, BTreeMap<u32, u32>> = BTreeMap::new();
    for &(u, i, _) in test {
        *by_user.entry(u).or_default().entry(i).or_insert(0) += 1;
    }
    for (u, counts) in by_user {
        let hist = &train.history[u as usize];
        if hist.is_empty() {
            continue;
        }
        let last = last_session(train, u);
        if modes.contains(&Mode::Discover) {
            let mut seen = hist.clone();
            seen.sort_unstable();
            seen.dedup();
            let new: Vec<u32> = counts
                .keys()
                .copied()
                .filter(|i| seen.binary_search(i).is_err())
                .collect();
            if !new.is_empty() {
                out.discover.push((u, last.clone(), new));
            }
        }
        if modes.contains(&Mode::Period) {
            out.period.push((u, last, counts.into_iter().collect()));
        }
    }
    out
}

/// Accumulates metrics over cases.
#[derive(Default)]
pub struct Acc {
    cases: usize,
    weight: f64,
    hr10: f64,
    hr20: f64,
    ndcg10: f64,
    mrr20: f64,
    covered: Vec<bool>,
    per_case: Vec<(f64, f64)>,
}

/// Rank given to an item a peer's list does not contain (past every cut-off).
pub const UNRANKED: usize = usize::MAX / 2;

impl Acc {
    pub fn new(n_items: usize) -> Self {
        Acc {
            covered: vec![false; n_items],
            ..Default::default()
        }
    }
    /// Add one case: `(rank, gain)` of each relevant item (0-based ranks). `per_play`: every
    /// unit of gain is a play that counts in HR/MRR (`period`); otherwise the case counts once,
    /// by its best-ranked item (`next`, `discover`). NDCG@10 is graded by gain either way.
    pub fn add(&mut self, ranks: &[(usize, f64)], top10: &[u32], per_play: bool) {
        self.cases += 1;
        if per_play {
            for &(r, g) in ranks {
                self.weight += g;
                if r < 10 {
                    self.hr10 += g;
                }
                if r < 20 {
                    self.hr20 += g;
                    self.mrr20 += g / (r as f64 + 1.0);
                }
            }
        } else {
            self.weight += 1.0;
            if let Some(first) = ranks.iter().map(|x| x.0).min() {
                if first < 10 {
                    self.hr10 += 1.0;
                }
                if first < 20 {
                    self.hr20 += 1.0;
                    self.mrr20 += 1.0 / (first as f64 + 1.0);
                }
            }
        }
        let case = if per_play {
            let hit: f64 = ranks.iter().filter(|x| x.0 < 10).map(|x| x.1).sum();
            (hit, ranks.iter().map(|x| x.1).sum())
        } else {
            let hit = ranks.iter().any(|x| x.0 < 10);
            (if hit { 1.0 } else { 0.0 }, 1.0)
        };
        self.per_case.push(case);
        let dcg: f64 = ranks
            .iter()
            .filter(|x| x.0 < 10)
            .map(|&(r, g)| g / (r as f64 + 2.0).log2())
            .sum();
        let mut gains: Vec<f64> = ranks.iter().map(|x| x.1).collect();
        gains.sort_by(|a, b| b.total_cmp(a));
        let ideal: f64 = gains
            .iter()
            .take(10)
            .enumerate()
            .map(|(r, g)| g / (r as f64 + 2.0).log2())
            .sum();
        if ideal > 0.0 {
            self.ndcg10 += dcg / ideal;
        }
        for &i in top10 {
            if let Some(c) = self.covered.get_mut(i as usize) {
                *c = true;
            }
        }
    }
    pub fn row(&self, model: &str, mode: &str, catalogue: usize) -> Row {
        let w = self.weight.max(1e-12);
        let n = self.cases.max(1) as f64;
        Row {
            model: model.into(),
            kind: kind_of(model).into(),
            mode: mode.into(),
            cases: self.cases,
            hr10: self.hr10 / w,
            hr20: self.hr20 / w,
            ndcg10: self.ndcg10 / n,
            mrr20: self.mrr20 / w,
            coverage: self.covered.iter().filter(|&&c| c).count() as f64 / catalogue.max(1) as f64,
            per_case: self.per_case.clone(),
        }
    }
}

fn kind_of(model: &str) -> &'static str {
    if models::BASELINES.contains(&model) {
        "baseline"
    } else if models::NAMES.contains(&model) {
        "model"
    } else {
        "peer"
    }
}

/// 0-based rank of `target` among finite scores (items scoring strictly higher, then ties
/// with a lower index — the same order `top_n` uses).
pub fn rank_of(scores: &[f32], target: u32) -> usize {
    let t = scores[target as usize];
    scores
        .iter()
        .enumerate()
        .filter(|&(i, &s)| s > t || (s == t && (i as u32) < target))
        .count()
}

fn catalogue(t: &Train) -> usize {
    t.pop.iter().filter(|&&p| p > 0.0).count()
}

/// Score one fitted model on one protocol's cases.
pub fn score(m: &dyn Model, t: &Train, cases: &Cases, mode: Mode) -> Row {
    let mut scores = Vec::new();
    let mut acc = Acc::new(t.n_items);
    match mode {
        Mode::Next => {
            for (u, prefix, target) in &cases.next {
                let ctx = Context {
                    user: Some(*u),
                    session: prefix,
                    history: &t.history[*u as usize],
                };
                fill_scores(m, &ctx, t, &[], &mut scores);
                let r = rank_of(&scores, *target);
                acc.add(&[(r, 1.0)], &top_n(&scores, 10), false);
            }
        }
        Mode::Period => {
            for (u, last, truth) in &cases.period {
                let ctx = Context {
                    user: Some(*u),
                    session: last,
                    history: &t.history[*u as usize],
                };
                fill_scores(m, &ctx, t, &[], &mut scores);
                let ranks: Vec<(usize, f64)> = truth
                    .iter()
                    .map(|&(i, c)| (rank_of(&scores, i), c as f64))
                    .collect();
                acc.add(&ranks, &top_n(&scores, 10), true);
            }
        }
        Mode::Discover => {
            for (u, last, relevant) in &cases.discover {
                let hist = &t.history[*u as usize];
                let ctx = Context {
                    user: Some(*u),
                    session: last,
                    history: hist,
                };
                fill_scores(m, &ctx, t, hist, &mut scores);
                let ranks: Vec<(usize, f64)> = relevant
                    .iter()
                    .map(|&i| (rank_of(&scores, i), 1.0))
                    .collect();
                acc.add(&ranks, &top_n(&scores, 10), false);
            }
        }
    }
    acc.row(m.name(), &mode.to_string(), catalogue(t))
}

/// Where a `period` test period's plays fall relative to a model's top 10 and what any top 10
/// could reach: the share of test plays (pooled over users, repeats counted) whose item is in
/// the model's top 10 (`top10` = its HR@10), heard in training but outside it (`heard_outside`),
/// or new to the user (`new`); `ceiling` is the oracle: each user's 10 most-played test items
/// (no top 10 can do better), `ceiling_heard` the same restricted to items the user had heard.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Breakdown {
    pub plays: f64,
    pub top10: f64,
    pub heard_outside: f64,
    pub new: f64,
    pub ceiling: f64,
    pub ceiling_heard: f64,
}

/// [`Breakdown`] of `m`'s top 10 on the `period` cases.
pub fn period_breakdown(m: &dyn Model, t: &Train, cases: &Cases) -> Breakdown {
    let mut b = Breakdown::default();
    let mut scores = Vec::new();
    for (u, last, truth) in &cases.period {
        let hist = &t.history[*u as usize];
        let ctx = Context {
            user: Some(*u),
            session: last,
            history: hist,
        };
        fill_scores(m, &ctx, t, &[], &mut scores);
        let top = top_n(&scores, 10);
        let mut heard = hist.clone();
        heard.sort_unstable();
        heard.dedup();
        let mut all = Vec::new();
        let mut known = Vec::new();
        for &(i, c) in truth {
            let c = c as f64;
            b.plays += c;
            let was_heard = heard.binary_search(&i).is_ok();
            if top.contains(&i) {
                b.top10 += c;
            } else if was_heard {
                b.heard_outside += c;
            } else {
                b.new += c;
            }
            all.push(c);
            if was_heard {
                known.push(c);
            }
        }
        for (v, acc) in [
            (&mut all, &mut b.ceiling),
            (&mut known, &mut b.ceiling_heard),
        ] {
            v.sort_by(|a, b| b.total_cmp(a));
            *acc += v.iter().take(10).sum::<f64>();
        }
    }
    let n = b.plays.max(1e-12);
    for x in [
        &mut b.top10,
        &mut b.heard_outside,
        &mut b.new,
        &mut b.ceiling,
        &mut b.ceiling_heard,
    ] {
        *x /= n;
    }
    b
}

/// Evaluate the named models on every protocol of a split; one row per model and protocol.
pub fn evaluate(split: &Split, names: &[&str], tuning: &Tuning) -> Vec<Row> {
    let t = &split.train;
    let mut rows = Vec::new();
    for mode in Mode::ALL {
        for &name in names {
            if name == "als" && t.n_users < 3 {
                continue;
            }
            let Some(m) = models::build(name, t, tuning) else {
                continue;
            };
            rows.push(score(m.as_ref(), t, &split.cases, mode));
        }
    }
    rows
}

/// A peer's top-20 lists per user: `all` (heard items allowed; used for `next` and `period`)
/// and `unheard` (the user's training items excluded; used for `discover`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeerLists {
    pub name: String,
    pub all: BTreeMap<u32, Vec<u32>>,
    pub unheard: BTreeMap<u32, Vec<u32>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}:{1}: expected `user<TAB>all|unheard<TAB>item,item,…`")]
    Line(String, usize),
}

impl PeerLists {
    /// Read the TSV the peer script writes: `#` comment lines, then `user \t all|unheard \t
    /// item,item,…` (weft's user and item ids from the dumped split).
    pub fn read(path: &std::path::Path, name: &str) -> Result<Self, PeerError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PeerError::Io(p.clone(), e))?;
        Self::parse(&text, name).map_err(|n| PeerError::Line(p, n))
    }

    /// Parse; the error is the 1-based number of the bad line.
    pub fn parse(text: &str, name: &str) -> Result<Self, usize> {
        let mut out = PeerLists {
            name: name.into(),
            ..Default::default()
        };
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let (Some(u), Some(kind), Some(items)) = (f.first(), f.get(1), f.get(2)) else {
                return Err(n + 1);
            };
            let u: u32 = u.parse().map_err(|_| n + 1)?;
            let items = items
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<u32>())
                .collect::<Result<Vec<u32>, _>>()
                .map_err(|_| n + 1)?;
            match *kind {
                "all" => out.all.insert(u, items),
                "unheard" => out.unheard.insert(u, items),
                _ => return Err(n + 1),
            };
        }
        Ok(out)
    }

    /// Score the lists on every protocol with the same metrics as the models.
    pub fn rows(&self, split: &Split) -> Vec<Row> {
        let t = &split.train;
        let rank = |list: Option<&Vec<u32>>, item: u32| {
            list.and_then(|l| l.iter().position(|&x| x == item))
                .unwrap_or(UNRANKED)
        };
        let top10 = |list: Option<&Vec<u32>>| -> Vec<u32> {
            list.map(|l| l.iter().take(10).copied().collect())
                .unwrap_or_default()
        };
        let mut rows = Vec::new();
        for mode in Mode::ALL {
            let mut acc = Acc::new(t.n_items);
            match mode {
                Mode::Next => {
                    for (u, _, target) in &split.cases.next {
                        let l = self.all.get(u);
                        acc.add(&[(rank(l, *target), 1.0)], &top10(l), false);
                    }
                }
                Mode::Period => {
                    for (u, _, truth) in &split.cases.period {
                        let l = self.all.get(u);
                        let r: Vec<(usize, f64)> =
                            truth.iter().map(|&(i, c)| (rank(l, i), c as f64)).collect();
                        acc.add(&r, &top10(l), true);
                    }
                }
                Mode::Discover => {
                    for (u, _, rel) in &split.cases.discover {
                        let l = self.unheard.get(u);
                        let r: Vec<(usize, f64)> = rel.iter().map(|&i| (rank(l, i), 1.0)).collect();
                        acc.add(&r, &top10(l), false);
                    }
                }
            }
            rows.push(acc.row(&self.name, &mode.to_string(), catalogue(t)));
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period_row(model: &str, kind: &str, per_case: Vec<(f64, f64)>) -> Row {
        let hr10 = crate::recommend::bootstrap::pooled(&per_case);
        Row {
            model: model.into(),
            kind: kind.into(),
            mode: "period".into(),
            cases: per_case.len(),
            hr10,
            hr20: hr10,
            ndcg10: 0.0,
            mrr20: 0.0,
            coverage: 0.0,
            per_case,
        }
    }

    #[test]
    fn the_period_verdict_judges_the_chosen_model_and_never_itself() {
        let rows = vec![
            period_row("popularity", "baseline", vec![(1.0, 10.0); 20]),
            period_row("recency", "baseline", vec![(4.0, 10.0); 20]),
            period_row("changepoint", "model", vec![(5.0, 10.0); 20]),
            period_row("hybrid", "model", vec![(6.0, 10.0); 20]),
        ];
        // Without a choice: the best model by HR@10.
        let v = verdicts(&rows, None);
        assert!(v[0].starts_with("period: best model hybrid"), "{v:?}");
        // The chosen model, even when another scores higher.
        let v = verdicts(&rows, Some("changepoint"));
        assert!(
            v[0].starts_with("period: model chosen by rolling validation (vs recency) changepoint"),
            "{v:?}"
        );
        assert!(v[0].contains("beats popularity") && v[0].contains("recency 0.4000"));
        // A chosen baseline is compared with the others, not with itself.
        let v = verdicts(&rows, Some("recency"));
        assert!(
            v[0].contains("recency HR@10 0.4000; beats popularity"),
            "{v:?}"
        );
        assert!(!v[0].contains("NOT beaten"), "{v:?}");
        // A choice without a row falls back to the best model.
        let v = verdicts(&rows, Some("nothing"));
        assert!(v[0].starts_with("period: best model hybrid"), "{v:?}");
    }

    #[test]
    fn metrics_by_hand() {
        let mut a = Acc::new(30);
        a.add(&[(0, 1.0)], &[1, 2], false);
        a.add(&[(14, 1.0)], &[3], false);
        a.add(&[(25, 1.0)], &[], false);
        let r = a.row("m", "next", 10);
        assert!((r.hr10 - 1.0 / 3.0).abs() < 1e-12);
        assert!((r.hr20 - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.mrr20 - (1.0 + 1.0 / 15.0) / 3.0).abs() < 1e-12);
        assert!((r.ndcg10 - 1.0 / 3.0).abs() < 1e-12);
        assert!((r.coverage - 0.3).abs() < 1e-12);
        assert_eq!(rank_of(&[0.1, 0.5, 0.5, 0.9], 2), 2);
    }

    #[test]
    fn period_counts_every_play() {
        // One user: item A played 3 times at rank 0, item B once at rank 12.
        let mut a = Acc::new(5);
        a.add(&[(0, 3.0), (12, 1.0)], &[0], true);
        let r = a.row("m", "period", 5);
        assert!((r.hr10 - 0.75).abs() < 1e-12);
        assert!((r.hr20 - 1.0).abs() < 1e-12);
        assert!((r.mrr20 - (3.0 + 1.0 / 13.0) / 4.0).abs() < 1e-12);
        // DCG = 3/log2(2); ideal = 3 + 1/log2(3).
        let want = 3.0 / (3.0 + 1.0 / 3f64.log2());
        assert!((r.ndcg10 - want).abs() < 1e-12, "{}", r.ndcg10);
    }

    #[test]
    fn breakdown_splits_plays_and_bounds_them() {
        // 12 items; user 0 heard items 0..=10 once each in training (item 10 most recently);
        // test: item 11 (new) ×3, item 0 ×2, item 10 ×1.
        let ev: Vec<Event> = (0..=10).map(|i| (0, i, i as i64 * 100)).collect();
        let t = Train::new(1, 12, &ev, vec![0; 12]);
        let test = vec![
            (0, 11, 5000),
            (0, 11, 5001),
            (0, 11, 5002),
            (0, 0, 5003),
            (0, 0, 5004),
            (0, 10, 5005),
        ];
        let c = cases(&t, &test, 0, &[Mode::Period]);
        // recency with a short half-life: items 10..=1 in the top 10, item 0 just outside.
        let m = super::super::hybrid::Own::fit(&t, Some(50.0), "recency");
        let b = period_breakdown(&m, &t, &c);
        assert!((b.top10 - 1.0 / 6.0).abs() < 1e-12, "{b:?}");
        assert!((b.heard_outside - 2.0 / 6.0).abs() < 1e-12, "{b:?}");
        assert!((b.new - 3.0 / 6.0).abs() < 1e-12, "{b:?}");
        assert!((b.ceiling - 1.0).abs() < 1e-12 && (b.ceiling_heard - 0.5).abs() < 1e-12);
        let r = score(&m, &t, &c, Mode::Period);
        assert!((r.hr10 - b.top10).abs() < 1e-12);
    }

    #[test]
    fn peer_lists_parse_and_reject() {
        let p = PeerLists::parse("# implicit\n0\tall\t3,1,2\n0\tunheard\t4\n", "x").unwrap();
        assert_eq!(p.all[&0], vec![3, 1, 2]);
        assert_eq!(p.unheard[&0], vec![4]);
        assert_eq!(PeerLists::parse("0\tsome\t1\n", "x"), Err(1));
        assert_eq!(PeerLists::parse("# c\n0\tall\t1,x\n", "x"), Err(2));
    }
}
