//! Experiment (issue #20, `period`) behind `src/recommend/changepoint.rs`: per-item change-point estimates of each heard item's share
//! of the user's plays, instead of one exponential decay for every item.
//! `cargo run --release --example recommend_adaptive -- LOGS [a] [hazard_days] [unit]`.
//!
//! Model: each (user, item)'s share λ of the user's plays is piecewise constant with at most
//! one change; day bins back from the cutoff; counts c_d ~ Poisson(λ · e_d) with e_d the user's
//! plays on day d; Gamma(a, a/m) prior on each piece (m = 1 / items the user heard); a change
//! `j` days ago has prior ∝ h (1 − h)^(j−1) (h = 1 / hazard_days), no change the rest. The
//! score is the posterior mean of the current share. Printed: validation and test HR@10 against
//! recency at the chooser's half-life, with the paired bootstrap over users, and on four
//! rolling origins (`AVG=1`: the six-prior average the product uses). Unit 1/2 count
//! distinct sessions/days instead of plays (both lose). The product's version uses a coarser
//! change grid and averages the priors; figures in docs/logs.md. `REPLAY=β/N,…` adds β × the
//! item's share of the user's last N plays to the product's `changepoint` (measured: no win);
//! `TWO=1` adds two-change hypotheses (up then down) to it (measured: no change).
use std::collections::HashMap;
use weft::recommend::bootstrap::{paired, DRAWS, SEED};
use weft::recommend::models::Fixed;
use weft::recommend::{eval, hybrid, models, Mode, Model, Train};

use weft::recommend::changepoint::ln_gamma;

#[derive(Clone, Copy, Debug)]
struct Cfg {
    a: f64,
    hazard_days: f64,
    /// 0: plays; 1: distinct sessions (counts and exposure); 2: distinct days.
    unit: u8,
    /// Largest age (days) considered.
    max_days: usize,
}

/// The estimates as a model, and the summed log evidence of the fit.
fn fit(t: &Train, c: &Cfg) -> (Fixed, f64) {
    let h = 1.0 / c.hazard_days;
    let mut evidence = 0.0;
    let rows = t
        .history
        .iter()
        .zip(&t.history_ts)
        .map(|(hist, ts)| {
            let mut row = HashMap::new();
            if hist.is_empty() {
                return row;
            }
            // Per day back from the cutoff: exposure, and per item counts.
            let k = (((t.end - ts[0]).max(0) / 86400) as usize + 1).min(c.max_days);
            let mut e = vec![0f64; k];
            let mut counts: HashMap<u32, Vec<(usize, f64)>> = HashMap::new();
            let mut sess = 0i64;
            let mut last = i64::MIN;
            let mut seen: HashMap<(u32, i64), ()> = HashMap::new();
            let mut seen_unit: HashMap<i64, ()> = HashMap::new();
            for (&i, &w) in hist.iter().zip(ts) {
                if last == i64::MIN || w - last >= 1800 {
                    sess += 1;
                }
                last = w;
                let d = ((t.end - w).max(0) / 86400) as usize;
                if d >= k {
                    continue;
                }
                let key = match c.unit {
                    0 => None,
                    1 => Some(sess),
                    _ => Some(w.div_euclid(86400)),
                };
                match key {
                    None => e[d] += 1.0,
                    Some(kk) => {
                        if seen_unit.insert(kk, ()).is_none() {
                            e[d] += 1.0;
                        }
                        if seen.insert((i, kk), ()).is_some() {
                            continue;
                        }
                    }
                }
                let v = counts.entry(i).or_default();
                match v.last_mut() {
                    Some(x) if x.0 == d => x.1 += 1.0,
                    _ => v.push((d, 1.0)),
                }
            }
            // Cumulative exposure from day 0 (most recent) back.
            let mut ce = vec![0f64; k + 1];
            for d in 0..k {
                ce[d + 1] = ce[d] + e[d];
            }
            let m = 1.0 / counts.len().max(1) as f64;
            let a = c.a;
            let b = a / m;
            let lg_a = ln_gamma(a);
            let ml =
                |cc: f64, ee: f64| a * b.ln() + ln_gamma(a + cc) - lg_a - (a + cc) * (b + ee).ln();
            let total_e = ce[k];
            for (i, v) in counts {
                // v: (day, count), days in decreasing order (plays in time order) → sort.
                let mut v = v;
                v.sort_by_key(|x| x.0);
                let total_c: f64 = v.iter().map(|x| x.1).sum();
                // Hypotheses: change j days ago (j = 1..k−1): after = days < j; and no change.
                let mut logs = Vec::with_capacity(k);
                let mut means = Vec::with_capacity(k);
                let mut c_after = 0.0;
                let mut p = 0;
                for (j, &ea) in ce.iter().enumerate().take(k).skip(1) {
                    while p < v.len() && v[p].0 < j {
                        c_after += v[p].1;
                        p += 1;
                    }
                    if ea <= 0.0 {
                        continue;
                    }
                    let prior = h.ln() + (j as f64 - 1.0) * (1.0 - h).ln();
                    logs.push(prior + ml(c_after, ea) + ml(total_c - c_after, total_e - ea));
                    means.push((a + c_after) / (b + ea));
                }
                logs.push((k as f64 - 1.0) * (1.0 - h).ln() + ml(total_c, total_e));
                means.push((a + total_c) / (b + total_e));
                let mx = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let (mut s, mut z) = (0.0, 0.0);
                for (l, mu) in logs.iter().zip(&means) {
                    let w = (l - mx).exp();
                    s += w * mu;
                    z += w;
                }
                row.insert(i, (s / z) as f32);
                evidence += mx + z.ln();
            }
            row
        })
        .collect();
    (
        Fixed {
            rows,
            name: "adaptive",
        },
        evidence,
    )
}

/// The mean of the shares over a grid of priors (model averaging instead of picking one).
fn fit_avg(t: &Train, grid: &[(f64, f64)]) -> Fixed {
    let mut rows: Vec<HashMap<u32, f32>> = vec![HashMap::new(); t.n_users];
    for &(a, hz) in grid {
        let (r, _) = fit(
            t,
            &Cfg {
                a,
                hazard_days: hz,
                unit: 0,
                max_days: 400,
            },
        );
        for (dst, src) in rows.iter_mut().zip(r.rows) {
            for (i, v) in src {
                *dst.entry(i).or_default() += v / grid.len() as f32;
            }
        }
    }
    Fixed {
        rows,
        name: "adaptive",
    }
}

/// One change or two (up then down: a binge that ended), averaged over `priors`; day bins
/// from each user's own last play, the product's change grid.
fn fit2(t: &Train, priors: &[(f64, f64)]) -> Fixed {
    let mut grid: Vec<usize> = (1..=14).collect();
    grid.extend((16..=42).step_by(2));
    grid.extend((49..730).step_by(7));
    let rows = t
        .history
        .iter()
        .zip(&t.history_ts)
        .map(|(hist, ts)| {
            let mut row: HashMap<u32, f32> = HashMap::new();
            let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
                return row;
            };
            let k = (((last - first) / 86_400) as usize + 1).min(730);
            let mut e = vec![0f64; k];
            let mut per: HashMap<u32, Vec<usize>> = HashMap::new();
            for (&i, &w) in hist.iter().zip(ts) {
                let d = ((last - w) / 86_400) as usize;
                if d < k {
                    e[d] += 1.0;
                    per.entry(i).or_default().push(d);
                }
            }
            let mut ce = vec![0f64; k + 1];
            for d in 0..k {
                ce[d + 1] = ce[d] + e[d];
            }
            let g: Vec<usize> = grid.iter().copied().filter(|&j| j < ce.len()).collect();
            let eg: Vec<f64> = g.iter().map(|&j| ce[j]).collect();
            let etot = ce[k];
            let n_items = per.len() as f64;
            let width = |x: usize| g.get(x + 1).map_or(7, |&n| n - g[x]) as f64;
            for (item, mut days) in per {
                days.sort_unstable();
                let tot = days.len() as f64;
                let cg: Vec<f64> = g
                    .iter()
                    .map(|&j| days.partition_point(|&d| d < j) as f64)
                    .collect();
                let mut acc = 0.0;
                for &(a, hz) in priors {
                    let b = a * n_items;
                    let h: f64 = 1.0 / hz;
                    let (lh, l1h) = (h.ln(), (1.0 - h).ln());
                    let cm = a * b.ln() - ln_gamma(a);
                    let ml = |c: f64, e: f64| cm + ln_gamma(a + c) - (a + c) * (b + e).ln();
                    let mut terms: Vec<(f64, f64)> = Vec::new();
                    terms.push((k as f64 * l1h + ml(tot, etot), (a + tot) / (b + etot)));
                    for x in 0..g.len() {
                        if eg[x] <= 0.0 {
                            continue;
                        }
                        let p1 = lh + (g[x] as f64 - 1.0) * l1h + width(x).ln();
                        let rest = ml(tot - cg[x], etot - eg[x]);
                        terms.push((p1 + ml(cg[x], eg[x]) + rest, (a + cg[x]) / (b + eg[x])));
                        for y in 0..x {
                            if eg[y] <= 0.0 {
                                continue;
                            }
                            let p2 = 2.0 * lh
                                + (g[x] as f64 - 2.0) * l1h
                                + width(x).ln()
                                + width(y).ln();
                            let l = p2 + ml(cg[y], eg[y]) + ml(cg[x] - cg[y], eg[x] - eg[y]) + rest;
                            terms.push((l, (a + cg[y]) / (b + eg[y])));
                        }
                    }
                    let mx = terms.iter().map(|t| t.0).fold(f64::NEG_INFINITY, f64::max);
                    let (mut sw, mut z) = (0.0, 0.0);
                    for (l, m) in terms {
                        let w = (l - mx).exp();
                        sw += w * m;
                        z += w;
                    }
                    acc += sw / z;
                }
                row.insert(item, (acc / priors.len() as f64) as f32);
            }
            row
        })
        .collect();
    Fixed {
        rows,
        name: "two-change",
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: recommend_adaptive LOGS");
    let logs =
        weft::logs::load(std::path::Path::new(&path), Default::default()).expect("logs load");
    let split = eval::split(&logs, 0.8, 2000);
    let t = &split.train;
    let (iev, vev) = eval::time_split(&t.events(), 0.8);
    let inner = Train::new(t.n_users, t.n_items, &iev, t.artist_of.clone());
    let vcases = eval::cases(&inner, &vev, 0, &[Mode::Period]);
    let tuning = hybrid::tune(t);
    println!(
        "recency half-life {:?} d",
        tuning.half_life_s.map(|s| s / 86400.0)
    );
    let rec_v = models::build("recency", &inner, &tuning).expect("recency");
    let rec_t = models::build("recency", t, &tuning).expect("recency");
    let bv = eval::score(rec_v.as_ref(), &inner, &vcases, Mode::Period);
    let bt = eval::score(rec_t.as_ref(), t, &split.cases, Mode::Period);
    println!("recency: valid {:.4}, test {:.4}", bv.hr10, bt.hr10);
    let iv = |a: &eval::Row, b: &eval::Row| {
        paired(&a.per_case, &b.per_case, DRAWS, SEED).map_or("—".into(), |i| i.to_string())
    };
    let arg = |n: usize| std::env::args().nth(n);
    let as_: Vec<f64> = arg(2).map_or(vec![0.3, 1.0, 3.0], |s| {
        s.split(',').map(|x| x.parse().unwrap()).collect()
    });
    let hs: Vec<f64> = arg(3).map_or(vec![30.0, 100.0, 300.0], |s| {
        s.split(',').map(|x| x.parse().unwrap()).collect()
    });
    // Rolling origins: cutoffs at the training plays' 50/60/70/80 % time quantiles, each
    // followed by a period as long as the standard validation's.
    let ev = t.events();
    let mut tsorted: Vec<i64> = ev.iter().map(|e| e.2).collect();
    tsorted.sort_unstable();
    let q = |f: f64| tsorted[((tsorted.len() as f64 * f) as usize).min(tsorted.len() - 1)];
    let len = t.end - q(0.8);
    let folds: Vec<(Train, eval::Cases)> = [0.5, 0.6, 0.7, 0.8]
        .iter()
        .map(|&f| {
            let c0 = q(f);
            let (a, b): (Vec<eval::Event>, Vec<eval::Event>) = ev.iter().partition(|e| e.2 < c0);
            let b: Vec<_> = b.into_iter().filter(|e| e.2 < c0 + len).collect();
            let tr = Train::new(t.n_users, t.n_items, &a, t.artist_of.clone());
            let cs = eval::cases(&tr, &b, 0, &[Mode::Period]);
            (tr, cs)
        })
        .collect();
    let rolling = |fit_one: &dyn Fn(&Train) -> Box<dyn Model>| -> Vec<(f64, f64)> {
        folds
            .iter()
            .flat_map(|(tr, cs)| eval::score(fit_one(tr).as_ref(), tr, cs, Mode::Period).per_case)
            .collect()
    };
    let pooled = |v: &[(f64, f64)]| {
        v.iter().map(|x| x.0).sum::<f64>() / v.iter().map(|x| x.1).sum::<f64>().max(1e-12)
    };
    let rb = rolling(&|tr| models::build("recency", tr, &tuning).unwrap());
    println!("rolling recency {:.4} ({} cases)", pooled(&rb), rb.len());
    if std::env::var("TWO").is_ok() {
        let priors = weft::recommend::changepoint::PRIORS;
        let cp_of = |tr: &Train| weft::recommend::changepoint::ChangePoint::fit(tr);
        let rcp = rolling(&|tr| Box::new(cp_of(tr)));
        let r2 = rolling(&|tr| Box::new(fit2(tr, &priors)));
        let ri = paired(&r2, &rcp, DRAWS, SEED).map_or("—".into(), |i| i.to_string());
        let cpt = eval::score(&cp_of(t), t, &split.cases, Mode::Period);
        let te = eval::score(&fit2(t, &priors), t, &split.cases, Mode::Period);
        println!(
            "two changes: rolling {:.4} vs changepoint {:.4} ({ri}); test {:.4} vs {:.4} (− cp {}; − recency {})",
            pooled(&r2),
            pooled(&rcp),
            te.hr10,
            cpt.hr10,
            iv(&te, &cpt),
            iv(&te, &bt)
        );
        return;
    }
    if let Ok(spec) = std::env::var("REPLAY") {
        // The product's changepoint + β × the item's share of the user's last N plays (the
        // replay pool), against recency and against changepoint alone.
        let cp_of = |tr: &Train| weft::recommend::changepoint::ChangePoint::fit(tr);
        let with = |tr: &Train, beta: f32, n: usize| -> Fixed {
            let cp = cp_of(tr);
            let rows = (0..tr.n_users)
                .map(|u| {
                    let mut row: HashMap<u32, f32> =
                        cp.row(u as u32).iter().map(|e| (e.item, e.share)).collect();
                    let h = &tr.history[u];
                    let tail = &h[h.len().saturating_sub(n)..];
                    for &i in tail {
                        *row.entry(i).or_default() += beta / tail.len().max(1) as f32;
                    }
                    row
                })
                .collect();
            Fixed {
                rows,
                name: "cp+replay",
            }
        };
        let rcp = rolling(&|tr| Box::new(cp_of(tr)));
        println!("rolling changepoint {:.4}", pooled(&rcp));
        let cpt = eval::score(&cp_of(t), t, &split.cases, Mode::Period);
        for part in spec.split(',') {
            let (b, n) = part.split_once('/').expect("BETA/N");
            let (beta, n): (f32, usize) = (b.parse().unwrap(), n.parse().unwrap());
            let rc = rolling(&|tr| Box::new(with(tr, beta, n)));
            let ri = paired(&rc, &rcp, DRAWS, SEED).map_or("—".into(), |i| i.to_string());
            let te = eval::score(&with(t, beta, n), t, &split.cases, Mode::Period);
            println!(
                "β {beta} N {n}: rolling {:.4} (− cp {ri}), test {:.4} (− recency {}; − cp {})",
                pooled(&rc),
                te.hr10,
                iv(&te, &bt),
                iv(&te, &cpt)
            );
        }
        return;
    }
    if std::env::var("AVG").is_ok() {
        // The product's priors (`changepoint::PRIORS`), averaged by this sweep's own fit.
        let grid = weft::recommend::changepoint::PRIORS;
        let rc = rolling(&|tr| Box::new(fit_avg(tr, &grid)));
        let ri = paired(&rc, &rb, DRAWS, SEED).map_or("—".into(), |i| i.to_string());
        let v = eval::score(&fit_avg(&inner, &grid), &inner, &vcases, Mode::Period);
        let te = eval::score(&fit_avg(t, &grid), t, &split.cases, Mode::Period);
        println!(
            "avg: rolling {:.4} ({ri}), valid {:.4} ({}), test {:.4} ({})",
            pooled(&rc),
            v.hr10,
            iv(&v, &bv),
            te.hr10,
            iv(&te, &bt)
        );
        return;
    }
    let units: Vec<u8> = arg(4).map_or(vec![0, 1], |s| {
        s.split(',').map(|x| x.parse().unwrap()).collect()
    });
    for &unit in &units {
        for &a in &as_ {
            for &hz in &hs {
                let c = Cfg {
                    a,
                    hazard_days: hz,
                    unit,
                    max_days: 400,
                };
                let (mv, _) = fit(&inner, &c);
                let v = eval::score(&mv, &inner, &vcases, Mode::Period);
                let (mt, evidence) = fit(t, &c);
                let te = eval::score(&mt, t, &split.cases, Mode::Period);
                let rc = rolling(&|tr| Box::new(fit(tr, &c).0));
                let ri = paired(&rc, &rb, DRAWS, SEED).map_or("—".into(), |i| i.to_string());
                println!(
                    "unit {unit} a {a} hazard {hz} d: ev {:.0} rolling {:.4} ({ri}), valid {:.4} ({}), test {:.4} ({})",
                    evidence,
                    pooled(&rc),
                    v.hr10,
                    iv(&v, &bv),
                    te.hr10,
                    iv(&te, &bt)
                );
            }
        }
    }
}
