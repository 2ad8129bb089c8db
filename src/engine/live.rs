//! The live engine: watcher → compile worker → scheduler thread → outputs.
//!
//! Threads and messages (no shared mutable state besides one atomic "current bar"):
//! - the **watcher** ([`crate::engine::watch`]) turns editor saves into settled file changes;
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

mod sched_thread;
use crate::engine::event::{Event, Frame, Tick, TimedEvent, TrackInfo};
use crate::engine::render::{file_name, provenance};
use crate::engine::scheduler::{Notice, Scheduler};
use crate::engine::watch::{scan, DirWatcher, FileChange};
use crate::patch::{LoadOptions, Patch, PatchError, State, StepSource};
use crate::record::{RecordMsg, RecordOptions, Recorder};
pub use sched_thread::feature_map;
use sched_thread::SchedThread;
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
    Watch(#[from] crate::engine::watch::WatchError),
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

/// A clock that moves only when told to: tests step it and see exactly the bars they asked
/// for, however loaded the machine is. Clones share the same time.
#[derive(Clone)]
pub struct ManualClock {
    frames: Arc<AtomicU64>,
    sample_rate: u32,
}

impl ManualClock {
    pub fn new(sample_rate: u32) -> ManualClock {
        ManualClock {
            frames: Arc::new(AtomicU64::new(0)),
            sample_rate,
        }
    }
    /// Moves the clock forward by `frames`.
    pub fn advance(&self, frames: Frame) {
        self.frames.fetch_add(frames, Ordering::SeqCst);
    }
    /// Moves the clock to `frame` (never backwards).
    pub fn set(&self, frame: Frame) {
        self.frames.fetch_max(frame, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Frame {
        self.frames.load(Ordering::SeqCst)
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
    /// Events the synth's ring had no room for.
    pub dropped_events: u64,
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
    /// Events the synth's ring had no room for (note-ons first: note-offs have reserved room).
    Dropped {
        count: u64,
    },
    /// A thread of the engine died (a bug in weft, never a patch's fault). When it stopped
    /// the music (the scheduler), the recording was finished before this report and `Stopped`
    /// follows; otherwise (the compile worker) the music plays on but saves no longer load.
    Died {
        thread: String,
        message: String,
        music_stopped: bool,
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
    /// A line for the performer that needs no action (e.g. the scheduler's priority).
    Info(String),
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
        Report::Dropped { count } => {
            format!("warning: {count} events dropped (the synth's queue was full)")
        }
        Report::Died {
            thread,
            message,
            music_stopped,
        } => {
            if *music_stopped {
                format!("error: the {thread} thread died ({message}); the music stopped")
            } else {
                format!(
                    "error: the {thread} thread died ({message}); the music plays on, but saves \
                     no longer load: restart weft"
                )
            }
        }
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
        Report::Info(line) => line.clone(),
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
    /// Ask for real-time scheduling for the scheduler thread (`weft play`, the soak); tests
    /// leave it off so that many engines in one test run stay ordinary threads.
    pub realtime: bool,
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
            realtime: false,
        }
    }
}

enum SchedMsg {
    Ready {
        file: String,
        patch: Box<Patch>,
        first_event: Option<Instant>,
        /// Provenance lines of the LSTM models the patch uses (model name, line), computed
        /// here so that starting a recording never loads or hashes a model file on the
        /// scheduler thread.
        models: Vec<(String, String)>,
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
    _watcher: Option<crate::engine::watch::WatchGuard>,
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
    let watcher = DirWatcher::start(&cfg.dir)?;
    // The canonical folder: startup files and the watcher's events name a file the same way.
    let dir = watcher.dir().to_path_buf();
    let (watcher, changes) = watcher.into_parts();
    let (tx, rx) = mpsc::channel::<SchedMsg>();
    let (rep_tx, rep_rx) = mpsc::channel::<Report>();
    let current_bar = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    // Compile worker.
    {
        let tx = tx.clone();
        let reports = rep_tx.clone();
        let seed = cfg.seed;
        let bars = cfg.dry_run_bars;
        let current_bar = current_bar.clone();
        let steps = steps.clone();
        let models_dir = cfg.models_dir.clone();
        thread::Builder::new()
            .name("weft-compile".into())
            .spawn(move || {
                // Each load is guarded inside; this catches the rest of the loop, so a dying
                // worker is reported instead of silently ending every later reload.
                let died = reports.clone();
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    compile_worker(
                        dir,
                        seed,
                        bars,
                        current_bar,
                        models_dir,
                        steps,
                        changes,
                        tx,
                        reports,
                    )
                }));
                if let Err(p) = ran {
                    let _ = died.send(Report::Died {
                        thread: "compile worker".into(),
                        message: crate::fault::panic_message(&*p),
                        music_stopped: false,
                    });
                }
            })
            .expect("spawn compile worker");
    }

    let stop2 = stop.clone();
    let join = thread::Builder::new()
        .name("weft-scheduler".into())
        .spawn(move || {
            let mut s = SchedThread::new(
                cfg,
                clock,
                out,
                steps(),
                features,
                rep_tx,
                current_bar,
                stop2,
            );
            // A panic here is a bug in weft, never a patch's fault (patch runs are guarded
            // where they happen). It must not end the session silently: the take is finished
            // from what was recorded, and the performer is told what died.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.run(rx)));
            if let Err(p) = ran {
                s.died("scheduler", crate::fault::panic_message(&*p));
            }
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
    models_dir: Option<PathBuf>,
    steps: StepFactory,
    changes: Receiver<FileChange>,
    tx: Sender<SchedMsg>,
    reports: Sender<Report>,
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
        // A panic while loading is a bug in weft; it rejects this save like an error would
        // (the last good version keeps playing) instead of killing the worker, after which no
        // save would ever load again.
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::fault::compile_file(&file);
            Patch::dry_run(path, src, opts.clone(), from, bars, steps.as_mut())
                .and_then(|_| Patch::load(path, src, opts))
                .and_then(|mut p| {
                    if is_new {
                        p.start()?;
                    }
                    Ok(p)
                })
        }));
        let result = loaded.unwrap_or_else(|p| {
            Err(PatchError {
                path: path.display().to_string(),
                line: 0,
                col: 0,
                message: format!(
                    "internal error while loading ({}); please report it",
                    crate::fault::panic_message(&*p)
                ),
            })
        });
        let msg = match result {
            Ok(patch) => SchedMsg::Ready {
                models: match &models_dir {
                    Some(d) => {
                        let names = crate::neural::voices::models_of(&patch);
                        let lines = crate::neural::voices::model_provenance(d, &names);
                        names.into_iter().zip(lines).collect()
                    }
                    None => Vec::new(),
                },
                file,
                patch: Box::new(patch),
                first_event,
            },
            Err(e) => {
                if is_new {
                    // Keep no state for a file that never played.
                    states.remove(&file_name(path));
                }
                // A rejected save may have allocated up to its budget (hundreds of MB) before
                // it was stopped; it is all freed now, so hand it back to the system.
                crate::alloc_meter::give_back_freed_memory();
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
            } => {
                crate::fault::compile_worker_change(&file_name(&path));
                load(&path, &source, Some(first_event), &mut states)
            }
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
            FileChange::FolderGone { dir } => folder_notice(
                &reports,
                &dir,
                "patch folder gone; the last patches keep playing (watching for it to come back)",
            ),
            FileChange::FolderBack { dir } => {
                folder_notice(&reports, &dir, "patch folder back; watching again")
            }
        };
        if !ok {
            return;
        }
    }
}

/// Tells the performer what happened to the patch folder itself. The report channel may be
/// gone while the scheduler stops; that is no reason to stop compiling.
fn folder_notice(reports: &Sender<Report>, dir: &Path, what: &str) -> bool {
    let _ = reports.send(Report::Notice(Notice::Print {
        file: dir.display().to_string(),
        line: what.to_string(),
    }));
    true
}

/// The audio device's (or null sink's) frame counter as the engine's clock.
pub struct AudioClock {
    meters: Arc<crate::sound::output::Meters>,
    sample_rate: u32,
}

impl AudioClock {
    pub fn new(meters: Arc<crate::sound::output::Meters>, sample_rate: u32) -> AudioClock {
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
///
/// The last [`RingOut::RESERVED`] slots are kept for note-offs: when the ring is that full,
/// new note-ons and parameter changes are dropped (and counted) so that a note that did start
/// can always be stopped — a dropped note-off would be a note hanging forever.
pub struct RingOut(pub rtrb::Producer<TimedEvent>);

impl RingOut {
    /// Slots only note-offs may use.
    pub const RESERVED: usize = 256;
}

impl EventOut for RingOut {
    fn send(&mut self, events: &[TimedEvent]) -> usize {
        let mut dropped = 0;
        for e in events {
            let room = self.0.slots();
            let fits = match e.event {
                Event::NoteOff { .. } => room > 0,
                _ => room > Self::RESERVED,
            };
            if !fits || self.0.push(*e).is_err() {
                dropped += 1;
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::Sound;

    fn on(key: u8) -> TimedEvent {
        TimedEvent {
            tick: 0,
            frame: 0,
            event: Event::NoteOn {
                track: 0,
                channel: 0,
                key,
                vel: 100,
                sound: Sound::default(),
            },
        }
    }
    fn off(key: u8) -> TimedEvent {
        TimedEvent {
            tick: 1,
            frame: 1,
            event: Event::NoteOff {
                track: 0,
                channel: 0,
                key,
            },
        }
    }

    #[test]
    fn a_full_ring_drops_note_ons_counted_but_keeps_room_for_every_note_off() {
        let (p, mut c) = rtrb::RingBuffer::<TimedEvent>::new(RingOut::RESERVED + 100);
        let mut out = RingOut(p);
        let ons: Vec<TimedEvent> = (0..300).map(|i| on((i % 128) as u8)).collect();
        let dropped = out.send(&ons);
        assert_eq!(dropped, 200, "only the unreserved slots take note-ons");
        let offs: Vec<TimedEvent> = (0..100).map(|i| off((i % 128) as u8)).collect();
        assert_eq!(out.send(&offs), 0, "every note-off of a started note fits");
        let mut n_on = 0;
        let mut n_off = 0;
        while let Ok(e) = c.pop() {
            match e.event {
                Event::NoteOn { .. } => n_on += 1,
                Event::NoteOff { .. } => n_off += 1,
                _ => {}
            }
        }
        assert_eq!((n_on, n_off), (100, 100));
    }
}
