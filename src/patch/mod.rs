//! Patches: compile and evaluate a `.rhai` file under limits into plain data.
//!
//! A [`Patch`] owns one Rhai engine and AST per file. Evaluating its top level yields the
//! base voices (plain [`VoiceSpec`] data); each bar the scheduler asks [`Patch::plan_bar`]
//! for that bar's notes, which runs `on_bar(bar)` and the voices' `every(n, fn)` transforms
//! on a copy of the base voices and expands their patterns into [`PlannedNote`]s with exact
//! ticks. Nothing here runs on the audio thread.
//!
//! Safety: every run (top level, `on_start`, `on_bar`, `on_features`, `every` functions) has
//! an operation budget, call-depth, string/array/map limits, a wall-clock deadline and an
//! allocation budget (with [`crate::alloc_meter`] installed), and runs inside `catch_unwind`
//! (a panic becomes an error like a throw); `state` has a size limit. The engine holds only
//! non-blocking functions (no `sleep`, clock, file, process, network, `eval` or `import`;
//! `tests/stage_patch.rs` checks the list). Every failure becomes a [`PatchError`] printed as
//! `path:line:col: message`.

mod api;
pub mod mini;
mod spec;
pub mod theory;
use crate::engine::event::{Param, Sound, SynthKind};
use crate::engine::transport::{Quantize, TimeSig};
use api::*;
use mini::{Key, Pattern};
use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FnPtr, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext, Position, Scope, AST,
};
pub use spec::*;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
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
    /// What callbacks run on: the functions, plus one statement per top-level constant that
    /// binds its name to the value the top level computed (`const NAME = <value>;`), so
    /// `global::NAME` works inside `on_bar` without re-running the top level (its `voice(...)`
    /// calls and `state` initialisation) before every callback. Literal values, not the
    /// original statements: those refer to top-level variables by compile-time index.
    callbacks: AST,
    ctx: Arc<Mutex<Ctx>>,
    guard: Arc<Guard>,
    /// Which limit stopped the last run, if one did (0 = none; see `Stop`).
    last_stop: std::sync::atomic::AtomicU8,
    clock: Instant,
    /// Where each `fn` of the source starts (name, line, col), for errors Rhai reports
    /// without a position (runaway loops inside a callback).
    fn_lines: Vec<(String, usize, usize)>,
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
        let guard = Arc::new(Guard {
            deadline: AtomicU64::new(u64::MAX),
            alloc_base: AtomicI64::new(0),
        });
        let clock = Instant::now();
        let engine = build_engine(&ctx, &guard, clock, &opts.limits);
        let compiled = catch_unwind(AssertUnwindSafe(|| engine.compile(src)));
        let ast = match compiled {
            Ok(r) => r.map_err(|e| PatchError {
                path: display.clone(),
                line: e.1.line().unwrap_or(0),
                col: e.1.position().unwrap_or(0),
                message: e.0.to_string(),
            })?,
            Err(panic) => {
                return Err(PatchError {
                    path: display.clone(),
                    line: 0,
                    col: 0,
                    message: format!(
                        "internal error in compile: {}",
                        crate::fault::panic_message(&*panic)
                    ),
                })
            }
        };
        // Until the top level has run, callbacks see no constants (see `run_top_level`).
        let callbacks = ast.clone_functions_only();
        let fn_lines = fn_lines(&ast);
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
            callbacks,
            ctx,
            guard,
            last_stop: Default::default(),
            clock,
            fn_lines,
            limits: opts.limits,
            base: Vec::new(),
        };
        patch.run_top_level()?;
        Ok(patch)
    }

    /// Arms the deadline and the allocation budget for one run, then runs `f` so that a
    /// panic inside Rhai or a registered function becomes a [`PatchError`] like a throw.
    fn guarded<T>(
        &self,
        what: &str,
        at_fn: (usize, usize),
        budget: Duration,
        f: impl FnOnce() -> Result<T, Box<EvalAltResult>>,
    ) -> Result<(), PatchError> {
        self.last_stop.store(0, Ordering::Relaxed);
        let at = self.clock.elapsed() + budget;
        self.guard.deadline.store(
            at.as_nanos().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
        self.guard
            .alloc_base
            .store(crate::alloc_meter::net_allocated(), Ordering::Relaxed);
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.error(*e, at_fn, budget)),
            Err(panic) => {
                // `lock` clears the poison a panic inside a registered function left behind.
                let state = lock(&self.ctx).state.clone();
                drop(lock(&state.0));
                let (line, col) = at_fn;
                Err(PatchError {
                    path: self.display.clone(),
                    line,
                    col,
                    message: format!(
                        "internal error in {what}: {}",
                        crate::fault::panic_message(&*panic)
                    ),
                })
            }
        }
    }

    /// Where `fn name` starts in the source ((0, 0) for the top level or an unknown name).
    fn fn_position(&self, name: &str) -> (usize, usize) {
        self.fn_lines
            .iter()
            .find(|(n, _, _)| n == name)
            .map_or((0, 0), |(_, l, c)| (*l, *c))
    }

    fn run_top_level(&mut self) -> Result<(), PatchError> {
        {
            let mut c = lock(&self.ctx);
            c.voices.clear();
            c.top_level = true;
        }
        let mut scope = Scope::new();
        let r = self.guarded(
            "the top level",
            (0, 0),
            self.limits.top_level_deadline,
            || self.engine.run_ast_with_scope(&mut scope, &self.ast),
        );
        let mut c = lock(&self.ctx);
        c.top_level = false;
        r?;
        self.base = c.voices.clone();
        drop(c);
        self.callbacks = callbacks_with_constants(&self.ast, &scope);
        Ok(())
    }

    /// Turns a Rhai error into a located [`PatchError`], unwrapping nested function calls to the
    /// innermost position (where the fault really is). Rhai drops the position of "system"
    /// errors (operation limit, deadline, stack) at each function boundary; when none is left,
    /// the error is placed at `at_fn`: the `fn` that was running, or the `every(...)` call.
    fn error(&self, e: EvalAltResult, at_fn: (usize, usize), deadline: Duration) -> PatchError {
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
        let stop = match &err {
            EvalAltResult::ErrorTooManyOperations(_) => Some(Stop::Operations),
            EvalAltResult::ErrorTerminated(token, _)
                if token.clone().into_string().is_ok_and(|t| t == STOP_ALLOC) =>
            {
                Some(Stop::Memory)
            }
            EvalAltResult::ErrorTerminated(_, _) => Some(Stop::Deadline),
            EvalAltResult::ErrorStackOverflow(_) => Some(Stop::Recursion),
            EvalAltResult::ErrorDataTooLarge(_, _) => Some(Stop::Memory),
            _ => None,
        };
        let code = match stop {
            None => 0,
            Some(Stop::Operations) => 1,
            Some(Stop::Deadline) => 2,
            Some(Stop::Recursion) => 3,
            Some(Stop::Memory) => 4,
        };
        self.last_stop.store(code, Ordering::Relaxed);
        let message = match &err {
            EvalAltResult::ErrorTooManyOperations(_) => format!(
                "stopped after {} operations (the limit): does it loop forever?",
                self.limits.max_operations
            ),
            EvalAltResult::ErrorTerminated(token, _)
                if token.clone().into_string().is_ok_and(|t| t == STOP_ALLOC) =>
            {
                format!(
                    "stopped: allocated more than {} MB (runaway allocation?)",
                    self.limits.max_alloc_bytes >> 20
                )
            }
            EvalAltResult::ErrorTerminated(_, _) => format!(
                "stopped: ran longer than its {} ms deadline",
                deadline.as_millis()
            ),
            EvalAltResult::ErrorTooManyModules(_) | EvalAltResult::ErrorModuleNotFound(_, _) => {
                "import is not available in patches".to_string()
            }
            EvalAltResult::ErrorStackOverflow(_) => {
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
        let (line, col) = match (pos.line(), pos.position()) {
            (Some(l), c) => (l, c.unwrap_or(0)),
            (None, _) => at_fn,
        };
        PatchError {
            path: self.display.clone(),
            line,
            col,
            message,
        }
    }

    /// Which limit stopped the last run (`plan_bar`, `on_features`, …), if one did.
    pub fn last_stop(&self) -> Option<Stop> {
        match self.last_stop.load(Ordering::Relaxed) {
            1 => Some(Stop::Operations),
            2 => Some(Stop::Deadline),
            3 => Some(Stop::Recursion),
            4 => Some(Stop::Memory),
            _ => None,
        }
    }

    /// Runs `on_start()` if the patch has one (once, when the file first starts playing).
    pub fn start(&mut self) -> Result<(), PatchError> {
        if !self.has_on_start {
            return Ok(());
        }
        self.guarded(
            "on_start",
            self.fn_position("on_start"),
            self.limits.top_level_deadline,
            || {
                self.engine.call_fn_with_options::<Dynamic>(
                    once(),
                    &mut Scope::new(),
                    &self.callbacks,
                    "on_start",
                    (),
                )
            },
        )?;
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
            let bar = i64::try_from(bar).map_err(|_| PatchError {
                path: self.display.clone(),
                line: 0,
                col: 0,
                message: format!("bar {bar} is too large"),
            })?;
            self.guarded(
                "on_bar",
                self.fn_position("on_bar"),
                self.limits.callback_deadline,
                || {
                    self.engine.call_fn_with_options::<Dynamic>(
                        once(),
                        &mut Scope::new(),
                        &self.callbacks,
                        "on_bar",
                        (bar,),
                    )
                },
            )?;
        }
        // every(n, fn): apply the transforms due this bar.
        let due: Vec<(String, FnPtr, (usize, usize))> = lock(&self.ctx)
            .voices
            .iter()
            .flat_map(|v| {
                v.every
                    .iter()
                    .filter(|(n, _, _)| *n > 0 && bar % *n == 0)
                    .map(|(_, f, at)| (v.name.clone(), f.clone(), *at))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (name, f, at) in due {
            self.guarded("every", at, self.limits.callback_deadline, || {
                f.call::<Dynamic>(&self.engine, &self.ast, (VoiceRef { name: name.into() },))
            })?;
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
                    line: v.source_at.0,
                    col: v.source_at.1,
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
        self.guarded(
            "on_features",
            self.fn_position("on_features"),
            self.limits.callback_deadline,
            || {
                self.engine.call_fn_with_options::<Dynamic>(
                    once(),
                    &mut Scope::new(),
                    &self.callbacks,
                    "on_features",
                    (Dynamic::from_map(features),),
                )
            },
        )?;
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
        for b in from_bar..from_bar.saturating_add(bars) {
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

/// The signature of every function a patch can call (Rhai's packages included), sorted and
/// deduplicated: `tests/stage_patch.rs` holds this list to a committed allow-list, so a Rhai
/// upgrade or a new registration cannot make a blocking function reachable unnoticed.
pub fn engine_functions() -> Vec<String> {
    let p = Patch::load(Path::new("functions.rhai"), "", LoadOptions::default())
        .expect("the empty patch loads");
    let mut v = p.engine.gen_fn_signatures(true);
    v.sort();
    v.dedup();
    v
}

/// The functions of `ast` plus a `const NAME = <value>;` statement for each constant the top
/// level left in `scope` (in declaration order; a later one of the same name wins, as it
/// did at the top level).
fn callbacks_with_constants(ast: &AST, scope: &Scope) -> AST {
    let mut consts: Vec<(String, Dynamic)> = scope
        .iter_raw()
        .filter(|(_, constant, _)| *constant)
        .map(|(name, _, value)| (name.to_string(), value.clone()))
        .collect();
    // `iter_raw` walks from the newest entry: declaration order is the reverse.
    consts.reverse();
    let statements = consts.into_iter().map(|(name, value)| {
        rhai::Stmt::Var(
            Box::new((
                rhai::Ident {
                    name: name.into(),
                    pos: Position::NONE,
                },
                rhai::Expr::DynamicConstant(Box::new(value), Position::NONE),
                None,
            )),
            rhai::ASTFlags::CONSTANT,
            Position::NONE,
        )
    });
    AST::new(statements, ast.shared_lib().clone())
}

/// Options for calling a callback on [`Patch::callbacks`]: its statements (only the top
/// level's `const`s, for `global::NAME`) run first. Running the whole top level again, as
/// Rhai's `call_fn` does by default, re-ran every `state.x = ...` initialisation and every
/// `voice(...)` before each `on_bar`, under the callback's deadline.
fn once() -> rhai::CallFnOptions<'static> {
    rhai::CallFnOptions::new().eval_ast(true)
}

/// Where each script function's body starts (1-based line and column of its `{`), from the
/// compiled AST (so comments and strings that mention `fn` cannot mislead it): used to place
/// errors Rhai reports without a position.
fn fn_lines(ast: &AST) -> Vec<(String, usize, usize)> {
    ast.iter_fn_def()
        .map(|f| {
            let p = f.body.start_position();
            (
                f.name.to_string(),
                p.line().unwrap_or(0),
                p.position().unwrap_or(0),
            )
        })
        .collect()
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
            let drums = v.channel == 9;
            for h in p.query_seeded(bar, voice_seed) {
                let start = h.start.of(bar_ticks);
                let end = h.start.plus(h.dur).of(bar_ticks).max(start + 1);
                let key = match h.value.key(drums) {
                    Some(Key::Own) => v.note,
                    Some(Key::Note(n)) => n,
                    None => continue,
                };
                let vel = match (h.value.index(), v.sound.synth) {
                    (Some(i), k) if k != SynthKind::Sample => ((i.min(9) as u32 * 127) / 9) as u8,
                    _ => v.vel,
                };
                push(start, end - start, key, vel, 1.0, out);
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
                    .query_seeded(bar, voice_seed)
                    .iter()
                    .map(|h| {
                        let a = h.start.of(bar_ticks);
                        (a, h.start.plus(h.dur).of(bar_ticks).max(a + 1) - a)
                    })
                    .collect(),
            };
            let per_bar = onsets.len() as u64;
            for (j, (start, len)) in onsets.into_iter().enumerate() {
                let idx = (bar as u128 * per_bar as u128 + j as u128) % pitches.len() as u128;
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
            r#"voice("kick", #{ synth: "kick" }).pattern("x ~ ~ ~ x ~ ~ ~ x ~ ~ ~ x ~ x ~");"#,
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
            "let s = \"x\"; s.pad(1000000000, \"x\");",
            "let a = []; for i in range(0, 1000000000) { a.push(i); }",
            "let m = #{}; for i in 0..1000000000 { m[`${i}`] = i; }",
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

    #[test]
    fn import_says_it_is_not_available_at_its_line() {
        let e = load("let a = 1;\n  import \"x\" as y;").unwrap_err();
        assert_eq!(e.message, "import is not available in patches", "{e}");
        assert_eq!((e.line, e.col), (2, 3), "{e}");
    }

    #[test]
    fn sleep_and_other_core_functions_are_not_reachable() {
        // `sleep` froze the music (on_bar), hung `check` (top level) or panicked (1e30).
        for src in [
            "sleep(1000000.0);",
            "sleep(1e30);",
            "sleep(1);",
            "exit();",
            "timestamp();",
        ] {
            let e = load(src).unwrap_err();
            assert!(e.message.contains("Function not found"), "{src}: {e}");
        }
        let mut p = load("let a = 1;\nfn on_bar(b) {\n    sleep(1000000.0);\n}").unwrap();
        let e = p.plan_bar(0, &mut NoModels).unwrap_err();
        assert!(e.message.contains("Function not found"), "{e}");
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn full_range_int_does_not_divide_by_zero() {
        let mut p = load(
            "fn on_bar(b) { state.x = rand(1).int(-9223372036854775807 - 1, 9223372036854775807); }",
        )
        .unwrap();
        p.plan_bar(0, &mut NoModels).unwrap();
        let mut p = load("let r = rand(3); let a = r.int(5, 5); let b = r.int(-2, 2);\nif a != 5 || b < -2 || b > 2 { throw \"range\"; }").unwrap();
        p.plan_bar(0, &mut NoModels).unwrap();
        let e = load("rand(1).int(3, 2);").unwrap_err();
        assert!(e.message.contains("hi must be >= lo"), "{e}");
        // Huge transpositions clamp to -48..48 without overflowing.
        let mut p =
            load("voice(\"a\", #{}).pattern(\"x\").transpose(9223372036854775807).transpose(1);")
                .unwrap();
        p.plan_bar(0, &mut NoModels).unwrap();
        assert_eq!(p.base_voices()[0].transpose, 48);
    }

    #[test]
    fn finite_values_past_a_range_end_are_clamped_not_errors() {
        // Review finding: `chance(bar / 8.0)` and a cutoff sweep passed the dry run and then
        // failed bars later, stopping the part; a sweep past the end is music.
        let src = "voice(\"a\", #{ synth: \"saw\" }).pattern(\"x*4\");\n\
                   fn on_bar(b) {\n\
                     voice(\"a\").set(#{ cutoff: 2000.0 * (b + 1), pan: 3, vel: 300, gate: 0 });\n\
                     if rand(b).chance(b / 8.0) { voice(\"a\").prob(1.5); }\n\
                   }";
        let mut p = load(src).unwrap();
        for b in 0..24 {
            let plan = p.plan_bar(b, &mut NoModels).unwrap();
            assert!(plan.voices[0].sound.cutoff <= 20_000.0);
            assert!(plan.voices[0].gate >= 0.01);
        }
        let s = load("let s = scale(\"C3\", \"minor\", 9); if s.len() == 0 { throw \"empty\"; }");
        assert!(s.is_ok(), "{s:?}");
    }

    #[test]
    fn a_panic_in_any_callback_becomes_an_error_and_the_patch_keeps_working() {
        let src = "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x\");\n\
                   fn on_bar(b) {\n    if b == 1 { __test_panic(\"boom\"); }\n}\n\
                   fn on_features(f) { __test_panic(\"feat\"); }";
        let mut p = load(src).unwrap();
        assert_eq!(keys(&mut p, 0).len(), 1);
        let e = p.plan_bar(1, &mut NoModels).unwrap_err();
        assert_eq!(e.message, "internal error in on_bar: boom", "{e}");
        assert_eq!(e.line, 2, "{e}");
        assert!(
            !p.ctx.is_poisoned(),
            "the run's mutex must not stay poisoned"
        );
        assert_eq!(keys(&mut p, 2).len(), 1);
        let e = p.on_features(Map::new()).unwrap_err();
        assert_eq!(e.message, "internal error in on_features: feat", "{e}");
        assert!(!p.ctx.is_poisoned());
        let e = load("let x = 1;\n__test_panic(\"top\");").unwrap_err();
        assert_eq!(e.message, "internal error in the top level: top", "{e}");
        let mut p =
            load("voice(\"k\", #{}).pattern(\"x\").every(2, |v| __test_panic(\"ev\"));").unwrap();
        let e = p.plan_bar(0, &mut NoModels).unwrap_err();
        assert_eq!(e.message, "internal error in every: ev", "{e}");
        let e = Patch::dry_run(
            Path::new("t.rhai"),
            "fn on_start() { __test_panic(\"st\"); }",
            LoadOptions::default(),
            0,
            1,
            &mut NoModels,
        )
        .unwrap_err();
        assert_eq!(e.message, "internal error in on_start: st", "{e}");
    }

    #[test]
    fn state_has_a_size_limit_at_the_writing_line() {
        // 300 keys x 32 KB per bar grew without bound (531 MB in 60 s).
        let src = "fn on_bar(b) {\n    let s = \"x\"; s.pad(32000, \"x\");\n    for i in 0..300 { state[`k${b}_${i}`] = s; }\n}";
        let slow = || LoadOptions {
            limits: Limits {
                callback_deadline: Duration::from_secs(600),
                ..Limits::default()
            },
            ..LoadOptions::default()
        };
        let mut p = Patch::load(Path::new("t.rhai"), src, slow()).unwrap();
        let mut err = None;
        for b in 0..4 {
            if let Err(e) = p.plan_bar(b, &mut NoModels) {
                err = Some(e);
                break;
            }
        }
        let e = err.unwrap_or_else(|| {
            panic!(
                "state must fill up: {} bytes, k0_0 {:?}",
                p.state().bytes(),
                p.state().get("k0_0").map(|v| v.type_name())
            )
        });
        assert!(e.message.contains("state is full"), "{e}");
        assert!(e.message.contains("limit is 16 MB"), "{e}");
        assert_eq!(e.line, 3, "{e}");
        assert!(p.state().bytes() <= 16 << 20);
        // Growing a value in place (`state.list.push`) goes through the same bound.
        let opts = LoadOptions {
            limits: Limits {
                max_state_bytes: 64 << 10,
                ..slow().limits
            },
            ..LoadOptions::default()
        };
        let src = "state.list = [];\nfn on_bar(b) {\n    let s = 1;\n    for i in 0..1000 { state.list.push(s); }\n}";
        let mut p = Patch::load(Path::new("t.rhai"), src, opts).unwrap();
        let mut err = None;
        for b in 0..8 {
            if let Err(e) = p.plan_bar(b, &mut NoModels) {
                err = Some(e);
                break;
            }
        }
        let e = err.unwrap_or_else(|| {
            panic!(
                "state.list.push must hit the bound: {:?} bytes {}",
                p.state().get("list").map(|l| l.into_array().unwrap().len()),
                p.state().bytes()
            )
        });
        assert!(e.message.contains("state is full"), "{e}");
        assert_eq!((e.line, e.col), (4, 29), "{e}");
        assert!(e.message.contains("the limit is 64 KB"), "{e}");
        let len = p.state().get("list").unwrap().into_array().unwrap().len();
        assert!((3000..4096).contains(&len), "{len}");
        // Replacing a big value with a small one is always allowed.
        let mut p = Patch::load(
            Path::new("t.rhai"),
            "fn on_bar(b) { state.list = []; }",
            LoadOptions {
                state: Some(p.state()),
                ..LoadOptions::default()
            },
        )
        .unwrap();
        p.plan_bar(0, &mut NoModels).unwrap();
    }

    #[test]
    fn callbacks_do_not_rerun_the_top_level() {
        let src =
            "state.list = [];\nstate.runs = if state.runs == () { 1 } else { state.runs + 1 };\n\
                   fn on_bar(b) { state.list.push(b); }";
        let mut p = load(src).unwrap();
        for b in 0..3 {
            p.plan_bar(b, &mut NoModels).unwrap();
        }
        assert_eq!(p.state().get("runs").unwrap().as_int().unwrap(), 1);
        assert_eq!(
            p.state().get("list").unwrap().into_array().unwrap().len(),
            3
        );
    }

    #[test]
    fn constants_computed_from_top_level_variables_keep_their_values_in_callbacks() {
        // Review finding: keeping only the `const` statements broke Rhai's compile-time
        // variable indexes (D read A's value; `root + 7` underflowed an index).
        let src = "const A = 1;\nlet b = 2;\nconst C = 3;\nconst D = b;\nlet root = 60;\n\
                   const CH = root + 7;\nconst A = 5;\n\
                   fn on_bar(x) { state.d = global::D; state.ch = global::CH; state.a = global::A; }";
        let mut p = load(src).unwrap();
        p.plan_bar(0, &mut NoModels).unwrap();
        let st = p.state();
        assert_eq!(st.get("d").unwrap().as_int().unwrap(), 2);
        assert_eq!(st.get("ch").unwrap().as_int().unwrap(), 67);
        assert_eq!(st.get("a").unwrap().as_int().unwrap(), 5);
    }

    #[test]
    fn state_refuses_closures_and_itself_at_the_writing_line() {
        // Review finding: a closure chain in `state` grew to 580 MB past the 16 MB bound
        // (captured values are not counted), and `state.s = state` made a cycle.
        for (src, what) in [
            ("state.f = || 0;", "function"),
            (
                "let big = [1, 2];\nstate.f = [1, || big.len()];",
                "function",
            ),
            ("state.s = #{ inner: state };", "state itself"),
            ("fn on_bar(b) {\n  state.s = state;\n}", "state itself"),
        ] {
            let e = match load(src) {
                Err(e) => e,
                Ok(mut p) => p.plan_bar(0, &mut NoModels).unwrap_err(),
            };
            assert!(e.message.contains(what), "{src}: {e}");
            assert!(e.line >= 1 && !e.message.contains("internal"), "{src}: {e}");
        }
        let mut p = load("state.x = [1, #{ a: \"b\" }, 2.5, true];").unwrap();
        p.plan_bar(0, &mut NoModels).unwrap();
    }

    #[test]
    fn top_level_constants_are_visible_in_callbacks_as_global() {
        let src =
            "const ROOT = 45;\nstate.runs = if state.runs == () { 1 } else { state.runs + 1 };\n\
                   voice(\"b\", #{}).notes([ROOT], \"x\");\n\
                   fn on_bar(b) { state.seen = global::ROOT; }";
        let mut p = load(src).unwrap();
        for b in 0..3 {
            p.plan_bar(b, &mut NoModels).unwrap();
        }
        assert_eq!(p.state().get("seen").unwrap().as_int().unwrap(), 45);
        assert_eq!(p.state().get("runs").unwrap().as_int().unwrap(), 1);
    }

    #[test]
    fn runaway_callbacks_are_placed_in_the_patch_not_at_1_1() {
        let src = "voice(\"k\", #{}).pattern(\"x\");\n\n  fn on_bar(b) {\n    let x = 0;\n    loop { x += 1; }\n}";
        let mut p = load(src).unwrap();
        let e = p.plan_bar(0, &mut NoModels).unwrap_err();
        assert!(e.message.contains("stopped"), "{e}");
        // Rhai drops the loop's own position at the callback boundary: the callback's body
        // (its `{`), found in the AST, so a comment or string mentioning `fn` cannot mislead.
        assert_eq!((e.line, e.col), (3, 16), "{e}");
        let src = "/* fn on_bar */ let s = \"fn on_bar\";\nfn on_bar(b) { loop {} }";
        let mut p = load(src).unwrap();
        let e = p.plan_bar(0, &mut NoModels).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let src = "let a = 1;\nfn f(n) { f(n + 1) }\nfn on_bar(b) {\n    f(0);\n}";
        let mut p = load(src).unwrap();
        let e = p.plan_bar(0, &mut NoModels).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
        assert!(e.line >= 2, "{e}");
        let src = "let a = 1;\nfn on_features(f) {\n    loop {}\n}";
        let mut p = load(src).unwrap();
        let e = p.on_features(Map::new()).unwrap_err();
        assert!(e.message.contains("stopped"), "{e}");
        assert!(e.line >= 2, "{e}");
    }

    #[test]
    fn every_callback_has_a_deadline_and_an_operation_budget() {
        let mut p =
            load("let a = 1;\nvoice(\"k\", #{}).pattern(\"x\")\n    .every(1, |v| { loop {} });")
                .unwrap();
        let e = p.plan_bar(0, &mut NoModels).unwrap_err();
        assert!(e.message.contains("stopped"), "{e}");
        assert_eq!(e.line, 3, "placed at its every(...), not 1:1: {e}");
        let e = Patch::dry_run(
            Path::new("t.rhai"),
            "fn on_start() { loop {} }",
            LoadOptions::default(),
            0,
            1,
            &mut NoModels,
        )
        .unwrap_err();
        assert!(e.message.contains("stopped"), "{e}");
    }

    #[test]
    fn bad_option_values_are_rejected_at_their_line() {
        for (src, needle) in [
            ("voice(\"a\", #{}).gate(0.0 / 0.0);", "gate must be"),
            ("voice(\"a\", #{ gate: -1.0 });", "gate cannot be negative"),
            (
                "voice(\"a\", #{ cutoff: 1.0 / 0.0 });",
                "cutoff must be a number in 20..20000",
            ),
            ("voice(\"a\", #{ vel: -5 });", "vel cannot be negative"),
            ("voice(\"a\", #{}).prob(-0.5);", "prob cannot be negative"),
            (
                "voice(\"a\", #{}).lstm(#{ temperature: 0.0 / 0.0 });",
                "temperature",
            ),
            (
                "voice(\"a\", #{}).lstm(#{ temperature: -1.0 });",
                "temperature",
            ),
            (
                "voice(\"a\", #{}).lstm(#{ density: -5 });",
                "lstm option density cannot be negative",
            ),
            ("voice(\"a\", #{}).lstm(#{ top_k: 2.5 });", "top_k"),
            ("voice(\"a\", #{}).lstm(#{ seed: -1 });", "seed"),
            (
                "voice(\"a\", #{}).lstm(#{ part: \"lead\" });",
                "unknown part",
            ),
            ("param(\"a.cutoff\", 0.0 / 0.0);", "finite"),
            ("let c = chord(\"G9\", \"maj9\");", "above 127"),
            (
                "let s = scale(\"C4\", \"major\", 0);",
                "octaves must be 1..8",
            ),
            ("let n = note_name(200);", "0..127"),
        ] {
            let e = load(&format!("let x = 1;\n{src}")).unwrap_err();
            assert!(e.message.contains(needle), "{src}: {e}");
            assert_eq!(e.line, 2, "{src}: {e}");
        }
    }
}
