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
//!
//! Files: this one loads a patch and holds the limits and the stop policy (`guarded`,
//! `error`); `plan.rs` runs the callbacks and expands voices into notes; `check.rs` holds the
//! dry run; `api/` registers the script functions; `spec.rs` the plain data they produce.

mod api;
mod check;
pub mod harmony;
mod hints;
pub mod mini;
mod plan;
pub mod signal;
mod spec;
pub mod theory;
use crate::engine::event::{Param, Sound, SynthKind};
use crate::engine::transport::{Quantize, TimeSig};
use api::*;
pub use check::{check_file, check_file_in, check_file_with, engine_functions, NoModels};
use mini::{Key, Pattern};
use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FnPtr, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext, Position, Scope, AST,
};
pub use signal::Signal;
pub use spec::*;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Everything script functions read and write while a run (top level or callback) is in
/// progress: the voices being defined, parameter changes, prints, the seeded RNG, `state`.
#[derive(Debug)]
struct RunContext {
    tempo: Option<f64>,
    quantize: Quantize,
    sig: TimeSig,
    voices: Vec<VoiceSpec>,
    params: Vec<(String, Param, f32)>,
    /// Printed lines: (line of the `print` call, text).
    prints: Vec<(usize, String)>,
    /// Line of the `print` call being made (set by `print`, read by the print callback).
    print_line: usize,
    analyze: Option<AnalyzeSpec>,
    seed: u64,
    rng: SplitMix,
    state: State,
    /// True while the top level runs (voice definitions are allowed to replace base voices).
    top_level: bool,
    /// The patch's folder and the `--samples` flag, for finding sample folders.
    patch_dir: PathBuf,
    samples_flag: Option<PathBuf>,
    /// The bank `samples("path")` chose, if it was called.
    bank: Option<Arc<BankIndex>>,
    /// The bank of the samples folder found for the patch (looked up once, on first need).
    default_bank: Option<Option<Arc<BankIndex>>>,
}

/// Options for loading a patch.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub seed: u64,
    pub limits: Limits,
    /// The file's persistent state (a fresh one when `None`).
    pub state: Option<State>,
    /// `--samples DIR`: searched after the patch folder for `samples("path")` and sample
    /// folders.
    pub samples: Option<PathBuf>,
}

/// A compiled and evaluated patch file.
pub struct Patch {
    path: PathBuf,
    display: String,
    /// What the patch's randomness is seeded by besides the seed: the file's name, not the
    /// path as spelled (`a.rhai`, `./a.rhai` and `/abs/a.rhai` — or a live folder and an
    /// offline render of the same file — must play the same notes).
    seed_name: String,
    source_hash: u64,
    engine: Engine,
    ast: AST,
    /// What callbacks run on: the functions, plus one statement per top-level constant that
    /// binds its name to the value the top level computed (`const NAME = <value>;`), so
    /// `global::NAME` works inside `on_bar` without re-running the top level (its `voice(...)`
    /// calls and `state` initialisation) before every callback. Literal values, not the
    /// original statements: those refer to top-level variables by compile-time index.
    callbacks: AST,
    ctx: Arc<Mutex<RunContext>>,
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
        let seed_name = path
            .file_name()
            .map_or_else(|| display.clone(), |n| n.to_string_lossy().into_owned());
        let state = opts.state.unwrap_or_default();
        let ctx = Arc::new(Mutex::new(RunContext {
            tempo: None,
            quantize: Quantize::Bar,
            sig: TimeSig::default(),
            voices: Vec::new(),
            params: Vec::new(),
            prints: Vec::new(),
            print_line: 0,
            analyze: None,
            seed: opts.seed,
            rng: SplitMix(opts.seed ^ fnv1a(&[seed_name.as_bytes()])),
            state,
            top_level: true,
            patch_dir: path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
            samples_flag: opts.samples.clone(),
            bank: None,
            default_bank: None,
        }));
        let guard = Arc::new(Guard {
            deadline: AtomicU64::new(u64::MAX),
            alloc_base: AtomicI64::new(0),
        });
        let clock = Instant::now();
        let engine = build_engine(&ctx, &guard, clock, &opts.limits);
        let compiled = catch_unwind(AssertUnwindSafe(|| engine.compile(src)));
        let ast = match compiled {
            Ok(r) => r.map_err(|e| {
                let line = e.1.line().unwrap_or(0);
                let col = e.1.position().unwrap_or(0);
                let mut message = e.0.to_string();
                if let rhai::ParseErrorType::MissingToken(token, _) = &*e.0 {
                    // Rhai stops where it gave up (the end of a chain, the next line), asking
                    // for the closer or for a ',' between arguments: both mean an open bracket.
                    let want = token
                        .chars()
                        .next()
                        .filter(|c| matches!(c, ')' | ']' | '}'));
                    let open = if want.is_some() || token == "," {
                        hints::unclosed_before(src, line, col, want)
                    } else {
                        None
                    };
                    if let Some((b, l, c)) = open {
                        message.push_str(&format!("; unclosed '{b}' opened at {l}:{c}"));
                    }
                }
                PatchError {
                    path: display.clone(),
                    line,
                    col,
                    message,
                }
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
            seed_name,
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
        spec::resolve_defaults(&mut self.base);
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
                let mut s = match s.rfind(" (line ") {
                    Some(i) => s[..i].to_string(),
                    None => s,
                };
                if let EvalAltResult::ErrorFunctionNotFound(sig, _) = other {
                    let (name, args) = hints::called(sig);
                    if let Some(f) = hints::nearest_function(name, args, &self.functions()) {
                        s.push_str(&format!(" — did you mean `{f}`?"));
                    }
                }
                s
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

    /// Every function a script can call, as (name, parameter count): weft's, Rhai's packages'
    /// and the patch's own `fn`s (for "did you mean" on a call that was not found).
    fn functions(&self) -> Vec<(String, usize)> {
        // Every patch engine registers the same functions: list them once per process (an
        // `on_bar` that keeps calling a missing function must not rebuild ~800 signatures
        // on the scheduler thread every bar).
        static REGISTERED: std::sync::OnceLock<Vec<(String, usize)>> = std::sync::OnceLock::new();
        let mut v = REGISTERED
            .get_or_init(|| {
                self.engine
                    .gen_fn_signatures(true)
                    .iter()
                    .filter_map(|s| hints::declared(s).map(|(n, c)| (n.to_string(), c)))
                    .filter(|(n, _)| !n.contains('$'))
                    .collect()
            })
            .clone();
        v.extend(
            self.ast
                .iter_functions()
                .map(|f| (f.name.to_string(), f.params.len())),
        );
        v.sort();
        v.dedup();
        v
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
    /// The sample folder `samples("path")` chose (the engine must load this one for the
    /// patch's `bd:3` to mean what the patch checked), or `None` if it was not called.
    pub fn samples_dir(&self) -> Option<PathBuf> {
        lock(&self.ctx).bank.as_ref().map(|b| b.dir.clone())
    }
    /// Every sample bank this patch's voices can pick from (`samples("path")`'s, the default
    /// samples folder's if it was looked up, and the base voices'), each once: the live
    /// compile worker hands these to the running synth and sets their generations.
    pub fn sample_banks(&self) -> Vec<Arc<spec::BankIndex>> {
        let mut out: Vec<Arc<spec::BankIndex>> = Vec::new();
        let c = lock(&self.ctx);
        let found = c
            .bank
            .iter()
            .chain(c.default_bank.iter().flatten())
            .chain(self.base.iter().filter_map(|v| v.bank.as_ref()))
            .chain(c.voices.iter().filter_map(|v| v.bank.as_ref()));
        for b in found {
            if !out.iter().any(|o| Arc::ptr_eq(o, b)) {
                out.push(b.clone());
            }
        }
        out
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
    /// Lines printed by the top level and `on_start` since the last call: (line, text). The
    /// scheduler reports them once, when it installs this version.
    pub fn take_prints(&mut self) -> Vec<(usize, String)> {
        std::mem::take(&mut lock(&self.ctx).prints)
    }

    /// `path:line` of a line of this patch as messages show it (the path relative to the
    /// current directory when inside it; just the path when `line` is 0).
    pub fn place(&self, line: usize) -> String {
        let shown = shown_path(&self.display);
        if line == 0 {
            shown
        } else {
            format!("{shown}:{line}")
        }
    }
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

#[cfg(test)]
mod tests;
