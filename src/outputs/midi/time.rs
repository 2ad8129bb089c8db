//! Audio frames → wall-clock instants for the MIDI sender: [`FrameMap`] (updated on the
//! scheduler thread from the engine's clock) and [`FrameTime`] (its lock-free view, read by
//! the sender when it waits). See the parent module's docs for why frames, not instants,
//! order the messages.

use crate::engine::event::Frame;
use crate::engine::live::Clock;
use std::sync::atomic::{AtomicI64, Ordering as AtOrd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The current frame → instant map, shared by the scheduler thread (which updates it) and
/// the sender (which reads it when it waits). Lock-free: one atomic.
#[derive(Clone)]
pub struct FrameTime {
    base: Instant,
    rate: u32,
    /// Nanoseconds from `base` to the instant of frame 0 (negative: before it); `UNSET`
    /// before the first reading.
    origin_ns: Arc<AtomicI64>,
}

const UNSET: i64 = i64::MIN;

impl FrameTime {
    pub(super) fn new(rate: u32) -> FrameTime {
        FrameTime {
            base: Instant::now(),
            rate,
            origin_ns: Arc::new(AtomicI64::new(UNSET)),
        }
    }

    fn origin(&self) -> Option<i64> {
        Some(self.origin_ns.load(AtOrd::Acquire)).filter(|o| *o != UNSET)
    }

    /// The instant `frame` is due (now, before the first reading).
    pub fn instant(&self, frame: Frame) -> Instant {
        let Some(o) = self.origin() else {
            return Instant::now();
        };
        let ns = o as i128 + frames_to_duration(frame, self.rate).as_nanos() as i128;
        if ns >= 0 {
            self.base + Duration::from_nanos(ns as u64)
        } else {
            self.base
                .checked_sub(Duration::from_nanos((-ns) as u64))
                .unwrap_or(self.base)
        }
    }
}

/// Audio frames → wall-clock instants (see the module docs).
pub struct FrameMap {
    clock: Box<dyn Clock>,
    time: FrameTime,
}

impl FrameMap {
    pub fn new(clock: Box<dyn Clock>) -> FrameMap {
        let time = FrameTime::new(clock.sample_rate());
        FrameMap { clock, time }
    }

    /// Reads the clock once and updates the origin estimate.
    pub fn observe(&mut self) {
        let now = Instant::now().duration_since(self.time.base).as_nanos() as i64;
        let since = frames_to_duration(self.clock.now(), self.clock.sample_rate()).as_nanos();
        let obs = now - since as i64;
        let next = match self.time.origin() {
            None => obs,
            Some(o) if obs <= o => obs,
            // Rise by 1/1000 of the gap per reading (a few hundred readings a second).
            Some(o) => o + (obs - o) / 1000,
        };
        self.time.origin_ns.store(next, AtOrd::Release);
    }

    /// The instant `frame` is due (now, before the first reading).
    pub fn instant(&self, frame: Frame) -> Instant {
        self.time.instant(frame)
    }

    /// The map as the sender reads it.
    pub fn time(&self) -> FrameTime {
        self.time.clone()
    }
}

pub(super) fn frames_to_duration(frames: Frame, rate: u32) -> Duration {
    let rate = rate.max(1) as u128;
    Duration::from_nanos((frames as u128 * 1_000_000_000 / rate) as u64)
}
