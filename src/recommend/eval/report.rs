//! What an evaluation prints and writes: the plain-text table, the `period` differences with
//! their paired-bootstrap intervals, the per-protocol verdicts (which baselines and peers the
//! best model beats, and which it does not), and the split dumped for the peer scripts.

use super::*;

/// Plain-text table, grouped by protocol.
pub fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<13} {:<8} {:<9} {:>6} {:>7} {:>7} {:>8} {:>7} {:>8}\n",
        "model", "kind", "protocol", "cases", "HR@10", "HR@20", "NDCG@10", "MRR@20", "coverage"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<13} {:<8} {:<9} {:>6} {:>7.4} {:>7.4} {:>8.4} {:>7.4} {:>8.4}\n",
            r.model, r.kind, r.mode, r.cases, r.hr10, r.hr20, r.ndcg10, r.mrr20, r.coverage
        ));
    }
    s
}

/// Paired bootstrap over the `period` users of `cand` − `base` HR@10 (both rows of that
/// protocol, scored on the same cases). `None` if either row is missing.
pub fn period_interval(rows: &[Row], cand: &str, base: &str) -> Option<Interval> {
    let find = |m: &str| rows.iter().find(|r| r.mode == "period" && r.model == m);
    let (c, b) = (find(cand)?, find(base)?);
    bootstrap::paired(&c.per_case, &b.per_case, bootstrap::DRAWS, bootstrap::SEED)
}

/// One line per model (kind `model`) on `period`: its HR@10 minus each baseline's and peer's,
/// with the 95 % paired-bootstrap interval over users.
pub fn period_intervals(rows: &[Row]) -> Vec<String> {
    let period: Vec<&Row> = rows.iter().filter(|r| r.mode == "period").collect();
    let others: Vec<&Row> = period
        .iter()
        .copied()
        .filter(|r| r.kind != "model")
        .collect();
    period
        .iter()
        .filter(|r| r.kind == "model")
        .map(|m| {
            let parts: Vec<String> = others
                .iter()
                .filter_map(|b| {
                    period_interval(rows, &m.model, &b.model).map(|i| format!("{} {i}", b.model))
                })
                .collect();
            format!("  {} − {}", m.model, parts.join("; "))
        })
        .collect()
}

/// Per protocol: the model against every baseline and peer, saying plainly which are not
/// beaten — on `period` the model the rolling validation chose between `changepoint` and
/// `recency` (`period_choice`, when it has a row; the line says so — the pane's per-user
/// chooser is another matter), elsewhere the best model (non-baseline, non-peer) by HR@10. On
/// `period` "beats" means the paired-bootstrap interval of the difference lies above 0 (a
/// higher figure inside the noise is not a win).
pub fn verdicts(rows: &[Row], period_choice: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for mode in Mode::ALL {
        let mode = mode.to_string();
        let of_mode = || rows.iter().filter(|r| r.mode == mode);
        let chosen = period_choice
            .filter(|_| mode == "period")
            .and_then(|c| of_mode().find(|r| r.model == c));
        let Some(best) = chosen.or_else(|| {
            of_mode()
                .filter(|r| r.kind == "model")
                .max_by(|a, b| a.hr10.total_cmp(&b.hr10))
        }) else {
            continue;
        };
        let mut beaten = Vec::new();
        let mut not = Vec::new();
        for b in of_mode().filter(|r| r.kind != "model" && r.model != best.model) {
            let iv = (mode == "period")
                .then(|| period_interval(rows, &best.model, &b.model))
                .flatten();
            let s = match iv {
                Some(i) => format!(
                    "{} {:.4} ({:+.4} [{:+.4}, {:+.4}])",
                    b.model, b.hr10, i.diff, i.lo, i.hi
                ),
                None => format!("{} {:.4}", b.model, b.hr10),
            };
            let wins = match iv {
                Some(i) => i.wins(),
                None => best.hr10 > b.hr10,
            };
            if wins {
                beaten.push(s);
            } else {
                not.push(s);
            }
        }
        let what = if chosen.is_some() {
            "model chosen by rolling validation (vs recency)"
        } else {
            "best model"
        };
        let mut line = format!("{mode}: {what} {} HR@10 {:.4}", best.model, best.hr10);
        if !beaten.is_empty() {
            line.push_str(&format!("; beats {}", beaten.join(", ")));
        }
        if !not.is_empty() {
            line.push_str(&format!("; NOT beaten by it: {}", not.join(", ")));
        }
        out.push(line);
    }
    out
}

fn write_events(path: &std::path::Path, ev: &[(u32, u32, i64)]) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let mut s = String::from("user\titem\tts\n");
    for (u, i, t) in ev {
        let _ = writeln!(s, "{u}\t{i}\t{t}");
    }
    std::fs::write(path, s)
}

/// Write the split for the peer scripts: `train.tsv` (user, item, ts), `valid_train.tsv` and
/// `valid.tsv` (the validation split inside training that [`super::hybrid::tune`] uses),
/// `catalogue.txt` (n_users n_items); and, for `run_peers.py`, `train.csv`, `next_cases.csv`
/// (case,user,target) and `discover_cases.csv` (user,item).
pub fn dump(split: &Split, dir: &std::path::Path) -> std::io::Result<()> {
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir)?;
    write_events(&dir.join("train.tsv"), &split.train_events)?;
    let (vt, vv) = time_split(&split.train.events(), 0.8);
    write_events(&dir.join("valid_train.tsv"), &vt)?;
    write_events(&dir.join("valid.tsv"), &vv)?;
    let mut s = String::from("user,item,ts\n");
    for (u, i, t) in &split.train_events {
        let _ = writeln!(s, "{u},{i},{t}");
    }
    std::fs::write(dir.join("train.csv"), s)?;
    let mut s = String::from("case,user,target\n");
    for (k, (u, _, t)) in split.cases.next.iter().enumerate() {
        let _ = writeln!(s, "{k},{u},{t}");
    }
    std::fs::write(dir.join("next_cases.csv"), s)?;
    let mut s = String::from("user,item\n");
    for (u, _, rel) in &split.cases.discover {
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
