//! The recommend protocols on a hand-made log whose right answers are known; the chooser picks
//! the validation winner; the CLI and the pane name the chosen model and its figure; the
//! committed `implicit` ALS output for the demo logs is scored by weft's metric code.

use std::path::Path;
use weft::logs::{self, PlayRule};
use weft::recommend::eval::{self, Cases, PeerLists};
use weft::recommend::hybrid::Tuning;
use weft::recommend::{self, models, Mode, Train};

const DAY: i64 = 86_400;

/// 30 items. Training: user 1 plays item 10+k (25−k) times (so items 10.. are the popular
/// ones, strictly decreasing), user 0 plays item 0 three times and item 1 once, user 2 item 3.
/// Test: user 0 plays 0, 0, 1, 5 in one session (5 never seen in training); user 1 plays 10;
/// user 2 plays 12.
fn toy() -> (Train, Cases) {
    let mut train = Vec::new();
    for (k, t) in [0, 0, 0, 1].iter().zip([0, 100, 200, 300]) {
        train.push((0u32, *k as u32, t));
    }
    let mut t = 0;
    for k in 0..20u32 {
        for _ in 0..(25 - k) {
            train.push((1, 10 + k, t));
            t += 100;
        }
    }
    train.push((2, 3, 50));
    train.sort_by_key(|e| (e.0, e.2));
    let test = vec![
        (0, 0, 10 * DAY),
        (0, 0, 10 * DAY + 60),
        (0, 1, 10 * DAY + 120),
        (0, 5, 10 * DAY + 180),
        (1, 10, 10 * DAY),
        (2, 12, 10 * DAY),
    ];
    let tr = Train::new(3, 30, &train, vec![0; 30]);
    let cases = eval::cases(&tr, &test, 0, &Mode::ALL);
    (tr, cases)
}

fn row(name: &str, t: &Train, c: &Cases, mode: Mode) -> eval::Row {
    let m = models::build(name, t, &Tuning::default()).unwrap();
    eval::score(m.as_ref(), t, c, mode)
}

#[test]
fn protocols_on_a_hand_made_log() {
    let (t, c) = toy();
    assert_eq!(c.next.len(), 3, "{:?}", c.next);
    assert_eq!(c.period.len(), 3);
    assert_eq!(c.period[0].2, vec![(0, 2), (1, 1), (5, 1)]);
    // discover: user 0's new item 5, user 2's new item 12; user 1 heard 10 before.
    assert_eq!(c.discover.len(), 2);

    // Own most-played: user 0's list starts 0, 1, then popular items; 5 (never played) misses.
    // period: user 0 hits 3 of 4 plays, user 1 hits 10 (rank 0), user 2 hits 12 (rank 3).
    let r = row("most-played", &t, &c, Mode::Period);
    assert!((r.hr10 - 5.0 / 6.0).abs() < 1e-9, "{r:?}");
    // next: targets 0 (rank 0), 1 (rank 1), 5 (missed).
    let r = row("most-played", &t, &c, Mode::Next);
    assert!((r.hr10 - 2.0 / 3.0).abs() < 1e-9, "{r:?}");
    // MRR@20: (1 + 1/2 + 0) / 3.
    assert!((r.mrr20 - 0.5).abs() < 1e-9, "{r:?}");

    // Popularity: items 0 and 1 (3 and 1 plays) are behind the 20 popular items.
    let r = row("popularity", &t, &c, Mode::Period);
    assert!((r.hr10 - 2.0 / 6.0).abs() < 1e-9, "{r:?}");
    let r = row("popularity", &t, &c, Mode::Next);
    assert_eq!(r.hr10, 0.0);
    // discover: user 0's item 5 is missed, user 2's item 12 ranks 3rd (10, 11, 12).
    let r = row("popularity", &t, &c, Mode::Discover);
    assert!((r.hr10 - 0.5).abs() < 1e-9, "{r:?}");
    let want_ndcg = 0.5 * (1.0 / 4f64.log2());
    assert!((r.ndcg10 - want_ndcg).abs() < 1e-9, "{r:?}");
}

/// User 0 replays ten favourites (items 0..9) every other day for 90 days; users 1..4 play
/// item 20 and two items of their own (20+5u+1, 20+5u+2) daily, so those are the popular ones.
/// With `last_weeks_new`, user 0 plays user 1's item 26 instead from day 62 on.
fn replay_world(last_weeks_new: bool) -> Vec<(u32, u32, i64)> {
    let mut ev = Vec::new();
    for day in 0..90i64 {
        if day % 2 == 0 {
            for k in 0..10u32 {
                let item = if last_weeks_new && day >= 62 { 26 } else { k };
                ev.push((0u32, item, day * DAY + k as i64 * 300));
            }
        }
        for u in 1..5u32 {
            for k in 0..3u32 {
                let item = if k == 0 { 20 } else { 20 + u * 5 + k };
                ev.push((u, item, day * DAY + 7200 + k as i64 * 300));
            }
        }
    }
    // A last play late on day 88, so the four-week window starts after day 60's plays.
    ev.push((0, if last_weeks_new { 26 } else { 0 }, 88 * DAY + 6000));
    ev.sort_by_key(|e| (e.0, e.2));
    ev
}

#[test]
fn chooser_picks_the_validation_winner() {
    let artist_of: Vec<u32> = (0..50).map(|i| i / 5).collect();
    let ev = replay_world(false);
    let c = recommend::choose(&ev, 5, &artist_of, 0, Mode::Period).unwrap();
    let best = c.all.iter().map(|x| x.1).fold(f64::MIN, f64::max);
    assert_eq!(c.hr10, best, "{c:?}");
    let first = c.all.iter().find(|x| x.1 == best).unwrap().0;
    assert_eq!(c.model, first);
    // Replays only: the user's own plays hit everything; popularity's top 10 (item 20, the
    // others' 8 items, then item 0) holds one of the ten (15 of the window's 141 plays).
    assert_eq!(c.hr10, 1.0, "{c:?}");
    assert_eq!(c.model, "most-played", "{c:?}");
    let pop = c.all.iter().find(|x| x.0 == "popularity").unwrap().1;
    assert!((pop - 15.0 / 141.0).abs() < 1e-9, "{c:?}");
    assert!(
        c.why()
            .starts_with("period HR@10 1.00 on your last 4 weeks"),
        "{}",
        c.why()
    );

    // In the last four weeks user 0 plays user 1's item 26 (popularity rank 1, outside user 0's
    // own ten): popularity wins and, as the first name on a tie, is the one chosen.
    let ev = replay_world(true);
    let c = recommend::choose(&ev, 5, &artist_of, 0, Mode::Period).unwrap();
    assert_eq!(c.model, "popularity", "{c:?}");
    assert_eq!(c.hr10, 1.0);
    let own = c.all.iter().find(|x| x.0 == "most-played").unwrap().1;
    assert!(own < 1.0, "{c:?}");
}

fn samples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/logs")
}

#[test]
fn cli_and_pane_name_the_chosen_model() {
    let logs = logs::load(&samples(), PlayRule::default()).unwrap();
    let v = recommend::recommend(&logs, Some("user01"), Mode::Period, 10, None).unwrap();
    let why = v.chosen_by.clone().expect("validated choice");
    assert!(why.starts_with("period HR@10 ."), "{why}");
    assert!(why.ends_with("on your last 4 weeks"), "{why}");
    assert!(models::NAMES.contains(&v.model.as_str()));
    let pane = weft::tui::bridge::recommend_view(v.clone());
    assert_eq!(pane.model, format!("{} ({why})", v.model));

    let args = weft::cli::recommend::RecommendArgs {
        load: weft::cli::logs::LoadArgs {
            logs: samples(),
            min_ms: 30_000,
            keep_skipped: false,
        },
        user: Some("user01".into()),
        mode: Mode::Period,
        n: 5,
        model: None,
        json: false,
        eval: false,
        dump: None,
        max_cases: 5000,
        peer: Vec::new(),
    };
    let mut out = Vec::new();
    weft::cli::recommend::run_recommend(args, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains(&format!("model: {} ({why})", v.model)),
        "{out}"
    );
}

#[test]
fn implicit_fixture_is_scored_with_weft_metrics() {
    let logs = logs::load(&samples(), PlayRule::default()).unwrap();
    let split = eval::split(&logs, 0.8, 5000);
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/peers/implicit-als.tsv");
    let p = PeerLists::read(&fx, "implicit-als").unwrap();
    // One list per user with training plays, 20 items each.
    for (u, _, _) in &split.cases.period {
        assert_eq!(p.all[u].len(), 20, "user {u}");
    }
    let rows = p.rows(&split);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.kind == "peer"));
    // period HR@10 recomputed plainly from the lists and the test plays.
    let (mut hit, mut all) = (0usize, 0usize);
    for &(u, i, _) in &split.test_events {
        if split.train.history[u as usize].is_empty() {
            continue;
        }
        all += 1;
        hit += p.all[&u][..10].contains(&i) as usize;
    }
    let period = rows.iter().find(|r| r.mode == "period").unwrap();
    assert!(
        (period.hr10 - hit as f64 / all as f64).abs() < 1e-12,
        "{period:?}"
    );
    assert!(period.hr10 > 0.0);
}

#[test]
fn period_breakdown_on_the_hand_made_log() {
    // recency: user 0's top 10 is 0, 1, then popular items (5 never played misses); user 1's
    // starts with 10; user 2's is 3, then the popular 10, 11, 12, … (12 is new to them but in
    // the top 10). Test plays: 0, 0, 1, 5 | 10 | 12.
    let (t, c) = toy();
    let m = models::build("recency", &t, &Tuning::default()).unwrap();
    let b = eval::period_breakdown(m.as_ref(), &t, &c);
    assert_eq!(b.plays, 6.0);
    assert!((b.top10 - 5.0 / 6.0).abs() < 1e-12, "{b:?}");
    assert_eq!(b.heard_outside, 0.0, "{b:?}");
    assert!((b.new - 1.0 / 6.0).abs() < 1e-12, "{b:?}");
    assert!((b.ceiling - 1.0).abs() < 1e-12, "{b:?}");
    // Heard only: user 0's 0, 0, 1 and user 1's 10; user 2 had heard only item 3.
    assert!((b.ceiling_heard - 4.0 / 6.0).abs() < 1e-12, "{b:?}");
    assert!((eval::score(m.as_ref(), &t, &c, Mode::Period).hr10 - b.top10).abs() < 1e-12);
}
