//! Bar planning and swaps: runs a playing patch's bar (with the last-good fallback and the
//! runaway policy), queues its notes and params, and applies a queued swap or removal at its
//! tick (dropping the old version's notes that had not started).

use super::queue::Order;
use super::{Notice, Scheduler, Slot, Swap, SwapKind};
use crate::engine::event::{Event, Sound, Tick, TrackId, TrackInfo};
use crate::patch::{param_value, BarPlan, CONTROL_STEPS_PER_BAR};
use std::cmp::Reverse;
use std::collections::HashSet;

/// Frames between two points of a `param(..., signal)` control stream: one audio block of
/// 256 frames (5.3 ms at 48 kHz), shorter than the synth's ~10 ms parameter smoothing, so the
/// smoothed value follows the signal instead of stepping.
pub const CONTROL_FRAMES: u64 = 256;

/// Points per bar of a control stream for a bar of `frames` frames and `ticks` ticks: a
/// whole number of ticks per point that spans at most [`CONTROL_FRAMES`] (so points are
/// evenly spaced on the tick grid), and at least [`CONTROL_STEPS_PER_BAR`] points.
fn control_steps(frames: u64, ticks: u64) -> u64 {
    let ticks = ticks.max(1);
    let per_point = (CONTROL_FRAMES * ticks / frames.max(1)).max(1);
    ticks
        .div_ceil(per_point)
        .clamp(CONTROL_STEPS_PER_BAR.min(ticks), ticks)
}

impl Scheduler {
    pub(super) fn track_for(&mut self, file: &str, v: &crate::patch::VoiceSpec) -> TrackId {
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
        self.queue_controls(slot_id, bar, plan, &ids, from);
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
                            // Signal-valued options: their value at the middle of the note's
                            // step.
                            ..if v.signals.is_empty() {
                                v.sound
                            } else {
                                v.sound_at(n.at)
                            }
                        };
                        // A sample picked by the pattern (`"bd:3 sd"`).
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

    /// Queues the `param(..., signal)` control streams of a bar plan: each voice's signals
    /// sampled every [`CONTROL_FRAMES`] frames or less (about one audio block, at least
    /// [`CONTROL_STEPS_PER_BAR`] points a bar and at most one per tick), from tick `from` on.
    /// The synth glides between points with its ~10 ms parameter smoothing, so a sweep has no
    /// audible steps. A point equal to the previous one (a `segment`ed or flat signal) is not
    /// sent again.
    fn queue_controls(
        &mut self,
        slot_id: u64,
        bar: u64,
        plan: &BarPlan,
        ids: &[TrackId],
        from: Tick,
    ) {
        if plan.voices.iter().all(|v| v.controls.is_empty()) {
            return;
        }
        let bar_start = self.sig.bar_start(bar);
        let bar_ticks = self.sig.ticks_per_bar();
        let frames = self.map.frames_between(bar_start, bar_start + bar_ticks);
        let steps = control_steps(frames, bar_ticks);
        for (i, v) in plan.voices.iter().enumerate() {
            for (param, sig) in &v.controls {
                let mut last: Option<f32> = None;
                for step in 0..steps {
                    let offset = bar_ticks * step / steps;
                    let tick = bar_start + offset;
                    if tick < from {
                        continue;
                    }
                    let t = bar as f64 + offset as f64 / bar_ticks as f64;
                    let value = param_value(*param, sig.at(t));
                    if last == Some(value) {
                        continue;
                    }
                    last = Some(value);
                    self.push(
                        tick,
                        Order::Param,
                        slot_id,
                        u64::MAX,
                        Event::Param {
                            track: ids[i],
                            param: *param,
                            value,
                        },
                    );
                }
            }
        }
    }

    /// Plans `bar` for slot `si`, falling back to its last good plan on error.
    pub(super) fn plan_slot(&mut self, si: usize, bar: u64, from: Tick) {
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

    pub(super) fn apply_swap(&mut self, swap: Swap) {
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
}

#[cfg(test)]
mod control_tests {
    use super::*;

    #[test]
    fn control_points_are_at_most_one_block_apart_on_the_tick_grid() {
        // 120 BPM 4/4 at 48 kHz: 25 frames a tick, 10 ticks (250 frames) a point.
        assert_eq!(control_steps(96_000, 3840), 384);
        // Very slow: still one point a tick at most; very fast: at least 16 a bar.
        assert_eq!(control_steps(10_000_000, 3840), 3840);
        assert_eq!(control_steps(1_000, 3840), 16);
        for (frames, ticks) in [(96_000, 3840), (44_100 * 3, 2880), (77_777, 3840)] {
            let steps = control_steps(frames, ticks);
            let gap = ticks.div_ceil(steps) * frames / ticks;
            assert!(
                gap <= CONTROL_FRAMES,
                "{frames} frames, {ticks} ticks: gap {gap}"
            );
        }
    }
}
