//! `weft recommend`: recommendations from listening logs, or (`--eval`) the offline
//! evaluation of every model and baseline on a temporal split.

use super::logs::LoadArgs;
use crate::recommend::{self, eval as reval, Mode};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RecommendArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Whose recommendations (a user name as in the logs; default: the most active user).
    /// Not with --eval, which evaluates every user.
    #[arg(long, conflicts_with = "eval")]
    pub user: Option<String>,
    /// next (continue the session) | period ("for you": what you will play next weeks,
    /// replays included) | discover (only unheard items)
    #[arg(long, default_value = "period")]
    pub mode: Mode,
    /// How many recommendations to list.
    #[arg(short = 'n', default_value_t = 20, conflicts_with = "eval")]
    pub n: usize,
    /// popularity | most-played | recency | sknn | item-knn | markov | als | sigmoid | content |
    /// hybrid | blend | own-runs | rotation | changepoint. Default: the one that wins the mode's
    /// validation on your last 4 weeks.
    #[arg(long)]
    pub model: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Offline evaluation on a temporal split instead of recommending.
    #[arg(long)]
    pub eval: bool,
    /// With --eval: write the split for benches/peers (train.csv, cases).
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// With --eval: at most this many `next` test cases.
    #[arg(long, default_value_t = 5000)]
    pub max_cases: usize,
    /// With --eval: a peer's top-20 lists on the same split (benches/peers/logs/implicit_topn.py
    /// writes them); scored as rows named after the file stem. Repeatable.
    #[arg(long)]
    pub peer: Vec<PathBuf>,
}

pub fn run_recommend(a: RecommendArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let logs = a.load.load()?;
    if a.eval {
        let split = reval::split(&logs, 0.8, a.max_cases);
        if let Some(d) = &a.dump {
            reval::dump(&split, d)?;
        }
        let names: Vec<&str> = match &a.model {
            Some(m) => vec![m.as_str()],
            None => recommend::models::NAMES.to_vec(),
        };
        let tuning = recommend::hybrid::tune(&split.train);
        let mut rows = reval::evaluate(&split, &names, &tuning);
        for p in &a.peer {
            let name = p
                .file_stem()
                .map_or("peer".into(), |s| s.to_string_lossy().into_owned());
            let lists = reval::PeerLists::read(p, &name)?;
            rows.extend(lists.rows(&split));
        }
        rows.sort_by_key(|r| Mode::ALL.iter().position(|m| m.to_string() == r.mode));
        if a.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        } else {
            writeln!(
                out,
                "temporal split at {} — train {} plays, test {} plays, catalogue {} items",
                crate::logs::time::iso_string(split.cutoff),
                split.train_events.len(),
                split.test_events.len(),
                split.train.pop.iter().filter(|&&p| p > 0.0).count()
            )?;
            let users = tuning.user_mix.iter().filter(|m| m.is_some()).count();
            writeln!(
                out,
                "validation (train's last 20%): recency {} (period HR@10 {:.4}); hybrid new items \
                 by {}, mix {} ({users} users with their own), period HR@10 {:.4}",
                tuning.half_life_label(),
                tuning.recency_hr10,
                tuning.collab,
                tuning.mix,
                tuning.hybrid_hr10
            )?;
            if tuning.two_scale.is_some() {
                writeln!(
                    out,
                    "validation: hybrid's own part on two time scales, {} (period HR@10 {:.4})",
                    tuning.own_label(),
                    tuning.two_scale_hr10
                )?;
            }
            if let Some(w) = &tuning.blend {
                writeln!(
                    out,
                    "validation: blend fitted on {} rows (period HR@10 {:.4}, in-sample); largest \
                     weights {}",
                    w.rows,
                    tuning.blend_hr10,
                    w.summary(4)
                )?;
            }
            if let Some(r) = &tuning.runs {
                let iv = r
                    .interval
                    .map_or("no validation users".into(), |i| i.to_string());
                writeln!(
                    out,
                    "validation: own-runs best {} (period HR@10 {:.4}; − recency, paired \
                     bootstrap over users, 95%: {iv}); used: {}",
                    r.best.label(),
                    r.best_hr10,
                    r.config.label()
                )?;
            }
            if let Some(r) = &tuning.rotation {
                let iv = r
                    .interval
                    .map_or("no validation users".into(), |i| i.to_string());
                writeln!(
                    out,
                    "validation: rotation best {} (period HR@10 {:.4}; − recency, paired \
                     bootstrap over users, 95%: {iv}); used: {}",
                    r.best.label(),
                    r.best_hr10,
                    r.config.label()
                )?;
            }
            let cp = names
                .contains(&"changepoint")
                .then(|| recommend::changepoint::validate(&split.train, tuning.half_life_s))
                .flatten();
            if let Some(v) = &cp {
                let iv = v
                    .interval
                    .map_or("no validation users".into(), |i| i.to_string());
                writeln!(
                    out,
                    "validation for period (rolling origins at the training plays' 50/60/70/80 % \
                     quantiles, {} users, {} user×origin cases): changepoint HR@10 {:.4}, recency \
                     {:.4}; changepoint − recency, bootstrap over users {iv}; chosen: {}",
                    v.users,
                    v.cases,
                    v.changepoint_hr10,
                    v.recency_hr10,
                    v.chosen()
                )?;
            }
            if let Some(m) = recommend::models::build("recency", &split.train, &tuning) {
                let b = reval::period_breakdown(m.as_ref(), &split.train, &split.cases);
                writeln!(
                    out,
                    "period: of {:.0} test plays {:.3} are in recency's top 10, {:.3} heard but \
                     outside it, {:.3} new to the user; oracle ceiling (each user's 10 most-played \
                     test items) {:.3}, heard items only {:.3}",
                    b.plays, b.top10, b.heard_outside, b.new, b.ceiling, b.ceiling_heard
                )?;
            }
            write!(out, "{}", reval::table(&rows))?;
            writeln!(
                out,
                "period, model − baseline/peer HR@10 with the 95% interval of a paired bootstrap \
                 over users ({} draws, seed {}); a win = interval above 0:",
                recommend::bootstrap::DRAWS,
                recommend::bootstrap::SEED
            )?;
            for v in reval::period_intervals(&rows) {
                writeln!(out, "{v}")?;
            }
            for v in reval::verdicts(&rows, cp.as_ref().map(|v| v.chosen())) {
                writeln!(out, "{v}")?;
            }
        }
        return Ok(());
    }
    let v = recommend::recommend(&logs, a.user.as_deref(), a.mode, a.n, a.model.as_deref())?;
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(out, "{} for {}", v.mode, v.user)?;
        match &v.chosen_by {
            Some(w) => writeln!(out, "model: {} ({w})", v.model)?,
            None if a.model.is_some() => writeln!(out, "model: {} (named with --model)", v.model)?,
            None => writeln!(out, "model: {} (default, not validated)", v.model)?,
        }
        for (k, it) in v.items.iter().enumerate() {
            writeln!(
                out,
                "{:>3}. {} – {}  [{:.3}]  because {}",
                k + 1,
                it.artist,
                it.title,
                it.score,
                it.because
            )?;
        }
        if let Some(n) = &v.note {
            writeln!(out, "note: {n}")?;
        }
    }
    Ok(())
}
