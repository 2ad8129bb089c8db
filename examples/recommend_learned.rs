//! A pooled, learned "future plays" ranker for the `period` protocol (issue #20, experiment):
//! `cargo run --release --example recommend_learned -- LOGS [LOGS …]`.
//!
//! Pointwise, pooled over users: for every (user, heard item) features are computed from the
//! plays before a cutoff T (decayed shares at several half-lives, distinct sessions and days,
//! ages, the replay pool of the last 200 plays, the artist's share, the ±2-play context of the
//! user's long-window top 20, album-order runs, global popularity, trend and freshness), and a
//! model predicts the item's plays after T. Items never heard score 0 (the shared popularity
//! tie-breaker orders them).
//!
//! Training uses the inner split exactly as `hybrid::tune` does (train's first 80 % of plays →
//! features at its end; targets = each (user, item)'s plays in the validation period).
//! - **validation (honest, cross-fitted)**: 5 folds over users; each fold is predicted by a
//!   model fitted on the other 4 folds' rows and scored on the validation `period` cases
//!   against recency at the tuned half-life on the same cases;
//! - **test**: fitted on all users' validation targets, applied with features at the end of
//!   the full train, scored on the test `period` cases against `recency` (`hybrid::tune`).
//!
//! `+N earlier cutoffs` variants add training rows from N earlier cutoffs inside the inner
//! train (its own 80 % split, then that one's; targets = the plays up to the next cutoff): all
//! before the validation cutoff, so the cross-fitted figure stays honest, and more rows.
//!
//! Models (all written here, deterministic): gradient-boosted regression trees with a Poisson
//! deviance and the log of the user's period plays as offset (so a tree models the log
//! *share* of the user's coming plays — the user's scale cancels in the ranking), depth 3–5,
//! shrinkage .05, min leaf 50, histogram splits (≤ 64 quantile bins per feature), Newton leaf
//! values capped at ±1 before shrinkage; the same trees on a squared error of log1p(plays);
//! and a ridge Poisson GLM on the same features (same offset). Prints HR@10 and the paired
//! bootstrap (1,000 draws, seed 20) against recency on validation and test, the trees' gain
//! importance, and the fit wall times.
use std::collections::HashMap;
use std::time::Instant;
use weft::recommend::bootstrap::{paired, DRAWS, SEED};
use weft::recommend::models::Fixed;
use weft::recommend::runs::{positions, RunPos, Transitions};
use weft::recommend::{eval, hybrid, models, rotation, Mode, Train};

const DAY: f64 = 86_400.0;
const HLS: [f64; 6] = [3.0, 7.0, 14.0, 30.0, 60.0, 120.0];
const EPS: f64 = 1e-5;

const NAMES: [&str; 31] = [
    "share-dec-3d",
    "share-dec-7d",
    "share-dec-14d",
    "share-dec-30d",
    "share-dec-60d",
    "share-dec-120d",
    "share-nodecay",
    "log-count",
    "log-rank-14d",
    "log-rank-60d",
    "sess-frac-14d",
    "sess-frac-60d",
    "day-frac-14d",
    "day-frac-60d",
    "log-age-first",
    "log-age-last",
    "last200-frac",
    "artist-share-30d",
    "top20-ctx-frac",
    "run-inside-frac",
    "next-same-artist-frac",
    "log-global-pop",
    "global-trend",
    "log-freshness",
    "user-log-plays-30d",
    "user-log-items-30d",
    "est-near-ctx",
    "log-sessions-all",
    "plays-per-session",
    "sess-share-dec-14d",
    "sess-share-dec-30d",
];
const P: usize = NAMES.len();

/// Feature rows of every (user, heard item) at `tr.end`.
struct Feats {
    /// (user, item) per row.
    keys: Vec<(u32, u32)>,
    /// Row-major, `P` per row.
    x: Vec<f32>,
}

fn features(tr: &Train) -> Feats {
    let end = tr.end;
    let age_d = |ts: i64| (end - ts).max(0) as f64 / DAY;
    // Global per item: recent trend, first play.
    let mut g14 = vec![0f64; tr.n_items];
    let mut g56 = vec![0f64; tr.n_items];
    let mut first = vec![i64::MAX; tr.n_items];
    for (h, ts) in tr.history.iter().zip(&tr.history_ts) {
        for (&i, &w) in h.iter().zip(ts) {
            let a = age_d(w);
            if a < 14.0 {
                g14[i as usize] += 1.0;
            } else if a < 56.0 {
                g56[i as usize] += 1.0;
            }
            first[i as usize] = first[i as usize].min(w);
        }
    }
    let order = Transitions::count(tr);
    let mut keys = Vec::new();
    let mut x = Vec::new();
    for u in 0..tr.n_users {
        let h = &tr.history[u];
        let ts = &tr.history_ts[u];
        let n = h.len();
        if n == 0 {
            continue;
        }
        let pos = positions(tr, u, 3, Some(&order));
        let facts = rotation::facts(tr, u);
        // Sessions and days per play.
        let mut sess = vec![0u32; n];
        for k in 1..n {
            sess[k] = sess[k - 1] + u32::from(ts[k] - ts[k - 1] >= 1800);
        }
        let mut idx: HashMap<u32, usize> = HashMap::new();
        let mut items: Vec<u32> = Vec::new();
        for &i in h {
            idx.entry(i).or_insert_with(|| {
                items.push(i);
                items.len() - 1
            });
        }
        let m = items.len();
        let mut dec = vec![[0f64; 6]; m];
        let mut cnt = vec![0f64; m];
        let mut tot_dec = [0f64; 6];
        let mut last_s = vec![[u32::MAX; 3]; m]; // last session counted: 14 d, 60 d, all
        let mut last_d = vec![[i64::MIN; 2]; m];
        let mut ns = vec![[0f64; 3]; m];
        let mut nd = vec![[0f64; 2]; m];
        let mut firstp = vec![i64::MAX; m];
        let mut lastp = vec![i64::MIN; m];
        let mut l200 = vec![0f64; m];
        let mut w30 = vec![0f64; m];
        let mut ctx = vec![0f64; m];
        let mut run = vec![0f64; m];
        let mut nxt = vec![0f64; m];
        let mut est = vec![0f64; m];
        let mut sdec = vec![[0f64; 2]; m];
        let mut sdec_tot = [0f64; 2];
        let (mut us14, mut us60, mut ud14, mut ud60) = (0f64, 0f64, 0f64, 0f64);
        let (mut lsu, mut ldu) = ([u32::MAX; 2], [i64::MIN; 2]);
        let mut art: HashMap<u32, f64> = HashMap::new();
        let mut art_tot = 0f64;
        let (mut p30, mut items30) = (0f64, std::collections::HashSet::new());
        for k in 0..n {
            let r = idx[&h[k]];
            let a = age_d(ts[k]);
            let day = ts[k].div_euclid(86_400);
            for (j, hl) in HLS.iter().enumerate() {
                let w = 0.5f64.powf(a / hl);
                dec[r][j] += w;
                tot_dec[j] += w;
            }
            cnt[r] += 1.0;
            firstp[r] = firstp[r].min(ts[k]);
            lastp[r] = lastp[r].max(ts[k]);
            if n - k <= 200 {
                l200[r] += 1.0;
            }
            for (j, win) in [14.0, 60.0].iter().enumerate() {
                if a < *win {
                    if last_s[r][j] != sess[k] {
                        last_s[r][j] = sess[k];
                        ns[r][j] += 1.0;
                    }
                    if last_d[r][j] != day {
                        last_d[r][j] = day;
                        nd[r][j] += 1.0;
                    }
                    if lsu[j] != sess[k] {
                        lsu[j] = sess[k];
                        if j == 0 {
                            us14 += 1.0
                        } else {
                            us60 += 1.0
                        }
                    }
                    if ldu[j] != day {
                        ldu[j] = day;
                        if j == 0 {
                            ud14 += 1.0
                        } else {
                            ud60 += 1.0
                        }
                    }
                }
            }
            if last_s[r][2] != sess[k] {
                last_s[r][2] = sess[k];
                ns[r][2] += 1.0;
                for (j, hl) in [14.0, 30.0].iter().enumerate() {
                    let w = 0.5f64.powf(a / hl);
                    sdec[r][j] += w;
                    sdec_tot[j] += w;
                }
            }
            let w = 0.5f64.powf(a / 30.0);
            w30[r] += w;
            *art.entry(tr.artist_of[h[k] as usize]).or_default() += w;
            art_tot += w;
            if a < 30.0 {
                p30 += 1.0;
                items30.insert(h[k]);
            }
            if pos[k] == RunPos::Inside {
                run[r] += w;
            }
            if k + 1 < n
                && sess[k + 1] == sess[k]
                && h[k + 1] != h[k]
                && tr.artist_of[h[k + 1] as usize] == tr.artist_of[h[k] as usize]
            {
                nxt[r] += w;
            }
            est[r] += w * facts.near[k][1] as f64;
        }
        // Top 20 by the 60-day decayed count, then the ±2-play context.
        let mut by60: Vec<usize> = (0..m).collect();
        by60.sort_by(|&a, &b| dec[b][4].total_cmp(&dec[a][4]).then(a.cmp(&b)));
        let mut rank60 = vec![0usize; m];
        for (k, &r) in by60.iter().enumerate() {
            rank60[r] = k;
        }
        let mut by14: Vec<usize> = (0..m).collect();
        by14.sort_by(|&a, &b| dec[b][2].total_cmp(&dec[a][2]).then(a.cmp(&b)));
        let mut rank14 = vec![0usize; m];
        for (k, &r) in by14.iter().enumerate() {
            rank14[r] = k;
        }
        for k in 0..n {
            let r = idx[&h[k]];
            let lo = k.saturating_sub(2);
            let hi = (k + 3).min(n);
            let hit = (lo..hi)
                .any(|q| q != k && sess[q] == sess[k] && h[q] != h[k] && rank60[idx[&h[q]]] < 20);
            if hit {
                ctx[r] += 0.5f64.powf(age_d(ts[k]) / 30.0);
            }
        }
        let lns = |v: f64| (v + EPS).ln();
        let frac = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        for r in 0..m {
            let i = items[r];
            let gi = i as usize;
            let mut f = [0f64; P];
            for j in 0..6 {
                f[j] = lns(frac(dec[r][j], tot_dec[j]));
            }
            f[6] = lns(cnt[r] / n as f64);
            f[7] = cnt[r].ln_1p();
            f[8] = (rank14[r] as f64).ln_1p();
            f[9] = (rank60[r] as f64).ln_1p();
            f[10] = frac(ns[r][0], us14);
            f[11] = frac(ns[r][1], us60);
            f[12] = frac(nd[r][0], ud14);
            f[13] = frac(nd[r][1], ud60);
            f[14] = age_d(firstp[r]).ln_1p();
            f[15] = age_d(lastp[r]).ln_1p();
            f[16] = l200[r] / (n.min(200) as f64);
            f[17] = lns(frac(art[&tr.artist_of[gi]], art_tot));
            f[18] = frac(ctx[r], w30[r]);
            f[19] = frac(run[r], w30[r]);
            f[20] = frac(nxt[r], w30[r]);
            f[21] = (tr.pop[gi] as f64).ln_1p();
            f[22] = ((g14[gi] + 1.0) / (g56[gi] / 3.0 + 1.0)).ln();
            f[23] = age_d(first[gi]).ln_1p();
            f[24] = p30.ln_1p();
            f[25] = (items30.len() as f64).ln_1p();
            f[26] = frac(est[r], w30[r]);
            f[27] = ns[r][2].ln_1p();
            f[28] = cnt[r] / ns[r][2].max(1.0);
            f[29] = lns(frac(sdec[r][0], sdec_tot[0]));
            f[30] = lns(frac(sdec[r][1], sdec_tot[1]));
            keys.push((u as u32, i));
            x.extend(f.iter().map(|&v| v as f32));
        }
    }
    Feats { keys, x }
}

// ---------------------------------------------------------------- gradient-boosted trees

#[derive(Clone, Copy, PartialEq)]
enum Loss {
    /// Poisson deviance, log link, offset = log of the user's period plays.
    Poisson,
    /// Squared error on log1p(plays).
    L2Log,
}

#[derive(Clone, Copy)]
struct Gbm {
    loss: Loss,
    depth: usize,
    trees: usize,
    eta: f64,
    min_leaf: usize,
    lambda: f64,
    max_delta: f64,
}

const BINS: usize = 64;

/// Quantile bin edges per feature (ascending, unique; the last is the maximum).
fn edges(x: &[f32], n: usize) -> Vec<Vec<f32>> {
    (0..P)
        .map(|f| {
            let stride = (n / 50_000).max(1);
            let mut v: Vec<f32> = (0..n).step_by(stride).map(|r| x[r * P + f]).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            let mut e: Vec<f32> = (1..=BINS)
                .map(|q| v[((q * v.len()) / BINS).min(v.len() - 1)])
                .collect();
            e.push(v[v.len() - 1]);
            e.dedup();
            e.truncate(BINS);
            e
        })
        .collect()
}

fn binned(x: &[f32], n: usize, e: &[Vec<f32>]) -> Vec<u8> {
    let mut b = vec![0u8; n * P];
    for r in 0..n {
        for f in 0..P {
            let v = x[r * P + f];
            b[r * P + f] = e[f].partition_point(|&t| t < v).min(e[f].len() - 1) as u8;
        }
    }
    b
}

#[derive(Clone, Copy)]
struct Node {
    feat: u16,
    thr: f32,
    left: u32,
    right: u32,
    value: f32,
}

struct Forest {
    base: f64,
    trees: Vec<Vec<Node>>,
    gain: [f64; P],
}

impl Forest {
    fn predict(&self, row: &[f32]) -> f64 {
        let mut s = self.base;
        for t in &self.trees {
            let mut k = 0usize;
            loop {
                let nd = &t[k];
                if nd.left == 0 {
                    s += nd.value as f64;
                    break;
                }
                k = if row[nd.feat as usize] <= nd.thr {
                    nd.left as usize
                } else {
                    nd.right as usize
                };
            }
        }
        s
    }
}

type Hist = Vec<(f64, f64, u32)>;

struct Grow<'a> {
    bins: &'a [u8],
    edges: &'a [Vec<f32>],
    g: &'a [f64],
    h: &'a [f64],
    cfg: Gbm,
    nodes: Vec<Node>,
    gain: [f64; P],
    leaf_of: Vec<(u32, f32)>,
}

impl Grow<'_> {
    fn hist(&self, rows: &[u32]) -> Hist {
        let mut hs = vec![(0.0, 0.0, 0u32); P * BINS];
        for &r in rows {
            let (g, h) = (self.g[r as usize], self.h[r as usize]);
            let b = &self.bins[r as usize * P..r as usize * P + P];
            for f in 0..P {
                let e = &mut hs[f * BINS + b[f] as usize];
                e.0 += g;
                e.1 += h;
                e.2 += 1;
            }
        }
        hs
    }

    fn grow(&mut self, rows: &mut [u32], hs: Hist, depth: usize) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            feat: 0,
            thr: 0.0,
            left: 0,
            right: 0,
            value: 0.0,
        });
        let (gs, hsum) = (0..BINS).fold((0.0, 0.0), |a, b| (a.0 + hs[b].0, a.1 + hs[b].1));
        let lam = self.cfg.lambda;
        let parent = gs * gs / (hsum + lam);
        let mut best: Option<(f64, usize, usize)> = None;
        if depth < self.cfg.depth && rows.len() >= 2 * self.cfg.min_leaf {
            for f in 0..P {
                let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0usize);
                for b in 0..self.edges[f].len().saturating_sub(1) {
                    let e = hs[f * BINS + b];
                    gl += e.0;
                    hl += e.1;
                    nl += e.2 as usize;
                    let nr = rows.len() - nl;
                    if nl < self.cfg.min_leaf {
                        continue;
                    }
                    if nr < self.cfg.min_leaf {
                        break;
                    }
                    let (gr, hr) = (gs - gl, hsum - hl);
                    if hl < 1e-3 || hr < 1e-3 {
                        continue;
                    }
                    let gain = gl * gl / (hl + lam) + gr * gr / (hr + lam) - parent;
                    if gain > best.map_or(1e-9, |b| b.0) {
                        best = Some((gain, f, b));
                    }
                }
            }
        }
        let Some((gain, f, b)) = best else {
            let v =
                (-gs / (hsum + lam)).clamp(-self.cfg.max_delta, self.cfg.max_delta) * self.cfg.eta;
            self.nodes[id as usize].value = v as f32;
            for &r in rows.iter() {
                self.leaf_of[r as usize] = (id, v as f32);
            }
            return id;
        };
        self.gain[f] += gain;
        // Partition in place: bins ≤ b go left.
        let mut i = 0;
        let mut j = rows.len();
        while i < j {
            if self.bins[rows[i] as usize * P + f] as usize <= b {
                i += 1;
            } else {
                j -= 1;
                rows.swap(i, j);
            }
        }
        let (lrows, rrows) = rows.split_at_mut(i);
        let (small_left, small) = if lrows.len() <= rrows.len() {
            (true, self.hist(lrows))
        } else {
            (false, self.hist(rrows))
        };
        let big: Hist = hs
            .iter()
            .zip(&small)
            .map(|(p, s)| (p.0 - s.0, p.1 - s.1, p.2 - s.2))
            .collect();
        let (lh, rh) = if small_left {
            (small, big)
        } else {
            (big, small)
        };
        let l = self.grow(lrows, lh, depth + 1);
        let r = self.grow(rrows, rh, depth + 1);
        let nd = &mut self.nodes[id as usize];
        nd.feat = f as u16;
        nd.thr = self.edges[f][b];
        nd.left = l;
        nd.right = r;
        id
    }
}

/// Fit on rows `x` (n × P), targets `y`, offsets `off` (log of the user's period plays).
fn fit_gbm(x: &[f32], y: &[f64], off: &[f64], cfg: Gbm) -> Forest {
    let n = y.len();
    let e = edges(x, n);
    let bins = binned(x, n, &e);
    let base = match cfg.loss {
        Loss::Poisson => {
            (y.iter().sum::<f64>() / off.iter().map(|o| o.exp()).sum::<f64>().max(1e-12)).ln()
        }
        Loss::L2Log => y.iter().map(|v| v.ln_1p()).sum::<f64>() / n.max(1) as f64,
    };
    let mut fx = vec![base; n];
    let mut g = vec![0f64; n];
    let mut h = vec![0f64; n];
    let mut trees = Vec::new();
    let mut gain = [0f64; P];
    for _ in 0..cfg.trees {
        for r in 0..n {
            match cfg.loss {
                Loss::Poisson => {
                    let mu = (off[r] + fx[r]).exp();
                    g[r] = mu - y[r];
                    h[r] = mu;
                }
                Loss::L2Log => {
                    g[r] = fx[r] - y[r].ln_1p();
                    h[r] = 1.0;
                }
            }
        }
        let mut grow = Grow {
            bins: &bins,
            edges: &e,
            g: &g,
            h: &h,
            cfg,
            nodes: Vec::new(),
            gain: [0.0; P],
            leaf_of: vec![(0, 0.0); n],
        };
        let mut rows: Vec<u32> = (0..n as u32).collect();
        let hs = grow.hist(&rows);
        grow.grow(&mut rows, hs, 0);
        for (f, l) in fx.iter_mut().zip(&grow.leaf_of) {
            *f += l.1 as f64;
        }
        for (a, b) in gain.iter_mut().zip(&grow.gain) {
            *a += b;
        }
        trees.push(grow.nodes);
    }
    Forest { base, trees, gain }
}

// ---------------------------------------------------------------- Poisson GLM

struct Glm {
    mean: Vec<f64>,
    sd: Vec<f64>,
    beta: Vec<f64>,
}

impl Glm {
    fn z(&self, row: &[f32]) -> Vec<f64> {
        std::iter::once(1.0)
            .chain((0..P).map(|f| (row[f] as f64 - self.mean[f]) / self.sd[f]))
            .collect()
    }
    fn predict(&self, row: &[f32]) -> f64 {
        self.z(row).iter().zip(&self.beta).map(|(a, b)| a * b).sum()
    }
}

fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let k = b.len();
    for c in 0..k {
        let p = (c..k)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, p);
        b.swap(c, p);
        let d = a[c][c];
        if d.abs() < 1e-12 {
            continue;
        }
        let pivot = a[c].clone();
        for r in c + 1..k {
            let m = a[r][c] / d;
            if m != 0.0 {
                for (x, p) in a[r][c..].iter_mut().zip(&pivot[c..]) {
                    *x -= m * p;
                }
                b[r] -= m * b[c];
            }
        }
    }
    let mut x = vec![0.0; k];
    for c in (0..k).rev() {
        let s: f64 = (c + 1..k).map(|q| a[c][q] * x[q]).sum();
        x[c] = if a[c][c].abs() < 1e-12 {
            0.0
        } else {
            (b[c] - s) / a[c][c]
        };
    }
    x
}

fn fit_glm(x: &[f32], y: &[f64], off: &[f64], lambda: f64) -> Glm {
    let n = y.len();
    let mut mean = vec![0.0; P];
    let mut sd = vec![0.0; P];
    for f in 0..P {
        let m = (0..n).map(|r| x[r * P + f] as f64).sum::<f64>() / n as f64;
        let v = (0..n)
            .map(|r| (x[r * P + f] as f64 - m).powi(2))
            .sum::<f64>()
            / n as f64;
        mean[f] = m;
        sd[f] = v.sqrt().max(1e-9);
    }
    let k = P + 1;
    let mut glm = Glm {
        mean,
        sd,
        beta: vec![0.0; k],
    };
    glm.beta[0] = (y.iter().sum::<f64>() / off.iter().map(|o| o.exp()).sum::<f64>()).ln();
    let dev = |g: &Glm| -> f64 {
        (0..n)
            .map(|r| {
                let eta = off[r] + g.predict(&x[r * P..r * P + P]);
                eta.exp() - y[r] * eta
            })
            .sum::<f64>()
            + 0.5 * lambda * g.beta[1..].iter().map(|b| b * b).sum::<f64>()
    };
    let mut cur = dev(&glm);
    for _ in 0..30 {
        let mut hm = vec![vec![0.0; k]; k];
        let mut gr = vec![0.0; k];
        for r in 0..n {
            let z = glm.z(&x[r * P..r * P + P]);
            let mu = (off[r] + z.iter().zip(&glm.beta).map(|(a, b)| a * b).sum::<f64>()).exp();
            for a in 0..k {
                gr[a] += (mu - y[r]) * z[a];
                let w = mu * z[a];
                for b in a..k {
                    hm[a][b] += w * z[b];
                }
            }
        }
        for a in 0..k {
            let col: Vec<f64> = (0..a).map(|b| hm[b][a]).collect();
            hm[a][..a].copy_from_slice(&col);
            if a > 0 {
                hm[a][a] += lambda;
                gr[a] += lambda * glm.beta[a];
            }
        }
        let step = solve(hm, gr);
        let old = glm.beta.clone();
        let mut t = 1.0;
        loop {
            glm.beta = old.iter().zip(&step).map(|(b, s)| b - t * s).collect();
            let d = dev(&glm);
            if d <= cur || t < 1e-4 {
                let done = (cur - d).abs() < 1e-7 * cur.abs();
                cur = d.min(cur);
                if d > cur {
                    glm.beta = old.clone();
                }
                if done {
                    return glm;
                }
                break;
            }
            t *= 0.5;
        }
    }
    glm
}

// ---------------------------------------------------------------- experiment

#[derive(Clone, Copy)]
enum Spec {
    Gbm(Gbm),
    Glm(f64),
}

impl Spec {
    fn label(&self) -> String {
        match self {
            Spec::Gbm(g) => format!(
                "gbm-{} d{} {}t η{} leaf{}",
                if g.loss == Loss::Poisson {
                    "poisson"
                } else {
                    "l2log"
                },
                g.depth,
                g.trees,
                g.eta,
                g.min_leaf
            ),
            Spec::Glm(l) => format!("glm-poisson ridge {l}"),
        }
    }
}

enum Fitted {
    Gbm(Box<Forest>),
    Glm(Glm),
}

impl Fitted {
    fn predict(&self, row: &[f32]) -> f64 {
        match self {
            Fitted::Gbm(f) => f.predict(row),
            Fitted::Glm(g) => g.predict(row),
        }
    }
}

/// Training rows: features at the inner cutoff of the users in `users` with a validation case.
struct TrainSet {
    x: Vec<f32>,
    y: Vec<f64>,
    off: Vec<f64>,
    user: Vec<u32>,
}

fn train_set(fe: &Feats, cases: &eval::Cases) -> TrainSet {
    let mut truth: HashMap<u32, (f64, HashMap<u32, f64>)> = HashMap::new();
    for (u, _, t) in &cases.period {
        let tot: f64 = t.iter().map(|x| x.1 as f64).sum();
        truth.insert(*u, (tot, t.iter().map(|&(i, c)| (i, c as f64)).collect()));
    }
    let mut s = TrainSet {
        x: Vec::new(),
        y: Vec::new(),
        off: Vec::new(),
        user: Vec::new(),
    };
    for (r, &(u, i)) in fe.keys.iter().enumerate() {
        if let Some((tot, m)) = truth.get(&u) {
            s.x.extend_from_slice(&fe.x[r * P..r * P + P]);
            s.y.push(m.get(&i).copied().unwrap_or(0.0));
            s.off.push(tot.ln());
            s.user.push(u);
        }
    }
    s
}

fn fit(spec: Spec, x: &[f32], y: &[f64], off: &[f64]) -> Fitted {
    match spec {
        Spec::Gbm(g) => Fitted::Gbm(Box::new(fit_gbm(x, y, off, g))),
        Spec::Glm(l) => Fitted::Glm(fit_glm(x, y, off, l)),
    }
}

fn rows_model(
    n_users: usize,
    fe: &Feats,
    keep: impl Fn(u32) -> bool,
    m: &Fitted,
    name: &'static str,
) -> Fixed {
    let mut rows = vec![HashMap::new(); n_users];
    for (r, &(u, i)) in fe.keys.iter().enumerate() {
        if keep(u) {
            let s = m.predict(&fe.x[r * P..r * P + P]);
            rows[u as usize].insert(i, (40.0 + s.max(-39.0)) as f32);
        }
    }
    Fixed { rows, name }
}

const FOLDS: u32 = 5;

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        !paths.is_empty(),
        "usage: recommend_learned LOGS [LOGS …] (env LEARNED_SPECS=quick: d4 trees, without and with one earlier cutoff)"
    );
    let quick = std::env::var("LEARNED_SPECS").is_ok_and(|v| v == "quick");
    let g = |loss, depth, trees| {
        Spec::Gbm(Gbm {
            loss,
            depth,
            trees,
            eta: 0.05,
            min_leaf: 50,
            lambda: 1.0,
            max_delta: 1.0,
        })
    };
    let mut specs = vec![(g(Loss::Poisson, 4, 200), 0)];
    if quick {
        specs.push((g(Loss::Poisson, 4, 200), 1));
    } else {
        specs.extend([
            (g(Loss::Poisson, 3, 300), 0),
            (g(Loss::Poisson, 5, 150), 0),
            (g(Loss::L2Log, 4, 200), 0),
            (Spec::Glm(1.0), 0),
            (g(Loss::Poisson, 4, 200), 1),
            (g(Loss::Poisson, 4, 200), 2),
            (g(Loss::Poisson, 5, 150), 2),
            (Spec::Glm(1.0), 2),
        ]);
    }
    for path in &paths {
        run(path, &specs);
    }
}

fn run(path: &str, specs: &[(Spec, usize)]) {
    let t0 = Instant::now();
    let logs = weft::logs::load(std::path::Path::new(path), Default::default()).expect("logs");
    let split = eval::split(&logs, 0.8, 2000);
    let t = &split.train;
    let ev = t.events();
    let (iev, vev) = eval::time_split(&ev, 0.8);
    let inner = Train::new(t.n_users, t.n_items, &iev, t.artist_of.clone());
    let vcases = eval::cases(&inner, &vev, 0, &[Mode::Period]);
    let tt = Instant::now();
    let tuning = hybrid::tune(t);
    println!(
        "== {path}: {} users, {} items, {} train / {} test plays; inner {} / valid {} plays; \
         {} valid cases, {} test cases; recency {} (hybrid::tune {:.1} s)",
        logs.users.len(),
        logs.items.len(),
        split.train_events.len(),
        split.test_events.len(),
        iev.len(),
        vev.len(),
        vcases.period.len(),
        split.cases.period.len(),
        tuning.half_life_label(),
        tt.elapsed().as_secs_f64()
    );
    let rec_v = models::build("recency", &inner, &tuning).expect("recency");
    let rec_t = models::build("recency", t, &tuning).expect("recency");
    let base_v = eval::score(rec_v.as_ref(), &inner, &vcases, Mode::Period);
    let base_t = eval::score(rec_t.as_ref(), t, &split.cases, Mode::Period);
    println!("recency: valid {:.4}  test {:.4}", base_v.hr10, base_t.hr10);
    let tf = Instant::now();
    let fv = features(&inner);
    let ft = features(t);
    let ts = train_set(&fv, &vcases);
    let pos: f64 = ts.y.iter().filter(|&&v| v > 0.0).count() as f64;
    println!(
        "features: {} valid-cutoff rows ({} train rows, {:.1} % with plays), {} test-cutoff rows, {:.1} s",
        fv.keys.len(),
        ts.y.len(),
        100.0 * pos / ts.y.len().max(1) as f64,
        ft.keys.len(),
        tf.elapsed().as_secs_f64()
    );
    // Earlier cutoffs inside the inner train (its own 80 % split, then that one's): extra
    // training rows for the stacked variants, all before the validation cutoff.
    let mut extra: Vec<TrainSet> = Vec::new();
    let mut cur = inner.clone();
    for _ in 0..2 {
        let cev = cur.events();
        let (aev, bev) = eval::time_split(&cev, 0.8);
        let a = Train::new(t.n_users, t.n_items, &aev, t.artist_of.clone());
        let c = eval::cases(&a, &bev, 0, &[Mode::Period]);
        extra.push(train_set(&features(&a), &c));
        println!(
            "  stacked cutoff {}: {} rows, {} cases",
            extra.len(),
            extra[extra.len() - 1].y.len(),
            c.period.len()
        );
        cur = a;
    }
    let iv = |a: &eval::Row, b: &eval::Row| {
        paired(&a.per_case, &b.per_case, DRAWS, SEED).map_or("—".into(), |i| i.to_string())
    };
    for &(spec, stack) in specs {
        let stacked = &extra[..stack.min(extra.len())];
        let add = |x: &mut Vec<f32>, y: &mut Vec<f64>, off: &mut Vec<f64>| {
            for e in stacked {
                x.extend_from_slice(&e.x);
                y.extend_from_slice(&e.y);
                off.extend_from_slice(&e.off);
            }
        };
        // (a) cross-fitted validation.
        let tv = Instant::now();
        let mut rows: Vec<HashMap<u32, f32>> = vec![HashMap::new(); t.n_users];
        for k in 0..FOLDS {
            let pick = |u: u32| u % FOLDS != k;
            let (mut x, mut y, mut off) = (Vec::new(), Vec::new(), Vec::new());
            for r in 0..ts.y.len() {
                if pick(ts.user[r]) {
                    x.extend_from_slice(&ts.x[r * P..r * P + P]);
                    y.push(ts.y[r]);
                    off.push(ts.off[r]);
                }
            }
            add(&mut x, &mut y, &mut off);
            let m = fit(spec, &x, &y, &off);
            let part = rows_model(t.n_users, &fv, |u| u % FOLDS == k, &m, "learned");
            for (u, r) in part.rows.into_iter().enumerate() {
                if !r.is_empty() {
                    rows[u] = r;
                }
            }
        }
        let cv_s = tv.elapsed().as_secs_f64();
        let mv = Fixed {
            rows,
            name: "learned",
        };
        let rv = eval::score(&mv, &inner, &vcases, Mode::Period);
        // (b) test: all validation rows, applied at the train end.
        let tf = Instant::now();
        let (mut x, mut y, mut off) = (ts.x.clone(), ts.y.clone(), ts.off.clone());
        add(&mut x, &mut y, &mut off);
        let m = fit(spec, &x, &y, &off);
        let fit_s = tf.elapsed().as_secs_f64();
        let mt = rows_model(t.n_users, &ft, |_| true, &m, "learned");
        let rt = eval::score(&mt, t, &split.cases, Mode::Period);
        println!(
            "{}{}: valid(cross-fit) {:.4} − recency {}  |  test {:.4} − recency {}  \
             [fit all rows {:.1} s, 5-fold {:.1} s]",
            spec.label(),
            if stack > 0 {
                format!(" +{stack} earlier cutoffs")
            } else {
                String::new()
            },
            rv.hr10,
            iv(&rv, &base_v),
            rt.hr10,
            iv(&rt, &base_t),
            fit_s,
            cv_s
        );
        if let Fitted::Gbm(f) = &m {
            let tot: f64 = f.gain.iter().sum::<f64>().max(1e-12);
            let mut o: Vec<usize> = (0..P).collect();
            o.sort_by(|&a, &b| f.gain[b].total_cmp(&f.gain[a]));
            let s: Vec<String> = o
                .iter()
                .take(12)
                .map(|&k| format!("{} {:.1}%", NAMES[k], 100.0 * f.gain[k] / tot))
                .collect();
            println!("  gain importance: {}", s.join(", "));
        }
        if let Fitted::Glm(g) = &m {
            let mut o: Vec<usize> = (0..P).collect();
            o.sort_by(|&a, &b| g.beta[b + 1].abs().total_cmp(&g.beta[a + 1].abs()));
            let s: Vec<String> = o
                .iter()
                .take(12)
                .map(|&k| format!("{} {:+.3}", NAMES[k], g.beta[k + 1]))
                .collect();
            println!("  standardized coefficients: {}", s.join(", "));
        }
    }
    println!("({path} total {:.1} s)", t0.elapsed().as_secs_f64());
}
