//! Patches: compile and evaluate a `.rhai` file under limits into plain data.
//!
//! A [`Patch`] owns one Rhai engine and AST per file. Evaluating its top level yields the
//! base voices (plain [`VoiceSpec`] data); each bar the scheduler asks [`Patch::plan_bar`]
//! for that bar's notes, which runs `on_bar(bar)` and the voices' `every(n, fn)` transforms
//! on a copy of the base voices and expands their patterns into [`PlannedNote`]s with exact
//! ticks. Nothing here runs on the audio thread.
//!
//! Safety: every run (top level, `on_start`, `on_bar`, `on_features`, `every` functions) has
//! an operation budget, call-depth, string/array/map limits and a wall-clock deadline, and no
//! file, process, network, `eval` or `import` is reachable. Every failure becomes a
//! [`PatchError`] printed as `path:line:col: message`.

mod api;
mod spec;
use crate::event::{Param, Sound, SynthKind};
use crate::mini::{Pattern, Value};
use crate::theory;
use crate::transport::{Quantize, TimeSig};
use api::*;
use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FnPtr, FuncRegistration, ImmutableString, Map, Module,
    Position, Scope, AST,
};
pub use spec::*;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Everything script functions read and write while a run is in progress.
#[derive(Debug)]
struct Ctx {
    tempo: Option<f64>,
    quantize: Quantize,
    sig: TimeSig,
    voices: Vec<VoiceSpec>,
    params: Vec<(String, Param, f32)>,
    prints: Vec<String>,
    analyze: Option<AnalyzeSpec>,
    seed: u64,
    rng: SplitMix,
    state: State,
    /// True while the top level runs (voice definitions are allowed to replace base voices).
    top_level: bool,
}

/// Options for loading a patch.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub seed: u64,
    pub limits: Limits,
    /// The file's persistent state (a fresh one when `None`).
    pub state: Option<State>,
}

/// A compiled and evaluated patch file.
pub struct Patch {
    path: PathBuf,
    display: String,
    source_hash: u64,
    engine: Engine,
    ast: AST,
    ctx: Arc<Mutex<Ctx>>,
    deadline: Arc<AtomicU64>,
    clock: Instant,
    limits: Limits,
    base: Vec<VoiceSpec>,
    has_on_bar: bool,
    has_on_start: bool,
    has_on_features: bool,
}

impl fmt::Debug for Patch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Patch")
            .field("path", &self.display)
            .finish()
    }
}

impl Patch {
    /// Reads, compiles and evaluates the top level of a patch file.
    pub fn load_file(path: &Path, opts: LoadOptions) -> Result<Patch, PatchError> {
        let src = std::fs::read_to_string(path).map_err(|e| PatchError {
            path: path.display().to_string(),
            line: 0,
            col: 0,
            message: format!("cannot read: {e}"),
        })?;
        Patch::load(path, &src, opts)
    }

    /// Compiles and evaluates the top level of `src` (named `path` in errors).
    pub fn load(path: &Path, src: &str, opts: LoadOptions) -> Result<Patch, PatchError> {
        let display = path.display().to_string();
        let state = opts.state.unwrap_or_default();
        let ctx = Arc::new(Mutex::new(Ctx {
            tempo: None,
            quantize: Quantize::Bar,
            sig: TimeSig::default(),
            voices: Vec::new(),
            params: Vec::new(),
            prints: Vec::new(),
            analyze: None,
            seed: opts.seed,
            rng: SplitMix(opts.seed ^ fnv1a(&[display.as_bytes()])),
            state,
            top_level: true,
        }));
        let deadline = Arc::new(AtomicU64::new(u64::MAX));
        let clock = Instant::now();
        let engine = build_engine(&ctx, &deadline, clock, &opts.limits);
        let ast = engine.compile(src).map_err(|e| PatchError {
            path: display.clone(),
            line: e.1.line().unwrap_or(0),
            col: e.1.position().unwrap_or(0),
            message: e.0.to_string(),
        })?;
        let has = |name: &str, arity: usize| {
            ast.iter_functions()
                .any(|f| f.name == name && f.params.len() == arity)
        };
        let mut patch = Patch {
            has_on_bar: has("on_bar", 1),
            has_on_start: has("on_start", 0),
            has_on_features: has("on_features", 1),
            path: path.to_path_buf(),
            display,
            source_hash: fnv1a(&[src.as_bytes()]),
            engine,
            ast,
            ctx,
            deadline,
            clock,
            limits: opts.limits,
            base: Vec::new(),
        };
        patch.run_top_level()?;
        Ok(patch)
    }

    fn arm(&self, budget: Duration) {
        let at = self.clock.elapsed() + budget;
        self.deadline.store(at.as_nanos() as u64, Ordering::Relaxed);
    }

    fn run_top_level(&mut self) -> Result<(), PatchError> {
        {
            let mut c = lock(&self.ctx);
            c.voices.clear();
            c.top_level = true;
        }
        self.arm(self.limits.top_level_deadline);
        let r = self.engine.run_ast(&self.ast);
        let mut c = lock(&self.ctx);
        c.top_level = false;
        r.map_err(|e| self.error(*e, self.limits.top_level_deadline))?;
        self.base = c.voices.clone();
        Ok(())
    }

    /// Turns a Rhai error into a located [`PatchError`], unwrapping nested function calls to the
    /// innermost position (where the fault really is).
    fn error(&self, e: EvalAltResult, deadline: Duration) -> PatchError {
        let mut err = e;
        let mut pos = err.position();
        while let EvalAltResult::ErrorInFunctionCall(_, _, inner, p) = err {
            if !p.is_none() {
                pos = p;
            }
            err = *inner;
            if !err.position().is_none() {
                pos = err.position();
            }
        }
        let message = match &err {
            EvalAltResult::ErrorTooManyOperations(_) => format!(
                "stopped after {} operations (the limit): does it loop forever?",
                self.limits.max_operations
            ),
            EvalAltResult::ErrorTerminated(_, _) => format!(
                "stopped: ran longer than its {} ms deadline",
                deadline.as_millis()
            ),
            EvalAltResult::ErrorStackOverflow(_) | EvalAltResult::ErrorTooManyModules(_) => {
                format!(
                    "stopped: calls nested deeper than {} levels (runaway recursion?)",
                    self.limits.max_call_levels
                )
            }
            EvalAltResult::ErrorDataTooLarge(what, _) => {
                format!("stopped: {what} grew past its limit (runaway allocation?)")
            }
            EvalAltResult::ErrorRuntime(msg, _) => msg
                .clone()
                .into_string()
                .unwrap_or_else(|_| err.to_string()),
            other => {
                // Rhai appends " (line x, position y)"; the position goes in front instead.
                let s = other.to_string();
                match s.rfind(" (line ") {
                    Some(i) => s[..i].to_string(),
                    None => s,
                }
            }
        };
        PatchError {
            path: self.display.clone(),
            line: pos.line().unwrap_or(0),
            col: pos.position().unwrap_or(0),
            message,
        }
    }

    /// Runs `on_start()` if the patch has one (once, when the file first starts playing).
    pub fn start(&mut self) -> Result<(), PatchError> {
        if !self.has_on_start {
            return Ok(());
        }
        self.arm(self.limits.top_level_deadline);
        let r = self
            .engine
            .call_fn::<Dynamic>(&mut Scope::new(), &self.ast, "on_start", ());
        r.map(|_| ())
            .map_err(|e| self.error(*e, self.limits.top_level_deadline))?;
        // on_start may define or change voices: they become the base.
        let c = lock(&self.ctx);
        self.base = c.voices.clone();
        Ok(())
    }

    /// Plans bar `bar`: runs `on_bar(bar)` and the voices' `every` functions on a copy of the base
    /// voices, then expands every voice into notes. LSTM voices take their steps from `steps`.
    pub fn plan_bar(
        &mut self,
        bar: u64,
        steps: &mut dyn StepSource,
    ) -> Result<BarPlan, PatchError> {
        {
            let mut c = lock(&self.ctx);
            c.voices = self.base.clone();
            c.params.clear();
            c.prints.clear();
            c.rng = SplitMix(c.seed ^ fnv1a(&[self.display.as_bytes(), &bar.to_le_bytes()]));
        }
        if self.has_on_bar {
            self.arm(self.limits.callback_deadline);
            let r = self.engine.call_fn::<Dynamic>(
                &mut Scope::new(),
                &self.ast,
                "on_bar",
                (bar as i64,),
            );
            r.map(|_| ())
                .map_err(|e| self.error(*e, self.limits.callback_deadline))?;
        }
        // every(n, fn): apply the transforms due this bar.
        let due: Vec<(String, FnPtr)> = lock(&self.ctx)
            .voices
            .iter()
            .flat_map(|v| {
                v.every
                    .iter()
                    .filter(|(n, _)| *n > 0 && bar % *n == 0)
                    .map(|(_, f)| (v.name.clone(), f.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (name, f) in due {
            self.arm(self.limits.callback_deadline);
            let r = f.call::<Dynamic>(&self.engine, &self.ast, (VoiceRef { name: name.into() },));
            r.map(|_| ())
                .map_err(|e| self.error(*e, self.limits.callback_deadline))?;
        }
        let (voices, params, prints, seed, sig) = {
            let c = lock(&self.ctx);
            (
                c.voices.clone(),
                c.params.clone(),
                c.prints.clone(),
                c.seed,
                c.sig,
            )
        };
        let mut notes = Vec::new();
        for (i, v) in voices.iter().enumerate() {
            expand_voice(i, v, bar, sig, seed, &self.display, steps, &mut notes).map_err(|m| {
                PatchError {
                    path: self.display.clone(),
                    line: 0,
                    col: 0,
                    message: format!("voice '{}': {m}", v.name),
                }
            })?;
        }
        Ok(BarPlan {
            voices,
            notes,
            params,
            prints,
        })
    }

    /// Calls `on_features(f)` with a feature map (analysis patches).
    pub fn on_features(&mut self, features: Map) -> Result<Vec<(String, Param, f32)>, PatchError> {
        if !self.has_on_features {
            return Ok(Vec::new());
        }
        {
            let mut c = lock(&self.ctx);
            c.voices = self.base.clone();
            c.params.clear();
        }
        self.arm(self.limits.callback_deadline);
        let r = self.engine.call_fn::<Dynamic>(
            &mut Scope::new(),
            &self.ast,
            "on_features",
            (Dynamic::from_map(features),),
        );
        r.map(|_| ())
            .map_err(|e| self.error(*e, self.limits.callback_deadline))?;
        let mut c = lock(&self.ctx);
        // Parameter changes made here persist in the base voices, so later notes keep them.
        let params = std::mem::take(&mut c.params);
        for (voice, p, val) in &params {
            if let Some(v) = self.base.iter_mut().find(|v| &v.name == voice) {
                p.apply(&mut v.sound, *val);
            }
        }
        Ok(params)
    }

    /// Evaluates the next `bars` bars in memory (with the limits) on a copy of the state:
    /// what `weft check` and the reload path run before a patch may play.
    pub fn dry_run(
        path: &Path,
        src: &str,
        opts: LoadOptions,
        from_bar: u64,
        bars: u64,
        steps: &mut dyn StepSource,
    ) -> Result<(), PatchError> {
        let state = opts.state.as_ref().map(State::snapshot);
        let mut p = Patch::load(path, src, LoadOptions { state, ..opts })?;
        p.start()?;
        for b in from_bar..from_bar + bars {
            p.plan_bar(b, steps)?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The file name as shown in messages.
    pub fn display_name(&self) -> &str {
        &self.display
    }
    pub fn source_hash(&self) -> u64 {
        self.source_hash
    }
    pub fn tempo(&self) -> Option<f64> {
        lock(&self.ctx).tempo
    }
    pub fn quantize(&self) -> Quantize {
        lock(&self.ctx).quantize
    }
    pub fn time_sig(&self) -> TimeSig {
        lock(&self.ctx).sig
    }
    pub fn analyze_spec(&self) -> Option<AnalyzeSpec> {
        lock(&self.ctx).analyze.clone()
    }
    pub fn has_on_features(&self) -> bool {
        self.has_on_features
    }
    pub fn base_voices(&self) -> &[VoiceSpec] {
        &self.base
    }
    pub fn state(&self) -> State {
        lock(&self.ctx).state.clone()
    }
    /// Lines printed by the top level / on_start.
    pub fn take_prints(&mut self) -> Vec<String> {
        std::mem::take(&mut lock(&self.ctx).prints)
    }
}

/// Expands one voice for one bar into notes (ticks relative to the bar start).
#[allow(clippy::too_many_arguments)]
fn expand_voice(
    index: usize,
    v: &VoiceSpec,
    bar: u64,
    sig: TimeSig,
    seed: u64,
    file: &str,
    steps: &mut dyn StepSource,
    out: &mut Vec<PlannedNote>,
) -> Result<(), String> {
    let bar_ticks = sig.ticks_per_bar();
    let voice_seed = seed ^ fnv1a(&[file.as_bytes(), v.name.as_bytes(), &bar.to_le_bytes()]);
    let mut coin = SplitMix(voice_seed);
    let key_of = |k: u8| (k as i32 + v.transpose).clamp(0, 127) as u8;
    let mut push =
        |start: u64, len: u64, key: u8, vel: u8, chance: f32, out: &mut Vec<PlannedNote>| {
            // Draw for every candidate note so one note's chance never shifts another's.
            let roll = coin.next_f64() as f32;
            if roll >= chance * v.prob || vel == 0 {
                return;
            }
            let dur = ((len as f64 * v.gate as f64).round() as u64).max(1);
            out.push(PlannedNote {
                voice: index,
                start,
                dur,
                key: key_of(key),
                vel,
            });
        };
    match &v.source {
        Source::Silent => {}
        Source::Pattern(p) => {
            for h in p.query(bar) {
                let start = h.start.of(bar_ticks);
                let end = h.start.plus(h.dur).of(bar_ticks).max(start + 1);
                let key = match h.value {
                    Value::Hit => v.note,
                    Value::Note(n) => n,
                };
                let vel = match (h.index, v.sound.synth) {
                    (Some(i), k) if k != SynthKind::Sample => ((i.min(9) as u32 * 127) / 9) as u8,
                    _ => v.vel,
                };
                push(start, end - start, key, vel, h.chance, out);
            }
        }
        Source::Notes { pitches, rhythm } => {
            let onsets: Vec<(u64, u64)> = match rhythm {
                Rhythm::Steps(s) => {
                    let n = s.len() as u64;
                    s.iter()
                        .enumerate()
                        .filter(|(_, on)| **on)
                        .map(|(i, _)| {
                            let a = bar_ticks * i as u64 / n;
                            (a, bar_ticks * (i as u64 + 1) / n - a)
                        })
                        .collect()
                }
                Rhythm::Pattern(p) => p
                    .query(bar)
                    .iter()
                    .map(|h| {
                        let a = h.start.of(bar_ticks);
                        (a, h.start.plus(h.dur).of(bar_ticks).max(a + 1) - a)
                    })
                    .collect(),
            };
            let per_bar = onsets.len() as u64;
            for (j, (start, len)) in onsets.into_iter().enumerate() {
                let idx = (bar * per_bar + j as u64) % pitches.len() as u64;
                for key in &pitches[idx as usize] {
                    push(start, len, *key, v.vel, 1.0, out);
                }
            }
        }
        Source::Lstm(spec) => {
            let n = spec.steps as usize;
            let got = steps.steps(file, v, spec, n)?;
            for (i, s) in got.iter().enumerate() {
                if let Some((key, hold)) = s {
                    let a = bar_ticks * i as u64 / n as u64;
                    let b = bar_ticks * (i as u64 + *hold as u64) / n as u64;
                    push(a, b.saturating_sub(a).max(1), *key, v.vel, 1.0, out);
                }
            }
        }
    }
    Ok(())
}

/// A [`StepSource`] for patches without LSTM voices or where no model is available: it
/// reports the LSTM voice as an error so the patch is rejected with a clear message.
pub struct NoModels;

impl StepSource for NoModels {
    fn steps(
        &mut self,
        _file: &str,
        _v: &VoiceSpec,
        spec: &LstmSpec,
        _n: usize,
    ) -> Result<Vec<Option<(u8, u32)>>, String> {
        Err(format!(
            "model '{}' is not available in this build",
            spec.model
        ))
    }
}

/// Checks a patch file: compile, evaluate, and dry-run `bars` bars. The error, if any, is
/// printed by the caller as `path:line:col: message`.
pub fn check_file(path: &Path, bars: u64, steps: &mut dyn StepSource) -> Result<(), PatchError> {
    let src = std::fs::read_to_string(path).map_err(|e| PatchError {
        path: path.display().to_string(),
        line: 0,
        col: 0,
        message: format!("cannot read: {e}"),
    })?;
    Patch::dry_run(path, &src, LoadOptions::default(), 0, bars, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> Result<Patch, PatchError> {
        Patch::load(Path::new("t.rhai"), src, LoadOptions::default())
    }

    #[test]
    fn analyze_records_settings_and_checks_feature_names() {
        let p =
            load("analyze(#{ fft: 4096, hop: 1024, features: [\"rms\", \"onset\"] });").unwrap();
        assert_eq!(
            p.analyze_spec(),
            Some(AnalyzeSpec {
                fft: 4096,
                hop: 1024,
                features: Some(vec!["rms".into(), "onset".into()]),
            })
        );
        let e = load("let x = 1;\nanalyze(#{ features: [\"rms\", \"loudness\"] });").unwrap_err();
        assert_eq!((e.line, e.col), (2, 1), "{e}");
        assert!(e.message.contains("unknown feature 'loudness'"), "{e}");
        let e = load("analyze(#{ fft: 1000 });").unwrap_err();
        assert!(e.message.contains("power of two"), "{e}");
        assert_eq!(load("let x = 1;").unwrap().analyze_spec(), None);
    }

    fn keys(p: &mut Patch, bar: u64) -> Vec<(u64, u8)> {
        p.plan_bar(bar, &mut NoModels)
            .unwrap()
            .notes
            .iter()
            .map(|n| (n.start, n.key))
            .collect()
    }

    #[test]
    fn drum_pattern_plans_exact_ticks() {
        let mut p = load(
            r#"voice("kick", #{ synth: "kick" }).pattern("x . . . x . . . x . . . x . x .");"#,
        )
        .unwrap();
        assert_eq!(
            keys(&mut p, 0),
            vec![(0, 36), (960, 36), (1920, 36), (2880, 36), (3360, 36)]
        );
        assert_eq!(p.base_voices()[0].channel, 9);
    }

    #[test]
    fn notes_with_euclid_walk_the_scale_across_bars() {
        let mut p = load(r#"voice("bass", #{ synth: "saw", channel: 2 }).notes(scale("A2", "minor"), euclid(3, 8));"#).unwrap();
        assert_eq!(keys(&mut p, 0), vec![(0, 45), (1440, 47), (2880, 48)]);
        assert_eq!(keys(&mut p, 1), vec![(0, 50), (1440, 52), (2880, 53)]);
    }

    #[test]
    fn on_bar_changes_are_bar_local_and_state_persists() {
        let src = r#"
            voice("k", #{ synth: "kick" }).pattern("x");
            fn on_bar(bar) {
                state.bars = if state.bars == () { 1 } else { state.bars + 1 };
                if bar % 4 == 3 { voice("k").pattern("x x x x"); }
            }
        "#;
        let mut p = load(src).unwrap();
        assert_eq!(keys(&mut p, 0).len(), 1);
        assert_eq!(keys(&mut p, 3).len(), 4);
        assert_eq!(keys(&mut p, 4).len(), 1);
        assert_eq!(p.state().get("bars").unwrap().as_int().unwrap(), 3);
    }

    #[test]
    fn every_transposes_on_its_bars() {
        let mut p =
            load(r#"voice("l", #{}).pattern("c4").every(2, |v| v.transpose(12));"#).unwrap();
        assert_eq!(keys(&mut p, 0), vec![(0, 72)]);
        assert_eq!(keys(&mut p, 1), vec![(0, 60)]);
    }

    #[test]
    fn prob_is_seeded_and_repeatable() {
        let src = r#"voice("h", #{ synth: "hat" }).pattern("x*16").prob(0.5);"#;
        let a: Vec<_> = (0..8).map(|b| keys(&mut load(src).unwrap(), b)).collect();
        let b: Vec<_> = (0..8).map(|b| keys(&mut load(src).unwrap(), b)).collect();
        assert_eq!(a, b);
        let total: usize = a.iter().map(|x| x.len()).sum();
        assert!(total > 30 && total < 98, "{total}");
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = load("tempo(120);\nlet x = ;").unwrap_err();
        assert_eq!((e.line, e.col), (2, 9));
        let e = load("tempo(120);\n  voice(\"a\", #{}).pattern(\"x [\");").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unclosed"), "{e}");
        let e = load("fn f() { throw \"boom\"; }\n\nf();").unwrap_err();
        assert_eq!((e.line, e.col), (1, 10), "{e}");
        assert!(e.to_string().starts_with("t.rhai:1:10: "), "{e}");
    }

    #[test]
    fn runaway_scripts_are_stopped() {
        for src in [
            "loop {}",
            "let x = 0; loop { x += 1; }",
            "fn f(n) { f(n + 1) } f(0);",
            "let a = []; loop { a.push(1); }",
            "let s = \"x\"; loop { s += s; }",
            "let a = [0]; a.pad(1000000000, 0);",
        ] {
            let e = load(src).unwrap_err();
            assert_eq!(e.line, 1, "{src}: {e}");
        }
        // A slow on_bar hits its deadline.
        let mut p = load("fn on_bar(b) { let x = 0; while true { x += 1; } }").unwrap();
        let e = p.plan_bar(0, &mut NoModels).unwrap_err();
        assert!(e.message.contains("stopped"), "{e}");
    }

    #[test]
    fn no_file_or_eval_access() {
        assert!(load(r#"eval("1")"#).is_err());
        assert!(load(r#"import "x" as y;"#).is_err());
    }
}
