//! A sample voice reading its sample: frames from memory, and for a streamed file
//! (`sound::synth::stream`) from the preloaded head or tail or from the voice slot's ring that
//! the `weft-stream` thread fills. Split from `voice.rs` to keep the voice's synthesis and its
//! sample reading apart; no allocation, no lock (it runs in the audio callback).

use super::Voice;
use crate::engine::event::SynthKind;
use crate::sound::synth::sampler::Sample;
use crate::sound::synth::stream::{Item, Streamed};

impl Voice {
    /// Gives this voice slot its ring from the streamer.
    pub fn attach_ring(&mut self, ring: rtrb::Consumer<Item>) {
        self.ring = Some(ring);
    }

    /// Whether this voice plays a streamed sample.
    #[inline]
    pub fn streams(&self) -> bool {
        self.kind == SynthKind::Sample && self.streamed
    }

    /// The request to send after `start` when the note streams: (epoch, first frame).
    pub fn take_stream_request(&mut self) -> Option<(u32, usize)> {
        self.stream_from.take().map(|f| (self.epoch, f))
    }

    /// Frame `i` of the playing sample: from memory, or for a streamed one from the head,
    /// the tail or the ring (silence, counted as an underrun, if it has not arrived).
    #[inline]
    pub(super) fn sample_frame(&mut self, smp: &Sample, i: usize) -> (f32, f32) {
        let Some(st) = &smp.stream else {
            return smp.frame(i);
        };
        if i < st.head {
            return smp.frame(i);
        }
        if i >= st.tail_start {
            let j = i - st.tail_start;
            return if smp.channels == 1 {
                let x = st.tail[j];
                (x, x)
            } else {
                (st.tail[2 * j], st.tail[2 * j + 1])
            };
        }
        match self.ring_frame(i) {
            Some(f) => f,
            None => {
                self.underruns += 1;
                (0.0, 0.0)
            }
        }
    }

    /// Frame `k` from the ring, popping (and skipping frames of other requests and frames
    /// already passed) as far as it; `None` if it has not arrived.
    #[inline]
    fn ring_frame(&mut self, k: usize) -> Option<(f32, f32)> {
        if k + 1 == self.ring_next {
            return Some(self.win[1]);
        }
        if k + 2 == self.ring_next {
            return Some(self.win[0]);
        }
        if k < self.ring_next {
            return None;
        }
        let ring = self.ring.as_mut()?;
        while self.ring_next <= k {
            let (e, l, r) = ring.pop().ok()?;
            if e == self.epoch {
                self.win = [self.win[1], (l, r)];
                self.ring_next += 1;
            }
        }
        Some(self.win[1])
    }

    /// Sets up a note of a streamed sample (`start` has set the part `sample_lo..sample_hi`):
    /// reverse and looped notes (`from_memory_only`) keep to the head, else the tail; a forward
    /// note past the head empties the slot's ring and asks for a stream from its first frame.
    /// `false` when nothing of the part can play.
    pub(super) fn start_streamed(&mut self, st: &Streamed, from_memory_only: bool) -> bool {
        self.streamed = true;
        self.stream_head = st.head;
        self.stream_tail = st.tail_start;
        if from_memory_only {
            // Only what is in memory: the head, else the tail.
            if self.sample_hi > st.head as f64 {
                self.sample_lo = self.sample_lo.max(st.tail_start as f64);
            }
            if self.sample_lo >= self.sample_hi {
                self.active = false;
                return false;
            }
        } else if self.sample_hi > st.head as f64 {
            let from = (self.sample_lo as usize).max(st.head);
            if from < st.tail_start {
                // Drop what an earlier note left in the ring (in O(1): the
                // frames are plain data), so the streamer has room at once;
                // frames it still writes for that note are skipped by epoch.
                if let Some(ring) = &mut self.ring {
                    if let Ok(c) = ring.read_chunk(ring.slots()) {
                        c.commit_all();
                    }
                }
                self.epoch = self.epoch.wrapping_add(1);
                self.ring_next = from;
                self.stream_from = Some(from);
            }
        }
        true
    }
}
