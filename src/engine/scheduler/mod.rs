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

use crate::engine::event::{Event, Frame, Param, Sound, Tick, TimedEvent, TrackId, TrackInfo};
use crate::engine::transport::{Quantize, TempoMap, TimeSig};
use crate::patch::{BarPlan, Patch, PatchError, StepSource};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Order {
    Off = 0,
    Param = 1,
    On = 2,
}

#[derive(Clone, Debug)]
struct Pending {
    tick: Tick,
    order: Order,
    seq: u64,
    slot: u64,
    note: u64,
    event: Event,
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
    fn key(&self) -> (Tick, Order, u64) {
        (self.tick, self.order, self.seq)
    }
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

    fn push(&mut self, tick: Tick, order: Order, slot: u64, note: u64, event: Event) {
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

    fn track_for(&mut self, file: &str, v: &crate::patch::VoiceSpec) -> TrackId {
        let key = (file.to_string(), v.name.clone());
        if let Some(id) = self.track_ids.get(&key) {
            return *id;
        }
        let id = self.tracks.len() as TrackId;
        let stem = file.strip_suffix(".rhai").unwrap_or(file);
        self.tracks.push(TrackInfo {
            id,
            name: format!("{stem}.{}", v.name),
            channel: v.channel,
            program: v.program(),
        });
        self.track_ids.insert(key, id);
        id
    }

    /// Queues the notes of a bar plan of slot `si`, from tick `from` on.
    fn queue_plan(&mut self, si: usize, bar: u64, plan: &BarPlan, from: Tick) {
        let bar_start = self.sig.bar_start(bar);
        let (slot_id, file) = (self.slots[si].id, self.slots[si].file.clone());
        let ids: Vec<TrackId> = plan
            .voices
            .iter()
            .map(|v| self.track_for(&file, v))
            .collect();
        for (voice, p, value) in &plan.params {
            if let Some(i) = plan.voices.iter().position(|v| &v.name == voice) {
                let t = bar_start.max(from);
                self.push(
                    t,
                    Order::Param,
                    slot_id,
                    u64::MAX,
                    Event::Param {
                        track: ids[i],
                        param: *p,
                        value: *value,
                    },
                );
            }
        }
        for n in &plan.notes {
            let tick = bar_start + n.start;
            if tick < from {
                continue;
            }
            let v = &plan.voices[n.voice];
            let track = ids[n.voice];
            self.next_note += 1;
            let id = self.next_note;
            self.push(
                tick,
                Order::On,
                slot_id,
                id,
                Event::NoteOn {
                    track,
                    channel: v.channel,
                    key: n.key,
                    vel: n.vel.max(1),
                    sound: {
                        let mut sound = Sound {
                            dur_ticks: n.dur.min(u32::MAX as u64) as u32,
                            ..v.sound
                        };
                        if let Some(sel) = n.sample {
                            sel.apply(&mut sound);
                        }
                        sound
                    },
                },
            );
            self.push(
                tick + n.dur,
                Order::Off,
                slot_id,
                id,
                Event::NoteOff {
                    track,
                    channel: v.channel,
                    key: n.key,
                },
            );
        }
    }

    /// Plans `bar` for slot `si`, falling back to its last good plan on error.
    fn plan_slot(&mut self, si: usize, bar: u64, from: Tick) {
        let file = self.slots[si].file.clone();
        if self.slots[si].runaway {
            if let Some(plan) = self.slots[si].last_good.clone() {
                self.queue_plan(si, bar, &plan, from);
            }
            return;
        }
        let result = {
            let slot = &mut self.slots[si];
            slot.patch.plan_bar(bar, self.steps.as_mut())
        };
        let plan = match result {
            Ok(plan) => {
                let slot = &mut self.slots[si];
                slot.overruns = 0;
                if slot.failing.take().is_some() {
                    self.notices.push(Notice::Recovered {
                        file: file.clone(),
                        bar,
                    });
                }
                for (at, line) in &plan.prints {
                    // Bars as the screen counts them (from 1; `on_bar` gets `bar` from 0).
                    self.notices.push(Notice::Print {
                        file: format!("{} (bar {})", self.slots[si].patch.place(*at), bar + 1),
                        line: line.clone(),
                    });
                }
                self.slots[si].last_good = Some(plan.clone());
                plan
            }
            Err(mut error) => {
                let slot = &mut self.slots[si];
                let off = match slot.patch.last_stop() {
                    Some(s) if s.recurs() => true,
                    Some(_) => {
                        slot.overruns += 1;
                        slot.overruns >= 2
                    }
                    None => false,
                };
                if off {
                    slot.runaway = true;
                    error.message.push_str(crate::patch::CALLBACK_OFF);
                }
                if slot.failing.as_deref() != Some(error.to_string().as_str()) {
                    slot.failing = Some(error.to_string());
                    self.notices.push(Notice::RuntimeError { error, bar });
                }
                match &self.slots[si].last_good {
                    Some(p) => p.clone(),
                    None => return,
                }
            }
        };
        // Tempo from the patch (unless --tempo fixed it).
        if !self.tempo_locked {
            if let Some(bpm) = self.slots[si].patch.tempo() {
                if self.slots[si].tempo_seen != Some(bpm) {
                    self.slots[si].tempo_seen = Some(bpm);
                    let t = from.max(self.sig.bar_start(bar));
                    if (self.map.bpm_at(t) - bpm).abs() > 1e-9 && self.map.set_tempo(t, bpm) {
                        self.notices.push(Notice::Tempo { tick: t, bpm });
                    }
                }
            }
        }
        self.queue_plan(si, bar, &plan, from);
    }

    fn apply_swap(&mut self, swap: Swap) {
        let t = swap.tick;
        let bar = self.sig.bar_of(t);
        let planned = bar < self.next_bar;
        let existing = self.slots.iter().position(|s| s.file == swap.file);
        // Drop the old version's notes that start at or after the swap.
        if let Some(i) = existing {
            let sid = self.slots[i].id;
            let mut dropped = HashSet::new();
            let old: Vec<_> = std::mem::take(&mut self.queue).into_vec();
            for Reverse(p) in &old {
                if p.slot == sid && p.order != Order::Off && p.tick >= t {
                    dropped.insert(p.note);
                }
            }
            self.queue = old
                .into_iter()
                .filter(|Reverse(p)| {
                    !(p.slot == sid
                        && (dropped.contains(&p.note) && p.note != u64::MAX
                            || p.order == Order::Param && p.tick >= t))
                })
                .collect();
        }
        match swap.kind {
            SwapKind::Remove => {
                if let Some(i) = existing {
                    let s = self.slots.remove(i);
                    self.markers.push((t, format!("{} removed", s.file)));
                    self.notices.push(Notice::Removed {
                        file: s.file,
                        tick: t,
                    });
                }
            }
            SwapKind::Install(patch) => {
                let patch = *patch;
                let si = match existing {
                    Some(i) => {
                        let slot = &mut self.slots[i];
                        slot.patch = patch;
                        slot.version += 1;
                        slot.failing = None;
                        slot.runaway = false;
                        slot.overruns = 0;
                        slot.last_good = None;
                        slot.tempo_seen = None;
                        i
                    }
                    None => {
                        self.next_slot_id += 1;
                        let slot = Slot {
                            id: self.next_slot_id,
                            file: swap.file.clone(),
                            patch,
                            version: 1,
                            last_good: None,
                            failing: None,
                            runaway: false,
                            overruns: 0,
                            tempo_seen: None,
                        };
                        // Keep slots sorted by file name: planning order is deterministic.
                        let at = self.slots.partition_point(|s| s.file < slot.file);
                        self.slots.insert(at, slot);
                        at
                    }
                };
                let ids: Vec<TrackId> = self
                    .track_ids
                    .iter()
                    .filter(|((f, _), _)| *f == swap.file)
                    .map(|(_, id)| *id)
                    .collect();
                for id in ids {
                    self.overrides.remove(&id);
                }
                let version = self.slots[si].version;
                self.markers.push((t, format!("{} v{version}", swap.file)));
                self.notices.push(Notice::Swapped {
                    file: swap.file.clone(),
                    version,
                    tick: t,
                    bar,
                });
                if planned {
                    self.plan_slot(si, bar, t);
                } else if !self.tempo_locked {
                    // The bar will be planned when reached; take the tempo at the swap tick now.
                    if let Some(bpm) = self.slots[si].patch.tempo() {
                        self.slots[si].tempo_seen = Some(bpm);
                        if (self.map.bpm_at(t) - bpm).abs() > 1e-9 && self.map.set_tempo(t, bpm) {
                            self.notices.push(Notice::Tempo { tick: t, bpm });
                        }
                    }
                }
            }
        }
    }

    /// Emits every event with a tick before `to`, planning bars and applying swaps on the way.
    pub fn advance(&mut self, to: Tick) -> Vec<TimedEvent> {
        let mut out = Vec::new();
        if to < self.emitted_to {
            return out;
        }
        loop {
            // The next stop is the earliest of: the next bar to plan, the next swap due, `to`.
            let next_bar_start = self.sig.bar_start(self.next_bar);
            let next_swap = self
                .swaps
                .iter()
                .map(|s| s.tick.max(self.emitted_to))
                .min()
                .unwrap_or(Tick::MAX);
            let stop = next_bar_start.min(next_swap).min(to);
            self.emit_before(stop, &mut out);
            self.emitted_to = stop;
            if next_swap == stop {
                let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.swaps)
                    .into_iter()
                    .partition(|s| s.tick <= stop);
                self.swaps = keep;
                for s in due {
                    self.apply_swap(s);
                }
            }
            if next_bar_start == stop {
                let bar = self.next_bar;
                self.next_bar += 1;
                for si in 0..self.slots.len() {
                    self.plan_slot(si, bar, next_bar_start);
                }
            }
            if stop >= to {
                break;
            }
        }
        out
    }

    fn emit_before(&mut self, before: Tick, out: &mut Vec<TimedEvent>) {
        while let Some(Reverse(p)) = self.queue.peek() {
            if p.tick >= before {
                break;
            }
            let Reverse(p) = self.queue.pop().expect("peeked");
            let frame = self.map.tick_to_frame(p.tick) + self.frame_offset;
            match p.event {
                Event::NoteOn {
                    track,
                    channel,
                    key,
                    vel,
                    sound,
                } => {
                    let name = &self.tracks[track as usize].name;
                    if self.is_muted(name) {
                        continue;
                    }
                    if let Some((_, old_track)) = self.active.remove(&(channel, key)) {
                        out.push(TimedEvent {
                            tick: p.tick,
                            frame,
                            event: Event::NoteOff {
                                track: old_track,
                                channel,
                                key,
                            },
                        });
                    }
                    let mut sound: Sound = sound;
                    if let Some(ov) = self.overrides.get(&track) {
                        for (param, v) in ov {
                            param.apply(&mut sound, *v);
                        }
                    }
                    sound.beat_secs = (60.0 / self.map.bpm_at(p.tick)) as f32;
                    self.active.insert((channel, key), (p.note, track));
                    out.push(TimedEvent {
                        tick: p.tick,
                        frame,
                        event: Event::NoteOn {
                            track,
                            channel,
                            key,
                            vel,
                            sound,
                        },
                    });
                }
                Event::NoteOff { channel, key, .. } => {
                    if self.active.get(&(channel, key)).map(|a| a.0) == Some(p.note) {
                        let (_, track) = self.active.remove(&(channel, key)).expect("checked");
                        out.push(TimedEvent {
                            tick: p.tick,
                            frame,
                            event: Event::NoteOff {
                                track,
                                channel,
                                key,
                            },
                        });
                    }
                }
                Event::Param {
                    track,
                    param,
                    value,
                } => {
                    let ov = self.overrides.entry(track).or_default();
                    ov.retain(|(q, _)| *q != param);
                    ov.push((param, value));
                    out.push(TimedEvent {
                        tick: p.tick,
                        frame,
                        event: p.event,
                    });
                }
            }
        }
    }

    /// Ends every sounding note at the next unemitted tick and drops everything queued
    /// (transport stop, end of a render). Returns the note-offs.
    pub fn stop(&mut self) -> Vec<TimedEvent> {
        let tick = self.emitted_to;
        let frame = self.map.tick_to_frame(tick) + self.frame_offset;
        self.queue.clear();
        let mut active: Vec<_> = self.active.drain().collect();
        active.sort_by_key(|((c, k), (n, _))| (*n, *c, *k));
        active
            .into_iter()
            .map(|((channel, key), (_, track))| TimedEvent {
                tick,
                frame,
                event: Event::NoteOff {
                    track,
                    channel,
                    key,
                },
            })
            .collect()
    }

    /// Adds a marker (meta 0x06 in the MIDI file) at the next unemitted tick.
    pub fn mark(&mut self, text: &str) {
        self.markers.push((self.emitted_to, text.to_string()));
    }
}

#[cfg(test)]
mod tests;
