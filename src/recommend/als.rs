//! Implicit-feedback ALS (Hu, Koren & Volinsky 2008): play counts r_ui become preferences
//! p_ui = 1 and confidences c_ui = 1 + α·r_ui; user and item factors are solved in turn, each
//! row by a few conjugate-gradient steps warm-started from its previous value (the solver the
//! `implicit` library uses), rows in parallel with rayon. Score = x_u · y_i.

use super::{Context, Model, Train};
use crate::rng::Rng;
use rayon::prelude::*;

/// Hyper-parameters.
#[derive(Clone, Debug)]
pub struct AlsConfig {
    pub factors: usize,
    pub lambda: f32,
    pub alpha: f32,
    pub iterations: usize,
    pub cg_steps: usize,
    pub seed: u64,
}

impl Default for AlsConfig {
    fn default() -> Self {
        AlsConfig {
            factors: 32,
            lambda: 0.1,
            alpha: 10.0,
            iterations: 12,
            cg_steps: 3,
            seed: 42,
        }
    }
}

/// Sparse rows: for each row, (column, count).
pub type Csr = Vec<Vec<(u32, f32)>>;

/// Fitted factors.
pub struct Als {
    pub k: usize,
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    /// Objective after each iteration.
    pub loss: Vec<f64>,
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Gram matrix FᵀF (k×k) of row-major factors.
fn gram(f: &[f32], k: usize) -> Vec<f32> {
    let mut g = vec![0f32; k * k];
    for row in f.chunks_exact(k) {
        for a in 0..k {
            let ra = row[a];
            for b in 0..k {
                g[a * k + b] += ra * row[b];
            }
        }
    }
    g
}

/// Update every row of `x` given fixed `y` (one half-step of ALS).
fn solve_side(
    x: &mut [f32],
    y: &[f32],
    rows: &Csr,
    k: usize,
    lambda: f32,
    alpha: f32,
    steps: usize,
) {
    let yty = gram(y, k);
    x.par_chunks_mut(k)
        .zip(rows.par_iter())
        .for_each(|(xu, row)| {
            // A x = b with A = YᵀY + λI + Σ (c−1) y yᵀ, b = Σ c y (p = 1).
            let ax = |v: &[f32], out: &mut [f32]| {
                for a in 0..k {
                    out[a] = dot(&yty[a * k..a * k + k], v) + lambda * v[a];
                }
                for &(i, r) in row {
                    let yi = &y[i as usize * k..i as usize * k + k];
                    let w = alpha * r * dot(yi, v);
                    for a in 0..k {
                        out[a] += w * yi[a];
                    }
                }
            };
            let mut r = vec![0f32; k];
            let mut tmp = vec![0f32; k];
            ax(xu, &mut tmp);
            for a in 0..k {
                r[a] = -tmp[a];
            }
            for &(i, c) in row {
                let yi = &y[i as usize * k..i as usize * k + k];
                let conf = 1.0 + alpha * c;
                for a in 0..k {
                    r[a] += conf * yi[a];
                }
            }
            let mut p = r.clone();
            let mut rsold = dot(&r, &r);
            for _ in 0..steps {
                if rsold < 1e-20 {
                    break;
                }
                ax(&p, &mut tmp);
                let step = rsold / dot(&p, &tmp);
                for a in 0..k {
                    xu[a] += step * p[a];
                    r[a] -= step * tmp[a];
                }
                let rsnew = dot(&r, &r);
                for a in 0..k {
                    p[a] = r[a] + rsnew / rsold * p[a];
                }
                rsold = rsnew;
            }
        });
}

impl Als {
    /// Fit from the training histories (counts per user and item).
    pub fn fit(t: &Train, cfg: &AlsConfig) -> Self {
        let mut rows: Csr = vec![Vec::new(); t.n_users];
        for (u, h) in t.history.iter().enumerate() {
            let mut m: crate::logs::FxMap<u32, f32> = Default::default();
            for &i in h {
                *m.entry(i).or_insert(0.0) += 1.0;
            }
            let mut v: Vec<(u32, f32)> = m.into_iter().collect();
            v.sort_by_key(|x| x.0);
            rows[u] = v;
        }
        Self::fit_matrix(&rows, t.n_items, cfg)
    }

    /// Fit from a user×item count matrix.
    pub fn fit_matrix(rows: &Csr, n_items: usize, cfg: &AlsConfig) -> Self {
        let k = cfg.factors;
        let mut cols: Csr = vec![Vec::new(); n_items];
        for (u, row) in rows.iter().enumerate() {
            for &(i, c) in row {
                cols[i as usize].push((u as u32, c));
            }
        }
        let mut rng = Rng::new(cfg.seed);
        let scale = 0.01;
        let mut x: Vec<f32> = (0..rows.len() * k)
            .map(|_| (rng.normal() * scale) as f32)
            .collect();
        let mut y: Vec<f32> = (0..n_items * k)
            .map(|_| (rng.normal() * scale) as f32)
            .collect();
        let mut loss = Vec::new();
        for _ in 0..cfg.iterations {
            solve_side(&mut x, &y, rows, k, cfg.lambda, cfg.alpha, cfg.cg_steps);
            solve_side(&mut y, &x, &cols, k, cfg.lambda, cfg.alpha, cfg.cg_steps);
            loss.push(objective(&x, &y, rows, k, cfg.lambda, cfg.alpha));
        }
        Als { k, x, y, loss }
    }

    pub fn user(&self, u: u32) -> &[f32] {
        &self.x[u as usize * self.k..(u as usize + 1) * self.k]
    }
    pub fn item(&self, i: u32) -> &[f32] {
        &self.y[i as usize * self.k..(i as usize + 1) * self.k]
    }
}

/// Σ_ui c_ui (p_ui − x_u·y_i)² + λ(‖X‖² + ‖Y‖²), computed without the dense matrix:
/// Σ_all s² = ⟨XᵀX, YᵀY⟩, corrected on the observed entries.
pub fn objective(x: &[f32], y: &[f32], rows: &Csr, k: usize, lambda: f32, alpha: f32) -> f64 {
    let (gx, gy) = (gram(x, k), gram(y, k));
    let mut total: f64 = gx
        .iter()
        .zip(&gy)
        .map(|(a, b)| (*a as f64) * (*b as f64))
        .sum();
    for (u, row) in rows.iter().enumerate() {
        let xu = &x[u * k..u * k + k];
        for &(i, r) in row {
            let s = dot(xu, &y[i as usize * k..i as usize * k + k]) as f64;
            let c = 1.0 + (alpha * r) as f64;
            total += c * (1.0 - s) * (1.0 - s) - s * s;
        }
    }
    let reg: f64 = x.iter().chain(y).map(|v| (*v as f64) * (*v as f64)).sum();
    total + lambda as f64 * reg
}

impl Model for Als {
    fn name(&self) -> &'static str {
        "als"
    }
    fn score(&self, ctx: &Context<'_>, out: &mut [f32]) {
        let Some(u) = ctx.user else { return };
        let xu = self.user(u);
        for (i, o) in out.iter_mut().enumerate() {
            *o += dot(xu, self.item(i as u32));
        }
    }
    fn because(&self, ctx: &Context<'_>, item: u32, label: &dyn Fn(u32) -> String) -> String {
        let yi = self.item(item);
        let mut seen: Vec<u32> = ctx.history.to_vec();
        seen.sort_unstable();
        seen.dedup();
        seen.into_iter()
            .filter(|&j| j != item)
            .map(|j| (j, dot(yi, self.item(j))))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or("latent taste factors".into(), |(j, _)| {
                format!("listeners of {} like it", label(j))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objective_decreases_and_fits_blocks() {
        // Two taste blocks: users 0-2 play items 0-2, users 3-5 play items 3-5.
        let rows: Csr = (0..6)
            .map(|u| {
                let base = if u < 3 { 0 } else { 3 };
                (0..3)
                    .filter(|i| (u + i) % 3 != 2)
                    .map(|i| ((base + i) as u32, 2.0))
                    .collect()
            })
            .collect();
        let cfg = AlsConfig {
            factors: 4,
            iterations: 8,
            ..Default::default()
        };
        let m = Als::fit_matrix(&rows, 6, &cfg);
        for w in m.loss.windows(2) {
            assert!(w[1] <= w[0] * (1.0 + 1e-6), "{:?}", m.loss);
        }
        // User 0 never played item 2 (same block) nor 3 (other block): block wins.
        let s = |u: u32, i: u32| dot(m.user(u), m.item(i));
        assert!(s(0, 2) > s(0, 3) + 0.1, "{} vs {}", s(0, 2), s(0, 3));
    }

    #[test]
    fn objective_matches_dense_sum() {
        let rows: Csr = vec![vec![(0, 1.0)], vec![(1, 2.0)]];
        let k = 2;
        let x = vec![0.5, 0.1, -0.2, 0.3];
        let y = vec![0.4, 0.0, 0.1, 0.7];
        let (lambda, alpha) = (0.1, 2.0);
        let mut dense = 0.0f64;
        for u in 0..2 {
            for i in 0..2 {
                let s = dot(&x[u * k..u * k + k], &y[i * k..i * k + k]) as f64;
                let r = rows[u]
                    .iter()
                    .find(|e| e.0 == i as u32)
                    .map_or(0.0, |e| e.1);
                let p = if r > 0.0 { 1.0 } else { 0.0 };
                dense += (1.0 + alpha as f64 * r as f64) * (p - s) * (p - s);
            }
        }
        dense += lambda as f64 * x.iter().chain(&y).map(|v| (*v as f64).powi(2)).sum::<f64>();
        let got = objective(&x, &y, &rows, k, lambda, alpha);
        assert!((got - dense).abs() < 1e-5, "{got} vs {dense}");
    }
}
