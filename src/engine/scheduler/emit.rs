//! Emission: walks the queue up to a tick (planning bars and applying swaps on the way),
//! pairs note-ons with note-offs per (channel, key), applies param overrides to new notes and
//! stamps every event with its frame; and the transport stop that ends every sounding note.

use super::Scheduler;
use crate::engine::event::{Event, Sound, Tick, TimedEvent};
use std::cmp::Reverse;

impl Scheduler {
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
}
