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

use crate::event::{Param, Sound, SynthKind};
use crate::mini::{Pattern, Value};
use crate::theory;
use crate::transport::{Quantize, TimeSig};
use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FnPtr, FuncRegistration, ImmutableString, Map, Module,
    Position, Scope, AST,
};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// An error in a patch, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PatchError {
    pub path: String,
    /// 1-based; 0 when the error has no position (e.g. the file could not be read).
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path,
            self.line.max(1),
            self.col.max(1),
            self.message
        )
    }
}

/// Resource limits for running patch code.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    /// Wall-clock deadline for the top level and `on_start`.
    pub top_level_deadline: Duration,
    /// Wall-clock deadline for each callback (`on_bar`, `on_features`, `every` functions).
    pub callback_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 2_000_000,
            max_call_levels: 48,
            max_string_size: 64 * 1024,
            max_array_size: 100_000,
            max_map_size: 10_000,
            top_level_deadline: Duration::from_millis(500),
            callback_deadline: Duration::from_millis(20),
        }
    }
}

/// Where a voice's notes come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Defined but silent until given a pattern.
    Silent,
    /// `.pattern("x . x .")`
    Pattern(Pattern),
    /// `.notes(pitches, rhythm)`: each onset takes the next pitch (or chord) in turn.
    Notes {
        pitches: Vec<Vec<u8>>,
        rhythm: Rhythm,
    },
    /// `.lstm(#{...})`: stepped by the scheduler's generator for this voice.
    Lstm(LstmSpec),
}

/// The onsets of a `.notes` voice.
#[derive(Clone, Debug)]
pub enum Rhythm {
    /// An array of booleans (e.g. from `euclid`), spread evenly over the bar.
    Steps(Vec<bool>),
    /// A mini-notation string; its note values are ignored, only onsets count.
    Pattern(Pattern),
}

/// Controls of an LSTM voice, as written in the patch.
#[derive(Clone, Debug, PartialEq)]
pub struct LstmSpec {
    pub model: String,
    pub temperature: f32,
    pub top_k: usize,
    pub top_p: f32,
    pub prime: Vec<u8>,
    /// Allowed pitch classes (from `scale: "A minor"`).
    pub scale: Option<[bool; 12]>,
    pub density: f32,
    pub seed: u64,
    pub part: String,
    /// Grid steps per bar (16ths in 4/4 by default).
    pub steps: u32,
}

/// One voice of a patch: plain data, cloned freely.
#[derive(Clone, Debug)]
pub struct VoiceSpec {
    pub name: String,
    pub sound: Sound,
    /// 0-based MIDI channel.
    pub channel: u8,
    /// The key an `x` step plays.
    pub note: u8,
    pub source: Source,
    pub vel: u8,
    /// Fraction of the step a note sounds (0 < gate ≤ 1).
    pub gate: f32,
    /// Chance each note plays (seeded).
    pub prob: f32,
    pub transpose: i32,
    pub every: Vec<(u64, FnPtr)>,
}

impl VoiceSpec {
    fn new(name: &str) -> VoiceSpec {
        VoiceSpec {
            name: name.to_string(),
            sound: Sound::default(),
            channel: 0,
            note: 60,
            source: Source::Silent,
            vel: 100,
            gate: 0.9,
            prob: 1.0,
            transpose: 0,
            every: Vec::new(),
        }
    }

    /// GM program when the voice plays through the SoundFont.
    pub fn program(&self) -> Option<u8> {
        (self.sound.synth == SynthKind::Gm).then_some(self.sound.program)
    }
}

/// A note a bar plan asks for, in ticks relative to the bar start.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedNote {
    /// Index into [`BarPlan::voices`].
    pub voice: usize,
    pub start: u64,
    pub dur: u64,
    pub key: u8,
    pub vel: u8,
}

/// Where LSTM notes come from: the scheduler hands the patch one of these per bar so a
/// patch never owns model state (which survives reloads in the scheduler).
pub trait StepSource {
    /// Next grid steps for `voice` (its spec tells model and controls). `None` per step is a rest,
    /// `Some((key, hold_steps))` a note lasting `hold_steps` steps. Errors are messages.
    fn steps(
        &mut self,
        file: &str,
        voice: &VoiceSpec,
        spec: &LstmSpec,
        n: usize,
    ) -> Result<Vec<Option<(u8, u32)>>, String>;

    /// The most likely next events of a voice, for the voices pane (None: not a model voice).
    fn top_k(&self, _file: &str, _voice: &str, _k: usize) -> Option<Vec<(String, f32)>> {
        None
    }
}

/// What one bar of one patch plays.
#[derive(Clone, Debug, Default)]
pub struct BarPlan {
    pub voices: Vec<VoiceSpec>,
    pub notes: Vec<PlannedNote>,
    /// `param("voice.p", v)` calls made while planning, in order.
    pub params: Vec<(String, Param, f32)>,
    /// Lines the patch printed.
    pub prints: Vec<String>,
}

/// Analysis settings a patch asked for with `analyze(#{...})`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalyzeSpec {
    pub fft: usize,
    pub hop: usize,
    /// Keys of the feature map `on_features(f)` receives; None = all of them.
    pub features: Option<Vec<String>>,
}

/// The features `on_features(f)` can receive (and `analyze(#{features: [...]})` can name).
pub const FEATURE_NAMES: [&str; 11] = [
    "rms",
    "centroid",
    "bandwidth",
    "rolloff",
    "flatness",
    "flux",
    "onset_strength",
    "onset",
    "bpm",
    "time",
    "chroma",
];

/// The shared `state` map of a file; survives reloads of the same file.
#[derive(Clone, Debug, Default)]
pub struct State(Arc<Mutex<Map>>);

impl State {
    /// A deep copy (for dry runs that must not touch the playing state).
    pub fn snapshot(&self) -> State {
        State(Arc::new(Mutex::new(lock(&self.0).clone())))
    }
    pub fn get(&self, key: &str) -> Option<Dynamic> {
        lock(&self.0).get(key).cloned()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A voice handle in scripts: methods edit the voice of that name in the current scope.
#[derive(Clone, Debug)]
struct VoiceRef {
    name: ImmutableString,
}

/// `rand(seed)` in scripts: a small deterministic generator.
#[derive(Clone, Debug)]
struct ScriptRng(SplitMix);

/// SplitMix64: tiny, fast, and identical on every platform.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// FNV-1a: a stable hash for seeding per voice/bar (std's hashers are not guaranteed stable).
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

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

type RResult<T> = Result<T, Box<EvalAltResult>>;

fn rt_err<T>(msg: impl Into<String>) -> RResult<T> {
    Err(Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(msg.into()),
        Position::NONE,
    )))
}

fn as_f64(v: &Dynamic, what: &str) -> RResult<f64> {
    if let Some(f) = v.clone().try_cast::<f64>() {
        Ok(f)
    } else if let Some(i) = v.clone().try_cast::<i64>() {
        Ok(i as f64)
    } else {
        rt_err(format!("{what} must be a number, not {}", v.type_name()))
    }
}

fn as_note(v: &Dynamic, what: &str) -> RResult<u8> {
    if let Some(s) = v.clone().try_cast::<ImmutableString>() {
        theory::note_number(&s).or_else(|e| rt_err(e.to_string()))
    } else if let Some(i) = v.clone().try_cast::<i64>() {
        if (0..=127).contains(&i) {
            Ok(i as u8)
        } else {
            rt_err(format!("{what}: note {i} is outside 0..127"))
        }
    } else {
        rt_err(format!(
            "{what} must be a note name like \"A2\" or a number 0..127, not {}",
            v.type_name()
        ))
    }
}

const VOICE_OPTS: &[&str] = &[
    "synth",
    "channel",
    "note",
    "attack",
    "decay",
    "sustain",
    "release",
    "cutoff",
    "resonance",
    "gain",
    "pan",
    "sample",
    "program",
    "vel",
    "gate",
    "prob",
    "transpose",
];

fn apply_opts(v: &mut VoiceSpec, opts: &Map, defining: bool) -> RResult<()> {
    if defining {
        if let Some(s) = opts.get("synth") {
            let name = s
                .clone()
                .into_immutable_string()
                .or_else(|_| rt_err("synth must be a string"))?;
            let kind = SynthKind::from_name(&name).map_or_else(
                || {
                    rt_err(format!(
                        "unknown synth '{name}' (known: {})",
                        SynthKind::ALL
                            .iter()
                            .map(|s| s.0)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                },
                Ok,
            )?;
            v.sound.synth = kind;
            v.note = kind.default_key();
            if kind.is_drum() {
                v.channel = 9;
                v.sound.release = 0.05;
            }
        }
    }
    for (k, val) in opts {
        let f = || as_f64(val, k);
        match k.as_str() {
            "synth" => {}
            "channel" => {
                let c = f()?;
                if !(1.0..=16.0).contains(&c) {
                    return rt_err("channel must be 1..16 (drums are 10)");
                }
                v.channel = c as u8 - 1;
            }
            "note" => v.note = as_note(val, "note")?,
            "attack" => Param::Attack.apply(&mut v.sound, f()? as f32),
            "decay" => Param::Decay.apply(&mut v.sound, f()? as f32),
            "sustain" => Param::Sustain.apply(&mut v.sound, f()? as f32),
            "release" => Param::Release.apply(&mut v.sound, f()? as f32),
            "cutoff" => Param::Cutoff.apply(&mut v.sound, f()? as f32),
            "resonance" => Param::Resonance.apply(&mut v.sound, f()? as f32),
            "gain" => Param::Gain.apply(&mut v.sound, f()? as f32),
            "pan" => Param::Pan.apply(&mut v.sound, f()? as f32),
            "sample" => v.sound.sample = f()?.clamp(0.0, 999.0) as u16,
            "program" => v.sound.program = f()?.clamp(0.0, 127.0) as u8,
            "vel" => v.vel = vel_of(f()?),
            "gate" => v.gate = f()?.clamp(0.01, 1.0) as f32,
            "prob" => v.prob = f()?.clamp(0.0, 1.0) as f32,
            "transpose" => v.transpose = f()?.clamp(-48.0, 48.0) as i32,
            other => {
                return rt_err(format!(
                    "unknown voice option '{other}' (known: {})",
                    VOICE_OPTS.join(", ")
                ))
            }
        }
    }
    Ok(())
}

/// Velocity from a patch: 0..=1 floats scale to 0..=127, larger numbers are MIDI velocities.
fn vel_of(x: f64) -> u8 {
    if x <= 1.0 {
        (x.max(0.0) * 127.0).round() as u8
    } else {
        x.min(127.0).round() as u8
    }
}

fn pitch_list(arr: &Array) -> RResult<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(arr.len());
    for item in arr {
        if let Some(chord) = item.clone().try_cast::<Array>() {
            let mut c = Vec::with_capacity(chord.len());
            for n in &chord {
                c.push(as_note(n, "notes")?);
            }
            out.push(c);
        } else if item.is_unit() {
            out.push(Vec::new());
        } else {
            out.push(vec![as_note(item, "notes")?]);
        }
    }
    if out.is_empty() {
        return rt_err("notes: the pitch list is empty");
    }
    Ok(out)
}

fn parse_pattern(s: &str) -> RResult<Pattern> {
    Pattern::parse(s).or_else(|e| rt_err(format!("pattern \"{s}\": {e}")))
}

fn parse_scale_name(s: &str) -> RResult<[bool; 12]> {
    let mut parts = s.split_whitespace();
    let root = parts.next().unwrap_or("");
    let mode = parts.collect::<Vec<_>>().join("_");
    let mode = if mode.is_empty() {
        "major".to_string()
    } else {
        mode
    };
    let root = theory::note_number(root).or_else(|e| rt_err(e.to_string()))?;
    theory::scale_mask(root, &mode).or_else(|e| rt_err(e.to_string()))
}

fn lstm_spec(opts: &Map, default_seed: u64) -> RResult<LstmSpec> {
    let mut spec = LstmSpec {
        model: "chorales".into(),
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        prime: Vec::new(),
        scale: None,
        density: 1.0,
        seed: default_seed,
        part: "soprano".into(),
        steps: 16,
    };
    for (k, v) in opts {
        let f = || as_f64(v, k);
        match k.as_str() {
            "model" => spec.model = v.clone().into_string().or_else(|_| rt_err("model must be a string"))?,
            "temperature" => spec.temperature = f()?.clamp(0.05, 5.0) as f32,
            "top_k" => spec.top_k = f()?.clamp(0.0, 512.0) as usize,
            "top_p" => spec.top_p = f()?.clamp(0.01, 1.0) as f32,
            "density" => spec.density = f()?.clamp(0.0, 1.0) as f32,
            "seed" => spec.seed = f()? as u64,
            "steps" => spec.steps = f()?.clamp(1.0, 64.0) as u32,
            "part" => spec.part = v.clone().into_string().or_else(|_| rt_err("part must be a string"))?,
            "prime" => {
                let arr = v.clone().try_cast::<Array>().map_or_else(|| rt_err("prime must be an array of notes"), Ok)?;
                spec.prime = arr.iter().map(|n| as_note(n, "prime")).collect::<RResult<_>>()?;
            }
            "scale" => {
                let s = v.clone().into_string().or_else(|_| rt_err("scale must be a string like \"A minor\""))?;
                spec.scale = Some(parse_scale_name(&s)?);
            }
            other => {
                return rt_err(format!(
                    "unknown lstm option '{other}' (known: model, temperature, top_k, top_p, prime, scale, density, seed, part, steps)"
                ))
            }
        }
    }
    Ok(spec)
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

fn build_engine(
    ctx: &Arc<Mutex<Ctx>>,
    deadline: &Arc<AtomicU64>,
    clock: Instant,
    limits: &Limits,
) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_modules(0);
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.disable_symbol("eval");
    {
        let deadline = deadline.clone();
        engine.on_progress(move |ops| {
            if ops % 512 == 0
                && clock.elapsed().as_nanos() as u64 > deadline.load(Ordering::Relaxed)
            {
                Some(Dynamic::UNIT)
            } else {
                None
            }
        });
    }
    {
        let c = ctx.clone();
        engine.on_print(move |s| lock(&c).prints.push(s.to_string()));
        let c = ctx.clone();
        engine.on_debug(move |s, _, pos| lock(&c).prints.push(format!("{pos:?}: {s}")));
    }

    // `state`: the per-file map that survives reloads.
    engine.register_type_with_name::<State>("State");
    engine.register_indexer_get(|s: &mut State, k: &str| -> Dynamic {
        lock(&s.0).get(k).cloned().unwrap_or(Dynamic::UNIT)
    });
    let mut m = Module::new();
    // Registered as pure so `state.x = 1` works on the resolver's (read-only) handle.
    FuncRegistration::new("index$set$")
        .with_purity(true)
        .in_global_namespace()
        .set_into_module(&mut m, |s: &mut State, k: &str, v: Dynamic| {
            lock(&s.0).insert(k.into(), v);
        });
    engine.register_global_module(m.into());
    {
        let c = ctx.clone();
        // `on_var` is marked deprecated only as "volatile"; it is the documented way to
        // provide a variable to script functions, which cannot see the caller's scope.
        #[allow(deprecated)]
        engine.on_var(move |name, _, _| {
            Ok((name == "state").then(|| Dynamic::from(lock(&c).state.clone())))
        });
    }

    // Transport.
    let c = ctx.clone();
    engine.register_fn("tempo", move |bpm: Dynamic| -> RResult<()> {
        let b = as_f64(&bpm, "tempo")?;
        if !(crate::transport::MIN_BPM..=crate::transport::MAX_BPM).contains(&b) {
            return rt_err(format!("tempo {b} is outside 20..400 BPM"));
        }
        lock(&c).tempo = Some(b);
        Ok(())
    });
    let c = ctx.clone();
    engine.register_fn("quantize", move |q: Dynamic| -> RResult<()> {
        let s = q.to_string();
        let parsed = Quantize::parse(&s).map_or_else(
            || {
                rt_err(format!(
                    "quantize \"{s}\": use \"now\", \"beat\", \"bar\" or a number of beats"
                ))
            },
            Ok,
        )?;
        lock(&c).quantize = parsed;
        Ok(())
    });
    let c = ctx.clone();
    engine.register_fn("meter", move |num: i64, den: i64| -> RResult<()> {
        let sig = TimeSig::new(num.clamp(0, 255) as u8, den.clamp(0, 255) as u8).map_or_else(
            || {
                rt_err(format!(
                    "meter({num}, {den}): numerator 1..32, denominator 1,2,4,8,16,32"
                ))
            },
            Ok,
        )?;
        lock(&c).sig = sig;
        Ok(())
    });

    // Voices.
    engine.register_type_with_name::<VoiceRef>("Voice");
    let c = ctx.clone();
    engine.register_fn("voice", move |name: &str, opts: Map| -> RResult<VoiceRef> {
        if name.is_empty() || name.len() > 64 || name.contains(['.', '/']) {
            return rt_err(format!(
                "voice name '{name}' must be 1-64 characters without '.' or '/'"
            ));
        }
        let mut v = VoiceSpec::new(name);
        apply_opts(&mut v, &opts, true)?;
        let mut g = lock(&c);
        if let Some(slot) = g.voices.iter_mut().find(|x| x.name == name) {
            *slot = v;
        } else {
            if g.voices.len() >= 64 {
                return rt_err("a patch may have at most 64 voices");
            }
            g.voices.push(v);
        }
        Ok(VoiceRef { name: name.into() })
    });
    let c = ctx.clone();
    engine.register_fn("voice", move |name: &str| -> RResult<VoiceRef> {
        if lock(&c).voices.iter().any(|v| v.name == name) {
            Ok(VoiceRef { name: name.into() })
        } else {
            rt_err(format!(
                "no voice '{name}' (define it with voice(\"{name}\", #{{ synth: ... }}))"
            ))
        }
    });

    // Helper: register a method on Voice that edits the spec.
    fn edit<F>(ctx: &Arc<Mutex<Ctx>>, r: &VoiceRef, f: F) -> RResult<VoiceRef>
    where
        F: FnOnce(&mut VoiceSpec) -> RResult<()>,
    {
        let mut g = lock(ctx);
        match g.voices.iter_mut().find(|v| v.name == r.name.as_str()) {
            Some(v) => f(v).map(|_| r.clone()),
            None => rt_err(format!("voice '{}' is not defined here", r.name)),
        }
    }
    let c = ctx.clone();
    engine.register_fn("pattern", move |r: &mut VoiceRef, s: &str| {
        let p = parse_pattern(s)?;
        edit(&c, r, |v| {
            v.source = Source::Pattern(p);
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn("notes", move |r: &mut VoiceRef, pitches: Array, rhythm: Array| {
        let pitches = pitch_list(&pitches)?;
        let steps: Vec<bool> = rhythm
            .iter()
            .map(|d| d.as_bool().ok().or_else(|| d.as_int().ok().map(|i| i != 0)))
            .collect::<Option<_>>()
            .map_or_else(|| rt_err("notes: rhythm must be an array of true/false or 1/0 (e.g. euclid(5, 8))"), Ok)?;
        if steps.is_empty() || steps.len() > 256 {
            return rt_err("notes: rhythm must have 1..256 steps");
        }
        edit(&c, r, |v| {
            v.source = Source::Notes { pitches, rhythm: Rhythm::Steps(steps) };
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn(
        "notes",
        move |r: &mut VoiceRef, pitches: Array, rhythm: &str| {
            let pitches = pitch_list(&pitches)?;
            let p = parse_pattern(rhythm)?;
            edit(&c, r, |v| {
                v.source = Source::Notes {
                    pitches,
                    rhythm: Rhythm::Pattern(p),
                };
                Ok(())
            })
        },
    );
    let c = ctx.clone();
    engine.register_fn("vel", move |r: &mut VoiceRef, x: Dynamic| {
        let x = as_f64(&x, "vel")?;
        edit(&c, r, |v| {
            v.vel = vel_of(x);
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn("gate", move |r: &mut VoiceRef, x: Dynamic| {
        let x = as_f64(&x, "gate")?;
        edit(&c, r, |v| {
            v.gate = x.clamp(0.01, 1.0) as f32;
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn("prob", move |r: &mut VoiceRef, x: Dynamic| {
        let x = as_f64(&x, "prob")?;
        edit(&c, r, |v| {
            v.prob = x.clamp(0.0, 1.0) as f32;
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn("transpose", move |r: &mut VoiceRef, x: i64| {
        edit(&c, r, |v| {
            v.transpose = (v.transpose as i64 + x).clamp(-48, 48) as i32;
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn("every", move |r: &mut VoiceRef, n: i64, f: FnPtr| {
        if n < 1 {
            return rt_err("every(n, fn): n must be at least 1");
        }
        edit(&c, r, |v| {
            if v.every.len() >= 16 {
                return rt_err("at most 16 every() transforms per voice");
            }
            v.every.push((n as u64, f));
            Ok(())
        })
    });
    let c = ctx.clone();
    engine.register_fn("set", move |r: &mut VoiceRef, opts: Map| {
        edit(&c, r, |v| apply_opts(v, &opts, false))
    });
    let c = ctx.clone();
    engine.register_fn("lstm", move |r: &mut VoiceRef, opts: Map| {
        let seed = lock(&c).seed;
        let spec = lstm_spec(&opts, seed)?;
        edit(&c, r, |v| {
            v.source = Source::Lstm(spec);
            Ok(())
        })
    });
    engine.register_get("name", |r: &mut VoiceRef| r.name.clone());

    // Live parameters: `param("bass.cutoff", 800.0)`.
    let c = ctx.clone();
    engine.register_fn("param", move |target: &str, value: Dynamic| -> RResult<()> {
        let value = as_f64(&value, "param value")? as f32;
        let Some((voice, p)) = target.split_once('.') else {
            return rt_err(format!("param \"{target}\": write \"voice.parameter\", e.g. \"bass.cutoff\""));
        };
        let Some(param) = Param::from_name(p) else {
            return rt_err(format!(
                "param \"{target}\": unknown parameter '{p}' (cutoff, resonance, gain, pan, attack, decay, sustain, release)"
            ));
        };
        let mut g = lock(&c);
        if let Some(v) = g.voices.iter_mut().find(|v| v.name == voice) {
            param.apply(&mut v.sound, value);
        }
        if g.params.len() < 1024 {
            g.params.push((voice.to_string(), param, value));
        }
        Ok(())
    });
    let c = ctx.clone();
    engine.register_fn("analyze", move |opts: Map| -> RResult<()> {
        let mut spec = AnalyzeSpec {
            fft: 2048,
            hop: 512,
            features: None,
        };
        for (k, v) in &opts {
            match k.as_str() {
                "fft" => spec.fft = as_f64(v, "fft")? as usize,
                "hop" => spec.hop = as_f64(v, "hop")? as usize,
                "features" => {
                    let Some(list) = v.read_lock::<Array>() else {
                        return rt_err("analyze: features must be an array of names");
                    };
                    let mut names = Vec::new();
                    for item in list.iter() {
                        let name = item.to_string();
                        if !FEATURE_NAMES.contains(&name.as_str()) {
                            return rt_err(format!(
                                "analyze: unknown feature '{name}' (known: {})",
                                FEATURE_NAMES.join(", ")
                            ));
                        }
                        names.push(name);
                    }
                    spec.features = Some(names);
                }
                other => {
                    return rt_err(format!(
                        "analyze: unknown option '{other}' (fft, hop, features)"
                    ))
                }
            }
        }
        if !spec.fft.is_power_of_two() || !(512..=8192).contains(&spec.fft) {
            return rt_err("analyze: fft must be a power of two in 512..8192");
        }
        if spec.hop == 0 || spec.hop > spec.fft {
            return rt_err("analyze: hop must be 1..fft");
        }
        lock(&c).analyze = Some(spec);
        Ok(())
    });

    // Theory.
    engine.register_fn("note", |n: Dynamic| -> RResult<i64> {
        as_note(&n, "note").map(|n| n as i64)
    });
    engine.register_fn("note_name", |n: i64| -> String {
        theory::note_name(n.clamp(0, 127) as u8)
    });
    fn scale_fn(root: Dynamic, mode: &str, octaves: i64) -> RResult<Array> {
        let root = as_note(&root, "scale root")?;
        theory::scale(root, mode, octaves.clamp(1, 8) as u8)
            .map(|v| v.into_iter().map(|n| Dynamic::from(n as i64)).collect())
            .or_else(|e| rt_err(e.to_string()))
    }
    engine.register_fn("scale", |root: Dynamic, mode: &str| scale_fn(root, mode, 1));
    engine.register_fn("scale", scale_fn);
    engine.register_fn("chord", |root: Dynamic, kind: &str| -> RResult<Array> {
        let root = as_note(&root, "chord root")?;
        theory::chord(root, kind)
            .map(|v| v.into_iter().map(|n| Dynamic::from(n as i64)).collect())
            .or_else(|e| rt_err(e.to_string()))
    });
    fn euclid_fn(k: i64, n: i64, rot: i64) -> RResult<Array> {
        theory::euclid(k, n, rot)
            .map(|v| v.into_iter().map(Dynamic::from).collect())
            .or_else(|e| rt_err(e.to_string()))
    }
    engine.register_fn("euclid", |k: i64, n: i64| euclid_fn(k, n, 0));
    engine.register_fn("euclid", euclid_fn);

    // Randomness: seeded, repeatable.
    let c = ctx.clone();
    engine.register_fn("rand", move || -> f64 { lock(&c).rng.next_f64() });
    engine.register_type_with_name::<ScriptRng>("Rng");
    engine.register_fn("rand", |seed: i64| {
        ScriptRng(SplitMix(seed as u64 ^ 0x5EED))
    });
    engine.register_fn("float", |r: &mut ScriptRng| r.0.next_f64());
    engine.register_fn(
        "int",
        |r: &mut ScriptRng, lo: i64, hi: i64| -> RResult<i64> {
            if hi < lo {
                return rt_err("int(lo, hi): hi must be >= lo");
            }
            let span = (hi - lo) as u64 + 1;
            Ok(lo + (r.0.next_u64() % span) as i64)
        },
    );
    engine.register_fn(
        "pick",
        |r: &mut ScriptRng, arr: Array| -> RResult<Dynamic> {
            if arr.is_empty() {
                return rt_err("pick: the array is empty");
            }
            Ok(arr[(r.0.next_u64() % arr.len() as u64) as usize].clone())
        },
    );
    engine.register_fn("chance", |r: &mut ScriptRng, p: f64| r.0.next_f64() < p);
    engine
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
