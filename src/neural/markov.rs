//! Markov (n-gram) baselines over the same token sequences the LSTM sees.
//!
//! An order-n model predicts a token from the previous n tokens. Sequences are left-padded
//! with their first token (the part token), so every position has a full context and the
//! part conditions the start just as it does for the LSTM. Two smoothings:
//! - **add-k**: `p(w | h) = (c(h,w) + k) / (c(h) + k·V)`;
//! - **interpolated Witten–Bell**: `p_m(w | h_m) = (c(h_m,w) + T(h_m)·p_{m−1}(w | h_{m−1})) /
//!   (c(h_m) + T(h_m))`, with `T` the number of distinct followers of `h_m`, recursing down
//!   to order 0, which is interpolated with the uniform distribution. A context never seen
//!   backs off to the lower order entirely.

use std::collections::HashMap;

/// Counts of one context: total and per next token.
#[derive(Clone, Debug, Default)]
struct Counts {
    total: u32,
    next: HashMap<u32, u32>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Smoothing {
    AddK(f64),
    WittenBell,
}

/// An n-gram model with counts for every order 0..=n (so it can interpolate).
#[derive(Clone, Debug)]
pub struct Markov {
    order: usize,
    vocab: usize,
    smoothing: Smoothing,
    /// `tables[m]`: context of the last m tokens → counts.
    tables: Vec<HashMap<Vec<u32>, Counts>>,
}

impl Markov {
    /// Counts all n-grams of orders 0..=`order` in `seqs`. Each sequence's first token is
    /// the conditioning token and is not itself predicted.
    pub fn fit(seqs: &[Vec<u32>], order: usize, vocab: usize, smoothing: Smoothing) -> Markov {
        let mut tables: Vec<HashMap<Vec<u32>, Counts>> = vec![HashMap::new(); order + 1];
        for seq in seqs {
            let padded = pad(seq, order);
            for i in order + 1..padded.len() {
                let w = padded[i];
                for (m, table) in tables.iter_mut().enumerate() {
                    let c = table.entry(padded[i - m..i].to_vec()).or_default();
                    c.total += 1;
                    *c.next.entry(w).or_default() += 1;
                }
            }
        }
        Markov {
            order,
            vocab,
            smoothing,
            tables,
        }
    }

    pub fn order(&self) -> usize {
        self.order
    }

    pub fn with_smoothing(mut self, smoothing: Smoothing) -> Markov {
        self.smoothing = smoothing;
        self
    }

    /// The predictive distribution over the vocabulary after `history` (which starts with
    /// the part token).
    pub fn probs(&self, history: &[u32]) -> Vec<f64> {
        let padded = pad(history, self.order);
        let ctx = &padded[padded.len() - self.order..];
        match self.smoothing {
            Smoothing::AddK(k) => {
                let v = self.vocab as f64;
                match self.tables[self.order].get(ctx) {
                    Some(c) => {
                        let z = f64::from(c.total) + k * v;
                        let mut p = vec![k / z; self.vocab];
                        for (&w, &n) in &c.next {
                            p[w as usize] += f64::from(n) / z;
                        }
                        p
                    }
                    None => vec![1.0 / v; self.vocab],
                }
            }
            Smoothing::WittenBell => {
                let mut p = vec![1.0 / self.vocab as f64; self.vocab];
                for m in 0..=self.order {
                    let Some(c) = self.tables[m].get(&ctx[self.order - m..]) else {
                        break; // unseen context: higher orders are unseen too
                    };
                    let t = c.next.len() as f64;
                    let z = f64::from(c.total) + t;
                    for pw in p.iter_mut() {
                        *pw *= t / z;
                    }
                    for (&w, &n) in &c.next {
                        p[w as usize] += f64::from(n) / z;
                    }
                }
                p
            }
        }
    }
}

/// Left-pads a sequence with `order` copies of its first token.
fn pad(seq: &[u32], order: usize) -> Vec<u32> {
    let mut v = Vec::with_capacity(seq.len() + order);
    if let Some(&first) = seq.first() {
        v.extend(std::iter::repeat_n(first, order));
    }
    v.extend_from_slice(seq);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vocabulary {0: part token, 1: a, 2: b}; one training sequence: 0 1 1 2 1.
    fn seqs() -> Vec<Vec<u32>> {
        vec![vec![0, 1, 1, 2, 1]]
    }

    #[test]
    fn add_k_order1_matches_hand_computation() {
        // Bigrams predicted: (0→1), (1→1), (1→2), (2→1). c(1)=2: c(1,1)=1, c(1,2)=1.
        // k = 0.5, V = 3: p(1|1) = (1+0.5)/(2+1.5) = 3/7; p(0|1) = 0.5/3.5 = 1/7.
        let m = Markov::fit(&seqs(), 1, 3, Smoothing::AddK(0.5));
        let p = m.probs(&[0, 1]);
        assert!((p[0] - 1.0 / 7.0).abs() < 1e-12);
        assert!((p[1] - 3.0 / 7.0).abs() < 1e-12);
        assert!((p[2] - 3.0 / 7.0).abs() < 1e-12);
        // After the part token (padded context "0"): c(0)=1, c(0,1)=1 → (1.5)/(2.5) = 0.6.
        assert!((m.probs(&[0])[1] - 0.6).abs() < 1e-12);
        // Unseen context → uniform.
        let mut unseen = Markov::fit(&[vec![0, 1]], 1, 3, Smoothing::AddK(0.5));
        unseen = unseen.with_smoothing(Smoothing::AddK(1.0));
        assert!((unseen.probs(&[0, 1])[2] - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn add_k_order2_uses_padding_with_the_part_token() {
        // Padded: 0 0 | 0 1 1 2 1 → trigrams (00→1), (01→1), (11→2), (12→1).
        let m = Markov::fit(&seqs(), 2, 3, Smoothing::AddK(1.0));
        let p = m.probs(&[0, 1, 1]); // context (1,1): c=1, c(·,2)=1 → p(2) = 2/4
        assert!((p[2] - 0.5).abs() < 1e-12);
        assert!((p[0] - 0.25).abs() < 1e-12);
    }

    #[test]
    fn witten_bell_matches_hand_computation() {
        // Order 0: counts of predicted tokens: 1→3, 2→1; N=4, T=2.
        //   p0(w) = (c(w) + 2·(1/3)) / 6: p0(0)=1/9, p0(1)=(3+2/3)/6=11/18, p0(2)=(1+2/3)/6=5/18.
        // Order 1, context 1: c=2, followers {1,2}: T=2.
        //   p1(w|1) = (c(1,w) + 2·p0(w)) / 4: p1(0|1)=(2/9)/4=1/18,
        //   p1(1|1)=(1+11/9)/4=20/36=5/9, p1(2|1)=(1+5/9)/4=14/36=7/18.
        let m = Markov::fit(&seqs(), 1, 3, Smoothing::WittenBell);
        let p = m.probs(&[0, 1]);
        assert!((p[0] - 1.0 / 18.0).abs() < 1e-12, "{p:?}");
        assert!((p[1] - 5.0 / 9.0).abs() < 1e-12, "{p:?}");
        assert!((p[2] - 7.0 / 18.0).abs() < 1e-12, "{p:?}");
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Unseen context (2 never... it is seen; use token 0 after 2): context "2" seen once.
        let q = m.probs(&[0, 2]);
        assert!((q.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
