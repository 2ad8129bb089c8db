//! Evaluation stage: next-event negative log-likelihood, perplexity and top-1/top-5 accuracy
//! of the LSTM and of the Markov baselines, on exactly the same token sequences.
//!
//! Every line of a split is scored from its part token on: the first predicted event is the
//! one after the part token, and the models carry their state (LSTM) or history (Markov)
//! across the whole line. Markov smoothing constants are chosen on the validation split;
//! the test split is only ever scored.

use super::data::Corpus;
use super::infer::Model;
use super::markov::{Markov, Smoothing};
use super::model::Net;
use candle_core::{Device, Tensor, D};

/// Scores of one model on one split.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    pub name: String,
    /// Events scored.
    pub events: usize,
    /// Mean negative log-likelihood per event, in nats.
    pub nll: f64,
    pub top1: f64,
    pub top5: f64,
}

impl Metrics {
    pub fn bits(&self) -> f64 {
        self.nll / std::f64::consts::LN_2
    }

    pub fn perplexity(&self) -> f64 {
        self.nll.exp()
    }
}

/// Accumulates scores from predictive distributions.
#[derive(Default)]
struct Acc {
    events: usize,
    nll: f64,
    top1: usize,
    top5: usize,
}

impl Acc {
    /// One scored event: the log-probability of the true token `y` and the model's scores
    /// (any monotone function of the probabilities) used to rank it.
    fn add(&mut self, log_p_true: f64, scores: &[f64], y: usize) {
        let s = scores[y];
        // Rank with ties broken by index, as an argmax picking the first maximum would.
        let rank = scores
            .iter()
            .enumerate()
            .filter(|&(i, &v)| v > s || (v == s && i < y))
            .count();
        self.events += 1;
        self.nll -= log_p_true;
        self.top1 += usize::from(rank == 0);
        self.top5 += usize::from(rank < 5);
    }

    fn finish(self, name: String) -> Metrics {
        let n = self.events.max(1) as f64;
        Metrics {
            name,
            events: self.events,
            nll: self.nll / n,
            top1: self.top1 as f64 / n,
            top5: self.top5 as f64 / n,
        }
    }
}

/// Scores the LSTM, stepping each sequence from the zero state.
pub fn lstm_metrics(model: &Model, seqs: &[Vec<u32>], name: &str) -> Metrics {
    let mut acc = Acc::default();
    let mut logits = vec![0.0f32; model.vocab()];
    let mut scores = vec![0.0f64; model.vocab()];
    for seq in seqs {
        let mut st = model.zero_state();
        for w in seq.windows(2) {
            model.step(w[0], &mut st, &mut logits);
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let lse = f64::from(max)
                + logits
                    .iter()
                    .map(|&l| f64::from(l - max).exp())
                    .sum::<f64>()
                    .ln();
            for (s, &l) in scores.iter_mut().zip(&logits) {
                *s = f64::from(l);
            }
            let y = w[1] as usize;
            acc.add(scores[y] - lse, &scores, y);
        }
    }
    acc.finish(name.into())
}

/// Scores a candle network on whole lines, many lines per batch (same figures as
/// `lstm_metrics` on the plain stepper, to float rounding; much faster in debug builds).
pub fn net_metrics(net: &Net, seqs: &[Vec<u32>], name: &str) -> crate::neural::Result<Metrics> {
    const BATCH: usize = 48;
    let net = net.detached();
    let v = net.cfg.vocab;
    let mut order: Vec<&Vec<u32>> = seqs.iter().filter(|s| s.len() >= 2).collect();
    order.sort_by_key(|s| s.len());
    let mut acc = Acc::default();
    let mut scores = vec![0.0f64; v];
    for chunk in order.chunks(BATCH) {
        let t = chunk.iter().map(|s| s.len() - 1).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(chunk.len() * t);
        for s in chunk {
            ids.extend_from_slice(&s[..s.len() - 1]);
            ids.extend(std::iter::repeat_n(s[0], t - (s.len() - 1)));
        }
        let ids = Tensor::from_vec(ids, (chunk.len(), t), &Device::Cpu)?;
        let logp =
            candle_nn::ops::log_softmax(&net.forward(&ids, None)?, D::Minus1)?.to_vec3::<f32>()?;
        for (s, lp) in chunk.iter().zip(&logp) {
            for (i, &y) in s[1..].iter().enumerate() {
                for (o, &l) in scores.iter_mut().zip(&lp[i]) {
                    *o = f64::from(l);
                }
                acc.add(scores[y as usize], &scores, y as usize);
            }
        }
    }
    Ok(acc.finish(name.into()))
}

/// Scores a Markov model on the same sequences.
pub fn markov_metrics(m: &Markov, seqs: &[Vec<u32>], name: &str) -> Metrics {
    let mut acc = Acc::default();
    for seq in seqs {
        for i in 1..seq.len() {
            let p = m.probs(&seq[..i]);
            let y = seq[i] as usize;
            acc.add(p[y].ln(), &p, y);
        }
    }
    acc.finish(name.into())
}

/// Candidate add-k constants, chosen per order on validation NLL.
pub const K_GRID: [f64; 6] = [0.001, 0.005, 0.02, 0.1, 0.5, 1.0];
pub const MAX_ORDER: usize = 5;

/// The full comparison: test-split metrics for the LSTM and every baseline, plus the
/// validation figures used to pick each baseline's smoothing.
#[derive(Clone, Debug)]
pub struct EvalReport {
    pub test: Vec<Metrics>,
    pub valid: Vec<Metrics>,
    pub train_events: usize,
    pub valid_events: usize,
    pub test_events: usize,
}

impl EvalReport {
    /// The baseline row with the lowest *validation* NLL, and its test row.
    pub fn best_baseline(&self) -> Option<(&Metrics, &Metrics)> {
        let (i, _) = self
            .valid
            .iter()
            .enumerate()
            .skip(1)
            .min_by(|a, b| a.1.nll.total_cmp(&b.1.nll))?;
        Some((&self.valid[i], &self.test[i]))
    }

    /// Markdown table of the test metrics.
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| model | test NLL (nats/event) | bits/event | perplexity | top-1 | top-5 | valid NLL |\n|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for (t, v) in self.test.iter().zip(&self.valid) {
            s += &format!(
                "| {} | {:.4} | {:.4} | {:.3} | {:.2}% | {:.2}% | {:.4} |\n",
                t.name,
                t.nll,
                t.bits(),
                t.perplexity(),
                100.0 * t.top1,
                100.0 * t.top5,
                v.nll
            );
        }
        s
    }
}

/// Scores `model` and the Markov baselines (fitted on the train split) on validation and
/// test. `progress` is called with a short label before each model is scored.
pub fn evaluate(
    net: &Net,
    corpus: &Corpus,
    mut progress: impl FnMut(&str),
) -> crate::neural::Result<EvalReport> {
    let train = Corpus::sequences(&corpus.train);
    let valid = Corpus::sequences(&corpus.valid);
    let test = Corpus::sequences(&corpus.test);
    let v = net.cfg.vocab;
    let mut rows_v = Vec::new();
    let mut rows_t = Vec::new();
    progress("LSTM");
    let label = format!("LSTM {}×{}", net.cfg.layers, net.cfg.hidden);
    rows_v.push(net_metrics(net, &valid, &label)?);
    rows_t.push(net_metrics(net, &test, &label)?);
    for order in 1..=MAX_ORDER {
        progress(&format!("Markov order {order}"));
        let base = Markov::fit(&train, order, v, Smoothing::AddK(1.0));
        let mut best: Option<(f64, Metrics)> = None;
        for k in K_GRID {
            let m = base.clone().with_smoothing(Smoothing::AddK(k));
            let mv = markov_metrics(&m, &valid, &format!("Markov-{order} add-k (k={k})"));
            if best.as_ref().is_none_or(|(_, b)| mv.nll < b.nll) {
                best = Some((k, mv));
            }
        }
        let (k, mv) = best.expect("grid is non-empty");
        let m = base.clone().with_smoothing(Smoothing::AddK(k));
        rows_t.push(markov_metrics(&m, &test, &mv.name));
        rows_v.push(mv);
        let wb = base.with_smoothing(Smoothing::WittenBell);
        let name = format!("Markov-{order} interpolated Witten–Bell");
        rows_v.push(markov_metrics(&wb, &valid, &name));
        rows_t.push(markov_metrics(&wb, &test, &name));
    }
    Ok(EvalReport {
        test: rows_t,
        valid: rows_v,
        train_events: Corpus::events(&corpus.train),
        valid_events: Corpus::events(&corpus.valid),
        test_events: Corpus::events(&corpus.test),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markov_metrics_hand_computed() {
        // Order-1 add-1 model over V=3 trained on 0 1 2; scoring 0 1 2:
        // p(1|0) = 2/4, p(2|1) = 2/4 → NLL = ln 2 per event, both top-1.
        let seqs = vec![vec![0u32, 1, 2]];
        let m = Markov::fit(&seqs, 1, 3, Smoothing::AddK(1.0));
        let r = markov_metrics(&m, &seqs, "m");
        assert_eq!(r.events, 2);
        assert!((r.nll - std::f64::consts::LN_2).abs() < 1e-12);
        assert!((r.bits() - 1.0).abs() < 1e-12);
        assert!((r.perplexity() - 2.0).abs() < 1e-12);
        assert_eq!((r.top1, r.top5), (1.0, 1.0));
    }

    #[test]
    fn batched_net_scores_equal_the_plain_stepper() {
        use crate::neural::model::ModelConfig;
        let cfg = ModelConfig {
            vocab: 9,
            embed: 4,
            hidden: 6,
            layers: 2,
        };
        let net = Net::new(cfg, 2).unwrap();
        let seqs = vec![vec![0u32, 4, 5, 6], vec![1, 7, 7, 8, 4, 5, 5], vec![2, 3]];
        let a = net_metrics(&net, &seqs, "x").unwrap();
        let b = lstm_metrics(&Model::from_net("x", &net).unwrap(), &seqs, "x");
        assert_eq!(a.events, b.events);
        assert!((a.nll - b.nll).abs() < 1e-5, "{a:?} {b:?}");
        assert_eq!((a.top1, a.top5), (b.top1, b.top5));
    }

    #[test]
    fn ties_are_not_counted_as_hits_for_later_indices() {
        // Uniform distribution: only index 0 is "the argmax".
        let mut acc = Acc::default();
        acc.add((1.0f64 / 8.0).ln(), &[0.125; 8], 6);
        let m = acc.finish("u".into());
        assert_eq!((m.top1, m.top5), (0.0, 0.0));
    }
}
