//! Training stage: windows of the training lines → `Net` → cross-entropy → AdamW, with
//! gradient-norm clipping, dropout, LR halving on a validation plateau and early stopping.
//!
//! All training lines (each starting with its part token) are concatenated into one stream;
//! a batch is `batch` windows of `seq_len + 1` tokens at seeded random offsets, every window
//! starting from the zero state. After each epoch the validation split is scored the way the
//! evaluation scores it (whole lines, carried state); the best weights are kept. Seeded
//! throughout (initialisation, offsets, dropout masks).

use super::data::Corpus;
use super::eval::net_metrics;
use super::model::{ModelConfig, Net};
use super::tokenize::VOCAB;
use super::{LstmError, Result};
use crate::rng::Rng;
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Hyper-parameters of one training run (all recorded in `config.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
    pub dropout: f32,
    pub lr: f64,
    pub weight_decay: f64,
    pub batch: usize,
    pub seq_len: usize,
    pub max_epochs: usize,
    /// Epochs without validation improvement before stopping.
    pub patience: usize,
    /// Global gradient-norm clip.
    pub clip: f64,
    pub seed: u64,
    /// Wall-clock budget; training stops (keeping the best weights) when it runs out.
    pub max_minutes: f64,
    /// Batches per epoch; 0 = one pass worth of tokens.
    pub steps_per_epoch: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            embed: 64,
            hidden: 256,
            layers: 2,
            dropout: 0.2,
            lr: 3e-3,
            weight_decay: 0.01,
            batch: 32,
            seq_len: 64,
            max_epochs: 30,
            patience: 3,
            clip: 1.0,
            seed: 1,
            max_minutes: 20.0,
            steps_per_epoch: 0,
        }
    }
}

/// What happened in a run (kept in `config.json`, shown in `MODEL.md`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainReport {
    pub options: TrainOptions,
    pub parameters: usize,
    pub train_pieces: usize,
    pub valid_pieces: usize,
    pub test_pieces: usize,
    pub train_events: usize,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub best_valid_nll: f64,
    /// Mean training loss and validation NLL per epoch (nats/event).
    pub train_loss: Vec<f64>,
    pub valid_nll: Vec<f64>,
    pub steps: usize,
    pub tokens_seen: usize,
    pub wall_secs: f64,
    pub tokens_per_sec: f64,
    pub threads: usize,
    pub stopped_because: String,
}

/// Trains a fresh network on `corpus.train`, picking the epoch by `corpus.valid`.
pub fn train(
    corpus: &Corpus,
    opts: &TrainOptions,
    show_progress: bool,
) -> Result<(Net, TrainReport)> {
    let cfg = ModelConfig {
        vocab: VOCAB,
        embed: opts.embed,
        hidden: opts.hidden,
        layers: opts.layers,
    };
    let net = Net::new(cfg.clone(), opts.seed)?;
    let stream: Vec<u32> = Corpus::sequences(&corpus.train).concat();
    let valid = Corpus::sequences(&corpus.valid);
    let win = opts.seq_len + 1;
    if stream.len() < win || valid.is_empty() {
        return Err(LstmError::Corpus(format!(
            "too little data: {} training tokens (need ≥ {win}) and {} validation lines (need ≥ 1)",
            stream.len(),
            valid.len()
        )));
    }
    let steps_per_epoch = if opts.steps_per_epoch > 0 {
        opts.steps_per_epoch
    } else {
        (stream.len() / (opts.batch * opts.seq_len)).max(1)
    };
    let params = ParamsAdamW {
        lr: opts.lr,
        weight_decay: opts.weight_decay,
        ..Default::default()
    };
    let mut adam = AdamW::new(net.vars(), params)?;
    let mut rng = Rng::new(opts.seed.wrapping_add(1));
    let dev = Device::Cpu;

    let pb = if show_progress {
        ProgressBar::with_draw_target(
            Some((steps_per_epoch * opts.max_epochs) as u64),
            ProgressDrawTarget::stderr(),
        )
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise} ETA {eta}] {msg}")
            .expect("static template"),
    );

    let start = Instant::now();
    let budget = opts.max_minutes * 60.0;
    let mut best: Option<(f64, usize, std::collections::HashMap<String, Tensor>)> = None;
    let (mut train_loss, mut valid_nll) = (Vec::new(), Vec::new());
    let (mut steps, mut tokens) = (0usize, 0usize);
    let mut since_best = 0;
    let mut stopped = format!("reached max_epochs = {}", opts.max_epochs);
    let mut epochs_run = 0;
    for epoch in 1..=opts.max_epochs {
        let mut loss_sum = 0.0;
        let mut loss_n = 0;
        let mut out_of_time = false;
        for _ in 0..steps_per_epoch {
            if start.elapsed().as_secs_f64() > budget {
                out_of_time = true;
                break;
            }
            let mut inp = Vec::with_capacity(opts.batch * opts.seq_len);
            let mut tgt = Vec::with_capacity(opts.batch * opts.seq_len);
            for _ in 0..opts.batch {
                let o = rng.below_mod(stream.len() - win + 1);
                inp.extend_from_slice(&stream[o..o + opts.seq_len]);
                tgt.extend_from_slice(&stream[o + 1..o + win]);
            }
            let inp = Tensor::from_vec(inp, (opts.batch, opts.seq_len), &dev)?;
            let tgt = Tensor::from_vec(tgt, opts.batch * opts.seq_len, &dev)?;
            let logits = net.forward(&inp, Some((opts.dropout, &mut rng)))?;
            let loss = candle_nn::loss::cross_entropy(
                &logits.reshape((opts.batch * opts.seq_len, VOCAB))?,
                &tgt,
            )?;
            let mut grads = loss.backward()?;
            clip_grad_norm(&net, &mut grads, opts.clip)?;
            adam.step(&grads)?;
            let l = f64::from(loss.to_scalar::<f32>()?);
            loss_sum += l;
            loss_n += 1;
            steps += 1;
            tokens += opts.batch * opts.seq_len;
            let tps = tokens as f64 / start.elapsed().as_secs_f64();
            pb.set_message(format!("epoch {epoch} loss {l:.3} {tps:.0} tok/s"));
            pb.inc(1);
        }
        if loss_n == 0 {
            stopped = format!("time budget of {} min", opts.max_minutes);
            break;
        }
        epochs_run = epoch;
        let v = net_metrics(&net, &valid, "valid")?.nll;
        let tl = loss_sum / loss_n as f64;
        train_loss.push(tl);
        valid_nll.push(v);
        let improved = best.as_ref().is_none_or(|(b, _, _)| v < *b);
        pb.suspend(|| {
            eprintln!(
                "epoch {epoch}: train loss {tl:.4}, valid NLL {v:.4} nats/event{}  [{:.0} s]",
                if improved { " (best)" } else { "" },
                start.elapsed().as_secs_f64()
            )
        });
        if improved {
            let copy: std::collections::HashMap<String, Tensor> = net
                .tensors()
                .into_iter()
                .map(|(n, t)| t.copy().map(|t| (n, t)))
                .collect::<candle_core::Result<_>>()?;
            best = Some((v, epoch, copy));
            since_best = 0;
        } else {
            since_best += 1;
            let mut p = adam.params().clone();
            p.lr *= 0.5;
            adam.set_params(p);
            if since_best >= opts.patience {
                stopped = format!(
                    "early stop: no validation improvement for {} epochs",
                    opts.patience
                );
                break;
            }
        }
        if out_of_time {
            stopped = format!("time budget of {} min", opts.max_minutes);
            break;
        }
    }
    pb.finish_and_clear();
    let wall = start.elapsed().as_secs_f64();
    let (best_nll, best_epoch, weights) =
        best.ok_or_else(|| LstmError::Corpus("training ran no complete step".into()))?;
    let net = Net::from_tensors(cfg.clone(), weights)?;
    let report = TrainReport {
        options: opts.clone(),
        parameters: cfg.parameter_count(),
        train_pieces: corpus.train.len(),
        valid_pieces: corpus.valid.len(),
        test_pieces: corpus.test.len(),
        train_events: Corpus::events(&corpus.train),
        epochs_run,
        best_epoch,
        best_valid_nll: best_nll,
        train_loss,
        valid_nll,
        steps,
        tokens_seen: tokens,
        wall_secs: wall,
        tokens_per_sec: tokens as f64 / wall,
        threads: candle_core::utils::get_num_threads(),
        stopped_because: stopped,
    };
    Ok((net, report))
}

/// Scales all gradients so their global L2 norm is at most `max_norm`; returns the norm.
pub fn clip_grad_norm(
    net: &Net,
    grads: &mut candle_core::backprop::GradStore,
    max_norm: f64,
) -> Result<f64> {
    let vars = net.vars();
    let mut sq = 0.0f64;
    for v in &vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
        }
    }
    let norm = sq.sqrt();
    if norm > max_norm && norm.is_finite() {
        let scale = max_norm / norm;
        for v in &vars {
            if let Some(g) = grads.remove(v.as_tensor()) {
                grads.insert(v.as_tensor(), (g * scale)?);
            }
        }
    }
    Ok(norm)
}
