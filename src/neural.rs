//! Neural voices for the scheduler: the bridge from a patch's `.lstm(#{...})` to the candle
//! LSTM generators.
//!
//! The scheduler plans each bar on its own thread; for every LSTM voice it asks this
//! [`StepSource`] for the bar's grid steps. One [`Generator`] lives per (file, voice) and
//! keeps its hidden state across bars and across reloads of the file (controls change in
//! place; only a different model starts over). Models are loaded once from `models/<name>/`
//! and shared. A missing or corrupt model is an error naming the file; the patch check
//! reports it and the rest of the session plays.

use crate::lstm::{Controls, Generator, Model, Part, Step};
use crate::patch::{LstmSpec, StepSource, VoiceSpec};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Generators for every LSTM voice, by (file, voice).
pub struct LstmVoices {
    models_dir: PathBuf,
    models: HashMap<String, Arc<Model>>,
    gens: HashMap<(String, String), Generator>,
}

impl LstmVoices {
    pub fn new(models_dir: &Path) -> LstmVoices {
        LstmVoices {
            models_dir: models_dir.to_path_buf(),
            models: HashMap::new(),
            gens: HashMap::new(),
        }
    }

    fn model(&mut self, name: &str) -> Result<Arc<Model>, String> {
        if let Some(m) = self.models.get(name) {
            return Ok(m.clone());
        }
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(format!(
                "model name '{name}' must be a folder name in models/"
            ));
        }
        let m = Model::load(&self.models_dir.join(name)).map_err(|e| e.to_string())?;
        self.models.insert(name.to_string(), m.clone());
        Ok(m)
    }

    /// The most likely next events of a voice (for the voices pane).
    pub fn predictions(&self, file: &str, voice: &str, k: usize) -> Option<Vec<(String, f32)>> {
        self.gens
            .get(&(file.to_string(), voice.to_string()))
            .map(|g| g.top_k(k))
    }
}

fn controls(spec: &LstmSpec) -> Controls {
    Controls {
        temperature: spec.temperature,
        top_k: spec.top_k,
        top_p: spec.top_p,
        prime: spec.prime.clone(),
        scale: spec.scale,
        density: spec.density,
        seed: spec.seed,
        part: Part::from_name(&spec.part).unwrap_or(Part::Soprano),
    }
}

impl StepSource for LstmVoices {
    fn top_k(&self, file: &str, voice: &str, k: usize) -> Option<Vec<(String, f32)>> {
        self.predictions(file, voice, k)
    }

    fn steps(
        &mut self,
        file: &str,
        voice: &VoiceSpec,
        spec: &LstmSpec,
        n: usize,
    ) -> Result<Vec<Option<(u8, u32)>>, String> {
        if Part::from_name(&spec.part).is_none() {
            return Err(format!(
                "unknown part '{}' (soprano, alto, tenor, bass)",
                spec.part
            ));
        }
        let model = self.model(&spec.model)?;
        let key = (file.to_string(), voice.name.clone());
        let c = controls(spec);
        let fresh = match self.gens.get(&key) {
            Some(g) => !Arc::ptr_eq(g.model(), &model),
            None => true,
        };
        if fresh {
            self.gens.insert(key.clone(), Generator::new(model, c));
        } else if let Some(g) = self.gens.get_mut(&key) {
            if g.controls() != &c {
                g.set_controls(c);
            }
        }
        let g = self.gens.get_mut(&key).expect("generator exists");
        let raw: Vec<Step> = (0..n).map(|_| g.step()).collect();
        // A note lasts through the holds that follow it.
        let mut out = vec![None; n];
        for i in 0..n {
            if let Step::Note(p) = raw[i] {
                let holds = raw[i + 1..]
                    .iter()
                    .take_while(|s| **s == Step::Hold)
                    .count();
                out[i] = Some((p, 1 + holds as u32));
            }
        }
        Ok(out)
    }
}

/// The `models/` folder: next to the patches' parent, or the current directory's.
pub fn models_dir_for(scripts: &Path) -> PathBuf {
    let beside = scripts
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(|p| p.join("models")));
    match beside {
        Some(p) if p.is_dir() => p,
        _ => PathBuf::from("models"),
    }
}

/// Provenance lines for the LSTM models a session uses: `model NAME weights:HASH`.
pub fn model_provenance(models_dir: &Path, names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| match Model::load(&models_dir.join(n)) {
            Ok(m) => format!("model {n} weights:{}", m.weights_hash()),
            Err(e) => format!("model {n} unavailable: {e}"),
        })
        .collect()
}

/// The LSTM model names a patch's voices ask for.
pub fn models_of(patch: &crate::patch::Patch) -> Vec<String> {
    let mut v: Vec<String> = patch
        .base_voices()
        .iter()
        .filter_map(|v| match &v.source {
            crate::patch::Source::Lstm(spec) => Some(spec.model.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}
