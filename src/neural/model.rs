//! Model stage (training side): the candle network embedding → stacked LSTM → linear, its
//! configuration, seeded initialisation and safetensors save.
//!
//! The LSTM layers are written out here rather than taken from `candle_nn::rnn::LSTM`: the
//! input projection of a whole window is one matmul, only the recurrent part loops over time,
//! and the weights keep PyTorch's names and gate order (i, f, g, o), so `infer::Model` can
//! step the very same tensors one token at a time without candle.

use super::Result;
use crate::rng::Rng;
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

    /// Every weight tensor's name and shape, in a fixed order (that of [`Weights::build`]).
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut v = Vec::new();
        Weights::build(self, |name, shape| {
            v.push((name.to_string(), shape.to_vec()));
            Ok::<_, ()>(())
        })
        .expect("listing shapes cannot fail");
        v
    }

    pub fn parameter_count(&self) -> usize {
        self.tensor_shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }
}

/// One LSTM layer's weights, with PyTorch's names and gate order (i, f, g, o).
#[derive(Clone, Debug)]
pub struct LstmWeights<T> {
    /// `[4·hidden, input]`
    pub weight_ih: T,
    /// `[4·hidden, hidden]`
    pub weight_hh: T,
    /// `[4·hidden]`
    pub bias_ih: T,
    /// `[4·hidden]`
    pub bias_hh: T,
}

/// Every weight of the network as a typed field: candle `Tensor`s when training, plain `f32`
/// arrays when playing (`infer`). The names in `model.safetensors` are made in one place,
/// [`Weights::build`], the way candle's `VarBuilder` (`vb.pp("lstm").pp(l).get(shape,
/// "weight_ih")`) builds its models.
#[derive(Clone, Debug)]
pub struct Weights<T> {
    /// `embedding.weight`, `[vocab, embed]`
    pub embedding: T,
    /// `lstm.{l}.*`, one per layer
    pub lstm: Vec<LstmWeights<T>>,
    /// `head.weight`, `[vocab, hidden]`
    pub head_weight: T,
    /// `head.bias`, `[vocab]`
    pub head_bias: T,
}

impl<T> Weights<T> {
    /// Makes every weight from its saved name and shape with `get`, in a fixed order
    /// (embedding; per layer weight_ih, weight_hh, bias_ih, bias_hh; head weight, bias): the
    /// seeded initialisation and the weights hash depend on that order.
    pub fn build<E>(
        cfg: &ModelConfig,
        mut get: impl FnMut(&str, &[usize]) -> std::result::Result<T, E>,
    ) -> std::result::Result<Weights<T>, E> {
        let h4 = 4 * cfg.hidden;
        let embedding = get("embedding.weight", &[cfg.vocab, cfg.embed])?;
        let mut lstm = Vec::with_capacity(cfg.layers);
        for l in 0..cfg.layers {
            let mut pp = |name: &str, shape: &[usize]| get(&format!("lstm.{l}.{name}"), shape);
            lstm.push(LstmWeights {
                weight_ih: pp("weight_ih", &[h4, cfg.layer_input(l)])?,
                weight_hh: pp("weight_hh", &[h4, cfg.hidden])?,
                bias_ih: pp("bias_ih", &[h4])?,
                bias_hh: pp("bias_hh", &[h4])?,
            });
        }
        Ok(Weights {
            embedding,
            lstm,
            head_weight: get("head.weight", &[cfg.vocab, cfg.hidden])?,
            head_bias: get("head.bias", &[cfg.vocab])?,
        })
    }

    /// Every weight with its saved name, in the order of [`Weights::build`].
    pub fn named(&self) -> Vec<(String, &T)> {
        let mut v = vec![("embedding.weight".to_string(), &self.embedding)];
        for (l, w) in self.lstm.iter().enumerate() {
            v.push((format!("lstm.{l}.weight_ih"), &w.weight_ih));
            v.push((format!("lstm.{l}.weight_hh"), &w.weight_hh));
            v.push((format!("lstm.{l}.bias_ih"), &w.bias_ih));
            v.push((format!("lstm.{l}.bias_hh"), &w.bias_hh));
        }
        v.push(("head.weight".to_string(), &self.head_weight));
        v.push(("head.bias".to_string(), &self.head_bias));
        v
    }

    /// The same weights, each converted by `f`.
    pub fn map<U>(&self, mut f: impl FnMut(&T) -> U) -> Weights<U> {
        Weights {
            embedding: f(&self.embedding),
            lstm: self
                .lstm
                .iter()
                .map(|w| LstmWeights {
                    weight_ih: f(&w.weight_ih),
                    weight_hh: f(&w.weight_hh),
                    bias_ih: f(&w.bias_ih),
                    bias_hh: f(&w.bias_hh),
                })
                .collect(),
            head_weight: f(&self.head_weight),
            head_bias: f(&self.head_bias),
        }
    }
}

/// The network: typed weight tensors; when trainable each is a candle `Var`.
pub struct Net {
    pub cfg: ModelConfig,
    w: Weights<Tensor>,
    vars: Vec<Var>,
}

impl Net {
    /// Seeded initialisation: PyTorch's uniform(±1/√hidden) for LSTM and head, uniform(±0.1)
    /// for the embedding; the forget-gate bias starts at 1 (a common aid to learning long holds).
    pub fn new(cfg: ModelConfig, seed: u64) -> Result<Net> {
        let mut rng = Rng::new(seed);
        let dev = Device::Cpu;
        let bound = 1.0 / (cfg.hidden as f32).sqrt();
        let hidden = cfg.hidden;
        let w = Weights::build(&cfg, |name, shape| {
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
                for x in &mut data[hidden..2 * hidden] {
                    *x = 1.0;
                }
            }
            Var::from_tensor(&Tensor::from_vec(data, shape.to_vec(), &dev)?)
        })?;
        Ok(Net::from_vars(cfg, w))
    }

    /// Builds a network from saved tensors, each checked for presence and shape.
    pub fn from_tensors(cfg: ModelConfig, mut map: HashMap<String, Tensor>) -> Result<Net> {
        let w = Weights::build(&cfg, |name, shape| {
            let t = map
                .remove(name)
                .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {name}")))?;
            if t.dims() != shape {
                return Err(candle_core::Error::Msg(format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    t.dims()
                )));
            }
            Var::from_tensor(&t.to_dtype(DType::F32)?)
        })?;
        Ok(Net::from_vars(cfg, w))
    }

    fn from_vars(cfg: ModelConfig, vars: Weights<Var>) -> Net {
        Net {
            cfg,
            w: vars.map(|v| v.as_tensor().clone()),
            vars: vars.named().into_iter().map(|(_, v)| v.clone()).collect(),
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
            w: self.w.map(Tensor::detach),
            vars: Vec::new(),
        }
    }

    /// The weights, typed.
    pub fn weights(&self) -> &Weights<Tensor> {
        &self.w
    }

    /// The trainable variables (empty for a `detached` net).
    pub fn vars(&self) -> Vec<Var> {
        self.vars.clone()
    }

    /// The current weights by saved name (detached views sharing storage; cheap).
    pub fn tensors(&self) -> HashMap<String, Tensor> {
        self.w
            .named()
            .into_iter()
            .map(|(n, t)| (n, t.detach()))
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
            .w
            .embedding
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, t, self.cfg.embed))?;
        x = apply_dropout(x, &mut dropout)?;
        for (l, lw) in self.w.lstm.iter().enumerate() {
            let w_ih = &lw.weight_ih;
            let w_hh_t = lw.weight_hh.t()?;
            let bias = (&lw.bias_ih + &lw.bias_hh)?;
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
            .matmul(&self.w.head_weight.t()?)?
            .broadcast_add(&self.w.head_bias)?
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
    fn typed_weights_keep_the_saved_names_shapes_and_order() {
        let net = Net::new(tiny(), 1).unwrap();
        let named: Vec<(String, Vec<usize>)> = net
            .weights()
            .named()
            .into_iter()
            .map(|(n, t)| (n, t.dims().to_vec()))
            .collect();
        assert_eq!(named, tiny().tensor_shapes());
        assert_eq!(named[1].0, "lstm.0.weight_ih");
        assert_eq!(named[1].1, vec![28, 5]);
        assert_eq!(named[10].0, "head.bias");
        // A missing or misshapen tensor is an error naming it.
        let mut map = net.tensors();
        map.remove("lstm.1.bias_hh");
        let e = Net::from_tensors(tiny(), map).err().unwrap().to_string();
        assert!(e.contains("missing tensor lstm.1.bias_hh"), "{e}");
        let mut map = net.tensors();
        map.insert(
            "head.bias".into(),
            Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
        );
        let e = Net::from_tensors(tiny(), map).err().unwrap().to_string();
        assert!(
            e.contains("tensor head.bias has shape [3], expected [11]"),
            "{e}"
        );
    }

    #[test]
    fn same_seed_same_weights_and_save_load_round_trip() {
        let a = Net::new(tiny(), 3).unwrap();
        let b = Net::new(tiny(), 3).unwrap();
        let c = Net::new(tiny(), 4).unwrap();
        let w = |n: &Net| {
            n.weights().lstm[1]
                .weight_hh
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
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let (x, y) = (a.weights().named(), back.weights().named());
        // embedding, 4 per layer × 2 layers, head weight and bias.
        assert_eq!(x.len(), 1 + 4 * 2 + 2);
        for ((nx, tx), (ny, ty)) in x.into_iter().zip(y) {
            assert_eq!(nx, ny);
            assert_eq!(flat(tx), flat(ty), "{nx}");
        }
    }
}
