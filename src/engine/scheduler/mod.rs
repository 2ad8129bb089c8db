//! The scheduler: turns playing patches into timestamped events, ahead of time.
//!
//! It owns the transport (tempo map, meter) and the set of playing patches, one per file.
//! `advance(to_tick)` plans each bar as the window reaches it (calling `on_bar`), applies
//! queued patch swaps exactly at their quantize tick, and emits every event before `to_tick`
//! in a deterministic order (tick, then note-offs before params before note-ons, then
//! planning order), each stamped with its tick and its frame from the tempo map.
//!
//! Guarantees the consumers rely on:
//! - every note-on gets exactly one note-off, and a key never overlaps itself on a channel
//!   (a retrigger ends the sounding note first, at the same tick);
//! - a swap at tick T removes the old version's notes that start at or after T and adds the
//!   new version's notes from T; notes already sounding end with their own note-off;
//! - a patch whose `on_bar` fails plays the last good bar plan of that file instead, and the
//!   error is reported once (until the message changes or the file is fixed).

use crate::engine::event::{Event, Frame, Param, Tick, TrackId, TrackInfo};
use crate::engine::transport::{Quantize, TempoMap, TimeSig};
use crate::patch::{BarPlan, Patch, PatchError, StepSource};
use queue::{Order, Pending};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

mod bars;
mod emit;
mod queue;

/// Something the scheduler wants the performer to know (goes to stderr or the messages pane).
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// A patch started playing or a new version replaced the old one.
    Swapped {
        file: String,
        version: u32,
        tick: Tick,
        bar: u64,
    },
    /// A file stopped playing (deleted).
    Removed { file: String, tick: Tick },
    /// A playing patch failed at run time; its last good bar is played instead.
    RuntimeError { error: PatchError, bar: u64 },
    /// A file that had failed plays its own bars again.
    Recovered { file: String, bar: u64 },
    /// A line the patch printed; `file` says where: `path:line`, and ` (bar N)` (counted from
    /// 1) for a print in a bar's callbacks.
    Print { file: String, line: String },
    /// Tempo changed.
    Tempo { tick: Tick, bpm: f64 },
}

struct Slot {
    /// Unique id of this file's slot (a new one after removal and re-adding).
    id: u64,
    file: String,
    patch: Patch,
    version: u32,
    /// The last bar plan that worked, replayed while on_bar fails.
    last_good: Option<BarPlan>,
    failing: Option<String>,
    /// Its `on_bar`/`every` ran away (a limit stopped it): not called again for this version,
    /// which plays its last good bar — a runaway costs its whole budget only once.
    runaway: bool,
    /// Deadline overruns in a row (two turn the callbacks off; one may be a busy machine).
    overruns: u8,
    tempo_seen: Option<f64>,
}

enum SwapKind {
    Install(Box<Patch>),
    Remove,
}

struct Swap {
    tick: Tick,
    file: String,
    kind: SwapKind,
}

/// The scheduler. See the module docs.
pub struct Scheduler {
    map: TempoMap,
    sig: TimeSig,
    tempo_locked: bool,
    slots: Vec<Slot>,
    next_slot_id: u64,
    swaps: Vec<Swap>,
    queue: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    next_note: u64,
    emitted_to: Tick,
    next_bar: u64,
    active: HashMap<(u8, u8), (u64, TrackId)>,
    tracks: Vec<TrackInfo>,
    track_ids: HashMap<(String, String), TrackId>,
    muted: HashSet<String>,
    soloed: HashSet<String>,
    overrides: HashMap<TrackId, Vec<(Param, f32)>>,
    markers: Vec<(Tick, String)>,
    notices: Vec<Notice>,
    steps: Box<dyn StepSource + Send>,
    frame_offset: Frame,
}

impl Scheduler {
    /// A scheduler at tick 0 with `bpm` until a patch sets a tempo.
    pub fn new(sample_rate: u32, bpm: f64, steps: Box<dyn StepSource + Send>) -> Scheduler {
        Scheduler {
            map: TempoMap::new(sample_rate, bpm),
            sig: TimeSig::default(),
            tempo_locked: false,
            slots: Vec::new(),
            next_slot_id: 0,
            swaps: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            next_note: 0,
            emitted_to: 0,
            next_bar: 0,
            active: HashMap::new(),
            tracks: Vec::new(),
            track_ids: HashMap::new(),
            muted: HashSet::new(),
            soloed: HashSet::new(),
            overrides: HashMap::new(),
            markers: Vec::new(),
            notices: Vec::new(),
            steps,
            frame_offset: 0,
        }
    }

    /// Fixes the tempo (`--tempo`): patches' `tempo()` calls are then ignored.
    pub fn lock_tempo(&mut self, bpm: f64) {
        self.map.set_tempo(self.emitted_to, bpm);
        self.tempo_locked = true;
    }

    /// Sets the tempo from the next beat on (the TUI's +/- keys); patches may set it again.
    pub fn set_tempo_at_next_beat(&mut self, bpm: f64) {
        let t = Quantize::Beat.next_point(self.emitted_to, self.sig);
        if self.map.set_tempo(t, bpm) {
            self.notices.push(Notice::Tempo { tick: t, bpm });
        }
    }

    pub fn set_time_sig(&mut self, sig: TimeSig) {
        self.sig = sig;
    }

    /// Device frame at which transport frame 0 sounds (live play starts the transport late).
    pub fn set_frame_offset(&mut self, offset: Frame) {
        self.frame_offset = offset;
    }

    pub fn frame_offset(&self) -> Frame {
        self.frame_offset
    }

    pub fn tempo_map(&self) -> &TempoMap {
        &self.map
    }
    pub fn time_sig(&self) -> TimeSig {
        self.sig
    }
    /// Every tick before this has been emitted.
    pub fn emitted_to(&self) -> Tick {
        self.emitted_to
    }
    pub fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }
    pub fn markers(&self) -> &[(Tick, String)] {
        &self.markers
    }
    /// Notices since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }
    /// Files playing, with their version, in order.
    pub fn files(&self) -> Vec<(String, u32)> {
        self.slots
            .iter()
            .map(|s| (s.file.clone(), s.version))
            .collect()
    }
    /// The playing patch of a file.
    pub fn patch(&self, file: &str) -> Option<&Patch> {
        self.slots.iter().find(|s| s.file == file).map(|s| &s.patch)
    }
    /// The LSTM's most likely next events for a voice of a file (voices pane).
    pub fn lstm_top(&self, file: &str, voice: &str, k: usize) -> Option<Vec<(String, f32)>> {
        self.steps.top_k(file, voice, k)
    }

    /// Files with a swap waiting, and the tick it happens at.
    pub fn pending(&self) -> Vec<(String, Tick)> {
        self.swaps
            .iter()
            .map(|s| (s.file.clone(), s.tick))
            .collect()
    }

    /// Mutes or unmutes a track by name (`file.voice`): its note-ons are dropped.
    pub fn set_muted(&mut self, track: &str, muted: bool) {
        if muted {
            self.muted.insert(track.to_string());
        } else {
            self.muted.remove(track);
        }
    }
    /// Solos a track (only soloed tracks play while any is soloed).
    pub fn set_solo(&mut self, track: &str, solo: bool) {
        if solo {
            self.soloed.insert(track.to_string());
        } else {
            self.soloed.remove(track);
        }
    }
    pub fn is_muted(&self, track: &str) -> bool {
        self.muted.contains(track) || (!self.soloed.is_empty() && !self.soloed.contains(track))
    }
    pub fn is_soloed(&self, track: &str) -> bool {
        self.soloed.contains(track)
    }

    /// Queues a new (already checked) version of `file` to start at its quantize point.
    /// Returns the tick it will take over at.
    pub fn install(&mut self, file: &str, mut patch: Patch) -> Tick {
        // What the top level and `on_start` printed, once per load (at `path:line`).
        for (at, line) in patch.take_prints() {
            self.notices.push(Notice::Print {
                file: patch.place(at),
                line,
            });
        }
        let q = if self.slots.iter().any(|s| s.file == file) {
            patch.quantize()
        } else if self.slots.is_empty() && self.emitted_to == 0 {
            Quantize::Now
        } else {
            // A new file joins at its own quantize point too.
            patch.quantize()
        };
        let tick = q.next_point(self.emitted_to, self.sig);
        self.swaps.retain(|s| s.file != file);
        self.swaps.push(Swap {
            tick,
            file: file.to_string(),
            kind: SwapKind::Install(Box::new(patch)),
        });
        tick
    }

    /// Stops `file` at the next bar (its sounding notes end with their note-offs).
    pub fn remove(&mut self, file: &str) -> Tick {
        let tick = Quantize::Bar.next_point(self.emitted_to, self.sig);
        self.swaps.retain(|s| s.file != file);
        if self.slots.iter().any(|s| s.file == file) {
            self.swaps.push(Swap {
                tick,
                file: file.to_string(),
                kind: SwapKind::Remove,
            });
        }
        tick
    }

    /// Renames a playing file in place (its patch, state and tracks keep going).
    pub fn rename(&mut self, from: &str, to: &str) {
        for s in &mut self.slots {
            if s.file == from {
                s.file = to.to_string();
            }
        }
        for s in &mut self.swaps {
            if s.file == from {
                s.file = to.to_string();
            }
        }
        let keys: Vec<_> = self
            .track_ids
            .keys()
            .filter(|(f, _)| f == from)
            .cloned()
            .collect();
        for k in keys {
            if let Some(id) = self.track_ids.remove(&k) {
                self.track_ids.insert((to.to_string(), k.1), id);
            }
        }
    }

    /// Applies parameter changes made outside bar planning (analysis patches) at the next
    /// unemitted tick.
    pub fn apply_params(&mut self, file: &str, params: &[(String, Param, f32)]) {
        let tick = self.emitted_to;
        let Some(slot_id) = self.slots.iter().find(|s| s.file == file).map(|s| s.id) else {
            return;
        };
        for (voice, p, v) in params {
            // A param may target a voice of any playing file.
            let target = self
                .track_ids
                .iter()
                .filter(|((_, vn), _)| vn == voice)
                .map(|(_, id)| *id)
                .min();
            if let Some(track) = target {
                self.push(
                    tick,
                    Order::Param,
                    slot_id,
                    u64::MAX,
                    Event::Param {
                        track,
                        param: *p,
                        value: *v,
                    },
                );
            }
        }
    }

    /// Mutable access to a playing patch (to run `on_features`).
    pub fn patch_mut(&mut self, file: &str) -> Option<&mut Patch> {
        self.slots
            .iter_mut()
            .find(|s| s.file == file)
            .map(|s| &mut s.patch)
    }

    /// Adds a marker (meta 0x06 in the MIDI file) at the next unemitted tick.
    pub fn mark(&mut self, text: &str) {
        self.markers.push((self.emitted_to, text.to_string()));
    }
}

#[cfg(test)]
mod tests;
