//! Bar planning and swaps: runs a playing patch's bar (with the last-good fallback and the
//! runaway policy), queues its notes and params, and applies a queued swap or removal at its
//! tick (dropping the old version's notes that had not started).

use super::queue::Order;
use super::{Notice, Scheduler, Slot, Swap, SwapKind};
use crate::engine::event::{Event, Sound, Tick, TrackId, TrackInfo};
use crate::patch::{param_value, BarPlan, CONTROL_STEPS_PER_BAR};
use std::cmp::Reverse;
use std::collections::HashSet;

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
    /// sampled on a grid of [`CONTROL_STEPS_PER_BAR`] per bar, from tick `from` on.
    fn queue_controls(
        &mut self,
        slot_id: u64,
        bar: u64,
        plan: &BarPlan,
        ids: &[TrackId],
        from: Tick,
    ) {
        let bar_start = self.sig.bar_start(bar);
        let bar_ticks = self.sig.ticks_per_bar();
        for step in 0..CONTROL_STEPS_PER_BAR {
            let offset = bar_ticks * step / CONTROL_STEPS_PER_BAR;
            let tick = bar_start + offset;
            if tick < from {
                continue;
            }
            let t = bar as f64 + offset as f64 / bar_ticks as f64;
            for (i, v) in plan.voices.iter().enumerate() {
                for (param, sig) in &v.controls {
                    self.push(
                        tick,
                        Order::Param,
                        slot_id,
                        u64::MAX,
                        Event::Param {
                            track: ids[i],
                            param: *param,
                            value: param_value(*param, sig.at(t)),
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
