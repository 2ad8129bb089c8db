//! Model stage (training side): the candle network embedding → stacked LSTM → linear, its
//! configuration, seeded initialisation and safetensors save.
//!
//! The LSTM layers are written out here rather than taken from `candle_nn::rnn::LSTM`: the
//! input projection of a whole window is one matmul, only the recurrent part loops over time,
//! and the weights keep PyTorch's names and gate order (i, f, g, o), so `infer::Model` can
//! step the very same tensors one token at a time without candle.

use crate::rng::Rng;
use super::Result;
use candle_core::{DType, Device, Tensor, Var, D};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Sizes of the network. Stored in `config.json` next to the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Token vocabulary (see `tokenize`).
    pub vocab: usize,
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
}

/// Largest size `validate` accepts for any dimension (far above any model weft trains).
pub const MAX_DIM: usize = 1 << 16;
/// Largest layer count `validate` accepts.
pub const MAX_LAYERS: usize = 64;

impl ModelConfig {
    /// Every size must be at least 1 and sane: a config with `layers: 0` or `hidden: 0` would
    /// build a model that panics on its first step. The message names the bad field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (name, v, max) in [
            ("vocab", self.vocab, MAX_DIM),
            ("embed", self.embed, MAX_DIM),
            ("hidden", self.hidden, MAX_DIM),
            ("layers", self.layers, MAX_LAYERS),
        ] {
            if v == 0 || v > max {
                return Err(format!("model.{name} is {v}; it must be 1..={max}"));
            }
        }
        Ok(())
    }

    pub fn layer_input(&self, l: usize) -> usize {
        if l == 0 {
            self.embed
        } else {
            self.hidden
        }
    }

    /// Every weight tensor's name and shape, in a fixed order.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let h4 = 4 * self.hidden;
        let mut v = vec![("embedding.weight".to_string(), vec![self.vocab, self.embed])];
        for l in 0..self.layers {
            v.push((format!("lstm.{l}.weight_ih"), vec![h4, self.layer_input(l)]));
            v.push((format!("lstm.{l}.weight_hh"), vec![h4, self.hidden]));
            v.push((format!("lstm.{l}.bias_ih"), vec![h4]));
            v.push((format!("lstm.{l}.bias_hh"), vec![h4]));
        }
        v.push(("head.weight".to_string(), vec![self.vocab, self.hidden]));
        v.push(("head.bias".to_string(), vec![self.vocab]));
        v
    }

    pub fn parameter_count(&self) -> usize {
        self.tensor_shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }
}

/// The network: named weight tensors; when trainable they are candle `Var`s.
pub struct Net {
    pub cfg: ModelConfig,
    tensors: Vec<(String, Tensor)>,
    vars: Vec<Var>,
}

impl Net {
    /// Seeded initialisation: PyTorch's uniform(±1/√hidden) for LSTM and head, uniform(±0.1)
    /// for the embedding; the forget-gate bias starts at 1 (a common aid to learning long holds).
    pub fn new(cfg: ModelConfig, seed: u64) -> Result<Net> {
        let mut rng = Rng::new(seed);
        let dev = Device::Cpu;
        let bound = 1.0 / (cfg.hidden as f32).sqrt();
        let mut vars = Vec::new();
        for (name, shape) in cfg.tensor_shapes() {
            let n: usize = shape.iter().product();
            let scale = if name.starts_with("embedding") {
                0.1
            } else {
                bound
            };
            let mut data: Vec<f32> = (0..n)
                .map(|_| (rng.next_f32() * 2.0 - 1.0) * scale)
                .collect();
            if name.ends_with("bias_ih") {
                for x in &mut data[cfg.hidden..2 * cfg.hidden] {
                    *x = 1.0;
                }
            }
            let t = Tensor::from_vec(data, shape, &dev)?;
            vars.push((name, Var::from_tensor(&t)?));
        }
        Ok(Net::from_vars(cfg, vars))
    }

    /// Builds a network from saved tensors (shapes checked by the caller or by candle).
    pub fn from_tensors(cfg: ModelConfig, mut map: HashMap<String, Tensor>) -> Result<Net> {
        let mut vars = Vec::new();
        for (name, shape) in cfg.tensor_shapes() {
            let t = map
                .remove(&name)
                .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {name}")))?;
            if t.dims() != shape.as_slice() {
                return Err(candle_core::Error::Msg(format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    t.dims()
                ))
                .into());
            }
            vars.push((name, Var::from_tensor(&t.to_dtype(DType::F32)?)?));
        }
        Ok(Net::from_vars(cfg, vars))
    }

    fn from_vars(cfg: ModelConfig, named: Vec<(String, Var)>) -> Net {
        let tensors = named
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        Net {
            cfg,
            tensors,
            vars: named.into_iter().map(|(_, v)| v).collect(),
        }
    }

    /// Loads `model.safetensors` written by `save`.
    pub fn load(cfg: ModelConfig, path: &Path) -> Result<Net> {
        let map = candle_core::safetensors::load(path, &Device::Cpu)?;
        Net::from_tensors(cfg, map)
    }

    /// A copy sharing the weights' storage but outside autograd (for scoring without
    /// building a graph).
    pub fn detached(&self) -> Net {
        Net {
            cfg: self.cfg.clone(),
            tensors: self
                .tensors
                .iter()
                .map(|(n, t)| (n.clone(), t.detach()))
                .collect(),
            vars: Vec::new(),
        }
    }

    fn get(&self, name: &str) -> &Tensor {
        self.tensors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .expect("all names come from tensor_shapes")
    }

    /// The trainable variables (empty for a `detached` net).
    pub fn vars(&self) -> Vec<Var> {
        self.vars.clone()
    }

    /// The current weights by name (detached views sharing storage; cheap).
    pub fn tensors(&self) -> HashMap<String, Tensor> {
        self.tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.detach()))
            .collect()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        candle_core::safetensors::save(&self.tensors(), path)?;
        Ok(())
    }

    /// Logits `[B, T, vocab]` for token ids `[B, T]` (u32), every sequence from the zero
    /// state. With `dropout = Some((p, rng))`, inverted dropout with masks drawn from `rng`
    /// is applied after the embedding and after every LSTM layer.
    pub fn forward(&self, ids: &Tensor, mut dropout: Option<(f32, &mut Rng)>) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let h = self.cfg.hidden;
        let mut x = self
            .get("embedding.weight")
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, t, self.cfg.embed))?;
        x = apply_dropout(x, &mut dropout)?;
        for l in 0..self.cfg.layers {
            let w_ih = self.get(&format!("lstm.{l}.weight_ih"));
            let w_hh_t = self.get(&format!("lstm.{l}.weight_hh")).t()?;
            let bias =
                (self.get(&format!("lstm.{l}.bias_ih")) + self.get(&format!("lstm.{l}.bias_hh")))?;
            let in_dim = self.cfg.layer_input(l);
            let xp = x
                .reshape((b * t, in_dim))?
                .matmul(&w_ih.t()?)?
                .broadcast_add(&bias)?
                .reshape((b, t, 4 * h))?;
            let mut hs = Tensor::zeros((b, h), DType::F32, ids.device())?;
            let mut cs = hs.clone();
            let mut outs = Vec::with_capacity(t);
            for s in 0..t {
                let gates = (xp.narrow(1, s, 1)?.squeeze(1)? + hs.matmul(&w_hh_t)?)?;
                let g = gates.chunk(4, D::Minus1)?;
                let i = candle_nn::ops::sigmoid(&g[0])?;
                let f = candle_nn::ops::sigmoid(&g[1])?;
                let gg = g[2].tanh()?;
                let o = candle_nn::ops::sigmoid(&g[3])?;
                cs = ((f * &cs)? + (i * gg)?)?;
                hs = (o * cs.tanh()?)?;
                outs.push(hs.clone());
            }
            x = Tensor::stack(&outs, 1)?;
            x = apply_dropout(x, &mut dropout)?;
        }
        let logits = x
            .reshape((b * t, h))?
            .matmul(&self.get("head.weight").t()?)?
            .broadcast_add(self.get("head.bias"))?
            .reshape((b, t, self.cfg.vocab))?;
        Ok(logits)
    }
}

fn apply_dropout(x: Tensor, dropout: &mut Option<(f32, &mut Rng)>) -> Result<Tensor> {
    match dropout {
        Some((p, rng)) if *p > 0.0 => {
            let keep = 1.0 - *p;
            let n = x.elem_count();
            let mask: Vec<f32> = (0..n)
                .map(|_| {
                    if rng.next_f32() < keep {
                        1.0 / keep
                    } else {
                        0.0
                    }
                })
                .collect();
            let mask = Tensor::from_vec(mask, x.shape(), x.device())?;
            Ok((x * mask)?)
        }
        _ => Ok(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ModelConfig {
        ModelConfig {
            vocab: 11,
            embed: 5,
            hidden: 7,
            layers: 2,
        }
    }

    #[test]
    fn forward_shapes_and_parameter_count() {
        let net = Net::new(tiny(), 1).unwrap();
        let ids = Tensor::new(&[[1u32, 2, 3], [4, 5, 6]], &Device::Cpu).unwrap();
        let y = net.forward(&ids, None).unwrap();
        assert_eq!(y.dims(), &[2, 3, 11]);
        // 11·5 + (28·5 + 28·7 + 56) + (28·7 + 28·7 + 56) + 11·7 + 11
        assert_eq!(tiny().parameter_count(), 55 + 392 + 448 + 77 + 11);
    }

    #[test]
    fn same_seed_same_weights_and_save_load_round_trip() {
        let a = Net::new(tiny(), 3).unwrap();
        let b = Net::new(tiny(), 3).unwrap();
        let c = Net::new(tiny(), 4).unwrap();
        let w = |n: &Net| {
            n.get("lstm.1.weight_hh")
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(w(&a), w(&b));
        assert_ne!(w(&a), w(&c));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        a.save(&path).unwrap();
        let map = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
        let back = Net::from_tensors(tiny(), map).unwrap();
        for (name, _) in tiny().tensor_shapes() {
            let x = a
                .get(&name)
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let y = back
                .get(&name)
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            assert_eq!(x, y, "{name}");
        }
    }
}
