//! How much of the `period` protocol is predictable beyond the user's recency-weighted plays
//! (issue #20): `cargo run --example recommend_headroom -- LOGS`. Prints, on the same temporal
//! split as `weft recommend --eval` (train's first 80 %, the rest test; validation = the
//! training plays' last 20 %): where the test plays fall relative to the 14-day recency top 10,
//! the oracle ceiling, recency over plays / distinct sessions / distinct days at several
//! half-lives (validation and test), and a per-user half-life chosen on each user's own
//! validation plays (kept only where it beats the global one by `thr` of their plays).
//! `-- LOGS runs` prints only the album-run discount (`own-runs`, `src/recommend/runs.rs`):
//! fixed configurations and the one validation found best, each on validation and on test
//! with the paired-bootstrap interval against recency at the same half-life — including the
//! best one that `--eval` does not use because its validation interval contains 0.
use std::collections::HashMap;
use weft::recommend::models::Fixed;
use weft::recommend::{eval, hybrid, Context, Mode, Train};

// unit: 0 plays, 1 sessions, 2 days; hl days (0 = none)
fn fit(t: &Train, unit: u8, hl: f64) -> Fixed {
    let rows = t
        .history
        .iter()
        .zip(&t.history_ts)
        .map(|(h, ts)| {
            let mut row: HashMap<u32, f32> = HashMap::new();
            let mut seen: HashMap<(u32, i64), ()> = HashMap::new();
            let mut sess = 0i64;
            let mut last = i64::MIN;
            for (&i, &w) in h.iter().zip(ts) {
                if last == i64::MIN || w - last >= 1800 {
                    sess += 1;
                }
                last = w;
                let key = match unit {
                    0 => None,
                    1 => Some((i, sess)),
                    _ => Some((i, w.div_euclid(86400))),
                };
                let wt = if hl > 0.0 {
                    0.5f64.powf((t.end - w).max(0) as f64 / 86400.0 / hl) as f32
                } else {
                    1.0
                };
                if let Some(k) = key {
                    if seen.insert(k, ()).is_some() {
                        continue;
                    }
                }
                *row.entry(i).or_default() += wt;
            }
            row
        })
        .collect();
    Fixed {
        rows,
        name: "probe",
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: recommend_headroom LOGS");
    let logs =
        weft::logs::load(std::path::Path::new(&path), Default::default()).expect("logs load");
    let split = eval::split(&logs, 0.8, 2000);
    let t = &split.train;
    let ev = t.events();
    let (iev, vev) = eval::time_split(&ev, 0.8);
    let inner = Train::new(t.n_users, t.n_items, &iev, t.artist_of.clone());
    let vcases = eval::cases(&inner, &vev, 0, &[Mode::Period]);
    if std::env::args().nth(2).as_deref() == Some("runs") {
        return runs_section(&split, &inner, &vcases);
    }
    if std::env::args().nth(2).as_deref() == Some("rotation") {
        return rotation_section(&split, &inner, &vcases);
    }
    // shares on test relative to recency 14d top10
    let rec = fit(t, 0, 14.0);
    let (mut a, mut b, mut c, mut tot) = (0.0, 0.0, 0.0, 0.0);
    let mut sc = Vec::new();
    for (u, last, truth) in &split.cases.period {
        let ctx = Context {
            user: Some(*u),
            session: last,
            history: &t.history[*u as usize],
        };
        weft::recommend::fill_scores(&rec, &ctx, t, &[], &mut sc);
        let top = weft::recommend::top_n(&sc, 10);
        let heard: std::collections::HashSet<u32> =
            t.history[*u as usize].iter().copied().collect();
        for &(i, n) in truth {
            let n = n as f64;
            tot += n;
            if top.contains(&i) {
                a += n
            } else if heard.contains(&i) {
                b += n
            } else {
                c += n
            }
        }
    }
    println!(
        "test plays {tot}: in recency top10 {:.3}, heard not top10 {:.3}, new {:.3}",
        a / tot,
        b / tot,
        c / tot
    );
    // oracle ceiling
    let (mut orc, mut tot2) = (0.0, 0.0);
    for (_, _, truth) in &split.cases.period {
        let mut c: Vec<f64> = truth.iter().map(|x| x.1 as f64).collect();
        c.sort_by(|a, b| b.total_cmp(a));
        orc += c.iter().take(10).sum::<f64>();
        tot2 += c.iter().sum::<f64>();
    }
    println!("oracle top10 ceiling {:.4}", orc / tot2);
    for unit in [0u8, 1, 2] {
        for hl in [0.0, 7.0, 14.0, 30.0, 60.0] {
            let v = eval::score(&fit(&inner, unit, hl), &inner, &vcases, Mode::Period).hr10;
            let te = eval::score(&fit(t, unit, hl), t, &split.cases, Mode::Period).hr10;
            println!(
                "unit {unit} (0 plays, 1 sessions, 2 days) hl {hl:>4} d: valid {v:.4} test {te:.4}"
            );
        }
    }
    let hls = [0.0, 3.0, 7.0, 14.0, 21.0, 30.0, 60.0, 120.0];
    // per-user hits per hl: valid (inner) and test
    let hits = |tr: &Train, cs: &eval::Cases| -> Vec<(u32, f64, Vec<f64>)> {
        let ms: Vec<Fixed> = hls.iter().map(|&h| fit(tr, 0, h)).collect();
        let mut sc = Vec::new();
        cs.period
            .iter()
            .map(|(u, last, truth)| {
                let ctx = Context {
                    user: Some(*u),
                    session: last,
                    history: &tr.history[*u as usize],
                };
                let tot: f64 = truth.iter().map(|x| x.1 as f64).sum();
                let h = ms
                    .iter()
                    .map(|m| {
                        weft::recommend::fill_scores(m, &ctx, tr, &[], &mut sc);
                        let top = weft::recommend::top_n(&sc, 10);
                        truth
                            .iter()
                            .filter(|x| top.contains(&x.0))
                            .map(|x| x.1 as f64)
                            .sum()
                    })
                    .collect();
                (*u, tot, h)
            })
            .collect()
    };
    let hv = hits(&inner, &vcases);
    let ht = hits(t, &split.cases);
    let g = 3usize; // 14d
    let tt: f64 = ht.iter().map(|x| x.1).sum();
    let base: f64 = ht.iter().map(|x| x.2[g]).sum::<f64>() / tt;
    println!("test 14d {base:.4}");
    let vmap: HashMap<u32, &(u32, f64, Vec<f64>)> = hv.iter().map(|x| (x.0, x)).collect();
    for thr in [0.0, 0.02, 0.05, 0.1] {
        for minp in [10.0, 30.0, 100.0] {
            let mut s = 0.0;
            let mut nu = 0;
            for (u, _, h) in &ht {
                let k = match vmap.get(u) {
                    Some((_, vt, vh)) if *vt >= minp => {
                        let b = (0..hls.len())
                            .max_by(|&a, &b| vh[a].total_cmp(&vh[b]).then(b.cmp(&a)))
                            .unwrap();
                        if vh[b] >= vh[g] + thr * vt {
                            if b != g {
                                nu += 1;
                            }
                            b
                        } else {
                            g
                        }
                    }
                    _ => g,
                };
                s += h[k];
            }
            println!(
                "per-user hl thr {thr} minp {minp}: test {:.4} ({nu} users own)",
                s / tt
            );
        }
    }
    // per-user oracle hl on test (how much per-user hl could give at most)
    let s: f64 = ht
        .iter()
        .map(|x| x.2.iter().cloned().fold(0.0, f64::max))
        .sum();
    println!("per-user best-hl oracle on test {:.4}", s / tt);
    // Shrinkage toward the artist: item score = own decayed plays + beta × the mean decayed
    // plays of the artist's items the user heard (heard items of that artist only).
    for beta in [0.0f32, 0.1, 0.25, 0.5, 1.0] {
        let v = eval::score(&pooled(&inner, 14.0, beta), &inner, &vcases, Mode::Period).hr10;
        let te = eval::score(&pooled(t, 14.0, beta), t, &split.cases, Mode::Period).hr10;
        println!("artist-pooled 14 d beta {beta}: valid {v:.4} test {te:.4}");
    }
    let tun = hybrid::tune(t);
    println!(
        "tuned recency hl {:?} valid {:.4}",
        tun.half_life_s.map(|s| s / 86400.0),
        tun.recency_hr10
    );
}

fn pooled(t: &Train, hl: f64, beta: f32) -> Fixed {
    let base = fit(t, 0, hl);
    let rows = base
        .rows
        .iter()
        .map(|row| {
            let mut art: HashMap<u32, (f32, f32)> = HashMap::new();
            for (&i, &w) in row {
                let e = art.entry(t.artist_of[i as usize]).or_default();
                e.0 += w;
                e.1 += 1.0;
            }
            row.iter()
                .map(|(&i, &w)| {
                    let (sum, n) = art[&t.artist_of[i as usize]];
                    (i, w + beta * sum / n)
                })
                .collect()
        })
        .collect();
    Fixed {
        rows,
        name: "pooled",
    }
}

/// `rotation` (`src/recommend/rotation.rs`): every grid configuration on validation, the
/// best 15 of them and a few fixed ones also on test, each against recency at the tuned
/// half-life with the paired-bootstrap interval.
fn rotation_section(split: &eval::Split, inner: &Train, vcases: &eval::Cases) {
    use weft::recommend::bootstrap::{paired, DRAWS, SEED};
    use weft::recommend::rotation::{self, Rotation, RotationConfig};
    let t = &split.train;
    let tun = hybrid::tune(t);
    let hl = tun.half_life_s;
    let score = |tr: &Train, cs: &eval::Cases, c: &RotationConfig| {
        eval::score(&Rotation::fit(tr, c), tr, cs, Mode::Period)
    };
    let iv = |a: &eval::Row, b: &eval::Row| {
        paired(&a.per_case, &b.per_case, DRAWS, SEED).map_or("—".into(), |i| i.to_string())
    };
    let plain = RotationConfig::plain(hl);
    let vb = score(inner, vcases, &plain);
    let tb = score(t, &split.cases, &plain);
    println!(
        "recency ({}): valid {:.4}, test {:.4}",
        tun.half_life_label(),
        vb.hr10,
        tb.hr10
    );
    if let Ok(spec) = std::env::var("ROT_HLS") {
        // Exploration: ROT_HLS=30,60,0 (0 = no decay) × γ 1 × thresholds × est 1..4.
        let vf = rotation::all_facts(inner);
        let tf = rotation::all_facts(t);
        for h in spec.split(',') {
            let d: f64 = h.parse().expect("days");
            let half_life_s = (d > 0.0).then_some(d * hybrid::DAY_S);
            let base = RotationConfig::plain(half_life_s);
            let mut cs = vec![base];
            for est_sessions in [1, 2, 3, 4] {
                for threshold in [0.0, 0.5, 1.0] {
                    for gamma in [0.5, 1.0] {
                        cs.push(RotationConfig {
                            near: true,
                            gamma,
                            est_sessions,
                            threshold,
                            ..base
                        });
                    }
                }
            }
            for c in cs {
                let v = eval::score(
                    &Rotation::with_facts(inner, &c, &vf),
                    inner,
                    vcases,
                    Mode::Period,
                );
                let te = eval::score(
                    &Rotation::with_facts(t, &c, &tf),
                    t,
                    &split.cases,
                    Mode::Period,
                );
                println!(
                    "{}: valid {:.4} ({}), test {:.4} ({})",
                    c.label(),
                    v.hr10,
                    iv(&v, &vb),
                    te.hr10,
                    iv(&te, &tb)
                );
            }
        }
        return;
    }
    let vf = rotation::all_facts(inner);
    let mut all: Vec<(f64, RotationConfig)> = rotation::grid(&rotation::nearby_half_lives(hl))
        .into_iter()
        .map(|c| {
            let m = Rotation::with_facts(inner, &c, &vf);
            (eval::score(&m, inner, vcases, Mode::Period).hr10, c)
        })
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut show: Vec<RotationConfig> = all.iter().take(15).map(|x| x.1).collect();
    for cap in [1, 2] {
        show.push(RotationConfig { cap, ..plain });
    }
    for gamma in [0.5, 1.0] {
        show.push(RotationConfig {
            gamma,
            est_sessions: 3,
            ..plain
        });
    }
    show.push(RotationConfig {
        min_sessions: 3,
        thin_weight: 0.25,
        ..plain
    });
    for c in show {
        let (v, te) = (score(inner, vcases, &c), score(t, &split.cases, &c));
        println!(
            "{}: valid {:.4} ({}), test {:.4} ({})",
            c.label(),
            v.hr10,
            iv(&v, &vb),
            te.hr10,
            iv(&te, &tb)
        );
    }
    let r = tun.rotation.clone().expect("validated");
    println!(
        "tune: best {} (valid {:.4}; − recency {}); used: {}",
        r.best.label(),
        r.best_hr10,
        r.interval.map_or("—".into(), |i| i.to_string()),
        r.config.label()
    );
}

/// `own-runs` on validation and test against recency at the same half-life.
fn runs_section(split: &eval::Split, inner: &Train, vcases: &eval::Cases) {
    use weft::recommend::bootstrap::{paired, DRAWS, SEED};
    use weft::recommend::runs::{self, OwnRuns, RunRule, RunsConfig};
    let t = &split.train;
    let tun = hybrid::tune(t);
    let r = tun.runs.clone().expect("validated");
    println!(
        "validation best: {} (valid {:.4}; − recency {})",
        r.best.label(),
        r.best_hr10,
        r.interval.map_or("—".into(), |i| i.to_string())
    );
    let hl = tun.half_life_s;
    let mut configs = vec![r.best];
    for rule in [RunRule::Artist, RunRule::Order] {
        for w in [0.0, 0.5] {
            configs.push(RunsConfig {
                half_life_s: hl,
                run_weight: w,
                min_run: 3,
                first_full: true,
                rule,
            });
        }
    }
    let score = |tr: &Train, cs: &eval::Cases, c: &RunsConfig| {
        eval::score(&OwnRuns::fit(tr, c), tr, cs, Mode::Period)
    };
    for c in configs {
        let plain = RunsConfig::plain(c.half_life_s);
        let (v, vb) = (score(inner, vcases, &c), score(inner, vcases, &plain));
        let (te, tb) = (score(t, &split.cases, &c), score(t, &split.cases, &plain));
        let iv = |a: &eval::Row, b: &eval::Row| {
            paired(&a.per_case, &b.per_case, DRAWS, SEED).map_or("—".into(), |i| i.to_string())
        };
        println!(
            "{}: valid {:.4} (recency {:.4}: {}), test {:.4} (recency {:.4}: {})",
            c.label(),
            v.hr10,
            vb.hr10,
            iv(&v, &vb),
            te.hr10,
            tb.hr10,
            iv(&te, &tb)
        );
    }
    // How many training plays each rule marks (the phenomenon's size in these logs).
    for rule in [RunRule::Artist, RunRule::Order] {
        let c = RunsConfig {
            min_run: 3,
            rule,
            ..RunsConfig::plain(hl)
        };
        let pos = runs::all_positions(t, &c);
        let n: usize = pos.iter().map(Vec::len).sum();
        let inside = pos
            .iter()
            .flatten()
            .filter(|p| **p == runs::RunPos::Inside)
            .count();
        println!(
            "{rule:?} runs of ≥ 3: {:.3} of {n} training plays are continuation plays",
            inside as f64 / n.max(1) as f64
        );
    }
}
