//! How much of `period` HR@10 is predictable at all on generated logs (issue #20): a Bayes
//! bound by simulation. `cargo run --release --example recommend_bound -- USERS DAYS SEED
//! [RUNS]` (e.g. `200 120 3`, the demo logs `10 180 1`).
//!
//! 1. Generates `weft logs synth --users USERS --days DAYS --seed SEED` into a temp folder,
//!    loads it as `weft recommend --eval` does and takes the same split (`eval::split`, train's
//!    first 80 %, `period` cases with the test plays as the truth).
//! 2. Runs the generator again with the continuations hook at the split's cutoff
//!    (`logs::synth::generate_with`): each user's whole state at the start of that day is
//!    cloned and RUNS (default 32) independent continuations of the rest of the window count
//!    each track's counted plays (not skipped) from the cutoff on. The world is the same.
//! 3. Ranks each user's items by the mean (`bound`: the generator's expected test-period plays
//!    given what it knows at the split, the best ranking anyone could make up to the
//!    simulation noise) and scores it with `eval::score` like any model (same cases, truth
//!    and ties); next to it the recency baseline at the half-life the chooser picks
//!    (`hybrid::tune`), most-played, the generator's favourites at the split ranked by their
//!    rotation weight alone (`fav-weights`), `bound` restricted to the user's heard items
//!    (`bound-heard`), and the oracle ceiling
//!    (each user's 10 most-played test items). Differences with the paired bootstrap over
//!    users (`recommend::bootstrap`, 1,000 draws, seed 20).
//!
//! Generated tracks are matched to the imported items by zipping each user's counted plays
//! (generated, not skipped) with the imported plays in time order; users whose counts differ
//! are reported and left out of the matching.
use std::collections::HashMap;
use std::time::Instant;
use weft::logs::synth::{self, Continuations, SynthConfig};
use weft::recommend::bootstrap::{paired, DRAWS, SEED};
use weft::recommend::models::Fixed;
use weft::recommend::{eval, hybrid, models, Context, Mode, Model};

fn arg<T: std::str::FromStr>(n: usize, default: Option<T>) -> T {
    match std::env::args().nth(n) {
        Some(s) => s.parse().ok().expect("a number"),
        None => default.expect("usage: recommend_bound USERS DAYS SEED [RUNS]"),
    }
}

fn main() {
    let cfg = SynthConfig {
        users: arg(1, None),
        days: arg(2, None),
        seed: arg(3, None),
        ..Default::default()
    };
    let runs: usize = arg(4, Some(32));
    let dir = tempfile::tempdir().expect("temp dir");
    let logs_dir = dir.path().join("logs");
    synth::write(&cfg, &logs_dir).expect("generate");
    let logs = weft::logs::load(&logs_dir, Default::default()).expect("logs load");
    let split = eval::split(&logs, 0.8, 2000);
    let t = &split.train;
    println!(
        "synth --users {} --days {} --seed {}: {} users, {} items, {} train / {} test plays, cutoff {} ({} period cases)",
        cfg.users,
        cfg.days,
        cfg.seed,
        logs.users.len(),
        logs.items.len(),
        split.train_events.len(),
        split.test_events.len(),
        weft::logs::time::iso_string(split.cutoff),
        split.cases.period.len()
    );

    let t0 = Instant::now();
    let hook = Continuations {
        from_ts: split.cutoff,
        runs,
        seed: 0xB0B0 ^ cfg.seed,
    };
    let (world, expected) = synth::generate_with(&cfg, Some(&hook));
    let expected = expected.expect("hook on");
    println!(
        "generator with {runs} continuations per user: {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // Generated track → imported item, by zipping each user's counted plays in time order.
    let mut item_of: HashMap<usize, u32> = HashMap::new();
    let mut user_of: Vec<Option<u32>> = vec![None; cfg.users];
    let (mut unmatched_users, mut conflicts) = (Vec::new(), 0usize);
    let mut by_user: HashMap<u32, Vec<(i64, u32)>> = HashMap::new();
    for p in &logs.plays {
        by_user.entry(p.user).or_default().push((p.ts, p.item));
    }
    for (u, slot) in user_of.iter_mut().enumerate() {
        let Some(lu) = logs.users.get(&format!("user{u:02}")) else {
            unmatched_users.push(u);
            continue;
        };
        *slot = Some(lu);
        let mut mine = by_user.remove(&lu).unwrap_or_default();
        mine.sort_by_key(|x| x.0);
        let gen: Vec<usize> = world
            .plays
            .iter()
            .filter(|p| p.user == u && !p.skipped)
            .map(|p| p.track)
            .collect();
        if gen.len() != mine.len() {
            unmatched_users.push(u);
            continue;
        }
        for (&tr, &(_, it)) in gen.iter().zip(&mine) {
            if *item_of.entry(tr).or_insert(it) != it {
                conflicts += 1;
            }
        }
    }
    println!(
        "matching: {} tracks ↔ items, {} users left out {:?}, {} conflicting pairs",
        item_of.len(),
        unmatched_users.len(),
        unmatched_users,
        conflicts
    );

    let mut bound = vec![HashMap::new(); logs.users.len()];
    let mut bound_heard = vec![HashMap::new(); logs.users.len()];
    let mut lost = 0.0;
    for (u, row) in expected.per_user.iter().enumerate() {
        let Some(lu) = user_of[u] else { continue };
        let heard: std::collections::HashSet<u32> =
            t.history[lu as usize].iter().copied().collect();
        for &(tr, m) in row {
            match item_of.get(&tr) {
                Some(&i) => {
                    bound[lu as usize].insert(i, m as f32);
                    if heard.contains(&i) {
                        bound_heard[lu as usize].insert(i, m as f32);
                    }
                }
                // Never played by anyone in the logs: it cannot be in any truth either.
                None => lost += m,
            }
        }
    }
    println!("expected plays on tracks absent from the logs: {lost:.1} (of all users)");
    let bound = Fixed {
        rows: bound,
        name: "bound",
    };
    let bound_heard = Fixed {
        rows: bound_heard,
        name: "bound-heard",
    };

    // The generator's favourites at the split, by their rotation weight (1/rank^0.8) alone.
    let mut fav_rows = vec![HashMap::new(); logs.users.len()];
    for (u, favs) in expected.favourites.iter().enumerate() {
        let Some(lu) = user_of[u] else { continue };
        for (r, tr) in favs.iter().enumerate() {
            if let Some(&i) = item_of.get(tr) {
                fav_rows[lu as usize].insert(i, 1.0 / (r as f32 + 1.0).powf(0.8));
            }
        }
    }
    let fav_weights = Fixed {
        rows: fav_rows,
        name: "fav-weights",
    };

    let t1 = Instant::now();
    let tuning = hybrid::tune(t);
    let hl = tuning.half_life_s.map(|s| s / 86400.0);
    println!(
        "chooser's recency half-life: {hl:?} days (tune {:.1} s)",
        t1.elapsed().as_secs_f64()
    );
    let recency = models::build("recency", t, &tuning).expect("recency");
    let most = models::build("most-played", t, &tuning).expect("most-played");
    let rows: Vec<eval::Row> = [
        recency.as_ref(),
        most.as_ref(),
        &fav_weights as &dyn Model,
        &bound_heard,
        &bound,
    ]
    .iter()
    .map(|m| eval::score(*m, t, &split.cases, Mode::Period))
    .collect();
    let b = eval::period_breakdown(recency.as_ref(), t, &split.cases);
    println!("\nperiod HR@10 (− recency, 95 % paired bootstrap over users):");
    for r in &rows {
        let iv = paired(&r.per_case, &rows[0].per_case, DRAWS, SEED)
            .filter(|_| r.model != "recency")
            .map_or(String::new(), |i| i.to_string());
        println!(
            "  {:<12} HR@10 {:.4}  NDCG@10 {:.4}  {iv}",
            r.model, r.hr10, r.ndcg10
        );
    }
    let orc: Vec<(f64, f64)> = split
        .cases
        .period
        .iter()
        .map(|(_, _, truth)| {
            let mut c: Vec<f64> = truth.iter().map(|x| x.1 as f64).collect();
            c.sort_by(|a, b| b.total_cmp(a));
            (c.iter().take(10).sum(), c.iter().sum())
        })
        .collect();
    let pooled = |v: &[(f64, f64)]| {
        v.iter().map(|x| x.0).sum::<f64>() / v.iter().map(|x| x.1).sum::<f64>().max(1e-12)
    };
    println!(
        "  {:<12} HR@10 {:.4} (ceiling {:.4} in the breakdown; heard-only ceiling {:.4})",
        "oracle",
        pooled(&orc),
        b.ceiling,
        b.ceiling_heard
    );
    if let Some(i) = paired(&orc, &rows[4].per_case, DRAWS, SEED) {
        println!("  oracle − bound: {i}");
    }

    // Where the bound's extra hits are: test plays of items the user had heard in training
    // (and of those, tracks released during the window) vs items new to the user.
    let mut fresh_of: HashMap<u32, bool> = HashMap::new();
    for (&tr, &i) in &item_of {
        fresh_of.insert(i, world.release_day[tr] != i64::MIN);
    }
    let fav_of: Vec<std::collections::HashSet<u32>> = (0..logs.users.len() as u32)
        .map(|lu| {
            user_of
                .iter()
                .position(|&x| x == Some(lu))
                .map(|u| {
                    expected.favourites[u]
                        .iter()
                        .filter_map(|tr| item_of.get(tr).copied())
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    // Items in one model's top 10 but not the other's, and how many are favourites at the
    // split; test plays on favourites and the hits there.
    let (mut only_b, mut only_b_fav, mut only_r, mut only_r_fav) = (0, 0, 0, 0);
    let (mut fav_plays, mut fav_hits) = (0.0, [0.0f64; 2]);
    let models_: [&dyn Model; 2] = [recency.as_ref(), &bound];
    let mut cat = [[0.0f64; 4]; 2]; // [model][heard, heard-fresh, new, new-fresh]
    let mut tot = [0.0f64; 4];
    let (mut wins, mut ties, mut losses) = (0, 0, 0);
    let mut scores = Vec::new();
    for (u, last, truth) in &split.cases.period {
        let hist = &t.history[*u as usize];
        let heard: std::collections::HashSet<u32> = hist.iter().copied().collect();
        let ctx = Context {
            user: Some(*u),
            session: last,
            history: hist,
        };
        let mut hits = [0.0; 2];
        let favs = &fav_of[*u as usize];
        let mut tops = Vec::new();
        for (k, m) in models_.iter().enumerate() {
            weft::recommend::fill_scores(*m, &ctx, t, &[], &mut scores);
            let top = weft::recommend::top_n(&scores, 10);
            tops.push(top.clone());
            for &(i, n) in truth {
                if favs.contains(&i) {
                    if k == 0 {
                        fav_plays += n as f64;
                    }
                    if top.contains(&i) {
                        fav_hits[k] += n as f64;
                    }
                }
                let c = if heard.contains(&i) { 0 } else { 2 }
                    + usize::from(fresh_of.get(&i) == Some(&true));
                if k == 0 {
                    tot[c] += n as f64;
                }
                if top.contains(&i) {
                    cat[k][c] += n as f64;
                    hits[k] += n as f64;
                }
            }
        }
        for &i in &tops[1] {
            if !tops[0].contains(&i) {
                only_b += 1;
                only_b_fav += usize::from(favs.contains(&i));
            }
        }
        for &i in &tops[0] {
            if !tops[1].contains(&i) {
                only_r += 1;
                only_r_fav += usize::from(favs.contains(&i));
            }
        }
        match hits[1].total_cmp(&hits[0]) {
            std::cmp::Ordering::Greater => wins += 1,
            std::cmp::Ordering::Equal => ties += 1,
            std::cmp::Ordering::Less => losses += 1,
        }
    }
    let all: f64 = tot.iter().sum();
    println!("\ntest plays by kind (share of all test plays; hits of recency / bound as shares of all test plays):");
    for (c, name) in [
        "heard in training",
        "heard, released in window",
        "new to the user",
        "new, released in window",
    ]
    .iter()
    .enumerate()
    {
        println!(
            "  {name:<27} {:.4}   recency {:.4}   bound {:.4}",
            tot[c] / all,
            cat[0][c] / all,
            cat[1][c] / all
        );
    }
    println!("users where bound beats / ties / loses to recency: {wins} / {ties} / {losses}");
    println!(
        "favourites at the split: {:.4} of test plays; hits recency {:.4} / bound {:.4} (shares of all test plays)",
        fav_plays / all,
        fav_hits[0] / all,
        fav_hits[1] / all
    );
    println!(
        "top-10 items only the bound lists: {only_b}, of them favourites at the split {only_b_fav}; \
         only recency lists: {only_r}, favourites {only_r_fav}"
    );
}
