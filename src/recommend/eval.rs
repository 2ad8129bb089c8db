//! Offline evaluation of the recommenders. Temporal split: events before the 80% time quantile
//! train, the rest test. `next`: every position of every test session (capped by a fixed
//! stride) is a case — the model sees the session prefix and the user's training history and
//! must rank the true next item among the **whole** training catalogue. `discover`: per user,
//! items first heard in the test period are relevant; items from the user's training history
//! are excluded from the ranking. Metrics: HR@10/20, NDCG@10, MRR@20 and catalogue coverage of
//! the top-10 lists. Ties rank by the shared popularity tie-breaker, then item id.

use super::{fill_scores, models, sessions, top_n, Context, Train, SESSION_GAP_S};
use crate::logs::Logs;
use serde::Serialize;

/// The split used by every model (and written out for the peer script).
pub struct Split {
    pub cutoff: i64,
    pub train: Train,
    /// `next` cases: (user, session prefix, target).
    pub next_cases: Vec<(u32, Vec<u32>, u32)>,
    /// `discover` cases: (user, last training session, relevant new items).
    pub discover_cases: Vec<(u32, Vec<u32>, Vec<u32>)>,
    pub train_events: Vec<(u32, u32, i64)>,
    pub test_events: Vec<(u32, u32, i64)>,
}

/// Metrics of one model in one mode.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    pub model: String,
    pub mode: String,
    pub cases: usize,
    pub hr10: f64,
    pub hr20: f64,
    pub ndcg10: f64,
    pub mrr20: f64,
    pub coverage: f64,
}

/// Build the temporal split. `max_cases` caps the `next` cases (even stride).
pub fn split(logs: &Logs, train_frac: f64, max_cases: usize) -> Split {
    let mut ts: Vec<i64> = logs.plays.iter().map(|p| p.ts).collect();
    ts.sort_unstable();
    let cutoff = ts
        .get(((ts.len() as f64 * train_frac) as usize).min(ts.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0);
    let mut train_events = Vec::new();
    let mut test_events = Vec::new();
    for p in &logs.plays {
        if p.ts < cutoff {
            train_events.push((p.user, p.item, p.ts));
        } else {
            test_events.push((p.user, p.item, p.ts));
        }
    }
    let artist_of: Vec<u32> = logs.items.iter().map(|i| i.artist).collect();
    let train = Train::new(logs.users.len(), logs.items.len(), &train_events, artist_of);
    let test_sessions = sessions(&test_events, SESSION_GAP_S);
    let mut all = Vec::new();
    for s in &test_sessions {
        for t in 1..s.items.len() {
            all.push((s.user, s.items[..t].to_vec(), s.items[t]));
        }
    }
    let stride = all.len().div_ceil(max_cases.max(1)).max(1);
    let next_cases = all.into_iter().step_by(stride).collect();
    let mut discover_cases = Vec::new();
    for u in 0..train.n_users {
        let mut seen = train.history[u].clone();
        seen.sort_unstable();
        seen.dedup();
        let mut new: Vec<u32> = test_events
            .iter()
            .filter(|e| e.0 as usize == u && seen.binary_search(&e.1).is_err())
            .map(|e| e.1)
            .collect();
        new.sort_unstable();
        new.dedup();
        if new.is_empty() || seen.is_empty() {
            continue;
        }
        let last = train
            .sessions
            .iter()
            .rev()
            .find(|s| s.user as usize == u)
            .map(|s| s.items.clone())
            .unwrap_or_default();
        discover_cases.push((u as u32, last, new));
    }
    Split {
        cutoff,
        train,
        next_cases,
        discover_cases,
        train_events,
        test_events,
    }
}

/// Accumulates metrics over cases.
#[derive(Default)]
pub struct Acc {
    n: usize,
    hr10: f64,
    hr20: f64,
    ndcg10: f64,
    mrr20: f64,
    covered: Vec<bool>,
}

impl Acc {
    pub fn new(n_items: usize) -> Self {
        Acc {
            covered: vec![false; n_items],
            ..Default::default()
        }
    }
    /// Add one case: `ranks` are the 0-based ranks of the relevant items (sorted).
    pub fn add(&mut self, ranks: &[usize], top10: &[u32]) {
        self.n += 1;
        let first = ranks.iter().copied().min();
        if first.is_some_and(|r| r < 10) {
            self.hr10 += 1.0;
        }
        if first.is_some_and(|r| r < 20) {
            self.hr20 += 1.0;
            self.mrr20 += 1.0 / (first.unwrap() as f64 + 1.0);
        }
        let dcg: f64 = ranks
            .iter()
            .filter(|&&r| r < 10)
            .map(|&r| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        let ideal: f64 = (0..ranks.len().min(10))
            .map(|r| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        if ideal > 0.0 {
            self.ndcg10 += dcg / ideal;
        }
        for &i in top10 {
            self.covered[i as usize] = true;
        }
    }
    pub fn row(&self, model: &str, mode: &str, catalogue: usize) -> Row {
        let n = self.n.max(1) as f64;
        Row {
            model: model.into(),
            mode: mode.into(),
            cases: self.n,
            hr10: self.hr10 / n,
            hr20: self.hr20 / n,
            ndcg10: self.ndcg10 / n,
            mrr20: self.mrr20 / n,
            coverage: self.covered.iter().filter(|&&c| c).count() as f64 / catalogue.max(1) as f64,
        }
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

/// Evaluate the named models on a split; returns one row per model and mode.
pub fn evaluate(split: &Split, names: &[&str]) -> Vec<Row> {
    let t = &split.train;
    let catalogue = t.pop.iter().filter(|&&p| p > 0.0).count();
    let mut rows = Vec::new();
    for &name in names {
        if name == "als" && t.n_users < 3 {
            continue;
        }
        let Some(m) = models::build(name, t) else {
            continue;
        };
        let mut scores = Vec::new();
        let mut acc = Acc::new(t.n_items);
        for (u, prefix, target) in &split.next_cases {
            let ctx = Context {
                user: Some(*u),
                session: prefix,
                history: &t.history[*u as usize],
            };
            fill_scores(m.as_ref(), &ctx, t, &[], &mut scores);
            let r = rank_of(&scores, *target);
            acc.add(&[r], &top_n(&scores, 10));
        }
        rows.push(acc.row(name, "next", catalogue));
        let mut acc = Acc::new(t.n_items);
        for (u, last, relevant) in &split.discover_cases {
            let hist = &t.history[*u as usize];
            let ctx = Context {
                user: Some(*u),
                session: last,
                history: hist,
            };
            fill_scores(m.as_ref(), &ctx, t, hist, &mut scores);
            let mut ranks: Vec<usize> = relevant.iter().map(|&i| rank_of(&scores, i)).collect();
            ranks.sort_unstable();
            acc.add(&ranks, &top_n(&scores, 10));
        }
        rows.push(acc.row(name, "discover", catalogue));
    }
    rows
}

/// Plain-text table.
pub fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<11} {:<9} {:>6} {:>7} {:>7} {:>8} {:>7} {:>8}\n",
        "model", "mode", "cases", "HR@10", "HR@20", "NDCG@10", "MRR@20", "coverage"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<11} {:<9} {:>6} {:>7.4} {:>7.4} {:>8.4} {:>7.4} {:>8.4}\n",
            r.model, r.mode, r.cases, r.hr10, r.hr20, r.ndcg10, r.mrr20, r.coverage
        ));
    }
    s
}

/// Write the split for the peer script: `train.csv` (user,item,ts), `next_cases.csv`
/// (case,user,target), `discover_cases.csv` (user,item), `catalogue.txt` (n_items).
pub fn dump(split: &Split, dir: &std::path::Path) -> std::io::Result<()> {
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir)?;
    let mut s = String::from("user,item,ts\n");
    for (u, i, t) in &split.train_events {
        let _ = writeln!(s, "{u},{i},{t}");
    }
    std::fs::write(dir.join("train.csv"), s)?;
    let mut s = String::from("case,user,target\n");
    for (k, (u, _, t)) in split.next_cases.iter().enumerate() {
        let _ = writeln!(s, "{k},{u},{t}");
    }
    std::fs::write(dir.join("next_cases.csv"), s)?;
    let mut s = String::from("user,item\n");
    for (u, _, rel) in &split.discover_cases {
        for i in rel {
            let _ = writeln!(s, "{u},{i}");
        }
    }
    std::fs::write(dir.join("discover_cases.csv"), s)?;
    std::fs::write(
        dir.join("catalogue.txt"),
        format!("{} {}\n", split.train.n_users, split.train.n_items),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        let mut a = Acc::new(30);
        a.add(&[0], &[1, 2]);
        a.add(&[14], &[3]);
        a.add(&[25], &[]);
        let r = a.row("m", "next", 10);
        assert!((r.hr10 - 1.0 / 3.0).abs() < 1e-12);
        assert!((r.hr20 - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.mrr20 - (1.0 + 1.0 / 15.0) / 3.0).abs() < 1e-12);
        assert!((r.ndcg10 - 1.0 / 3.0).abs() < 1e-12);
        assert!((r.coverage - 0.3).abs() < 1e-12);
        assert_eq!(rank_of(&[0.1, 0.5, 0.5, 0.9], 2), 2);
    }
}
