//! LSTM benchmarks (harness = false, prints figures):
//! 1. per-step latency (p50/p99/max) of the shipped model, `Generator::step` on one thread
//!    — the call the scheduler makes once per 16th per LSTM voice;
//! 2. training throughput (tokens/s) of the shipped configuration on the machine's threads.
//!
//! `cargo bench --bench lstm [-- MODEL_DIR]` (default models/chorales).

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use std::path::PathBuf;
use std::time::Instant;
use weft::neural::model::Net;
use weft::neural::tokenize::VOCAB;
use weft::neural::{Controls, Generator, Model};

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/chorales"));
    let model = Model::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let cfg = model.cfg.clone();
    println!(
        "model {} ({} layers × {}, embed {}, {} params, weights {})",
        model.name(),
        cfg.layers,
        cfg.hidden,
        cfg.embed,
        cfg.parameter_count(),
        model.weights_hash()
    );

    // 1. Live stepping on this thread (the stepper never uses a pool).
    let mut scale = [false; 12];
    for pc in [9, 11, 0, 2, 4, 5, 7] {
        scale[pc] = true;
    }
    let controls = Controls {
        temperature: 0.9,
        top_k: 8,
        top_p: 0.95,
        prime: vec![69, 72, 76],
        scale: Some(scale),
        density: 0.8,
        seed: 7,
        ..Controls::default()
    };
    let mut g = Generator::new(model.clone(), controls);
    for _ in 0..2_000 {
        std::hint::black_box(g.step());
    }
    let n = 20_000;
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(g.step());
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "step latency, 1 thread, {n} steps: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[n - 1]
    );

    // 2. Training throughput of the same configuration (batch 32 × 64, AdamW).
    let net = Net::new(cfg.clone(), 1).unwrap();
    let mut adam = AdamW::new(net.vars(), ParamsAdamW::default()).unwrap();
    let (b, t) = (32usize, 64usize);
    let mut rng = weft::rng::Rng::new(3);
    let ids: Vec<u32> = (0..b * (t + 1))
        .map(|_| rng.below_mod(VOCAB) as u32)
        .collect();
    let inp: Vec<u32> = (0..b)
        .flat_map(|i| ids[i * (t + 1)..i * (t + 1) + t].to_vec())
        .collect();
    let tgt: Vec<u32> = (0..b)
        .flat_map(|i| ids[i * (t + 1) + 1..(i + 1) * (t + 1)].to_vec())
        .collect();
    let inp = Tensor::from_vec(inp, (b, t), &Device::Cpu).unwrap();
    let tgt = Tensor::from_vec(tgt, b * t, &Device::Cpu).unwrap();
    let mut step = |rng: &mut weft::rng::Rng| {
        let logits = net.forward(&inp, Some((0.2, rng))).unwrap();
        let loss =
            candle_nn::loss::cross_entropy(&logits.reshape((b * t, VOCAB)).unwrap(), &tgt).unwrap();
        let grads = loss.backward().unwrap();
        adam.step(&grads).unwrap();
    };
    step(&mut rng);
    let steps = 8;
    let start = Instant::now();
    for _ in 0..steps {
        step(&mut rng);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "training, batch {b} × {t}, {} thread(s): {:.3} s/step, {:.0} tokens/s",
        candle_core::utils::get_num_threads(),
        secs / steps as f64,
        (steps * b * t) as f64 / secs
    );
}
