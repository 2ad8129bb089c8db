//! The live engine: watcher → compile worker → scheduler thread → outputs.
//!
//! Threads and messages (no shared mutable state besides one atomic "current bar"):
//! - the **watcher** ([`crate::watch`]) turns editor saves into settled file changes;
//! - the **compile worker** loads each change, dry-runs it (the next bars, with the limits,
//!   on a copy of the file's `state`) and only then sends the scheduler a ready patch — or a
//!   located error; the playing version is untouched either way;
//! - the **scheduler thread** keeps `lookahead` ahead of the clock: it installs ready patches
//!   at their quantize point, emits timestamped events to the outputs (the audio ring, the
//!   recorder), and publishes [`Report`]s (loaded/rejected/swapped/late/status) for stderr or
//!   the TUI.
//!
//! The clock is the audio device's frame counter when there is one, otherwise a monotonic
//! system clock with the same interface ([`Clock`]).

use crate::event::{Event, Frame, Tick, TimedEvent, TrackInfo};
use crate::patch::{LoadOptions, Patch, PatchError, State, StepSource};
use crate::record::{RecordMsg, RecordOptions, Recorder};
use crate::render::{file_name, provenance};
use crate::scheduler::{Notice, Scheduler};
use crate::watch::{scan, DirWatcher, FileChange};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LiveError {
    #[error(transparent)]
    Watch(#[from] crate::watch::WatchError),
    #[error("{path}: {error}")]
    Dir { path: String, error: std::io::Error },
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
}

/// A source of audio time.
pub trait Clock: Send {
    /// Frames elapsed on this clock.
    fn now(&self) -> Frame;
    fn sample_rate(&self) -> u32;
}

/// A monotonic system clock counting frames at a nominal rate (no device, or `--null-audio`).
pub struct SystemClock {
    start: Instant,
    sample_rate: u32,
}

impl SystemClock {
    pub fn new(sample_rate: u32) -> SystemClock {
        SystemClock {
            start: Instant::now(),
            sample_rate,
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Frame {
        (self.start.elapsed().as_nanos() * self.sample_rate as u128 / 1_000_000_000) as Frame
    }
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
}

/// Where the scheduler's events go besides the recorder (the synth's ring).
pub trait EventOut: Send {
    /// Hands over events; must not block. Returns how many could not be delivered.
    fn send(&mut self, events: &[TimedEvent]) -> usize;
}

/// Commands from the performer (TUI keys, signals).
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Start or stop the transport.
    TogglePlay,
    /// Start recording (to this file, or a dated name in the recordings folder) or stop.
    ToggleRecord,
    TempoDelta(f64),
    ToggleMute(String),
    ToggleSolo(String),
    Quit,
}

/// A file as the patches pane shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct FileStatus {
    pub file: String,
    pub version: u32,
    pub playing: bool,
    pub pending_bar: Option<u64>,
    pub error: Option<PatchError>,
    pub last_reload_ms: Option<f64>,
}

/// A recent note for the voices pane.
#[derive(Clone, Debug, PartialEq)]
pub struct RecentNote {
    pub track: String,
    pub tick: Tick,
    pub key: u8,
    pub vel: u8,
}

/// The engine's state, published for the TUI about 30 times a second.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Status {
    pub playing: bool,
    pub tempo: f64,
    pub tick: Tick,
    pub bar: u64,
    pub beat: u64,
    pub beat_phase: f32,
    pub time_sig: (u8, u8),
    pub lookahead_ms: f64,
    pub late_events: u64,
    pub files: Vec<FileStatus>,
    pub tracks: Vec<(TrackInfo, bool, bool)>,
    pub recent: Vec<RecentNote>,
    pub recording: Option<(PathBuf, f64)>,
    /// The analyzer's latest frame, and frames dropped because scripts were slow.
    pub spectrum: Option<crate::analysis::Features>,
    pub features_dropped: u64,
    /// Top next-event probabilities of LSTM voices, by track name.
    pub lstm_top: Vec<(String, Vec<(String, f32)>)>,
}

/// What the engine tells the performer.
#[derive(Clone, Debug)]
pub enum Report {
    /// A save compiled and passed its dry run; it takes over at `bar`.
    Ready {
        file: String,
        bar: u64,
        ready_ms: f64,
    },
    Rejected {
        error: PatchError,
    },
    Notice(Notice),
    /// Events emitted after their frame had already passed.
    Late {
        count: u64,
    },
    RecordingStarted(PathBuf),
    RecordingFinished {
        path: PathBuf,
        notes: usize,
        /// Most events that waited for the disk at once.
        max_backlog: u64,
    },
    RecordingFailed(String),
    /// The live analyzer was asked for new frame settings: by `file`'s `analyze(#{...})`,
    /// or back to the defaults (`file` None) when no loaded patch asks any more.
    Analysis {
        fft: usize,
        hop: usize,
        file: Option<String>,
    },
    Status(Box<Status>),
    /// The first event of a new version was emitted (for latency measurement).
    FirstEvent {
        file: String,
        version: u32,
        at: Instant,
    },
    Stopped,
}

/// One line for stderr / the messages pane.
pub fn describe(n: &Notice) -> String {
    match n {
        Notice::Swapped {
            file, version, bar, ..
        } => {
            if *version == 1 {
                format!("{file}: playing from bar {}", bar + 1)
            } else {
                format!("{file}: v{version} swapped in at bar {}", bar + 1)
            }
        }
        Notice::Removed { file, .. } => format!("{file}: removed, stopped"),
        Notice::RuntimeError { error, bar } => {
            format!(
                "{error} (bar {}; playing the last good bar instead)",
                bar + 1
            )
        }
        Notice::Recovered { file, bar } => format!("{file}: running again from bar {}", bar + 1),
        Notice::Print { file, line } => format!("{file}: {line}"),
        Notice::Tempo { bpm, .. } => format!("tempo {bpm} BPM"),
    }
}

/// One line for a report, or None for reports that are not for people (status, timing).
pub fn describe_report(r: &Report) -> Option<String> {
    Some(match r {
        Report::Ready {
            file,
            bar,
            ready_ms,
        } => {
            format!(
                "{file}: loaded in {ready_ms:.1} ms, takes over at bar {}",
                bar + 1
            )
        }
        Report::Rejected { error } => {
            format!("{error} (rejected; the last good version keeps playing)")
        }
        Report::Notice(n) => describe(n),
        Report::Late { count } => format!("warning: {count} late events"),
        Report::RecordingStarted(p) => format!("recording to {}", p.display()),
        Report::RecordingFinished {
            path,
            notes,
            max_backlog,
        } => {
            format!(
                "recorded {notes} notes to {} (at most {max_backlog} events waited for the disk)",
                path.display()
            )
        }
        Report::RecordingFailed(e) => format!("recording failed: {e}"),
        Report::Analysis { fft, hop, file } => match file {
            Some(f) => format!("analysis: fft {fft}, hop {hop} (asked by {f})"),
            None => format!("analysis: fft {fft}, hop {hop} (default)"),
        },
        Report::Stopped => "stopped".to_string(),
        Report::Status(_) | Report::FirstEvent { .. } => return None,
    })
}

/// Frame settings of the live analyzer when no patch asks for others (fft, hop).
pub const DEFAULT_ANALYSIS: (usize, usize) = (2048, 512);

/// Engine settings.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    pub dir: PathBuf,
    pub lookahead: Duration,
    pub seed: u64,
    pub tempo: Option<f64>,
    /// Stop after this many bars.
    pub bars: Option<u64>,
    /// Record from the start to this file.
    pub record: Option<PathBuf>,
    /// Folder for recordings started with the `r` key.
    pub record_dir: PathBuf,
    /// Publish `Report::Status` (for the TUI).
    pub status: bool,
    /// Start playing at once (headless) or wait for TogglePlay.
    pub autoplay: bool,
    /// Bars dry-run before a patch may play.
    pub dry_run_bars: u64,
    /// Test hook: slow the recorder's disk.
    pub slow_disk: Option<Duration>,
    /// Append one JSONL line per session here (weft's own listening log).
    pub session_log: Option<PathBuf>,
    /// Where LSTM models live (for the recording's provenance).
    pub models_dir: Option<PathBuf>,
}

impl LiveConfig {
    pub fn new(dir: &Path) -> LiveConfig {
        LiveConfig {
            dir: dir.to_path_buf(),
            lookahead: Duration::from_millis(50),
            seed: 0,
            tempo: None,
            bars: None,
            record: None,
            record_dir: PathBuf::from("recordings"),
            status: false,
            autoplay: true,
            dry_run_bars: 4,
            slow_disk: None,
            session_log: None,
            models_dir: None,
        }
    }
}

enum SchedMsg {
    Ready {
        file: String,
        patch: Box<Patch>,
        first_event: Option<Instant>,
    },
    Rejected(PatchError),
    Removed(String),
    Renamed(String, String),
    InitialDone,
    Command(Command),
}

/// A running engine.
pub struct LiveHandle {
    cmd: Sender<SchedMsg>,
    pub reports: Receiver<Report>,
    join: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl LiveHandle {
    pub fn command(&self, c: Command) {
        let _ = self.cmd.send(SchedMsg::Command(c));
    }
    /// A flag that stops the engine cleanly when set (for signal handlers).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
    /// True once the engine has stopped.
    pub fn is_finished(&self) -> bool {
        self.join.as_ref().is_none_or(|j| j.is_finished())
    }
    /// Waits for the engine thread to end.
    pub fn join(mut self) {
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// A cloneable way to send the engine commands (for the screen's command thread).
#[derive(Clone)]
pub struct EngineCommands {
    tx: Sender<SchedMsg>,
}

impl EngineCommands {
    pub fn send(&self, c: Command) {
        let _ = self.tx.send(SchedMsg::Command(c));
    }
    pub fn quit(&self) {
        self.send(Command::Quit);
    }
}

/// Keeps the engine's threads and watcher alive; joins the scheduler thread when dropped.
pub struct EngineGuard(#[allow(dead_code)] LiveHandle);

impl LiveHandle {
    /// Splits into the report stream, a command sender and a guard that owns the threads.
    pub fn split(mut self) -> (Receiver<Report>, EngineCommands, EngineGuard) {
        let (_, empty) = mpsc::channel();
        let reports = std::mem::replace(&mut self.reports, empty);
        let cmds = EngineCommands {
            tx: self.cmd.clone(),
        };
        (reports, cmds, EngineGuard(self))
    }
}

impl Drop for LiveHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// Makes the step source for LSTM voices (one per thread that plans bars).
pub type StepFactory = Arc<dyn Fn() -> Box<dyn StepSource + Send> + Send + Sync>;

/// Starts the engine on `cfg.dir` with `clock` and optional event output (the synth ring).
pub fn start(
    cfg: LiveConfig,
    clock: Box<dyn Clock>,
    out: Option<Box<dyn EventOut>>,
    steps: StepFactory,
) -> Result<LiveHandle, LiveError> {
    start_with_features(cfg, clock, out, steps, None)
}

/// The engine's link to the live analyzer: the feature frames it sends, and (optionally) the
/// control that changes its frame settings when a patch calls `analyze(#{fft, hop})`.
pub struct FeatureLink {
    pub frames: Receiver<crate::analysis::Features>,
    pub control: Option<crate::analysis::live::Control>,
}

impl From<Receiver<crate::analysis::Features>> for FeatureLink {
    fn from(frames: Receiver<crate::analysis::Features>) -> Self {
        FeatureLink {
            frames,
            control: None,
        }
    }
}

/// [`start`], plus the analyzer's feature frames: patches with `on_features(f)` are called
/// with each frame on the scheduler thread (a slow callback drops frames, counted), and the
/// latest frame is published in [`Status::spectrum`]. The most recently installed patch
/// that calls `analyze(#{fft, hop})` sets the analyzer's frame settings; when no loaded
/// patch asks, the analyzer returns to fft 2048 / hop 512.
pub fn start_with_features(
    cfg: LiveConfig,
    clock: Box<dyn Clock>,
    out: Option<Box<dyn EventOut>>,
    steps: StepFactory,
    features: Option<FeatureLink>,
) -> Result<LiveHandle, LiveError> {
    if !cfg.dir.is_dir() {
        return Err(LiveError::Dir {
            path: cfg.dir.display().to_string(),
            error: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        });
    }
    let (watcher, changes) = DirWatcher::start(&cfg.dir)?.into_parts();
    let (tx, rx) = mpsc::channel::<SchedMsg>();
    let (rep_tx, rep_rx) = mpsc::channel::<Report>();
    let current_bar = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    // Compile worker.
    {
        let tx = tx.clone();
        let dir = cfg.dir.clone();
        let seed = cfg.seed;
        let bars = cfg.dry_run_bars;
        let current_bar = current_bar.clone();
        let steps = steps.clone();
        thread::Builder::new()
            .name("weft-compile".into())
            .spawn(move || compile_worker(dir, seed, bars, current_bar, steps, changes, tx))
            .expect("spawn compile worker");
    }

    let stop2 = stop.clone();
    let join = thread::Builder::new()
        .name("weft-scheduler".into())
        .spawn(move || {
            let mut s = SchedThread::new(cfg, clock, out, steps(), rep_tx, current_bar, stop2);
            if let Some(link) = features {
                s.features = Some(link.frames);
                s.analyzer = link.control;
            }
            s.run(rx);
        })
        .expect("spawn scheduler thread");
    Ok(LiveHandle {
        cmd: tx,
        reports: rep_rx,
        join: Some(join),
        stop,
        _watcher: Some(watcher),
    })
}

#[allow(clippy::too_many_arguments)]
fn compile_worker(
    dir: PathBuf,
    seed: u64,
    bars: u64,
    current_bar: Arc<AtomicU64>,
    steps: StepFactory,
    changes: Receiver<FileChange>,
    tx: Sender<SchedMsg>,
) {
    let mut states: HashMap<String, State> = HashMap::new();
    let mut steps = steps();
    let mut load = |path: &Path,
                    src: &str,
                    first_event: Option<Instant>,
                    states: &mut HashMap<String, State>| {
        let file = file_name(path);
        let is_new = !states.contains_key(&file);
        let state = states.entry(file.clone()).or_default().clone();
        let opts = LoadOptions {
            seed,
            limits: Default::default(),
            state: Some(state),
        };
        let from = current_bar.load(Ordering::Relaxed) + 1;
        let result = Patch::dry_run(path, src, opts.clone(), from, bars, steps.as_mut())
            .and_then(|_| Patch::load(path, src, opts))
            .and_then(|mut p| {
                if is_new {
                    p.start()?;
                }
                Ok(p)
            });
        let msg = match result {
            Ok(patch) => SchedMsg::Ready {
                file,
                patch: Box::new(patch),
                first_event,
            },
            Err(e) => {
                if is_new {
                    // Keep no state for a file that never played.
                    states.remove(&file_name(path));
                }
                SchedMsg::Rejected(e)
            }
        };
        tx.send(msg).is_ok()
    };
    for path in scan(&dir).unwrap_or_default() {
        match std::fs::read_to_string(&path) {
            Ok(src) => {
                if !load(&path, &src, None, &mut states) {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(SchedMsg::Rejected(PatchError {
                    path: path.display().to_string(),
                    line: 0,
                    col: 0,
                    message: format!("cannot read: {e}"),
                }));
            }
        }
    }
    if tx.send(SchedMsg::InitialDone).is_err() {
        return;
    }
    while let Ok(change) = changes.recv() {
        let ok = match change {
            FileChange::Changed {
                path,
                source,
                first_event,
            } => load(&path, &source, Some(first_event), &mut states),
            FileChange::Removed { path } => {
                let f = file_name(&path);
                states.remove(&f);
                tx.send(SchedMsg::Removed(f)).is_ok()
            }
            FileChange::Renamed { from, to } => {
                let (f, t) = (file_name(&from), file_name(&to));
                if let Some(s) = states.remove(&f) {
                    states.insert(t.clone(), s);
                }
                tx.send(SchedMsg::Renamed(f, t)).is_ok()
            }
        };
        if !ok {
            return;
        }
    }
}

struct RecSession {
    rec: Recorder,
    t0: Tick,
    tracks_sent: usize,
    tempo_sent: usize,
    markers_sent: usize,
}

struct SchedThread {
    cfg: LiveConfig,
    clock: Box<dyn Clock>,
    out: Option<Box<dyn EventOut>>,
    sched: Scheduler,
    reports: Sender<Report>,
    current_bar: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    playing: bool,
    rec: Option<RecSession>,
    late: u64,
    late_reported: u64,
    errors: HashMap<String, PatchError>,
    reload_ms: HashMap<String, f64>,
    awaiting_first: HashMap<String, (u32, Instant)>,
    recent: VecDeque<RecentNote>,
    last_status: Instant,
    hashes: HashMap<String, u64>,
    started: Instant,
    started_wall: std::time::SystemTime,
    played: std::collections::BTreeSet<String>,
    models: std::collections::BTreeSet<String>,
    recorded: Option<PathBuf>,
    features: Option<Receiver<crate::analysis::Features>>,
    last_features: Option<crate::analysis::Features>,
    features_dropped: u64,
    feature_errors: HashMap<String, String>,
    analyzer: Option<crate::analysis::live::Control>,
    /// `analyze(#{...})` requests of the loaded patches, with the install order.
    analyze_requests: HashMap<String, (u64, crate::patch::AnalyzeSpec)>,
    installs: u64,
    analyze_in_use: (usize, usize),
}

/// The feature map `on_features(f)` receives.
pub fn feature_map(f: &crate::analysis::Features) -> rhai::Map {
    let mut m = rhai::Map::new();
    let num = |x: f32| rhai::Dynamic::from_float(x as f64);
    m.insert("rms".into(), num(f.rms));
    m.insert("centroid".into(), num(f.centroid));
    m.insert("bandwidth".into(), num(f.bandwidth));
    m.insert("rolloff".into(), num(f.rolloff));
    m.insert("flatness".into(), num(f.flatness));
    m.insert("flux".into(), num(f.flux));
    m.insert("onset_strength".into(), num(f.onset_strength));
    m.insert("onset".into(), rhai::Dynamic::from_bool(f.onset));
    m.insert("bpm".into(), num(f.bpm));
    m.insert("time".into(), rhai::Dynamic::from_float(f.time));
    let chroma: rhai::Array = f.chroma.iter().map(|c| num(*c)).collect();
    m.insert("chroma".into(), chroma.into());
    m
}

impl SchedThread {
    fn new(
        cfg: LiveConfig,
        clock: Box<dyn Clock>,
        out: Option<Box<dyn EventOut>>,
        steps: Box<dyn StepSource + Send>,
        reports: Sender<Report>,
        current_bar: Arc<AtomicU64>,
        stop: Arc<AtomicBool>,
    ) -> SchedThread {
        let mut sched = Scheduler::new(clock.sample_rate(), cfg.tempo.unwrap_or(120.0), steps);
        if let Some(t) = cfg.tempo {
            sched.lock_tempo(t);
        }
        SchedThread {
            cfg,
            clock,
            out,
            sched,
            reports,
            current_bar,
            stop,
            playing: false,
            rec: None,
            late: 0,
            late_reported: 0,
            errors: HashMap::new(),
            reload_ms: HashMap::new(),
            awaiting_first: HashMap::new(),
            recent: VecDeque::new(),
            last_status: Instant::now(),
            hashes: HashMap::new(),
            started: Instant::now(),
            started_wall: std::time::SystemTime::now(),
            played: Default::default(),
            models: Default::default(),
            recorded: None,
            features: None,
            last_features: None,
            features_dropped: 0,
            feature_errors: HashMap::new(),
            analyzer: None,
            analyze_requests: HashMap::new(),
            installs: 0,
            analyze_in_use: DEFAULT_ANALYSIS,
        }
    }

    /// Runs analysis patches on the feature frames that arrived. At most a few frames per
    /// pass are handed to scripts; the rest are dropped (counted) so the scheduler never
    /// falls behind.
    fn run_features(&mut self) {
        let Some(rx) = &self.features else { return };
        let frames: Vec<crate::analysis::Features> = rx.try_iter().collect();
        if frames.is_empty() {
            return;
        }
        const MAX_PER_PASS: usize = 4;
        let skip = frames.len().saturating_sub(MAX_PER_PASS);
        self.features_dropped += skip as u64;
        // Each analysis patch with the features it asked for (None = all).
        let files: Vec<(String, Option<Vec<String>>)> = self
            .sched
            .files()
            .into_iter()
            .filter_map(|(f, _)| {
                let p = self.sched.patch(&f).filter(|p| p.has_on_features())?;
                let wanted = p.analyze_spec().and_then(|s| s.features);
                Some((f, wanted))
            })
            .collect();
        for f in &frames[skip..] {
            for (file, wanted) in &files {
                let mut map = feature_map(f);
                if let Some(keys) = wanted {
                    map.retain(|k, _| keys.iter().any(|w| w == k.as_str()));
                }
                let Some(p) = self.sched.patch_mut(file) else {
                    continue;
                };
                match p.on_features(map) {
                    Ok(params) => {
                        self.feature_errors.remove(file);
                        if !params.is_empty() {
                            self.sched.apply_params(file, &params);
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        if self.feature_errors.get(file) != Some(&msg) {
                            self.feature_errors.insert(file.clone(), msg);
                            let bar = self.sched.time_sig().bar_of(self.sched.emitted_to());
                            self.report(Report::Notice(Notice::RuntimeError { error: e, bar }));
                        }
                    }
                }
            }
        }
        self.last_features = frames.last().copied();
    }

    fn report(&self, r: Report) {
        let _ = self.reports.send(r);
    }

    /// Points the live analyzer at the settings of the most recently installed patch that
    /// asks for some (or the defaults), reporting each change once.
    fn update_analysis(&mut self) {
        let Some(ctl) = &self.analyzer else { return };
        let latest = self
            .analyze_requests
            .iter()
            .max_by_key(|(_, (order, _))| *order)
            .map(|(file, (_, spec))| (file.clone(), (spec.fft, spec.hop)));
        let (file, wanted) = match latest {
            Some((f, s)) => (Some(f), s),
            None => (None, DEFAULT_ANALYSIS),
        };
        if wanted == self.analyze_in_use {
            return;
        }
        ctl.set(wanted.0, wanted.1);
        self.analyze_in_use = wanted;
        self.report(Report::Analysis {
            fft: wanted.0,
            hop: wanted.1,
            file,
        });
    }

    fn lookahead_frames(&self) -> Frame {
        (self.cfg.lookahead.as_secs_f64() * self.clock.sample_rate() as f64) as Frame
    }

    fn handle(&mut self, m: SchedMsg) -> bool {
        match m {
            SchedMsg::Ready {
                file,
                patch,
                first_event,
            } => {
                let ready_ms = first_event.map(|t| t.elapsed().as_secs_f64() * 1000.0);
                self.hashes.insert(file.clone(), patch.source_hash());
                self.played.insert(file.clone());
                for v in patch.base_voices() {
                    if let crate::patch::Source::Lstm(spec) = &v.source {
                        self.models.insert(spec.model.clone());
                    }
                }
                self.installs += 1;
                match patch.analyze_spec() {
                    Some(spec) => {
                        self.analyze_requests
                            .insert(file.clone(), (self.installs, spec));
                    }
                    None => {
                        self.analyze_requests.remove(&file);
                    }
                }
                let tick = self.sched.install(&file, *patch);
                self.update_analysis();
                self.errors.remove(&file);
                if let Some(ms) = ready_ms {
                    self.reload_ms.insert(file.clone(), ms);
                }
                let bar = self.sched.time_sig().bar_of(tick);
                self.report(Report::Ready {
                    file: file.clone(),
                    bar,
                    ready_ms: ready_ms.unwrap_or(0.0),
                });
                if let Some(t) = first_event {
                    let version = self
                        .sched
                        .files()
                        .iter()
                        .find(|f| f.0 == file)
                        .map_or(1, |f| f.1 + 1);
                    self.awaiting_first.insert(file, (version, t));
                }
            }
            SchedMsg::Rejected(e) => {
                let file = Path::new(&e.path)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if self.errors.get(&file) != Some(&e) {
                    self.report(Report::Rejected { error: e.clone() });
                }
                self.errors.insert(file, e);
            }
            SchedMsg::Removed(f) => {
                self.errors.remove(&f);
                self.sched.remove(&f);
                self.analyze_requests.remove(&f);
                self.update_analysis();
            }
            SchedMsg::Renamed(a, b) => {
                if let Some(e) = self.errors.remove(&a) {
                    self.errors.insert(b.clone(), e);
                }
                if let Some(r) = self.analyze_requests.remove(&a) {
                    self.analyze_requests.insert(b.clone(), r);
                }
                self.sched.rename(&a, &b);
            }
            SchedMsg::InitialDone => {
                if self.cfg.autoplay {
                    self.start_transport();
                }
                if let Some(target) = self.cfg.record.clone() {
                    self.start_recording(target);
                }
            }
            SchedMsg::Command(c) => match c {
                Command::Quit => return false,
                Command::TogglePlay => {
                    if self.playing {
                        self.stop_transport();
                    } else {
                        self.start_transport();
                    }
                }
                Command::ToggleRecord => {
                    if self.rec.is_some() {
                        self.finish_recording();
                    } else {
                        let t = crate::record::default_target(&self.cfg.record_dir);
                        self.start_recording(t);
                    }
                }
                Command::TempoDelta(d) => {
                    let bpm = (self.sched.tempo_map().bpm_at(self.sched.emitted_to()) + d)
                        .clamp(20.0, 400.0);
                    self.sched.set_tempo_at_next_beat(bpm);
                }
                Command::ToggleMute(t) => {
                    let m = self.sched.is_muted(&t) && !self.sched.is_soloed(&t);
                    self.sched.set_muted(&t, !m);
                }
                Command::ToggleSolo(t) => {
                    let s = self.sched.is_soloed(&t);
                    self.sched.set_solo(&t, !s);
                }
            },
        }
        true
    }

    fn start_transport(&mut self) {
        if self.playing {
            return;
        }
        // Continue from where the transport stopped, starting `lookahead` from now.
        let resume_frame = self
            .sched
            .tempo_map()
            .tick_to_frame(self.sched.emitted_to());
        // A short lead-in on top of the lookahead absorbs the first bar's one-off costs
        // (loading LSTM models, first `on_bar` calls) without late events.
        let lead_in = self.clock.sample_rate() as Frame / 4;
        let start = self.clock.now() + self.lookahead_frames() + lead_in;
        self.sched
            .set_frame_offset(start.saturating_sub(resume_frame));
        self.playing = true;
    }

    fn stop_transport(&mut self) {
        if !self.playing {
            return;
        }
        let offs = self.sched.stop();
        self.deliver(offs);
        self.playing = false;
    }

    fn start_recording(&mut self, target: PathBuf) {
        let mut prov_patches: Vec<(String, u64)> =
            self.hashes.iter().map(|(k, v)| (k.clone(), *v)).collect();
        prov_patches.sort();
        let opts = RecordOptions {
            target,
            time_sig: self.sched.time_sig(),
            provenance: provenance(
                &prov_patches,
                self.cfg.seed,
                &self.cfg.models_dir.as_deref().map_or_else(Vec::new, |d| {
                    crate::neural::model_provenance(
                        d,
                        &self.models.iter().cloned().collect::<Vec<_>>(),
                    )
                }),
            ),
            slow_disk: self.cfg.slow_disk,
        };
        match Recorder::start(opts) {
            Ok(rec) => {
                self.report(Report::RecordingStarted(rec.target.clone()));
                let t0 = self.sched.emitted_to();
                let bpm = self.sched.tempo_map().bpm_at(t0);
                rec.send(RecordMsg::Tempo(0, bpm));
                rec.send(RecordMsg::Marker(0, "start".into()));
                let tempo_sent = self
                    .sched
                    .tempo_map()
                    .changes()
                    .iter()
                    .filter(|c| c.0 <= t0)
                    .count();
                let markers_sent = self.sched.markers().iter().filter(|m| m.0 < t0).count();
                self.rec = Some(RecSession {
                    rec,
                    t0,
                    tracks_sent: 0,
                    tempo_sent,
                    markers_sent,
                });
            }
            Err(e) => self.report(Report::RecordingFailed(e.to_string())),
        }
    }

    fn feed_recorder(&mut self, events: &[TimedEvent]) {
        let Some(rs) = self.rec.as_mut() else { return };
        let tracks = self.sched.tracks();
        if tracks.len() > rs.tracks_sent {
            rs.rec
                .send(RecordMsg::Tracks(tracks[rs.tracks_sent..].to_vec()));
            rs.tracks_sent = tracks.len();
        }
        let changes = self.sched.tempo_map().changes();
        for (t, bpm) in changes.iter().skip(rs.tempo_sent) {
            rs.rec.send(RecordMsg::Tempo(t.saturating_sub(rs.t0), *bpm));
        }
        rs.tempo_sent = changes.len().max(rs.tempo_sent);
        let markers = self.sched.markers();
        for (t, m) in markers.iter().skip(rs.markers_sent) {
            rs.rec
                .send(RecordMsg::Marker(t.saturating_sub(rs.t0), m.clone()));
        }
        rs.markers_sent = markers.len();
        if !events.is_empty() {
            let shifted: Vec<TimedEvent> = events
                .iter()
                .filter(|e| e.tick >= rs.t0)
                .map(|e| TimedEvent {
                    tick: e.tick - rs.t0,
                    ..*e
                })
                .collect();
            if !rs.rec.send(RecordMsg::Events(shifted)) {
                let rs = self.rec.take().expect("recording");
                let err = rs
                    .rec
                    .finish(0)
                    .err()
                    .map_or("recorder stopped".to_string(), |e| e.to_string());
                self.report(Report::RecordingFailed(err));
            }
        }
    }

    fn finish_recording(&mut self) {
        let Some(rs) = self.rec.take() else {
            return;
        };
        let end = self.sched.emitted_to().saturating_sub(rs.t0);
        // Notes still sounding are closed at `end` by the recorder when it writes the file.
        rs.rec.send(RecordMsg::Marker(end, "stop".into()));
        match rs.rec.finish(end) {
            Ok(f) => {
                self.recorded = Some(f.path.clone());
                self.report(Report::RecordingFinished {
                    path: f.path,
                    notes: f.notes,
                    max_backlog: f.max_backlog,
                })
            }
            Err(e) => self.report(Report::RecordingFailed(e.to_string())),
        }
    }

    fn deliver(&mut self, events: Vec<TimedEvent>) {
        if events.is_empty() && self.rec.is_none() {
            return;
        }
        let now = self.clock.now();
        for e in &events {
            if e.frame < now {
                self.late += 1;
            }
            if let Event::NoteOn {
                track, key, vel, ..
            } = e.event
            {
                let name = self
                    .sched
                    .tracks()
                    .get(track as usize)
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                let file = name.split('.').next().unwrap_or("").to_string() + ".rhai";
                if let Some((v, t)) = self.awaiting_first.get(&file) {
                    let version = self
                        .sched
                        .files()
                        .iter()
                        .find(|f| f.0 == file)
                        .map_or(0, |f| f.1);
                    if version >= *v {
                        self.report(Report::FirstEvent {
                            file: file.clone(),
                            version,
                            at: *t,
                        });
                        self.awaiting_first.remove(&file);
                    }
                }
                self.recent.push_back(RecentNote {
                    track: name,
                    tick: e.tick,
                    key,
                    vel,
                });
                if self.recent.len() > 256 {
                    self.recent.pop_front();
                }
            }
        }
        if let Some(out) = self.out.as_mut() {
            out.send(&events);
        }
        self.feed_recorder(&events);
    }

    fn status(&self) -> Status {
        let tick = if self.playing {
            let f = self.clock.now().saturating_sub(self.sched.frame_offset());
            self.sched
                .tempo_map()
                .frame_to_tick(f)
                .min(self.sched.emitted_to())
        } else {
            self.sched.emitted_to()
        };
        let sig = self.sched.time_sig();
        let (bar, beat) = sig.bar_beat(tick);
        let phase = ((tick % sig.ticks_per_beat()) as f32) / sig.ticks_per_beat() as f32;
        let pending: HashMap<String, Tick> = self.sched.pending().into_iter().collect();
        let mut names: Vec<String> = self.sched.files().into_iter().map(|f| f.0).collect();
        names.extend(self.errors.keys().cloned());
        names.extend(pending.keys().cloned());
        names.sort();
        names.dedup();
        let files = names
            .into_iter()
            .map(|f| {
                let version = self
                    .sched
                    .files()
                    .iter()
                    .find(|x| x.0 == f)
                    .map_or(0, |x| x.1);
                FileStatus {
                    playing: version > 0,
                    version,
                    pending_bar: pending.get(&f).map(|t| sig.bar_of(*t)),
                    error: self.errors.get(&f).cloned(),
                    last_reload_ms: self.reload_ms.get(&f).copied(),
                    file: f,
                }
            })
            .collect();
        Status {
            playing: self.playing,
            tempo: self.sched.tempo_map().bpm_at(tick),
            tick,
            bar,
            beat,
            beat_phase: phase,
            time_sig: (sig.num, sig.den),
            lookahead_ms: self.cfg.lookahead.as_secs_f64() * 1000.0,
            late_events: self.late,
            files,
            tracks: self
                .sched
                .tracks()
                .iter()
                .map(|t| {
                    (
                        t.clone(),
                        self.sched.is_muted(&t.name),
                        self.sched.is_soloed(&t.name),
                    )
                })
                .collect(),
            recent: self.recent.iter().cloned().collect(),
            spectrum: self.last_features,
            features_dropped: self.features_dropped,
            lstm_top: self.lstm_top(),
            recording: self
                .rec
                .as_ref()
                .map(|r| (r.rec.target.clone(), r.rec.started.elapsed().as_secs_f64())),
        }
    }

    fn lstm_top(&self) -> Vec<(String, Vec<(String, f32)>)> {
        let mut out = Vec::new();
        for (file, _) in self.sched.files() {
            let Some(p) = self.sched.patch(&file) else {
                continue;
            };
            let stem = file.strip_suffix(".rhai").unwrap_or(&file).to_string();
            for v in p.base_voices() {
                if matches!(v.source, crate::patch::Source::Lstm(_)) {
                    if let Some(top) = self.sched.lstm_top(p.display_name(), &v.name, 5) {
                        out.push((format!("{stem}.{}", v.name), top));
                    }
                }
            }
        }
        out
    }

    fn run(&mut self, rx: Receiver<SchedMsg>) {
        let end_tick = self.cfg.bars.map(|b| self.sched.time_sig().bar_start(b));
        loop {
            // Wake on messages at once (low reload latency) or every 2 ms to keep ahead.
            match rx.recv_timeout(Duration::from_millis(2)) {
                Ok(m) => {
                    if !self.handle(m) {
                        break;
                    }
                    let more: Vec<SchedMsg> = rx.try_iter().collect();
                    let mut quit = false;
                    for m in more {
                        if !self.handle(m) {
                            quit = true;
                        }
                    }
                    if quit {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            self.run_features();
            if self.playing {
                let now = self.clock.now();
                let target =
                    (now + self.lookahead_frames()).saturating_sub(self.sched.frame_offset());
                let mut to = self.sched.tempo_map().frame_to_tick(target) + 1;
                if let Some(e) = end_tick {
                    to = to.min(e);
                }
                let events = self.sched.advance(to);
                self.current_bar.store(
                    self.sched.time_sig().bar_of(self.sched.emitted_to()),
                    Ordering::Relaxed,
                );
                for n in self.sched.take_notices() {
                    self.report(Report::Notice(n));
                }
                self.deliver(events);
                if self.late > self.late_reported
                    && self.last_status.elapsed() > Duration::from_millis(500)
                {
                    self.report(Report::Late {
                        count: self.late - self.late_reported,
                    });
                    self.late_reported = self.late;
                }
                if let Some(e) = end_tick {
                    if self.sched.emitted_to() >= e {
                        // Let the last events sound before stopping.
                        let end_frame =
                            self.sched.tempo_map().tick_to_frame(e) + self.sched.frame_offset();
                        while self.clock.now() < end_frame && !self.stop.load(Ordering::SeqCst) {
                            thread::sleep(Duration::from_millis(2));
                        }
                        break;
                    }
                }
            }
            if self.cfg.status && self.last_status.elapsed() >= Duration::from_millis(33) {
                self.last_status = Instant::now();
                self.report(Report::Status(Box::new(self.status())));
            }
        }
        let offs = self.sched.stop();
        self.deliver(offs);
        self.finish_recording();
        self.append_session_log();
        self.report(Report::Stopped);
    }

    /// One line per performance in weft's own session log (a format `weft recommend` reads).
    fn append_session_log(&self) {
        let Some(path) = &self.cfg.session_log else {
            return;
        };
        let secs = self
            .started_wall
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (y, mo, d, h, mi, s) = crate::record::civil(secs);
        let tempos: Vec<f64> = self
            .sched
            .tempo_map()
            .changes()
            .iter()
            .map(|c| c.1)
            .collect();
        let mut line = crate::logs::session::SessionLogLine::new(
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
            self.started.elapsed().as_secs_f64(),
            self.played.iter().cloned().collect(),
        );
        line.models = self.models.iter().cloned().collect();
        line.tempo_min = tempos.iter().copied().reduce(f64::min);
        line.tempo_max = tempos.iter().copied().reduce(f64::max);
        line.file = self.recorded.as_ref().map(|p| p.display().to_string());
        if let Err(e) = crate::logs::session::append_session_log(path, &line) {
            self.report(Report::RecordingFailed(format!(
                "session log {}: {e}",
                path.display()
            )));
        }
    }
}

/// The audio device's (or null sink's) frame counter as the engine's clock.
pub struct AudioClock {
    meters: Arc<crate::audio::Meters>,
    sample_rate: u32,
}

impl AudioClock {
    pub fn new(meters: Arc<crate::audio::Meters>, sample_rate: u32) -> AudioClock {
        AudioClock {
            meters,
            sample_rate,
        }
    }
}

impl Clock for AudioClock {
    fn now(&self) -> Frame {
        self.meters.now_frame()
    }
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
}

/// The scheduler → synth ring (lock-free SPSC; the audio callback is the consumer).
pub struct RingOut(pub rtrb::Producer<TimedEvent>);

impl EventOut for RingOut {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        let mut dropped = 0;
        for e in events {
            if self.0.push(*e).is_err() {
                dropped += 1;
            }
        }
        dropped
    }
}
