//! The live engine: watcher → compile worker → scheduler thread → outputs.
//!
//! Threads and messages (no shared mutable state besides one atomic "current bar"):
//! - the **watcher** ([`crate::engine::watch`]) turns editor saves into settled file changes;
//! - the **compile worker** (`live/compile.rs`) loads each change, dry-runs it (the next bars,
//!   with the limits, on a copy of the file's `state`) and only then sends the scheduler a
//!   ready patch — or a located error; the playing version is untouched either way;
//! - the **scheduler thread** (`live/sched_thread.rs`: the run loop; `live/recording.rs`: the
//!   recording session and session log; `live/status.rs`: the status builder;
//!   `live/features.rs`: feature frames → `on_features`) keeps `lookahead` ahead of the
//!   clock: it installs ready patches at their quantize point, emits timestamped events to the
//!   output ([`crate::outputs`]) and the recorder, and publishes [`Report`]s
//!   (loaded/rejected/swapped/late/status, `live/report.rs`) for stderr or the TUI.
//!
//! The clock (`live/clock.rs`) is the audio device's frame counter when there is one,
//! otherwise a monotonic system clock with the same interface ([`Clock`]).
//!
//! [`LiveHandle`] owns the three threads; joining it (or dropping it) stops them in this
//! order: the scheduler thread (told by the stop flag; it stops the notes, finishes the
//! recording, writes the session log and reports `Stopped`), then the watcher (its change
//! stream closes), then the compile worker (which ends when that stream closes).

mod clock;
mod compile;
mod features;
#[cfg(feature = "link")]
pub mod link;
mod recording;
mod report;
mod sched_thread;
mod status;
pub mod sync;

pub use crate::outputs::{EventOut, RingOut};
pub use clock::{AudioClock, Clock, ManualClock, SystemClock};
pub use features::feature_map;
pub use report::{
    describe, describe_report, Command, FileStatus, RecentNote, Report, Status, TrackStatus,
};

use crate::engine::watch::DirWatcher;
use crate::patch::{Patch, PatchError, StepSource};
use sched_thread::SchedThread;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
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
    /// Follow a shared tempo and bar phase (`--sync link`); see [`sync`].
    pub sync: Option<sync::SyncHandoff>,
    /// `--samples DIR`: where patches look for `samples("path")` and sample folders after
    /// their own folder (as in `weft check` and `weft render`).
    pub samples: Option<PathBuf>,
    /// The running synth's bank feed: a saved patch that changes its `samples("…")` folder
    /// has the new bank loaded by the compile worker and swapped in at its reload boundary.
    pub bank_swap: Option<crate::sound::synth::BankSwap>,
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
            sync: None,
            samples: None,
            bank_swap: None,
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

/// The threads of a running engine, stopped and joined in the order of the module docs.
struct Threads {
    scheduler: JoinHandle<()>,
    watcher: crate::engine::watch::WatchGuard,
    compile: JoinHandle<()>,
}

impl Threads {
    fn join(self, stop: &AtomicBool) {
        stop.store(true, Ordering::SeqCst);
        let _ = self.scheduler.join();
        drop(self.watcher);
        let _ = self.compile.join();
    }
}

/// A running engine.
pub struct LiveHandle {
    cmd: Sender<SchedMsg>,
    pub reports: Receiver<Report>,
    threads: Option<Threads>,
    stop: Arc<AtomicBool>,
}

impl LiveHandle {
    pub fn command(&self, c: Command) {
        let _ = self.cmd.send(SchedMsg::Command(c));
    }
    /// A flag that stops the engine cleanly when set (for signal handlers).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
    /// True once the scheduler thread (the music) has stopped.
    pub fn is_finished(&self) -> bool {
        self.threads
            .as_ref()
            .is_none_or(|t| t.scheduler.is_finished())
    }
    /// Waits for the scheduler thread to end on its own (bars done, `Quit`, the stop flag),
    /// then stops and joins the watcher and the compile worker.
    pub fn join(mut self) {
        if let Some(t) = self.threads.take() {
            let _ = t.scheduler.join();
            drop(t.watcher);
            let _ = t.compile.join();
        }
    }
}

/// A cloneable way to send the engine commands (for the screen's UI loop).
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

/// Owns the engine's threads; stops and joins them (module docs' order) when dropped.
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
        if let Some(t) = self.threads.take() {
            t.join(&self.stop);
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
    pub control: Option<crate::analysis::live::AnalyzerControl>,
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

    let compile = compile::spawn(
        compile::CompileSetup {
            dir,
            seed: cfg.seed,
            bars: cfg.dry_run_bars,
            current_bar: current_bar.clone(),
            models_dir: cfg.models_dir.clone(),
            steps: steps.clone(),
            samples: cfg.samples.clone(),
            bank_swap: cfg.bank_swap.clone(),
        },
        changes,
        tx.clone(),
        rep_tx.clone(),
    );

    let stop2 = stop.clone();
    let scheduler = thread::Builder::new()
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
        threads: Some(Threads {
            scheduler,
            watcher,
            compile,
        }),
        stop,
    })
}
