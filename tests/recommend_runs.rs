//! `own-runs` end to end on constructed multi-user logs: validation keeps an album-run
//! discount only when the paired bootstrap says it wins there, the kept discount wins on the
//! test period too, and on logs without album runs `own-runs` stays exactly `recency`.

use weft::recommend::eval::{self, Split};
use weft::recommend::{hybrid, models, Mode, Train};

const DAY: i64 = 86_400;
const USERS: u32 = 30;
/// Train before this day, test from it (no album binge reaches into the test period).
const SPLIT_DAY: i64 = 60;

/// Deterministic LCG (no rand dependency in the test).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 30 users over 80 days. Each has 20 favourites (each by its own artist; weights ∝
/// 1/rank^0.8) and plays two of them every day. With `albums`, every 10 days the user binges a
/// fresh 8-track album (its own artist), three times through in track order, on four
/// consecutive days (days 5–8
/// of each ten, the last ending a day before the split) and never
/// plays it again (before day [`SPLIT_DAY`]; the test period is favourites only). Items: favourites 0..300 (user u's are 7u..7u+20 mod 300), albums from 300
/// on. The album tracks' 12 recent plays each outrank all but the top favourites in plain
/// counts at any half-life, yet predict nothing.
fn world(albums: bool) -> (Vec<(u32, u32, i64)>, Vec<u32>) {
    let mut rng = Lcg(7);
    let mut artist_of: Vec<u32> = (0..300).collect();
    let mut ev = Vec::new();
    let w: Vec<f64> = (1..=20).map(|r| (r as f64).powf(-0.8)).collect();
    let total: f64 = w.iter().sum();
    for u in 0..USERS {
        let favs: Vec<u32> = (0..20).map(|k| (7 * u + k) % 300).collect();
        let mut album = None;
        for day in 0..80i64 {
            for p in 0..2 {
                let mut x = rng.next() * total;
                let k = w.iter().position(|&wk| {
                    x -= wk;
                    x < 0.0
                });
                let item = favs[k.unwrap_or(19)];
                ev.push((u, item, day * DAY + 8 * 3600 + p * 300));
            }
            if albums && day < SPLIT_DAY && (5..9).contains(&(day % 10)) {
                if day % 10 == 5 {
                    let a = artist_of.len() as u32;
                    artist_of.extend(std::iter::repeat_n(a, 8));
                    album = Some(a);
                }
                let first = album.expect("set on day % 10 == 5");
                // Three times through in one evening session.
                for k in 0..24 {
                    ev.push((u, first + k % 8, day * DAY + 20 * 3600 + k as i64 * 240));
                }
            }
        }
    }
    ev.sort_by_key(|e| (e.0, e.2));
    (ev, artist_of)
}

fn split_of(ev: &[(u32, u32, i64)], artist_of: &[u32]) -> Split {
    let (train, test): (Vec<_>, Vec<_>) = ev.iter().partition(|e| e.2 < SPLIT_DAY * DAY);
    let t = Train::new(USERS as usize, artist_of.len(), &train, artist_of.to_vec());
    let cases = eval::cases(&t, &test, 0, &[Mode::Period]);
    Split {
        cutoff: test.iter().map(|e| e.2).min().unwrap_or(0),
        train: t,
        cases,
        train_events: train,
        test_events: test,
    }
}

#[test]
fn album_binges_are_discounted_and_the_discount_wins() {
    let (ev, artist_of) = world(true);
    let split = split_of(&ev, &artist_of);
    let tuning = hybrid::tune(&split.train);
    let r = tuning.runs.as_ref().expect("validated");
    let iv = r.interval.expect("validation users");
    assert!(iv.wins(), "validation interval {iv:?}");
    assert!(r.config.run_weight < 1.0, "{r:?}");
    assert_eq!(r.config, r.best);
    let rows = eval::evaluate(&split, &["recency", "own-runs"], &tuning);
    let hr = |m: &str| {
        rows.iter()
            .find(|x| x.mode == "period" && x.model == m)
            .unwrap()
            .hr10
    };
    assert!(hr("own-runs") > hr("recency"), "{rows:?}");
    let test_iv = eval::period_interval(&rows, "own-runs", "recency").unwrap();
    println!(
        "validation: {} {iv}; test HR@10 own-runs {:.4} recency {:.4}, {test_iv}",
        r.config.label(),
        hr("own-runs"),
        hr("recency")
    );
    assert!(test_iv.wins(), "test interval {test_iv:?}");
}

#[test]
fn without_albums_own_runs_is_recency() {
    let (ev, artist_of) = world(false);
    let split = split_of(&ev, &artist_of);
    let tuning = hybrid::tune(&split.train);
    let r = tuning.runs.as_ref().expect("validated");
    // Nothing to discount: no configuration can differ from recency, so none wins.
    assert!(!r.interval.unwrap().wins(), "{r:?}");
    assert_eq!(r.config.run_weight, 1.0);
    let a = models::build("own-runs", &split.train, &tuning).unwrap();
    let b = models::build("recency", &split.train, &tuning).unwrap();
    let ra = eval::score(a.as_ref(), &split.train, &split.cases, Mode::Period);
    let rb = eval::score(b.as_ref(), &split.train, &split.cases, Mode::Period);
    assert_eq!(ra.per_case, rb.per_case);
}
