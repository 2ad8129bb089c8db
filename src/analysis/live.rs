//! The live analyzer thread: drains mono samples from the audio tap (an `rtrb` ring filled
//! by the audio callback, which only copies samples), runs the [`Analyzer`] and sends one
//! [`Features`] per hop to a bounded channel.
//!
//! It never blocks on the consumer: when the channel is full the frame is dropped and
//! counted ([`LiveStats::dropped`]). An optional *monitor* ([`Monitor`]) is offered the same
//! frames (the screen's "sounds like" worker, best effort); it must never wait either. When
//! the ring is empty the thread sleeps for a quarter of a hop. It stops when asked
//! ([`AnalyzerHandle::stop`] or drop), when the producer side of the ring is gone and the ring
//! is drained, or when the receiver is dropped.
//!
//! Frame settings can change while it runs: [`AnalyzerControl::set`] (sent by the live engine when
//! a patch with `analyze(#{fft, hop})` is installed) makes the thread build a new
//! [`Analyzer`] between two reads of the ring. Frame numbers and times keep counting from
//! the start of the stream across such a change.

use super::{AnalysisError, Analyzer, AnalyzerConfig, Features};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    frames: AtomicU64,
    dropped: AtomicU64,
    cpu_ns: AtomicU64,
    finished: AtomicBool,
    /// Current `fft` and `hop` (for display), and how many changes failed validation.
    fft: AtomicU64,
    hop: AtomicU64,
    rejected: AtomicU64,
}

/// Changes the frame settings of a running analyzer thread. Cheap to clone; sending never
/// blocks. The sample rate stays the stream's.
#[derive(Clone, Debug)]
pub struct AnalyzerControl {
    tx: Sender<(usize, usize)>,
}

impl AnalyzerControl {
    /// Asks the analyzer to use `fft` / `hop` from its next read of the ring on. Settings
    /// the analyzer rejects (see [`AnalyzerConfig::validate`]) leave the old ones in place
    /// and are counted in [`LiveStats::rejected`]. False when the thread has stopped.
    pub fn set(&self, fft: usize, hop: usize) -> bool {
        self.tx.send((fft, hop)).is_ok()
    }
}

/// Counters of the live analyzer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LiveStats {
    /// Frames analysed.
    pub frames: u64,
    /// Frames not delivered because the receiver's channel was full.
    pub dropped: u64,
    /// CPU time used by the analyzer thread so far, seconds.
    pub cpu_seconds: f64,
    /// True once the thread has exited.
    pub finished: bool,
    /// Frame settings in use.
    pub fft: usize,
    pub hop: usize,
    /// Settings changes refused because they were out of range.
    pub rejected: u64,
}

/// Owner of the analyzer thread; dropping it stops the thread and joins it.
pub struct AnalyzerHandle {
    shared: Arc<Shared>,
    control: AnalyzerControl,
    thread: Option<JoinHandle<()>>,
}

impl AnalyzerHandle {
    /// Current counters (lock-free reads).
    pub fn stats(&self) -> LiveStats {
        LiveStats {
            frames: self.shared.frames.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            cpu_seconds: self.shared.cpu_ns.load(Ordering::Relaxed) as f64 * 1e-9,
            finished: self.shared.finished.load(Ordering::Acquire),
            fft: self.shared.fft.load(Ordering::Relaxed) as usize,
            hop: self.shared.hop.load(Ordering::Relaxed) as usize,
            rejected: self.shared.rejected.load(Ordering::Relaxed),
        }
    }

    /// A handle that changes the frame settings of the running thread.
    pub fn control(&self) -> AnalyzerControl {
        self.control.clone()
    }

    /// Asks the thread to stop, waits for it and returns the final counters.
    pub fn stop(mut self) -> LiveStats {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            // A panic in the analyzer thread has already been reported by the panic hook.
            let _ = t.join();
        }
    }
}

impl Drop for AnalyzerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the analyzer thread, sending frames to `out`. All analyzer buffers are allocated
/// here, before the thread starts; the loop itself does not allocate (a settings change
/// through [`AnalyzerControl`] builds a new analyzer on this thread, never on the audio thread).
pub fn spawn(
    tap: rtrb::Consumer<f32>,
    cfg: AnalyzerConfig,
    out: SyncSender<Features>,
) -> Result<AnalyzerHandle, AnalysisError> {
    spawn_with_monitor(tap, cfg, out, None)
}

/// Offered every frame after the engine's channel, on the analyzer thread: it must not block
/// (e.g. a `try_send` into a bounded channel; a frame it cannot take is simply missed, not
/// counted as dropped).
pub type Monitor = Box<dyn FnMut(Features) + Send>;

/// [`spawn`], also offering every frame to `monitor` (best effort).
pub fn spawn_with_monitor(
    tap: rtrb::Consumer<f32>,
    cfg: AnalyzerConfig,
    out: SyncSender<Features>,
    monitor: Option<Monitor>,
) -> Result<AnalyzerHandle, AnalysisError> {
    let analyzer = Analyzer::new(cfg)?;
    let shared = Arc::new(Shared::default());
    shared.fft.store(cfg.fft as u64, Ordering::Relaxed);
    shared.hop.store(cfg.hop as u64, Ordering::Relaxed);
    let s = shared.clone();
    let (ctl_tx, ctl_rx) = std::sync::mpsc::channel();
    let outs = Outputs { out, monitor };
    let thread = std::thread::Builder::new()
        .name("weft-analyzer".into())
        .spawn(move || run(tap, analyzer, outs, ctl_rx, &s))
        .map_err(|e| AnalysisError::Io {
            path: "<analyzer thread>".into(),
            error: e,
        })?;
    Ok(AnalyzerHandle {
        shared,
        control: AnalyzerControl { tx: ctl_tx },
        thread: Some(thread),
    })
}

struct Outputs {
    out: SyncSender<Features>,
    monitor: Option<Monitor>,
}

/// How long to sleep when the ring is empty: a quarter of a hop.
fn idle_for(cfg: &AnalyzerConfig) -> Duration {
    Duration::from_secs_f64((cfg.hop as f64 / cfg.sample_rate as f64 / 4.0).max(0.0005))
}

fn run(
    mut tap: rtrb::Consumer<f32>,
    mut analyzer: Analyzer,
    mut outs: Outputs,
    control: Receiver<(usize, usize)>,
    shared: &Shared,
) {
    let mut idle = idle_for(analyzer.config());
    let mut disconnected = false;
    // Stream position where the current analyzer started: its frame 0 is centred there.
    let (mut base_frame, mut base_time) = (0u64, 0.0f64);
    let (mut frames_total, mut samples_total) = (0u64, 0u64);
    while !shared.stop.load(Ordering::Acquire) && !disconnected {
        while let Ok((fft, hop)) = control.try_recv() {
            let cfg = AnalyzerConfig {
                fft,
                hop,
                ..*analyzer.config()
            };
            if cfg == *analyzer.config() {
                continue;
            }
            match Analyzer::new(cfg) {
                Ok(a) => {
                    analyzer = a;
                    idle = idle_for(&cfg);
                    base_frame = frames_total;
                    base_time = samples_total as f64 / cfg.sample_rate as f64;
                    shared.fft.store(fft as u64, Ordering::Relaxed);
                    shared.hop.store(hop as u64, Ordering::Relaxed);
                }
                Err(_) => {
                    shared.rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let n = tap.slots();
        if n == 0 {
            if tap.is_abandoned() {
                break;
            }
            std::thread::sleep(idle);
            continue;
        }
        let Ok(chunk) = tap.read_chunk(n) else {
            continue;
        };
        let (a, b) = chunk.as_slices();
        let (mut frames, mut dropped) = (0u64, 0u64);
        for part in [a, b] {
            analyzer.push(part, |f| {
                frames += 1;
                let mut f = *f;
                f.frame += base_frame;
                f.time += base_time;
                f.onset_time += if f.onset { base_time } else { 0.0 };
                if let Some(m) = &mut outs.monitor {
                    m(f);
                }
                match outs.out.try_send(f) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => dropped += 1,
                    Err(TrySendError::Disconnected(_)) => disconnected = true,
                }
            });
        }
        samples_total += n as u64;
        frames_total += frames;
        chunk.commit_all();
        shared.frames.fetch_add(frames, Ordering::Relaxed);
        shared.dropped.fetch_add(dropped, Ordering::Relaxed);
        shared.cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed);
    }
    shared.cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed);
    shared.finished.store(true, Ordering::Release);
}

/// CPU time consumed by the calling thread, nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is supported on
    // Linux and only reads the calling thread's clock.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
