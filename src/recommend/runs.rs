//! `own-runs`: the user's own recency-weighted plays, with plays that are part of an
//! **album-order run** discounted (issue #20, step 2).
//!
//! A track's past play count mixes two things: "the user chooses this track" (a favourite —
//! predictive of the coming weeks) and "it was on an album the user played through" (much
//! less predictive: an album played once puts one play on each of its tracks). Real listening
//! logs have both — people put on albums — and so does `weft logs synth` (20 % of segments are
//! an album in track order). The logs weft imports carry no album for every format (the
//! Last.fm-1K TSV and the Spotify account export have none) and no track number, so a run is
//! recognised from what every format has: within one session (a < 30 min gap), consecutive
//! plays of **different tracks by the same artist**, `min_run` or more in a row. The first
//! play of a run is the user's choice (putting the album on) and can keep its full weight
//! (`first_full`); the continuation plays are weighted `run_weight` (0 = ignore them, 1 = plain
//! `recency`). Skips need no discount here: the play rule (`logs::PlayRule`: < 30 s or
//! flagged skipped is not a play) already drops them in every format that records them.
//!
//! The configuration (half-life, `run_weight`, `min_run`, `first_full`) is fitted on the
//! validation period only ([`tune`]), and kept only when the paired bootstrap over users of
//! its validation HR@10 minus recency's lies above 0; otherwise `own-runs` is exactly
//! `recency` and says so.

use super::bootstrap;
use super::eval::Cases;
use super::hybrid::{Own, DAY_S, HALF_LIVES_DAYS};
use super::{fill_scores, top_n, Context, Model, Train, SESSION_GAP_S};
use crate::logs::FxMap;

/// Directed transitions seen often enough, and one way only, to be album order.
pub const ORDER_MIN: u32 = 2;

/// Which consecutive pairs make a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunRule {
    /// Different tracks by the same artist.
    Artist,
    /// Album order, learned from every user's training sessions: track b follows track a
    /// (same artist) at least [`ORDER_MIN`] times and b → a at most a quarter as often.
    /// Albums are played in track order; a favourites shuffle plays the same two tracks
    /// both ways round. No album or track number needed (most formats lack one or both).
    Order,
}

/// Directed same-artist transitions counted over all training sessions.
pub struct Transitions(FxMap<(u32, u32), u32>);

impl Transitions {
    pub fn count(t: &Train) -> Self {
        let mut m: FxMap<(u32, u32), u32> = FxMap::default();
        for s in &t.sessions {
            for w in s.items.windows(2) {
                if w[0] != w[1] && t.artist_of.get(w[0] as usize) == t.artist_of.get(w[1] as usize)
                {
                    *m.entry((w[0], w[1])).or_insert(0) += 1;
                }
            }
        }
        Transitions(m)
    }
    /// `b` follows `a` in album order.
    pub fn ordered(&self, a: u32, b: u32) -> bool {
        let ab = self.0.get(&(a, b)).copied().unwrap_or(0);
        let ba = self.0.get(&(b, a)).copied().unwrap_or(0);
        ab >= ORDER_MIN && 4 * ba <= ab
    }
}

/// Continuation-play weights tried on validation.
pub const RUN_WEIGHTS: [f32; 4] = [0.0, 0.25, 0.5, 0.75];
/// Shortest same-artist stretch that counts as a run.
pub const MIN_RUNS: [usize; 2] = [2, 3];

/// What validation chose for `own-runs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunsConfig {
    /// Half-life in seconds (`None`: no decay).
    pub half_life_s: Option<f64>,
    /// Weight of a continuation play of a run (1 = no discount = `recency`).
    pub run_weight: f32,
    /// Plays in a row (same artist, different tracks, one session) that make a run.
    pub min_run: usize,
    /// The run's first play keeps weight 1.
    pub first_full: bool,
    pub rule: RunRule,
}

impl RunsConfig {
    /// No discount: exactly `recency` at `half_life_s`.
    pub fn plain(half_life_s: Option<f64>) -> Self {
        RunsConfig {
            half_life_s,
            run_weight: 1.0,
            min_run: 2,
            first_full: true,
            rule: RunRule::Artist,
        }
    }

    pub fn label(&self) -> String {
        let hl = self
            .half_life_s
            .map_or("no decay".into(), |h| format!("half-life {} d", h / DAY_S));
        if self.run_weight >= 1.0 {
            return format!("{hl}, no run discount (= recency)");
        }
        format!(
            "{hl}, plays inside {} runs of ≥ {} tracks × {}{}",
            match self.rule {
                RunRule::Artist => "same-artist",
                RunRule::Order => "album-order",
            },
            self.min_run,
            self.run_weight,
            if self.first_full {
                " (a run's first play × 1)"
            } else {
                ""
            }
        )
    }
}

/// Where a play sits relative to album-order runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunPos {
    Outside,
    /// First play of a run (the user put the album on).
    First,
    /// A later play of a run.
    Inside,
}

/// Each history play of user `u` classified (same order as `t.history[u]`); `order`: album
/// order transitions for [`RunRule::Order`] (`None`: [`RunRule::Artist`]).
pub fn positions(t: &Train, u: usize, min_run: usize, order: Option<&Transitions>) -> Vec<RunPos> {
    let h = &t.history[u];
    let ts = &t.history_ts[u];
    let mut out = vec![RunPos::Outside; h.len()];
    let mut start = 0;
    for k in 1..=h.len() {
        let continues = k < h.len()
            && ts[k] - ts[k - 1] < SESSION_GAP_S
            && h[k] != h[k - 1]
            && match order {
                Some(o) => o.ordered(h[k - 1], h[k]),
                None => t.artist_of.get(h[k] as usize) == t.artist_of.get(h[k - 1] as usize),
            };
        if !continues {
            if k - start >= min_run.max(2) {
                out[start] = RunPos::First;
                for p in &mut out[start + 1..k] {
                    *p = RunPos::Inside;
                }
            }
            start = k;
        }
    }
    out
}

/// Every user's plays classified by `c.rule` and `c.min_run`.
pub fn all_positions(t: &Train, c: &RunsConfig) -> Vec<Vec<RunPos>> {
    let order = (c.rule == RunRule::Order).then(|| Transitions::count(t));
    (0..t.n_users)
        .map(|u| positions(t, u, c.min_run, order.as_ref()))
        .collect()
}

/// The own-plays model with run discounting.
pub struct OwnRuns {
    own: Own,
    pub config: RunsConfig,
}

impl OwnRuns {
    pub fn fit(t: &Train, c: &RunsConfig) -> Self {
        let pos = if c.run_weight >= 1.0 {
            Vec::new()
        } else {
            all_positions(t, c)
        };
        Self::with_positions(t, c, &pos)
    }

    /// As [`OwnRuns::fit`] with the plays already classified (`all_positions(t, c)`).
    pub fn with_positions(t: &Train, c: &RunsConfig, pos: &[Vec<RunPos>]) -> Self {
        let own = Own::fit_weighted(t, c.half_life_s, "own-runs", |u, k| {
            match pos.get(u).and_then(|p| p.get(k)) {
                Some(RunPos::Inside) => c.run_weight,
                Some(RunPos::First) if !c.first_full => c.run_weight,
                _ => 1.0,
            }
        });
        OwnRuns { own, config: *c }
    }
}

impl Model for OwnRuns {
    fn name(&self) -> &'static str {
        "own-runs"
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        self.own.score(ctx, out)
    }
    fn because(&self, ctx: &Context<'_>, item: u32, label: &dyn Fn(u32) -> String) -> String {
        self.own.because(ctx, item, label)
    }
}

/// `tune`'s answer: the configuration used and what validation saw.
pub type RunsTuning = bootstrap::Gated<RunsConfig>;

/// `period` HR@10 and its per-case `(hits, plays)` — what `eval::score` gives, without the
/// full ranks (only the top 10 matters here; the grid scores ~100 configurations).
pub(crate) fn hits10(m: &dyn Model, t: &Train, cases: &Cases) -> (f64, Vec<(f64, f64)>) {
    let mut scores = Vec::new();
    let per: Vec<(f64, f64)> = cases
        .period
        .iter()
        .map(|(u, last, truth)| {
            let ctx = Context {
                user: Some(*u),
                session: last,
                history: &t.history[*u as usize],
            };
            fill_scores(m, &ctx, t, &[], &mut scores);
            let top = top_n(&scores, 10);
            let hit: f64 = truth
                .iter()
                .filter(|x| top.contains(&x.0))
                .map(|x| x.1 as f64)
                .sum();
            (hit, truth.iter().map(|x| x.1 as f64).sum())
        })
        .collect();
    let (h, w) = per.iter().fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
    (h / f64::max(w, 1e-12), per)
}

/// Fit `own-runs` on the validation `cases` (`inner`: the training plays before the
/// validation period) against recency at `recency_hl`: grid over half-lives (recency's and its
/// two neighbours), [`RUN_WEIGHTS`], [`MIN_RUNS`] and `first_full`; keep the best only when
/// its paired-bootstrap interval against recency on those users lies above 0.
pub fn tune(inner: &Train, cases: &Cases, recency_hl: Option<f64>) -> RunsTuning {
    let plain = RunsConfig::plain(recency_hl);
    let rec = hits10(&OwnRuns::fit(inner, &plain), inner, cases);
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
    let mut best = (rec.0, plain, rec.1.clone());
    for rule in [RunRule::Artist, RunRule::Order] {
        for min_run in MIN_RUNS {
            let pos = all_positions(
                inner,
                &RunsConfig {
                    min_run,
                    rule,
                    ..plain
                },
            );
            for &half_life_s in &hls {
                for run_weight in RUN_WEIGHTS {
                    for first_full in [true, false] {
                        let c = RunsConfig {
                            half_life_s,
                            run_weight,
                            min_run,
                            first_full,
                            rule,
                        };
                        let m = OwnRuns::with_positions(inner, &c, &pos);
                        let r = hits10(&m, inner, cases);
                        if r.0 > best.0 + 1e-12 {
                            best = (r.0, c, r.1);
                        }
                    }
                }
            }
        }
    }
    bootstrap::gate(best, &rec, plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn top(m: &dyn Model, t: &Train, n: usize) -> Vec<u32> {
        let mut out = vec![0f32; t.n_items];
        m.score(
            &Context {
                user: Some(0),
                session: &[],
                history: &t.history[0],
            },
            &mut out,
        );
        super::super::top_n(&out, n)
    }

    #[test]
    fn runs_are_same_artist_consecutive_distinct_tracks_in_one_session() {
        // artists: items 0-3 artist 7 (an album), 4 artist 8, 5 artist 9.
        let artist_of = vec![7, 7, 7, 7, 8, 9];
        let ev = vec![
            (0, 0, 0),
            (0, 1, 200),
            (0, 2, 400),
            (0, 4, 600), // other artist: run of 3 ends
            (0, 5, 800),
            (0, 5, 1000), // same track again: not a run
            (0, 3, 10 * H),
            (0, 2, 20 * H), // same artist but a new session: not a run
        ];
        let t = Train::new(1, 6, &ev, artist_of);
        use RunPos::*;
        let want = [
            First, Inside, Inside, Outside, Outside, Outside, Outside, Outside,
        ];
        assert_eq!(positions(&t, 0, 2, None), want);
        assert_eq!(positions(&t, 0, 3, None), want);
        assert_eq!(positions(&t, 0, 4, None), vec![Outside; 8]);
    }

    use crate::recommend::eval;

    #[test]
    fn hits10_matches_eval_score() {
        let artist_of: Vec<u32> = (0..30).map(|i| i / 4).collect();
        let ev: Vec<(u32, u32, i64)> = (0..200)
            .map(|k| ((k % 2) as u32, ((k * 7) % 30) as u32, k as i64 * 900))
            .collect();
        let mut ev = ev;
        ev.sort_by_key(|e| (e.0, e.2));
        let (train, test) = eval::time_split(&ev, 0.7);
        let t = Train::new(2, 30, &train, artist_of);
        let cases = eval::cases(&t, &test, 0, &[super::super::Mode::Period]);
        let m = Own::fit(&t, Some(DAY_S / 8.0), "recency");
        let (hr, per) = hits10(&m, &t, &cases);
        let row = eval::score(&m, &t, &cases, super::super::Mode::Period);
        assert!(hr > 0.0 && (hr - row.hr10).abs() < 1e-12, "{hr} {row:?}");
        assert_eq!(per, row.per_case);
    }

    #[test]
    fn album_order_is_one_way_transitions_and_a_shuffle_is_not() {
        // One artist. Album 0 → 1 → 2 played in order in three sessions; favourites 5 and 6
        // (same artist) shuffled: 5 → 6 in two sessions, 6 → 5 in one.
        let artist_of = vec![0; 7];
        let mut ev = Vec::new();
        for s in 0..3i64 {
            let t0 = s * 10 * H;
            ev.extend([(0, 0, t0), (0, 1, t0 + 200), (0, 2, t0 + 400)]);
        }
        for (s, (a, b)) in [(5, 6), (6, 5), (5, 6)].into_iter().enumerate() {
            let t0 = (40 + 10 * s as i64) * H;
            ev.extend([(0, a, t0), (0, b, t0 + 200)]);
        }
        let t = Train::new(1, 7, &ev, artist_of);
        let o = Transitions::count(&t);
        assert!(o.ordered(0, 1) && o.ordered(1, 2) && !o.ordered(1, 0) && !o.ordered(0, 2));
        // 5 → 6 twice, 6 → 5 once: both ways round, so not album order.
        assert!(!o.ordered(5, 6) && !o.ordered(6, 5));
        use RunPos::*;
        let p = positions(&t, 0, 2, Some(&o));
        assert_eq!(&p[..3], &[First, Inside, Inside]);
        assert_eq!(&p[9..], &[Outside; 6]);
        // By artist alone the shuffle pairs are runs too.
        assert_eq!(&positions(&t, 0, 2, None)[9..11], &[First, Inside]);
    }

    /// A user with two favourites (items 20, 21, four sessions each, by other artists) who
    /// twice played the 8-track album 0..8 of artist 1 in order, more recently. Plain recency
    /// counts every album track twice at a recent time and ranks all eight above both
    /// favourites; discounting the album continuation puts the favourites right after the
    /// album's first track.
    #[test]
    fn album_run_discount_outranks_plain_recency() {
        let d = 86_400;
        let mut artist_of = vec![1u32; 8];
        artist_of.extend(vec![0; 12]);
        artist_of.extend([2, 3]);
        let mut ev = Vec::new();
        for s in 0..4 {
            ev.push((0, 20, s * d));
            ev.push((0, 21, s * d + 2 * H)); // its own session
        }
        for rep in 0..2 {
            let t0 = (10 + rep) * d;
            ev.extend((0..8).map(|k| (0, k, t0 + k as i64 * 240)));
        }
        ev.sort_by_key(|e| e.2);
        let t = Train::new(1, 22, &ev, artist_of);
        let hl = Some(2.0 * DAY_S);
        let rec = Own::fit(&t, hl, "recency");
        let plain = top(&rec, &t, 2);
        assert!(
            !plain.contains(&21),
            "recency's top 2 is album tracks: {plain:?}"
        );
        let c = RunsConfig {
            half_life_s: hl,
            run_weight: 0.0,
            min_run: 3,
            first_full: true,
            rule: RunRule::Artist,
        };
        for rule in [RunRule::Artist, RunRule::Order] {
            let runs = OwnRuns::fit(&t, &RunsConfig { rule, ..c });
            let mut got = top(&runs, &t, 3);
            got.sort_unstable();
            // The two favourites and the album's first track (the user's choice to put it on).
            assert_eq!(got, vec![0, 20, 21], "{rule:?}");
        }
    }

    /// No runs (every consecutive pair is a different artist or a different session): the
    /// discount changes nothing, at any weight.
    #[test]
    fn without_runs_the_ranking_is_unchanged() {
        let artist_of: Vec<u32> = (0..12).collect();
        let ev: Vec<(u32, u32, i64)> = (0..60)
            .map(|k| (0, ((k * 7) % 12) as u32, k as i64 * 600))
            .collect();
        let t = Train::new(1, 12, &ev, artist_of);
        let hl = Some(DAY_S / 24.0);
        let base = top(&Own::fit(&t, hl, "recency"), &t, 12);
        for w in RUN_WEIGHTS {
            for min_run in MIN_RUNS {
                let c = RunsConfig {
                    half_life_s: hl,
                    run_weight: w,
                    min_run,
                    first_full: false,
                    rule: RunRule::Artist,
                };
                assert_eq!(top(&OwnRuns::fit(&t, &c), &t, 12), base);
                let c = RunsConfig {
                    rule: RunRule::Order,
                    ..c
                };
                assert_eq!(top(&OwnRuns::fit(&t, &c), &t, 12), base);
            }
        }
    }
}
