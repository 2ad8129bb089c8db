//! The plain data a patch produces and the scheduler consumes: voices ([`VoiceSpec`] with
//! their [`Source`] and [`Rhythm`]), planned notes and bar plans, LSTM and analysis
//! settings, the persistent `state` map, the limits a run is held to, [`PatchError`], and
//! the small deterministic helpers (SplitMix64, FNV-1a) seeds are made from.

use super::*;

/// An error in a patch, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PatchError {
    pub path: String,
    /// 1-based; 0 when the error has no position (e.g. the file could not be read).
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Which limit stopped a run ([`crate::patch::Patch::last_stop`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The operation budget: the same code stops the same way next time.
    Operations,
    /// The wall-clock deadline: may be the code, may be a busy machine.
    Deadline,
    /// Call depth.
    Recursion,
    /// The allocation budget or a Rhai size limit.
    Memory,
}

impl Stop {
    /// True when the same call would be stopped again whatever the machine is doing; a
    /// deadline overrun may be a one-off (a loaded machine), so it counts only when repeated.
    pub fn recurs(self) -> bool {
        !matches!(self, Stop::Deadline)
    }
}

/// Appended to a runaway callback's error when the engine turns that callback off.
pub const CALLBACK_OFF: &str = " — it is off for this version until the file is saved again";

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            shown_path(&self.path),
            self.line.max(1),
            self.col.max(1),
            self.message
        )
    }
}

/// A path as messages show it: relative to the current directory when it lies inside it (as
/// compilers print `scripts/bass.rhai:7:35`), absolute otherwise. The watcher hands out
/// canonical paths, so the current directory is compared both as given and canonicalised.
pub fn shown_path(path: &str) -> String {
    let p = Path::new(path);
    if !p.is_absolute() {
        return path.to_string();
    }
    let Ok(cwd) = std::env::current_dir() else {
        return path.to_string();
    };
    let canonical = std::fs::canonicalize(&cwd).ok();
    std::iter::once(cwd)
        .chain(canonical)
        .find_map(|dir| {
            p.strip_prefix(&dir)
                .ok()
                .filter(|rel| !rel.as_os_str().is_empty())
                .map(|rel| rel.display().to_string())
        })
        .unwrap_or_else(|| path.to_string())
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
    /// How much one run may grow the heap (net bytes, measured by [`crate::alloc_meter`]
    /// when the binary installs it).
    pub max_alloc_bytes: usize,
    /// Total size of a file's `state` (string bytes + 16 per value, counted recursively).
    pub max_state_bytes: usize,
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
            max_alloc_bytes: 256 << 20,
            max_state_bytes: 16 << 20,
        }
    }
}

/// Where a voice's notes come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Defined but silent until given a pattern.
    Silent,
    /// `.pattern("x ~ x ~")`
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
    /// Where the source was set (`.pattern`, `.notes`, `.lstm`: line, col), for errors the
    /// voice meets when it plays (a model that cannot load, say).
    pub source_at: (usize, usize),
    pub vel: u8,
    /// Fraction of the step a note sounds (0 < gate ≤ 1).
    pub gate: f32,
    /// Chance each note plays (seeded).
    pub prob: f32,
    pub transpose: i32,
    /// `every(n, fn)` transforms with where each was registered (line, col) for errors.
    pub every: Vec<(u64, FnPtr, (usize, usize))>,
    /// The sample folders a `synth: "sample"` voice picks from (`samples("path")`, else the
    /// samples folder found for the patch); `None` for other voices.
    pub bank: Option<Arc<BankIndex>>,
    /// `chop(n)`: each event plays n successive parts of its sample (0/1 = off).
    pub chop: u32,
    /// `slice(n, pattern)`: the pattern's numbers pick slice k of n of the sample (0 = off).
    pub slice: u32,
    /// Signal-valued options (`cutoff: sine.range(300, 3000)`): evaluated at each note's
    /// onset and applied to that note's sound (one entry per parameter).
    pub signals: Vec<(Param, Signal)>,
    /// `.vel(saw)` / `vel: saw`: the velocity at each note's onset (0..1 → 0..127).
    pub vel_signal: Option<Signal>,
    /// `param("voice.p", signal)`: a control stream the scheduler sends as `Param` events
    /// about once per audio block (`engine::scheduler::bars`: at most 256 frames apart, at
    /// least [`CONTROL_STEPS_PER_BAR`] a bar; an unchanged value is sent once).
    pub controls: Vec<(Param, Signal)>,
}

/// The fewest points per bar of a `param(..., signal)` control stream (the scheduler sends
/// one per audio block, which is more at any usual tempo; the synth smooths between them).
pub const CONTROL_STEPS_PER_BAR: u64 = 16;

/// Sets or replaces the signal of `p` in a voice's list.
pub fn set_signal(list: &mut Vec<(Param, Signal)>, p: Param, s: Option<Signal>) {
    list.retain(|(q, _)| *q != p);
    if let Some(s) = s {
        list.push((p, s));
    }
}

/// The sample folders of a bank as a patch sees them: where they are and their names and
/// file counts (the engine loads the same folder; both sort names the same way).
#[derive(Clone, Debug, PartialEq)]
pub struct BankIndex {
    pub dir: std::path::PathBuf,
    pub folders: Vec<crate::sound::synth::FolderInfo>,
    /// The synth's generation for this bank (`Sound::bank`), set once by the live compile
    /// worker when it hands the bank to a running synth; unset (0, the startup bank) in
    /// `weft render` and `weft check`.
    pub gen: std::sync::OnceLock<u32>,
    /// Where `samples("…")` named this bank (line, col), for errors about loading it; `None`
    /// for the samples folder found by default.
    pub at: Option<(usize, usize)>,
}

impl BankIndex {
    pub fn new(
        dir: std::path::PathBuf,
        folders: Vec<crate::sound::synth::FolderInfo>,
    ) -> BankIndex {
        BankIndex {
            dir,
            folders,
            gen: Default::default(),
            at: None,
        }
    }

    /// The generation notes from this bank carry (0 until bound).
    pub fn gen(&self) -> u32 {
        self.gen.get().copied().unwrap_or(0)
    }

    /// `Sound::folder` of the folder called `name` (1-based; 0 is the flat bank).
    pub fn folder(&self, name: &str) -> Option<(u16, usize)> {
        self.folders
            .iter()
            .position(|f| f.name == name)
            .map(|i| (i as u16 + 1, self.folders[i].count))
    }

    /// "unknown sample 'x' — did you mean `y`? (folders in DIR: a, b, c)".
    pub fn unknown(&self, name: &str) -> String {
        let names: Vec<&str> = self.folders.iter().map(|f| f.name.as_str()).collect();
        let shown = if names.len() > 24 {
            format!("{}, …", names[..24].join(", "))
        } else {
            names.join(", ")
        };
        format!(
            "unknown sample '{name}'{} (folders in {}: {shown})",
            super::hints::did_you_mean(name, names.iter().copied()),
            self.dir.display()
        )
    }
}

/// Which sample, and which part of it, one planned note plays (from `bd:3`, `chop`, `slice`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleSel {
    pub folder: u16,
    pub index: u16,
    pub begin: f32,
    pub end: f32,
}

impl SampleSel {
    /// Writes the selection into a note's sound.
    pub fn apply(&self, sound: &mut Sound) {
        sound.folder = self.folder;
        sound.sample = self.index;
        sound.begin = self.begin;
        sound.end = self.end;
    }
}

impl VoiceSpec {
    pub(super) fn new(name: &str) -> VoiceSpec {
        VoiceSpec {
            name: name.to_string(),
            sound: Sound {
                program: UNSET_PROGRAM,
                ..Sound::default()
            },
            channel: AUTO_CHANNEL,
            note: 60,
            source: Source::Silent,
            source_at: (0, 0),
            vel: 100,
            gate: 0.9,
            prob: 1.0,
            transpose: 0,
            every: Vec::new(),
            bank: None,
            chop: 0,
            slice: 0,
            signals: Vec::new(),
            vel_signal: None,
            controls: Vec::new(),
        }
    }

    /// The velocity at cycle position `t`: the voice's `vel`, or its velocity signal there.
    pub fn vel_at(&self, t: f64) -> u8 {
        match &self.vel_signal {
            Some(s) => vel_from(s.at(t)),
            None => self.vel,
        }
    }

    /// This voice's sound for a note starting at cycle position `t` (signal options applied,
    /// each clamped to its parameter's range).
    pub fn sound_at(&self, t: f64) -> Sound {
        let mut sound = self.sound;
        for (p, s) in &self.signals {
            p.apply(&mut sound, param_value(*p, s.at(t)));
        }
        sound
    }

    /// The General MIDI program written for this voice (MIDI files, live MIDI out): its
    /// `program`, else its synth's [`gm_program_for`]; None for drums and samples.
    pub fn program(&self) -> Option<u8> {
        (self.sound.program <= 127).then_some(self.sound.program)
    }
}

/// A voice's channel until the patch's top level has run: a voice without `channel:` that
/// is not a drum; [`assign_default_channels`] gives it one.
pub const AUTO_CHANNEL: u8 = u8::MAX;
/// A voice's program until the top level has run (no `program:` given).
pub const UNSET_PROGRAM: u8 = u8::MAX;
/// Channels given by default, in order (0-based): 1..9, 11..16; 10 is the drums'.
const DEFAULT_CHANNELS: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15];

/// The GM program (0-based) that matches a built-in synth's character, for MIDI files and
/// MIDI out (`docs/outputs.md` has the table); None for drums and samples.
pub fn gm_program_for(kind: SynthKind) -> Option<u8> {
    Some(match kind {
        SynthKind::Sine => 79,   // Ocarina: a near-pure tone
        SynthKind::Saw => 81,    // Lead 2 (sawtooth)
        SynthKind::Square => 80, // Lead 1 (square)
        SynthKind::Tri => 73,    // Flute: soft, few odd harmonics
        SynthKind::Noise => 122, // Seashore
        SynthKind::Pluck => 25,  // Acoustic Guitar (steel)
        SynthKind::Fm => 5,      // Electric Piano 2 (the FM piano)
        SynthKind::Gm => 0,      // Acoustic Grand Piano (SoundFont voices without `program`)
        SynthKind::Kick
        | SynthKind::Snare
        | SynthKind::Hat
        | SynthKind::Clap
        | SynthKind::Sample => return None,
    })
}

/// Resolves what a patch's top level left open: each voice without an explicit channel gets
/// its own in declaration order (1, 2, 3, … skipping 10, the drums', and channels other
/// voices chose explicitly; after 15 they are shared again), and each voice without
/// `program` its synth's GM program ([`gm_program_for`]; drums and samples send none).
pub fn resolve_defaults(voices: &mut [VoiceSpec]) {
    let taken: Vec<u8> = voices
        .iter()
        .map(|v| v.channel)
        .filter(|c| *c != AUTO_CHANNEL)
        .collect();
    let mut free = DEFAULT_CHANNELS
        .iter()
        .copied()
        .filter(|c| !taken.contains(c))
        .collect::<Vec<_>>();
    if free.is_empty() {
        free = DEFAULT_CHANNELS.to_vec();
    }
    let mut next = 0;
    for v in voices.iter_mut() {
        if v.channel == AUTO_CHANNEL {
            v.channel = free[next % free.len()];
            next += 1;
        }
        if v.sound.program == UNSET_PROGRAM {
            v.sound.program = gm_program_for(v.sound.synth).unwrap_or(UNSET_PROGRAM);
        }
    }
}

/// A signal's value as a value of parameter `p`: clamped to its range (NaN to its low end).
pub fn param_value(p: Param, x: f64) -> f32 {
    let (lo, hi) = p.range();
    if x.is_nan() {
        lo
    } else {
        (x as f32).clamp(lo, hi)
    }
}

/// A velocity from a signal's value: 0..=1 scales to 0..=127, larger values are MIDI
/// velocities (as `vel_of` reads numbers), clamped to 0..=127.
pub fn vel_from(x: f64) -> u8 {
    if !x.is_finite() {
        return 0;
    }
    let x = x.clamp(0.0, 127.0);
    if x <= 1.0 {
        (x * 127.0).round() as u8
    } else {
        x.round() as u8
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
    /// The sample and part a sample voice's note plays, when the pattern chose one.
    pub sample: Option<SampleSel>,
    /// Cycle position (bar + fraction) where signal-valued options are sampled for this
    /// note: the middle of its step, as Strudel samples a signal over an event's whole.
    pub at: f64,
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
    /// Lines the patch printed: (line of the `print` call, 0 when unknown; text).
    pub prints: Vec<(usize, String)>,
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
pub struct State(pub(super) Arc<Mutex<StateMap>>);

/// The map behind `state` and its size as [`value_bytes`] counts it.
#[derive(Clone, Debug, Default)]
pub(super) struct StateMap {
    pub(super) map: Map,
    pub(super) bytes: usize,
}

impl StateMap {
    /// Sets `key`, unless the state would grow past `max` bytes (then an error, unchanged).
    pub(super) fn insert(&mut self, key: &str, v: Dynamic, max: usize) -> Result<(), String> {
        if let Some(what) = not_plain_data(&v) {
            return Err(format!(
                "state.{key} cannot hold {what}: state keeps plain data (numbers, strings, \
                 arrays, maps) across bars and reloads"
            ));
        }
        let old = self.map.get(key).map_or(0, |o| entry_bytes(key, o));
        let new = entry_bytes(key, &v);
        let total = self.bytes.saturating_sub(old).saturating_add(new);
        if new > old && total > max {
            return Err(format!(
                "state is full: setting state.{key} would make it {} (the limit is {})",
                size_text(total),
                size_text(max)
            ));
        }
        self.map.insert(key.into(), v);
        self.bytes = total;
        Ok(())
    }
}

/// What in `v` the state must not keep: a function pointer or closure (its captured values are
/// invisible to the size bound, so a closure chain grows without limit), or `state` itself (a
/// cycle that is never freed). Searched through arrays and maps.
fn not_plain_data(v: &Dynamic) -> Option<&'static str> {
    if v.is::<rhai::FnPtr>() {
        Some("a function or closure")
    } else if v.is::<State>() {
        Some("state itself")
    } else if let Some(a) = v.read_lock::<Array>() {
        a.iter().find_map(not_plain_data)
    } else if let Some(m) = v.read_lock::<Map>() {
        m.values().find_map(not_plain_data)
    } else {
        None
    }
}

fn size_text(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{} MB", n >> 20)
    } else {
        format!("{} KB", n.div_ceil(1024))
    }
}

fn entry_bytes(key: &str, v: &Dynamic) -> usize {
    key.len().saturating_add(value_bytes(v))
}

/// The size of a script value for the `state` bound: 16 bytes per value plus string bytes,
/// counted recursively through arrays and maps (keys included).
pub fn value_bytes(v: &Dynamic) -> usize {
    let inner = if let Some(s) = v.read_lock::<ImmutableString>() {
        s.len()
    } else if let Some(a) = v.read_lock::<Array>() {
        a.iter()
            .fold(0usize, |n, x| n.saturating_add(value_bytes(x)))
    } else if let Some(m) = v.read_lock::<Map>() {
        m.iter().fold(0usize, |n, (k, x)| {
            n.saturating_add(k.len()).saturating_add(value_bytes(x))
        })
    } else if let Some(b) = v.read_lock::<rhai::Blob>() {
        b.len()
    } else {
        0
    };
    16usize.saturating_add(inner)
}

impl State {
    /// A deep copy (for dry runs that must not touch the playing state).
    pub fn snapshot(&self) -> State {
        State(Arc::new(Mutex::new(lock(&self.0).clone())))
    }
    pub fn get(&self, key: &str) -> Option<Dynamic> {
        lock(&self.0).map.get(key).cloned()
    }
    /// The state's size as the limit counts it ([`value_bytes`] of each entry).
    pub fn bytes(&self) -> usize {
        lock(&self.0).bytes
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind (every caller re-initialises
    // what a run writes); take it and clear the poison so later runs see a normal mutex.
    m.lock().unwrap_or_else(|e| {
        m.clear_poison();
        e.into_inner()
    })
}

pub use crate::rng::SplitMix;

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
