//! Stage: recommendation. [`Logs`] plays → (user, item, time) events → sessions (a gap of ≥30
//! min starts a new one) → models (`models`, `als`) that score the **whole** catalogue for a
//! context (user, current session, history) → top-n with a short "because". `eval` runs the
//! temporal-split offline evaluation; `hybrid` the repeat-aware models and their validation.
//! Without a named model, [`recommend`] uses the model that wins the protocol's validation on
//! the user's own last four weeks ([`choose`]) and says so. [`for_pane`] produces the plain
//! [`RecommendView`] the TUI pane draws (called on a background worker).

pub mod als;
pub mod blend;
pub mod bootstrap;
pub mod changepoint;
pub mod eval;
pub mod hybrid;
pub mod models;
pub mod rotation;
pub mod runs;

use crate::logs::{self, Logs, PlayRule};
use std::path::Path;

/// Session gap: a pause this long (seconds) starts a new listening session.
pub const SESSION_GAP_S: i64 = 30 * 60;

#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error(transparent)]
    Logs(#[from] logs::LogError),
    #[error("no music plays in the logs")]
    NoPlays,
    #[error("unknown user {0:?} (known: {1})")]
    UnknownUser(String, String),
    #[error("unknown model {0:?} (known: {1})")]
    UnknownModel(String, String),
}

/// The three protocols (and the matching kinds of list). `next`: continue the current session.
/// `period`: what the user will play in the coming weeks, replays included (the pane's "for
/// you" list). `discover`: only items the user has not heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    Next,
    #[default]
    Period,
    Discover,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Next, Mode::Period, Mode::Discover];
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "next" => Ok(Mode::Next),
            "period" => Ok(Mode::Period),
            "discover" => Ok(Mode::Discover),
            o => Err(format!("unknown mode {o:?} (next|period|discover)")),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Next => "next",
            Mode::Period => "period",
            Mode::Discover => "discover",
        })
    }
}

/// A listening session of one user: items in play order.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub user: u32,
    pub start: i64,
    pub items: Vec<u32>,
}

/// Split time-ordered `(user, item, ts)` events (sorted by user, then time) into sessions.
pub fn sessions(events: &[(u32, u32, i64)], gap: i64) -> Vec<Session> {
    let mut out: Vec<Session> = Vec::new();
    let mut last: Option<(u32, i64)> = None;
    for &(u, i, t) in events {
        match (last, out.last_mut()) {
            // Saturating: a log's extreme timestamps (i64::MIN next to i64::MAX) must not overflow.
            (Some((lu, lt)), Some(s)) if lu == u && t.saturating_sub(lt) < gap => s.items.push(i),
            _ => out.push(Session {
                user: u,
                start: t,
                items: vec![i],
            }),
        }
        last = Some((u, t));
    }
    out
}

/// Training data shared by every model.
#[derive(Clone, Debug)]
pub struct Train {
    pub n_users: usize,
    pub n_items: usize,
    pub sessions: Vec<Session>,
    /// Each user's items in play order.
    pub history: Vec<Vec<u32>>,
    /// The play times of `history` (same order).
    pub history_ts: Vec<Vec<i64>>,
    /// Time of the last training play (the "now" recency is measured from).
    pub end: i64,
    /// Play count per item.
    pub pop: Vec<f32>,
    /// Artist of each item (content feature).
    pub artist_of: Vec<u32>,
}

impl Train {
    /// Build from events sorted by (user, ts).
    pub fn new(
        n_users: usize,
        n_items: usize,
        events: &[(u32, u32, i64)],
        artist_of: Vec<u32>,
    ) -> Self {
        let mut history = vec![Vec::new(); n_users];
        let mut history_ts = vec![Vec::new(); n_users];
        let mut pop = vec![0f32; n_items];
        let mut end = i64::MIN;
        for &(u, i, t) in events {
            history[u as usize].push(i);
            history_ts[u as usize].push(t);
            pop[i as usize] += 1.0;
            end = end.max(t);
        }
        Train {
            n_users,
            n_items,
            sessions: sessions(events, SESSION_GAP_S),
            history,
            history_ts,
            end: if events.is_empty() { 0 } else { end },
            pop,
            artist_of,
        }
    }

    /// The training events again, `(user, item, ts)` sorted by user then time.
    pub fn events(&self) -> Vec<(u32, u32, i64)> {
        let mut ev = Vec::with_capacity(self.history.iter().map(Vec::len).sum());
        for (u, (h, ts)) in self.history.iter().zip(&self.history_ts).enumerate() {
            ev.extend(h.iter().zip(ts).map(|(&i, &t)| (u as u32, i, t)));
        }
        ev
    }
}

/// What a model sees when asked for recommendations.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub user: Option<u32>,
    /// The current session so far (last = most recent).
    pub session: &'a [u32],
    /// The user's past items (play order).
    pub history: &'a [u32],
}

/// A recommender: scores every item of the catalogue for a context.
pub trait Model: Send + Sync {
    fn name(&self) -> &'static str;
    /// Write a score for every item into `out` (len = catalogue size, zeroed by the caller).
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]);
    /// Short reason for recommending `item`: the items or neighbours that led to it.
    fn because(&self, ctx: &Context<'_>, item: u32, label: &dyn Fn(u32) -> String) -> String;
}

/// Rank all items: model score plus a 1e-6 popularity tie-breaker; `exclude` items get −∞.
pub fn rank(
    model: &dyn Model,
    ctx: &Context<'_>,
    train: &Train,
    exclude: &[u32],
    n: usize,
    scores: &mut Vec<f32>,
) -> Vec<u32> {
    fill_scores(model, ctx, train, exclude, scores);
    top_n(scores, n)
}

/// Model scores plus the documented tie-breaker; excluded items get −∞.
pub fn fill_scores(
    model: &dyn Model,
    ctx: &Context<'_>,
    train: &Train,
    exclude: &[u32],
    scores: &mut Vec<f32>,
) {
    scores.clear();
    scores.resize(train.n_items, 0.0);
    model.score(ctx, scores);
    let maxp = train.pop.iter().cloned().fold(1.0f32, f32::max);
    for (s, p) in scores.iter_mut().zip(&train.pop) {
        *s += 1e-6 * p / maxp;
    }
    for &e in exclude {
        scores[e as usize] = f32::NEG_INFINITY;
    }
}

/// Indices of the `n` highest scores, best first (ties by lower index).
pub fn top_n(scores: &[f32], n: usize) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..scores.len() as u32)
        .filter(|&i| scores[i as usize] > f32::NEG_INFINITY)
        .collect();
    let n = n.min(idx.len());
    let cmp = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    if n < idx.len() && n > 0 {
        idx.select_nth_unstable_by(n - 1, cmp);
    }
    idx.truncate(n);
    idx.sort_by(cmp);
    idx
}

/// One recommended item for the pane.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RecItem {
    pub title: String,
    pub artist: String,
    pub score: f32,
    pub because: String,
}

/// Plain data the recommend pane renders.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RecommendView {
    pub user: String,
    pub mode: String,
    pub items: Vec<RecItem>,
    pub model: String,
    /// Why this model: its validation figure (`period HR@10 .62 on your last 4 weeks`), when it
    /// was chosen by validation rather than named.
    pub chosen_by: Option<String>,
    pub note: Option<String>,
}

/// Events from logs: `(user, item, ts)` sorted by user then time.
pub fn events(logs: &Logs) -> Vec<(u32, u32, i64)> {
    logs.plays.iter().map(|p| (p.user, p.item, p.ts)).collect()
}

/// The user's validation window for [`choose`]: their last four weeks of plays.
pub const VALIDATION_S: i64 = 28 * 86_400;
/// Training plays a user needs before the window for a validated choice.
pub const MIN_CHOICE_PLAYS: usize = 20;

/// The model used when validation is impossible (too little history): session kNN for
/// `next`, the user's recency-weighted plays for `period`, ALS for `discover` when there are
/// several users (item kNN otherwise).
pub fn default_model(mode: Mode, n_users: usize) -> &'static str {
    match mode {
        Mode::Next => "sknn",
        Mode::Period => "recency",
        Mode::Discover if n_users >= 3 => "als",
        Mode::Discover => "item-knn",
    }
}

/// The model chosen for a user by validation.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub model: &'static str,
    pub mode: Mode,
    /// HR@10 of the winner in the user's validation window, and of every candidate.
    pub hr10: f64,
    pub all: Vec<(&'static str, f64)>,
    /// Validation plays (`period`) or cases (`next`, `discover`) it was measured on.
    pub cases: usize,
    /// The recency half-life and hybrid mix tuned on the data before the window.
    pub tuning: hybrid::Tuning,
}

impl Choice {
    /// `period HR@10 .62 on your last 4 weeks`.
    pub fn why(&self) -> String {
        let hr = format!("{:.2}", self.hr10);
        let hr = hr.strip_prefix('0').unwrap_or(&hr);
        format!("{} HR@10 {hr} on your last 4 weeks", self.mode)
    }
}

/// Pick the model for `user` by the `mode` protocol: train every model on all plays before the
/// user's last four weeks, score each on that user's plays in those weeks, keep the best
/// (ties go to the earlier name in [`models::NAMES`], baselines first). `None` when the user has
/// fewer than [`MIN_CHOICE_PLAYS`] plays before the window or no case in it.
pub fn choose(
    events: &[(u32, u32, i64)],
    n_users: usize,
    artist_of: &[u32],
    user: u32,
    mode: Mode,
) -> Option<Choice> {
    let last = events.iter().filter(|e| e.0 == user).map(|e| e.2).max()?;
    let cutoff = last - VALIDATION_S;
    let before: Vec<(u32, u32, i64)> = events.iter().copied().filter(|e| e.2 < cutoff).collect();
    if before.iter().filter(|e| e.0 == user).count() < MIN_CHOICE_PLAYS {
        return None;
    }
    let window: Vec<(u32, u32, i64)> = events
        .iter()
        .copied()
        .filter(|e| e.0 == user && e.2 >= cutoff)
        .collect();
    let train = Train::new(n_users, artist_of.len(), &before, artist_of.to_vec());
    let cases = eval::cases(&train, &window, 2000, &[mode]);
    let n_cases = match mode {
        Mode::Next => cases.next.len(),
        Mode::Period => cases
            .period
            .iter()
            .map(|c| c.2.iter().map(|x| x.1 as usize).sum::<usize>())
            .sum(),
        Mode::Discover => cases.discover.len(),
    };
    if n_cases == 0 {
        return None;
    }
    let tuning = hybrid::tune(&train);
    let mut all = Vec::new();
    for name in models::NAMES {
        if name == "als" && n_users < 3 {
            continue;
        }
        if let Some(m) = models::build(name, &train, &tuning) {
            all.push((name, eval::score(m.as_ref(), &train, &cases, mode).hr10));
        }
    }
    let &(model, hr10) = all.iter().reduce(|a, b| if b.1 > a.1 { b } else { a })?;
    Some(Choice {
        model,
        mode,
        hr10,
        all,
        cases: n_cases,
        tuning,
    })
}

/// Recommend for one user of already-loaded logs, training on all of their plays. Without
/// `model`, the model is chosen by validation on the user's last four weeks ([`choose`]) and
/// the view says which and why.
pub fn recommend(
    logs: &Logs,
    user: Option<&str>,
    mode: Mode,
    n: usize,
    model: Option<&str>,
) -> Result<RecommendView, RecommendError> {
    if logs.plays.is_empty() {
        return Err(RecommendError::NoPlays);
    }
    let ev = events(logs);
    let artist_of: Vec<u32> = logs.items.iter().map(|i| i.artist).collect();
    let train = Train::new(logs.users.len(), logs.items.len(), &ev, artist_of.clone());
    let uid = match user {
        Some(u) => logs.users.get(u).ok_or_else(|| {
            let known: Vec<&str> = (0..logs.users.len() as u32)
                .map(|i| logs.users.name(i))
                .collect();
            RecommendError::UnknownUser(u.to_owned(), known.join(", "))
        })?,
        None => (0..logs.users.len() as u32)
            .max_by_key(|&u| train.history[u as usize].len())
            .unwrap_or(0),
    };
    let mut note = None;
    let mut chosen_by = None;
    let (name, tuning) = match model {
        Some(m) => {
            let needs_tuning =
                matches!(m, "recency" | "hybrid" | "blend" | "own-runs" | "rotation");
            let t = if needs_tuning {
                hybrid::tune(&train)
            } else {
                hybrid::Tuning::default()
            };
            (m.to_string(), t)
        }
        None => match choose(&ev, train.n_users, &artist_of, uid, mode) {
            Some(c) => {
                chosen_by = Some(c.why());
                (c.model.to_string(), c.tuning)
            }
            None => {
                note = Some("too little history before your last 4 weeks to validate".into());
                (
                    default_model(mode, train.n_users).to_string(),
                    hybrid::tune(&train),
                )
            }
        },
    };
    if name == "als" && train.n_users < 3 {
        note = Some("ALS needs several users; only one or two in these logs".to_string());
    }
    let m = models::build(&name, &train, &tuning)
        .ok_or_else(|| RecommendError::UnknownModel(name.clone(), models::NAMES.join(", ")))?;
    let last = train
        .sessions
        .iter()
        .rev()
        .find(|s| s.user == uid)
        .map(|s| s.items.clone())
        .unwrap_or_default();
    let hist = &train.history[uid as usize];
    let ctx = Context {
        user: Some(uid),
        session: &last,
        history: hist,
    };
    let mut exclude: Vec<u32> = Vec::new();
    if mode == Mode::Discover {
        exclude = hist.clone();
        exclude.sort_unstable();
        exclude.dedup();
    }
    let mut scores = Vec::new();
    let top = rank(m.as_ref(), &ctx, &train, &exclude, n, &mut scores);
    let label = |i: u32| {
        let (t, a) = logs.item_label(i);
        format!("{a} – {t}")
    };
    let items = top
        .iter()
        .map(|&i| {
            let (title, artist) = logs.item_label(i);
            RecItem {
                title,
                artist,
                score: scores[i as usize],
                because: m.because(&ctx, i, &label),
            }
        })
        .collect();
    Ok(RecommendView {
        user: logs.users.name(uid).to_string(),
        mode: mode.to_string(),
        items,
        model: m.name().to_string(),
        chosen_by,
        note,
    })
}

/// What the TUI's background worker calls: load `logs`, recommend 20 items "for you" (the
/// `period` protocol), with the model chosen by validation.
pub fn for_pane(logs: &Path, user: Option<&str>) -> Result<RecommendView, RecommendError> {
    let l = logs::load(logs, PlayRule::default())?;
    let mut v = recommend(&l, user, Mode::Period, 20, None)?;
    if l.report.bad > 0 && v.note.is_none() {
        v.note = Some(format!("{} bad log rows skipped", l.report.bad));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_split_on_gap_and_user() {
        let ev = [
            (0, 1, 0),
            (0, 2, 100),
            (0, 3, 100 + SESSION_GAP_S),
            (1, 4, 150),
        ];
        let s = sessions(&ev, SESSION_GAP_S);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].items, vec![1, 2]);
        assert_eq!(s[1].items, vec![3]);
        assert_eq!(s[2].user, 1);
    }

    #[test]
    fn sessions_split_at_the_extremes_of_time_without_overflow() {
        let ev = [(0, 1, i64::MIN), (0, 2, 0), (0, 3, i64::MAX)];
        let s = sessions(&ev, SESSION_GAP_S);
        assert_eq!(s.len(), 3);
        assert_eq!(s[2].items, vec![3]);
    }

    #[test]
    fn top_n_orders_and_breaks_ties_by_index() {
        let s = [0.5, 0.9, 0.9, f32::NEG_INFINITY, 0.1];
        assert_eq!(top_n(&s, 3), vec![1, 2, 0]);
        assert_eq!(top_n(&s, 10), vec![1, 2, 0, 4]);
    }
}
