//! Neural voices for the scheduler: the bridge from a patch's `.lstm(#{...})` to the candle
//! LSTM generators.
//!
//! The scheduler plans each bar on its own thread; for every LSTM voice it asks this
//! [`StepSource`] for the bar's grid steps. One [`Generator`] lives per (file, voice) and
//! keeps its hidden state across bars and across reloads of the file (controls change in
//! place; only a different model starts over). Models are loaded once from `models/<name>/`
//! and shared. A missing or corrupt model is an error naming the file; the patch check
//! reports it and the rest of the session plays.

use crate::neural::{Controls, Generator, Model, Part, Step};
use crate::patch::{LstmSpec, StepSource, VoiceSpec};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Loaded models by name, shared by every thread that plans bars. The compile worker's dry
/// run of a patch loads its models here before the patch is ready, so the scheduler thread
/// finds them loaded and never reads a model file itself. The lock is held only to look up
/// or insert, never while a model loads.
pub struct ModelCache {
    dir: PathBuf,
    loaded: Mutex<HashMap<String, Arc<Model>>>,
    loads: std::sync::atomic::AtomicU64,
}

impl ModelCache {
    pub fn new(models_dir: &Path) -> ModelCache {
        ModelCache {
            dir: models_dir.to_path_buf(),
            loaded: Mutex::new(HashMap::new()),
            loads: Default::default(),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Model>>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The model `name`, loaded from `models/<name>/` the first time any thread asks.
    pub fn get(&self, name: &str) -> Result<Arc<Model>, String> {
        if let Some(m) = self.map().get(name) {
            return Ok(m.clone());
        }
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(format!(
                "model name '{name}' must be a folder name in models/"
            ));
        }
        let m = Model::load(&self.locate(name)?).map_err(|e| e.to_string())?;
        self.loads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Two threads may have loaded it at once: the first one stored wins.
        Ok(self.map().entry(name.to_string()).or_insert(m).clone())
    }

    /// The folder of model `name`: in this cache's folder, else in weft's installed data
    /// (so a patch folder with its own `models/` still finds the shipped ones). Not found:
    /// an error that says where weft looked.
    fn locate(&self, name: &str) -> Result<PathBuf, String> {
        let mut looked = vec![self.dir.join(name)];
        if looked[0].is_dir() {
            return Ok(looked.swap_remove(0));
        }
        if let Ok(d) = crate::data::installed() {
            let p = d.join("models").join(name);
            if p.is_dir() {
                return Ok(p);
            }
            looked.push(p);
        }
        Err(format!(
            "model '{name}' not found: looked in {} (give --models DIR or set WEFT_MODELS)",
            crate::data::list(&looked)
        ))
    }

    /// How many times a model file was read (for tests).
    pub fn loads(&self) -> u64 {
        self.loads.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Generators for every LSTM voice, by (file, voice).
pub struct LstmVoices {
    models: Arc<ModelCache>,
    gens: HashMap<(String, String), Generator>,
}

impl LstmVoices {
    /// With a cache of its own (one-off runs: `render`, `check`).
    pub fn new(models_dir: &Path) -> LstmVoices {
        LstmVoices::with_cache(Arc::new(ModelCache::new(models_dir)))
    }

    /// Sharing `cache` with the other threads of a live session.
    pub fn with_cache(cache: Arc<ModelCache>) -> LstmVoices {
        LstmVoices {
            models: cache,
            gens: HashMap::new(),
        }
    }

    fn model(&mut self, name: &str) -> Result<Arc<Model>, String> {
        self.models.get(name)
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

/// The `models/` folder for patches in `scripts`: the first that exists of the patch
/// folder's `models/`, its parent's, `flag` (`--models`), `WEFT_MODELS`, the current folder's
/// `models/`, and weft's installed data (see [`crate::data`]).
pub fn models_dir_for(scripts: &Path, flag: Option<&Path>) -> PathBuf {
    crate::data::find_dir("models", scripts, flag, "WEFT_MODELS")
        .unwrap_or_else(|| PathBuf::from("models"))
}

/// Provenance lines for the LSTM models a session uses: `model NAME weights:HASH`.
pub fn model_provenance(models_dir: &Path, names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            ModelCache::new(models_dir)
                .locate(n)
                .and_then(|p| Model::load(&p).map_err(|e| e.to_string()))
        })
        .zip(names)
        .map(|(m, n)| match m {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::{LoadOptions, Patch};

    #[test]
    fn threads_sharing_a_cache_read_each_model_file_once() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models"));
        let cache = Arc::new(ModelCache::new(dir));
        let src = "voice(\"m\", #{}).lstm(#{ model: \"chorales\" });";
        let mut compile = LstmVoices::with_cache(cache.clone());
        let mut sched = LstmVoices::with_cache(cache.clone());
        let mut p = Patch::load(Path::new("a.rhai"), src, LoadOptions::default()).unwrap();
        p.plan_bar(0, &mut compile).unwrap();
        assert_eq!(cache.loads(), 1);
        p.plan_bar(1, &mut sched).unwrap();
        assert_eq!(
            cache.loads(),
            1,
            "the second thread read the model file again"
        );
        assert!(cache.get("../x").is_err());
    }
}
