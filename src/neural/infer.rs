//! Model stage (playing side): a trained model loaded from `models/NAME/` into plain `f32`
//! arrays and stepped one token at a time on the calling thread.
//!
//! Live generation needs one token per 16th, ahead of the scheduler's lookahead, with no
//! thread pool: the step here is a handful of matrix–vector products written as plain loops
//! (they auto-vectorise), with no allocation after the state is made. It computes the same
//! function as `model::Net::forward` (tested to 1e-5 on the logits).

use super::model::{ModelConfig, Net, Weights};
use super::{fnv1a64, LstmError, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const CONFIG_FILE: &str = "config.json";

/// What `config.json` holds: the sizes plus how the model was trained (for the model card).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedConfig {
    pub name: String,
    /// Identifies the token vocabulary / representation (see `models/README.md`).
    pub representation: String,
    pub model: ModelConfig,
    #[serde(default)]
    pub training: Option<super::train::TrainReport>,
}

pub const REPRESENTATION: &str = "weft-16th-satb-v1";

struct Layer {
    input: usize,
    w_ih: Vec<f32>,
    w_hh: Vec<f32>,
    bias: Vec<f32>,
}

/// A trained, immutable model. Share it with `Arc`; each `Generator` carries its own state.
pub struct Model {
    name: String,
    hash: String,
    pub cfg: ModelConfig,
    saved: Option<SavedConfig>,
    embedding: Vec<f32>,
    layers: Vec<Layer>,
    head_w: Vec<f32>,
    head_b: Vec<f32>,
}

/// The recurrent state of one stream, plus scratch space so stepping does not allocate.
#[derive(Clone, Debug)]
pub struct State {
    h: Vec<Vec<f32>>,
    c: Vec<Vec<f32>>,
    gates: Vec<f32>,
}

impl Model {
    /// Loads `dir/config.json` and `dir/model.safetensors`. Any missing or malformed file is
    /// an error that names it.
    pub fn load(dir: &Path) -> Result<Arc<Model>> {
        let cfg_path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&cfg_path).map_err(|cause| LstmError::Io {
            path: cfg_path.clone(),
            cause,
        })?;
        let saved: SavedConfig = serde_json::from_str(&text).map_err(|e| LstmError::BadModel {
            path: cfg_path.clone(),
            reason: e.to_string(),
        })?;
        if let Err(reason) = saved.model.validate() {
            return Err(LstmError::BadModel {
                path: cfg_path,
                reason,
            });
        }
        if saved.representation != REPRESENTATION {
            return Err(LstmError::BadModel {
                path: cfg_path,
                reason: format!(
                    "representation {:?}, this weft reads {REPRESENTATION:?}",
                    saved.representation
                ),
            });
        }
        let w_path = dir.join(WEIGHTS_FILE);
        let bytes = std::fs::read(&w_path).map_err(|cause| LstmError::Io {
            path: w_path.clone(),
            cause,
        })?;
        let bad = |reason: String| LstmError::BadModel {
            path: w_path.clone(),
            reason,
        };
        let map = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|e| bad(e.to_string()))?;
        let mut model =
            Model::from_tensors(saved.name.clone(), saved.model.clone(), &map).map_err(bad)?;
        model.hash = format!("{:016x}", fnv1a64(&bytes));
        model.saved = Some(saved);
        Ok(Arc::new(model))
    }

    /// Copies the weights of a candle network (e.g. right after training).
    pub fn from_net(name: &str, net: &Net) -> Result<Model> {
        Model::from_tensors(name.into(), net.cfg.clone(), &net.tensors())
            .map_err(|e| LstmError::Corpus(format!("copying weights: {e}")))
    }

    fn from_tensors(
        name: String,
        cfg: ModelConfig,
        map: &HashMap<String, Tensor>,
    ) -> std::result::Result<Model, String> {
        cfg.validate()?;
        let mut hashed = Vec::new();
        let w = Weights::build(&cfg, |tname, shape| {
            let t = map
                .get(tname)
                .ok_or_else(|| format!("missing tensor {tname}"))?;
            if t.dims() != shape {
                return Err(format!(
                    "tensor {tname} has shape {:?}, expected {shape:?}",
                    t.dims()
                ));
            }
            let v = t
                .flatten_all()
                .and_then(|t| t.to_dtype(candle_core::DType::F32))
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| format!("tensor {tname}: {e}"))?;
            if v.iter().any(|x| !x.is_finite()) {
                return Err(format!("tensor {tname} has non-finite values"));
            }
            hashed.extend(v.iter().flat_map(|x| x.to_le_bytes()));
            Ok(v)
        })?;
        let layers = w
            .lstm
            .into_iter()
            .enumerate()
            .map(|(l, lw)| Layer {
                input: cfg.layer_input(l),
                bias: lw
                    .bias_ih
                    .iter()
                    .zip(&lw.bias_hh)
                    .map(|(a, b)| a + b)
                    .collect(),
                w_ih: lw.weight_ih,
                w_hh: lw.weight_hh,
            })
            .collect();
        Ok(Model {
            name,
            hash: format!("{:016x}", fnv1a64(&hashed)),
            embedding: w.embedding,
            head_w: w.head_weight,
            head_b: w.head_bias,
            layers,
            saved: None,
            cfg,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Content hash of the weights file (FNV-1a 64, hex) for provenance in logs and MIDI.
    pub fn weights_hash(&self) -> String {
        self.hash.clone()
    }

    /// The `config.json` this model was loaded from (None when built in memory).
    pub fn saved_config(&self) -> Option<&SavedConfig> {
        self.saved.as_ref()
    }

    pub fn vocab(&self) -> usize {
        self.cfg.vocab
    }

    pub fn zero_state(&self) -> State {
        State {
            h: vec![vec![0.0; self.cfg.hidden]; self.cfg.layers],
            c: vec![vec![0.0; self.cfg.hidden]; self.cfg.layers],
            gates: vec![0.0; 4 * self.cfg.hidden],
        }
    }

    /// Feeds `token`, advancing `state`, and writes the next-token logits into `logits`
    /// (length `vocab`).
    pub fn step(&self, token: u32, state: &mut State, logits: &mut [f32]) {
        let e = self.cfg.embed;
        let hdim = self.cfg.hidden;
        let t = (token as usize).min(self.cfg.vocab - 1);
        let emb = &self.embedding[t * e..(t + 1) * e];
        for (l, layer) in self.layers.iter().enumerate() {
            let gates = &mut state.gates;
            gates.copy_from_slice(&layer.bias);
            {
                let x: &[f32] = if l == 0 { emb } else { &state.h[l - 1] };
                matvec_add(&layer.w_ih, layer.input, x, gates);
            }
            matvec_add(&layer.w_hh, hdim, &state.h[l], gates);
            let (c, h) = (&mut state.c[l], &mut state.h[l]);
            for k in 0..hdim {
                let i = sigmoid(gates[k]);
                let f = sigmoid(gates[hdim + k]);
                let g = gates[2 * hdim + k].tanh();
                let o = sigmoid(gates[3 * hdim + k]);
                c[k] = f * c[k] + i * g;
                h[k] = o * c[k].tanh();
            }
        }
        logits.copy_from_slice(&self.head_b);
        matvec_add(&self.head_w, hdim, &state.h[self.cfg.layers - 1], logits);
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `out[r] += Σ_j w[r·cols + j] · x[j]`, eight partial sums per row so it vectorises.
fn matvec_add(w: &[f32], cols: usize, x: &[f32], out: &mut [f32]) {
    for (r, o) in out.iter_mut().enumerate() {
        let row = &w[r * cols..(r + 1) * cols];
        let mut acc = [0.0f32; 8];
        let chunks = row.chunks_exact(8);
        let rem = chunks.remainder();
        for (wc, xc) in chunks.zip(x.chunks_exact(8)) {
            for k in 0..8 {
                acc[k] += wc[k] * xc[k];
            }
        }
        let mut s: f32 = acc.iter().sum();
        for (a, b) in rem.iter().zip(&x[cols - rem.len()..]) {
            s += a * b;
        }
        *o += s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stepping_equals_full_sequence_logits() {
        let cfg = ModelConfig {
            vocab: 13,
            embed: 9,
            hidden: 20,
            layers: 3,
        };
        let net = Net::new(cfg.clone(), 11).unwrap();
        let toks: Vec<u32> = vec![0, 5, 6, 6, 7, 12, 4, 5, 9, 9, 1, 3];
        let ids = Tensor::new(toks.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let full = net
            .forward(&ids, None)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let model = Model::from_net("t", &net).unwrap();
        let mut st = model.zero_state();
        let mut logits = vec![0.0; cfg.vocab];
        for (i, &t) in toks.iter().enumerate() {
            model.step(t, &mut st, &mut logits);
            for (a, b) in logits.iter().zip(&full[i]) {
                assert!((a - b).abs() < 1e-5, "step {i}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn load_names_the_missing_or_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Model::load(dir.path()).err().unwrap().to_string();
        assert!(err.contains("config.json"), "{err}");

        let cfg = ModelConfig {
            vocab: 5,
            embed: 3,
            hidden: 4,
            layers: 1,
        };
        let saved = SavedConfig {
            name: "x".into(),
            representation: REPRESENTATION.into(),
            model: cfg.clone(),
            training: None,
        };
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            serde_json::to_string(&saved).unwrap(),
        )
        .unwrap();
        let err = Model::load(dir.path()).err().unwrap().to_string();
        assert!(err.contains("model.safetensors"), "{err}");
        std::fs::write(dir.path().join(WEIGHTS_FILE), b"not safetensors").unwrap();
        let err = Model::load(dir.path()).err().unwrap().to_string();
        assert!(err.contains("model.safetensors"), "{err}");

        let net = Net::new(cfg.clone(), 1).unwrap();
        net.save(&dir.path().join(WEIGHTS_FILE)).unwrap();
        // A config with a zero size is rejected when it loads (it used to panic on the first
        // step), naming the file and the field.
        for (field, bad) in [
            (
                "layers",
                ModelConfig {
                    layers: 0,
                    ..cfg.clone()
                },
            ),
            (
                "hidden",
                ModelConfig {
                    hidden: 0,
                    ..cfg.clone()
                },
            ),
            (
                "vocab",
                ModelConfig {
                    vocab: 0,
                    ..cfg.clone()
                },
            ),
        ] {
            let saved = SavedConfig {
                model: bad,
                ..saved.clone()
            };
            std::fs::write(
                dir.path().join(CONFIG_FILE),
                serde_json::to_string(&saved).unwrap(),
            )
            .unwrap();
            let err = Model::load(dir.path()).err().unwrap().to_string();
            assert!(err.contains("config.json"), "{err}");
            assert!(err.contains(&format!("model.{field} is 0")), "{err}");
        }
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            serde_json::to_string(&saved).unwrap(),
        )
        .unwrap();
        let m = Model::load(dir.path()).unwrap();
        assert_eq!(m.name(), "x");
        assert_eq!(m.weights_hash().len(), 16);
    }
}
