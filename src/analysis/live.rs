//! The live analyzer thread: drains mono samples from the audio tap (an `rtrb` ring filled
//! by the audio callback, which only copies samples), runs the [`Analyzer`] and sends one
//! [`Features`] per hop to a bounded channel.
//!
//! It never blocks on the consumer: when the channel is full the frame is dropped and
//! counted ([`LiveStats::dropped`]). When the ring is empty the thread sleeps for a quarter
//! of a hop. It stops when asked ([`LiveHandle::stop`] or drop), when the producer side of
//! the ring is gone and the ring is drained, or when the receiver is dropped.

use super::{AnalysisError, Analyzer, AnalyzerConfig, Features};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
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
}

/// Owner of the analyzer thread; dropping it stops the thread and joins it.
pub struct LiveHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LiveHandle {
    /// Current counters (lock-free reads).
    pub fn stats(&self) -> LiveStats {
        LiveStats {
            frames: self.shared.frames.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            cpu_seconds: self.shared.cpu_ns.load(Ordering::Relaxed) as f64 * 1e-9,
            finished: self.shared.finished.load(Ordering::Acquire),
        }
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

impl Drop for LiveHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the analyzer thread. All analyzer buffers are allocated here, before the thread
/// starts; the loop itself does not allocate.
pub fn spawn(
    tap: rtrb::Consumer<f32>,
    cfg: AnalyzerConfig,
    out: SyncSender<Features>,
) -> Result<LiveHandle, AnalysisError> {
    let analyzer = Analyzer::new(cfg)?;
    let shared = Arc::new(Shared::default());
    let s = shared.clone();
    let idle = Duration::from_secs_f64((cfg.hop as f64 / cfg.sample_rate as f64 / 4.0).max(0.0005));
    let thread = std::thread::Builder::new()
        .name("weft-analyzer".into())
        .spawn(move || run(tap, analyzer, out, &s, idle))
        .map_err(|e| AnalysisError::Io {
            path: "<analyzer thread>".into(),
            source: e,
        })?;
    Ok(LiveHandle {
        shared,
        thread: Some(thread),
    })
}

fn run(
    mut tap: rtrb::Consumer<f32>,
    mut analyzer: Analyzer,
    out: SyncSender<Features>,
    shared: &Shared,
    idle: Duration,
) {
    let mut disconnected = false;
    while !shared.stop.load(Ordering::Acquire) && !disconnected {
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
                match out.try_send(*f) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => dropped += 1,
                    Err(TrySendError::Disconnected(_)) => disconnected = true,
                }
            });
        }
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
