//! The scheduler's event queue: pending events ordered by (tick, note-off < param < note-on,
//! planning sequence), so that what comes out is the same for the same input.

use super::Scheduler;
use crate::engine::event::{Event, Tick};
use std::cmp::Reverse;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Order {
    Off = 0,
    Param = 1,
    On = 2,
}

#[derive(Clone, Debug)]
pub(super) struct Pending {
    pub(super) tick: Tick,
    pub(super) order: Order,
    pub(super) seq: u64,
    pub(super) slot: u64,
    pub(super) note: u64,
    pub(super) event: Event,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key().cmp(&o.key())
    }
}
impl Pending {
    pub(super) fn key(&self) -> (Tick, Order, u64) {
        (self.tick, self.order, self.seq)
    }
}

impl Scheduler {
    pub(super) fn push(&mut self, tick: Tick, order: Order, slot: u64, note: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse(Pending {
            tick,
            order,
            seq: self.seq,
            slot,
            note,
            event,
        }));
    }
}
