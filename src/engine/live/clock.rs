//! The engine's clocks: where "now" comes from for the scheduler thread. The audio device's
//! frame counter when there is one ([`AudioClock`]), a monotonic system clock at a nominal rate
//! otherwise ([`SystemClock`]), and a clock that tests step by hand ([`ManualClock`]).

use crate::engine::event::Frame;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
